package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/parser"
	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/poller"
)

const feedsSynopsis = `feeds [list] [-c FILE] [--nats-url URL | --data-dir DIR] [--json]
       wirewatch feeds import FILE.opml
       wirewatch feeds export -c FILE
       wirewatch feeds discover URL [-c FILE]
       wirewatch feeds preview URL|NAME [-c FILE] [-n 10] [--json]

  list             each feed's health: ok / new / backing off / held / gone,
                   failing since, last error, next poll (reads the feed state
                   in NATS: the running daemon's listener, --nats-url, or the
                   embedded server's --data-dir when no daemon runs; --json:
                   one object per feed, its stored state and status)
  import FILE      prints the feeds of an OPML file as a 'feeds:' YAML block
                   to add to wirewatch.yaml ('-' reads standard input)
  export           writes the feeds of the config (-c) as OPML to standard
                   output
  discover URL     finds a site's feeds (<link rel="alternate">, else common
                   paths such as /feed and /rss.xml)
  preview URL|NAME fetches a feed once and prints what the poller would see:
                   its items with dates, links, word counts and the start of
                   their text (a configured feed's NAME brings its headers;
                   --json: the parsed items, one per line)`

// feedsFlagsOf names the subcommands each flag of feeds applies to (-c
// applies to all of them); a flag given to another is refused.
var feedsFlagsOf = map[string][]string{
	"nats-url": {"list"},
	"data-dir": {"list"},
	"n":        {"preview"},
	"json":     {"list", "preview"},
}

// runFeeds is 'wirewatch feeds'.
func runFeeds(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	s := stdio{in: stdin, out: stdout, err: stderr, getenv: os.Getenv}
	fs := newFlagSet("feeds", feedsSynopsis, s)
	cfgPath := fs.String("c", s.getenv("WIREWATCH_CONFIG"), "config `file` (env WIREWATCH_CONFIG)")
	natsURL := fs.String("nats-url", "", "NATS server `URL` of a running wirewatch (list)")
	dataDir := fs.String("data-dir", "", "embedded server data `dir`, when no daemon runs (list)")
	limit := fs.Int("n", 10, "items to print (preview)")
	asJSON := fs.Bool("json", false, "print one JSON object per line: each feed's state (list), each parsed item (preview)")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	sub := "list"
	if len(pos) > 0 {
		sub, pos = pos[0], pos[1:]
	}
	// want checks the arguments of sub before anything is loaded.
	want := func(n int, what string) error {
		switch {
		case n == 0:
			return fs.noArgs(pos, configHint)
		case len(pos) != n:
			return fs.usageErr("%s: want %s, got %d arguments", sub, what, len(pos))
		}
		return nil
	}
	switch sub {
	case "list", "export":
		err = want(0, "")
	case "import":
		err = want(1, "one OPML file (or - for standard input)")
	case "discover":
		err = want(1, "one URL")
	case "preview":
		err = want(1, "one URL or configured feed name")
	default:
		hint := ""
		switch {
		case configHint(sub) != "":
			hint = "; give the config file with -c"
		case strings.HasPrefix(sub, "http://") || strings.HasPrefix(sub, "https://"):
			hint = "; to fetch it: wirewatch feeds preview " + sub
		}
		err = fs.usageErr("unknown subcommand %q (want list, import, export, discover or preview%s)", sub, hint)
	}
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		if subs, ok := feedsFlagsOf[f.Name]; ok && err == nil && !slices.Contains(subs, sub) {
			name := "--" + f.Name
			if len(f.Name) == 1 {
				name = "-" + f.Name
			}
			err = fs.usageErr("%s is a flag of feeds %s, not feeds %s", name, strings.Join(subs, " and "), sub)
		}
	})
	switch {
	case err != nil:
		return err
	case *limit < 0:
		return fs.usageErr("-n %d: want 0 or more", *limit)
	case sub == "export" && *cfgPath == "":
		return fs.usageErr("export: no config given: give the config file whose feeds to export with -c (or WIREWATCH_CONFIG)")
	}
	cfg, err := loadConfig(*cfgPath, s.getenv)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		return feedsList(ctx, cfg, *cfgPath != "", *natsURL, *dataDir, *asJSON, stdout, stderr)
	case "import":
		return feedsImport(pos[0], stdin, stdout)
	case "export":
		return poller.WriteOPML(stdout, "wirewatch feeds", cfg.Feeds)
	case "discover":
		found, err := poller.Discover(ctx, cfg.pollerConfig(buildVersion()), pos[0])
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return fmt.Errorf("feeds discover: no feed found at %s", pos[0])
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "URL\tTYPE\tFOUND BY\tTITLE")
		for _, d := range found {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.URL, d.Type, d.Source, d.Title)
		}
		return tw.Flush()
	default: // preview
		return feedsPreview(ctx, cfg, pos[0], *limit, *asJSON, stdout)
	}
}

func feedsImport(path string, stdin io.Reader, stdout io.Writer) error {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("feeds import: %w", err)
		}
		defer f.Close()
		r = f
	}
	imp, err := poller.ImportOPML(r)
	var pathErr *os.PathError
	switch {
	case errors.As(err, &pathErr): // it names the file already
		return fmt.Errorf("feeds import: %w", err)
	case err != nil:
		return fmt.Errorf("feeds import %s: %w", path, err)
	}
	feeds := imp.Feeds
	for _, sk := range imp.Skipped {
		fmt.Fprintf(stdout, "# skipped: %s\n", sk)
	}
	if len(feeds) == 0 {
		return fmt.Errorf("feeds import %s: no feeds with an http(s) xmlUrl (%s skipped)", path, count(len(imp.Skipped), "outline"))
	}
	fmt.Fprintf(stdout, "# %s imported from %s", count(len(feeds), "feed"), path)
	if n := len(imp.Skipped); n > 0 {
		fmt.Fprintf(stdout, ", %s skipped (listed above)", count(n, "outline"))
	}
	fmt.Fprintln(stdout)
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	if err := enc.Encode(struct {
		Feeds []poller.Feed `yaml:"feeds"`
	}{feeds}); err != nil {
		return fmt.Errorf("feeds import: %w", err)
	}
	return enc.Close()
}

// feedsList prints the health of every configured feed and of every feed
// with stored state. The state comes from, in order: --nats-url, --data-dir,
// the config's nats.url, else the running daemon's listener (nats.listen)
// or, when none answers there, the embedded server's data dir. It says on
// stderr which one it read, and it never creates a data dir: one without
// state is an error, not an empty table. cfgGiven says whether the feeds
// came from a config file (stored feeds not in it are then marked).
func feedsList(ctx context.Context, cfg Config, cfgGiven bool, natsURL, dataDir string, asJSON bool, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nc := cfg.NATS
	var from string
	switch {
	case natsURL != "":
		nc.URL, from = natsURL, "the NATS server at "+redactURL(natsURL)+" (--nats-url)"
	case dataDir != "":
		if err := checkStateDir(dataDir); err != nil {
			return fmt.Errorf("feeds list: --data-dir %s %w", dataDir, err)
		}
		nc.URL, nc.DataDir, nc.Listen = "", dataDir, ""
		from = "the data dir " + dataDir + " (--data-dir)"
	case nc.URL != "":
		from = "the NATS server at " + redactURL(nc.URL) + " (nats.url)"
	default:
		tried := "no daemon listener (nats.listen is off)"
		if nc.Listen != "" {
			// A running daemon owns the data dir: ask its listener first.
			try := nc
			try.URL = "nats://" + nc.Listen
			b, err := openBroker(ctx, try, "feeds", slog.New(slog.DiscardHandler))
			if err == nil {
				defer b.Close()
				fmt.Fprintf(stderr, "feed state from the daemon at %s\n", try.URL)
				return printStates(ctx, b, cfg, cfgGiven, asJSON, stdout)
			}
			tried = "no wirewatch daemon answered at " + try.URL
		}
		if err := checkStateDir(nc.DataDir); err != nil {
			return fmt.Errorf("feeds list: %s and the data dir %s %v; start the daemon ('wirewatch run'), "+
				"or give --nats-url (a running wirewatch or cluster) or --data-dir (a stopped daemon's nats.data_dir)", tried, nc.DataDir, err)
		}
		nc.Listen = ""
		from = "the data dir " + nc.DataDir + " (" + tried + ")"
	}
	b, err := openBroker(ctx, nc, "feeds", log)
	if err != nil {
		return fmt.Errorf("feeds list: %w", err)
	}
	defer b.Close()
	fmt.Fprintf(stderr, "feed state from %s\n", from)
	return printStates(ctx, b, cfg, cfgGiven, asJSON, stdout)
}

// checkStateDir says why dir holds no embedded server state ("does not
// exist"), or returns nil.
func checkStateDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("does not exist")
	case err != nil:
		return fmt.Errorf("cannot be read: %w", err)
	case !st.IsDir():
		return errors.New("is not a directory")
	}
	if st, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil || !st.IsDir() {
		return errors.New("holds no wirewatch state (no jetstream directory)")
	}
	return nil
}

func printStates(ctx context.Context, b *broker, cfg Config, cfgGiven bool, asJSON bool, stdout io.Writer) error {
	subj, err := pipeline.NewSubjects(cfg.NATS.Prefix)
	if err != nil {
		return err
	}
	states, err := poller.States(ctx, b.js, subj)
	if err != nil {
		return fmt.Errorf("feeds list: %w", err)
	}
	if asJSON {
		return writeStatesJSON(stdout, cfg.Feeds, states, cfgGiven, time.Now())
	}
	note := ""
	if cfgGiven {
		note = " (not in config)"
	}
	writeStates(stdout, cfg.Feeds, states, note, time.Now())
	return nil
}

// feedStatus is one line of feeds list --json: a feed's stored state
// (without the item keys the poller keeps to tell new items from old),
// its status, and the marks of the table.
type feedStatus struct {
	poller.FeedState
	Status      string `json:"status"`
	NeverPolled bool   `json:"never_polled,omitempty"`  // configured, no state stored yet
	NotInConfig bool   `json:"not_in_config,omitempty"` // stored, missing from the -c config
}

// writeStatesJSON writes one feedStatus per line, in the order of the
// table. cfgGiven says whether feeds came from a config file.
func writeStatesJSON(w io.Writer, feeds []poller.Feed, states []poller.FeedState, cfgGiven bool, now time.Time) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var err error
	eachState(feeds, states, func(st poller.FeedState, found, configured bool) {
		st.Seen = nil
		if err == nil {
			err = enc.Encode(feedStatus{FeedState: st, Status: st.Status(now), NeverPolled: !found, NotInConfig: cfgGiven && !configured})
		}
	})
	return err
}

// eachState calls row for the configured feeds in config order (found
// says whether a state is stored: an unpolled feed gets its name and URL),
// then for the stored feeds no longer configured.
func eachState(feeds []poller.Feed, states []poller.FeedState, row func(st poller.FeedState, found, configured bool)) {
	byName := make(map[string]poller.FeedState, len(states))
	for _, st := range states {
		byName[st.Name] = st
	}
	for _, f := range feeds {
		st, ok := byName[f.Name]
		if !ok {
			st = poller.FeedState{Name: f.Name, URL: f.URL}
		}
		row(st, ok, true)
		delete(byName, f.Name)
	}
	for _, st := range states {
		if _, left := byName[st.Name]; left {
			row(st, true, false)
		}
	}
}

// writeStates renders the feeds table: configured feeds in config order,
// then stored feeds no longer configured, marked with note.
func writeStates(w io.Writer, feeds []poller.Feed, states []poller.FeedState, note string, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FEED\tSTATUS\tLAST OK\tNEXT POLL\tFETCHES\tITEMS\tLAST ERROR")
	eachState(feeds, states, func(st poller.FeedState, found, configured bool) {
		status := st.Status(now)
		if !found {
			status = "new (never polled)"
		}
		if st.Errors > 0 {
			status = fmt.Sprintf("%s (%s, failing since %s)", status, count(st.Errors, "error"), ago(st.FailingSince, now))
		}
		next := "-"
		if !st.NextDue.IsZero() && !st.Gone {
			next = ago(st.NextDue, now)
		}
		lastErr := st.LastError
		if len(lastErr) > 80 {
			lastErr = lastErr[:77] + "..."
		}
		mark := ""
		if !configured {
			mark = note
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%d\t%d\t%s\n", st.Name, mark, status, ago(st.LastSuccess, now), next, st.Fetches, st.Items, lastErr)
	})
	tw.Flush()
}

// ago renders t relative to now: "3m ago", "in 12m", "-" for zero.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + roughDuration(-d)
	}
	return roughDuration(d) + " ago"
}

func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// feedsPreview fetches one feed (a configured one by name, with its
// headers, or any URL) and prints its items.
func feedsPreview(ctx context.Context, cfg Config, arg string, limit int, asJSON bool, stdout io.Writer) error {
	f := poller.Feed{URL: arg}
	found := false
	for _, c := range cfg.Feeds {
		if c.Name == arg || c.URL == arg {
			f, found = c, true
		}
	}
	if !found && !strings.Contains(arg, "://") {
		return fmt.Errorf("preview: %q is neither a feed of the config (-c) nor an http(s) URL", arg)
	}
	feed, err := poller.Preview(ctx, cfg.pollerConfig(buildVersion()), f)
	if err != nil {
		return err
	}
	if asJSON {
		for i := range feed.Items {
			b, err := feed.Items[i].Marshal()
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\n", b)
		}
		return nil
	}
	fmt.Fprintf(stdout, "%s: %s (%s", firstNonEmpty(f.Name, f.URL), firstNonEmpty(feed.Title, "untitled"), count(len(feed.Items), "item"))
	if feed.Lang != "" {
		fmt.Fprintf(stdout, ", lang %s", feed.Lang)
	}
	if feed.TTL > 0 || feed.UpdatePeriod > 0 {
		fmt.Fprintf(stdout, ", asks to be polled every %s", roughDuration(max(feed.TTL, feed.UpdatePeriod)))
	}
	fmt.Fprintln(stdout, ")")
	for i, it := range feed.Items {
		if i == limit {
			fmt.Fprintf(stdout, "… %d more (-n)\n", len(feed.Items)-limit)
			break
		}
		when := "no date"
		if !it.Published.IsZero() {
			when = it.Published.UTC().Format("2006-01-02 15:04")
		}
		words := len(strings.Fields(it.Text))
		kind := ""
		if parser.IsTeaser(it.Text, "") {
			kind = ", a teaser (full_text_teasers would fetch the page)"
		}
		lead := strings.Join(strings.Fields(it.Text), " ")
		if r := []rune(lead); len(r) > 140 {
			lead = string(r[:140]) + "…"
		}
		fmt.Fprintf(stdout, "\n%s  %s\n    %s\n    %s%s\n    %s\n", when, it.Title, it.URL, count(words, "word"), kind, lead)
	}
	return nil
}
