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
	}
	return release, time.Time{}, nil
}
