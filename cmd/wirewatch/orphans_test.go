package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

// TestWarnOrphanSinks leaves a sink consumer on the tagged stream that the
// config no longer has, with items it never took: one Warn names it, its
// pending count and what to do; the configured sink and the stages that
// are not sinks say nothing.
func TestWarnOrphanSinks(t *testing.T) {
	_, js := startTestJS(t, pipeline.ServerConfig{DataDir: t.TempDir()})
	subj := pipeline.MustSubjects("")
	if err := pipeline.Setup(t.Context(), js, subj, pipeline.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sink-jsonl", "sink-webhook-alerts", "audit"} {
		if _, err := js.CreateOrUpdateConsumer(t.Context(), subj.StreamTagged(), jetstream.ConsumerConfig{
			Durable: name, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: subj.Tagged(),
		}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := js.Publish(t.Context(), subj.Tagged(), []byte(`{"id":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	waitPending(t, js, subj.StreamTagged(), "sink-webhook-alerts", 3)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	used := []pipeline.ConsumerRef{
		{Stream: subj.StreamParsed(), Consumer: "dedup"},
		{Stream: subj.StreamTagged(), Consumer: "sink-jsonl"},
	}
	warnOrphanSinks(t.Context(), js, subj, used, log)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want one Warn:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{"level=WARN", "consumer=sink-webhook-alerts", "pending=3", "wirewatch sinks rm webhook-alerts"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("warning lacks %q: %s", want, lines[0])
		}
	}
}

// TestSinksCommand: 'sinks list' shows every sink consumer with what it has
// not taken and whether the -c config has it; 'sinks rm' deletes the
// consumer of a sink that is gone, and refuses one the config still has, one
// a running worker pulls from, and one that does not exist.
func TestSinksCommand(t *testing.T) {
	srv, js := startTestJS(t, pipeline.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	subj := pipeline.MustSubjects("")
	if err := pipeline.Setup(t.Context(), js, subj, pipeline.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	consumer := func(name, filter string) jetstream.Consumer {
		c, err := js.CreateOrUpdateConsumer(t.Context(), subj.StreamTagged(), jetstream.ConsumerConfig{
			Durable: name, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: filter,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	consumer("sink-jsonl", subj.Tagged())
	consumer("sink-webhook-alerts", subj.Tagged())
	consumer("audit", subj.Tagged())
	// A worker of a running daemon: a pull request waiting on its consumer.
	running := consumer("sink-sqlite", subj.TaggedDuplicate())
	it, err := running.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	go it.Next()
	for range 3 {
		if _, err := js.Publish(t.Context(), subj.Tagged(), []byte(`{"id":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(t.TempDir(), "wirewatch.yaml")
	yaml := "nats:\n  listen: " + strings.TrimPrefix(srv.ClientURL(), "nats://") + "\nsinks:\n  jsonl: {path: items.jsonl}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(t.Context(), args, stdio{out: &out, err: &errb, getenv: env(nil)})
		return out.String() + errb.String(), err
	}
	list := func() map[string]sinkConsumer {
		t.Helper()
		out, err := cli("sinks", "list", "-c", cfg, "--json")
		if err != nil {
			t.Fatalf("sinks list: %v\n%s", err, out)
		}
		got := map[string]sinkConsumer{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, "{") {
				continue
			}
			var c sinkConsumer
			if err := json.Unmarshal([]byte(l), &c); err != nil {
				t.Fatalf("bad line %q: %v", l, err)
			}
			got[c.Name] = c
		}
		return got
	}
	// The pull request reaches the server asynchronously.
	waitPending(t, js, subj.StreamTagged(), "sink-webhook-alerts", 3)
	deadline := time.Now().Add(5 * time.Second)
	for list()["sink-sqlite"].Waiting == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := list()
	if len(got) != 3 {
		t.Fatalf("sinks list: %v, want the 3 sink consumers (not audit)", got)
	}
	for name, want := range map[string]bool{"sink-jsonl": true, "sink-webhook-alerts": false, "sink-sqlite": false} {
		c := got[name]
		if c.InConfig == nil || *c.InConfig != want {
			t.Errorf("%s in config = %v, want %v", name, c.InConfig, want)
		}
	}
	if c := got["sink-webhook-alerts"]; c.Pending != 3 || c.LastActive != nil {
		t.Errorf("sink-webhook-alerts: %+v, want 3 pending, never active", c)
	}
	if out, err := cli("sinks", "list", "-c", cfg); err != nil || !strings.Contains(out, "CONSUMER") ||
		!regexp.MustCompile(`sink-webhook-alerts +3 +0 +0 +never +no`).MatchString(out) {
		t.Errorf("sinks list (text): %v\n%s", err, out)
	}
	out, err := cli("sinks", "rm", "-c", cfg, "jsonl", "webhook-alerts", "sink-sqlite", "webhook-gone")
	if err == nil {
		t.Fatalf("sinks rm with refusals = nil error\n%s", out)
	}
	for _, want := range []string{
		"deleted sink-webhook-alerts (it had not taken 3 items)",
		"sink-jsonl: the config " + cfg + " still has this sink",
		"sink-sqlite: a running wirewatch pulls from it",
		"sink-webhook-gone: no such consumer",
	} {
		if !strings.Contains(out+err.Error(), want) {
			t.Errorf("sinks rm: %v\n%s\nwant %q", err, out, want)
		}
	}
	got = list()
	if _, ok := got["sink-webhook-alerts"]; ok || len(got) != 2 {
		t.Errorf("after sinks rm: %v, want sink-jsonl and sink-sqlite left", got)
	}
	if out, err := cli("sinks", "rm", "dedup"); err == nil || !strings.Contains(out+err.Error(), "is not a sink") {
		t.Errorf("sinks rm dedup: %v %s, want it refused", err, out)
	}
}

// waitPending waits until the consumer counts want pending messages: the
// server updates a consumer's pending count after a publish
// asynchronously, and under load a count read at once was seen short
// (pending=1 of 3).
func waitPending(t *testing.T, js jetstream.JetStream, stream, consumer string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := js.Consumer(t.Context(), stream, consumer)
		if err != nil {
			t.Fatal(err)
		}
		if n := c.CachedInfo().NumPending; n == want {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%s counts %d pending, want %d", consumer, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
