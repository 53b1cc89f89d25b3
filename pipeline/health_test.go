package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// syncBuffer is a log destination the test reads while stages write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLines returns the lines of a text log at level whose msg is msg.
func logLines(log, level, msg string) []string {
	var out []string
	want := "level=" + level + " msg=" + fmt.Sprintf("%q", msg)
	if !strings.ContainsAny(msg, " =\"") {
		want = "level=" + level + " msg=" + msg
	}
	for l := range strings.Lines(log) {
		if strings.Contains(l, " "+want+" ") {
			out = append(out, l)
		}
	}
	return out
}

// failingGauge reads wirewatch_stage_failing{stage} from reg; -1 when it
// is missing.
func failingGauge(t *testing.T, reg *prometheus.Registry, stage string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "wirewatch_stage_failing" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" && l.GetValue() == stage {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// waitFor polls cond until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStageHealth runs three workers of one stage on an embedded server
// against a destination that is down for a while: a poison item first
// (dead-lettered, health unchanged), then items that all fail their first
// attempt, then the destination comes back. The log holds one Warn when
// the stage starts failing, one Info when it recovers (with every failed
// attempt counted), each retry at Debug only, and the gauge goes 0, 1, 0.
func TestStageHealth(t *testing.T) {
	const items = 12
	js, subj := startStreams(t)
	ctx := t.Context()
	var down atomic.Bool
	var mu sync.Mutex
	failed := map[string]int{} // item -> failed attempts
	handled := map[string]int{}
	h := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
		if it.Title == "poison" {
			return nil, Permanent(errors.New("cannot handle poison"))
		}
		mu.Lock()
		defer mu.Unlock()
		if down.Load() {
			failed[it.ID]++
			return nil, fmt.Errorf("write %s: connection refused", it.ID)
		}
		handled[it.ID]++
		data, _ := it.Marshal()
		return []Output{{Subject: subj.Unique(it.Feed), MsgID: it.Version(), Data: data}}, nil
	})
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	// The backoff leaves time to bring the destination back before any
	// item is tried again, so each item fails exactly once.
	first := NewStage(js, StageConfig{
		Name: "test", Stream: subj.StreamParsed(), DeadLetter: subj.DeadLetter("test"), Batch: 4,
		BackOff: []time.Duration{time.Second},
	}, h, NewMetrics(reg), log)
	if g := failingGauge(t, reg, "test"); g != 0 {
		t.Errorf("wirewatch_stage_failing of a new stage = %v, want 0", g)
	}
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, st := range []*Stage{first, first.Worker(), first.Worker()} {
		wg.Go(func() {
			if err := st.Run(sctx); err != nil {
				t.Errorf("Run = %v", err)
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	pub := NewPublisher(js, subj)
	wait := func() {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		defer wcancel()
		if err := WaitIdle(wctx, js, []ConsumerRef{{subj.StreamParsed(), "test"}}, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}

	if err := pub.Publish(ctx, "f", []Item{{ID: "poison", Feed: "f", Title: "poison", Text: "p"}}); err != nil {
		t.Fatal(err)
	}
	// WaitIdle alone may look before the consumer counts the message.
	waitFor(t, 10*time.Second, "the dead letter", func() bool { return streamMsgs(t, js, subj.StreamDLQ()) == 1 })
	wait()
	if g := failingGauge(t, reg, "test"); g != 0 {
		t.Errorf("wirewatch_stage_failing after a dead letter = %v, want 0", g)
	}

	down.Store(true)
	batch := make([]Item, items)
	for i := range batch {
		batch[i] = Item{ID: fmt.Sprint("item-", i), Feed: "f", Title: "t", Text: fmt.Sprint("text ", i)}
	}
	if err := pub.Publish(ctx, "f", batch); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "every item to fail once", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(failed) == items
	})
	waitFor(t, time.Second, "the gauge to say failing", func() bool { return failingGauge(t, reg, "test") == 1 })
	mu.Lock()
	down.Store(false)
	mu.Unlock()
	wait()
	cancel()
	wg.Wait()

	if g := failingGauge(t, reg, "test"); g != 0 {
		t.Errorf("wirewatch_stage_failing after recovery = %v, want 0", g)
	}
	out := buf.String()
	total := 0
	for id, n := range failed {
		total += n
		if n != 1 || handled[id] != 1 {
			t.Errorf("%s failed %d times and was handled %d times, want once each", id, n, handled[id])
		}
	}
	warn, info := logLines(out, "WARN", "stage failing"), logLines(out, "INFO", "stage recovered")
	if len(warn) != 1 || len(info) != 1 {
		t.Fatalf("%d failing and %d recovered lines, want one each; log:\n%s", len(warn), len(info), out)
	}
	if !strings.Contains(warn[0], "stage=test ") || !strings.Contains(warn[0], `err="write item-`) || !strings.Contains(warn[0], " attempt=1") {
		t.Errorf("failing line %q, want the stage, the error and the attempt", warn[0])
	}
	if !strings.Contains(info[0], "stage=test down_for=") || !strings.Contains(info[0], fmt.Sprintf(" failures=%d\n", total)) {
		t.Errorf("recovered line %q, want the stage, down_for and failures=%d", info[0], total)
	}
	if n := len(logLines(out, "DEBUG", "handle failed, will retry")); n != total {
		t.Errorf("%d retries logged at Debug, want %d (the failed attempts)", n, total)
	}
	if n := len(logLines(out, "ERROR", "giving up on message")); n != 1 {
		t.Errorf("%d dead letters logged, want 1 (poison)", n)
	}
	for l := range strings.Lines(out) {
		if strings.Contains(l, "level=WARN") && !strings.Contains(l, `msg="stage failing"`) {
			t.Errorf("unexpected Warn: %s", l)
		}
	}
}

// TestStageHealthShutdown stops a stage whose destination hangs: the
// attempt cut off after ShutdownGrace is retried later, but it says
// nothing about the destination, so the stage is not failing. Two real
// failures come first, so that counting the cut-off attempt would make
// three in a row.
func TestStageHealthShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for ShutdownGrace")
	}
	js, subj := startStreams(t)
	ctx := t.Context()
	if err := NewPublisher(js, subj).Publish(ctx, "f", []Item{{ID: "a", Feed: "f", Title: "t", Text: "a"}}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 1)
	attempts := 0 // one message: attempts come one at a time
	hang := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
		if attempts++; attempts < failingAfter {
			return nil, fmt.Errorf("write %s: refused", it.ID)
		}
		started <- struct{}{}
		<-ctx.Done()
		return nil, fmt.Errorf("write %s: %w", it.ID, ctx.Err())
	})
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	st := NewStage(js, StageConfig{Name: "hang", Stream: subj.StreamParsed(), AckWait: time.Hour,
		BackOff: []time.Duration{10 * time.Millisecond}}, hang, NewMetrics(reg), log)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(sctx) }()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	out := buf.String()
	if n := len(logLines(out, "DEBUG", "handle failed, will retry")); n != failingAfter {
		t.Errorf("%d retries logged, want %d (two failures, then the attempt cut off); log:\n%s", n, failingAfter, out)
	}
	if l := logLines(out, "WARN", "stage failing"); len(l) != 0 {
		t.Errorf("an attempt cut off by shutdown logged %q, want nothing", l)
	}
	if g := failingGauge(t, reg, "hang"); g != 0 {
		t.Errorf("wirewatch_stage_failing after shutdown = %v, want 0", g)
	}
}

// TestHealthOrder feeds health outcomes out of the order their attempts
// began, as workers and the acker deliver them: an outcome older than the
// latest recorded one does not change the state.
func TestHealthOrder(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	reg := prometheus.NewRegistry()
	h := newHealth("s", NewMetrics(reg), log)
	now := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	h.now = func() time.Time { return now }
	boom := errors.New("boom")
	a, b, c, d, e, f, g := h.begin(), h.begin(), h.begin(), h.begin(), h.begin(), h.begin(), h.begin()
	h.failed(b, log, boom, 1) // one failure: not yet failing
	h.succeeded(a)            // a began before b: stale, the streak goes on
	h.failed(c, log, boom, 1)
	now = now.Add(time.Second)
	h.failed(d, log, boom, 2) // the third in a row: failing
	h.failed(a, log, boom, 3) // while failing, every failure counts
	now = now.Add(3 * time.Second)
	h.succeeded(e)            // recovered, failures=4
	h.failed(b, log, boom, 1) // older than e: stale
	if v := failingGauge(t, reg, "s"); v != 0 {
		t.Errorf("gauge after recovery and a stale failure = %v, want 0", v)
	}
	h.failed(f, log, boom, 1) // one failure between successes: a flaky
	h.succeeded(g)            // destination, not a failing one
	if v := failingGauge(t, reg, "s"); v != 0 {
		t.Errorf("gauge after an isolated failure = %v, want 0", v)
	}
	want := "level=WARN msg=\"stage failing\" err=boom attempt=2 failed_in_a_row=3 failing_for=1s\n" +
		"level=INFO msg=\"stage recovered\" down_for=4s failures=4\n"
	if buf.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", buf.String(), want)
	}
}
