package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

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
	for _, want := range []string{"level=WARN", "consumer=sink-webhook-alerts", "pending=3", "nats consumer rm WIREWATCH_TAGGED sink-webhook-alerts"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("warning lacks %q: %s", want, lines[0])
		}
	}
}
