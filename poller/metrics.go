package poller

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Fetch outcomes, the "outcome" label of wirewatch_poller_fetches_total and
// Result.Outcome.
const (
	OutcomeChanged     = "changed"      // new body, parsed and published
	OutcomeUnchanged   = "unchanged"    // 200 with the same body hash: not parsed again
	OutcomeNotModified = "not_modified" // 304
	OutcomeHeld        = "held"         // 429/503 with Retry-After, or the host is held
	OutcomeGone        = "gone"         // 410
	OutcomeError       = "error"        // anything else that failed
	OutcomeSkipped     = "skipped"      // another instance holds the lease or polled it already
)

// metrics are the poller's Prometheus collectors. Feed names are not
// labels: thousands of feeds would make thousands of series; per-feed
// figures live in FeedState.
type metrics struct {
	fetches  *prometheus.CounterVec
	items    prometheus.Counter
	bytes    prometheus.Counter
	duration prometheus.Histogram
	inflight prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wirewatch_poller_fetches_total",
			Help: "Feed polls by outcome (changed, unchanged, not_modified, held, gone, error, skipped).",
		}, []string{"outcome"}),
		items: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wirewatch_poller_items_published_total",
			Help: "Items handed to the publisher.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wirewatch_poller_wire_bytes_total",
			Help: "Response body bytes read from the network (before gzip decoding).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wirewatch_poller_fetch_seconds",
			Help:    "Time of one feed fetch, from request to body read.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wirewatch_poller_fetches_in_flight",
			Help: "Feed fetches in flight.",
		}),
	}
}

func (m *metrics) observe(outcome string, items int, wire int64, d time.Duration) {
	m.fetches.WithLabelValues(outcome).Inc()
	m.items.Add(float64(items))
	m.bytes.Add(float64(wire))
	if outcome != OutcomeSkipped && outcome != OutcomeHeld || d > 0 {
		m.duration.Observe(d.Seconds())
	}
}

// Collectors returns the poller's Prometheus collectors for the caller to
// register (the poller never registers anything itself).
func (p *Poller) Collectors() []prometheus.Collector {
	m := p.metrics
	return []prometheus.Collector{m.fetches, m.items, m.bytes, m.duration, m.inflight, newFeedStatus(p)}
}

// feedStatus is the collector of wirewatch_feeds: the configured feeds by
// status (new, ok, backing off, held, gone), read from the shared state
// at scrape time, at most every feedStatusEvery. Every process sharing
// the state reports the same numbers: aggregate with max, not sum.
type feedStatus struct {
	p    *Poller
	desc *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	counts map[string]int
}

const feedStatusEvery = 30 * time.Second

func newFeedStatus(p *Poller) *feedStatus {
	return &feedStatus{p: p, desc: prometheus.NewDesc("wirewatch_feeds",
		"Configured feeds by status (new, ok, backing off, held, gone), from the shared feed state; "+
			"every process reports the same numbers.", []string{"status"}, nil)}
}

func (c *feedStatus) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *feedStatus) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.p.now(); c.counts == nil || now.Sub(c.at) >= feedStatusEvery {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		states, err := c.p.store.LoadAll(ctx)
		cancel()
		if err != nil {
			c.p.log.Debug("feed status metric: load states", "err", err)
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		byName := make(map[string]FeedState, len(states))
		for _, st := range states {
			byName[st.Name] = st
		}
		counts := map[string]int{StatusNew: 0, StatusOK: 0, StatusBackingOff: 0, StatusHeld: 0, StatusGone: 0}
		for _, f := range c.p.feeds {
			counts[byName[f.Name].Status(now)]++ // a feed with no state is new
		}
		c.counts, c.at = counts, now
	}
	for status, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), status)
	}
}
