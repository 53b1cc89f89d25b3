package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func activityLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "activity" {
			lines = append(lines, m)
		}
	}
	return lines
}

// TestSummaries: each summary logs what changed since the previous one,
// read from the same counters /metrics serves; the loop logs on its
// interval and stops with its context.
func TestSummaries(t *testing.T) {
	reg := prometheus.NewRegistry()
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirewatch_poller_fetches_total"}, []string{"outcome"})
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirewatch_dedup_decisions_total"}, []string{"decision"})
	reg.MustRegister(fetches, decisions)
	fetches.WithLabelValues("not_modified").Add(10) // before the summarizer: not reported

	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	s := newSummarizer(reg, time.Minute)
	fetches.WithLabelValues("changed").Add(2)
	fetches.WithLabelValues("error").Inc()
	decisions.WithLabelValues("first").Add(4)
	decisions.WithLabelValues("syndicated").Inc()
	s.next(log)
	s.next(log)
	lines := activityLines(t, buf.String())
	if len(lines) != 2 {
		t.Fatalf("%d summaries logged, want 2:\n%s", len(lines), buf.String())
	}
	want := map[string]float64{"polls": 3, "changed": 2, "fetch_errors": 1, "first_copies": 4, "syndicated": 1, "exact": 0}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("first summary %s = %v, want %v", k, lines[0][k], v)
		}
	}
	if lines[1]["polls"] != float64(0) || lines[1]["first_copies"] != float64(0) {
		t.Errorf("second summary = %v, want zeros (nothing happened since)", lines[1])
	}

	var loopBuf syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		done <- logSummaries(ctx, reg, 20*time.Millisecond, slog.New(slog.NewJSONHandler(&loopBuf, nil)))
	}()
	for deadline := time.Now().Add(5 * time.Second); len(activityLines(t, loopBuf.String())) < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil || len(activityLines(t, loopBuf.String())) < 2 {
		t.Errorf("logSummaries = %v after %d summaries, want nil after at least 2", err, len(activityLines(t, loopBuf.String())))
	}
}
