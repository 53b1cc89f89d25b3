package poller

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestInterval(t *testing.T) {
	cfg := DefaultConfig().withDefaults()
	for _, tc := range []struct {
		name string
		feed Feed
		h    hints
		want time.Duration
	}{
		{"default", Feed{}, hints{}, 15 * time.Minute},
		{"configured", Feed{Interval: 5 * time.Minute}, hints{}, 5 * time.Minute},
		{"below floor", Feed{Interval: time.Second}, hints{}, time.Minute},
		{"max-age longer", Feed{}, hints{MaxAge: time.Hour}, time.Hour},
		{"max-age shorter does not speed up", Feed{}, hints{MaxAge: time.Minute}, 15 * time.Minute},
		{"rss ttl", Feed{}, hints{TTL: 2 * time.Hour}, 2 * time.Hour},
		{"update period", Feed{}, hints{UpdatePeriod: 24 * time.Hour}, 24 * time.Hour},
		{"expires", Feed{}, hints{Expires: 30 * time.Minute}, 30 * time.Minute},
		{"ceiling", Feed{}, hints{TTL: 7 * 24 * time.Hour}, 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := interval(cfg, tc.feed, tc.h); got != tc.want {
				t.Errorf("interval(%+v, %+v) = %s, want %s", tc.feed, tc.h, got, tc.want)
			}
		})
	}
}

func TestHeaderHints(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		h    http.Header
		want hints
	}{
		{"max-age", http.Header{"Cache-Control": {"public, max-age=3600"}}, hints{MaxAge: time.Hour}},
		{"s-maxage wins", http.Header{"Cache-Control": {"max-age=60, s-maxage=600"}}, hints{MaxAge: 10 * time.Minute}},
		{"no-cache", http.Header{"Cache-Control": {"no-cache, max-age=0"}}, hints{}},
		{"garbage", http.Header{"Cache-Control": {"max-age=soon"}}, hints{}},
		{"expires vs date", http.Header{
			"Expires": {now.Add(2 * time.Hour).Format(http.TimeFormat)},
			"Date":    {now.Add(time.Hour).Format(http.TimeFormat)},
		}, hints{Expires: time.Hour}},
		{"expires in the past", http.Header{"Expires": {now.Add(-time.Hour).Format(http.TimeFormat)}}, hints{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := headerHints(tc.h, now); got != tc.want {
				t.Errorf("headerHints(%v) = %+v, want %+v", tc.h, got, tc.want)
			}
		})
	}
}

// TestBackoffGrowthAndCap runs the real scheduler against a feed that
// always fails, in a synctest bubble: three simulated days pass in
// milliseconds, and the gaps between attempts must double from
// BackoffBase up to BackoffMax (±jitter) and then stay there — the feed is
// never disabled. A success resets the delay to the regular interval.
func TestBackoffGrowthAndCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		failing := true
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			times = append(times, time.Now())
			if failing {
				http.Error(w, "broken", http.StatusInternalServerError)
				return
			}
			w.Write(rss("b", 1, ""))
		})
		cfg := DefaultConfig()
		cfg.transport = handlerTransport{h}
		cfg.BackoffBase = time.Minute
		cfg.BackoffMax = time.Hour
		cfg.Jitter = 0.1
		cfg.DefaultInterval = 30 * time.Minute
		p := mustNew(t, cfg, []Feed{{Name: "b", URL: "http://feeds.example.com/b.xml"}}, newRecorder(), nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()

		time.Sleep(72 * time.Hour)
		mu.Lock()
		failing = false
		mu.Unlock()
		time.Sleep(3 * time.Hour)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}

		mu.Lock()
		defer mu.Unlock()
		if len(times) < 70 {
			t.Fatalf("%d attempts in 75h, want ≥ 70 (a failing feed keeps being retried)", len(times))
		}
		want := time.Minute
		capped := 0
		i := 1
		for ; i < len(times); i++ {
			gap := times[i].Sub(times[i-1])
			if times[i-1].Sub(times[0]) >= 72*time.Hour {
				break // the first success is at times[i-1]
			}
			lo, hi := time.Duration(float64(want)*0.9), time.Duration(float64(want)*1.1)
			if hi > cfg.BackoffMax {
				hi = cfg.BackoffMax
			}
			if gap < lo-time.Second || gap > hi+time.Second {
				t.Errorf("gap %d = %s, want %s..%s", i, gap, lo, hi)
			}
			if want == cfg.BackoffMax {
				capped++
			}
			want = min(2*want, cfg.BackoffMax)
		}
		if capped < 60 {
			t.Errorf("%d gaps at the cap, want ≥ 60", capped)
		}
		// After the success: regular interval (30m ±10%).
		for ; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < 27*time.Minute-time.Second || gap > 33*time.Minute+time.Second {
				t.Errorf("gap after recovery = %s, want 30m ±10%%", gap)
			}
		}
		t.Logf("%d attempts; first gaps %s %s %s %s %s %s %s", len(times),
			times[1].Sub(times[0]).Round(time.Second), times[2].Sub(times[1]).Round(time.Second),
			times[3].Sub(times[2]).Round(time.Second), times[4].Sub(times[3]).Round(time.Second),
			times[5].Sub(times[4]).Round(time.Second), times[6].Sub(times[5]).Round(time.Second),
			times[7].Sub(times[6]).Round(time.Second))
	})
}

// TestGoneStopsPolling: after 410 the scheduler never asks again.
func TestGoneStopsPolling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		hits := map[string]int{}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[r.URL.Path]++
			mu.Unlock()
			if r.URL.Path == "/gone" {
				w.WriteHeader(http.StatusGone)
				return
			}
			w.Write(rss("x", 1, ""))
		})
		cfg := DefaultConfig()
		cfg.transport = handlerTransport{h}
		cfg.DefaultInterval = time.Hour
		feeds := []Feed{{Name: "gone", URL: "http://a.example/gone"}, {Name: "live", URL: "http://b.example/live"}}
		p := mustNew(t, cfg, feeds, newRecorder(), nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		time.Sleep(24 * time.Hour)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if hits["/gone"] != 1 {
			t.Errorf("gone feed fetched %d times in 24h, want 1", hits["/gone"])
		}
		if hits["/live"] < 20 {
			t.Errorf("live feed fetched %d times in 24h at 1h interval, want ≥ 20", hits["/live"])
		}
	})
}

func TestBackoffFunc(t *testing.T) {
	cfg := Config{BackoffBase: time.Minute, BackoffMax: 12 * time.Hour}
	for n, want := range map[int]time.Duration{
		0: time.Minute, 1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 10: 512 * time.Minute,
		11: 12 * time.Hour, 1000: 12 * time.Hour,
	} {
		if got := backoff(cfg, n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}
