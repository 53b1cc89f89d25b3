package poller

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./poller -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestReadOPML(t *testing.T) {
	f, err := os.Open("testdata/subscriptions.opml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	feeds, err := ReadOPML(f)
	if err != nil {
		t.Fatalf("ReadOPML: %v", err)
	}
	if err := ValidateFeeds(feeds); err != nil {
		t.Errorf("imported feeds do not validate: %v", err)
	}
	got, _ := json.MarshalIndent(feeds, "", "  ")
	golden(t, "subscriptions.golden.json", append(got, '\n'))
}

func TestOPMLRoundTrip(t *testing.T) {
	feeds := []Feed{
		{Name: "afp", URL: "https://example.org/afp.xml", Title: "AFP & friends", Interval: 10 * time.Minute},
		{Name: "rt", URL: "https://example.org/rt.xml?a=1&b=2", FullText: true},
	}
	var buf bytes.Buffer
	if err := WriteOPML(&buf, "wirewatch feeds", feeds); err != nil {
		t.Fatal(err)
	}
	golden(t, "export.golden.opml", buf.Bytes())
	back, err := ReadOPML(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[0].URL != feeds[0].URL || back[0].Interval != 10*time.Minute ||
		back[1].URL != feeds[1].URL || !back[1].FullText || back[1].Name != "rt" {
		t.Errorf("round trip = %+v, want %+v", back, feeds)
	}
}

func TestReadOPMLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "not an OPML document: empty"},
		{"not xml", "not an OPML document: no <opml> element"},
		{"<html><body>hi</body></html>", "not an OPML document: expected element type <opml> but have <html>"},
		{strings.Repeat("<outline>", 100000), "not an OPML document: expected element type <opml> but have <outline>"},
	}
	for _, tt := range tests {
		if _, err := ReadOPML(strings.NewReader(tt.in)); err == nil || err.Error() != tt.want {
			t.Errorf("ReadOPML(%.20q) = %v, want %q", tt.in, err, tt.want)
		}
	}
	// A reader's own error is returned as it is: it names its source.
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if _, err := ReadOPML(dir); err == nil || err.Error() != "read "+dir.Name()+": is a directory" {
		t.Errorf("ReadOPML(a directory) = %v, want %q", err, "read "+dir.Name()+": is a directory")
	}
}

func FuzzReadOPML(f *testing.F) {
	seed, _ := os.ReadFile("testdata/subscriptions.opml")
	f.Add(seed)
	f.Add([]byte(`<opml><body><outline xmlUrl="http://a/" text="a"><outline xmlUrl="http://a/" text="a"/></outline></body></opml>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := ImportOPML(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := ValidateFeeds(imp.Feeds); err != nil {
			t.Errorf("ImportOPML returned feeds that do not validate: %v", err)
		}
		urls := map[string]bool{}
		for _, f := range imp.Feeds {
			if urls[urlKey(f.URL)] {
				t.Errorf("ImportOPML imported %s twice", f.URL)
			}
			urls[urlKey(f.URL)] = true
		}
		for _, s := range imp.Skipped {
			if s.Reason == "" {
				t.Errorf("skipped outline %+v without a reason", s)
			}
		}
	})
}

// TestImportOPML reads the audit's subscription list: what is not imported
// is listed with the reason, a URL listed twice is imported once, and
// accented titles give readable names.
func TestImportOPML(t *testing.T) {
	f, err := os.Open("testdata/import.opml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imp, err := ImportOPML(f)
	if err != nil {
		t.Fatalf("ImportOPML: %v", err)
	}
	if err := ValidateFeeds(imp.Feeds); err != nil {
		t.Errorf("imported feeds do not validate: %v", err)
	}
	var skipped []string
	for _, s := range imp.Skipped {
		skipped = append(skipped, s.String())
	}
	got, _ := json.MarshalIndent(struct {
		Feeds   []Feed
		Skipped []string
	}{imp.Feeds, skipped}, "", "  ")
	golden(t, "import.golden.json", append(got, '\n'))
}

func TestNameFor(t *testing.T) {
	tests := []struct{ title, url, want string }{
		{"Ünïcode & Co", "https://x.example/", "unicode-co"},
		{"Le Monde — À la une", "https://x.example/", "le-monde-a-la-une"},
		{"Straße", "https://x.example/", "strasse"},
		{"Łódź Æsir Øresund", "https://x.example/", "lodz-aesir-oresund"},
		{"Ñandú, São Paulo, Čeština", "https://x.example/", "nandu-sao-paulo-cestina"},
		{"ＢＢＣ", "https://www.bbc.example/news", "bbc-example-news"}, // fullwidth: not Latin-with-marks, folded as before
		{"Новости дня", "https://www.novosti.example/rss", "novosti-example-rss"},
		{"Reuters: World 24/7", "https://x.example/", "reuters-world-24-7"},
		{"", "http://www.example.net/blog/feed/", "example-net-blog-feed"},
		{"", "", "feed"},
	}
	for _, tt := range tests {
		if got := nameFor(tt.title, tt.url); got != tt.want {
			t.Errorf("nameFor(%q, %q) = %q, want %q", tt.title, tt.url, got, tt.want)
		}
	}
}

func TestURLKey(t *testing.T) {
	same := [][2]string{
		{"https://good.example/feed.xml", "HTTPS://GOOD.example:443/feed.xml#top"},
		{"http://a.example", "http://A.EXAMPLE:80/"},
		{"http://[::1]:80/f", "http://[::1]/f"},
	}
	for _, p := range same {
		if urlKey(p[0]) != urlKey(p[1]) {
			t.Errorf("urlKey(%q) = %q, urlKey(%q) = %q; want equal", p[0], urlKey(p[0]), p[1], urlKey(p[1]))
		}
	}
	differ := [][2]string{
		{"https://good.example/feed.xml", "https://good.example/Feed.xml"},
		{"https://good.example/feed.xml", "http://good.example/feed.xml"},
		{"https://good.example/f?a=1", "https://good.example/f?a=2"},
		{"https://good.example:8443/f", "https://good.example/f"},
	}
	for _, p := range differ {
		if urlKey(p[0]) == urlKey(p[1]) {
			t.Errorf("urlKey(%q) = urlKey(%q) = %q; want different", p[0], p[1], urlKey(p[0]))
		}
	}
}
