package poller

import (
	"context"
	"sync"
	"time"
)

// hosts enforces per-host politeness: at most n requests in flight to one
// host, starts at least gap apart, and a hold after a Retry-After that
// applies to that host only. Safe for concurrent use.
type hosts struct {
	n   int
	gap time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]*host
}

type host struct {
	slots     chan struct{}
	nextStart time.Time
	heldUntil time.Time
}

func newHosts(n int, gap time.Duration) *hosts {
	return &hosts{n: n, gap: gap, now: time.Now, m: map[string]*host{}}
}

func (hs *hosts) get(name string) *host {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h := hs.m[name]
	if h == nil {
		h = &host{slots: make(chan struct{}, hs.n)}
		hs.m[name] = h
	}
	return h
}

// held returns the time until which name is held by a Retry-After, or zero.
func (hs *hosts) held(name string) time.Time {
	h := hs.get(name)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.now().Before(h.heldUntil) {
		return h.heldUntil
	}
	return time.Time{}
}

// hold keeps everyone off name until t (a later hold wins).
func (hs *hosts) hold(name string, t time.Time) {
	h := hs.get(name)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if t.After(h.heldUntil) {
		h.heldUntil = t
	}
}

// acquire waits for a slot and the gap. It returns a release func, or the
// time the host is held until (and a nil func) when a Retry-After hold is
// on, or ctx's error.
func (hs *hosts) acquire(ctx context.Context, name string) (func(), time.Time, error) {
	h := hs.get(name)
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
	release := func() { <-h.slots }
	hs.mu.Lock()
	now := hs.now()
	if now.Before(h.heldUntil) {
		until := h.heldUntil
		hs.mu.Unlock()
		release()
		return nil, until, nil
	}
	start := now
	if h.nextStart.After(now) {
		start = h.nextStart
	}
	h.nextStart = start.Add(hs.gap)
	hs.mu.Unlock()
	if wait := start.Sub(now); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			release()
			return nil, time.Time{}, ctx.Err()
		}
		// A Retry-After may have come in while we waited.
		if until := hs.held(name); !until.IsZero() {
			release()
			return nil, until, nil
		}
	}
	return release, time.Time{}, nil
}

// tryAcquire is acquire without waiting, for the scheduler. It returns a
// release func when a slot is free and the gap has passed; else readyAt,
// the time the gap ends (zero when all slots are busy), or held, the end of
// a Retry-After hold.
func (hs *hosts) tryAcquire(name string) (release func(), readyAt, held time.Time) {
	h := hs.get(name)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	now := hs.now()
	if now.Before(h.heldUntil) {
		return nil, time.Time{}, h.heldUntil
	}
	if h.nextStart.After(now) {
		return nil, h.nextStart, time.Time{}
	}
	select {
	case h.slots <- struct{}{}:
	default:
		return nil, time.Time{}, time.Time{}
	}
	h.nextStart = now.Add(hs.gap)
	return func() { <-h.slots }, time.Time{}, time.Time{}
}

// hostQueue is a min-heap of (time, host): when each host with due feeds
// may be able to start the next one. A host may appear more than once;
// stale entries are harmless. Not safe for concurrent use.
type hostQueue []hostAt

type hostAt struct {
	at   time.Time
	host string
}

func (q *hostQueue) push(at time.Time, host string) {
	*q = append(*q, hostAt{at, host})
	for i := len(*q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !(*q)[i].at.Before((*q)[parent].at) {
			break
		}
		(*q)[i], (*q)[parent] = (*q)[parent], (*q)[i]
		i = parent
	}
}

func (q hostQueue) peek() (time.Time, string, bool) {
	if len(q) == 0 {
		return time.Time{}, "", false
	}
	return q[0].at, q[0].host, true
}

func (q *hostQueue) pop() {
	old := *q
	n := len(old) - 1
	old[0] = old[n]
	*q = old[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && (*q)[l].at.Before((*q)[m].at) {
			m = l
		}
		if r < n && (*q)[r].at.Before((*q)[m].at) {
			m = r
		}
		if m == i {
			return
		}
		(*q)[i], (*q)[m] = (*q)[m], (*q)[i]
		i = m
	}
}
