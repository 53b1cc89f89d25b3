package pipeline

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus metrics. A nil *Metrics records
// nothing, so components work without them. Safe for concurrent use.
type Metrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	failing  *prometheus.GaugeVec
}

// NewMetrics creates the pipeline metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wirewatch_stage_messages_total",
			Help: "Messages handled by a stage or sink, by outcome (ok, retry, dead, skipped: a dead letter replayed for another stage).",
		}, []string{"stage", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wirewatch_stage_handle_seconds",
			Help:    "Time to handle one message, including publishing its outputs.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}, []string{"stage"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wirewatch_stage_failing",
			Help: "1 while a stage or sink is failing: from its third retryable failure in a row until its next success.",
		}, []string{"stage"}),
	}
	reg.MustRegister(m.handled, m.duration, m.failing)
	return m
}

func (m *Metrics) observe(stage, outcome string, start time.Time) {
	if m == nil {
		return
	}
	m.handled.WithLabelValues(stage, outcome).Inc()
	if outcome == "ok" {
		m.duration.WithLabelValues(stage).Observe(time.Since(start).Seconds())
	}
}

func (m *Metrics) setFailing(stage string, failing bool) {
	if m == nil {
		return
	}
	v := 0.0
	if failing {
		v = 1
	}
	m.failing.WithLabelValues(stage).Set(v)
}
