package poller

import (
	"container/list"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wirewatch/wirewatch/parser"
	"github.com/wirewatch/wirewatch/pipeline"
)

// maxPagesPerPoll bounds the article pages fetched in one poll of a
// full-text feed, so one poll stays well inside its lease; items beyond it
// keep the feed's own text this time and are fetched on a later change.
const maxPagesPerPoll = 25

// pageCache remembers extracted article pages by URL with their validators,
// so a feed's items are not fetched again on every change of the feed.
// An LRU of fixed size; safe for concurrent use.
type pageCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[string]*list.Element
}

type page struct {
	url          string
	etag         string
	lastModified string
	text         string
	fetched      time.Time
}

func newPageCache(n int) *pageCache {
	return &pageCache{max: n, ll: list.New(), m: map[string]*list.Element{}}
}

func (c *pageCache) get(u string) (page, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[u]
	if !ok {
		return page{}, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(page), true
}

func (c *pageCache) put(pg page) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[pg.url]; ok {
		e.Value = pg
		c.ll.MoveToFront(e)
		return
	}
	c.m[pg.url] = c.ll.PushFront(pg)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(page).url)
	}
}

// fullText replaces each item's text (each one that want accepts, all
// when want is nil) with the article body of its page, fetched through the
// guarded client (conditional GET, same caps), when extraction finds one.
// Failures leave the feed's text in place.
func (p *Poller) fullText(ctx context.Context, f Feed, items []pipeline.Item, pollStart time.Time, want func(*pipeline.Item) bool) []pipeline.Item {
	log := p.log.With("feed", f.Name)
	// Pages must not keep the poll past its lease: stop starting them at
	// half the lease, and cut a page fetch in flight at three quarters.
	deadline := pollStart.Add(p.cfg.LeaseTTL / 2)
	ctx, cancel := context.WithDeadline(ctx, pollStart.Add(p.cfg.LeaseTTL*3/4))
	defer cancel()
	fetched := 0
	for i := range items {
		it := &items[i]
		if it.URL == "" || want != nil && !want(it) {
			continue
		}
		u, err := url.Parse(it.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		pg, cached := p.pages.get(it.URL)
		fresh := cached && p.now().Sub(pg.fetched) < p.cfg.PageFresh
		if !fresh && fetched < maxPagesPerPoll && p.now().Before(deadline) {
			fetched++
			if npg, err := p.fetchPage(ctx, it.URL, pg, sameHostHeaders(f, it.URL)); err != nil {
				log.Debug("article page fetch failed", "url", it.URL, "err", err)
			} else {
				pg, cached = npg, true
				p.pages.put(pg)
			}
		}
		if cached && pg.text != "" {
			it.Text = pg.text
			it.ContentHash = parser.ContentHash(it.Title, it.Text)
		}
	}
	return items
}

// fetchPage GETs one article page, conditionally when old has validators,
// and extracts its text. Pages obey the per-host gap like feeds.
func (p *Poller) fetchPage(ctx context.Context, rawURL string, old page, header map[string]string) (page, error) {
	u, _ := url.Parse(rawURL)
	if !p.client.allowedURL(u) {
		if until := p.hosts.held(u.Hostname()); !until.IsZero() {
			return old, &StatusError{Code: http.StatusTooManyRequests, URL: rawURL, RetryAfter: time.Until(until)}
		}
		release, until, err := p.pageHosts().acquire(ctx, u.Hostname())
		if err != nil {
			return old, err
		}
		if release == nil {
			return old, &StatusError{Code: http.StatusTooManyRequests, URL: rawURL, RetryAfter: time.Until(until)}
		}
		defer release()
	}
	fr := fetchRequest{URL: rawURL, Accept: acceptPage, Header: header}
	if old.url == rawURL {
		fr.ETag, fr.LastModified = old.etag, old.lastModified
	}
	resp, err := p.client.get(ctx, fr)
	if err != nil {
		return old, err
	}
	if resp.Status == http.StatusNotModified {
		old.fetched = p.now()
		return old, nil
	}
	art, err := parser.ExtractArticle(resp.Body, resp.Header.Get("Content-Type"), resp.FinalURL)
	if err != nil {
		return old, err
	}
	return page{
		url:          rawURL,
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
		text:         art.Text,
		fetched:      p.now(),
	}, nil
}

// pageHosts is the politeness gate for article pages. It is separate from
// the feeds' gate because a feed poll holds its host's slot while it
// fetches that host's pages.
func (p *Poller) pageHosts() *hosts {
	p.pageHostsOnce.Do(func() { p.pageGate = newHosts(1, p.cfg.PerHostGap) })
	return p.pageGate
}

// stripBoilerplate removes the blocks that recur across many items of one
// feed (a standard footer, a sign-up line), learnt per feed over the items
// of this and earlier fetches (learn: the document's items not published
// again, which a learner restarted with the process has not seen; then
// items, which it strips). The whole document is learnt before any item is
// stripped, so a first fetch with twenty footers already loses
// them. ContentHash stays the hash of the text as the feed gave it: an
// item's version must not change when wirewatch learns its feed's footer,
// or every item still in the feed would come back as an update.
func (p *Poller) stripBoilerplate(feed string, learn, items []pipeline.Item) {
	p.boilerMu.Lock()
	bp, ok := p.boiler[feed]
	if !ok {
		bp = parser.NewBoilerplate()
		p.boiler[feed] = bp
	}
	p.boilerMu.Unlock()
	for i := range learn { // Learn ignores a text it learnt recently
		bp.Learn(learn[i].Text)
	}
	for i := range items {
		bp.Learn(items[i].Text)
	}
	for i := range items {
		items[i].Text = bp.Strip(items[i].Text)
	}
}

// sameHostHeaders returns f's headers for a page on f's own host (a
// subscriber cookie for the site's article pages), nil for any other.
func sameHostHeaders(f Feed, pageURL string) map[string]string {
	if len(f.Headers) == 0 {
		return nil
	}
	fu, err1 := url.Parse(f.URL)
	pu, err2 := url.Parse(pageURL)
	if err1 != nil || err2 != nil || !strings.EqualFold(fu.Hostname(), pu.Hostname()) {
		return nil
	}
	return f.Headers
}
