package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// pruner is a database sink with a retention (sinks.sqlite.retention,
// sinks.postgres.retention).
type pruner struct {
	name string
	db   interface {
		Prune(context.Context, time.Time) (int64, error)
	}
	retention time.Duration
}

// pruneEvery is how often the daemon deletes items past their retention.
const pruneEvery = time.Hour

// newPrunedCounter counts items deleted by retention, per sink.
func newPrunedCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wirewatch_sink_pruned_items_total",
		Help: "Items deleted from a database sink after its retention.",
	}, []string{"sink"})
}

// runPruner deletes p's items last written more than its retention ago,
// at start and then every interval, until ctx ends. A failed prune is
// logged and tried again at the next interval: the sink keeps working.
func runPruner(ctx context.Context, p pruner, every time.Duration, now func() time.Time, pruned *prometheus.CounterVec, log *slog.Logger) error {
	log = log.With("sink", p.name)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		start := time.Now()
		cut := now().Add(-p.retention)
		n, err := p.db.Prune(ctx, cut)
		pruned.WithLabelValues(p.name).Add(float64(n))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("pruning old items failed; will try again", "err", err, "deleted", n, "retry_in", every)
		case n > 0:
			log.Info("pruned old items", "deleted", n, "last_written_before", cut.UTC().Format(time.RFC3339),
				"took", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
