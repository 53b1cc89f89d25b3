package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	_ "modernc.org/sqlite"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/poller"
)

// feedServer serves RSS documents that a test can change between polls.
type feedServer struct {
	mu    sync.Mutex
	feeds map[string]string
	hits  map[string]int
}

func (fs *feedServer) set(name, body string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.feeds[name] = body
}

func (fs *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	fs.mu.Lock()
	body, ok := fs.feeds[name]
	fs.hits[name]++
	fs.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/rss+xml")
	io.WriteString(w, body)
}

// waitPolls waits (at most 30 s) until feed name was fetched n more times.
func (fs *feedServer) waitPolls(name string, n int) {
	fs.mu.Lock()
	before := fs.hits[name]
	fs.mu.Unlock()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		fs.mu.Lock()
		got := fs.hits[name]
		fs.mu.Unlock()
		if got >= before+n {
			return
		}
	}
}

func newTestHTTP(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

type rssItem struct{ guid, title, text, date string }

func rss(items ...rssItem) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://example.org/</link>`)
	for _, it := range items {
		fmt.Fprintf(&b, `<item><guid>%s</guid><title>%s</title><link>https://example.org/%s</link><pubDate>%s</pubDate><description><![CDATA[<p>%s</p>]]></description></item>`,
			it.guid, it.title, it.guid, it.date, it.text)
	}
	b.WriteString(`</channel></rss>`)
	return b.String()
}

func readJSONL(t *testing.T, path string) []pipeline.Item {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var items []pipeline.Item
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var it pipeline.Item
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, sc.Text(), err)
		}
		items = append(items, it)
	}
	return items
}

// waitLines waits until the JSONL file holds want items.
func waitLines(t *testing.T, path string, want int) []pipeline.Item {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		items := readJSONL(t, path)
		if len(items) >= want {
			return items
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d items after 60s, want %d", path, len(items), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startTestJS starts an embedded server with cfg and connects to it; both
// end with the test.
func startTestJS(t *testing.T, cfg pipeline.ServerConfig) (*pipeline.Server, jetstream.JetStream) {
	t.Helper()
	srv, err := pipeline.StartServer(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return srv, js
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestDaemonRestart runs the daemon, stops it, changes the feeds and runs
// it again on the same data dir: the dedup state and the sink contents
// survive, nothing is lost and nothing is written twice.
func TestDaemonRestart(t *testing.T) {
	fs := &feedServer{feeds: map[string]string{}, hits: map[string]int{}}
	srvURL := newTestHTTP(t, fs)
	const (
		d1 = "Fri, 15 Aug 2025 10:00:00 GMT"
		d2 = "Fri, 15 Aug 2025 11:00:00 GMT"
		d3 = "Sat, 16 Aug 2025 09:00:00 GMT"
	)
	a1 := rssItem{"a1", "Harvest starts early in the valley", "Farmers in the valley began the grape harvest two weeks early this year after a hot and dry summer, cooperatives said on Friday. Yields are expected to be lower than last year, but growers say the quality of the fruit is excellent.", d1}
	a2 := rssItem{"a2", "City council approves new tram line", "The city council voted 31 to 12 on Thursday to approve a new tram line linking the university to the main railway station.", d2}
	a3 := rssItem{"a3", "Museum reopens after renovation", "The natural history museum reopened its doors on Saturday after a three-year renovation of its roof and galleries.", d3}
	b0 := rssItem{"b0", "Local team wins cup final", "The local football team won the regional cup final 2-1 on Saturday evening in front of a sold-out stadium.", d1}
	b1 := rssItem{"b1", "Early harvest for valley winegrowers", a1.text, d3} // same text as a1, other outlet
	fs.set("alpha", rss(a1, a2))
	fs.set("beta", rss(b0))

	dir := t.TempDir()
	out := filepath.Join(dir, "items.jsonl")
	cfg := defaultConfig(env(nil))
	cfg.NATS.DataDir = filepath.Join(dir, "nats")
	cfg.NATS.Listen = ""
	cfg.HTTP.Listen = ""
	cfg.Rules = []string{"../../testdata/rules/summit.yaml"}
	cfg.Sinks.JSONL.Path = out
	cfg.Sinks.SQLite.Path = filepath.Join(dir, "items.db")
	cfg.Poller.AllowPrivateNetworks = true
	cfg.Poller.DefaultInterval = 200 * time.Millisecond
	cfg.Poller.MinInterval = 100 * time.Millisecond
	cfg.Poller.PerHostGap = -1
	cfg.Feeds = []poller.Feed{{Name: "alpha", URL: srvURL + "/alpha"}, {Name: "beta", URL: srvURL + "/beta"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	runDaemonFor := func(until func()) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- daemon(ctx, cfg, testLogger(t), nil) }()
		until()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("daemon: %v", err)
		}
	}
	runDaemonFor(func() { waitLines(t, out, 3) })

	fs.set("alpha", rss(a1, a2, a3))
	fs.set("beta", rss(b0, b1))
	// The second run also serves the ops endpoint, checked once b1 (an
	// exact copy of a1) went through.
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var items []pipeline.Item
	runDaemonFor(func() {
		items = waitLines(t, out, 5)
		checkOps(t, "http://"+cfg.HTTP.Listen, `wirewatch_dedup_decisions_total{decision="exact"} 1`,
			`wirewatch_dedup_story_events_total{event="grew"} 1`, `wirewatch_poller_fetches_total{outcome="changed"}`,
			`wirewatch_stage_messages_total{outcome="ok",stage="dedup"}`, `wirewatch_tag_rules_last_reload_successful 1`)
		// Let several more poll cycles pass: nothing more may appear.
		fs.waitPolls("alpha", 3)
	})
	items = readJSONL(t, out)
	if len(items) != 5 {
		t.Fatalf("sink holds %d items, want 5 (a1 a2 b0 before restart, a3 b1 after)", len(items))
	}
	byGUID := map[string]pipeline.Item{}
	for _, it := range items {
		if _, dup := byGUID[it.GUID]; dup {
			t.Errorf("item %s written twice", it.GUID)
		}
		byGUID[it.GUID] = it
	}
	if got, want := byGUID["b1"].DuplicateOf, byGUID["a1"].ID; got != want || byGUID["b1"].DupKind != pipeline.DupExact {
		t.Errorf("b1 (copy of a1 seen before the restart): duplicate_of=%q dup_kind=%q, want %q exact", got, byGUID["b1"].DupKind, want)
	}
	// The SQLite sink, fed by its own durable consumer, agrees.
	rows, copies := sqliteCounts(t, cfg.Sinks.SQLite.Path)
	if rows != 5 || copies != 1 {
		t.Errorf("sqlite holds %d items, %d copies; want 5 and 1", rows, copies)
	}
	for _, g := range []string{"a1", "a2", "a3", "b0"} {
		if byGUID[g].DuplicateOf != "" {
			t.Errorf("%s marked as a copy of %s", g, byGUID[g].DuplicateOf)
		}
	}
}

// sqliteCounts returns the items and the copies (duplicate_of set) the
// SQLite sink at path holds.
func sqliteCounts(t *testing.T, path string) (rows, copies int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT count(*), count(duplicate_of) FROM items`).Scan(&rows, &copies); err != nil {
		t.Fatal(err)
	}
	return rows, copies
}

// checkOps checks that /healthz and /readyz answer 200 and that /metrics
// holds every one of wants (lines or line prefixes).
func checkOps(t *testing.T, base string, wants ...string) {
	t.Helper()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(path); code != http.StatusOK {
			t.Errorf("GET %s = %d %q, want 200", path, code, body)
		}
	}
	_, metrics := get("/metrics")
	for _, w := range wants {
		if !strings.Contains(metrics, "\n"+w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
}

// TestDaemonOpsPortInUse checks that a taken ops port stops the daemon at
// once, naming the setting, before the embedded server (or anything else)
// starts.
func TestDaemonOpsPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := defaultConfig(env(nil))
	cfg.NATS.DataDir = filepath.Join(t.TempDir(), "nats")
	cfg.NATS.Listen = ""
	cfg.HTTP.Listen = ln.Addr().String()
	err = daemon(t.Context(), cfg, testLogger(t), nil)
	if err == nil || !strings.Contains(err.Error(), "http.listen") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("daemon with the ops port taken: %v; want an error naming http.listen and %s", err, ln.Addr())
	}
	if _, err := os.Stat(cfg.NATS.DataDir); !os.IsNotExist(err) {
		t.Errorf("the embedded server started (data dir %s exists) before the ops port was checked", cfg.NATS.DataDir)
	}
}
