package sinks_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/sinks"
	_ "modernc.org/sqlite"
)

// TestSinksThroughStage drives the webhook and SQLite sinks through real
// sink stages on an embedded NATS server: retries come from the consumer,
// items the receiver never takes end on the dead-letter stream, and
// nothing else is lost.
func TestSinksThroughStage(t *testing.T) {
	ctx := t.Context()
	js, subj := startJetStream(t)

	// The receiver: "flaky" fails twice with 500, "doomed" always, and
	// "rejected" is refused with 400; everything else is taken.
	const flakyFailures, maxDeliver = 2, 4
	type attempt struct {
		status   int
		delivery string
	}
	var mu sync.Mutex
	attempts := map[string][]attempt{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(sinks.WebhookItemHeader)
		status := http.StatusOK
		if err := sinks.VerifyWebhook([]byte("k"), r.Header.Get(sinks.WebhookSignatureHeader), body, time.Now(), time.Minute); err != nil {
			status = http.StatusUnauthorized
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case status != http.StatusOK:
		case id == "flaky" && len(attempts[id]) < flakyFailures, id == "doomed":
			status = http.StatusInternalServerError
		case id == "rejected":
			status = http.StatusBadRequest
		}
		attempts[id] = append(attempts[id], attempt{status, r.Header.Get(sinks.WebhookDeliveryHeader)})
		w.WriteHeader(status)
	}))
	defer recv.Close()

	wh, err := sinks.NewWebhook(sinks.WebhookConfig{URL: recv.URL, Secret: "k", Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "items.db")
	db, err := sinks.OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stage := func(name string, s pipeline.Sink) *pipeline.Stage {
		cfg := pipeline.SinkConfig(subj, name)
		cfg.MaxDeliver = maxDeliver
		cfg.BackOff = []time.Duration{20 * time.Millisecond}
		return pipeline.NewStage(js, cfg, pipeline.SinkHandler(s), nil, log)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, st := range []*pipeline.Stage{stage("webhook", wh), stage("sqlite", db)} {
		wg.Go(func() { errs <- st.Run(runCtx) })
	}
	defer func() {
		stop()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("stage Run: %v", err)
			}
		}
	}()

	fetched := time.Date(2025, 8, 16, 12, 0, 0, 0, time.UTC)
	var items []*pipeline.Item
	for _, id := range []string{"ok", "flaky", "doomed", "rejected", "copy"} {
		it := &pipeline.Item{ID: id, Feed: "afp", FeedURL: "https://example.org/afp.xml", Title: "Title " + id,
			Fetched: fetched, Text: "text of " + id, ContentHash: "h-" + id,
			Tags: []pipeline.Tag{{Tag: "alaska-summit", Kind: "topic"}}}
		if id == "copy" {
			it.DuplicateOf, it.DupKind = "ok", pipeline.DupSyndicated
		}
		items = append(items, it)
	}
	publish := func(it *pipeline.Item) {
		data, err := it.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		subject := subj.Tagged()
		if it.DuplicateOf != "" {
			subject = subj.TaggedDuplicate()
		}
		if _, err := js.Publish(ctx, subject, data, jetstream.WithMsgID("tagged."+it.Version())); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range items {
		publish(it)
	}
	publish(items[0]) // a repeat inside the duplicate window is dropped by the server

	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := pipeline.WaitIdle(wctx, js, []pipeline.ConsumerRef{
		{Stream: subj.StreamTagged(), Consumer: "sink-webhook"},
		{Stream: subj.StreamTagged(), Consumer: "sink-sqlite"},
	}, 0); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	wantAttempts := map[string]int{"ok": 1, "flaky": flakyFailures + 1, "doomed": maxDeliver, "rejected": 1, "copy": 1}
	for id, want := range wantAttempts {
		got := attempts[id]
		ok := 0
		for _, a := range got {
			if a.status == http.StatusOK {
				ok++
			}
			if a.delivery != got[0].delivery {
				t.Errorf("%s: Wirewatch-Delivery changed between attempts: %q vs %q", id, a.delivery, got[0].delivery)
			}
		}
		if len(got) != want {
			t.Errorf("%s: receiver saw %d attempts %v, want %d", id, len(got), got, want)
		}
		wantOK := 1
		if id == "doomed" || id == "rejected" {
			wantOK = 0
		}
		if ok != wantOK {
			t.Errorf("%s: delivered %d times, want %d", id, ok, wantOK)
		}
	}

	// The two the receiver never took are on the dead-letter stream, with
	// the attempts made; nothing else is.
	dlq, err := js.Stream(ctx, subj.StreamDLQ())
	if err != nil {
		t.Fatal(err)
	}
	info, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("dead-letter stream holds %d messages, want 2 (doomed, rejected)", info.State.Msgs)
	}
	dead := map[string]*jetstream.RawStreamMsg{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		it, err := pipeline.Unmarshal(m.Data)
		if err != nil {
			t.Fatalf("dead letter %d: %v", seq, err)
		}
		dead[it.ID] = m
	}
	for id, wantAttempts := range map[string]int{"doomed": maxDeliver, "rejected": 1} {
		m := dead[id]
		if m == nil {
			t.Errorf("%s is not on the dead-letter stream (have %v)", id, keys(dead))
			continue
		}
		if m.Subject != subj.DeadLetter("webhook") || header(m.Header, "Wirewatch-Attempts") != strconv.Itoa(wantAttempts) {
			t.Errorf("dead letter %s: subject %s attempts %s, want %s and %d",
				id, m.Subject, header(m.Header, "Wirewatch-Attempts"), subj.DeadLetter("webhook"), wantAttempts)
		}
	}

	// The SQLite sink, fed by its own consumer, holds every item once,
	// including those the webhook dead-lettered and the copy.
	ro, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var n, distinct int
	if err := ro.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT id) FROM items`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != len(items) || distinct != len(items) {
		t.Errorf("sqlite holds %d rows (%d distinct), want %d", n, distinct, len(items))
	}
}

func header(h nats.Header, k string) string {
	if h == nil {
		return ""
	}
	return h.Get(k)
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
