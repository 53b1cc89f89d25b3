package poller

import (
	"container/heap"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// hints are the server's and the document's caching hints of one fetch.
type hints struct {
	MaxAge       time.Duration // Cache-Control max-age (s-maxage wins)
	Expires      time.Duration // Expires minus Date (or now)
	TTL          time.Duration // RSS <ttl>
	UpdatePeriod time.Duration // sy:updatePeriod / sy:updateFrequency
}

// headerHints reads Cache-Control and Expires. no-store/no-cache and
// max-age=0 give no hint (they say "don't cache", not "poll often").
func headerHints(h http.Header, now time.Time) hints {
	var out hints
	for _, part := range strings.Split(h.Get("Cache-Control"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(strings.ToLower(part)), "=")
		if k != "max-age" && k != "s-maxage" {
			continue
		}
		secs, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
		if err != nil || secs <= 0 {
			continue
		}
		d := time.Duration(min(secs, int64(365*24*3600))) * time.Second
		if k == "s-maxage" || out.MaxAge == 0 {
			out.MaxAge = d
		}
	}
	if out.MaxAge == 0 {
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil {
			base := now
			if date, err := http.ParseTime(h.Get("Date")); err == nil {
				base = date
			}
			if d := exp.Sub(base); d > 0 {
				out.Expires = d
			}
		}
	}
	return out
}

// interval is the feed's next regular interval: its configured (or the
// default) interval, lengthened by any longer server hint, within
// [MinInterval, MaxInterval]. Hints only lengthen: a server asking for
// more frequent polls than the operator configured does not get them.
func interval(cfg Config, f Feed, h hints) time.Duration {
	d := f.Interval
	if d == 0 {
		d = cfg.DefaultInterval
	}
	d = max(d, h.MaxAge, h.Expires, h.TTL, h.UpdatePeriod)
	return min(max(d, cfg.MinInterval), cfg.MaxInterval)
}

// backoff is the delay after the n-th consecutive failure (n ≥ 1):
// BackoffBase·2^(n-1), capped at BackoffMax, before jitter.
func backoff(cfg Config, n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := cfg.BackoffBase
	for i := 1; i < n && d < cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, cfg.BackoffMax)
}

// jitter moves d by up to ±frac·d at random, never above ceiling (when
// positive) and never below zero.
func jitter(d time.Duration, frac float64, ceiling time.Duration) time.Duration {
	if frac > 0 && d > 0 {
		d += time.Duration((rand.Float64()*2 - 1) * frac * float64(d))
	}
	if ceiling > 0 && d > ceiling {
		d = ceiling
	}
	return max(d, 0)
}

// queue is a min-heap of feeds by due time: the scheduler sleeps until
// the earliest, never on a global tick. Not safe for concurrent use.
type queue []*entry

type entry struct {
	due   time.Time
	feed  int // index into Poller.feeds
	index int
}

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *queue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}

func (q *queue) push(due time.Time, feed int) { heap.Push(q, &entry{due: due, feed: feed}) }

// popDue removes and returns the feeds due at or before now.
func (q *queue) popDue(now time.Time, buf []int) []int {
	for q.Len() > 0 && !(*q)[0].due.After(now) {
		buf = append(buf, heap.Pop(q).(*entry).feed)
	}
	return buf
}

// next is the earliest due time, ok false when empty.
func (q queue) next() (time.Time, bool) {
	if len(q) == 0 {
		return time.Time{}, false
	}
	return q[0].due, true
}
