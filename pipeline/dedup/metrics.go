package dedup

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Decisions, the "decision" label of wirewatch_dedup_decisions_total.
const (
	decisionFirst      = "first"      // a first copy (new story or another report of one)
	decisionExact      = "exact"      // an exact copy
	decisionSyndicated = "syndicated" // a syndicated copy
	decisionUpdate     = "update"     // a new version of a known item
	decisionRepoll     = "repoll"     // the same version again: nothing published
	decisionRedelivery = "redelivery" // the same version moments ago: same outputs again
)

// metrics are the dedup stage's Prometheus collectors.
type metrics struct {
	decisions *prometheus.CounterVec
	events    *prometheus.CounterVec
	races     prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wirewatch_dedup_decisions_total",
			Help: "Dedup decisions by kind (first, exact, syndicated, update, repoll, redelivery).",
		}, []string{"decision"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wirewatch_dedup_story_events_total",
			Help: "Story events published (created, grew, merged).",
		}, []string{"event"}),
		races: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wirewatch_dedup_races_total",
			Help: "Decisions decided again because another worker recorded one first (lost compare-and-set).",
		}),
	}
}

// observe counts a recorded (or replayed) decision.
func (m *metrics) observe(dec *Decision) {
	kind := decisionFirst
	switch {
	case dec.Drop:
		kind = decisionRepoll
	case dec.Replay:
		kind = decisionRedelivery
	case dec.Update:
		kind = decisionUpdate
	case dec.DupKind == pipeline.DupExact:
		kind = decisionExact
	case dec.DupKind == pipeline.DupSyndicated:
		kind = decisionSyndicated
	}
	m.decisions.WithLabelValues(kind).Inc()
	if dec.Event != "" && !dec.Drop && !dec.Replay {
		m.events.WithLabelValues(dec.Event).Inc()
	}
}

// Collectors returns the dedup stage's Prometheus collectors for the
// caller to register: decisions, story events, lost races, and the items
// and stories held in memory.
func (d *Dedup) Collectors() []prometheus.Collector {
	m := d.metrics
	return []prometheus.Collector{
		m.decisions, m.events, m.races,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wirewatch_dedup_items_held",
			Help: "Item identities held in memory (within keep_ids).",
		}, func() float64 { return float64(d.Stats().Items) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wirewatch_dedup_stories_held",
			Help: "Stories held in memory (active within the window).",
		}, func() float64 { return float64(d.Stats().Stories) }),
	}
}
