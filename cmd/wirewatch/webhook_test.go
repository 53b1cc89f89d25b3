package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/dedup"
	"github.com/wirewatch/wirewatch/sinks"
)

// TestWebhookSlowReceiverOnce runs a webhook stage as buildStages wires it
// for 'wirewatch run' against a receiver that answers 200 only after a
// delay, and checks that it gets every delivery exactly once. The timeout
// is short (and the ack deadline with it), so the items in the test take
// several ack deadlines to get through: a stage that took more of them in
// hand than it handles within a deadline would have them redelivered, and
// the receiver would get those twice. The items go straight onto the
// tagged stream; the dedup and tag stages run idle beside the sink, as in
// the daemon.
func TestWebhookSlowReceiverOnce(t *testing.T) {
	const (
		items   = 24
		delay   = 150 * time.Millisecond // the receiver's answer time
		timeout = 300 * time.Millisecond // webhook timeout: ack deadline 600ms
	)
	if items*delay < 4*2*timeout {
		t.Fatalf("%d items of %s take less than four ack deadlines: the test would not show a buffered stage", items, delay)
	}
	var mu sync.Mutex
	got := map[string]int{} // Wirewatch-Delivery -> POSTs
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.Header.Get(sinks.WebhookDeliveryHeader)]++
		mu.Unlock()
		select {
		case <-time.After(delay):
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	}))
	defer recv.Close()

	ctx := t.Context()
	log := testLogger(t)
	b, err := openBroker(ctx, NATSConfig{DataDir: t.TempDir()}, "test", log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	subj := pipeline.MustSubjects("")
	set, err := buildStages(ctx, b, subj, pipeline.StreamConfig{}, stageOptions{
		sinks:   SinksConfig{Webhooks: []sinks.WebhookConfig{{URL: recv.URL, Timeout: timeout}}},
		dedup:   dedup.Config{Window: 72 * time.Hour},
		workers: 1,
		// The deadline is twice the timeout, not the 30s of the daemon.
		webhookAckFloor: time.Millisecond,
	}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()

	stageCtx, stop := context.WithCancel(ctx)
	var stages errgroup.Group
	for _, st := range set.stages {
		stages.Go(func() error { return st.Run(stageCtx) })
	}
	stopped := false
	stopStages := func() {
		if !stopped {
			stopped = true
			stop()
			if err := stages.Wait(); err != nil {
				t.Errorf("stage Run: %v", err)
			}
		}
	}
	defer stopStages()

	var versions []string
	fetched := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	for i := range items {
		it := &pipeline.Item{ID: fmt.Sprintf("item-%02d", i), Feed: "afp", FeedURL: "https://example.org/afp.xml",
			Title: fmt.Sprintf("Title %d", i), Fetched: fetched, Text: fmt.Sprintf("text of item %d", i)}
		data, err := it.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.js.Publish(ctx, subj.Tagged(), data, jetstream.WithMsgID("tagged."+it.Version())); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, it.Version())
	}

	// Idle: every item acked. Then stop the stages, which also handles
	// what a worker still holds, so a redelivered copy in its buffer
	// reaches the receiver before the count.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pipeline.WaitIdle(wctx, b.js, []pipeline.ConsumerRef{{Stream: subj.StreamTagged(), Consumer: "sink-webhook"}}, 0); err != nil {
		t.Fatal(err)
	}
	cons, err := b.js.Consumer(ctx, subj.StreamTagged(), "sink-webhook")
	if err != nil {
		t.Fatal(err)
	}
	if cc := cons.CachedInfo().Config; cc.AckWait != 2*timeout || cc.MaxAckPending != 4 {
		t.Errorf("webhook consumer: ack deadline %s, at most %d unacked; want %s (twice the timeout) and 4", cc.AckWait, cc.MaxAckPending, 2*timeout)
	}
	stopStages()

	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for _, v := range versions {
		switch n := got[v]; {
		case n == 0:
			t.Errorf("delivery %s never reached the receiver", v)
		case n > 1:
			twice++
			t.Errorf("delivery %s reached the receiver %d times, want once", v, n)
		}
	}
	if len(got) != items || twice > 0 {
		t.Errorf("receiver got %d distinct deliveries (%d more than once), want %d, each once", len(got), twice, items)
	}
}
