package poller

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/wirewatch/wirewatch/parser"
	"github.com/wirewatch/wirewatch/pipeline"
)

// Publisher receives the items of one successful fetch. The daemon's
// publisher puts each on items.parsed.<feed> with Nats-Msg-Id =
// it.Version(); replay passes its own. An error makes the poller keep the
// old validators and body hash, so the same items are fetched and offered
// again on the next poll.
type Publisher interface {
	Publish(ctx context.Context, feed string, items []pipeline.Item) error
}

// Result is the outcome of one poll.
type Result struct {
	Feed    string
	Outcome string // one of the Outcome constants
	Status  int    // HTTP status; 0 when no response
	// URL is the URL fetched; MovedTo is set when a permanent redirect
	// changed the stored URL during this poll.
	URL     string
	MovedTo string
	Items   int // items published
	// Known counts the items of a changed document that the feed's
	// previous document already had, unchanged: not published again.
	Known int
	// Skipped lists the entries of the document the parser left out (no
	// title, link or text), each with its position and why.
	Skipped []parser.Skip
	NextDue time.Time
	Elapsed time.Duration
}

// Poller polls a fixed set of feeds. Create it with New; Run schedules and
// polls until its context ends; Poll fetches one feed now. Safe for
// concurrent use.
type Poller struct {
	cfg     Config
	feeds   []Feed
	byName  map[string]int
	pub     Publisher
	store   Store
	log     *slog.Logger
	client  *client
	hosts   *hosts
	sem     chan struct{}
	parsing chan struct{} // parses at once: CPU-bound, so no more than the CPUs
	pages   *pageCache
	metrics *metrics

	pageHostsOnce sync.Once
	pageGate      *hosts
	now           func() time.Time

	busy []sync.Mutex // one per feed: one fetch of a feed at a time in this process

	boilerMu sync.Mutex
	boiler   map[string]*parser.Boilerplate // per feed, learnt from its items

	mu     sync.Mutex
	q      queue
	hostOf []string // politeness key per feed; see hostKey

	onPoll func(Result) // test hook: every finished poll
}

// New returns a poller for feeds. store keeps state and leases (nil means
// a fresh MemoryStore: no restart memory, no coordination between
// instances). log must not be nil.
func New(cfg Config, feeds []Feed, pub Publisher, store Store, log *slog.Logger) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ValidateFeeds(feeds); err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, errors.New("poller: publisher is nil")
	}
	if log == nil {
		return nil, errors.New("poller: logger is nil")
	}
	cfg = cfg.withDefaults()
	if cfg.Instance == "" {
		cfg.Instance = instanceName()
	}
	if cfg.Identity != "" && !strings.HasPrefix(cfg.Instance, cfg.Identity+"/") {
		cfg.Instance = cfg.Identity + "/" + cfg.Instance
	}
	if store == nil {
		store = NewMemoryStore()
	}
	p := &Poller{
		cfg:     cfg,
		feeds:   append([]Feed(nil), feeds...),
		byName:  make(map[string]int, len(feeds)),
		pub:     pub,
		store:   store,
		log:     log,
		client:  newClient(cfg),
		hosts:   newHosts(cfg.PerHostConcurrency, cfg.PerHostGap),
		sem:     make(chan struct{}, cfg.Concurrency),
		parsing: make(chan struct{}, runtime.GOMAXPROCS(0)),
		pages:   newPageCache(cfg.PageCacheSize),
		metrics: newMetrics(),
		now:     time.Now,
		busy:    make([]sync.Mutex, len(feeds)),
		boiler:  make(map[string]*parser.Boilerplate, len(feeds)),
	}
	p.hostOf = make([]string, len(feeds))
	for i, f := range p.feeds {
		p.byName[f.Name] = i
		p.setURL(i, f.URL)
	}
	return p, nil
}

func instanceName() string {
	h, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", h, os.Getpid(), hex.EncodeToString(b[:]))
}

// Run polls every feed on its own schedule until ctx ends, then waits for
// fetches in flight and returns nil. Call it once per Poller. Due times come from the stored state,
// so a restart resumes where the last run left off.
func (p *Poller) Run(ctx context.Context) error {
	states, err := p.store.LoadAll(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: nothing polled, nothing to finish
		}
		return fmt.Errorf("poller: %w", err)
	}
	stored := make(map[string]FeedState, len(states))
	for _, st := range states {
		stored[st.Name] = st
	}
	now := p.now()
	moved := map[int]string{} // feeds a permanent redirect moved
	p.mu.Lock()
	p.q = p.q[:0]
	for i, f := range p.feeds {
		st, ok := stored[f.Name]
		switch {
		case !ok || st.ConfiguredURL != f.URL:
			p.q.push(now, i)
		case st.Gone:
			p.log.Info("feed is gone, not polled", "feed", f.Name, "url", redactURL(st.URL))
		default:
			p.q.push(p.resumeAt(f, st), i)
		}
		if ok && st.ConfiguredURL == f.URL && st.URL != "" && st.URL != f.URL {
			moved[i] = st.URL
		}
	}
	p.mu.Unlock()
	for i, u := range moved {
		p.setURL(i, u)
	}
	p.log.Info("poller started", "feeds", len(p.feeds), "instance", p.cfg.Instance)
	defer p.client.hc.CloseIdleConnections()

	if hs, ok := p.store.(HoldSharer); ok {
		// Other instances' Retry-After holds apply here too. Wait (briefly)
		// for the ones already shared before the first dispatch.
		watchCtx, stopWatch := context.WithCancel(ctx)
		var watcher sync.WaitGroup
		defer watcher.Wait()
		defer stopWatch()
		loaded := make(chan struct{})
		watcher.Go(func() {
			err := hs.WatchHolds(watchCtx, func() { close(loaded) }, func(host string, until time.Time) {
				if p.now().Before(until) {
					p.hosts.hold(host, until)
				}
			})
			if err != nil {
				p.log.Warn("shared host holds unavailable", "err", err)
			}
		})
		select {
		case <-loaded:
		case <-time.After(5 * time.Second):
			p.log.Warn("shared host holds not loaded in 5s, starting without them")
		case <-ctx.Done():
			return nil
		}
	}

	return p.dispatch(ctx)
}

// dispatch is the scheduler loop. Due feeds wait in per-host queues, not
// in goroutines: a feed starts when its host has a free slot and its gap
// has passed and a global slot is free, so at most Concurrency fetch
// goroutines exist however many feeds are due.
func (p *Poller) dispatch(ctx context.Context) error {
	var (
		wg       sync.WaitGroup
		queues   = map[string][]int{} // host → due feeds, FIFO; "" = exempt hosts
		ready    hostQueue            // when a host may be able to start one
		inflight int
		done     = make(chan string, p.cfg.Concurrency) // host of each finished fetch
		due      []int
	)
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := p.now()
		p.mu.Lock()
		due = p.q.popDue(now, due[:0])
		p.mu.Unlock()
		for _, i := range due {
			h := p.hostKey(i)
			if len(queues[h]) == 0 {
				ready.push(now, h)
			}
			queues[h] = append(queues[h], i)
		}
		for inflight < p.cfg.Concurrency {
			at, h, ok := ready.peek()
			if !ok || at.After(now) {
				break
			}
			ready.pop()
			q := queues[h]
			if len(q) == 0 {
				continue
			}
			release := func() {}
			if h != "" {
				rel, readyAt, held := p.hosts.tryAcquire(h)
				switch {
				case !held.IsZero():
					// Retry-After on this host: its queued feeds wait, as
					// a hold, not an error.
					p.mu.Lock()
					for _, i := range q {
						p.q.push(jitterAfter(held, p.cfg), i)
					}
					p.mu.Unlock()
					p.metrics.fetches.WithLabelValues(OutcomeHeld).Add(float64(len(q)))
					delete(queues, h)
					continue
				case rel == nil && !readyAt.IsZero():
					ready.push(readyAt, h) // gap
					continue
				case rel == nil:
					continue // all its slots busy: a finishing fetch re-queues it
				}
				release = rel
			}
			i := q[0]
			if len(q) == 1 {
				delete(queues, h)
			} else {
				queues[h] = q[1:]
				ready.push(now, h) // tryAcquire will say when
			}
			inflight++
			wg.Go(func() {
				defer func() { done <- h }()
				defer release()
				p.scheduled(ctx, i)
			})
		}

		wait := time.Hour
		p.mu.Lock()
		if next, ok := p.q.next(); ok {
			wait = next.Sub(now)
		}
		p.mu.Unlock()
		if at, _, ok := ready.peek(); ok && inflight < p.cfg.Concurrency {
			wait = min(wait, at.Sub(now))
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			p.log.Info("poller stopping")
			return nil
		case <-timer.C:
		case h := <-done:
			inflight--
			if len(queues[h]) > 0 {
				ready.push(p.now(), h)
			}
		}
	}
}

// resumeAt is when a stored feed is next due: its stored due time, brought
// forward when the config now asks for a shorter interval than the one that
// due time was computed with (after a restart with a new config).
func (p *Poller) resumeAt(f Feed, st FeedState) time.Time {
	if st.Errors > 0 || st.LastSuccess.IsZero() || !st.HeldUntil.IsZero() {
		return st.NextDue
	}
	d := interval(p.cfg, f, hints{MaxAge: st.HeaderHint, TTL: st.FeedTTL, UpdatePeriod: st.FeedUpdatePeriod})
	if want := st.LastSuccess.Add(time.Duration(float64(d) * (1 + p.cfg.Jitter))); want.Before(st.NextDue) {
		return want
	}
	return st.NextDue
}

// scheduled polls feed i for the scheduler and puts it back in the queue.
func (p *Poller) scheduled(ctx context.Context, i int) {
	select {
	case p.sem <- struct{}{}:
		defer func() { <-p.sem }()
	case <-ctx.Done():
		return
	}
	res, err := p.pollLocked(ctx, i, true)
	if p.onPoll != nil {
		p.onPoll(res)
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil && res.Outcome != OutcomeError && res.Outcome != OutcomeHeld {
		p.log.Debug("poll", "feed", p.feeds[i].Name, "err", err)
	}
	if res.NextDue.IsZero() {
		return // gone
	}
	p.mu.Lock()
	p.q.push(res.NextDue, i)
	p.mu.Unlock()
}

// hostKey is the politeness key of feed i: the host of its current URL,
// or "" when that host is on the allow list (exempt).
func (p *Poller) hostKey(i int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hostOf[i]
}

// setURL records where feed i is fetched now (after a permanent redirect).
func (p *Poller) setURL(i int, raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	h := u.Hostname()
	if p.client.allowedURL(u) {
		h = ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hostOf[i] = h
}

// Poll fetches feed now, bypassing its schedule and leases (replay and
// manual checks use it), and stores the new state. It still honours
// per-host politeness except for Config.AllowHosts. The error names the
// feed; Result says what happened either way.
func (p *Poller) Poll(ctx context.Context, feed string) (Result, error) {
	i, ok := p.byName[feed]
	if !ok {
		return Result{Feed: feed}, fmt.Errorf("poll %s: no such feed", feed)
	}
	res, err := p.poll(ctx, i, false)
	if p.onPoll != nil {
		p.onPoll(res)
	}
	if err != nil {
		return res, fmt.Errorf("poll %s: %w", feed, err)
	}
	return res, nil
}

// ownLeaseTaker is implemented by stores that can take over a lease held
// under this instance's identity, which only its dead predecessor can have
// left (KVStore).
type ownLeaseTaker interface {
	acquireOwn(ctx context.Context, name, instance, own string) (release func(), ok bool, prev string, err error)
}

// acquire takes feed name's lease, and with an Identity also one that a
// predecessor of this instance (the same Identity, another process that is
// gone) left behind at a crash: without that, its feeds would wait out the
// lease TTL.
func (p *Poller) acquire(ctx context.Context, log *slog.Logger, name string) (func(), bool, error) {
	t, ok := p.store.(ownLeaseTaker)
	if p.cfg.Identity == "" || !ok {
		return p.store.Acquire(ctx, name, p.cfg.Instance)
	}
	release, ok, prev, err := t.acquireOwn(ctx, name, p.cfg.Instance, p.cfg.Identity+"/")
	if ok && prev != "" && prev != p.cfg.Instance {
		log.Info("lease taken over from a previous run", "holder", prev)
	}
	return release, ok, err
}

// poll is one poll of feed i, waiting for per-host politeness and a global
// slot. viaSchedule takes the lease and skips the feed when another
// instance polled it already.
func (p *Poller) poll(ctx context.Context, i int, viaSchedule bool) (Result, error) {
	res := Result{Feed: p.feeds[i].Name, URL: p.feeds[i].URL}

	if h := p.hostKey(i); h != "" {
		release, until, err := p.hosts.acquire(ctx, h)
		if err != nil {
			return res, err
		}
		if release == nil {
			res.Outcome, res.NextDue = OutcomeHeld, jitterAfter(until, p.cfg)
			p.metrics.observe(OutcomeHeld, 0, 0, 0)
			return res, fmt.Errorf("host %s held until %s", h, until.Format(time.RFC3339))
		}
		defer release()
	}
	select {
	case p.sem <- struct{}{}:
		defer func() { <-p.sem }()
	case <-ctx.Done():
		return res, ctx.Err()
	}
	return p.pollLocked(ctx, i, viaSchedule)
}

// pollLocked is poll once politeness and the global limit allow it.
func (p *Poller) pollLocked(ctx context.Context, i int, viaSchedule bool) (Result, error) {
	f := p.feeds[i]
	log := p.log.With("feed", f.Name)
	res := Result{Feed: f.Name, URL: f.URL}
	p.busy[i].Lock()
	defer p.busy[i].Unlock()

	if viaSchedule {
		release, ok, err := p.acquire(ctx, log, f.Name)
		if err != nil {
			res.Outcome, res.NextDue = OutcomeError, p.now().Add(jitter(p.cfg.BackoffBase, p.cfg.Jitter, 0))
			log.Warn("lease failed", "err", err)
			return res, err
		}
		if !ok {
			// Another instance is fetching it; look again when its lease
			// has surely ended, and then follow the state it wrote.
			res.Outcome, res.NextDue = OutcomeSkipped, p.now().Add(jitter(p.cfg.LeaseTTL, p.cfg.Jitter, 0))
			p.metrics.observe(OutcomeSkipped, 0, 0, 0)
			return res, nil
		}
		defer release()
	}

	st, found, err := p.store.Load(ctx, f.Name)
	if err != nil {
		res.Outcome, res.NextDue = OutcomeError, p.now().Add(jitter(p.cfg.BackoffBase, p.cfg.Jitter, 0))
		log.Warn("load state failed", "err", err)
		return res, err
	}
	if !found || st.ConfiguredURL != f.URL {
		if found {
			log.Info("feed url changed in config, state reset", "old", redactURL(st.ConfiguredURL), "new", redactURL(f.URL))
		}
		st = FeedState{Name: f.Name, URL: f.URL, ConfiguredURL: f.URL, Fetches: st.Fetches, Items: st.Items}
	}
	now := p.now()
	if viaSchedule {
		if st.Gone {
			res.Outcome = OutcomeSkipped
			return res, nil
		}
		if due := p.resumeAt(f, st); due.After(now) {
			res.Outcome, res.NextDue = OutcomeSkipped, due
			p.metrics.observe(OutcomeSkipped, 0, 0, 0)
			return res, nil
		}
	}

	if h := p.hostKey(i); h != "" {
		start, err := p.reserveHost(ctx, h, now)
		if err != nil {
			return res, err
		}
		if start.After(now) {
			// Another instance reserved the host for longer than this poll
			// should wait (or its clock is ahead): come back then.
			res.Outcome, res.NextDue = OutcomeSkipped, start
			p.metrics.observe(OutcomeSkipped, 0, 0, 0)
			return res, nil
		}
		now = p.now()
	}
	if c, ok := p.store.(claimer); ok && viaSchedule {
		claim := st
		claim.LastAttempt = now
		won, err := c.Claim(ctx, claim)
		if err != nil {
			res.Outcome, res.NextDue = OutcomeError, now.Add(jitter(p.cfg.BackoffBase, p.cfg.Jitter, 0))
			log.Warn("claim failed", "err", err)
			return res, err
		}
		if !won {
			// Our read was stale: another instance polled it meanwhile.
			res.Outcome, res.NextDue = OutcomeSkipped, now.Add(jitter(p.cfg.LeaseTTL/4, p.cfg.Jitter, 0))
			p.metrics.observe(OutcomeSkipped, 0, 0, 0)
			return res, nil
		}
	}
	p.metrics.inflight.Inc()
	res, ferr := p.fetch(ctx, f, &st, now)
	p.metrics.inflight.Dec()
	st.NextDue = res.NextDue
	if ctx.Err() != nil {
		// Shutting down: keep the old schedule so the next run retries.
		return res, ferr
	}
	if err := p.store.Save(ctx, st); err != nil {
		log.Warn("save state failed", "err", err)
		if ferr == nil {
			ferr = err
		}
	}
	p.metrics.observe(res.Outcome, res.Items, 0, res.Elapsed)
	switch res.Outcome {
	case OutcomeError:
		// One failed fetch of a feed that is otherwise fine (a 500, a
		// timeout) is routine; the third in a row is a feed to look at
		// (feeds list, wirewatch_feeds). In a soak of 300 feeds with 2%
		// of fetches failing, a Warn per failure was 96% of the log.
		lvl := slog.LevelInfo
		if st.Errors >= failingAfter {
			lvl = slog.LevelWarn
		}
		log.Log(ctx, lvl, "fetch failed", "err", ferr, "errors", st.Errors, "retry_in", res.NextDue.Sub(now).Round(time.Second))
	case OutcomeHeld:
		log.Info("host asked to wait", "status", res.Status, "until", res.NextDue)
	case OutcomeGone:
		log.Warn("feed is gone (410), no longer polled", "url", redactURL(res.URL))
	default:
		log.Debug("polled", "outcome", res.Outcome, "items", res.Items, "known", res.Known, "next", res.NextDue)
	}
	return res, ferr
}

// fetch does the HTTP part of a poll and updates st; it sets res.NextDue
// (zero for a gone feed) and res.Outcome.
func (p *Poller) fetch(ctx context.Context, f Feed, st *FeedState, now time.Time) (Result, error) {
	res := Result{Feed: f.Name, URL: st.URL}
	st.LastAttempt = now
	st.Fetches++
	resp, err := p.client.get(ctx, fetchRequest{URL: st.URL, Accept: acceptFeed, ETag: st.ETag, LastModified: st.LastModified, Header: f.Headers})
	res.Elapsed = p.now().Sub(now)
	if resp != nil {
		res.Status = resp.Status
		st.LastStatus = resp.Status
		p.metrics.bytes.Add(float64(resp.WireBytes))
		if resp.PermanentURL != "" && resp.PermanentURL != st.URL {
			p.log.Info("feed moved permanently", "feed", f.Name, "from", redactURL(st.URL), "to", redactURL(resp.PermanentURL))
			st.URL, res.MovedTo = resp.PermanentURL, resp.PermanentURL
			p.setURL(p.byName[f.Name], st.URL)
			st.ETag, st.LastModified = "", "" // validators were the old URL's
		}
	}
	if err != nil {
		return p.failed(ctx, f, st, res, now, err)
	}
	var h hints
	if resp.Status == http.StatusNotModified {
		st.NotModified++
		res.Outcome = OutcomeNotModified
		h = headerHints(resp.Header, now)
		h.TTL, h.UpdatePeriod = st.FeedTTL, st.FeedUpdatePeriod
	} else {
		sum := sha256.Sum256(resp.Body)
		hash := hex.EncodeToString(sum[:])
		h = headerHints(resp.Header, now)
		if hash == st.BodyHash {
			st.Unchanged++
			res.Outcome = OutcomeUnchanged
			h.TTL, h.UpdatePeriod = st.FeedTTL, st.FeedUpdatePeriod
		} else {
			p.parsing <- struct{}{}
			doc, err := parser.Parse(parser.Source{Name: f.Name, URL: st.URL}, resp.Body, now)
			<-p.parsing
			if err != nil {
				return p.failed(ctx, f, st, res, now, err) // "parse feed <name>: …"
			}
			if len(doc.Skipped) > 0 {
				res.Skipped = doc.Skipped
				p.log.Warn("feed entries skipped", "feed", f.Name, "skipped", len(doc.Skipped),
					"first", doc.Skipped[0].String(), "items", len(doc.Items))
			}
			items, seen := unseen(doc.Items, st.Seen)
			res.Known = len(doc.Items) - len(items)
			var learn []pipeline.Item
			switch {
			case f.FullText:
				items = p.fullText(ctx, f, items, now, nil)
			case f.FullTextTeasers:
				items = p.fullText(ctx, f, items, now, func(it *pipeline.Item) bool { return parser.IsTeaser(it.Text, "") })
			default:
				learn = doc.Items // the known items too: a restarted learner needs them
			}
			p.stripBoilerplate(f.Name, learn, items)
			if len(items) > 0 {
				if err := p.pub.Publish(ctx, f.Name, items); err != nil {
					// Not the feed's fault: keep the old validators and hash
					// so the items are offered again, retry soon: after the
					// backoff base, or the feed's own interval when shorter
					// (NATS is back within seconds after a node fails).
					st.LastError = "publish: " + err.Error()
					res.Outcome = OutcomeError
					res.NextDue = now.Add(jitter(min(p.cfg.BackoffBase, interval(p.cfg, f, h)), p.cfg.Jitter, 0))
					return res, fmt.Errorf("publish %s: %w", f.Name, err)
				}
			}
			st.BodyHash = hash
			st.Seen = seen
			st.Changed++
			st.Items += uint64(len(items))
			st.LastChange = now
			res.Items = len(items)
			res.Outcome = OutcomeChanged
			h.TTL, h.UpdatePeriod = doc.TTL, doc.UpdatePeriod
			st.FeedTTL, st.FeedUpdatePeriod = doc.TTL, doc.UpdatePeriod
		}
		st.ETag = resp.Header.Get("ETag")
		st.LastModified = resp.Header.Get("Last-Modified")
	}
	st.Errors, st.LastError, st.FailingSince = 0, "", time.Time{}
	st.HeldUntil = time.Time{}
	st.LastSuccess = now
	st.HeaderHint = max(h.MaxAge, h.Expires)
	st.Interval = interval(p.cfg, f, h)
	res.NextDue = now.Add(jitter(st.Interval, p.cfg.Jitter, p.cfg.MaxInterval))
	return res, nil
}

// failingAfter is how many failed fetches in a row make the poller log a
// feed's failure as a Warn rather than Info.
const failingAfter = 3

// maxSeen bounds FeedState.Seen: the items of a larger document beyond it
// are published at every change of the document (and dropped downstream
// as re-polls), as they were before FeedState.Seen.
const maxSeen = 5000

// seenKey is what FeedState.Seen holds of an item as parsed (before full
// text and boilerplate stripping, which may change between polls): its
// version, shortened. 64 bits: a collision among a feed's items, which
// would hold one back, is a one-in-10^12 chance for a feed of 5,000.
func seenKey(it *pipeline.Item) string {
	sum := sha256.Sum256([]byte(it.Version()))
	return hex.EncodeToString(sum[:8])
}

// unseen returns the items whose version was not in the feed's previous
// document (keys prev), and the keys of this document's items.
func unseen(items []pipeline.Item, prev []string) ([]pipeline.Item, []string) {
	known := make(map[string]bool, len(prev))
	for _, k := range prev {
		known[k] = true
	}
	var out []pipeline.Item
	keys := make([]string, 0, min(len(items), maxSeen))
	for i := range items {
		k := seenKey(&items[i])
		if !known[k] {
			out = append(out, items[i])
		}
		if len(keys) < maxSeen {
			keys = append(keys, k)
		}
	}
	return out, keys
}

// failed records a failed fetch in st and decides when to try again.
func (p *Poller) failed(ctx context.Context, f Feed, st *FeedState, res Result, now time.Time, err error) (Result, error) {
	se, isStatus := errors.AsType[*StatusError](err)
	switch {
	case isStatus && se.Code == http.StatusGone:
		st.Gone = true
		st.LastError = err.Error()
		res.Outcome = OutcomeGone
		return res, err
	case isStatus && (se.Code == http.StatusTooManyRequests || se.Code == http.StatusServiceUnavailable):
		// The host is busy, the feed is not broken: hold the host, don't
		// count an error.
		wait := se.RetryAfter
		if wait <= 0 {
			wait = p.cfg.BackoffBase
		}
		until := now.Add(wait)
		if u, perr := url.Parse(st.URL); perr == nil && !p.client.allowedURL(u) {
			p.hosts.hold(u.Hostname(), until)
			if hs, ok := p.store.(HoldSharer); ok {
				if err := hs.ShareHold(context.WithoutCancel(ctx), u.Hostname(), until); err != nil {
					p.log.Warn("share host hold failed", "host", u.Hostname(), "err", err)
				}
			}
		}
		st.HeldUntil = until
		st.LastError = err.Error()
		res.Outcome = OutcomeHeld
		res.NextDue = jitterAfter(until, p.cfg)
		return res, err
	}
	st.Errors++
	st.Failures++
	if st.FailingSince.IsZero() {
		st.FailingSince = now
	}
	st.LastError = truncate(err.Error(), 500)
	res.Outcome = OutcomeError
	res.NextDue = now.Add(jitter(backoff(p.cfg, st.Errors), p.cfg.Jitter, p.cfg.BackoffMax))
	return res, err
}

// jitterAfter is t plus a small random delay (up to Jitter·BackoffBase), so
// feeds held on one host don't all fire at the same instant.
func jitterAfter(t time.Time, cfg Config) time.Time {
	return t.Add(jitter(time.Duration(cfg.Jitter*float64(cfg.BackoffBase)), 1, 0))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// reserveHost spaces this request to host from every other instance's
// (HostGapSharer): it reserves a start through the store and waits for it
// when it is at most maxGapWait away. It returns a start still in the
// future when the wait would be longer (the caller reschedules), and only
// ctx's error: when the store cannot reserve, the poll goes ahead under
// this process's own gap, logged at debug level.
func (p *Poller) reserveHost(ctx context.Context, host string, now time.Time) (time.Time, error) {
	gs, ok := p.store.(HostGapSharer)
	if !ok || p.cfg.PerProcessHostGap || p.cfg.PerHostGap <= 0 {
		return now, nil
	}
	start, err := gs.ReserveHost(ctx, host, now, p.cfg.PerHostGap)
	if err != nil {
		if ctx.Err() != nil {
			return now, ctx.Err()
		}
		p.log.Debug("shared host gap unavailable, using this process's", "host", host, "err", err)
		return now, nil
	}
	wait := start.Sub(now)
	if wait <= 0 {
		return now, nil
	}
	if wait > p.maxGapWait() {
		return start, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return now, nil
	case <-ctx.Done():
		return now, ctx.Err()
	}
}

// maxGapWait is the longest a poll waits for a shared host reservation
// while holding its lease: a quarter of the lease.
func (p *Poller) maxGapWait() time.Duration { return p.cfg.LeaseTTL / 4 }
