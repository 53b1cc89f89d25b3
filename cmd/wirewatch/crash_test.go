package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/poller"
)

// crashChildEnv, when set, makes TestCrashChild run the daemon with the
// config file it names: the test binary is its own daemon process, so the
// parent can kill it with SIGKILL.
const crashChildEnv = "WIREWATCH_TEST_CRASH_CONFIG"

// TestCrashChild is the daemon process of TestCrashRecovery; it skips
// when run on its own.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("the daemon process of TestCrashRecovery")
	}
	s := stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv}
	if err := run(t.Context(), []string{"run", "-c", path}, s); err != nil {
		t.Fatal(err)
	}
}

// TestCrashRecovery kills the daemon with SIGKILL twice while it polls,
// deduplicates and stores a steady flow of items, restarts it on the same
// data dir each time, and checks that the sinks end up with every item
// exactly once and every copy pointing at its original: a crash at any
// point loses nothing and writes nothing twice.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon as a process three times")
	}
	const (
		nFeeds  = 48
		perFeed = 25
		total   = nFeeds * perFeed
	)
	// Every item has its own text, except that item 0 of feed f+1 is an
	// exact copy of item 1 of feed f.
	r := rand.New(rand.NewPCG(7, 7))
	vocab := make([]string, 800)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%03dx%c", i, 'a'+rune(r.IntN(26)))
	}
	base := time.Date(2025, 8, 15, 6, 0, 0, 0, time.UTC)
	feeds := map[string]string{}
	pairs := map[string]string{} // guid -> guid of its exact copy, both ways
	var prevText string
	for f := range nFeeds {
		items := make([]rssItem, perFeed)
		for i := range items {
			words := make([]string, 40)
			for k := range words {
				words[k] = vocab[r.IntN(len(vocab))]
			}
			guid := fmt.Sprintf("f%02d-i%02d", f, i)
			items[i] = rssItem{guid, "Report " + guid, strings.Join(words, " ") + ".",
				base.Add(time.Duration(f*perFeed+i) * time.Minute).Format(time.RFC1123)}
		}
		if f > 0 {
			items[0].text = prevText
			orig := fmt.Sprintf("f%02d-i01", f-1)
			pairs[items[0].guid], pairs[orig] = orig, items[0].guid
		}
		prevText = items[1].text
		feeds[fmt.Sprintf("feed%02d", f)] = rss(items...)
	}
	fsrv := &feedServer{feeds: feeds, hits: map[string]int{}}
	srvURL := newTestHTTP(t, fsrv)

	dir := t.TempDir()
	out := filepath.Join(dir, "items.jsonl")
	cfg := defaultConfig(env(nil))
	cfg.NATS.DataDir = filepath.Join(dir, "nats")
	cfg.NATS.Listen = ""
	cfg.HTTP.Listen = ""
	cfg.Rules = []string{mustAbs(t, "../../testdata/rules/summit.yaml")}
	cfg.Sinks.JSONL.Path = out
	cfg.Sinks.SQLite.Path = filepath.Join(dir, "items.db")
	cfg.Poller.AllowPrivateNetworks = true
	cfg.Poller.DefaultInterval = 2 * time.Second
	cfg.Poller.MinInterval = time.Second
	// One host: the gap spreads the feeds over about five seconds, so
	// the kills land while items flow.
	cfg.Poller.PerHostGap = 100 * time.Millisecond
	// Default leases (2 min): the next run on the same data dir takes
	// the killed one's over at once, or the test runs out of time.
	cfg.Log.Summary = 0
	for name := range feeds {
		cfg.Feeds = append(cfg.Feeds, poller.Feed{Name: name, URL: srvURL + "/" + name})
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "wirewatch.yaml")
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}

	start := func(run int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+cfgPath)
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("daemon-%d.log", run)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { logf.Close() })
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	dumpLogs := func() {
		logs, _ := filepath.Glob(filepath.Join(dir, "daemon-*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", filepath.Base(l), b)
		}
	}
	// Two runs killed part-way, at about a quarter and at about half of
	// the items stored.
	for run, at := range []int{total / 4, total / 2} {
		cmd := start(run)
		n := waitComplete(t, out, at, dumpLogs)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		t.Logf("run %d killed with %d of %d items stored", run, n, total)
		if n >= total {
			t.Fatalf("every item was stored before the kill: the test did not crash mid-flow")
		}
	}
	// The third run finishes the work and stops cleanly; several more
	// poll rounds must add nothing.
	cmd := start(2)
	waitComplete(t, out, total, func() {
		dumpLogs()
		seen := map[string]bool{}
		for _, it := range readJSONL(t, out) {
			seen[it.GUID] = true
		}
		missing := map[string]int{}
		for f := range nFeeds {
			for i := range perFeed {
				if !seen[fmt.Sprintf("f%02d-i%02d", f, i)] {
					missing[fmt.Sprintf("feed%02d", f)]++
				}
			}
		}
		t.Logf("missing items by feed: %v", missing)
	})
	// The SQLite sink is a consumer of its own: it may lag behind the
	// JSONL one, by up to the ack deadline (30 s) for a message the killed
	// run held. Wait for it too, reading while the daemon writes.
	sqliteRows := func() int {
		db, err := sql.Open("sqlite", "file:"+cfg.Sinks.SQLite.Path+"?mode=ro")
		if err != nil {
			return -1
		}
		defer db.Close()
		var n int
		if db.QueryRow(`SELECT count(*) FROM items`).Scan(&n) != nil {
			return -1
		}
		return n
	}
	for deadline := time.Now().Add(90 * time.Second); sqliteRows() < total && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	fsrv.waitPolls("feed00", 2)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			dumpLogs()
			t.Fatalf("daemon after SIGINT: %v", err)
		}
	case <-time.After(60 * time.Second):
		// A stop that hangs: SIGQUIT makes the Go runtime write every
		// goroutine's stack to the daemon's log before it exits.
		cmd.Process.Signal(syscall.SIGQUIT)
		<-exited
		dumpLogs()
		t.Fatal("daemon still running 60s after SIGINT (goroutines above)")
	}

	items := readJSONL(t, out)
	byGUID := map[string]pipeline.Item{}
	for _, it := range items {
		if _, dup := byGUID[it.GUID]; dup {
			t.Errorf("item %s written twice to the JSONL sink", it.GUID)
		}
		byGUID[it.GUID] = it
	}
	if len(items) != total || len(byGUID) != total {
		t.Errorf("JSONL holds %d lines, %d distinct items; want %d", len(items), len(byGUID), total)
	}
	// Of each pair, the one seen second is the copy of the other.
	for guid, it := range byGUID {
		other, paired := pairs[guid]
		switch {
		case !paired && it.DuplicateOf != "":
			t.Errorf("%s marked as a copy of %s", guid, it.DuplicateOf)
		case paired && it.DuplicateOf == "" && byGUID[other].DuplicateOf != it.ID:
			t.Errorf("%s and %s (the same text) are both first copies", guid, other)
		case paired && it.DuplicateOf != "" && (it.DuplicateOf != byGUID[other].ID || it.DupKind != pipeline.DupExact):
			t.Errorf("%s: duplicate_of=%q dup_kind=%q, want %s (%s) exact", guid, it.DuplicateOf, it.DupKind, byGUID[other].ID, other)
		}
	}
	rows, copies := sqliteCounts(t, cfg.Sinks.SQLite.Path)
	if rows != total || copies != len(pairs)/2 {
		t.Errorf("SQLite holds %d items, %d copies; want %d and %d", rows, copies, total, len(pairs)/2)
	}
}

// waitComplete waits until the JSONL file at path holds want complete
// lines (a line being written, or torn by a kill, does not count) and
// returns how many it holds; it calls onFail (to print the daemon's logs)
// before failing.
func waitComplete(t *testing.T, path string, want int, onFail func()) int {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if n := bytes.Count(b, []byte("\n")); n >= want {
			return n
		}
		if time.Now().After(deadline) {
			onFail()
			t.Fatalf("%s has %d lines after 90s, want %d", path, bytes.Count(b, []byte("\n")), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
