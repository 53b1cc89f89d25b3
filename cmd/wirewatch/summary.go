package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// summaryFields are the counters the periodic summary reports, as
// (log key, metric name, label name, label value); an empty label sums
// every series of the metric.
var summaryFields = []struct{ key, metric, label, value string }{
	{"polls", "wirewatch_poller_fetches_total", "", ""},
	{"changed", "wirewatch_poller_fetches_total", "outcome", "changed"},
	{"fetch_errors", "wirewatch_poller_fetches_total", "outcome", "error"},
	{"items", "wirewatch_poller_items_published_total", "", ""},
	{"first_copies", "wirewatch_dedup_decisions_total", "decision", "first"},
	{"exact", "wirewatch_dedup_decisions_total", "decision", "exact"},
	{"syndicated", "wirewatch_dedup_decisions_total", "decision", "syndicated"},
	{"updates", "wirewatch_dedup_decisions_total", "decision", "update"},
	{"stories_created", "wirewatch_dedup_story_events_total", "event", "created"},
	{"dead_letters", "wirewatch_stage_messages_total", "outcome", "dead"},
}

// counterTotals reads the summary counters from g.
func counterTotals(g prometheus.Gatherer) map[string]float64 {
	out := map[string]float64{}
	mfs, err := g.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		for _, f := range summaryFields {
			if mf.GetName() != f.metric {
				continue
			}
			for _, m := range mf.GetMetric() {
				match := f.label == ""
				for _, lp := range m.GetLabel() {
					match = match || lp.GetName() == f.label && lp.GetValue() == f.value
				}
				if match {
					out[f.key] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// summarizer logs what the counters moved by since its last summary.
type summarizer struct {
	g     prometheus.Gatherer
	every time.Duration
	prev  map[string]float64
}

func newSummarizer(g prometheus.Gatherer, every time.Duration) *summarizer {
	return &summarizer{g: g, every: every, prev: counterTotals(g)}
}

// next logs one summary.
func (s *summarizer) next(log *slog.Logger) {
	cur := counterTotals(s.g)
	attrs := []any{"period", s.every.String()}
	for _, f := range summaryFields {
		attrs = append(attrs, f.key, int64(cur[f.key]-s.prev[f.key]))
	}
	log.Info("activity", attrs...)
	s.prev = cur
}

// logSummaries logs, every interval until ctx ends, what the daemon did
// since the previous summary: a heartbeat an operator can read without a
// metrics stack.
func logSummaries(ctx context.Context, g prometheus.Gatherer, every time.Duration, log *slog.Logger) error {
	s := newSummarizer(g, every)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			s.next(log)
		}
	}
}
