package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/poller"
)

// TestDaemonTakesOverItsLeases starts the daemon on a data dir where a
// crashed run left its feed leases (taken under the data dir's identity,
// never released), with the default lease TTL of 2 minutes: the daemon
// polls those feeds at once. A lease another process holds (another
// identity) is still waited out.
func TestDaemonTakesOverItsLeases(t *testing.T) {
	fs := &feedServer{feeds: map[string]string{}, hits: map[string]int{}}
	srvURL := newTestHTTP(t, fs)
	item := rssItem{"a1", "Harvest starts early in the valley", "Farmers in the valley began the grape harvest two weeks early this year after a hot and dry summer.", "Fri, 15 Aug 2025 10:00:00 GMT"}
	for _, name := range []string{"mine", "other"} {
		fs.set(name, rss(item))
	}
	dir := t.TempDir()
	cfg := defaultConfig(env(nil))
	cfg.NATS.DataDir = filepath.Join(dir, "nats")
	cfg.NATS.Listen = ""
	cfg.HTTP.Listen = ""
	cfg.Poller.AllowPrivateNetworks = true
	cfg.Poller.PerHostGap = -1
	cfg.Log.Summary = 0
	cfg.Feeds = []poller.Feed{{Name: "mine", URL: srvURL + "/mine"}, {Name: "other", URL: srvURL + "/other"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ttl := cfg.pollerConfig("").LeaseTTL
	if ttl < 2*time.Minute {
		t.Fatalf("lease TTL %s: the test wants the default 2m", ttl)
	}

	// The crashed run.
	srv, err := pipeline.StartServer(t.Context(), pipeline.ServerConfig{DataDir: cfg.NATS.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	store, err := poller.OpenStore(t.Context(), js, pipeline.MustSubjects(""), ttl)
	if err != nil {
		t.Fatal(err)
	}
	for name, holder := range map[string]string{"mine": srv.Identity() + "/host-4242-0badf00d", "other": "0123456789abcdef0123456789abcdef/host-4343-0badf00d"} {
		if _, ok, err := store.Acquire(t.Context(), name, holder); err != nil || !ok {
			t.Fatalf("Acquire(%s) = %v, %v", name, ok, err)
		}
	}
	nc.Close()
	srv.Shutdown()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- daemon(ctx, cfg, testLogger(t), nil) }()
	start := time.Now()
	fs.waitPolls("mine", 1) // at most 30s; the lease would hold it 2m
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond) // time enough for "other" too, had its lease been taken
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("daemon: %v", err)
	}
	fs.mu.Lock()
	mine, other := fs.hits["mine"], fs.hits["other"]
	fs.mu.Unlock()
	if mine == 0 {
		t.Errorf("feed whose lease the crashed run on this data dir held: not polled in %s, want at once", took.Round(time.Millisecond))
	}
	if other != 0 {
		t.Errorf("feed whose lease another identity holds: polled %d times, want none within its lease", other)
	}
}
