package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/dedup"
	"github.com/wirewatch/wirewatch/sinks"
)

// webhookRig runs the stages buildStages wires for one webhook, on an
// embedded server, as 'wirewatch run' does; publish puts items straight
// onto the tagged stream.
type webhookRig struct {
	t       *testing.T
	b       *broker
	subj    pipeline.Subjects
	stop    func()
	stages  errgroup.Group
	stopped bool
}

// startWebhookStages starts the rig; its stages stop with the test, or
// earlier with stopStages. ackFloor replaces the daemon's 30s minimum ack
// deadline when set.
func startWebhookStages(t *testing.T, wh sinks.WebhookConfig, ackFloor time.Duration, log *slog.Logger) *webhookRig {
	t.Helper()
	ctx := t.Context()
	b, err := openBroker(ctx, NATSConfig{DataDir: t.TempDir()}, "test", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r := &webhookRig{t: t, b: b, subj: pipeline.MustSubjects("")}
	set, err := buildStages(ctx, b, r.subj, pipeline.StreamConfig{}, stageOptions{
		sinks:           SinksConfig{Webhooks: []sinks.WebhookConfig{wh}},
		dedup:           dedup.Config{Window: 72 * time.Hour},
		workers:         1,
		webhookAckFloor: ackFloor,
	}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	stageCtx, stop := context.WithCancel(ctx)
	r.stop = stop
	for _, st := range set.stages {
		r.stages.Go(func() error { return st.Run(stageCtx) })
	}
	t.Cleanup(r.stopStages)
	return r
}

// publish puts it on the tagged stream, as the tag stage would.
func (r *webhookRig) publish(it *pipeline.Item) {
	r.t.Helper()
	data, err := it.Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.b.js.Publish(r.t.Context(), r.subj.Tagged(), data, jetstream.WithMsgID("tagged."+it.Version())); err != nil {
		r.t.Fatal(err)
	}
}

// waitIdle waits (at most 30s) until the webhook's consumer has nothing
// pending or unacknowledged.
func (r *webhookRig) waitIdle(consumer string) error {
	ctx, cancel := context.WithTimeout(r.t.Context(), 30*time.Second)
	defer cancel()
	return pipeline.WaitIdle(ctx, r.b.js, []pipeline.ConsumerRef{{Stream: r.subj.StreamTagged(), Consumer: consumer}}, 0)
}

// stopStages stops the stages once (buffered work is finished) and
// reports their errors.
func (r *webhookRig) stopStages() {
	if r.stopped {
		return
	}
	r.stopped = true
	r.stop()
	if err := r.stages.Wait(); err != nil {
		r.t.Errorf("stage Run: %v", err)
	}
}

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
		items   = 32
		delay   = 100 * time.Millisecond // the receiver's answer time
		timeout = 400 * time.Millisecond // webhook timeout: ack deadline 800ms
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

	// The deadline is twice the timeout, not the 30s of the daemon.
	rig := startWebhookStages(t, sinks.WebhookConfig{URL: recv.URL, Timeout: timeout}, time.Millisecond, testLogger(t))
	var versions []string
	fetched := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	for i := range items {
		it := &pipeline.Item{ID: fmt.Sprintf("item-%02d", i), Feed: "afp", FeedURL: "https://example.org/afp.xml",
			Title: fmt.Sprintf("Title %d", i), Fetched: fetched, Text: fmt.Sprintf("text of item %d", i)}
		rig.publish(it)
		versions = append(versions, it.Version())
	}

	// Idle: every item acked. Then stop the stages, which also handles
	// what a worker still holds, so a redelivered copy in its buffer
	// reaches the receiver before the count.
	if err := rig.waitIdle("sink-webhook"); err != nil {
		t.Fatal(err)
	}
	cons, err := rig.b.js.Consumer(t.Context(), rig.subj.StreamTagged(), "sink-webhook")
	if err != nil {
		t.Fatal(err)
	}
	if cc := cons.CachedInfo().Config; cc.AckWait != 2*timeout || cc.MaxAckPending != 4 {
		t.Errorf("webhook consumer: ack deadline %s, at most %d unacked; want %s (twice the timeout) and 4", cc.AckWait, cc.MaxAckPending, 2*timeout)
	}
	rig.stopStages()

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
// (one it refuses with 400): the log holds one Warn when the webhook's
// stage starts failing, one Info when it recovers, each attempt's retry
// only at Debug, and the Error of the one dead letter; the stage's lines
// name the webhook's URL redacted.
func TestWebhookDownLog(t *testing.T) {
	const items = 6
	var mu sync.Mutex
	failed, delivered, refused := 0, map[string]int{}, 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		// Down for the first four attempts (the first items' first, at
		// most four unacknowledged: enough in a row to count as failing
		// however slow the machine); the retries, 1s later, find it up.
		switch id := r.Header.Get(sinks.WebhookItemHeader); {
		case failed < 4:
			failed++
			w.WriteHeader(http.StatusServiceUnavailable)
		case id == "rejected":
			refused++
			w.WriteHeader(http.StatusBadRequest)
		default:
			delivered[id]++
		}
	}))
	defer recv.Close()

	var buf bytes.Buffer // slog's handler serialises writes
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rig := startWebhookStages(t, sinks.WebhookConfig{Name: "alerts", URL: recv.URL + "/hook/TOKEN"}, 0, log)
	fetched := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	for i := range items {
		id := fmt.Sprintf("item-%d", i)
		if i == items-1 {
			id = "rejected"
		}
		rig.publish(&pipeline.Item{ID: id, Feed: "afp", FeedURL: "https://example.org/afp.xml",
			Title: "Title " + id, Fetched: fetched, Text: "text of " + id})
	}
	// Until the receiver has seen every item: WaitIdle alone once passed
	// before the stage had made its consumer (0 items sent, in 0.14 s).
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		done := len(delivered) == items-1 && refused > 0
		mu.Unlock()
		if done {
			break
		}
	}
	err := rig.waitIdle("sink-webhook-alerts")
	rig.stopStages()
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
		case level == "WARN" && msg == "stage failing":
			if want := `url=` + recv.URL + `/REDACTED stage=sink-webhook-alerts item=item-`; !strings.Contains(l, want) ||
				!strings.Contains(l, `err="webhook sink: item-`) || !strings.Contains(l, "status 503") {
				t.Errorf("failing line %q, want it to hold %q and the status", l, want)
			}
		case level == "INFO" && msg == "stage recovered":
			if !strings.Contains(l, "url="+recv.URL+"/REDACTED stage=sink-webhook-alerts down_for=") || logField(l, "failures") != fmt.Sprint(failed) {
				t.Errorf("recovered line %q, want the webhook, its redacted URL, down_for and failures=%d (the 503s)", l, failed)
			}
		}
	}
	want := map[string]int{
		"WARN stage failing":              1,
		"INFO stage recovered":            1,
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

// TestWebhookRetriesConfigured runs a webhook stage as buildStages wires
// it with max_attempts 3 and max_backoff 1s against a receiver that always
// answers 503: the item is sent three times, a second apart (the default
// schedule would wait 5s before the third), then dead-lettered with its
// attempts.
func TestWebhookRetriesConfigured(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer recv.Close()

	rig := startWebhookStages(t, sinks.WebhookConfig{URL: recv.URL, MaxAttempts: 3, MaxBackoff: time.Second}, 0, testLogger(t))
	rig.publish(&pipeline.Item{ID: "doomed", Feed: "afp", FeedURL: "https://example.org/afp.xml", Title: "Title",
		Fetched: time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC), Text: "text"})
	err := rig.waitIdle("sink-webhook")
	rig.stopStages()
	if err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(at) != 3 {
		t.Fatalf("receiver got %d attempts, want 3 (max_attempts)", len(at))
	}
	if gap := at[2].Sub(at[1]); gap >= 4*time.Second {
		t.Errorf("third attempt %s after the second, want about 1s (max_backoff), not the default 5s", gap)
	}
	dlq, err := rig.b.js.Stream(t.Context(), rig.subj.StreamDLQ())
	if err != nil {
		t.Fatal(err)
	}
	m, err := dlq.GetLastMsgForSubject(t.Context(), rig.subj.DeadLetter("webhook"))
	if err != nil {
		t.Fatalf("dead letter of the webhook: %v", err)
	}
	if got := m.Header.Get("Wirewatch-Attempts"); got != "3" {
		t.Errorf("dead letter Wirewatch-Attempts = %q, want 3", got)
	}
}

// TestConfigCheckWebhook checks that 'config check' prints each webhook's
// retry settings: the file's, or the defaults.
func TestConfigCheckWebhook(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wirewatch.yaml")
	yml := "sinks:\n  webhooks:\n    - {name: a, url: https://example.org/a}\n    - {name: b, url: https://example.org/b, max_attempts: 3, max_backoff: 1m}\n"
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"config", "check", "-c", path}, stdio{out: &out, err: &errb, getenv: env(map[string]string{"HOME": dir})}); err != nil {
		t.Fatalf("config check: %v\n%s", err, errb.String())
	}
	var cfg Config
	if err := yaml.Unmarshal(out.Bytes(), &cfg); err != nil {
		t.Fatalf("config check printed YAML that does not parse: %v\n%s", err, out.String())
	}
	if len(cfg.Sinks.Webhooks) != 2 {
		t.Fatalf("config check printed %d webhooks, want 2:\n%s", len(cfg.Sinks.Webhooks), out.String())
	}
	for i, want := range [][2]any{{10, 10 * time.Minute}, {3, time.Minute}} {
		w := cfg.Sinks.Webhooks[i]
		if w.MaxAttempts != want[0] || w.MaxBackoff != want[1] || w.Timeout != 10*time.Second {
			t.Errorf("webhooks[%d] printed with max_attempts %d, max_backoff %s, timeout %s; want %d, %s, 10s",
				i, w.MaxAttempts, w.MaxBackoff, w.Timeout, want[0], want[1])
		}
	}
	if !strings.Contains(out.String(), "max_backoff: 1m0s") {
		t.Errorf("config check printed no max_backoff of 1m0s:\n%s", out.String())
	}
}

// TestExampleWebhookKeys keeps the commented webhook of the example config
// complete and valid: every key of sinks.WebhookConfig, known to the
// loader, and a webhook NewWebhook accepts.
func TestExampleWebhookKeys(t *testing.T) {
	data, err := os.ReadFile("../../docs/examples/wirewatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var block strings.Builder
	in := false
	for l := range strings.Lines(string(data)) {
		switch {
		case strings.HasPrefix(l, "  # webhooks:"):
			in = true
		case in && strings.HasPrefix(l, "  #  "):
		default:
			in = false
		}
		if in {
			block.WriteString(strings.TrimPrefix(l, "  # "))
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(block.String()))
	dec.KnownFields(true)
	var hooks struct {
		Webhooks []sinks.WebhookConfig `yaml:"webhooks"`
	}
	if err := dec.Decode(&hooks); err != nil || len(hooks.Webhooks) != 1 {
		t.Fatalf("the example's commented webhook (%d of them) does not decode: %v\n%s", len(hooks.Webhooks), err, block.String())
	}
	if _, err := sinks.NewWebhook(hooks.Webhooks[0], nil); err != nil {
		t.Errorf("the example's webhook: %v", err)
	}
	var keys struct {
		Webhooks []map[string]any `yaml:"webhooks"`
	}
	if err := yaml.Unmarshal([]byte(block.String()), &keys); err != nil {
		t.Fatal(err)
	}
	for f := range reflect.TypeFor[sinks.WebhookConfig]().Fields() {
		if k, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); k != "" {
			if _, ok := keys.Webhooks[0][k]; !ok {
				t.Errorf("the example's commented webhook has no %s", k)
			}
		}
	}
}
