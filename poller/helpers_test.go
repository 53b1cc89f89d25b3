package poller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// rss returns a small RSS 2.0 document with n items named after tag.
func rss(tag string, n int, extra string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>%s</title><link>https://example.com/</link>%s`, tag, extra)
	for i := range n {
		fmt.Fprintf(&b, `<item><title>%s item %d</title><link>https://example.com/%s/%d</link>
<guid>%s-%d</guid><pubDate>Mon, 02 Jan 2006 15:04:05 GMT</pubDate>
<description>&lt;p&gt;Body of %s item %d.&lt;/p&gt;</description></item>`, tag, i, tag, i, tag, i, tag, i)
	}
	b.WriteString("</channel></rss>")
	return []byte(b.String())
}

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	items map[string][]pipeline.Item
	err   error
	ch    chan string // feed names published, if non-nil
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, items: map[string][]pipeline.Item{}}
}

func (r *recorder) Publish(_ context.Context, feed string, items []pipeline.Item) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.calls[feed]++
	r.items[feed] = append(r.items[feed], items...)
	if r.ch != nil {
		select {
		case r.ch <- feed:
		default:
		}
	}
	return nil
}

func (r *recorder) count(feed string) (calls, items int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[feed], len(r.items[feed])
}

// testLog discards below Warn unless -v, and writes to t.Log.
func testLog(t testing.TB) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// hostOf is the host:port of an httptest server.
func hostOf(t testing.TB, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// localConfig allows srv explicitly (as replay does) and shortens timeouts.
func localConfig(t testing.TB, srv *httptest.Server) Config {
	cfg := DefaultConfig()
	cfg.AllowHosts = []string{hostOf(t, srv)}
	cfg.TotalTimeout = 5 * time.Second
	cfg.LeaseTTL = 10 * time.Second
	return cfg
}

// namedConfig maps every host name to srv's loopback address, with
// politeness on (no AllowHosts): tests of per-host behaviour use names
// like "a.test" and "b.test".
func namedConfig(t testing.TB, srv *httptest.Server) (Config, func(host, path string) string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(hostOf(t, srv))
	cfg := DefaultConfig()
	cfg.AllowPrivateNetworks = true
	cfg.resolve = func(string) ([]net.IP, error) { return []net.IP{net.IPv4(127, 0, 0, 1)}, nil }
	cfg.TotalTimeout = 5 * time.Second
	cfg.LeaseTTL = 10 * time.Second
	cfg.PerHostGap = -1
	return cfg, func(host, path string) string { return "http://" + host + ":" + port + path }
}

func mustNew(t testing.TB, cfg Config, feeds []Feed, pub Publisher, store Store) *Poller {
	t.Helper()
	p, err := New(cfg, feeds, pub, store, testLog(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// handlerTransport serves an http.Handler in memory: used inside
// testing/synctest bubbles, where real sockets would not be durably
// blocking. Everything above the transport is the real client.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	resp.Body = io.NopCloser(strings.NewReader(rec.Body.String()))
	return resp, nil
}

// syncMap counts hits by key; safe for concurrent use.
type syncMap struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *syncMap) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]int{}
	}
	s.m[k]++
}

func (s *syncMap) get(k string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

// drip answers the start of a feed, then one byte every interval until
// the client goes away: a server too slow to ever finish.
func drip(w http.ResponseWriter, r *http.Request, every time.Duration) {
	w.Write([]byte("<rss>"))
	for {
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(every):
		}
		if _, err := w.Write([]byte(" ")); err != nil {
			return
		}
	}
}
