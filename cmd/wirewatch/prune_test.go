package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/sinks"
)

// TestRunPruner runs the daemon's pruning loop on a real SQLite sink:
// items past the retention go at start, the count reaches the metric, and
// a prune that fails (the database closed under it) is survived.
func TestRunPruner(t *testing.T) {
	db, err := sinks.OpenSQLite(filepath.Join(t.TempDir(), "items.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		it := &pipeline.Item{ID: id, Feed: "f", FeedURL: "https://example.org/f", Title: id, Text: "text " + id,
			Fetched: time.Now(), Published: time.Now()}
		if err := db.Write(t.Context(), it); err != nil {
			t.Fatal(err)
		}
	}
	pruned := newPrunedCounter()
	later := func() time.Time { return time.Now().Add(2 * time.Hour) } // every item is 2h old
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		done <- runPruner(ctx, pruner{name: "sqlite", db: db, retention: time.Hour}, 50*time.Millisecond, later, pruned, testLogger(t))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(t, pruned, "sqlite") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := counterValue(t, pruned, "sqlite"); got != 3 {
		t.Fatalf("pruned %v items, want 3", got)
	}
	db.Close() // the next prunes fail: logged, not fatal
	time.Sleep(120 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("runPruner = %v, want nil after cancel", err)
	}
}

func counterValue(t *testing.T, c *prometheus.CounterVec, label string) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.WithLabelValues(label).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
