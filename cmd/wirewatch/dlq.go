package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

const dlqSynopsis = `dlq list [--stage S] [-n N] [--json] [flags]
       wirewatch dlq replay [--stage S] (--seq N... | --all) [--dry-run] [--keep] [flags]

Dead letters are the messages a stage or sink gave up on after its last
attempt, kept in the stream <PREFIX>_DLQ with the error in their headers.

  list    one line per dead letter, oldest first: its sequence in the DLQ
          stream, when it was given up on, the stage, the subject it came
          from, the attempts and the error (--json: one object per line,
          with the item)
  replay  sends dead letters back to the subject they came from, for
          another try by the stage that gave up and by no other: the other
          consumers of that subject (the other sinks) skip it, and the
          server drops a second replay of the same dead letter. Then it
          deletes them from the DLQ (unless --keep). Fix the cause first;
          a replay that fails again becomes a new dead letter.

A stage is dedup, tag or a sink: nats-tags, jsonl, sqlite, postgres,
webhook or webhook-NAME (the "sink-" of the sinks' consumer names is
optional). It connects like 'wirewatch subscribe': the running daemon's
listener, --nats-url, or as the config file given with -c says.`

// runDLQ is 'wirewatch dlq'.
func runDLQ(ctx context.Context, args []string, s stdio) error {
	fs := newFlagSet("dlq", dlqSynopsis, s)
	cf := addClientFlags(fs, s)
	url, creds, prefix := cf.url, cf.creds, cf.prefix
	stage := fs.String("stage", "", "only the dead letters of this `stage` (dedup, tag, jsonl, sqlite, postgres, nats-tags, webhook[-NAME])")
	limit := fs.Int("n", 100, "list at most `N` dead letters, oldest first (0: all)")
	asJSON := fs.Bool("json", false, "list one JSON object per line, with the item")
	var seqs seqList
	fs.Var(&seqs, "seq", "replay the dead letter with this DLQ sequence `N` (repeat or N,M,…; from 'dlq list')")
	all := fs.Bool("all", false, "replay every dead letter (of --stage)")
	dryRun := fs.Bool("dry-run", false, "say what would be replayed; send and delete nothing")
	keep := fs.Bool("keep", false, "keep replayed dead letters in the DLQ")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return fs.usageErr("want the subcommand list or replay")
	}
	sub, pos := pos[0], pos[1:]
	if sub != "list" && sub != "replay" {
		return fs.usageErr("unknown subcommand %q (want list or replay)", sub)
	}
	if err := fs.noArgs(pos, func(w string) string {
		if _, err := strconv.ParseUint(w, 10, 64); err == nil && sub == "replay" {
			return "give a dead letter's sequence with --seq " + w
		}
		return ""
	}); err != nil {
		return err
	}
	only := map[string]string{"list": "n json", "replay": "seq all dry-run keep"}
	var misplaced error
	fs.Visit(func(f *flag.Flag) {
		for other, names := range only {
			if other != sub && misplaced == nil && strings.Contains(" "+names+" ", " "+f.Name+" ") {
				misplaced = fs.usageErr("--%s is a flag of dlq %s, not dlq %s", f.Name, other, sub)
			}
		}
	})
	if misplaced != nil {
		return misplaced
	}
	want := ""
	if *stage != "" {
		var ok bool
		if want, ok = stageName(*stage); !ok {
			return fs.usageErr("--stage %q: no such stage (want dedup, tag, nats-tags, jsonl, sqlite, postgres, webhook or webhook-NAME)", *stage)
		}
	}
	switch {
	case *limit < 0:
		return fs.usageErr("-n %d: want 0 (all) or more", *limit)
	case sub == "replay" && len(seqs) > 0 && *all:
		return fs.usageErr("--seq picks dead letters, --all takes every one (of --stage): give one of them")
	case sub == "replay" && len(seqs) == 0 && !*all:
		return fs.usageErr("say which dead letters to replay: --seq N (see 'wirewatch dlq list') or --all")
	}
	if err := cf.resolve(s); err != nil {
		return err
	}
	subj, err := pipeline.NewSubjects(*prefix)
	if err != nil {
		return fs.usageErr("--prefix: %v", err)
	}

	nc, js, err := connectClient("dlq", *url, *creds)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	q := &dlq{js: js, subj: subj, stage: want, where: subj.StreamDLQ() + " on " + redactURL(*url)}
	q.stream, err = js.Stream(ctx, subj.StreamDLQ())
	if err != nil {
		return streamErr("dlq", subj, *url, subj.StreamDLQ(), err)
	}
	if sub == "list" {
		return q.list(ctx, s, *limit, *asJSON)
	}
	return q.replay(ctx, s, seqs, *dryRun, *keep)
}

// stageName returns the consumer name of the stage given as s: "dedup",
// "tag", or a sink as its dead-letter name ("jsonl", "webhook-alerts") or
// its consumer name ("sink-jsonl"). It reports false for a name no
// wirewatch stage has (see buildStages).
func stageName(s string) (string, bool) {
	if s == "dedup" || s == "tag" {
		return s, true
	}
	sink := strings.TrimPrefix(s, "sink-")
	switch sink {
	case "nats-tags", "jsonl", "sqlite", "postgres", "webhook":
		return "sink-" + sink, true
	}
	if name, ok := strings.CutPrefix(sink, "webhook-"); ok && name != "" {
		// As the config's webhook name becomes the sink's (sinks.WebhookConfig.SinkName).
		return "sink-webhook-" + pipeline.Token(name), true
	}
	return "", false
}

// seqList is the repeatable --seq flag; each value may list several
// sequences separated by commas.
type seqList []uint64

func (l *seqList) String() string {
	parts := make([]string, len(*l))
	for i, n := range *l {
		parts[i] = strconv.FormatUint(n, 10)
	}
	return strings.Join(parts, ",")
}

func (l *seqList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a DLQ sequence (a whole number from 1, see 'wirewatch dlq list')", p)
		}
		*l = append(*l, n)
	}
	return nil
}

// deadLetter is one message of the DLQ stream.
type deadLetter struct {
	Seq       uint64          `json:"seq"`
	Time      time.Time       `json:"time"`
	Stage     string          `json:"stage"`
	Subject   string          `json:"subject"`
	Attempts  int             `json:"attempts,omitempty"`
	Error     string          `json:"error"`
	StreamSeq uint64          `json:"stream_seq,omitempty"` // in the stream of Subject
	Item      json.RawMessage `json:"item,omitempty"`
	Payload   string          `json:"payload,omitempty"` // when it is not JSON
	data      []byte
}

func newDeadLetter(seq uint64, t time.Time, h nats.Header, data []byte) *deadLetter {
	d := &deadLetter{Seq: seq, Time: t.UTC(), Stage: h.Get(pipeline.HeaderStage), Subject: h.Get(pipeline.HeaderSubject),
		Error: h.Get(pipeline.HeaderError), data: data}
	d.Attempts, _ = strconv.Atoi(h.Get(pipeline.HeaderAttempts))
	d.StreamSeq, _ = strconv.ParseUint(h.Get(pipeline.HeaderStreamSeq), 10, 64)
	var b bytes.Buffer
	if json.Compact(&b, data) == nil {
		d.Item = b.Bytes()
	} else {
		d.Payload = string(data)
	}
	return d
}

// item names the item a dead letter holds, for messages.
func (d *deadLetter) item() string {
	it, err := pipeline.Unmarshal(d.data)
	if err != nil || it.ID == "" {
		return fmt.Sprintf("%d bytes that are not an item", len(d.data))
	}
	return fmt.Sprintf("item %s (%s: %q)", it.ID, it.Feed, oneLine(it.Title, 60))
}

// dlq reads and replays the dead letters of one deployment.
type dlq struct {
	js     jetstream.JetStream
	subj   pipeline.Subjects
	stream jetstream.Stream
	stage  string // consumer name of --stage, "" for all
	where  string // "WIREWATCH_DLQ on nats://…", for messages
}

// of says which dead letters the command looks at, for messages.
func (q *dlq) of() string {
	if q.stage == "" {
		return ""
	}
	return " of " + q.stage
}

// read returns the dead letters of q.stage (all when ""), oldest first.
// Dead letters given up on while it reads are left for the next time.
func (q *dlq) read(ctx context.Context) ([]*deadLetter, error) {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("dlq: stream %s: %w", q.where, err)
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	last := info.State.LastSeq
	// Each fetch recreates the consumer; bounded, so a server gone away
	// fails the command instead of retrying forever.
	cons, err := q.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{MaxResetAttempts: 2})
	if err != nil {
		return nil, fmt.Errorf("dlq: read %s: %w", q.where, err)
	}
	var out []*deadLetter
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("dlq: read %s: %w", q.where, err)
		}
		n, done := 0, false
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return nil, fmt.Errorf("dlq: read %s: %w", q.where, err)
			}
			d := newDeadLetter(md.Sequence.Stream, md.Timestamp, msg.Headers(), msg.Data())
			if q.stage == "" || d.Stage == q.stage {
				out = append(out, d)
			}
			done = md.NumPending == 0 || md.Sequence.Stream >= last
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("dlq: read %s: %w", q.where, err)
		}
		// n == 0: the rest was deleted while we read.
		if done || n == 0 {
			return out, nil
		}
	}
}

// list prints the dead letters, at most limit (0: all).
func (q *dlq) list(ctx context.Context, s stdio, limit int, asJSON bool) error {
	dls, err := q.read(ctx)
	if err != nil {
		return err
	}
	if len(dls) == 0 {
		fmt.Fprintf(s.err, "no dead letters%s in %s\n", q.of(), q.where)
		return nil
	}
	fmt.Fprintf(s.err, "%s%s in %s\n", count(len(dls), "dead letter"), q.of(), q.where)
	if limit > 0 && len(dls) > limit {
		fmt.Fprintf(s.err, "showing the oldest %d (-n 0 lists all)\n", limit)
		dls = dls[:limit]
	}
	if asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetEscapeHTML(false)
		for _, d := range dls {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tSTAGE\tSUBJECT\tATTEMPTS\tERROR")
	for _, d := range dls {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", d.Seq, d.Time.Format(time.RFC3339), orDash(d.Stage), orDash(d.Subject),
			d.Attempts, oneLine(plainError(d.Error), 160))
	}
	return tw.Flush()
}

// replay sends the dead letters seqs (all of q.stage when empty) back to
// their stage and deletes them from the DLQ unless keep. It goes on past
// a dead letter it cannot replay, and fails at the end naming each.
func (q *dlq) replay(ctx context.Context, s stdio, seqs seqList, dryRun, keep bool) error {
	var dls []*deadLetter
	var problems []string
	if len(seqs) == 0 {
		var err error
		if dls, err = q.read(ctx); err != nil {
			return err
		}
		if len(dls) == 0 {
			fmt.Fprintf(s.err, "nothing to replay: no dead letters%s in %s\n", q.of(), q.where)
			return nil
		}
	}
	seen := map[uint64]bool{}
	for _, seq := range seqs {
		if seen[seq] {
			continue
		}
		seen[seq] = true
		m, err := q.stream.GetMsg(ctx, seq)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			problems = append(problems, fmt.Sprintf("no dead letter %d in %s (replayed or deleted already? see 'wirewatch dlq list')", seq, q.where))
			continue
		case err != nil:
			return fmt.Errorf("dlq: read dead letter %d of %s: %w", seq, q.where, err)
		}
		d := newDeadLetter(m.Sequence, m.Time, m.Header, m.Data)
		if q.stage != "" && d.Stage != q.stage {
			problems = append(problems, fmt.Sprintf("dead letter %d is of stage %s, not %s: not replayed", seq, orDash(d.Stage), q.stage))
			continue
		}
		dls = append(dls, d)
	}
	var sent, repeats int
	for _, d := range dls {
		stream, err := q.target(ctx, d)
		if err != nil {
			problems = append(problems, fmt.Sprintf("dead letter %d not replayed: %v", d.Seq, err))
			continue
		}
		if dryRun {
			fmt.Fprintf(s.out, "would replay %d to %s on %s: %s\n", d.Seq, d.Stage, d.Subject, d.item())
			sent++
			continue
		}
		msg := &nats.Msg{Subject: d.Subject, Data: d.data, Header: nats.Header{}}
		msg.Header.Set(pipeline.HeaderReplayFor, d.Stage)
		ack, err := q.js.PublishMsg(ctx, msg, jetstream.WithMsgID(q.replayID(d, stream)), jetstream.WithExpectStream(stream))
		if err != nil {
			problems = append(problems, fmt.Sprintf("dead letter %d not replayed: publish to %s: %v", d.Seq, d.Subject, err))
			continue
		}
		if ack.Duplicate {
			repeats++
			fmt.Fprintf(s.out, "%d was replayed before: the server dropped this repeat (%s)\n", d.Seq, d.item())
		} else {
			sent++
			fmt.Fprintf(s.out, "replayed %d to %s on %s: %s\n", d.Seq, d.Stage, d.Subject, d.item())
		}
		if keep {
			continue
		}
		if err := q.stream.DeleteMsg(ctx, d.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			problems = append(problems, fmt.Sprintf("dead letter %d replayed but not deleted from %s: %v", d.Seq, q.where, err))
		}
	}
	switch {
	case sent == 0 && (repeats > 0 || len(problems) > 0):
	case dryRun:
		fmt.Fprintf(s.err, "would replay %s from %s; nothing sent (--dry-run)\n", count(sent, "dead letter"), q.where)
	case keep:
		fmt.Fprintf(s.err, "replayed %s from %s and kept %s there (--keep)\n", count(sent, "dead letter"), q.where, them(sent))
	default:
		fmt.Fprintf(s.err, "replayed %s from %s and deleted %s there\n", count(sent, "dead letter"), q.where, them(sent))
	}
	if repeats > 0 {
		fmt.Fprintf(s.err, "%s replayed before: the server dropped the repeats\n", count(repeats, "dead letter"))
	}
	if len(problems) == 0 {
		return nil
	}
	for _, p := range problems {
		fmt.Fprintln(s.err, "dlq replay:", p)
	}
	return fmt.Errorf("dlq replay: %s not replayed", count(len(problems), "dead letter"))
}

// target returns the stream a replay of d goes to, after checking that the
// stage that gave up on it still consumes d's subject there: a replay no
// stage handles would only sit in the stream, lost to the DLQ.
func (q *dlq) target(ctx context.Context, d *deadLetter) (string, error) {
	if d.Stage == "" || d.Subject == "" {
		return "", fmt.Errorf("no %s or %s header: not a wirewatch dead letter, so there is no telling where it goes",
			pipeline.HeaderStage, pipeline.HeaderSubject)
	}
	if !strings.HasPrefix(d.Subject, q.subj.Prefix()) || strings.HasPrefix(d.Subject, q.subj.Prefix()+"dlq.") {
		return "", fmt.Errorf("its subject %s is not a pipeline subject of prefix %s", d.Subject, q.subj.Prefix())
	}
	stream, err := q.js.StreamNameBySubject(ctx, d.Subject)
	if err != nil {
		return "", fmt.Errorf("no stream stores %s: %w", d.Subject, err)
	}
	cons, err := q.js.Consumer(ctx, stream, d.Stage)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return "", fmt.Errorf("stage %s does not consume stream %s (is it still configured? the daemon creates it at start); nothing would handle it", d.Stage, stream)
	}
	if err != nil {
		return "", fmt.Errorf("stage %s: %w", d.Stage, err)
	}
	cfg := cons.CachedInfo().Config
	filters := cfg.FilterSubjects
	if cfg.FilterSubject != "" {
		filters = append(filters, cfg.FilterSubject)
	}
	for _, f := range filters {
		if subjectMatches(f, d.Subject) {
			return stream, nil
		}
	}
	if len(filters) == 0 {
		return stream, nil
	}
	return "", fmt.Errorf("stage %s no longer reads %s (it reads %s); nothing would handle it", d.Stage, d.Subject, strings.Join(filters, ", "))
}

// replayID is the Nats-Msg-Id of the replay of d: one per dead letter,
// so the stream drops a second replay of it within its duplicate window
// (24h by default), while a replay that fails again is a new dead letter
// (another DLQ sequence) that can be replayed in its turn.
func (q *dlq) replayID(d *deadLetter, stream string) string {
	return fmt.Sprintf("replay.%s.%s.%d.%s.%d", d.Stage, stream, d.StreamSeq, q.subj.StreamDLQ(), d.Seq)
}

// subjectMatches reports whether subject matches the NATS filter f.
func subjectMatches(f, subject string) bool {
	ft, st := strings.Split(f, "."), strings.Split(subject, ".")
	for i, t := range ft {
		switch {
		case t == ">":
			return len(st) > i
		case i >= len(st):
			return false
		case t != "*" && t != st[i]:
			return false
		}
	}
	return len(ft) == len(st)
}

// plainError is a dead letter's error as dlq list shows it: each quoted
// part (a webhook receiver's body, quoted with its line breaks as \n) is
// unquoted, and one holding HTML is reduced to its text, so that the
// column shows what the receiver said, not its markup.
func plainError(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '"' {
			if q, err := strconv.QuotedPrefix(s[i:]); err == nil {
				u, _ := strconv.Unquote(q)
				b.WriteString(`"` + htmlText(u) + `"`)
				i += len(q)
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// htmlTag is an HTML tag, comment or doctype, or the start of one cut off
// at the end of the text.
var htmlTag = regexp.MustCompile(`<[!/?A-Za-z][^<>]*(?:>|$)`)

// htmlText returns the text of s with its tags removed and its entities
// decoded when s holds HTML tags, else s.
func htmlText(s string) string {
	if !htmlTag.MatchString(s) {
		return s
	}
	return strings.Join(strings.Fields(html.UnescapeString(htmlTag.ReplaceAllString(s, " "))), " ")
}

// oneLine folds s to one line of at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// them is the pronoun for n things.
func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
