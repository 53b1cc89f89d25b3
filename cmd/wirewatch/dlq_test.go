package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

// TestDLQReplay runs two sinks on items.tagged on an embedded server. One
// fails on some items until it is "fixed" and gives up on them; 'dlq list'
// shows them, and 'dlq replay' delivers each to that sink exactly once and
// never to the other, empties the DLQ, and does nothing the second time.
func TestDLQReplay(t *testing.T) {
	ctx := t.Context()
	srv, js := startTestJS(t, pipeline.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	subj := pipeline.MustSubjects("")
	if err := pipeline.Setup(ctx, js, subj, pipeline.StreamConfig{}); err != nil {
		t.Fatal(err)
	}

	var fixed atomic.Bool
	var mu sync.Mutex
	writes := map[string]map[string]int{} // stage -> item ID -> writes
	var refs []pipeline.ConsumerRef
	sink := func(name string, fails func(*pipeline.Item) bool) *pipeline.Stage {
		cfg := pipeline.SinkConfig(subj, name)
		cfg.MaxDeliver, cfg.BackOff = 2, []time.Duration{10 * time.Millisecond}
		refs = append(refs, pipeline.ConsumerRef{Stream: cfg.Stream, Consumer: cfg.Name})
		writes[cfg.Name] = map[string]int{}
		return pipeline.NewStage(js, cfg, pipeline.HandlerFunc(func(_ context.Context, it *pipeline.Item) ([]pipeline.Output, error) {
			if fails(it) {
				return nil, errors.New("database is locked:\n  try again later")
			}
			mu.Lock()
			writes[cfg.Name][it.ID]++
			mu.Unlock()
			return nil, nil
		}), nil, testLogger(t))
	}
	stages := []*pipeline.Stage{
		sink("jsonl", func(it *pipeline.Item) bool { return strings.HasPrefix(it.ID, "bad") && !fixed.Load() }),
		sink("sqlite", func(*pipeline.Item) bool { return false }),
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, st := range stages {
		wg.Go(func() {
			if err := st.Run(sctx); err != nil {
				t.Errorf("stage: %v", err)
			}
		})
	}
	defer wg.Wait()
	defer stop()
	idle := func() {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := pipeline.WaitIdle(wctx, js, refs, 0); err != nil {
			t.Fatal(err)
		}
	}
	// checkWrites checks that every item reached each sink exactly once
	// (bad ones the jsonl sink not at all until replayed).
	checkWrites := func(when string, replayed ...string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for _, id := range []string{"good", "bad1", "bad2"} {
			for stage, n := range writes {
				want := 1
				if stage == "sink-jsonl" && strings.HasPrefix(id, "bad") && !strings.Contains(strings.Join(replayed, " "), id) {
					want = 0
				}
				if n[id] != want {
					t.Errorf("%s: %s wrote %s %d times, want %d", when, stage, id, n[id], want)
				}
			}
		}
	}
	for _, id := range []string{"good", "bad1", "bad2"} {
		it := pipeline.Item{ID: id, Feed: "f", Title: "Item " + id}
		data, _ := it.Marshal()
		if _, err := js.Publish(ctx, subj.Tagged(), data, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	idle()
	checkWrites("before replay")

	dlq := func(args ...string) (code int, stdout, stderr string) {
		t.Helper()
		var out, errb bytes.Buffer
		args = append([]string{"dlq"}, append(args, "--nats-url", srv.ClientURL())...)
		code = report(run(ctx, args, stdio{in: strings.NewReader(""), out: &out, err: &errb, getenv: env(nil)}), &errb)
		return code, out.String(), errb.String()
	}
	expect := func(code int, stdout, stderr string, wantCode int, wants ...string) {
		t.Helper()
		if code != wantCode {
			t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, wantCode, stdout, stderr)
		}
		for _, w := range wants {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", w, stdout, stderr)
			}
		}
	}

	// list
	code, out, errOut := dlq("list")
	expect(code, out, errOut, 0, "2 dead letters in WIREWATCH_DLQ on "+srv.ClientURL())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SEQ") {
		t.Fatalf("dlq list printed %q, want a header and 2 lines", out)
	}
	for _, l := range lines[1:] {
		for _, w := range []string{"sink-jsonl", "wirewatch.items.tagged ", " 2 ", "database is locked: try again later"} {
			if !strings.Contains(l, w) {
				t.Errorf("dlq list line %q lacks %q", l, w)
			}
		}
	}
	code, out, errOut = dlq("list", "--json")
	expect(code, out, errOut, 0)
	var seqs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var d struct {
			Seq      uint64
			Stage    string
			Subject  string
			Attempts int
			Error    string
			Item     pipeline.Item
		}
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("dlq list --json line %q: %v", l, err)
		}
		if d.Stage != "sink-jsonl" || d.Subject != subj.Tagged() || d.Attempts != 2 || !strings.Contains(d.Error, "locked") ||
			d.Item.ID != fmt.Sprintf("bad%d", len(seqs)+1) {
			t.Errorf("dlq list --json line %d = %+v", len(seqs), d)
		}
		seqs = append(seqs, fmt.Sprint(d.Seq))
	}
	if len(seqs) != 2 {
		t.Fatalf("dlq list --json printed %d dead letters, want 2:\n%s", len(seqs), out)
	}
	code, out, errOut = dlq("list", "--stage", "sqlite")
	expect(code, out, errOut, 0, "no dead letters of sink-sqlite in WIREWATCH_DLQ")
	if out != "" {
		t.Errorf("dlq list with none printed %q on stdout", out)
	}
	code, out, errOut = dlq("list", "-n", "1", "--stage", "sink-jsonl")
	expect(code, out, errOut, 0, "showing the oldest 1")
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("dlq list -n 1 printed %d lines, want a header and 1:\n%s", n, out)
	}

	// replay
	fixed.Store(true)
	code, out, errOut = dlq("replay", "--all", "--dry-run")
	expect(code, out, errOut, 0, "would replay "+seqs[0]+" to sink-jsonl on wirewatch.items.tagged: item bad1", "nothing sent")
	idle()
	checkWrites("after --dry-run")

	code, out, errOut = dlq("replay", "--seq", seqs[0], "--keep")
	expect(code, out, errOut, 0, "replayed "+seqs[0]+" to sink-jsonl", "1 dead letter", "kept it there")
	idle()
	checkWrites("after replay --seq "+seqs[0], "bad1")

	code, out, errOut = dlq("replay", "--seq", seqs[0], "--keep")
	expect(code, out, errOut, 0, seqs[0]+" was replayed before")
	idle()
	checkWrites("after a second replay --seq "+seqs[0], "bad1")

	code, out, errOut = dlq("replay", "--all", "--stage", "jsonl")
	expect(code, out, errOut, 0, "replayed "+seqs[1]+" to sink-jsonl", seqs[0]+" was replayed before", "1 dead letter", "deleted it there")
	idle()
	checkWrites("after replay --all", "bad1", "bad2")

	code, out, errOut = dlq("list")
	expect(code, out, errOut, 0, "no dead letters in WIREWATCH_DLQ")
	code, out, errOut = dlq("replay", "--seq", seqs[1])
	expect(code, out, errOut, 1, "no dead letter "+seqs[1]+" in WIREWATCH_DLQ")
	code, out, errOut = dlq("replay", "--all")
	expect(code, out, errOut, 0, "nothing to replay: no dead letters in WIREWATCH_DLQ")
	idle()
	checkWrites("after replaying what is gone", "bad1", "bad2")

	// A dead letter of a stage that no longer runs, and one not written by
	// wirewatch, are refused and kept: nothing would handle them.
	gone := &nats.Msg{Subject: subj.DeadLetter("webhook-gone"), Data: []byte(`{"id":"gone"}`), Header: nats.Header{}}
	gone.Header.Set(pipeline.HeaderStage, "sink-webhook-gone")
	gone.Header.Set(pipeline.HeaderSubject, subj.Tagged())
	if _, err := js.PublishMsg(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, subj.DeadLetter("jsonl"), []byte("by hand")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = dlq("replay", "--all")
	expect(code, out, errOut, 1, "stage sink-webhook-gone does not consume stream WIREWATCH_TAGGED", "not a wirewatch dead letter",
		"2 dead letters not replayed")
	code, out, errOut = dlq("list")
	expect(code, out, errOut, 0, "2 dead letters in WIREWATCH_DLQ")
	idle()
	checkWrites("after refused replays", "bad1", "bad2")
}

// TestDLQErrorColumn checks the error as dlq list prints it: on one line,
// a receiver's HTML body reduced to its text before it is cut short.
func TestDLQErrorColumn(t *testing.T) {
	page := "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n        <title>Error response</title>\n    </head>\n" +
		"    <body>\n        <h1>Error response</h1>\n        <p>Error code: 501</p>\n        <p>Message: Unsupported method (&#x27;POST&#x27;).</p>"
	tests := []struct{ in, want string }{
		{fmt.Sprintf("webhook sink: a1: post hooks.example: status 501: %q", page),
			`webhook sink: a1: post hooks.example: status 501: "Error response Error response Error code: 501 Message: Unsupported method ('POST')."`},
		// Cut off inside a tag, with more after the quote.
		{fmt.Sprintf("webhook sink: a1: post h: status 502: %q (reading body: EOF)", "<html><head><title>Bad Gateway</title><meta charset=\"ut"),
			`webhook sink: a1: post h: status 502: "Bad Gateway" (reading body: EOF)`},
		// Not HTML: as it was, on one line.
		{fmt.Sprintf("webhook sink: a1: post h: status 500: %q", "internal error:\n  x < y, see log"),
			`webhook sink: a1: post h: status 500: "internal error: x < y, see log"`},
		{"database is locked:\n  try again later", "database is locked: try again later"},
		{`header name "X Y" is not valid`, `header name "X Y" is not valid`},
	}
	for _, tt := range tests {
		if got := oneLine(plainError(tt.in), 160); got != tt.want {
			t.Errorf("error %q shown as\n%q, want\n%q", tt.in, got, tt.want)
		}
	}
}

func TestDLQStageName(t *testing.T) {
	tests := []struct {
		in, want string // want "" for refused
	}{
		{"dedup", "dedup"},
		{"tag", "tag"},
		{"jsonl", "sink-jsonl"},
		{"sink-jsonl", "sink-jsonl"},
		{"nats-tags", "sink-nats-tags"},
		{"webhook", "sink-webhook"},
		{"webhook-Alerts Desk", "sink-webhook-alerts_desk"},
		{"sink-webhook-alerts", "sink-webhook-alerts"},
		{"webhook-", ""},
		{"sink-dedup", ""},
		{"bogus", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := stageName(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("stageName(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestSubjectMatches(t *testing.T) {
	tests := []struct {
		filter, subject string
		want            bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.b.c", false},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{"a.b.c", "a.b", false},
		{"wirewatch.items.tagged", "wirewatch.items.tagged.duplicate", false},
	}
	for _, tt := range tests {
		if got := subjectMatches(tt.filter, tt.subject); got != tt.want {
			t.Errorf("subjectMatches(%q, %q) = %v, want %v", tt.filter, tt.subject, got, tt.want)
		}
	}
}
