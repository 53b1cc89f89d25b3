package poller

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFullText: a full_text feed gets each item's text from its article
// page; pages are fetched once and then served from the cache, and a stale
// cache entry is revalidated with its validators.
func TestFullText(t *testing.T) {
	var hits syncMap
	var inm syncMap
	var srvURL string
	const article = `<html><head><title>Story %s</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Story %s</h1>
<p>The first paragraph of story %s is long enough to be the body of an article, with several clauses, commas, and words.</p>
<p>The second paragraph of story %s adds more detail about what happened, who said what, and when it was reported.</p>
<p>A third paragraph of story %s closes the report with context that readers of a wire story would expect to find.</p>
</article><footer>Copyright</footer></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r.URL.Path)
		if r.URL.Path == "/feed.xml" {
			var b strings.Builder
			b.WriteString(`<rss version="2.0"><channel><title>ft</title>`)
			for i := range 3 {
				fmt.Fprintf(&b, `<item><title>Story %d</title><link>%s/a/%d</link><guid>g%d</guid><description>teaser %d</description></item>`, i, srvURL, i, i, i)
			}
			if r.URL.Query().Get("v") == "2" {
				fmt.Fprintf(&b, `<item><title>Story 9</title><link>%s/a/9</link><guid>g9</guid><description>teaser 9</description></item>`, srvURL)
			}
			b.WriteString(`</channel></rss>`)
			w.Write([]byte(b.String()))
			return
		}
		if r.Header.Get("If-None-Match") != "" {
			inm.add(r.URL.Path)
			if r.Header.Get("If-None-Match") == `"p"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		id := strings.TrimPrefix(r.URL.Path, "/a/")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("ETag", `"p"`)
		fmt.Fprintf(w, article, id, id, id, id, id)
	}))
	defer srv.Close()
	srvURL = srv.URL
	cfg := localConfig(t, srv)
	pub := newRecorder()
	feeds := []Feed{{Name: "ft", URL: srv.URL + "/feed.xml", FullText: true}, {Name: "teaser", URL: srv.URL + "/feed.xml?v=2"}}
	p := mustNew(t, cfg, feeds, pub, nil)

	if _, err := p.Poll(t.Context(), "ft"); err != nil {
		t.Fatal(err)
	}
	pub.mu.Lock()
	items := pub.items["ft"]
	pub.mu.Unlock()
	if len(items) != 3 {
		t.Fatalf("published %d items, want 3", len(items))
	}
	for _, it := range items {
		if !strings.Contains(it.Text, "second paragraph of story") || strings.Contains(it.Text, "teaser") || strings.Contains(it.Text, "Copyright") {
			t.Errorf("item %s text = %q, want the article body", it.GUID, it.Text)
		}
		if it.ContentHash == "" {
			t.Errorf("item %s has no content hash", it.GUID)
		}
	}
	// The feed changes (a new item): only the new page is fetched.
	p.feeds[0].URL = srv.URL + "/feed.xml?v=2"
	p.store.Save(t.Context(), FeedState{Name: "ft", URL: p.feeds[0].URL, ConfiguredURL: p.feeds[0].URL})
	if _, err := p.Poll(t.Context(), "ft"); err != nil {
		t.Fatal(err)
	}
	for i, want := range map[string]int{"/a/0": 1, "/a/1": 1, "/a/2": 1, "/a/9": 1} {
		if got := hits.get(i); got != want {
			t.Errorf("page %s fetched %d times, want %d (cache)", i, got, want)
		}
	}
	// A stale cache entry is revalidated with If-None-Match.
	p.cfg.PageFresh = -1
	p.store.Save(t.Context(), FeedState{Name: "ft", URL: p.feeds[0].URL, ConfiguredURL: p.feeds[0].URL})
	if _, err := p.Poll(t.Context(), "ft"); err != nil {
		t.Fatal(err)
	}
	if inm.get("/a/0") != 1 {
		t.Errorf("stale page /a/0 revalidated %d times with If-None-Match, want 1", inm.get("/a/0"))
	}
	pub.mu.Lock()
	last := pub.items["ft"][len(pub.items["ft"])-1]
	pub.mu.Unlock()
	if !strings.Contains(last.Text, "second paragraph") {
		t.Errorf("after a 304 the cached text was not used: %q", last.Text)
	}
	// A feed without full_text keeps the feed's text and fetches no page.
	if _, err := p.Poll(t.Context(), "teaser"); err != nil {
		t.Fatal(err)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if it := pub.items["teaser"][0]; !strings.Contains(it.Text, "teaser") {
		t.Errorf("non-full-text item text = %q, want the feed's teaser", it.Text)
	}
}
