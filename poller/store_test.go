package poller

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

// startNATS starts an embedded JetStream server on dir.
func startNATS(t *testing.T, dir string) *pipeline.Server {
	t.Helper()
	srv, err := pipeline.StartServer(t.Context(), pipeline.ServerConfig{DataDir: dir})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	return srv
}

// openKV connects and opens the poller's store; the connection closes with
// the test unless the caller closes it first.
func openKV(t testing.TB, srv *pipeline.Server, leaseTTL time.Duration) (*KVStore, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := srv.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenStore(t.Context(), js, pipeline.MustSubjects(""), leaseTTL)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	return st, nc, js
}

// fetchLog records, per feed path, when and by whom it was fetched.
type fetchLog struct {
	mu   sync.Mutex
	byUA map[string]map[string][]time.Time // path → user agent → times
}

func (l *fetchLog) handler(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	if l.byUA == nil {
		l.byUA = map[string]map[string][]time.Time{}
	}
	if l.byUA[r.URL.Path] == nil {
		l.byUA[r.URL.Path] = map[string][]time.Time{}
	}
	ua := r.Header.Get("User-Agent")
	l.byUA[r.URL.Path][ua] = append(l.byUA[r.URL.Path][ua], time.Now())
	l.mu.Unlock()
	if r.Header.Get("If-None-Match") == `"same"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", `"same"`)
	w.Write(rss(r.URL.Path, 1, ""))
}

// times returns all fetch times of path, sorted, and the count per agent.
func (l *fetchLog) times(path string) ([]time.Time, map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []time.Time
	per := map[string]int{}
	for ua, ts := range l.byUA[path] {
		all = append(all, ts...)
		per[ua] = len(ts)
	}
	slices.SortFunc(all, func(a, b time.Time) int { return a.Compare(b) })
	return all, per
}

// TestTwoPollersShareFeeds runs two pollers (two connections, two
// instances) on one embedded NATS server against the same feeds with a 2s
// interval. Every due time must be served by exactly one of them: two
// fetches of one feed are never closer than the interval minus jitter.
// Then one instance stops and the other must carry on with all feeds.
func TestTwoPollersShareFeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for ~12s")
	}
	ns := startNATS(t, t.TempDir())
	defer ns.Shutdown()
	var log fetchLog
	web := httptest.NewServer(http.HandlerFunc(log.handler))
	defer web.Close()

	const n = 30
	var feeds []Feed
	for i := range n {
		feeds = append(feeds, Feed{Name: fmt.Sprintf("f%02d", i), URL: fmt.Sprintf("%s/f%02d", web.URL, i)})
	}
	interval := 2 * time.Second
	mk := func(name string) (*Poller, *nats.Conn) {
		cfg := localConfig(t, web)
		cfg.Instance = name
		cfg.UserAgent = name
		cfg.DefaultInterval = interval
		cfg.MinInterval = time.Second
		cfg.TotalTimeout = time.Second
		cfg.LeaseTTL = 2 * time.Second
		cfg.Jitter = 0.1
		store, nc, _ := openKV(t, ns, cfg.LeaseTTL)
		return mustNew(t, cfg, feeds, newRecorder(), store), nc
	}
	a, ncA := mk("A")
	b, _ := mk("B")
	ctxA, stopA := context.WithCancel(t.Context())
	ctxB, stopB := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.Run(ctxA) })
	wg.Go(func() { _ = b.Run(ctxB) })

	time.Sleep(6 * time.Second)
	// "Kill" A: its connection drops first, so it cannot release leases.
	ncA.Close()
	stopA()
	killedAt := time.Now()
	time.Sleep(6 * time.Second)
	stopB()
	wg.Wait()

	minGap := time.Duration(float64(interval) * 0.85)
	sharedA, sharedB := 0, 0
	for _, f := range feeds {
		path := f.URL[len(web.URL):]
		ts, per := log.times(path)
		sharedA += per["A"]
		sharedB += per["B"]
		for i := 1; i < len(ts); i++ {
			if gap := ts[i].Sub(ts[i-1]); gap < minGap {
				t.Errorf("%s fetched twice %s apart (per instance %v): one due time served twice", f.Name, gap, per)
			}
		}
		// Failover: B keeps polling every feed after A is gone, within
		// one interval plus one lease period (plus jitter).
		var after []time.Time
		for _, x := range ts {
			if x.After(killedAt) {
				after = append(after, x)
			}
		}
		if len(after) == 0 || after[0].Sub(killedAt) > interval+2*time.Second+time.Second {
			t.Errorf("%s: first fetch after A stopped at %v, want within interval + lease", f.Name, after)
		}
	}
	if sharedA == 0 || sharedB == 0 {
		t.Errorf("fetches: A %d, B %d; want both instances to take part", sharedA, sharedB)
	}
	t.Logf("fetches: A %d, B %d over %d feeds", sharedA, sharedB, n)
}

// TestRestartKeepsState: validators and the schedule survive a restart of
// both the poller and the NATS server.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	var log fetchLog
	web := httptest.NewServer(http.HandlerFunc(log.handler))
	defer web.Close()
	feeds := []Feed{{Name: "r", URL: web.URL + "/r"}}
	cfg := localConfig(t, web)
	cfg.DefaultInterval = time.Hour

	ns := startNATS(t, dir)
	store, nc, _ := openKV(t, ns, cfg.LeaseTTL)
	p := mustNew(t, cfg, feeds, newRecorder(), store)
	res, err := p.Poll(t.Context(), "r")
	if err != nil || res.Outcome != OutcomeChanged {
		t.Fatalf("first poll = %+v, %v", res, err)
	}
	before, _, _ := store.Load(t.Context(), "r")
	nc.Close()
	ns.Shutdown()

	ns = startNATS(t, dir)
	defer ns.Shutdown()
	store, _, js := openKV(t, ns, cfg.LeaseTTL)
	after, ok, err := store.Load(t.Context(), "r")
	if err != nil || !ok {
		t.Fatalf("state after restart: %v, found %v", err, ok)
	}
	if after.ETag != `"same"` || !after.NextDue.Equal(before.NextDue) || after.BodyHash != before.BodyHash {
		t.Errorf("state after restart = %+v, want %+v", after, before)
	}
	// Run must not poll before the stored due time.
	pub := newRecorder()
	p = mustNew(t, cfg, feeds, pub, store)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ts, _ := log.times("/r"); len(ts) != 1 {
		t.Errorf("%d fetches after restart before the due time, want none (1 in total)", len(ts)-1)
	}
	// A poll now sends the stored validators and gets a 304.
	res, err = p.Poll(t.Context(), "r")
	if err != nil || res.Outcome != OutcomeNotModified {
		t.Errorf("poll after restart = %+v, %v; want not_modified", res, err)
	}
	// A shorter configured interval brings the stored due time forward.
	cfg.DefaultInterval = 2 * time.Minute
	p = mustNew(t, cfg, feeds, pub, store)
	st, _, _ := store.Load(t.Context(), "r")
	if due := p.resumeAt(feeds[0], st); due.After(st.LastSuccess.Add(2*time.Minute+13*time.Second)) || !due.Before(st.NextDue) {
		t.Errorf("with interval 2m: resume at %s after last success, want ≤ 2m12s (stored due in %s)",
			due.Sub(st.LastSuccess), st.NextDue.Sub(st.LastSuccess))
	}
	states, err := States(t.Context(), js, pipeline.MustSubjects(""))
	if err != nil || len(states) != 1 || states[0].NotModified != 1 || states[0].Fetches != 2 {
		t.Errorf("States = %+v, %v; want one feed with 2 fetches, 1 not modified", states, err)
	}
}

// TestFailingFeedsDoNotBlockOthers: hanging, erroring and huge feeds run
// beside healthy ones with only two fetch slots; the healthy ones are all
// published.
func TestFailingFeedsDoNotBlockOthers(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			<-r.Context().Done()
		case "/error":
			http.Error(w, "no", http.StatusInternalServerError)
		case "/garbage":
			w.Write([]byte("<html>not a feed"))
		default:
			w.Write(rss(r.URL.Path, 2, ""))
		}
	}))
	defer web.Close()
	cfg := localConfig(t, web)
	cfg.Concurrency = 2
	cfg.TotalTimeout = 2 * time.Second
	feeds := []Feed{
		{Name: "hang1", URL: web.URL + "/hang"}, {Name: "hang2", URL: web.URL + "/hang?2"},
		{Name: "error", URL: web.URL + "/error"}, {Name: "garbage", URL: web.URL + "/garbage"},
	}
	for i := range 10 {
		feeds = append(feeds, Feed{Name: fmt.Sprintf("ok%d", i), URL: fmt.Sprintf("%s/ok%d", web.URL, i)})
	}
	polled := make(chan Result, 100)
	p := mustNew(t, cfg, feeds, newRecorder(), nil)
	p.onPoll = func(r Result) { polled <- r }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	seen := map[string]string{}
	timeout := time.After(20 * time.Second)
	for len(seen) < 12 {
		select {
		case r := <-polled:
			if !strings.HasPrefix(r.Feed, "hang") {
				seen[r.Feed] = r.Outcome
			}
		case <-timeout:
			t.Fatalf("only %d of 12 other feeds polled: %v", len(seen), seen)
		}
	}
	cancel()
	<-done
	for i := range 10 {
		if o := seen[fmt.Sprintf("ok%d", i)]; o != OutcomeChanged {
			t.Errorf("ok%d: outcome %q, want changed", i, o)
		}
	}
	for _, name := range []string{"error", "garbage"} {
		st, _, _ := p.store.Load(t.Context(), name)
		if st.Errors == 0 || st.LastError == "" {
			t.Errorf("%s: state %+v, want an error recorded", name, st)
		}
	}
}

// TestHoldSharedBetweenInstances: a 429 seen by one instance keeps the
// other instance off that host too (holds travel through KV).
func TestHoldSharedBetweenInstances(t *testing.T) {
	ns := startNATS(t, t.TempDir())
	defer ns.Shutdown()
	var hits syncMap
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r.URL.Path)
		if r.URL.Path == "/a" {
			w.Header().Set("Retry-After", "600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write(rss(r.URL.Path, 1, ""))
	}))
	defer web.Close()
	cfg, at := namedConfig(t, web)
	feeds := []Feed{{Name: "a", URL: at("busy.test", "/a")}, {Name: "b", URL: at("busy.test", "/b")}, {Name: "c", URL: at("calm.test", "/c")}}

	storeA, _, _ := openKV(t, ns, cfg.LeaseTTL)
	a := mustNew(t, cfg, feeds, newRecorder(), storeA)
	if res, _ := a.Poll(t.Context(), "a"); res.Outcome != OutcomeHeld {
		t.Fatalf("A: Poll(a) = %s, want held", res.Outcome)
	}

	storeB, _, _ := openKV(t, ns, cfg.LeaseTTL)
	b := mustNew(t, cfg, feeds[1:], newRecorder(), storeB)
	polled := make(chan Result, 10)
	b.onPoll = func(r Result) { polled <- r }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()
	select {
	case r := <-polled:
		if r.Feed != "c" {
			t.Errorf("B polled %s first, want c (busy.test is held)", r.Feed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("B polled nothing")
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	if n := hits.get("/b"); n != 0 {
		t.Errorf("B fetched /b on the held host %d times, want 0", n)
	}
}

// TestClaimDetectsStaleRead: on a replicated bucket a read may be stale;
// the claim (compare-and-set on the revision read) lets only one of two
// instances that read the same revision go ahead.
func TestClaimDetectsStaleRead(t *testing.T) {
	ns := startNATS(t, t.TempDir())
	defer ns.Shutdown()
	a, _, _ := openKV(t, ns, 0)
	b, _, _ := openKV(t, ns, 0)
	a.strict, b.strict = true, true
	ctx := t.Context()
	for round, name := range []string{"new-feed", "new-feed"} {
		stA, _, err := a.Load(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		stB, _, _ := b.Load(ctx, name)
		stA.Name, stB.Name = name, name
		stA.Fetches, stB.Fetches = uint64(round+1), uint64(round+1)
		wonA, errA := a.Claim(ctx, stA)
		wonB, errB := b.Claim(ctx, stB)
		if errA != nil || errB != nil || !wonA || wonB {
			t.Errorf("round %d: claims A %v (%v), B %v (%v); want only A", round, wonA, errA, wonB, errB)
		}
	}
}

// TestHostGapSharedBetweenInstances: two instances polling feeds of one
// host (in opposite orders, so they would hit it at the same moments)
// keep per_host_gap between any two requests to it, from either of them,
// because each start is reserved in the KV bucket. With
// PerProcessHostGap the same setup puts requests closer together: that
// run checks the test can see a violation.
func TestHostGapSharedBetweenInstances(t *testing.T) {
	const gap = 250 * time.Millisecond
	for _, perProcess := range []bool{false, true} {
		t.Run(fmt.Sprintf("per_process=%v", perProcess), func(t *testing.T) {
			ns := startNATS(t, t.TempDir())
			defer ns.Shutdown()
			var mu sync.Mutex
			var starts []time.Time
			web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				starts = append(starts, time.Now())
				mu.Unlock()
				w.Write(rss(r.URL.Path, 1, ""))
			}))
			defer web.Close()
			cfg, at := namedConfig(t, web)
			cfg.PerHostGap = gap
			cfg.PerProcessHostGap = perProcess
			cfg.DefaultInterval = time.Hour
			var feeds []Feed
			for i := range 8 {
				feeds = append(feeds, Feed{Name: fmt.Sprintf("f%d", i), URL: at("news.test", fmt.Sprintf("/f%d", i))})
			}
			reversed := slices.Clone(feeds)
			slices.Reverse(reversed)
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			for k, fs := range [][]Feed{feeds, reversed} {
				c := cfg
				c.Instance = fmt.Sprintf("i%d", k)
				store, _, _ := openKV(t, ns, c.LeaseTTL)
				p := mustNew(t, c, fs, newRecorder(), store)
				wg.Go(func() { _ = p.Run(ctx) })
			}
			// 8 feeds 250ms apart take 1.75s; wait for all of them.
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				n := len(starts)
				mu.Unlock()
				if n >= len(feeds) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(gap) // a ninth request would show up now
			cancel()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
			if len(starts) != len(feeds) {
				t.Errorf("%d requests for %d feeds, want one each", len(starts), len(feeds))
			}
			closest := time.Hour
			for i := 1; i < len(starts); i++ {
				closest = min(closest, starts[i].Sub(starts[i-1]))
			}
			// The gap is between starts; the handler sees arrivals, which
			// a connect or a busy machine delays by a few milliseconds
			// (up to 9 ms seen under -race). Colliding instances arrive
			// 0–8 ms apart, so half the gap tells the two cases apart
			// with room on both sides.
			tolerance := gap / 2
			t.Logf("closest two requests to the host: %s apart (gap %s)", closest, gap)
			switch {
			case !perProcess && closest < gap-tolerance:
				t.Errorf("two requests to one host %s apart across instances, want at least %s", closest, gap)
			case perProcess && closest >= gap-tolerance:
				t.Errorf("per-process gaps: closest requests %s apart; the setup should make the instances collide", closest)
			}
		})
	}
}

// TestKnownItemsNotRepublished: a feed document that changes publishes only
// its new and edited items, also after a restart on the same KV state (the
// items a feed keeps for weeks would otherwise be published at every change,
// and dedup, which forgets identities after keep_ids, would take the old
// ones for new).
func TestKnownItemsNotRepublished(t *testing.T) {
	item := func(id, title string) string {
		return fmt.Sprintf(`<item><title>%s</title><link>https://example.com/%s</link><guid>%s</guid>
<pubDate>Mon, 02 Jan 2006 15:04:05 GMT</pubDate><description>Body of %s, long enough to be text.</description></item>`, title, id, id, id)
	}
	doc := func(build string, items ...string) string {
		return `<?xml version="1.0"?><rss version="2.0"><channel><title>k</title><link>https://example.com/</link>` +
			`<lastBuildDate>` + build + `</lastBuildDate>` + strings.Join(items, "") + `</channel></rss>`
	}
	a, b, c, d := item("a", "A"), item("b", "B"), item("c", "C"), item("d", "D")
	bEdited := item("b", "B, corrected")
	var body atomic.Value
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body.Load().(string)))
	}))
	defer web.Close()
	feeds := []Feed{{Name: "k", URL: web.URL + "/k"}}
	cfg := localConfig(t, web)
	dir := t.TempDir()
	ns := startNATS(t, dir)
	store, nc, _ := openKV(t, ns, cfg.LeaseTTL)

	pub := newRecorder()
	p := mustNew(t, cfg, feeds, pub, store)
	steps := []struct {
		name    string
		doc     string
		restart bool
		want    []string // titles published
		known   int
	}{
		{"first poll", doc("1", a, b), false, []string{"A", "B"}, 0},
		{"a new item", doc("2", c, a, b), false, []string{"C"}, 2},
		{"an edit", doc("3", c, a, bEdited), false, []string{"B, corrected"}, 2},
		{"only the build date changed", doc("4", c, a, bEdited), false, nil, 3},
		{"after a restart", doc("5", d, c, a, bEdited), true, []string{"D"}, 3},
		{"an item dropped and back", doc("6", d, c, bEdited), false, nil, 3},
		{"", doc("7", d, c, a, bEdited), false, []string{"A"}, 3},
	}
	for _, s := range steps {
		if s.restart {
			nc.Close()
			ns.Shutdown()
			ns = startNATS(t, dir)
			store, nc, _ = openKV(t, ns, cfg.LeaseTTL)
			p = mustNew(t, cfg, feeds, pub, store)
		}
		body.Store(s.doc)
		pub.items["k"] = nil
		res, err := p.Poll(t.Context(), "k")
		if err != nil || res.Outcome != OutcomeChanged {
			t.Fatalf("%s: Poll = %+v, %v; want changed", s.name, res, err)
		}
		var got []string
		for _, it := range pub.items["k"] {
			got = append(got, it.Title)
		}
		if !slices.Equal(got, s.want) || res.Items != len(s.want) || res.Known != s.known {
			t.Errorf("%s: published %q (Items %d, Known %d), want %q (known %d)", s.name, got, res.Items, res.Known, s.want, s.known)
		}
	}
	nc.Close()
	ns.Shutdown()
}

// TestRunStoppedWhileStarting: a poller told to stop before it has read
// the stored states (a SIGTERM right after start) returns nil like any
// stop, not the cancelled read's error, which made the daemon exit 1.
func TestRunStoppedWhileStarting(t *testing.T) {
	ns := startNATS(t, t.TempDir())
	defer ns.Shutdown()
	store, nc, _ := openKV(t, ns, time.Minute)
	defer nc.Close()
	p := mustNew(t, DefaultConfig(), []Feed{{Name: "f", URL: "http://example.org/f"}}, newRecorder(), store)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Run(ctx); err != nil {
		t.Errorf("Run with its context ended before it read the states = %v, want nil", err)
	}
}
