package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	neturl "net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/dedup"
	"github.com/wirewatch/wirewatch/pipeline/tag"
)

const subscribeSynopsis = `subscribe [flags] PATTERN...

Prints tagged items live from a running wirewatch (its embedded server's
listener, or the cluster given by --nats-url; -c FILE reaches the daemon
that config file describes). A PATTERN is a tag name
(alaska-summit), an entity as kind.id (person.zelensky), or a NATS subject
pattern below the prefix (items.tag.>, items.entity.place.*); tags, kinds
and ids are folded as the pipeline folds them (Ceasefire is ceasefire).
items.tagged prints every tagged first copy, items.tagged.> only the copies
(> does not match items.tagged itself): give both for every item. Wildcards
* and > work in every form. Each item is printed once per subscription even
when several patterns match it; copies and updates are marked. A bare
stories, items or dlq is refused as ambiguous: give stories.> or
items.tag.stories; dead letters are for 'wirewatch dlq list'.

To follow stories instead, give story patterns: stories.> (every story's
events) or stories.<story_id> (one story, e.g. from an item's story_id).
Each event says whether the story was created, grew (with the new report,
and the copy it is) or merged with others.`

func runSubscribe(ctx context.Context, args []string, s stdio) error {
	fs := newFlagSet("subscribe", subscribeSynopsis, s)
	cf := addClientFlags(fs, s)
	url, creds, prefix := cf.url, cf.creds, cf.prefix
	since := fs.Duration("since", 0, "also print items from this long ago (e.g. 1h); default: only new ones")
	all := fs.Bool("all", false, "print every stored item first, then new ones")
	asJSON := fs.Bool("json", false, "print each full item as one JSON line")
	limit := fs.Int("n", 0, "exit after this many items (0: run until interrupted)")
	patterns, err := fs.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(patterns) == 0:
		return fs.usageErr("give at least one PATTERN (a tag, an entity kind.id, items.… or stories.…)")
	case *all && *since != 0:
		return fs.usageErr("--all prints every stored item, --since those of a recent period: give one of them")
	case *since < 0:
		return fs.usageErr("--since %s: want a period back from now, e.g. 1h", *since)
	case *limit < 0:
		return fs.usageErr("-n %d: want 0 (run until interrupted) or more", *limit)
	}
	if err := cf.resolve(s); err != nil {
		return err
	}
	subj, err := pipeline.NewSubjects(*prefix)
	if err != nil {
		return fs.usageErr("--prefix: %v", err)
	}
	filters := make([]string, 0, len(patterns))
	stream := ""
	for _, p := range patterns {
		f, err := subscribeSubject(subj, p)
		if err != nil {
			return fs.usageErr("pattern %q: %v", p, err)
		}
		if err := checkSubject(f); err != nil {
			return fs.usageErr("pattern %q: %v", p, err)
		}
		st, err := subscribeStream(subj, f)
		if err != nil {
			return fs.usageErr("pattern %q: %v", p, err)
		}
		if stream != "" && st != stream {
			return fs.usageErr("give item patterns or story patterns (stories.…), not both, and items.tagged on its own")
		}
		stream = st
		filters = append(filters, f)
	}
	stories := stream == subj.StreamStories()
	nc, js, err := connectClient("subscribe", *url, *creds)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	occ := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverNewPolicy}
	switch {
	case *all:
		occ.DeliverPolicy = jetstream.DeliverAllPolicy
	case *since > 0:
		t := time.Now().Add(-*since)
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := js.OrderedConsumer(ctx, stream, occ)
	if err != nil {
		return streamErr("subscribe", subj, *url, stream, err)
	}
	fmt.Fprintf(s.err, "subscribed to %s\n", strings.Join(filters, ", "))
	if stories {
		return printStoryEvents(ctx, cons, s.out, *asJSON, *limit)
	}
	return printItems(ctx, cons, s.out, *asJSON, *limit)
}

// subscribeStream returns the stream that holds subject filter f: tag and
// entity subjects, stories, or every tagged item (items.tagged and
// items.tagged.duplicate). Other subjects (work queues, dead letters) are
// not for subscribers; the error says what is.
func subscribeStream(subj pipeline.Subjects, f string) (string, error) {
	rest := strings.TrimPrefix(f, subj.Prefix())
	under := func(root string) bool { return rest == root || strings.HasPrefix(rest, root+".") }
	switch {
	case under("items.tag"), rest == "items.entity":
		return subj.StreamTags(), nil
	case strings.HasPrefix(rest, "items.entity."):
		kind, _, _ := strings.Cut(strings.TrimPrefix(rest, "items.entity."), ".")
		switch kind {
		case tag.KindPerson, tag.KindPlace, tag.KindOrg, tag.KindOther, "*", ">":
			return subj.StreamTags(), nil
		}
		return "", fmt.Errorf("no entity kind %q (person, place, org or other; a tag name has no dot)", kind)
	case under("stories"):
		return subj.StreamStories(), nil
	case under("items.tagged"):
		return subj.StreamTagged(), nil
	case under("dlq"):
		return "", errors.New("dead letters are not for subscribers: list them with 'wirewatch dlq list'")
	}
	return "", errors.New("not a subject for subscribers: give a tag, an entity kind.id, items.tag.…, items.entity.…, items.tagged or stories.… (use 'nats sub' for the pipeline's internal subjects)")
}

// checkSubject refuses a subject filter NATS would reject: an empty token
// (a dot at either end or two in a row), white space, a wildcard inside a
// token, or > anywhere but last.
func checkSubject(f string) error {
	toks := strings.Split(f, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return fmt.Errorf("subject %s has an empty token (a dot at the start, at the end or two in a row)", f)
		case strings.ContainsAny(t, " \t\r\n"):
			return fmt.Errorf("subject %q contains white space", f)
		case t == ">" && i != len(toks)-1:
			return fmt.Errorf("subject %s: > matches the rest of a subject, so it must come last", f)
		case t != "*" && t != ">" && strings.ContainsAny(t, "*>"):
			return fmt.Errorf("subject %s: wildcards * and > stand for whole tokens, not parts of one (%q)", f, t)
		}
	}
	return nil
}

// subjectRoots are the first tokens of wirewatch's subjects below the
// prefix, with what to give instead of one as a bare word: a tag of that
// name, or the subjects.
var subjectRoots = map[string]string{
	"items":   "items.tagged (every tagged first copy) or items.tag.items (the tag)",
	"stories": "stories.> (every story's events) or items.tag.stories (the tag)",
	"dlq":     "items.tag.dlq for the tag; dead letters are for 'wirewatch dlq list'",
}

// subscribeSubject turns a user's pattern into a subject filter: a bare
// word is a tag, kind.id an entity, a pattern starting with the prefix or
// a subject root (items, stories, dlq) a subject. Tag, entity kind and
// entity id tokens are folded as the pipeline folds them (pipeline.Token),
// so Ceasefire and items.tag.Ceasefire are items.tag.ceasefire. A bare
// word equal to a subject root is refused: it is ambiguous.
func subscribeSubject(subj pipeline.Subjects, p string) (string, error) {
	rest, prefixed := strings.CutPrefix(p, subj.Prefix())
	toks := strings.Split(rest, ".")
	_, root := subjectRoots[toks[0]]
	switch {
	case prefixed || root && len(toks) > 1:
	case p == ">" || p == "*":
		toks = []string{"items", "tag", p}
	case len(toks) == 1:
		if hint, ok := subjectRoots[pipeline.Token(p)]; ok {
			return "", fmt.Errorf("%s is ambiguous (a subject root, or a tag): give %s", p, hint)
		}
		toks = []string{"items", "tag", p}
	default: // kind.id
		toks = append([]string{"items", "entity"}, toks...)
	}
	if len(toks) > 2 && toks[0] == "items" && (toks[1] == "tag" || toks[1] == "entity") {
		for i, t := range toks[2:] {
			toks[2+i] = foldToken(t)
		}
	}
	return subj.Prefix() + strings.Join(toks, "."), nil
}

// foldToken folds a tag or entity token of a pattern as the pipeline folds
// them, but leaves wildcards, and what checkSubject refuses (an empty
// token, white space, a wildcard inside a token), for it to name.
func foldToken(t string) string {
	if t == "" || strings.ContainsAny(t, "*> \t\r\n") {
		return t
	}
	return pipeline.Token(t)
}

// printStoryEvents prints story events until ctx ends or limit events
// were printed. A merge is sent on the subject of every story it joins:
// it is printed once.
func printStoryEvents(ctx context.Context, cons jetstream.Consumer, w io.Writer, asJSON bool, limit int) error {
	first := map[string]string{} // story -> first outlet last printed
	return consume(ctx, cons, limit, func(data []byte) bool {
		var ev dedup.StoryEvent
		if json.Unmarshal(data, &ev) != nil || ev.StoryID == "" {
			return false
		}
		if asJSON {
			fmt.Fprintf(w, "%s\n", bytes.TrimSpace(data))
			return true
		}
		what := "report"
		if ev.DupKind != "" {
			what = ev.DupKind + " copy"
		}
		fmt.Fprintf(w, "%s  %-7s %s  size %d  %s %s: %s\n", ev.Time.UTC().Format(time.RFC3339), ev.Event, ev.StoryID,
			ev.Size, ev.Feed, what, ev.Title)
		if len(ev.Merged) > 0 {
			fmt.Fprintf(w, "    merged: %s\n", strings.Join(ev.Merged, ", "))
		}
		if ev.FirstFeed != "" && ev.FirstFeed != first[ev.StoryID] {
			first[ev.StoryID] = ev.FirstFeed
			if ev.FirstFeed != ev.Feed {
				fmt.Fprintf(w, "    first reported by %s\n", ev.FirstFeed)
			}
		}
		return true
	}, func(data []byte) string {
		var ev dedup.StoryEvent
		_ = json.Unmarshal(data, &ev)
		return ev.Event + "\x00" + ev.ItemID + "\x00" + strings.Join(ev.Merged, ",")
	})
}

// consume calls print for each message not seen before (by key) until
// ctx ends or limit messages were printed; print reports whether it
// printed anything.
func consume(ctx context.Context, cons jetstream.Consumer, limit int, print func([]byte) bool, key func([]byte) string) error {
	seen := map[string]bool{}
	printed := 0
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("subscribe: %w", err)
		}
		if msg.Headers().Get(pipeline.HeaderReplayFor) != "" {
			continue // a dead letter sent back to one sink: not news
		}
		k := key(msg.Data())
		if seen[k] || !print(msg.Data()) {
			continue
		}
		seen[k] = true
		printed++
		if limit > 0 && printed >= limit {
			it.Stop()
			return nil
		}
	}
}

// printItems prints each item once (an item reaches several tag subjects)
// until ctx ends or limit items were printed.
func printItems(ctx context.Context, cons jetstream.Consumer, w io.Writer, asJSON bool, limit int) error {
	return consume(ctx, cons, limit, func(data []byte) bool {
		item, err := pipeline.Unmarshal(data)
		if err != nil {
			return false
		}
		if asJSON {
			b, _ := json.Marshal(item)
			fmt.Fprintf(w, "%s\n", b)
			return true
		}
		writeItem(w, item)
		return true
	}, func(data []byte) string {
		item, err := pipeline.Unmarshal(data)
		if err != nil {
			return ""
		}
		return item.Version()
	})
}

// writeItem prints an item in subscribe's text form: time, feed and title;
// its link; then its tags (if any), story, and whether it is a copy or an
// update.
func writeItem(w io.Writer, item *pipeline.Item) {
	var notes []string
	if len(item.Tags) > 0 {
		tags := make([]string, 0, len(item.Tags))
		for _, t := range item.Tags {
			tags = append(tags, t.Tag)
		}
		notes = append(notes, "tags: "+strings.Join(tags, ", "))
	}
	if item.StoryID != "" {
		notes = append(notes, "story: "+item.StoryID)
	}
	if item.DuplicateOf != "" {
		copyOf := "copy of " + item.DuplicateOf
		if item.DupKind != "" {
			copyOf += " (" + item.DupKind + ")"
		}
		notes = append(notes, copyOf)
	}
	if item.Update {
		notes = append(notes, "update")
	}
	fmt.Fprintf(w, "%s  %-14s %s\n    %s\n", item.Time().Format(time.RFC3339), item.Feed, item.Title, item.URL)
	if len(notes) > 0 {
		fmt.Fprintf(w, "    %s\n", strings.Join(notes, "  "))
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// connectErr is the error of command cmd's nats.Connect to url. It asks
// whether the daemon runs, except when the credentials file could not be
// read: no server was tried then.
// connectClient connects command cmd (subscribe, dlq) to the NATS server
// at url, with the credentials file creds if set. The caller closes the
// connection.
// clientFlags are the connection flags of the commands that reach a
// running daemon (subscribe, dlq). Each value comes from its flag, else its
// WIREWATCH_* variable, else the daemon's config file given with -c (its
// nats.url, or nats.listen for the embedded server; nats.credentials;
// nats.prefix), else the default: the embedded server's default listener
// and prefix.
type clientFlags struct {
	cfgPath, url, creds, prefix *string
	// cfg is the config file's content once resolve read it; nil without -c.
	cfg *Config
}

func addClientFlags(fs *cmdFlags, s stdio) *clientFlags {
	return &clientFlags{
		cfgPath: fs.String("c", s.getenv("WIREWATCH_CONFIG"), "the daemon's config `file`: reach it as it is configured (nats.url or nats.listen, credentials, prefix; env WIREWATCH_CONFIG)"),
		url:     fs.String("nats-url", s.getenv("WIREWATCH_NATS_URL"), "NATS server `URL` (env WIREWATCH_NATS_URL; default: from -c, else nats://127.0.0.1:4222)"),
		creds:   fs.String("creds", s.getenv("WIREWATCH_NATS_CREDENTIALS"), "NATS credentials `file` (env WIREWATCH_NATS_CREDENTIALS; default: from -c)"),
		prefix:  fs.String("prefix", s.getenv("WIREWATCH_PREFIX"), "subject `prefix` (env WIREWATCH_PREFIX; default: from -c, else "+pipeline.DefaultPrefix+")"),
	}
}

// resolve fills what no flag and no variable gave from the config file,
// then from the defaults.
func (c *clientFlags) resolve(s stdio) error {
	if *c.cfgPath != "" {
		cfg, err := loadConfig(*c.cfgPath, s.getenv)
		if err != nil {
			return err
		}
		c.cfg = &cfg
		if *c.url == "" {
			switch {
			case cfg.NATS.URL != "":
				*c.url = cfg.NATS.URL
			case cfg.NATS.Listen != "":
				*c.url = "nats://" + cfg.NATS.Listen
			default:
				return fmt.Errorf("config %s: the embedded server has no listener (nats.listen is off), so no other process can reach it", *c.cfgPath)
			}
		}
		*c.creds = cmp.Or(*c.creds, cfg.NATS.Credentials)
		*c.prefix = cmp.Or(*c.prefix, cfg.NATS.Prefix)
	}
	*c.url = cmp.Or(*c.url, "nats://127.0.0.1:4222")
	*c.prefix = cmp.Or(*c.prefix, pipeline.DefaultPrefix)
	return nil
}

func connectClient(cmd, url, creds string) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{nats.Name("wirewatch " + cmd)}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, connectErr(cmd, url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// streamErr says why a client command could not open stream: no wirewatch
// with this prefix on the server, no JetStream at all, or what the server said.
func streamErr(cmd string, subj pipeline.Subjects, url, stream string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("%s: no wirewatch with prefix %q runs on %s (stream %s not found); give the daemon's nats.prefix with --prefix (or its config with -c)",
			cmd, subj.Prefix(), redactURL(url), stream)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%s: the NATS server at %s has no JetStream, so no wirewatch runs there: %w", cmd, redactURL(url), err)
	}
	return fmt.Errorf("%s: stream %s: %w", cmd, stream, err)
}

func connectErr(cmd, url string, err error) error {
	if _, ok := errors.AsType[*neturl.Error](err); ok {
		// url.Parse's error quotes the whole URL, password included.
		return fmt.Errorf("%s: --nats-url %s: a URL does not parse (%s)", cmd, redactURL(url), natsURLWant)
	}
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("%s: connect to %s: %w", cmd, redactURL(url), err)
	}
	return fmt.Errorf("%s: connect to %s: %w (is 'wirewatch run' running with nats.listen set?)", cmd, redactURL(url), err)
}
