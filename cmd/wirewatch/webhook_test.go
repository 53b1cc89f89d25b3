package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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

// TestWebhookDownLog runs a webhook stage as buildStages wires it against
// a receiver that answers 503 for half a second, then takes the items
// (one it refuses with 400): the log holds one Warn when the webhook
// starts failing, one Info when it recovers, each attempt's retry only at
// Debug, and the Error of the one dead letter.
func TestWebhookDownLog(t *testing.T) {
	const items = 6
	var mu sync.Mutex
	var first time.Time
	failed, delivered := 0, map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() {
			first = time.Now()
		}
		// Down for the first attempts; the retries, 1s later, find it up.
		switch id := r.Header.Get(sinks.WebhookItemHeader); {
		case time.Since(first) < 500*time.Millisecond:
			failed++
			w.WriteHeader(http.StatusServiceUnavailable)
		case id == "rejected":
			w.WriteHeader(http.StatusBadRequest)
		default:
			delivered[id]++
		}
	}))
	defer recv.Close()

	ctx := t.Context()
	var buf bytes.Buffer // slog's handler serialises writes
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := openBroker(ctx, NATSConfig{DataDir: t.TempDir()}, "test", log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	subj := pipeline.MustSubjects("")
	set, err := buildStages(ctx, b, subj, pipeline.StreamConfig{}, stageOptions{
		sinks:   SinksConfig{Webhooks: []sinks.WebhookConfig{{Name: "alerts", URL: recv.URL + "/hook/TOKEN"}}},
		dedup:   dedup.Config{Window: 72 * time.Hour},
		workers: 1,
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
	fetched := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	for i := range items {
		id := fmt.Sprintf("item-%d", i)
		if i == items-1 {
			id = "rejected"
		}
		it := &pipeline.Item{ID: id, Feed: "afp", FeedURL: "https://example.org/afp.xml",
			Title: "Title " + id, Fetched: fetched, Text: "text of " + id}
		data, err := it.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.js.Publish(ctx, subj.Tagged(), data, jetstream.WithMsgID("tagged."+it.Version())); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = pipeline.WaitIdle(wctx, b.js, []pipeline.ConsumerRef{{Stream: subj.StreamTagged(), Consumer: "sink-webhook-alerts"}}, 0)
	stop()
	if serr := stages.Wait(); serr != nil {
		t.Errorf("stage Run: %v", serr)
	}
	if err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != items-1 || failed == 0 {
		t.Errorf("receiver took %d items %v and failed %d attempts, want %d items and some failed attempts", len(delivered), delivered, failed, items-1)
	}
	count := map[string]int{} // "LEVEL msg" -> lines of the webhook and its stage
	var lines []string
	for l := range strings.Lines(buf.String()) {
		if !strings.Contains(l, "webhook") {
			continue // the other stages and the server
		}
		lines = append(lines, l)
		if strings.Contains(l, "TOKEN") {
			t.Errorf("log line holds the URL's path: %s", l)
		}
		level, msg := logField(l, "level"), logField(l, "msg")
		count[level+" "+msg]++
		switch {
		case level == "WARN" && msg == "webhook failing":
			if want := `webhook=webhook-alerts url=` + recv.URL + `/REDACTED err="webhook sink: item-`; !strings.Contains(l, want) || !strings.Contains(l, "status 503") {
				t.Errorf("failing line %q, want it to hold %q and the status", l, want)
			}
		case level == "INFO" && msg == "webhook recovered":
			if !strings.Contains(l, "webhook=webhook-alerts url="+recv.URL+"/REDACTED down_for=") || logField(l, "failures") != fmt.Sprint(failed) {
				t.Errorf("recovered line %q, want the webhook, its redacted URL, down_for and failures=%d (the 503s)", l, failed)
			}
		}
	}
	want := map[string]int{
		"WARN webhook failing":            1,
		"INFO webhook recovered":          1,
		"DEBUG handle failed, will retry": failed,
		"ERROR giving up on message":      1, // "rejected", dead-lettered at once
		"WARN handle failed, will retry":  0,
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%d lines %q, want %d", count[k], k, n)
		}
	}
	for k, n := range count {
		if strings.HasPrefix(k, "WARN ") && want[k] == 0 {
			t.Errorf("%d unexpected lines %q", n, k)
		}
	}
	if t.Failed() {
		t.Logf("webhook log lines:\n%s", strings.Join(lines, ""))
	}
}

// logField is the value of key in a line of slog's text handler, unquoted.
func logField(line, key string) string {
	_, v, ok := strings.Cut(line, " "+key+"=")
	if !ok {
		return ""
	}
	if strings.HasPrefix(v, `"`) {
		if s, err := strconv.QuotedPrefix(v); err == nil {
			u, _ := strconv.Unquote(s)
			return u
		}
	}
	v, _, _ = strings.Cut(v, " ")
	return strings.TrimSpace(v)
}
