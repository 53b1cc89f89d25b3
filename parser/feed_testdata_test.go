package parser

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/pipeline"
)

// snapshotName matches "<feed>.<n>" (a numbered snapshot of one feed).
var snapshotName = regexp.MustCompile(`^(.+)\.([0-9]+)$`)

// parseDir parses every feed file of a replay directory the way replay
// names them: the feed name is the file name without extension and without
// a ".<n>" snapshot number.
func parseDir(t *testing.T, dir string) (map[string][]pipeline.Item, map[string]error) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	items := map[string][]pipeline.Item{} // file base name -> items
	errs := map[string]error{}
	for _, path := range files {
		ext := filepath.Ext(path)
		if ext != ".xml" && ext != ".json" {
			continue
		}
		base := strings.TrimSuffix(filepath.Base(path), ext)
		name := base
		if m := snapshotName.FindStringSubmatch(base); m != nil {
			name = m[1]
		}
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(Source{Name: name, URL: "http://127.0.0.1:8080/" + filepath.Base(path)}, body, fetchTime)
		if err != nil {
			errs[base] = err
			continue
		}
		checkItems(t, base, f)
		items[base] = f.Items
	}
	return items, errs
}

// expected is the part of testdata/expected.json this test reads.
type expected struct {
	TotalItems int `json:"total_items"`
	Items      []struct {
		Feed     string `json:"feed"`
		Snapshot int    `json:"snapshot"`
		GUID     string `json:"guid"`
		Link     string `json:"link"`
		Title    string `json:"title"`
		Update   bool   `json:"update"`
		DupKind  string `json:"dup_kind"`
		Dup      *struct {
			Feed string `json:"feed"`
			GUID string `json:"guid"`
			Link string `json:"link"`
		} `json:"duplicate_of"`
	} `json:"items"`
}

// TestBundledFeeds parses the bundled replay feeds (../testdata/feeds) and
// checks that the parser delivers what the scenario in ../testdata/README.md
// relies on: every file parses, every item of expected.json is there with
// its title, exact copies hash alike, syndicated copies do not, and an
// edited title keeps its item's ID.
func TestBundledFeeds(t *testing.T) {
	dir := filepath.Join("..", "testdata", "feeds")
	items, errs := parseDir(t, dir)
	for name, err := range errs {
		t.Errorf("bundled feed %s: %v", name, err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want expected
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("testdata/expected.json: %v", err)
	}

	find := func(feed string, snapshot int, guid, link string) *pipeline.Item {
		file := feed
		if snapshot > 0 {
			file = feed + "." + strconv.Itoa(snapshot)
		}
		for i := range items[file] {
			it := &items[file][i]
			if guid != "" && it.GUID == guid || guid == "" && it.URL == link {
				return it
			}
		}
		return nil
	}
	ids := map[string]bool{}
	for _, w := range want.Items {
		it := find(w.Feed, w.Snapshot, w.GUID, w.Link)
		if it == nil {
			t.Errorf("expected item %s %q (guid %q, link %q) not parsed", w.Feed, w.Title, w.GUID, w.Link)
			continue
		}
		if it.Title != w.Title {
			t.Errorf("%s guid %q: title %q, expected.json says %q", w.Feed, w.GUID, it.Title, w.Title)
		}
		if w.Link != "" && it.URL != w.Link {
			t.Errorf("%s guid %q: url %q, expected.json says %q", w.Feed, w.GUID, it.URL, w.Link)
		}
		if w.Update != ids[it.ID] {
			t.Errorf("%s %q: update = %v, but ID already seen = %v", w.Feed, w.Title, w.Update, ids[it.ID])
		}
		ids[it.ID] = true
		if w.Dup == nil {
			continue
		}
		orig := find(w.Dup.Feed, 0, w.Dup.GUID, w.Dup.Link)
		if orig == nil {
			t.Errorf("%s %q: duplicate_of %v not found", w.Feed, w.Title, *w.Dup)
			continue
		}
		if exact := orig.ContentHash == it.ContentHash; exact != (w.DupKind == pipeline.DupExact) {
			t.Errorf("%s %q vs %s: same content hash = %v, but dup_kind %q", w.Feed, w.Title, w.Dup.Feed, exact, w.DupKind)
		}
	}
	if len(ids) != want.TotalItems {
		t.Errorf("expected.json lists %d distinct items, total_items says %d", len(ids), want.TotalItems)
	}
	// Every parsed item is in expected.json (snapshots repeat items).
	all := map[string]bool{}
	for _, its := range items {
		for _, it := range its {
			all[it.ID] = true
		}
	}
	if len(all) != want.TotalItems {
		t.Errorf("bundled feeds hold %d distinct item IDs, expected.json total_items = %d", len(all), want.TotalItems)
	}
}

// TestBrokenDir checks the broken-file fixture: exactly one file fails,
// with an error naming its feed, and the others parse.
func TestBrokenDir(t *testing.T) {
	items, errs := parseDir(t, filepath.Join("..", "testdata", "broken"))
	if len(errs) != 1 {
		t.Fatalf("testdata/broken: %d files failed (%v), want exactly 1", len(errs), errs)
	}
	for name, err := range errs {
		if !strings.HasPrefix(err.Error(), "parse feed "+name+": ") {
			t.Errorf("error %q does not name feed %s", err, name)
		}
	}
	if len(items) < 2 {
		t.Errorf("testdata/broken: %d good feeds parsed, want at least 2", len(items))
	}
	for name, its := range items {
		if len(its) == 0 {
			t.Errorf("testdata/broken/%s: no items", name)
		}
	}
}
