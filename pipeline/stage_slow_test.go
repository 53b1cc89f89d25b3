package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
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
			_, js := startJS(t, t.TempDir())
			subj := MustSubjects("")
			ctx := t.Context()
			if err := Setup(ctx, js, subj, StreamConfig{}); err != nil {
				t.Fatal(err)
			}
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
