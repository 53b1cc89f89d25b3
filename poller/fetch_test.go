package poller

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestConditionalGet(t *testing.T) {
	body := rss("cond", 3, "")
	var gotINM, gotIMS atomic.Value
	gotINM.Store("")
	gotIMS.Store("")
	var ignoreValidators atomic.Bool
	const lm = "Mon, 02 Jan 2006 15:04:05 GMT"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotINM.Store(r.Header.Get("If-None-Match"))
		gotIMS.Store(r.Header.Get("If-Modified-Since"))
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "wirewatch/") || !strings.Contains(ua, ProjectURL) {
			t.Errorf("User-Agent = %q, want wirewatch/<version> (+%s)", ua, ProjectURL)
		}
		if r.Header.Get("Accept") == "" || r.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("Accept = %q, Accept-Encoding = %q", r.Header.Get("Accept"), r.Header.Get("Accept-Encoding"))
		}
		if !ignoreValidators.Load() && r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", lm)
		w.Write(body)
	}))
	defer srv.Close()
	pub := newRecorder()
	p := mustNew(t, localConfig(t, srv), []Feed{{Name: "cond", URL: srv.URL + "/feed.xml"}}, pub, nil)
	ctx := t.Context()

	res, err := p.Poll(ctx, "cond")
	if err != nil || res.Outcome != OutcomeChanged || res.Items != 3 {
		t.Fatalf("first Poll = %+v, %v; want changed with 3 items", res, err)
	}
	if v := gotINM.Load().(string); v != "" {
		t.Errorf("first request sent If-None-Match %q, want none", v)
	}

	res, err = p.Poll(ctx, "cond")
	if err != nil || res.Outcome != OutcomeNotModified || res.Status != 304 {
		t.Fatalf("second Poll = %+v, %v; want not_modified (304)", res, err)
	}
	if v := gotINM.Load().(string); v != `"v1"` {
		t.Errorf("If-None-Match = %q, want %q", v, `"v1"`)
	}
	if v := gotIMS.Load().(string); v != lm {
		t.Errorf("If-Modified-Since = %q, want %q", v, lm)
	}

	// Same body again with 200: hash unchanged, no publish.
	ignoreValidators.Store(true)
	res, err = p.Poll(ctx, "cond")
	if err != nil || res.Outcome != OutcomeUnchanged || res.Items != 0 {
		t.Fatalf("third Poll = %+v, %v; want unchanged", res, err)
	}
	if calls, items := pub.count("cond"); calls != 1 || items != 3 {
		t.Errorf("publisher got %d calls / %d items, want 1 / 3", calls, items)
	}
	st, _, _ := p.store.Load(ctx, "cond")
	if st.Fetches != 3 || st.NotModified != 1 || st.Unchanged != 1 || st.Changed != 1 || st.Items != 3 {
		t.Errorf("counters = %+v", st)
	}
	if st.Status(time.Now()) != StatusOK {
		t.Errorf("status = %q, want ok", st.Status(time.Now()))
	}
}

func TestPublishFailureKeepsValidators(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write(rss("pf", 2, ""))
	}))
	defer srv.Close()
	pub := newRecorder()
	pub.err = errors.New("nats down")
	cfg := localConfig(t, srv)
	cfg.Jitter, cfg.MinInterval = -1, time.Second // no jitter
	p := mustNew(t, cfg, []Feed{{Name: "pf", URL: srv.URL}, {Name: "fast", URL: srv.URL, Interval: 5 * time.Second}}, pub, nil)
	res, err := p.Poll(t.Context(), "pf")
	if err == nil {
		t.Fatal("Poll with a failing publisher: no error")
	}
	// Retried after the backoff base, or the feed's interval when shorter.
	if wait := time.Until(res.NextDue); wait > cfg.BackoffBase || wait < cfg.BackoffBase-5*time.Second {
		t.Errorf("after a failed publish the feed is due in %s, want %s", wait, cfg.BackoffBase)
	}
	if res, _ := p.Poll(t.Context(), "fast"); time.Until(res.NextDue) > 5*time.Second {
		t.Errorf("after a failed publish a 5s feed is due in %s, want within its interval", time.Until(res.NextDue))
	}
	pub.err = nil
	res, err = p.Poll(t.Context(), "pf")
	if err != nil || res.Outcome != OutcomeChanged || res.Items != 2 {
		t.Fatalf("Poll after publisher recovered = %+v, %v; want changed with 2 items (validators not kept)", res, err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"120", 2 * time.Minute},
		{" 30 ", 30 * time.Second},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"999999999999", time.Hour},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
		{"-5", 0},
		{"soon", 0},
		{"", 0},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := parseRetryAfter(tc.in, now, time.Hour); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestRetryAfterPerHost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value func() string
		want  time.Duration
	}{
		{"seconds", func() string { return "120" }, 120 * time.Second},
		{"http-date", func() string { return time.Now().Add(10 * time.Minute).UTC().Format(http.TimeFormat) }, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits syncMap
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.add(r.Host + r.URL.Path)
				if strings.HasPrefix(r.Host, "busy.test") {
					w.Header().Set("Retry-After", tc.value())
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				w.Write(rss("ok", 1, ""))
			}))
			defer srv.Close()
			cfg, at := namedConfig(t, srv)
			feeds := []Feed{
				{Name: "busy1", URL: at("busy.test", "/1")},
				{Name: "busy2", URL: at("busy.test", "/2")},
				{Name: "other", URL: at("calm.test", "/1")},
			}
			p := mustNew(t, cfg, feeds, newRecorder(), nil)
			start := time.Now()
			res, err := p.Poll(t.Context(), "busy1")
			if _, ok := errors.AsType[*StatusError](err); !ok || res.Outcome != OutcomeHeld {
				t.Fatalf("Poll(busy1) = %+v, %v; want held with a StatusError", res, err)
			}
			if d := res.NextDue.Sub(start); d < tc.want-2*time.Second || d > tc.want+time.Duration(cfg.Jitter*float64(2*cfg.BackoffBase))+2*time.Second {
				t.Errorf("next due in %s, want about %s", d, tc.want)
			}
			st, _, _ := p.store.Load(t.Context(), "busy1")
			if st.Errors != 0 || st.Status(time.Now()) != StatusHeld {
				t.Errorf("after 429: errors = %d, status %q; want 0 and held (not breakage)", st.Errors, st.Status(time.Now()))
			}
			// The same host is held for its other feed, without a request.
			res, _ = p.Poll(t.Context(), "busy2")
			if res.Outcome != OutcomeHeld || hits.get(feeds[1].URL[7:]) != 0 {
				t.Errorf("Poll(busy2) = %s with %d requests; want held without a request", res.Outcome, hits.get(feeds[1].URL[7:]))
			}
			// Another host is not.
			if res, err := p.Poll(t.Context(), "other"); err != nil || res.Outcome != OutcomeChanged {
				t.Errorf("Poll(other) = %+v, %v; want changed", res, err)
			}
		})
	}
}

func TestGoneAndRedirects(t *testing.T) {
	var hits syncMap
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r.URL.Path)
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/moved301", "/moved308", "/temp302", "/temp307":
			code, _ := strconv.Atoi(r.URL.Path[len(r.URL.Path)-3:])
			http.Redirect(w, r, "/new"+r.URL.Path, code)
		case "/chain":
			http.Redirect(w, r, "/moved301", http.StatusMovedPermanently)
		case "/mixed":
			http.Redirect(w, r, "/temp302", http.StatusMovedPermanently)
		default:
			w.Write(rss(r.URL.Path, 1, ""))
		}
	}))
	defer srv.Close()
	feeds := []Feed{
		{Name: "gone", URL: srv.URL + "/gone"},
		{Name: "m301", URL: srv.URL + "/moved301"},
		{Name: "m308", URL: srv.URL + "/moved308"},
		{Name: "t302", URL: srv.URL + "/temp302"},
		{Name: "t307", URL: srv.URL + "/temp307"},
		{Name: "chain", URL: srv.URL + "/chain"},
		{Name: "mixed", URL: srv.URL + "/mixed"},
	}
	p := mustNew(t, localConfig(t, srv), feeds, newRecorder(), nil)
	ctx := t.Context()

	t.Run("410", func(t *testing.T) {
		res, err := p.Poll(ctx, "gone")
		if res.Outcome != OutcomeGone || !res.NextDue.IsZero() || err == nil {
			t.Fatalf("Poll(gone) = %+v, %v; want gone, no next due, an error", res, err)
		}
		st, _, _ := p.store.Load(ctx, "gone")
		if !st.Gone || st.Status(time.Now()) != StatusGone {
			t.Errorf("state = %+v, want gone", st)
		}
	})
	for _, tc := range []struct {
		feed, want string // want: stored URL path after the poll
	}{
		{"m301", "/new/moved301"},
		{"m308", "/new/moved308"},
		{"t302", "/temp302"},
		{"t307", "/temp307"},
		{"chain", "/new/moved301"},
		{"mixed", "/temp302"},
	} {
		t.Run(tc.feed, func(t *testing.T) {
			res, err := p.Poll(ctx, tc.feed)
			if err != nil || res.Outcome != OutcomeChanged {
				t.Fatalf("Poll(%s) = %+v, %v", tc.feed, res, err)
			}
			st, _, _ := p.store.Load(ctx, tc.feed)
			if st.URL != srv.URL+tc.want {
				t.Errorf("stored URL = %s, want %s", st.URL, srv.URL+tc.want)
			}
			if st.ConfiguredURL != p.feeds[p.byName[tc.feed]].URL {
				t.Errorf("configured URL changed to %s", st.ConfiguredURL)
			}
			// The next poll goes to the stored URL.
			before := hits.get(strings.TrimPrefix(p.feeds[p.byName[tc.feed]].URL, srv.URL))
			if _, err := p.Poll(ctx, tc.feed); err != nil {
				t.Fatal(err)
			}
			after := hits.get(strings.TrimPrefix(p.feeds[p.byName[tc.feed]].URL, srv.URL))
			permanent := tc.want != strings.TrimPrefix(p.feeds[p.byName[tc.feed]].URL, srv.URL)
			if permanent && after != before {
				t.Errorf("second poll of %s hit the old URL again", tc.feed)
			}
			if !permanent && after != before+1 {
				t.Errorf("second poll of %s did not go to the original URL", tc.feed)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 4096)
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write(append(rss("bomb", 1, "")[:100], make([]byte, 8<<20)...))
	zw.Close()
	var good bytes.Buffer
	zw = gzip.NewWriter(&good)
	zw.Write(rss("gz", 2, ""))
	zw.Close()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big-cl":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/big-chunked":
			for i := 0; i < len(big); i += 512 {
				w.Write(big[i : i+512])
				w.(http.Flusher).Flush()
			}
		case "/bomb":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
		case "/gz":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(good.Bytes())
		case "/br":
			w.Header().Set("Content-Encoding", "br")
			w.Write([]byte("whatever"))
		case "/loop-a":
			http.Redirect(w, r, "/loop-b", http.StatusFound)
		case "/loop-b":
			http.Redirect(w, r, "/loop-a", http.StatusFound)
		case "/drip":
			w.WriteHeader(200)
			drip(w, r, 50*time.Millisecond)
		default:
			if n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/")); err == nil {
				http.Redirect(w, r, fmt.Sprintf("/hop/%d", n+1), http.StatusFound)
				return
			}
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg := localConfig(t, srv)
	cfg.MaxBody = 2048
	cfg.MaxDecompressed = 64 << 10
	cfg.TotalTimeout = 400 * time.Millisecond
	cfg.MaxRedirects = 10
	c := newClient(cfg.withDefaults())

	for _, tc := range []struct {
		path string
		want error // nil: success
	}{
		{"/big-cl", ErrBodyTooLarge},
		{"/big-chunked", ErrBodyTooLarge},
		{"/bomb", ErrBodyTooLarge},
		{"/gz", nil},
		{"/br", errAny},
		{"/loop-a", ErrRedirectLoop},
		{"/hop/0", ErrTooManyRedirects},
		{"/drip", errAny},
		{"/missing", errAny},
	} {
		t.Run(tc.path, func(t *testing.T) {
			start := time.Now()
			resp, err := c.get(t.Context(), fetchRequest{URL: srv.URL + tc.path, Accept: acceptFeed})
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("get(%s) = %v, want success", tc.path, err)
			case tc.want == nil:
				if !bytes.Equal(resp.Body, rss("gz", 2, "")) {
					t.Errorf("get(%s) body = %q, want the decoded feed", tc.path, resp.Body)
				}
			case tc.want == errAny && err == nil:
				t.Fatalf("get(%s) succeeded, want an error", tc.path)
			case tc.want != errAny && !errors.Is(err, tc.want):
				t.Fatalf("get(%s) = %v, want %v", tc.path, err, tc.want)
			}
			if tc.path == "/drip" {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("get(/drip) = %v, want the total timeout", err)
				}
				t.Logf("slow drip stopped after %s (total timeout %s)", time.Since(start).Round(time.Millisecond), cfg.TotalTimeout)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(rss("x", 1, ""))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(hostOf(t, srv))

	t.Run("default refuses loopback", func(t *testing.T) {
		cfg := DefaultConfig()
		p := mustNew(t, cfg, []Feed{{Name: "lo", URL: srv.URL}}, newRecorder(), nil)
		_, err := p.Poll(t.Context(), "lo")
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("Poll(%s) = %v, want ErrForbiddenAddress", srv.URL, err)
		}
	})
	t.Run("names resolving to private addresses", func(t *testing.T) {
		for _, ip := range []string{"127.0.0.1", "10.1.2.3", "192.168.1.1", "169.254.169.254", "::1", "fd00::1", "::ffff:127.0.0.1", "64:ff9b::a00:1"} {
			cfg := DefaultConfig()
			cfg.resolve = func(string) ([]net.IP, error) { return []net.IP{net.ParseIP(ip)}, nil }
			p := mustNew(t, cfg, []Feed{{Name: "n", URL: "http://rebind.test:" + port + "/"}}, newRecorder(), nil)
			if _, err := p.Poll(t.Context(), "n"); !errors.Is(err, ErrForbiddenAddress) {
				t.Errorf("host resolving to %s: Poll = %v, want ErrForbiddenAddress", ip, err)
			}
		}
	})
	t.Run("redirect to loopback", func(t *testing.T) {
		// A public-looking name redirecting to the loopback server.
		cfg := DefaultConfig()
		cfg.AllowHosts = []string{"127.0.0.1:" + port}
		redir := httptest.NewServer(http.RedirectHandler("http://localhost:"+port+"/", http.StatusFound))
		defer redir.Close()
		cfg.AllowHosts = append(cfg.AllowHosts, hostOf(t, redir))
		p := mustNew(t, cfg, []Feed{{Name: "r", URL: redir.URL}}, newRecorder(), nil)
		if _, err := p.Poll(t.Context(), "r"); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("redirect to localhost: Poll = %v, want ErrForbiddenAddress", err)
		}
	})
	if n := hits.Load(); n != 0 {
		t.Errorf("refused feeds still reached the server %d times", n)
	}
	t.Run("allow list and opt-in", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.AllowHosts = []string{hostOf(t, srv)}
		p := mustNew(t, cfg, []Feed{{Name: "lo", URL: srv.URL}}, newRecorder(), nil)
		if _, err := p.Poll(t.Context(), "lo"); err != nil {
			t.Errorf("allowed host: Poll = %v", err)
		}
		cfg = DefaultConfig()
		cfg.AllowPrivateNetworks = true
		p = mustNew(t, cfg, []Feed{{Name: "lo", URL: srv.URL}}, newRecorder(), nil)
		if _, err := p.Poll(t.Context(), "lo"); err != nil {
			t.Errorf("allow_private_networks: Poll = %v", err)
		}
	})
}

func TestPublicAddr(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true}, {"2a00:1450:4001::1", true}, {"93.184.216.34", true},
		{"127.0.0.1", false}, {"10.0.0.1", false}, {"172.16.5.4", false}, {"192.168.0.1", false},
		{"169.254.1.1", false}, {"100.64.0.1", false}, {"0.0.0.0", false}, {"224.0.0.1", false},
		{"255.255.255.255", false}, {"::1", false}, {"fe80::1", false}, {"fc00::1", false},
		{"::ffff:10.0.0.1", false}, {"64:ff9b::7f00:1", false}, {"64:ff9b::808:808", true},
		{"2002:7f00:1::", false}, {"::", false},
	} {
		if got := publicAddr(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("publicAddr(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// TestPolitenessInRun: the scheduler keeps one request in flight per host
// and starts them at least PerHostGap apart, while another host's feeds go
// at once; the global limit holds.
func TestPolitenessInRun(t *testing.T) {
	var (
		mu        sync.Mutex
		starts    = map[string][]time.Time{}
		inflight  = map[string]int{}
		maxHost   = map[string]int{}
		total     int
		maxGlobal int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		mu.Lock()
		starts[host] = append(starts[host], time.Now())
		inflight[host]++
		total++
		maxHost[host] = max(maxHost[host], inflight[host])
		maxGlobal = max(maxGlobal, total)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		inflight[host]--
		total--
		mu.Unlock()
		w.Write(rss(r.URL.Path, 1, ""))
	}))
	defer srv.Close()
	cfg, at := namedConfig(t, srv)
	cfg.PerHostGap = 150 * time.Millisecond
	cfg.Concurrency = 3
	var feeds []Feed
	for i := range 5 {
		feeds = append(feeds, Feed{Name: fmt.Sprintf("slow%d", i), URL: at("slow.test", fmt.Sprintf("/%d", i))})
	}
	for i := range 6 {
		feeds = append(feeds, Feed{Name: fmt.Sprintf("h%d", i), URL: at(fmt.Sprintf("h%d.test", i), "/")})
	}
	polled := make(chan Result, len(feeds))
	p := mustNew(t, cfg, feeds, newRecorder(), nil)
	p.onPoll = func(r Result) { polled <- r }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for range feeds {
		select {
		case r := <-polled:
			if r.Outcome != OutcomeChanged {
				t.Errorf("%s: outcome %s", r.Feed, r.Outcome)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("not every feed was polled")
		}
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	ts := starts["slow.test"]
	if len(ts) != 5 {
		t.Fatalf("slow.test got %d requests, want 5", len(ts))
	}
	for i := 1; i < len(ts); i++ {
		// The gap is kept between request starts in the poller; the server
		// sees arrivals, which a loaded machine can bring closer by a few
		// tens of milliseconds. Without the gap they would be 30ms apart.
		if gap := ts[i].Sub(ts[i-1]); gap < cfg.PerHostGap*2/3 {
			t.Errorf("requests %d and %d to one host %s apart, want ≥ %s", i-1, i, gap, cfg.PerHostGap)
		}
	}
	if maxHost["slow.test"] != 1 {
		t.Errorf("max in flight to one host = %d, want 1", maxHost["slow.test"])
	}
	if maxGlobal > cfg.Concurrency {
		t.Errorf("max in flight = %d, over the global limit %d", maxGlobal, cfg.Concurrency)
	}
	// The other hosts did not wait for slow.test's queue.
	for i := range 6 {
		h := fmt.Sprintf("h%d.test", i)
		if len(starts[h]) != 1 || starts[h][0].After(ts[len(ts)-1]) {
			t.Errorf("%s started at %v, after slow.test's last request %v", h, starts[h], ts[len(ts)-1])
		}
	}
}

func TestCollectors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"x"`)
		w.Write(rss("m", 2, ""))
	}))
	defer srv.Close()
	p := mustNew(t, localConfig(t, srv), []Feed{{Name: "m", URL: srv.URL}}, newRecorder(), nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p.Collectors()...)
	p.Poll(t.Context(), "m")
	p.Poll(t.Context(), "m")
	for outcome, want := range map[string]float64{OutcomeChanged: 1, OutcomeNotModified: 1, OutcomeError: 0} {
		if got := counterValue(t, p.metrics.fetches.WithLabelValues(outcome)); got != want {
			t.Errorf("fetches_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	if got := counterValue(t, p.metrics.items); got != 2 {
		t.Errorf("items_published_total = %v, want 2", got)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestHeaderTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	cfg := localConfig(t, srv)
	cfg.HeaderTimeout = 100 * time.Millisecond
	cfg.TotalTimeout = 10 * time.Second
	c := newClient(cfg.withDefaults())
	start := time.Now()
	_, err := c.get(t.Context(), fetchRequest{URL: srv.URL, Accept: acceptFeed})
	if err == nil || !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Fatalf("get from a silent server = %v, want the header timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("header timeout took %s; the total timeout (10s) must not be what stopped it", time.Since(start))
	}
}

// TestFeedHeaders: a feed's own headers (credentials for a subscriber
// feed) reach its host, on redirects within that host too, and its
// article pages on that host, but never another host; conditional GET
// still works with them.
func TestFeedHeaders(t *testing.T) {
	type seen struct{ host, path, auth, key, inm string }
	var mu sync.Mutex
	var log []seen
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		log = append(log, seen{strings.Split(r.Host, ":")[0], r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), r.Header.Get("If-None-Match")})
		mu.Unlock()
		switch r.URL.Path {
		case "/here":
			http.Redirect(w, r, "/feed", http.StatusFound)
		case "/away":
			http.Redirect(w, r, "http://other.test:"+strings.Split(r.Host, ":")[1]+"/feed", http.StatusFound)
		case "/article-here", "/article-away":
			io.WriteString(w, `<html><body><article><p>`+strings.Repeat("The full article text of the page. ", 20)+`</p></article></body></html>`)
		default:
			w.Header().Set("ETag", `"v1"`)
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			port := strings.Split(r.Host, ":")[1]
			io.WriteString(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>`+
				`<item><guid>a</guid><title>A</title><link>http://wire.test:`+port+`/article-here</link><description>Short …</description></item>`+
				`<item><guid>b</guid><title>B</title><link>http://other.test:`+port+`/article-away</link><description>Short …</description></item>`+
				`</channel></rss>`)
		}
	}))
	defer web.Close()
	cfg, at := namedConfig(t, web)
	hdr := map[string]string{"Authorization": "Bearer s3cret", "X-Api-Key": "k1"}
	feeds := []Feed{
		{Name: "direct", URL: at("wire.test", "/feed"), Headers: hdr, FullText: true},
		{Name: "here", URL: at("wire.test", "/here"), Headers: hdr},
		{Name: "away", URL: at("wire.test", "/away"), Headers: hdr},
	}
	p := mustNew(t, cfg, feeds, newRecorder(), nil)
	for _, name := range []string{"direct", "direct", "here", "away"} {
		if _, err := p.Poll(t.Context(), name); err != nil {
			t.Fatalf("Poll(%s): %v", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var conditional bool
	for _, s := range log {
		all, none := s.auth == "Bearer s3cret" && s.key == "k1", s.auth == "" && s.key == ""
		if s.host == "wire.test" && !all || s.host != "wire.test" && !none {
			t.Errorf("%s%s: Authorization %q, X-Api-Key %q; want the feed's headers only on wire.test", s.host, s.path, s.auth, s.key)
		}
		if s.host == "wire.test" && s.path == "/feed" && s.inm == `"v1"` {
			conditional = true
		}
	}
	if !conditional {
		t.Error("the second poll of 'direct' was not a conditional GET")
	}
	var paths []string
	for _, s := range log {
		paths = append(paths, s.host+s.path)
	}
	for _, want := range []string{"wire.test/article-here", "other.test/article-away", "other.test/feed"} {
		if !slices.Contains(paths, want) {
			t.Errorf("no request for %s (requests: %v)", want, paths)
		}
	}
}

func TestCheckHeaders(t *testing.T) {
	for _, tc := range []struct {
		h    map[string]string
		want string // "" for valid
	}{
		{map[string]string{"Authorization": "Bearer x", "Cookie": "a=b; c=d", "X-Api-Key": "k"}, ""},
		{map[string]string{"Bad Name": "x"}, "not a valid header name"},
		{map[string]string{"accept-encoding": "br"}, "set by wirewatch itself"},
		{map[string]string{"If-None-Match": "*"}, "set by wirewatch itself"},
		{map[string]string{"X-Evil": "a\r\nHost: b"}, "line break"},
	} {
		err := CheckHeaders(tc.h)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckHeaders(%v) = %v, want nil", tc.h, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckHeaders(%v) = %v, want an error with %q", tc.h, err, tc.want)
		}
	}
}

// TestFeedStatusMetric: wirewatch_feeds counts the configured feeds by
// status from the stored state (a feed never polled is new), refreshed at
// most every feedStatusEvery.
func TestFeedStatusMetric(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write(rss("ok", 1, ""))
		case "/gone":
			w.WriteHeader(http.StatusGone)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	feeds := []Feed{{Name: "ok", URL: srv.URL + "/ok"}, {Name: "broken", URL: srv.URL + "/broken"},
		{Name: "gone", URL: srv.URL + "/gone"}, {Name: "later", URL: srv.URL + "/ok"}}
	p := mustNew(t, localConfig(t, srv), feeds, newRecorder(), nil)
	now := time.Now()
	p.now = func() time.Time { return now }
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p.Collectors()...)
	statuses := func() map[string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() == "wirewatch_feeds" {
				for _, m := range mf.GetMetric() {
					out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	if got := statuses(); got[StatusNew] != 4 || got[StatusOK] != 0 {
		t.Errorf("before any poll: %v, want 4 new", got)
	}
	for _, f := range []string{"ok", "broken", "gone"} {
		p.Poll(t.Context(), f)
	}
	if got := statuses(); got[StatusNew] != 4 {
		t.Errorf("within %s of the last read: %v, want the cached 4 new", feedStatusEvery, got)
	}
	now = now.Add(feedStatusEvery)
	want := map[string]float64{StatusNew: 1, StatusOK: 1, StatusBackingOff: 1, StatusGone: 1, StatusHeld: 0}
	if got := statuses(); !maps.Equal(got, want) {
		t.Errorf("after polls: %v, want %v", got, want)
	}
}

// TestFeedPasswordNotShown: a feed URL with basic-auth user information
// is fetched with it, but its password is in no error, stored state or
// log line.
func TestFeedPasswordNotShown(t *testing.T) {
	var gotAuth atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "u" && p == "s3cret" {
			gotAuth.Store(true)
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	var logs strings.Builder
	feedURL := strings.Replace(srv.URL, "http://", "http://u:s3cret@", 1) + "/feed"
	p, err := New(localConfig(t, srv), []Feed{{Name: "auth", URL: feedURL}}, newRecorder(), nil,
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Poll(t.Context(), "auth")
	st, _, _ := p.store.Load(t.Context(), "auth")
	if !gotAuth.Load() {
		t.Error("the server got no basic auth")
	}
	for what, s := range map[string]string{"error": fmt.Sprint(err), "state": st.LastError, "log": logs.String()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("the %s shows the password: %s", what, s)
		}
	}
	if !strings.Contains(st.LastError, "u:xxxxx@") {
		t.Errorf("stored error %q: want the URL with its password redacted", st.LastError)
	}
}

// TestFetchFailedLogLevel: a failed fetch is logged at Info while it is
// one of the first two in a row (a single 500 of a feed otherwise fine),
// at Warn from the third.
func TestFetchFailedLogLevel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	var logs strings.Builder
	p, err := New(localConfig(t, srv), []Feed{{Name: "f", URL: srv.URL}}, newRecorder(), nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var levels []string
	for range 4 {
		logs.Reset()
		p.Poll(t.Context(), "f")
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, `msg="fetch failed"`) {
				levels = append(levels, strings.Fields(l)[1])
			}
		}
	}
	want := []string{"level=INFO", "level=INFO", "level=WARN", "level=WARN"}
	if !slices.Equal(levels, want) {
		t.Errorf("fetch failed lines at %v, want %v", levels, want)
	}
}
