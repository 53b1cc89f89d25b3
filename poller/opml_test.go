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
	for _, in := range []string{"", "not xml", "<html><body>hi</body></html>", strings.Repeat("<outline>", 100000)} {
		if _, err := ReadOPML(strings.NewReader(in)); err == nil {
			t.Errorf("ReadOPML(%.20q) = nil error, want one", in)
		}
	}
}

func FuzzReadOPML(f *testing.F) {
	seed, _ := os.ReadFile("testdata/subscriptions.opml")
	f.Add(seed)
	f.Add([]byte(`<opml><body><outline xmlUrl="http://a/" text="a"><outline xmlUrl="http://a/" text="a"/></outline></body></opml>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		feeds, err := ReadOPML(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := ValidateFeeds(feeds); err != nil {
			t.Errorf("ReadOPML returned feeds that do not validate: %v", err)
		}
	})
}
