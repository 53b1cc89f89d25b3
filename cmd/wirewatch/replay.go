package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/dedup"
	"github.com/wirewatch/wirewatch/pipeline/tag"
	"github.com/wirewatch/wirewatch/poller"
	"github.com/wirewatch/wirewatch/sinks"
)

const replaySynopsis = `replay [--feeds DIR] [--out FILE.jsonl] [--db FILE.db] [--rules FILE]... [--json]
                [--data-dir DIR] [--concurrency N] [--log-level LEVEL]

Serves the feed files in DIR over a local HTTP server, polls them through the
real poller and runs the whole pipeline (embedded NATS, dedup, tagging, sinks)
to completion, then prints a summary. A DIR holds one feed per file (*.xml,
*.rss, *.atom, *.rdf, *.json), named after the file; <feed>.<n>.xml files are
successive snapshots of one feed, served in order, one per poll. A broken file
is reported by name and the others complete; the exit status is then 1.`

// replayFeed is one feed of a replay directory and its snapshots in order.
type replayFeed struct {
	name  string
	files []string
}

func runReplay(ctx context.Context, args []string, s stdio) error {
	fs := newFlagSet("replay", replaySynopsis, s)
	feedsDir := fs.String("feeds", "testdata/feeds", "`dir`ectory of feed files to replay")
	out := fs.String("out", "", "write every item, one JSON object per line, to this `file` (replaced; refused if it holds something else)")
	db := fs.String("db", "", "also store every item in this SQLite database `file` (replaced; refused if not SQLite), e.g. for 'wirewatch stories'")
	var rules stringList
	fs.Var(&rules, "rules", "rule `file` or directory (repeatable; default testdata/rules/summit.yaml)")
	dataDir := fs.String("data-dir", "", "keep the embedded NATS data in this `dir` (default: a temporary directory, removed)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	logLevel := fs.String("log-level", "warn", "log `level`: debug, info, warn, error")
	concurrency := fs.Int("concurrency", 16, "feeds fetched at once (at least 1)")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if err := fs.noArgs(pos, replayHint); err != nil {
		return err
	}
	if err := checkLogLevel(*logLevel); err != nil {
		return fs.usageErr("--log-level %v", err)
	}
	if *concurrency < 1 {
		return fs.usageErr("--concurrency %d: want at least 1", *concurrency)
	}
	if *out != "" && *out == *db {
		return fs.usageErr("--out and --db are both %s: give two files", *out)
	}
	if err := checkReplaceable("--out", *out, isJSONL); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if err := checkReplaceable("--db", *db, isSQLite); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	log := newLogger(LogConfig{Level: *logLevel}, s.err)
	defaultRules := len(rules) == 0
	if defaultRules {
		rules = stringList{"testdata/rules/summit.yaml"}
	}
	rs, err := tag.Load(rules...)
	if err != nil {
		if defaultRules {
			// Run outside the repository: the defaults are relative to it.
			return fmt.Errorf("replay: %w (the default rules; run replay from the wirewatch repository, or give --rules and --feeds)", err)
		}
		return fmt.Errorf("replay: %w", err)
	}
	tagger := tag.New(rs)
	feeds, err := scanReplayDir(*feedsDir)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	// Replay writes fresh files: this run only.
	for flag, path := range map[string]string{"--out": *out, "--db": *db, "--db wal": walOf(*db), "--db shm": shmOf(*db)} {
		if path == "" {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replay: %s: %w", flag, err)
		}
	}
	r := &replayer{
		feeds: feeds, tagger: tagger, out: *out, db: *db, dataDir: *dataDir, concurrency: *concurrency,
		log: log, progress: s.err,
	}
	sum, err := r.run(ctx)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		sum.print(s.out)
	}
	if len(sum.Failures) > 0 {
		for _, f := range sum.Failures {
			fmt.Fprintf(s.err, "wirewatch: replay: feed %s: %s\n", f.Feed, f.Error)
		}
		return fmt.Errorf("replay: %d of %d feeds failed: %w", len(sum.Failures), len(feeds), errQuiet)
	}
	return nil
}

// scanReplayDir lists the feeds of dir, snapshots grouped and ordered.
func scanReplayDir(dir string) ([]replayFeed, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("feeds dir: %w", err)
	}
	type snap struct {
		n    int
		path string
	}
	byName := map[string][]snap{}
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		ext := strings.ToLower(filepath.Ext(e.Name()))
		switch ext {
		case ".xml", ".rss", ".atom", ".rdf", ".json":
		default:
			continue
		}
		base := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		name, n := base, 0
		if i := strings.LastIndexByte(base, '.'); i > 0 {
			if k, err := strconv.Atoi(base[i+1:]); err == nil && k >= 0 {
				name, n = base[:i], k
			}
		}
		byName[name] = append(byName[name], snap{n, filepath.Join(dir, e.Name())})
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("feeds dir %s: no feed files (*.xml, *.rss, *.atom, *.rdf, *.json)", dir)
	}
	feeds := make([]replayFeed, 0, len(byName))
	for name, snaps := range byName {
		sort.Slice(snaps, func(i, j int) bool { return snaps[i].n < snaps[j].n })
		f := replayFeed{name: name}
		for _, s := range snaps {
			f.files = append(f.files, s.path)
		}
		feeds = append(feeds, f)
	}
	sort.Slice(feeds, func(i, j int) bool { return feeds[i].name < feeds[j].name })
	return feeds, nil
}

// replayServer serves each feed's current snapshot with an ETag, so the
// poller's conditional GET works as against a real outlet.
type replayServer struct {
	mu    sync.Mutex
	feeds map[string]*replayFeed
	round int // 1-based; a feed serves snapshot min(round, len(files))
}

func (rs *replayServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/feeds/")
	rs.mu.Lock()
	f, ok := rs.feeds[name]
	round := rs.round
	rs.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	path := f.files[min(round, len(f.files))-1]
	body, err := os.ReadFile(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	switch filepath.Ext(path) {
	case ".json":
		w.Header().Set("Content-Type", "application/feed+json")
	default:
		w.Header().Set("Content-Type", "application/xml")
	}
	w.Write(body)
}

// collector is replay's poller.Publisher: it keeps a round's items so they
// can be published in a deterministic order.
type collector struct {
	mu    sync.Mutex
	items []pipeline.Item
}

func (c *collector) Publish(_ context.Context, _ string, items []pipeline.Item) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, items...)
	return nil
}

func (c *collector) take() []pipeline.Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	items := c.items
	c.items = nil
	return items
}

type replayer struct {
	feeds       []replayFeed
	tagger      *tag.Tagger
	out         string
	db          string // SQLite sink file, or ""
	dataDir     string
	concurrency int
	log         *slog.Logger
	progress    io.Writer
}

func (r *replayer) run(ctx context.Context) (*summary, error) {
	start := time.Now()
	dataDir := r.dataDir
	if dataDir == "" {
		d, err := os.MkdirTemp("", "wirewatch-replay-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dataDir = d
	}
	b, err := openBroker(ctx, NATSConfig{DataDir: dataDir, MaxStore: 4 << 30, MaxMemory: 64 << 20}, "replay", r.log)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	subj := pipeline.MustSubjects("")
	set, err := buildStages(ctx, b, subj, pipeline.StreamConfig{}, stageOptions{
		tagger: r.tagger, sinks: SinksConfig{JSONL: JSONLConfig{Path: r.out}, SQLite: sinks.SQLiteConfig{Path: r.db}},
		tags: true, dedup: dedup.Config{Window: 72 * time.Hour}, workers: 1,
	}, nil, r.log)
	if err != nil {
		return nil, err
	}
	defer set.Close()

	// Stages run until the replay is done; their group owns them.
	stageCtx, stopStages := context.WithCancel(ctx)
	var stages errgroup.Group
	for _, st := range set.stages {
		stages.Go(func() error { return st.Run(stageCtx) })
	}
	defer func() { stopStages(); stages.Wait() }()

	// The local server: loopback, allowed explicitly by host:port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &replayServer{feeds: map[string]*replayFeed{}, round: 1}
	rounds := 0
	pfeeds := make([]poller.Feed, 0, len(r.feeds))
	for i := range r.feeds {
		f := &r.feeds[i]
		srv.feeds[f.name] = f
		rounds = max(rounds, len(f.files))
		pfeeds = append(pfeeds, poller.Feed{Name: f.name, URL: "http://" + ln.Addr().String() + "/feeds/" + f.name})
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()

	pcfg := poller.DefaultConfig()
	pcfg.Version = buildVersion()
	pcfg.AllowHosts = []string{ln.Addr().String()}
	pcfg.Concurrency = max(r.concurrency, 1)
	coll := &collector{}
	p, err := poller.New(pcfg, pfeeds, coll, nil, r.log)
	if err != nil {
		return nil, err
	}
	pub := pipeline.NewPublisher(b.js, subj)
	sum := &summary{Feeds: len(r.feeds), Tags: map[string]int{}}
	var clock time.Time
	for round := 1; round <= rounds; round++ {
		srv.mu.Lock()
		srv.round = round
		srv.mu.Unlock()
		var due []string
		for _, f := range r.feeds {
			if round == 1 || len(f.files) >= round {
				due = append(due, f.name)
			}
		}
		failures := r.pollRound(ctx, p, due, round, rounds)
		sum.Failures = append(sum.Failures, failures...)
		items := coll.take()
		clock = replayClock(items, clock)
		for i := range items {
			// The local server's port changes from run to run; the file
			// a feed came from does not.
			items[i].Fetched = clock
			if f, ok := srv.feeds[items[i].Feed]; ok {
				items[i].FeedURL = f.files[0]
			}
		}
		// First copies are decided in arrival order; a live poller sees
		// items in publication order, so replay publishes them that way.
		sort.SliceStable(items, func(i, j int) bool {
			ti, tj := items[i].Time(), items[j].Time()
			if !ti.Equal(tj) {
				return ti.Before(tj)
			}
			if items[i].Feed != items[j].Feed {
				return items[i].Feed < items[j].Feed
			}
			return items[i].ID < items[j].ID
		})
		// One connection keeps the order of asynchronous publishes.
		if err := pub.Publish(ctx, "", items); err != nil {
			return nil, err
		}
		sum.Polled += len(items)
		if err := pipeline.WaitIdle(ctx, b.js, set.order, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}
	sort.Slice(sum.Failures, func(i, j int) bool { return sum.Failures[i].Feed < sum.Failures[j].Feed })
	if err := sum.collect(ctx, b.js, subj); err != nil {
		return nil, err
	}
	sum.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return sum, nil
}

// pollRound polls the due feeds, at most r.concurrency at once, and
// returns the feeds that failed. Progress goes to stderr on long rounds.
func (r *replayer) pollRound(ctx context.Context, p *poller.Poller, due []string, round, rounds int) []failure {
	var (
		mu       sync.Mutex
		failures []failure
		done     atomic.Int64
	)
	stop := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(r.progress, "replay: round %d/%d: %d/%d feeds polled\n", round, rounds, done.Load(), len(due))
			}
		}
	})
	var g errgroup.Group
	g.SetLimit(max(r.concurrency, 1))
	for _, name := range due {
		g.Go(func() error {
			defer done.Add(1)
			if _, err := p.Poll(ctx, name); err != nil {
				mu.Lock()
				failures = append(failures, failure{Feed: name, Error: err.Error()})
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	close(stop)
	ticker.Wait()
	return failures
}

// replayClock is the simulated fetch time of a round: the newest
// publication date in it that is not in the future, never before the
// previous round's clock plus a minute. It keeps replay output identical
// from one run to the next.
func replayClock(items []pipeline.Item, prev time.Time) time.Time {
	now := time.Now().UTC()
	var newest time.Time
	for _, it := range items {
		if it.Published.After(newest) && !it.Published.After(now) {
			newest = it.Published
		}
	}
	if newest.IsZero() && prev.IsZero() {
		newest = now.Truncate(time.Second)
	}
	if !prev.IsZero() && !newest.After(prev) {
		newest = prev.Add(time.Minute)
	}
	return newest
}

type failure struct {
	Feed  string `json:"feed"`
	Error string `json:"error"`
}

// summary is what replay prints.
type summary struct {
	Feeds      int            `json:"feeds"`
	Polled     int            `json:"items_polled"`
	Items      int            `json:"items"`
	FirstCopy  int            `json:"first_copies"`
	Exact      int            `json:"exact_duplicates"`
	Syndicated int            `json:"syndicated_copies"`
	Updates    int            `json:"updates"`
	Stories    int            `json:"stories"`
	MultiStory int            `json:"stories_with_several_reports"`
	Tags       map[string]int `json:"tags"`
	DeadLetter int            `json:"dead_letters"`
	Failures   []failure      `json:"failures,omitempty"`
	Elapsed    string         `json:"elapsed"`
}

// collect reads the tagged stream from the start and tallies it.
func (s *summary) collect(ctx context.Context, js jetstream.JetStream, subj pipeline.Subjects) error {
	stream, err := js.Stream(ctx, subj.StreamTagged())
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	stories := map[string]int{} // story -> reports
	if n := info.State.Msgs; n > 0 {
		// Each fetch recreates the consumer; bounded, so a server gone
		// away fails the summary instead of retrying forever.
		cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{MaxResetAttempts: 2})
		if err != nil {
			return err
		}
		for read := uint64(0); read < n; {
			batch, err := cons.Fetch(int(min(n-read, 1000)), jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				return err
			}
			got := 0
			for msg := range batch.Messages() {
				got++
				it, err := pipeline.Unmarshal(msg.Data())
				if err != nil {
					return err
				}
				s.add(it, stories)
			}
			if got == 0 {
				return fmt.Errorf("summary: tagged stream ended after %d of %d messages", read, n)
			}
			read += uint64(got)
		}
	}
	s.Stories = len(stories)
	for _, n := range stories {
		if n > 1 {
			s.MultiStory++
		}
	}
	if dlq, err := js.Stream(ctx, subj.StreamDLQ()); err == nil {
		if info, err := dlq.Info(ctx); err == nil {
			s.DeadLetter = int(info.State.Msgs)
		}
	}
	return nil
}

func (s *summary) add(it *pipeline.Item, stories map[string]int) {
	s.Items++
	if it.Update {
		s.Updates++
	}
	switch it.DupKind {
	case pipeline.DupExact:
		s.Exact++
	case pipeline.DupSyndicated:
		s.Syndicated++
	default:
		if !it.Update {
			s.FirstCopy++
		}
	}
	if it.StoryID != "" && !it.Update {
		// Reports as 'wirewatch stories' counts them: first copies.
		n := stories[it.StoryID]
		if it.DuplicateOf == "" {
			n++
		}
		stories[it.StoryID] = n
	}
	if it.DuplicateOf == "" && !it.Update {
		for _, t := range it.Tags {
			s.Tags[t.Tag]++
		}
	}
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "feeds:        %d (%d failed)\n", s.Feeds, len(s.Failures))
	fmt.Fprintf(w, "items:        %d (%s, %s, %s, %s)\n", s.Items, count(s.FirstCopy, "first copy"),
		count(s.Exact, "exact duplicate"), count(s.Syndicated, "syndicated copy"), count(s.Updates, "update"))
	fmt.Fprintf(w, "stories:      %d (%d with several reports)\n", s.Stories, s.MultiStory)
	if s.DeadLetter > 0 {
		fmt.Fprintf(w, "dead letters: %d\n", s.DeadLetter)
	}
	names := make([]string, 0, len(s.Tags))
	for t := range s.Tags {
		names = append(names, t)
	}
	sort.Slice(names, func(i, j int) bool {
		if s.Tags[names[i]] != s.Tags[names[j]] {
			return s.Tags[names[i]] > s.Tags[names[j]]
		}
		return names[i] < names[j]
	})
	fmt.Fprintf(w, "tags (first copies):")
	if len(names) == 0 {
		fmt.Fprintf(w, " none")
	}
	fmt.Fprintln(w)
	for _, t := range names {
		fmt.Fprintf(w, "  %-28s %d\n", t, s.Tags[t])
	}
	fmt.Fprintf(w, "elapsed:      %s\n", s.Elapsed)
}

// replayHint says what a stray word of replay was likely meant for.
func replayHint(w string) string {
	if st, err := os.Stat(w); err == nil && st.IsDir() {
		return "give a directory of feed files with --feeds"
	}
	switch strings.ToLower(filepath.Ext(w)) {
	case ".jsonl", ".ndjson":
		return "give the output file with --out"
	case ".db", ".sqlite", ".sqlite3":
		return "give the SQLite file with --db"
	case ".yaml", ".yml":
		return "give rule files with --rules"
	}
	return ""
}

// checkLogLevel accepts the levels the config's log.level accepts.
func checkLogLevel(v string) error {
	switch strings.ToLower(v) {
	case "debug", "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("%q: want debug, info, warn or error", v)
}

// checkReplaceable refuses to let replay's --out or --db (flag) replace
// path when it holds something replay would not have written: a
// directory, a device or other special file, or a non-empty file that
// isOurs rejects. A missing or empty file is fine. Of a database, the
// -wal and -shm files go too: they must be plain files.
func checkReplaceable(flag, path string, isOurs func(head []byte) bool) error {
	if path == "" {
		return nil
	}
	paths := []string{path}
	if flag == "--db" {
		paths = append(paths, walOf(path), shmOf(path))
	}
	for i, p := range paths {
		st, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", flag, p, err)
		}
		if st.Mode()&os.ModeSymlink != 0 {
			if st, err = os.Stat(p); err != nil {
				continue // a dangling link: removing it loses nothing
			}
		}
		switch {
		case st.IsDir():
			return fmt.Errorf("%s %s: is a directory; give a file path (the file is replaced)", flag, p)
		case !st.Mode().IsRegular():
			return fmt.Errorf("%s %s: not a regular file (%s); give a file path (the file is replaced)", flag, p, st.Mode().Type())
		case i > 0 || st.Size() == 0:
			continue
		}
		head := make([]byte, 16)
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("%s %s: %w", flag, p, err)
		}
		n, err := io.ReadFull(f, head)
		f.Close()
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s %s: %w", flag, p, err)
		}
		if !isOurs(head[:n]) {
			what := "a JSON-lines file"
			if flag == "--db" {
				what = "a SQLite database"
			}
			return fmt.Errorf("%s %s: exists and is not %s; replay replaces the file, so give a new path or remove it first", flag, p, what)
		}
	}
	return nil
}

// isJSONL says whether a file starting with head looks like replay's
// JSON-lines output.
func isJSONL(head []byte) bool { return len(head) > 0 && head[0] == '{' }

// isSQLite says whether a file starting with head is a SQLite database.
func isSQLite(head []byte) bool { return string(head) == "SQLite format 3\x00" }

// walOf and shmOf name a SQLite database's companion files ("" for "").
func walOf(db string) string { return suffixed(db, "-wal") }
func shmOf(db string) string { return suffixed(db, "-shm") }

func suffixed(path, suffix string) string {
	if path == "" {
		return ""
	}
	return path + suffix
}
