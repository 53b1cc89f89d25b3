package parser

import (
	"fmt"
	"strings"
	"testing"
)

func TestNormalizeText(t *testing.T) {
	tests := []struct{ name, a, b string }{
		{"case", "Putin and Trump MET", "putin and trump met"},
		{"spacing and paragraphs", "One  two\n\nthree\tfour ", " One two three four"},
		{"curly quotes", "“Next time in Moscow,” he said. It’s", `"Next time in Moscow," he said. It's`},
		{"dashes", "US–Russia — talks", "US-Russia - talks"},
		{"nfkc", "ﬁnal ①", "final 1"},
		{"nbsp and zero width", "a\u00a0b\u200bc", "a bc"},
		{"german sharp s folds", "STRASSE", "straße"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if na, nb := NormalizeText(tt.a), NormalizeText(tt.b); na != nb {
				t.Errorf("NormalizeText(%q) = %q, NormalizeText(%q) = %q; want equal", tt.a, na, tt.b, nb)
			}
		})
	}
	if NormalizeText("Putin met Trump") == NormalizeText("Trump met Putin") {
		t.Error("NormalizeText conflates different texts")
	}
}

// TestContentHashAcrossMarkup parses one text wrapped in different markup by
// different feeds and expects one content hash.
func TestContentHashAcrossMarkup(t *testing.T) {
	bodies := []string{
		`<p>Leaders met in Anchorage on Friday.</p><p>No deal was reached.</p>`,
		`<div><p>Leaders  met in <b>Anchorage</b> on Friday.</p>  <p>No deal was reached.</p></div>`,
		`<p>LEADERS MET IN ANCHORAGE ON FRIDAY.</p><p>No deal was reached.</p>`,
	}
	var hashes []string
	for i, b := range bodies {
		doc := fmt.Sprintf(`<rss version="2.0"><channel><title>t</title><item><title>x</title><guid>g</guid><description><![CDATA[%s]]></description></item></channel></rss>`, b)
		f, err := Parse(Source{Name: fmt.Sprint("feed", i)}, []byte(doc), fetchTime)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, f.Items[0].ContentHash)
	}
	for i := 1; i < len(hashes); i++ {
		if hashes[i] != hashes[0] {
			t.Errorf("body %d hashes to %s, body 0 to %s; want equal", i, hashes[i], hashes[0])
		}
	}
	if ContentHash("a", "") == ContentHash("b", "") {
		t.Error("two bodiless items with different titles have one content hash")
	}
}

// rssDoc builds an RSS 2.0 document from items given as guid|link|title|date.
func rssDoc(items ...string) []byte {
	var b strings.Builder
	b.WriteString(`<rss version="2.0"><channel><title>t</title><link>https://site.example/</link>`)
	for _, it := range items {
		p := strings.Split(it, "|")
		b.WriteString("<item>")
		if p[0] != "" {
			b.WriteString("<guid>" + p[0] + "</guid>")
		}
		if p[1] != "" {
			b.WriteString("<link>" + p[1] + "</link>")
		}
		b.WriteString("<title>" + p[2] + "</title>")
		if p[3] != "" {
			b.WriteString("<pubDate>" + p[3] + "</pubDate>")
		}
		b.WriteString("<description>Body of " + p[2] + ".</description></item>")
	}
	b.WriteString("</channel></rss>")
	return []byte(b.String())
}

func parseIDs(t *testing.T, feed string, doc []byte) []string {
	t.Helper()
	f, err := Parse(Source{Name: feed, URL: "https://site.example/rss"}, doc, fetchTime)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range f.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

func TestIdentity(t *testing.T) {
	const d1, d2 = "Mon, 10 Mar 2025 09:00:00 GMT", "Tue, 11 Mar 2025 09:00:00 GMT"
	t.Run("guid is stable across title, link and date edits", func(t *testing.T) {
		a := parseIDs(t, "f", rssDoc("g1|https://site.example/a|Old title|"+d1, "g2|https://site.example/b|B|"+d1))
		b := parseIDs(t, "f", rssDoc("g0|https://site.example/new|New item|"+d2, "g1|https://site.example/a?utm_source=x|New title|"+d2, "g2|https://site.example/b|B|"+d1))
		if a[0] != b[1] || a[1] != b[2] {
			t.Errorf("IDs changed on edit: %v then %v", a, b)
		}
	})
	t.Run("feed name is part of the identity", func(t *testing.T) {
		doc := rssDoc("g1|https://site.example/a|A|" + d1)
		if parseIDs(t, "world", doc)[0] == parseIDs(t, "europe", doc)[0] {
			t.Error("same GUID in two feeds has one ID")
		}
	})
	t.Run("no guid: canonical link", func(t *testing.T) {
		a := parseIDs(t, "f", rssDoc("|https://site.example/a?utm_source=rss|A|"+d1))
		b := parseIDs(t, "f", rssDoc("|https://SITE.example/a#top|A edited|"+d2))
		if a[0] != b[0] {
			t.Errorf("link identity changed with tracking params/edits: %v vs %v", a, b)
		}
	})
	t.Run("no guid no link: title and date", func(t *testing.T) {
		a := parseIDs(t, "f", rssDoc("||A|"+d1, "||A|"+d2, "||B|"+d1))
		if a[0] == a[1] || a[0] == a[2] || a[1] == a[2] {
			t.Errorf("title+date IDs collide: %v", a)
		}
	})
	t.Run("one guid reused by every item", func(t *testing.T) {
		ids := parseIDs(t, "f", rssDoc(
			"same|https://site.example/a|A|"+d1, "same|https://site.example/b|B|"+d1,
			"same|https://site.example/c|C|"+d1, "same|https://site.example/d|D|"+d1))
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("reused GUID gave repeated IDs: %v", ids)
			}
			seen[id] = true
		}
		// The same items with distinct GUIDs removed keep their link IDs.
		again := parseIDs(t, "f", rssDoc(
			"|https://site.example/a|A|"+d1, "|https://site.example/b|B|"+d1,
			"|https://site.example/c|C|"+d1, "|https://site.example/d|D|"+d1))
		if fmt.Sprint(ids) != fmt.Sprint(again) {
			t.Errorf("reused-GUID document IDs %v, want the link IDs %v", ids, again)
		}
	})
	t.Run("few blank guids among many keep guid identity", func(t *testing.T) {
		var items []string
		for i := range 30 {
			items = append(items, fmt.Sprintf("g%d|https://site.example/%d|T%d|%s", i, i, i, d1))
		}
		items = append(items, "|https://site.example/x|X|"+d1)
		ids := parseIDs(t, "f", rssDoc(items...))
		one := parseIDs(t, "f", rssDoc(items[0]))
		if ids[0] != one[0] {
			t.Errorf("one blank GUID in 31 changed the identity of the others")
		}
	})
	t.Run("many blank guids distrust the rest", func(t *testing.T) {
		ids := parseIDs(t, "f", rssDoc("g1|https://site.example/a|A|"+d1, "|https://site.example/b|B|"+d1))
		byLink := parseIDs(t, "f", rssDoc("|https://site.example/a|A|"+d1))
		if ids[0] != byLink[0] {
			t.Errorf("with half the GUIDs blank, item with GUID has ID %s, want its link ID %s", ids[0], byLink[0])
		}
	})
	t.Run("same entry listed twice appears once", func(t *testing.T) {
		ids := parseIDs(t, "f", rssDoc("g1|https://site.example/a|A|"+d1, "g1|https://site.example/a|A|"+d1))
		if len(ids) != 1 {
			t.Errorf("got %d items, want 1", len(ids))
		}
	})
	t.Run("shared link with different titles", func(t *testing.T) {
		ids := parseIDs(t, "f", rssDoc("|https://site.example/|A|"+d1, "|https://site.example/|B|"+d1))
		if len(ids) != 2 || ids[0] == ids[1] {
			t.Errorf("got IDs %v, want two distinct", ids)
		}
	})
}

// TestNormalizeTextASCIIFastPath checks that the all-ASCII shortcut gives
// what the full Unicode path gives.
func TestNormalizeTextASCIIFastPath(t *testing.T) {
	for _, s := range []string{"Hello  World\n\nAgain `quoted`", "ABC-def_123 \t\r\n x", ""} {
		// Appending a non-ASCII no-op (a zero-width space) forces the full path.
		if fast, full := NormalizeText(s), NormalizeText(s+"\u200b"); fast != full {
			t.Errorf("NormalizeText(%q): fast path %q, full path %q", s, fast, full)
		}
	}
}

func BenchmarkNormalizeText(b *testing.B) {
	text := strings.Repeat("Putin said Russia was “sincerely interested in putting an end” to the conflict in Ukraine. ", 40)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		NormalizeText(text)
	}
}
