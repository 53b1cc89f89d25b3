package dedup

import (
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// TestHandleReplayedDeadLetter checks that a dead letter replayed by
// 'wirewatch dlq replay' after the redelivery window gets the outputs of
// its recorded decision again, where the same version re-polled gets
// nothing.
func TestHandleReplayedDeadLetter(t *testing.T) {
	env := startNATS(t, t.TempDir())
	now := time.Date(2026, 8, 15, 13, 0, 0, 0, time.UTC)
	d := newDedup(t, env, env.js, Config{Now: func() time.Time { return now }})
	it := makeCorpus(1, 1, 1)[0].it
	ctx := t.Context()
	first, err := d.Handle(ctx, &it)
	if err != nil || len(first) == 0 {
		t.Fatalf("first delivery: %d outputs, %v", len(first), err)
	}
	now = now.Add(48 * time.Hour) // past the redelivery window
	if outs, err := d.Handle(ctx, &it); err != nil || len(outs) != 0 {
		t.Fatalf("re-poll after 48h: %d outputs, %v; want none", len(outs), err)
	}
	outs, err := d.Handle(pipeline.WithReplay(ctx), &it)
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "replayed dead letter after 48h", outs, first)
	if string(outs[0].Data) != string(first[0].Data) {
		t.Errorf("replayed item = %s, want %s", outs[0].Data, first[0].Data)
	}
	// A new item replayed is decided like any other.
	other := makeCorpus(2, 1, 1)[1].it
	if outs, err := d.Handle(pipeline.WithReplay(ctx), &other); err != nil || len(outs) == 0 {
		t.Errorf("replayed new item: %d outputs, %v; want a decision", len(outs), err)
	}
}
