package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestStageSlowHandlerNoRedelivery: a handler slower than AckWait/Batch (a
// sink whose database waits on a lock) must not see the messages buffered
// behind it pass their ack deadline and come back: each item is handled
// once when it succeeds, and exactly MaxDeliver times before it is
// dead-lettered when it fails.
func TestStageSlowHandlerNoRedelivery(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n         int
		handle    time.Duration // each call takes this long
		timeout   time.Duration // StageConfig.HandleTimeout
		fail      bool
		wantCalls int // per item
	}{
		// 6 × 0.5 s buffered behind each other: twice the ack deadline.
		{"buffered behind slow writes", 6, 500 * time.Millisecond, 600 * time.Millisecond, false, 1},
		{"buffered behind slow failures", 6, 500 * time.Millisecond, 600 * time.Millisecond, true, 2},
		// One write longer than the ack deadline (a lock wait).
		{"a write longer than AckWait", 2, 2 * time.Second, 3 * time.Second, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js, subj := startStreams(t)
			ctx := t.Context()
			n := tc.n
			var mu sync.Mutex
			calls := map[string]int{}
			h := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
				mu.Lock()
				calls[it.ID]++
				mu.Unlock()
				time.Sleep(tc.handle)
				if tc.fail {
					return nil, errors.New("destination timed out")
				}
				return nil, nil
			})
			stage := NewStage(js, StageConfig{Name: "slow", Stream: subj.StreamParsed(), HandleTimeout: tc.timeout, AckWait: 1500 * time.Millisecond,
				MaxDeliver: 2, BackOff: []time.Duration{time.Second}, DeadLetter: subj.DeadLetter("slow")}, h, nil, discard())
			sctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- stage.Run(sctx) }()
			var items []Item
			for i := range n {
				items = append(items, Item{ID: fmt.Sprintf("i%d", i), Feed: "f", Title: "t", Text: "x"})
			}
			if err := NewPublisher(js, subj).Publish(ctx, "f", items); err != nil {
				t.Fatal(err)
			}
			wctx, wcancel := context.WithTimeout(ctx, time.Minute)
			defer wcancel()
			if err := WaitIdle(wctx, js, []ConsumerRef{{subj.StreamParsed(), "slow"}}, 0); err != nil {
				t.Fatal(err)
			}
			// A redelivery that was coming would come within AckWait.
			time.Sleep(2 * time.Second)
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			for _, it := range items {
				if calls[it.ID] != tc.wantCalls {
					t.Errorf("handler calls per item: %v; want %d each", calls, tc.wantCalls)
					break
				}
			}
			wantDead := uint64(0)
			if tc.fail {
				wantDead = uint64(n)
			}
			if got := streamMsgs(t, js, subj.StreamDLQ()); got != wantDead {
				t.Errorf("%d dead letters, want %d", got, wantDead)
			}
		})
	}
}

// TestDeadLetterPublishFails: when the dead letter cannot be stored (no
// stream takes its subject), the message is not terminated but handed back
// to be tried again, and it is not counted as dead; once the dead-letter
// stream takes it, it is.
func TestDeadLetterPublishFails(t *testing.T) {
	js, subj := startStreams(t)
	ctx := t.Context()
	metrics := NewMetrics(prometheus.NewRegistry())
	dead := func() float64 {
		var m dto.Metric
		if err := metrics.handled.WithLabelValues("poison", "dead").Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	var calls atomic.Int32
	h := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
		calls.Add(1)
		return nil, Permanent(errors.New("poison"))
	})
	stage := NewStage(js, StageConfig{Name: "poison", Stream: subj.StreamParsed(), AckWait: time.Minute,
		BackOff: []time.Duration{200 * time.Millisecond}, DeadLetter: "nowhere.poison"}, h, metrics, discard())
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stage.Run(sctx) }()
	if err := NewPublisher(js, subj).Publish(ctx, "f", []Item{{ID: "p", Feed: "f", Title: "t", Text: "x"}}); err != nil {
		t.Fatal(err)
	}
	for calls.Load() < 2 {
		time.Sleep(50 * time.Millisecond)
	}
	if d := dead(); d != 0 {
		t.Errorf("dead count %v while no dead letter could be stored, want 0", d)
	}
	// A stream for the dead-letter subject: the next attempt stores it.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "NOWHERE", Subjects: []string{"nowhere.>"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for streamMsgs(t, js, "NOWHERE") == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if n := streamMsgs(t, js, "NOWHERE"); n != 1 {
		t.Fatalf("%d dead letters stored, want 1", n)
	}
	if d := dead(); d != 1 {
		t.Errorf("dead count %v after the dead letter was stored, want 1", d)
	}
}

// TestHandleTimeoutBoundsBatch: a handler that says how long it may take
// (a sink's write timeout, through SinkHandler) gets no more messages at a
// time than fit in half the ack deadline at that pace.
func TestHandleTimeoutBoundsBatch(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    int
	}{
		{0, 64},                      // fast handlers keep the default
		{100 * time.Millisecond, 64}, // 150 would fit: capped at Batch
		{time.Second, 15},            // 30s / (2 × 1s)
		{6 * time.Second, 2},         // SQLite at its default busy_timeout
		{10 * time.Second, 1},        // PostgreSQL's write timeout
		{time.Hour, 1},               // at least one
	} {
		var h Handler = HandlerFunc(func(context.Context, *Item) ([]Output, error) { return nil, nil })
		if tc.timeout > 0 {
			h = SinkHandler(timedSink(tc.timeout))
		}
		s := NewStage(nil, StageConfig{Name: "s"}, h, nil, discard())
		if s.cfg.Batch != tc.want || tc.timeout > 0 && s.cfg.handleTimeout() != tc.timeout {
			t.Errorf("HandleTimeout %s: batch %d, handler timeout %s; want %d, %s", tc.timeout, s.cfg.Batch, s.cfg.handleTimeout(), tc.want, tc.timeout)
		}
	}
}

// timedSink is a Sink with a HandleTimeout method.
type timedSink time.Duration

func (timedSink) Write(context.Context, *Item) error { return nil }
func (t timedSink) HandleTimeout() time.Duration     { return time.Duration(t) }
