package pipeline

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// health is what a stage knows of its destination (a database, a
// directory, a webhook receiver, NATS itself) from the outcomes of its
// handler: failing from the first retryable failure after a success (or
// at start) until the next success. It logs each change once, a Warn
// when the stage starts failing and an Info when it recovers, and sets
// the stage's failing gauge. A Permanent error (a bad item) and an
// attempt cut off by shutdown say nothing about the destination and are
// not recorded. The workers of a stage in one process share one health
// (see Stage.Worker). Safe for concurrent use.
type health struct {
	stage   string
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	seq     atomic.Uint64 // attempts begun

	mu       sync.Mutex
	last     uint64    // of the latest attempt whose outcome was recorded
	failing  bool      // since the first failure after a success
	since    time.Time // of that failure
	failures int       // failed attempts since then
}

func newHealth(stage string, metrics *Metrics, log *slog.Logger) *health {
	metrics.setFailing(stage, false) // the series exists before anything fails
	return &health{stage: stage, log: log, metrics: metrics, now: time.Now}
}

// begin numbers an attempt: outcomes are recorded in the order the
// attempts began.
func (h *health) begin() uint64 { return h.seq.Add(1) }

// failed records a retryable failure of attempt seq (the message's
// delivery attempt), logged with log when it starts an outage. A failure
// of an attempt that began before the success that ended the last outage
// is stale (workers and the acker finish attempts out of order): it is
// not the destination's state now.
func (h *health) failed(seq uint64, log *slog.Logger, err error, attempt uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing {
		h.failures++
		h.last = max(h.last, seq)
		return
	}
	if seq < h.last {
		return
	}
	h.last = seq
	h.failing, h.since, h.failures = true, h.now(), 1
	log.Warn("stage failing", "err", err, "attempt", attempt)
	h.metrics.setFailing(h.stage, true)
}

// succeeded records a success of attempt seq. A success of an attempt
// that began before the latest recorded failure is stale: a message
// handled before the destination failed, acked after.
func (h *health) succeeded(seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq < h.last {
		return
	}
	h.last = seq
	if !h.failing {
		return
	}
	h.log.Info("stage recovered", "down_for", h.now().Sub(h.since).Round(time.Millisecond), "failures", h.failures)
	h.failing, h.failures = false, 0
	h.metrics.setFailing(h.stage, false)
}
