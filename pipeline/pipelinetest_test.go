package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func startJS(t testing.TB, dir string) (*Server, jetstream.JetStream) {
	t.Helper()
	return startJSConfig(t, ServerConfig{DataDir: dir})
}

// startJSConfig is startJS with a whole server config.
func startJSConfig(t testing.TB, cfg ServerConfig) (*Server, jetstream.JetStream) {
	t.Helper()
	srv, err := StartServer(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); srv.Shutdown() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return srv, js
}

// startStreams is startJS with the default deployment's streams set up.
func startStreams(t testing.TB) (jetstream.JetStream, Subjects) {
	t.Helper()
	_, js := startJS(t, t.TempDir())
	subj := MustSubjects("")
	if err := Setup(t.Context(), js, subj, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	return js, subj
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestStageRoundTrip sends items through a stage and checks outputs,
// retries, dead letters and idleness on a real embedded server.
func TestStageRoundTrip(t *testing.T) {
	js, subj := startStreams(t)
	ctx := t.Context()
	// Setup is idempotent.
	if err := Setup(ctx, js, subj, StreamConfig{}); err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	var failedOnce atomic.Bool
	h := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
		switch it.Title {
		case "poison":
			return nil, Permanent(errors.New("cannot handle poison"))
		case "flaky":
			if !failedOnce.Swap(true) {
				return nil, errors.New("transient")
			}
		}
		data, _ := it.Marshal()
		return []Output{{Subject: subj.Unique(it.Feed), MsgID: it.Version(), Data: data}}, nil
	})
	stage := NewStage(js, StageConfig{
		Name: "test", Stream: subj.StreamParsed(), DeadLetter: subj.DeadLetter("test"),
		BackOff: []time.Duration{10 * time.Millisecond},
	}, h, nil, discard())
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- stage.Run(sctx) }()

	pub := NewPublisher(js, subj)
	items := []Item{
		{ID: "a", Feed: "f1", Title: "ok", Text: "x"},
		{ID: "b", Feed: "f1", Title: "flaky", Text: "y"},
		{ID: "c", Feed: "f.2", Title: "poison", Text: "z"},
	}
	if err := pub.Publish(ctx, "f1", items); err != nil {
		t.Fatal(err)
	}
	// The same versions again are dropped by the server's duplicate window.
	if err := pub.Publish(ctx, "f1", items); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := WaitIdle(wctx, js, []ConsumerRef{{subj.StreamParsed(), "test"}}, 0); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	got := streamMsgs(t, js, subj.StreamDeduped())
	if got != 2 {
		t.Errorf("deduped stream has %d messages, want 2 (ok + flaky after retry)", got)
	}
	if got := streamMsgs(t, js, subj.StreamDLQ()); got != 1 {
		t.Errorf("dead-letter stream has %d messages, want 1 (poison)", got)
	}
	if got := streamMsgs(t, js, subj.StreamParsed()); got != 0 {
		t.Errorf("parsed work queue has %d messages left, want 0", got)
	}
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestSubjects(t *testing.T) {
	tests := []struct {
		prefix, feed, want string
		wantErr            bool
	}{
		{"", "AFP World", "wirewatch.items.parsed.afp_world", false},
		{"acme.news", "rt", "acme.news.items.parsed.rt", false},
		{"acme.news.", "a.b>c*", "acme.news.items.parsed.a_b_c_", false},
		{"bad prefix", "x", "", true},
		{"a..b", "x", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+"/"+tt.feed, func(t *testing.T) {
			s, err := NewSubjects(tt.prefix)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewSubjects(%q) err = %v, want error %v", tt.prefix, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := s.Parsed(tt.feed); got != tt.want {
				t.Errorf("Parsed(%q) = %q, want %q", tt.feed, got, tt.want)
			}
		})
	}
}

func TestItemTime(t *testing.T) {
	fetched := time.Date(2025, 8, 16, 12, 0, 0, 0, time.UTC)
	pub := time.Date(2025, 8, 15, 20, 0, 0, 0, time.UTC)
	future := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		it   Item
		want time.Time
	}{
		{"published", Item{Published: pub, Fetched: fetched}, pub},
		{"no date", Item{Fetched: fetched}, fetched},
		{"future date", Item{Published: future, Fetched: fetched}, fetched},
	}
	for _, tt := range tests {
		if got := tt.it.Time(); !got.Equal(tt.want) {
			t.Errorf("%s: Time() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestStageStopsWithHangingHandler stops a stage whose handler hangs (a
// destination that never answers) with many messages buffered: the stage
// stops after ShutdownGrace instead of one AckWait per buffered message,
// the buffered messages are handed back rather than handled, and a new
// worker then handles every message once.
func TestStageStopsWithHangingHandler(t *testing.T) {
	js, subj := startStreams(t)
	ctx := t.Context()
	items := make([]Item, 20)
	for i := range items {
		items[i] = Item{ID: string(rune('a' + i)), Feed: "f", Title: "t", Text: string(rune('a' + i))}
	}
	if err := NewPublisher(js, subj).Publish(ctx, "f", items); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	started := make(chan struct{}, len(items))
	hang := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
		calls.Add(1)
		started <- struct{}{}
		<-ctx.Done() // never answers
		return nil, ctx.Err()
	})
	// AckWait far beyond the test: only the grace can end the stop.
	cfg := StageConfig{Name: "hang", Stream: subj.StreamParsed(), AckWait: time.Hour, BackOff: []time.Duration{time.Millisecond}}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- NewStage(js, cfg, hang, nil, discard()).Run(sctx) }()
	<-started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatalf("stage still running 25s after stop, with a hanging handler")
	}
	if n := calls.Load(); n > 2 {
		t.Errorf("the hanging handler was called %d times after stop; buffered messages should be handed back", n)
	}
	// The next worker gets every message back, at once, and handles each.
	seen := map[string]int{}
	var mu sync.Mutex
	ok := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
		mu.Lock()
		seen[it.ID]++
		mu.Unlock()
		return nil, nil
	})
	sctx, cancel = context.WithCancel(ctx)
	defer cancel()
	go func() { done <- NewStage(js, cfg, ok, nil, discard()).Run(sctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := WaitIdle(wctx, js, []ConsumerRef{{subj.StreamParsed(), "hang"}}, 0); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(items) {
		t.Errorf("the next worker handled %d of %d messages", len(seen), len(items))
	}
}

// TestStageStopsOnClosedConnection: a connection closed for good under a
// running stage (nats.go gives up reconnecting, say on expired
// credentials) ends Run with an error, so the daemon stops instead of
// running on without the stage.
func TestStageStopsOnClosedConnection(t *testing.T) {
	js, subj := startStreams(t)
	h := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) { return nil, nil })
	stage := NewStage(js, StageConfig{Name: "s", Stream: subj.StreamParsed()}, h, nil, discard())
	done := make(chan error, 1)
	go func() { done <- stage.Run(t.Context()) }()
	time.Sleep(300 * time.Millisecond) // consumer created, pulling
	js.Conn().Close()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, jetstream.ErrConnectionClosed) {
			t.Errorf("Run with the connection closed = %v, want an error saying so", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Run still running 10s after its connection closed")
	}
}

// TestStageStoppedWhileStarting: a stage told to stop before its consumer
// exists returns nil like any stop.
func TestStageStoppedWhileStarting(t *testing.T) {
	js, subj := startStreams(t)
	h := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) { return nil, nil })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := NewStage(js, StageConfig{Name: "s", Stream: subj.StreamParsed()}, h, nil, discard()).Run(ctx); err != nil {
		t.Errorf("Run with its context ended before the consumer exists = %v, want nil", err)
	}
}
