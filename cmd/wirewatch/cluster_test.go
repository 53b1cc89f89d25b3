package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/poller"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCluster starts n embedded servers forming one JetStream cluster,
// as docker-compose.yml does with three nats containers, and returns the
// client URLs.
func startCluster(t *testing.T, n int) []string {
	urls, _ := startClusterServers(t, n)
	return urls
}

// startClusterServers is startCluster that also returns the servers.
func startClusterServers(t *testing.T, n int) ([]string, []*pipeline.Server) {
	t.Helper()
	routes := make([]string, n)
	clusterPorts := make([]int, n)
	for i := range n {
		clusterPorts[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", clusterPorts[i])
	}
	urls := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	servers := make([]*pipeline.Server, n)
	for i := range n {
		wg.Go(func() {
			srv, err := pipeline.StartServer(t.Context(), pipeline.ServerConfig{
				Name:          fmt.Sprintf("nats%d", i+1),
				DataDir:       filepath.Join(t.TempDir(), fmt.Sprintf("nats%d", i+1)),
				Listen:        "127.0.0.1:0",
				ClusterName:   "wirewatch",
				ClusterListen: fmt.Sprintf("127.0.0.1:%d", clusterPorts[i]),
				Routes:        routes,
			})
			servers[i], errs[i] = srv, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("server %d: %v", i+1, err)
		}
		t.Cleanup(servers[i].Shutdown)
		urls[i] = servers[i].ClientURL()
	}
	// Wait for a JetStream meta leader: until then stream creation fails.
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := nc.Request("$JS.API.INFO", nil, time.Second)
		if err == nil && !strings.Contains(string(resp.Data), `"error"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jetstream cluster not ready: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return urls, servers
}

// TestClusterTwoProcesses mirrors docker-compose.yml: a 3-node JetStream
// cluster and two wirewatch daemons sharing the work. Every item is
// processed once: the two JSONL sinks (one per process, both bound to the
// same durable consumer) hold each item exactly once between them, and the
// copy across feeds is marked once.
func TestClusterTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	urls := startCluster(t, 3)
	fs := &feedServer{feeds: map[string]string{}, hits: map[string]int{}}
	srvHTTP := newTestHTTP(t, fs)
	const day = "Mon, 15 Sep 2025 %02d:00:00 GMT"
	var feeds []poller.Feed
	want := 0
	for f := range 6 {
		var items []rssItem
		for i := range 5 {
			items = append(items, rssItem{
				guid:  fmt.Sprintf("f%d-i%d", f, i),
				title: fmt.Sprintf("Report %d from desk %d", i, f),
				text:  fmt.Sprintf("Desk %d filed report number %d today. %s", f, i, filler(f*10+i)),
				date:  fmt.Sprintf(day, f+i),
			})
		}
		if f == 5 { // a verbatim copy of another feed's item
			items = append(items, rssItem{guid: "copy", title: "Copied report", text: "Desk 0 filed report number 0 today. " + filler(0), date: fmt.Sprintf(day, 20)})
		}
		want += len(items)
		name := fmt.Sprintf("desk%d", f)
		fs.set(name, rss(items...))
		feeds = append(feeds, poller.Feed{Name: name, URL: srvHTTP + "/" + name})
	}

	outs, stop := runClusterDaemons(t, urls, feeds, func(cfg *Config) {
		cfg.Poller.DefaultInterval = time.Hour // one due time per feed in this test
		cfg.Poller.PerHostGap = -1
	})
	start := time.Now()
	deadline := start.Add(90 * time.Second)
	var items []pipeline.Item
	for {
		items = append(readJSONL(t, outs[0]), readJSONL(t, outs[1])...)
		if len(items) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d items in the sinks after %s", len(items), time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second) // room for a double delivery to show up
	stop()
	a, b := readJSONL(t, outs[0]), readJSONL(t, outs[1])
	items = append(a, b...)
	seen := map[string]int{}
	copies := 0
	for _, it := range items {
		seen[it.ID]++
		if it.DuplicateOf != "" {
			copies++
		}
	}
	if len(items) != want || len(seen) != want {
		t.Errorf("sinks hold %d items (%d distinct), want %d once each", len(items), len(seen), want)
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("item %s written %d times", id, n)
		}
	}
	if copies != 1 {
		t.Errorf("%d items marked as copies, want 1", copies)
	}
	fs.mu.Lock()
	for name, n := range fs.hits {
		if n != 1 {
			t.Errorf("feed %s fetched %d times for one due time, want 1", name, n)
		}
	}
	fs.mu.Unlock()
	t.Logf("process a wrote %d items, process b %d", len(a), len(b))
}

// runClusterDaemons starts two daemons on the cluster at urls, each with
// its own JSONL sink (returned), configured for feeds and then by tune.
// stop stops both and reports their errors.
func runClusterDaemons(t *testing.T, urls []string, feeds []poller.Feed, tune func(*Config)) (outs []string, stop func()) {
	t.Helper()
	dir := t.TempDir()
	outs = []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, len(outs))
	for _, out := range outs {
		cfg := defaultConfig(env(nil))
		cfg.NATS.URL = strings.Join(urls, ",")
		cfg.NATS.Replicas = 3
		cfg.HTTP.Listen = ""
		cfg.Rules = []string{"../../testdata/rules/summit.yaml"}
		cfg.Sinks.JSONL.Path = out
		cfg.Poller.AllowPrivateNetworks = true
		cfg.Log.Summary = 0
		cfg.Feeds = feeds
		tune(&cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { errc <- daemon(ctx, cfg, testLogger(t), nil) })
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return outs, stop
}

// filler returns 60 pseudo-random words, different for each seed, so
// unrelated test items share no shingles.
func filler(seed int) string {
	var b strings.Builder
	x := uint32(seed*2654435761 + 12345)
	for range 60 {
		x = x*1664525 + 1013904223
		fmt.Fprintf(&b, "w%05d ", x>>16%20000)
	}
	return b.String()
}

// TestClusterNodeFailure stops one of the three NATS nodes while two
// daemons poll, deduplicate and store a steady flow of items: the streams
// and buckets (three replicas) elect new leaders, the daemons reconnect to
// the other nodes, and the shared sink (one SQLite file both write) ends
// with every item exactly once. Each
// process's own JSONL file may also hold an item the other process wrote
// first: an ack lost with the node redelivers it to whichever process
// pulls next, and only a shared sink can tell (README: use a shared sink
// with several processes). Between them the files lose nothing.
func TestClusterNodeFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	urls, servers := startClusterServers(t, 3)
	const nFeeds, perFeed = 30, 10
	fs := &feedServer{feeds: map[string]string{}, hits: map[string]int{}}
	srvHTTP := newTestHTTP(t, fs)
	var feeds []poller.Feed
	for f := range nFeeds {
		var items []rssItem
		for i := range perFeed {
			items = append(items, rssItem{
				guid:  fmt.Sprintf("f%02d-i%02d", f, i),
				title: fmt.Sprintf("Report %d from desk %d", i, f),
				text:  fmt.Sprintf("Desk %d filed report number %d today. %s", f, i, filler(f*100+i)),
				date:  time.Date(2025, 9, 15, 0, f*perFeed+i, 0, 0, time.UTC).Format(time.RFC1123),
			})
		}
		name := fmt.Sprintf("desk%02d", f)
		fs.set(name, rss(items...))
		feeds = append(feeds, poller.Feed{Name: name, URL: srvHTTP + "/" + name})
	}
	want := nFeeds * perFeed

	shared := filepath.Join(t.TempDir(), "items.db")
	outs, stop := runClusterDaemons(t, urls, feeds, func(cfg *Config) {
		cfg.Sinks.SQLite.Path = shared
		// Feeds come due again soon, so a poll whose publish failed while
		// the node was down is done again; one host, spread out by the gap.
		cfg.Poller.DefaultInterval = 2 * time.Second
		cfg.Poller.MinInterval = time.Second
		cfg.Poller.PerHostGap = 150 * time.Millisecond
		cfg.Poller.Timeout = 4 * time.Second
		cfg.Poller.LeaseTTL = 5 * time.Second
	})
	count := func() int { return len(readJSONL(t, outs[0])) + len(readJSONL(t, outs[1])) }
	deadline := time.Now().Add(90 * time.Second)
	for count() < want/4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	before := count()
	servers[0].Shutdown()
	t.Logf("node 1 stopped with %d of %d items stored", before, want)
	if before >= want {
		t.Fatal("every item was stored before the node stopped: the test did not fail a node mid-flow")
	}
	for count() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// The SQLite sink is a consumer of its own: a message it had been
	// sent when the node stopped, and never got, comes back only after
	// its ack deadline (30 s). A lost item still fails below.
	for time.Now().Before(deadline) {
		if rows, _ := sqliteCounts(t, shared); rows >= want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // room for a double delivery to show up
	stop()
	items := append(readJSONL(t, outs[0]), readJSONL(t, outs[1])...)
	seen := map[string]int{}
	for _, it := range items {
		seen[it.GUID]++
		if it.DuplicateOf != "" {
			t.Errorf("%s marked as a copy of %s", it.GUID, it.DuplicateOf)
		}
	}
	if len(seen) != want {
		t.Errorf("the JSONL files hold %d distinct items, want all %d", len(seen), want)
	}
	t.Logf("JSONL files: %d lines for %d items (an item twice means a redelivery to the other process)", len(items), len(seen))
	db, err := sql.Open("sqlite", shared)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, ids int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT id) FROM items`).Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != want || ids != want {
		t.Errorf("the shared SQLite sink holds %d rows for %d items, want %d once each", rows, ids, want)
	}
}
