package poller

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

type countingPub struct{ items atomic.Int64 }

func (c *countingPub) Publish(_ context.Context, _ string, items []pipeline.Item) error {
	c.items.Add(int64(len(items)))
	return nil
}

// BenchmarkPollCycle10k polls 10,000 feeds on 2,500 host names (all mapped
// to one local httptest server by the benchmark's resolver), state and
// leases in JetStream KV on an embedded NATS server, politeness on
// (1 request in flight and 1s between requests per host, 32 in flight in
// all). One op is one full cycle: every feed is due and polled once, the
// way Run dispatches a cycle (lease, state load, conditional GET, state
// save). About 95% of polls answer 304; 5% of feeds change each cycle and
// are parsed (20 items each) and published to a counting publisher.
//
// Reported: cycle-s (ns/op in seconds), req/s, cpu-s per cycle (user+sys
// of the whole process: client, server and NATS together), peak-rss-MB
// (VmHWM of the process during the measured cycles) and
// warmup-peak-rss-MB (during the first cycle, when all 10,000 feeds are
// new and parsed).
//
//	go test -run '^$' -bench PollCycle10k -benchtime 3x ./poller
func BenchmarkPollCycle10k(b *testing.B) {
	const (
		feedsN = 10_000
		hostsN = 2_500
		items  = 20
	)
	var cycle atomic.Int64
	var requests atomic.Int64
	// Documents are built once per version; the server is not what is
	// measured.
	var docs sync.Map
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/feed/"))
		v := (cycle.Load() + int64(i%20)) / 20 // each cycle 1 feed in 20 changes
		etag := fmt.Sprintf(`"%d-%d"`, i, v)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		key := fmt.Sprintf("%d", v)
		doc, ok := docs.Load(key)
		if !ok {
			doc, _ = docs.LoadOrStore(key, rss("bench-v"+key, items, ""))
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(doc.([]byte))
	}))
	defer web.Close()
	web.Config.ErrorLog = nil
	_, port, _ := net.SplitHostPort(web.Listener.Addr().String())

	ns, err := pipeline.StartServer(b.Context(), pipeline.ServerConfig{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Shutdown()
	store, _, _ := openKV(b, ns, 0)

	cfg := DefaultConfig()
	cfg.AllowPrivateNetworks = true
	cfg.resolve = func(string) ([]net.IP, error) { return []net.IP{net.IPv4(127, 0, 0, 1)}, nil }
	cfg.DefaultInterval = time.Hour
	feeds := make([]Feed, feedsN)
	for i := range feeds {
		feeds[i] = Feed{
			Name: fmt.Sprintf("feed-%05d", i),
			URL:  fmt.Sprintf("http://h%04d.bench.test:%s/feed/%d", i%hostsN, port, i),
		}
	}
	pub := &countingPub{}
	// runCycle makes every feed due (outside the timing) and runs the real
	// daemon loop, Run, until each feed was polled once.
	runCycle := func() (map[string]int, time.Duration, time.Duration) {
		states, err := store.LoadAll(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range states {
			st.NextDue = time.Now().Add(-time.Second)
			if err := store.Save(b.Context(), st); err != nil {
				b.Fatal(err)
			}
		}
		p, err := New(cfg, feeds, pub, store, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		outcomes := map[string]int{}
		ctx, cancel := context.WithCancel(b.Context())
		polled := 0
		p.onPoll = func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			outcomes[r.Outcome]++
			if polled++; polled == feedsN {
				cancel()
			}
		}
		start, cpu0 := time.Now(), cpuTime()
		if err := p.Run(ctx); err != nil {
			b.Fatal(err)
		}
		cycle.Add(1)
		return outcomes, time.Since(start), cpuTime() - cpu0
	}
	// Warm-up cycle: every feed answers 200 and is parsed once, validators
	// are stored. Not measured.
	warm, _, _ := runCycle()
	warmRSS := peakRSS()
	b.Logf("warm-up cycle (every feed parsed): %v, peak RSS so far %d MB", warm, warmRSS>>20)
	// Reset the peak so the figure below is the steady state (Linux ≥ 4.0).
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	time.Sleep(2 * time.Millisecond)

	// Sample the Go heap and stacks while the cycles run, to see what the
	// resident set is made of.
	var maxHeap, maxStack, maxG uint64
	sampleCtx, stopSampling := context.WithCancel(b.Context())
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapInuse)
			maxStack = max(maxStack, ms.StackInuse)
			maxG = max(maxG, uint64(runtime.NumGoroutine()))
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
		}
	})
	// POLLER_BENCH_CPUPROFILE=file profiles the measured cycles only.
	if path := os.Getenv("POLLER_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var cpu time.Duration
	var total time.Duration
	var reqs int64
	n := 0
	for b.Loop() {
		r0 := requests.Load()
		out, took, cpuUsed := runCycle()
		total += took
		cpu += cpuUsed
		reqs += requests.Load() - r0
		n++
		b.Logf("cycle %d: %s, %d requests, outcomes %v", n, took.Round(time.Millisecond), requests.Load()-r0, out)
		time.Sleep(2 * time.Millisecond)
	}
	stopSampling()
	sampler.Wait()
	b.Logf("max heap in use %d MB, max stacks %d MB, max goroutines %d", maxHeap>>20, maxStack>>20, maxG)
	secs := total.Seconds() / float64(n)
	b.ReportMetric(secs, "cycle-s")
	b.ReportMetric(float64(reqs)/total.Seconds(), "req/s")
	b.ReportMetric(cpu.Seconds()/float64(n), "cpu-s")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-rss-MB")
	b.ReportMetric(float64(warmRSS)/(1<<20), "warmup-peak-rss-MB")
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's peak resident set (VmHWM) in bytes, 0 if unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
