package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStage measures the stage runner alone, on an embedded server;
// ns/op is per item (pull, decode, handle, publish and confirm the
// outputs, ack). "outputs" is a pass-through stage with one output per
// item (dedup, tag); the sink cases have none, a write of 1 ms (a
// sleep: about what a PostgreSQL write takes, SQLite's is 0.3 ms) and the
// batch their HandleTimeout gives (64 for a sink that sets none, 2 for
// SQLite at its default busy_timeout, 1 for PostgreSQL).
func BenchmarkStage(b *testing.B) {
	for _, bc := range []struct {
		name    string
		outputs bool
		write   time.Duration
		timeout time.Duration
	}{
		{"outputs", true, 0, 0},
		{"sink/batch=64", false, time.Millisecond, 0},
		{"sink/batch=2", false, time.Millisecond, 6 * time.Second},
		{"sink/batch=1", false, time.Millisecond, 10 * time.Second},
	} {
		b.Run(bc.name, func(b *testing.B) {
			js, subj := startStreams(b)
			ctx := context.Background()
			items := make([]Item, b.N)
			for i := range items {
				items[i] = Item{ID: fmt.Sprintf("i%d", i), Feed: "f", Title: "t", Text: "some text of an item"}
			}
			if err := NewPublisher(js, subj).Publish(ctx, "f", items); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			done := make(chan struct{})
			h := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
				if n.Add(1) == int64(b.N) {
					close(done)
				}
				if !bc.outputs {
					time.Sleep(bc.write)
					return nil, nil
				}
				return []Output{{Subject: subj.Unique("f"), Data: []byte(it.ID), MsgID: "u." + it.ID}}, nil
			})
			stage := NewStage(js, StageConfig{Name: "bench", Stream: subj.StreamParsed(), HandleTimeout: bc.timeout}, h, nil, discard())
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			b.ResetTimer()
			start := time.Now()
			go stage.Run(sctx)
			<-done
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "items/s")
		})
	}
}
