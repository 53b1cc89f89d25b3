package pipeline

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// health is what a stage knows of its destination (a database, a
// directory, a webhook receiver, NATS itself) from the outcomes of its
// handler: failing once failingAfter attempts in a row failed (retryably),
// until the next success. It logs each change once, a Warn when the stage
// starts failing and an Info when it recovers, and sets the stage's failing
// gauge. Fewer failures in a row are an item's or a moment's trouble, not
// the destination's: a receiver that fails one request in ten would
// otherwise log a Warn and an Info for each (they are still logged at Debug
// and counted as retries). A Permanent error (a bad item) and an attempt
// cut off by shutdown say nothing about the destination and are not
// recorded. The workers of a stage in one process share one health (see
// Stage.Worker). Safe for concurrent use.
type health struct {
	stage   string
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	seq     atomic.Uint64 // attempts begun

	mu       sync.Mutex
	last     uint64    // of the latest attempt whose outcome was recorded
	streak   int       // failed attempts since the last success
	first    time.Time // of the first of them
	failing  bool      // since streak reached failingAfter
	failures int       // failed attempts of the outage (the streak)
}

// failingAfter is how many attempts in a row must fail before a stage is
// failing.
const failingAfter = 3

func newHealth(stage string, metrics *Metrics, log *slog.Logger) *health {
	metrics.setFailing(stage, false) // the series exists before anything fails
	return &health{stage: stage, log: log, metrics: metrics, now: time.Now}
}

// begin numbers an attempt: outcomes are recorded in the order the
// attempts began.
func (h *health) begin() uint64 { return h.seq.Add(1) }

// failed records a retryable failure of attempt seq (the message's
// delivery attempt), logged with log when it starts an outage. A failure
// of an attempt that began before the latest recorded success is stale
// (workers and the acker finish attempts out of order): it is not the
// destination's state now.
func (h *health) failed(seq uint64, log *slog.Logger, err error, attempt uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.failing && seq < h.last {
		return
	}
	h.last = max(h.last, seq)
	if h.streak == 0 {
		h.first = h.now()
	}
	h.streak++
	if h.failing {
		h.failures++
		return
	}
	if h.streak < failingAfter {
		return
	}
	h.failing, h.failures = true, h.streak
	log.Warn("stage failing", "err", err, "attempt", attempt, "failed_in_a_row", h.streak,
		"failing_for", h.now().Sub(h.first).Round(time.Millisecond))
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
	h.last, h.streak = seq, 0
	if !h.failing {
		return
	}
	h.log.Info("stage recovered", "down_for", h.now().Sub(h.first).Round(time.Millisecond), "failures", h.failures)
	h.failing, h.failures = false, 0
	h.metrics.setFailing(h.stage, false)
}
