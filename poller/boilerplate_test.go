package poller

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFeedBoilerplateStripped: a footer on every item of one feed is learnt
// and removed from the published text, while the content hash (the item's
// identity of content) stays that of the text as the feed gave it.
func TestFeedBoilerplateStripped(t *testing.T) {
	const footer = "Example Wire is published by the Harbour Media Group of Port Town, in partnership with local newsrooms."
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(`<rss version="2.0"><channel><title>bp</title>`)
		towns := []string{"Harlow", "Dunmore", "Ashby", "Kelso", "Brant", "Marlow", "Fenwick", "Orrin"}
		for i, town := range towns {
			fmt.Fprintf(&b, `<item><title>Story %d</title><link>https://example.org/%d</link><guid>g%d</guid><description><![CDATA[<p>The council of %s begins its own story today.</p><p>A quote said only in %s: "we will see", the mayor said.</p><p>%s</p>]]></description></item>`,
				i, i, i, town, town, footer)
		}
		b.WriteString(`</channel></rss>`)
		w.Write([]byte(b.String()))
	}))
	defer srv.Close()
	pub := newRecorder()
	p := mustNew(t, localConfig(t, srv), []Feed{{Name: "bp", URL: srv.URL}}, pub, nil)
	if _, err := p.Poll(t.Context(), "bp"); err != nil {
		t.Fatal(err)
	}
	pub.mu.Lock()
	items := pub.items["bp"]
	pub.mu.Unlock()
	if len(items) != 8 {
		t.Fatalf("published %d items, want 8", len(items))
	}
	for _, it := range items {
		if strings.Contains(it.Text, "Harbour Media Group") {
			t.Errorf("item %s still has the feed's footer: %q", it.GUID, it.Text)
		}
		if !strings.Contains(it.Text, "begins its own story") || !strings.Contains(it.Text, "we will see") {
			t.Errorf("item %s lost its own text: %q", it.GUID, it.Text)
		}
	}
}

// TestFullTextTeasers fetches the article page only for teaser items.
func TestFullTextTeasers(t *testing.T) {
	var hits syncMap
	var srvURL string
	long := strings.Repeat("A complete story sentence in the feed itself, with enough words to count. ", 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r.URL.Path)
		if r.URL.Path == "/feed.xml" {
			fmt.Fprintf(w, `<rss version="2.0"><channel><title>t</title>
<item><title>Teaser</title><link>%[1]s/a/teaser</link><guid>t1</guid><description><![CDATA[<p>Officials met on Friday to discuss…</p>]]></description></item>
<item><title>Whole</title><link>%[1]s/a/whole</link><guid>t2</guid><description><![CDATA[<p>%[2]s</p>]]></description></item>
</channel></rss>`, srvURL, long)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><body><article><h1>Officials met</h1>
<p>Officials met on Friday to discuss the budget for next year, and agreed on most of the items after a long session.</p>
<p>The remaining points go to a committee that reports back in a month, the chair said after the meeting ended.</p>
<p>Opposition members said they would table amendments when the full council debates the plan in the spring.</p>
</article></body></html>`)
	}))
	defer srv.Close()
	srvURL = srv.URL
	pub := newRecorder()
	p := mustNew(t, localConfig(t, srv), []Feed{{Name: "t", URL: srv.URL + "/feed.xml", FullTextTeasers: true}}, pub, nil)
	if _, err := p.Poll(t.Context(), "t"); err != nil {
		t.Fatal(err)
	}
	if hits.get("/a/teaser") != 1 || hits.get("/a/whole") != 0 {
		t.Errorf("page fetches: teaser %d, whole %d; want 1 and 0", hits.get("/a/teaser"), hits.get("/a/whole"))
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	for _, it := range pub.items["t"] {
		if it.GUID == "t1" && !strings.Contains(it.Text, "committee that reports back") {
			t.Errorf("teaser item text = %q, want the article body", it.Text)
		}
		if it.GUID == "t2" && !strings.Contains(it.Text, "complete story sentence") {
			t.Errorf("whole item text = %q, want the feed's text", it.Text)
		}
	}
}
