package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStage measures the stage runner alone: a pass-through handler
// with one output per item, on an embedded server; ns/op is per item
// (pull, decode, handle, publish, confirm, ack).
func BenchmarkStage(b *testing.B) {
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
		return []Output{{Subject: subj.Unique("f"), Data: []byte(it.ID), MsgID: "u." + it.ID}}, nil
	})
	stage := NewStage(js, StageConfig{Name: "bench", Stream: subj.StreamParsed()}, h, nil, discard())
	sctx, cancel := context.WithCancel(ctx)
	b.ResetTimer()
	start := time.Now()
	go stage.Run(sctx)
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "items/s")
	cancel()
}
