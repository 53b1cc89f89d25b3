package sinks_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/sinks"
)

// lockedBuffer is a log destination the test reads while stages write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stageMetric reads a wirewatch_stage_* sample of stage from reg (the
// outcome label only for the messages counter); -1 when it is missing.
func stageMetric(t *testing.T, reg *prometheus.Registry, name, stage, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" && l.GetValue() != stage || l.GetName() == "outcome" && l.GetValue() != outcome {
					continue metrics
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

// waitHandled waits until stage in reg has acked or dead-lettered n
// messages, then until its consumer is idle. WaitIdle alone may look
// before the consumer counts a message just published.
func waitHandled(t *testing.T, js jetstream.JetStream, reg *prometheus.Registry, ref pipeline.ConsumerRef, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for stageMetric(t, reg, "wirewatch_stage_messages_total", ref.Consumer, "ok")+
		max(stageMetric(t, reg, "wirewatch_stage_messages_total", ref.Consumer, "dead"), 0) < float64(n) {
		select {
		case <-ctx.Done():
			t.Fatalf("%s has not handled %d messages after 30s", ref.Consumer, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := pipeline.WaitIdle(ctx, js, []pipeline.ConsumerRef{ref}, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

// noTime drops time= from slog text lines, and masks down_for's value.
func noTime(log string, levels ...string) []string {
	downFor := regexp.MustCompile(`(down_for|failing_for)=\S+`)
	var out []string
	for l := range strings.Lines(log) {
		_, l, _ = strings.Cut(strings.TrimSpace(l), " ")
		for _, lv := range levels {
			if strings.HasPrefix(l, "level="+lv+" ") {
				out = append(out, downFor.ReplaceAllString(l, "${1}=X"))
			}
		}
	}
	return out
}

// TestWebhookHealthLog drives a webhook through its stage, wired as
// 'wirewatch run' wires it, one item at a time, against a receiver that
// fails and recovers: one Warn once three attempts in a row failed (an
// isolated failure is a flaky receiver, not a failing one), one Info with
// how many attempts failed when an item is delivered again, each retry
// only at Debug, and nothing for an item the receiver refuses (the stage
// logs that dead letter) or one the webhook's filter skips. The stage's
// wirewatch_stage_failing gauge follows.
func TestWebhookHealthLog(t *testing.T) {
	statuses := map[string][]int{ // attempts of each item, in order
		"item-0":   {200},
		"item-1":   {503, 500, 503}, // every attempt fails: dead-lettered, still failing
		"rejected": {400},           // refused: says nothing about the receiver
		"item-2":   {200},           // recovered
		"item-3":   {502, 200},      // one failure between successes: flaky, not failing
	}
	var mu sync.Mutex
	seen := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		id := r.Header.Get(sinks.WebhookItemHeader)
		mu.Lock()
		defer mu.Unlock()
		s := statuses[id]
		if len(s) == 0 {
			t.Errorf("receiver got item %s, want it skipped", id)
			return
		}
		w.WriteHeader(s[min(seen[id], len(s)-1)])
		seen[id]++
	}))
	defer recv.Close()

	ctx := t.Context()
	js, subj := startJetStream(t)
	cfg := sinks.WebhookConfig{Name: "alerts", URL: recv.URL + "/hook/TOKEN", Tags: []string{"alaska"}}
	wh, err := sinks.NewWebhook(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	sc := pipeline.SinkConfig(subj, cfg.SinkName())
	sc.Batch, sc.MaxDeliver, sc.BackOff = 1, 3, []time.Duration{20 * time.Millisecond}
	st := pipeline.NewStage(js, sc, pipeline.SinkHandler(wh), pipeline.NewMetrics(reg), log.With("url", cfg.Redacted().URL))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("stage Run: %v", err)
		}
	}()

	fetched := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	wantGauge := map[string]float64{"item-0": 0, "item-1": 1, "rejected": 1, "other": 1, "item-2": 0, "item-3": 0}
	for i, id := range []string{"item-0", "item-1", "rejected", "other", "item-2", "item-3"} {
		it := &pipeline.Item{ID: id, Feed: "afp", FeedURL: "https://example.org/afp.xml", Title: "Title " + id,
			Fetched: fetched, Text: "text of " + id, Tags: []pipeline.Tag{{Tag: "alaska", Kind: "topic"}}}
		if id == "other" {
			it.Tags = nil // skipped by the filter
		}
		data, err := it.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, subj.Tagged(), data, jetstream.WithMsgID("tagged."+it.Version())); err != nil {
			t.Fatal(err)
		}
		waitHandled(t, js, reg, pipeline.ConsumerRef{Stream: subj.StreamTagged(), Consumer: sc.Name}, i+1)
		if g := stageMetric(t, reg, "wirewatch_stage_failing", sc.Name, ""); g != wantGauge[id] {
			t.Errorf("wirewatch_stage_failing after %s = %v, want %v", id, g, wantGauge[id])
		}
	}

	out := buf.String()
	prefix := `url=` + recv.URL + `/REDACTED stage=sink-webhook-alerts `
	dead := ` subject=` + subj.Tagged() + ` dead_letter=` + subj.DeadLetter(cfg.SinkName())
	post := "post " + recv.Listener.Addr().String()
	want := []string{
		`level=WARN msg="stage failing" ` + prefix + `item=item-1 feed=afp err="webhook sink: item-1: ` + post + `: status 503" attempt=3 failed_in_a_row=3 failing_for=X`,
		`level=ERROR msg="giving up on message" ` + prefix + `err="webhook sink: item-1: ` + post + `: status 503" attempts=3` + dead,
		`level=ERROR msg="giving up on message" ` + prefix + `err="webhook sink: rejected: ` + post + `: status 400" attempts=1` + dead,
		`level=INFO msg="stage recovered" ` + prefix + `down_for=X failures=3`,
	}
	var got []string
	for _, l := range noTime(out, "INFO", "WARN", "ERROR") {
		// Only the lines about the receiver's health and the items: a
		// loaded test machine may add a missed pull heartbeat.
		if strings.Contains(l, `msg="stage `) || strings.Contains(l, `msg="giving up on message"`) {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	retries := 0
	for _, l := range noTime(out, "DEBUG") {
		if strings.Contains(l, `msg="handle failed, will retry"`) {
			retries++
		}
	}
	if retries != 3 { // item-1 twice (the third went to the dead letters), item-3 once
		t.Errorf("%d retries logged at Debug, want 3", retries)
	}
	if strings.Contains(out, "TOKEN") {
		t.Errorf("log holds the URL's path:\n%s", out)
	}
}

// cutter is a TCP proxy to a real PostgreSQL that can go down: it drops
// every open connection and refuses new ones (a server stopped or a
// network cut) until it is up again.
type cutter struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target, conns: map[net.Conn]bool{}}
	c.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			if c.down {
				c.mu.Unlock()
				conn.Close() // the client reads EOF at once
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.mu.Unlock()
				conn.Close()
				continue
			}
			c.conns[conn], c.conns[up] = true, true
			c.mu.Unlock()
			for _, pair := range [][2]net.Conn{{conn, up}, {up, conn}} {
				c.wg.Go(func() {
					io.Copy(pair[1], pair[0])
					pair[0].Close()
					pair[1].Close()
					c.mu.Lock()
					delete(c.conns, pair[0])
					c.mu.Unlock()
				})
			}
		}
	})
	// Runs after the sink's pool is closed (cleanups run last first).
	t.Cleanup(func() { ln.Close(); c.set(true); c.wg.Wait() })
	return c
}

// set takes the proxy down (dropping every connection) or up.
func (c *cutter) set(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
	if down {
		for conn := range c.conns {
			conn.Close()
		}
	}
}

// TestPostgresDownLog runs the PostgreSQL sink through its stage with the
// database behind a proxy that drops and refuses connections for a
// while: the stage logs one Warn when writes start failing and one Info
// when they succeed again, each retry only at Debug, the failing gauge
// goes 1 then 0, and every item is stored once, none dead-lettered.
func TestPostgresDownLog(t *testing.T) {
	const before, during = 5, 10
	dsn, schema := sinks.PostgresTestDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutter(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	ctx := t.Context()
	db, err := sinks.OpenPostgres(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	js, subj := startJetStream(t)
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	sc := pipeline.SinkConfig(subj, "postgres")
	sc.MaxDeliver = 50 // an outage of a second must not use up the attempts
	sc.BackOff = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
	st := pipeline.NewStage(js, sc, pipeline.SinkHandler(db), pipeline.NewMetrics(reg), log)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	stopped := false
	stopStage := func() {
		if !stopped {
			stopped = true
			stop()
			if err := <-done; err != nil {
				t.Errorf("stage Run: %v", err)
			}
		}
	}
	defer stopStage()

	fetched := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	publish := func(from, n int) {
		for i := from; i < from+n; i++ {
			it := &pipeline.Item{ID: fmt.Sprint("item-", i), Feed: "afp", FeedURL: "https://example.org/afp.xml",
				Title: fmt.Sprint("Title ", i), Fetched: fetched, Text: fmt.Sprint("text of item ", i)}
			data, err := it.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.Publish(ctx, subj.Tagged(), data, jetstream.WithMsgID("tagged."+it.Version())); err != nil {
				t.Fatal(err)
			}
		}
	}
	ref := pipeline.ConsumerRef{Stream: subj.StreamTagged(), Consumer: sc.Name}
	gauge := func() float64 { return stageMetric(t, reg, "wirewatch_stage_failing", sc.Name, "") }

	publish(0, before)
	waitHandled(t, js, reg, ref, before)
	if g := gauge(); g != 0 {
		t.Errorf("wirewatch_stage_failing with the database up = %v, want 0", g)
	}
	proxy.set(true)
	publish(before, during)
	deadline := time.Now().Add(20 * time.Second)
	for stageMetric(t, reg, "wirewatch_stage_messages_total", sc.Name, "retry") < 2*during {
		if time.Now().After(deadline) {
			t.Fatalf("%v retries after 20s, want %d", stageMetric(t, reg, "wirewatch_stage_messages_total", sc.Name, "retry"), 2*during)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if g := gauge(); g != 1 {
		t.Errorf("wirewatch_stage_failing with the database down = %v, want 1", g)
	}
	proxy.set(false)
	waitHandled(t, js, reg, ref, before+during)
	stopStage()

	out := buf.String()
	if g := gauge(); g != 0 {
		t.Errorf("wirewatch_stage_failing after the database came back = %v, want 0", g)
	}
	retries := stageMetric(t, reg, "wirewatch_stage_messages_total", sc.Name, "retry")
	t.Logf("%v attempts failed while the database was down", retries)
	count := map[string]int{}
	for _, l := range noTime(out, "DEBUG", "INFO", "WARN", "ERROR") {
		level, rest, _ := strings.Cut(l, " ")
		msg, _, _ := strings.Cut(strings.TrimPrefix(rest, "msg="), " stage=")
		count[strings.TrimPrefix(level, "level=")+" "+strings.Trim(msg, `"`)]++
		if strings.HasPrefix(l, `level=INFO msg="stage recovered"`) && !strings.Contains(l, fmt.Sprintf(" failures=%v", retries)) {
			t.Errorf("recovered line %q, want failures=%v (every retry)", l, retries)
		}
		if strings.HasPrefix(l, `level=WARN msg="stage failing"`) && !strings.Contains(l, `err="postgres sink: write item-`) {
			t.Errorf("failing line %q, want the write's error", l)
		}
	}
	want := map[string]int{
		"WARN stage failing":              1,
		"INFO stage recovered":            1,
		"DEBUG handle failed, will retry": int(retries),
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%d lines %q, want %d", count[k], k, n)
		}
	}
	for k, n := range count {
		if (strings.HasPrefix(k, "WARN ") || strings.HasPrefix(k, "ERROR ")) && want[k] == 0 {
			t.Errorf("%d unexpected lines %q", n, k)
		}
	}
	if ok := stageMetric(t, reg, "wirewatch_stage_messages_total", sc.Name, "ok"); ok != before+during {
		t.Errorf("%v items written, want %d, each once", ok, before+during)
	}
	if dead := stageMetric(t, reg, "wirewatch_stage_messages_total", sc.Name, "dead"); dead > 0 {
		t.Errorf("%v items dead-lettered, want none", dead)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, table := range []string{"items", "item_versions"} {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, table}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != before+during {
			t.Errorf("%s holds %d rows, want %d", table, n, before+during)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", out)
	} else if ls := noTime(out, "WARN", "INFO"); len(ls) > 0 {
		t.Logf("%s", strings.Join(ls, "\n"))
	}
}
