package parser

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/feeds")

// fetchTime is the fixed "now" of the golden cases.
var fetchTime = time.Date(2025, 8, 17, 12, 0, 0, 0, time.UTC)

// golden is what a golden file holds: the parsed feed, or the error.
type golden struct {
	Error        string `json:"error,omitempty"`
	Title        string `json:"title,omitempty"`
	Link         string `json:"link,omitempty"`
	Lang         string `json:"lang,omitempty"`
	TTL          string `json:"ttl,omitempty"`
	UpdatePeriod string `json:"update_period,omitempty"`
	Items        any    `json:"items,omitempty"`
	Skipped      []Skip `json:"skipped,omitempty"`
}

// TestParseGolden parses every parser/testdata/feeds/<case>.{xml,json} and
// compares the result with <case>.golden.json. Cases named bad_* must fail.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "feeds", "*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		if strings.HasSuffix(path, ".golden.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			src := Source{Name: name, URL: "https://feeds.example.net/" + filepath.Base(path)}
			f, err := Parse(src, body, fetchTime)
			var g golden
			switch {
			case err != nil:
				g.Error = err.Error()
				if !strings.HasPrefix(g.Error, "parse feed "+name+": ") {
					t.Errorf("Parse(%s) error %q does not start with %q", name, g.Error, "parse feed "+name+": ")
				}
			default:
				g = golden{Title: f.Title, Link: f.Link, Lang: f.Lang, Items: f.Items, Skipped: f.Skipped}
				if f.TTL != 0 {
					g.TTL = f.TTL.String()
				}
				if f.UpdatePeriod != 0 {
					g.UpdatePeriod = f.UpdatePeriod.String()
				}
				checkItems(t, name, f)
			}
			if bad := strings.HasPrefix(name, "bad_"); bad != (err != nil) {
				t.Errorf("Parse(%s) error = %v, want error: %v", name, err, bad)
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			gpath := strings.TrimSuffix(path, filepath.Ext(path)) + ".golden.json"
			if *update {
				if err := os.WriteFile(gpath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gpath)
			if err != nil {
				t.Fatalf("read golden file (run go test ./parser -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Parse(%s) differs from %s (review, then go test ./parser -update):\ngot:\n%s", name, gpath, got)
			}
		})
	}
	if n < 10 {
		t.Errorf("found %d golden cases, want at least 10", n)
	}
}

// checkItems asserts what must hold for every parsed item of any feed.
func checkItems(t *testing.T, name string, f *Feed) {
	t.Helper()
	ids := map[string]bool{}
	for i, it := range f.Items {
		if len(it.ID) != 32 {
			t.Errorf("%s item %d: ID %q, want 32 hex digits", name, i, it.ID)
		}
		if ids[it.ID] {
			t.Errorf("%s item %d: ID %s repeated within one document", name, i, it.ID)
		}
		ids[it.ID] = true
		if len(it.ContentHash) != 64 {
			t.Errorf("%s item %d: ContentHash %q, want 64 hex digits", name, i, it.ContentHash)
		}
		for field, s := range map[string]string{"title": it.Title, "text": it.Text, "url": it.URL, "guid": it.GUID, "lang": it.Lang} {
			if !utf8.ValidString(s) {
				t.Errorf("%s item %d: %s is not valid UTF-8: %q", name, i, field, s)
			}
		}
		if !it.Published.IsZero() && it.Published.Location() != time.UTC {
			t.Errorf("%s item %d: Published %v not in UTC", name, i, it.Published)
		}
		if !it.Fetched.Equal(fetchTime) {
			t.Errorf("%s item %d: Fetched = %v, want %v", name, i, it.Fetched, fetchTime)
		}
		if _, err := it.Marshal(); err != nil {
			t.Errorf("%s item %d: Marshal: %v", name, i, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // the error, or its start
	}{
		{"empty", "", "parse feed f: empty document"},
		{"blank", " \n\t ", "parse feed f: empty document"},
		{"html", "<!doctype html><html><body>moved</body></html>", "parse feed f: not a feed: got an HTML page"},
		{"plain text", "hello world", "parse feed f: not an RSS, Atom or JSON feed"},
		{"truncated rss", `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>a`, "parse feed f: "},
		{"broken json", `{"version":"https://jsonfeed.org/version/1.1","items":[`, "parse feed f: invalid JSON at byte 55: unexpected end of JSON input"},
		{"json not a feed", `{"not":"a feed"}`, `parse feed f: not a JSON Feed: no "version" and no "items" (JSON Feed 1.0 and 1.1 require both)`},
		{"json version number", `{"version":1.1,"items":[]}`, `parse feed f: invalid JSON Feed: "version" is a number, want a string such as "https://jsonfeed.org/version/1.1"`},
		{"json items object", `{"version":"https://jsonfeed.org/version/1","items":{}}`, `parse feed f: invalid JSON Feed: "items" is an object, want an array`},
		{"json item number", `{"version":"https://jsonfeed.org/version/1","items":[1]}`, `parse feed f: invalid JSON Feed: "items" is a number, want an object`},
		{"json trailing garbage", `{"version":"https://jsonfeed.org/version/1","items":[]} x`, "parse feed f: invalid JSON at byte 57: invalid character 'x' after top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(Source{Name: "f", URL: "https://f.example/feed"}, []byte(tt.body), fetchTime)
			if err == nil {
				t.Fatalf("Parse(%q) = %d items, want error containing %q", tt.body, len(f.Items), tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to start with %q", tt.body, err, tt.want)
			}
		})
	}
}

// TestParseJSONFeedLenient checks that a JSON Feed missing one of its two
// required fields is still read, as feed readers do: without "version" its
// items count; with a version and no items it is an empty feed.
func TestParseJSONFeedLenient(t *testing.T) {
	for _, tt := range []struct {
		body  string
		items int
	}{
		{`{"title":"t","items":[{"id":"1","title":"a"}]}`, 1},
		{`{"version":"https://jsonfeed.org/version/1.1","title":"t"}`, 0},
		{`{"version":"https://jsonfeed.org/version/1.1","items":null}`, 0},
	} {
		f, err := Parse(Source{Name: "f", URL: "https://f.example/feed"}, []byte(tt.body), fetchTime)
		if err != nil || len(f.Items) != tt.items {
			t.Errorf("Parse(%q) = %d items, %v; want %d items", tt.body, len(f.Items), err, tt.items)
		}
	}
}

// TestParseFeedHints checks TTL and the syndication module.
func TestParseFeedHints(t *testing.T) {
	const rss = `<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>t</title>%s<item><title>a</title><guid>1</guid></item></channel></rss>`
	tests := []struct {
		name       string
		extra      string
		ttl, every time.Duration
	}{
		{"none", "", 0, 0},
		{"ttl", "<ttl>30</ttl>", 30 * time.Minute, 0},
		{"ttl garbage", "<ttl>soon</ttl>", 0, 0},
		{"ttl negative", "<ttl>-5</ttl>", 0, 0},
		{"ttl huge", "<ttl>99999999</ttl>", maxTTL, 0},
		{"sy hourly x2", "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", 0, 30 * time.Minute},
		{"sy period only", "<sy:updatePeriod>weekly</sy:updatePeriod>", 0, 7 * 24 * time.Hour},
		{"sy frequency only", "<sy:updateFrequency>4</sy:updateFrequency>", 0, 6 * time.Hour},
		{"sy bad period", "<sy:updatePeriod>fortnightly</sy:updatePeriod>", 0, 0},
		{"sy zero frequency", "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>0</sy:updateFrequency>", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(rss, "%s", tt.extra, 1)
			f, err := Parse(Source{Name: "h"}, []byte(body), fetchTime)
			if err != nil {
				t.Fatal(err)
			}
			if f.TTL != tt.ttl || f.UpdatePeriod != tt.every {
				t.Errorf("Parse(%s): TTL %v, UpdatePeriod %v; want %v, %v", tt.extra, f.TTL, f.UpdatePeriod, tt.ttl, tt.every)
			}
		})
	}
}

func TestParseTitles(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"Plain title", "Plain title"},
		{"  Spaces \n\t everywhere  ", "Spaces everywhere"},
		{"AT&amp;amp;T buys &lt;i&gt;Time&lt;/i&gt;", "AT&T buys Time"},
		{"&lt;b&gt;Bold&lt;/b&gt;&lt;br/&gt;news", "Bold news"},
		{"a &lt; b and c &gt; d", "a < b and c > d"},
		{"Caf&#233; &#x2014; open", "Café — open"},
		{"<![CDATA[<em>Cdata</em> title]]>", "Cdata title"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			body := `<rss version="2.0"><channel><title>t</title><item><title>` + tt.raw + `</title><guid>g</guid></item></channel></rss>`
			f, err := Parse(Source{Name: "t"}, []byte(body), fetchTime)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Items) != 1 || f.Items[0].Title != tt.want {
				t.Errorf("title %q: got %+v, want %q", tt.raw, f.Items, tt.want)
			}
		})
	}
}

// TestParseBodyChoice checks that the richer of content and description
// wins, in both directions.
func TestParseBodyChoice(t *testing.T) {
	long := "<p>" + strings.Repeat("A long paragraph of reporting. ", 10) + "</p>"
	tests := []struct {
		name, content, desc, want string
	}{
		{"content richer", long, "Short teaser.", strings.TrimSpace(strings.Repeat("A long paragraph of reporting. ", 10))},
		{"description richer", "<p>Teaser only.</p>", long, strings.TrimSpace(strings.Repeat("A long paragraph of reporting. ", 10))},
		{"description only", "", "<p>Only a description.</p>", "Only a description."},
		{"nothing", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item := `<item><title>x</title><guid>g</guid>`
			if tt.desc != "" {
				item += `<description><![CDATA[` + tt.desc + `]]></description>`
			}
			if tt.content != "" {
				item += `<content:encoded><![CDATA[` + tt.content + `]]></content:encoded>`
			}
			body := `<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>` + item + `</item></channel></rss>`
			f, err := Parse(Source{Name: "b"}, []byte(body), fetchTime)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Items[0].Text; got != tt.want {
				t.Errorf("Text = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzParse feeds arbitrary bytes to Parse: it must not panic, and every
// item it returns has an ID, valid UTF-8 and a JSON encoding.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "feeds", "*"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil && !strings.HasSuffix(s, ".golden.json") {
			f.Add(b)
		}
	}
	f.Add([]byte(`<rss version="2.0"><channel><item><guid></guid><link>javascript:alert(1)</link><title>&#0;</title></item></channel></rss>`))
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1","items":[{"id":1,"date_published":"99999-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		feed, err := Parse(Source{Name: "fuzz", URL: "https://fuzz.example/feed"}, body, fetchTime)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parse feed fuzz: ") {
				t.Errorf("error %q does not name the feed", err)
			}
			return
		}
		for i, it := range feed.Items {
			if it.ID == "" {
				t.Errorf("item %d has no ID", i)
			}
			for _, s := range []string{it.Title, it.Text, it.URL, it.GUID, it.Lang, feed.Title, feed.Link} {
				if !utf8.ValidString(s) {
					t.Errorf("item %d: invalid UTF-8 %q", i, s)
				}
			}
			if _, err := it.Marshal(); err != nil {
				t.Errorf("item %d: Marshal: %v", i, err)
			}
		}
	})
}

// BenchmarkParse parses each bundled replay feed; b.SetBytes reports MB/s.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"afp-world.xml", "nationpress.json", "gulf-tribune.xml", "lakeside-chronicle.xml"} {
		body, err := os.ReadFile(filepath.Join("..", "testdata", "feeds", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(Source{Name: "bench", URL: "https://bench.example/feed"}, body, fetchTime); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCanonicalURL measures one link with tracking parameters.
func BenchmarkCanonicalURL(b *testing.B) {
	const link = "https://WWW.Example.com:443/world/2025/08/16/story?utm_source=rss&utm_medium=feed&id=42&fbclid=abc#comments"
	b.ReportAllocs()
	for b.Loop() {
		CanonicalURL(link)
	}
}

// TestParseLimits checks that one hostile entry cannot make a huge item.
func TestParseLimits(t *testing.T) {
	var cats strings.Builder
	for i := range 200 {
		fmt.Fprintf(&cats, "<category>c%d %s</category>", i, strings.Repeat("é", 300))
	}
	body := `<rss version="2.0"><channel><title>t</title><item><guid>g</guid><title>` + strings.Repeat("ü", 5000) +
		`</title>` + cats.String() + `<description>` + strings.Repeat("word ", 300000) + `</description></item></channel></rss>`
	f, err := Parse(Source{Name: "big"}, []byte(body), fetchTime)
	if err != nil {
		t.Fatal(err)
	}
	it := f.Items[0]
	if len(it.Title) > maxTitle || !utf8.ValidString(it.Title) {
		t.Errorf("title: %d bytes (valid UTF-8: %v), want at most %d", len(it.Title), utf8.ValidString(it.Title), maxTitle)
	}
	if len(it.Categories) != maxNames {
		t.Errorf("%d categories, want %d", len(it.Categories), maxNames)
	}
	for _, c := range it.Categories {
		if len(c) > maxName || !utf8.ValidString(c) {
			t.Errorf("category of %d bytes, want at most %d", len(c), maxName)
		}
	}
	if len(it.Text) > maxText {
		t.Errorf("text: %d bytes, want at most %d", len(it.Text), maxText)
	}
}

// TestParseConcurrent parses one document from several goroutines (run
// with -race) and expects identical results.
func TestParseConcurrent(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "testdata", "feeds", "nationpress.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse(Source{Name: "np"}, body, fetchTime)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		t.Run(fmt.Sprint("worker", i), func(t *testing.T) {
			t.Parallel()
			for range 5 {
				got, err := Parse(Source{Name: "np"}, body, fetchTime)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Items) != len(want.Items) || got.Items[0].ID != want.Items[0].ID || got.Items[0].ContentHash != want.Items[0].ContentHash {
					t.Errorf("concurrent Parse differs: %+v vs %+v", got.Items[0], want.Items[0])
				}
			}
		})
	}
}
