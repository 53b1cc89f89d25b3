package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/poller"
)

// TestDaemonBoundsOutputStreams checks that the daemon on its embedded
// server gives every output stream a share of nats.max_store: without one
// the tag fan-out filled the server within days (in 16 minutes of the
// soak test's 7,500 items an hour) and the full server refused every
// write, the pipeline stopped until the retention freed space.
func TestDaemonBoundsOutputStreams(t *testing.T) {
	fs := &feedServer{feeds: map[string]string{}, hits: map[string]int{}}
	srvURL := newTestHTTP(t, fs)
	fs.set("alpha", rss(rssItem{"a1", "Harvest starts early in the valley", "Farmers in the valley began the grape harvest two weeks early this year.", "Fri, 15 Aug 2025 10:00:00 GMT"}))
	dir := t.TempDir()
	cfg := defaultConfig(env(nil))
	cfg.NATS.DataDir = filepath.Join(dir, "nats")
	cfg.NATS.Listen = ""
	cfg.NATS.MaxStore = 64 << 20
	cfg.HTTP.Listen = ""
	cfg.Poller.AllowPrivateNetworks = true
	cfg.Poller.PerHostGap = -1
	cfg.Log.Summary = 0
	cfg.Feeds = []poller.Feed{{Name: "alpha", URL: srvURL + "/alpha"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- daemon(ctx, cfg, testLogger(t), nil) }()
	fs.waitPolls("alpha", 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("daemon: %v", err)
	}

	_, js := startTestJS(t, pipeline.ServerConfig{DataDir: cfg.NATS.DataDir})
	subj := pipeline.MustSubjects("")
	var sum int64
	for _, name := range []string{subj.StreamDeduped(), subj.StreamStories(), subj.StreamTagged(), subj.StreamTags(), subj.StreamDLQ()} {
		st, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		mb := st.CachedInfo().Config.MaxBytes
		if mb <= 0 {
			t.Errorf("%s: MaxBytes %d, want a share of max_store", name, mb)
		}
		sum += mb
	}
	if sum > int64(cfg.NATS.MaxStore) {
		t.Errorf("output streams may hold %d bytes, more than max_store %d", sum, int64(cfg.NATS.MaxStore))
	}
}
