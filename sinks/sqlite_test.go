package sinks

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// testItem returns a tagged item as the tag stage would emit it.
func testItem(id string, tags ...string) *pipeline.Item {
	fetched := time.Date(2025, 8, 16, 12, 0, 0, 0, time.UTC)
	it := &pipeline.Item{
		ID: id, Feed: "afp", FeedURL: "https://example.org/afp.xml", GUID: "guid-" + id,
		URL: "https://example.org/a/" + id, Title: "Title " + id, Authors: []string{"A. Writer"},
		Categories: []string{"World"}, Lang: "en",
		Published: fetched.Add(-2 * time.Hour), Fetched: fetched,
		Text: "Body of " + id + ".\n\nSecond paragraph.", ContentHash: "hash-" + id,
		StoryID: "story-1",
	}
	for _, tg := range tags {
		it.Tags = append(it.Tags, pipeline.Tag{Tag: tg, Kind: "topic",
			Evidence: []pipeline.Evidence{{Field: "title", Start: 0, End: 5, Match: "Title"}}})
	}
	it.Entities = []pipeline.Entity{{ID: "anchorage", Kind: "place", Label: "Anchorage", Mentions: 2}}
	return it
}

func openTestSQLite(t *testing.T, path string) *SQLite {
	t.Helper()
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("OpenSQLite(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// rowsByID counts the items rows with id in the database file at path.
func rowsByID(t *testing.T, path, id string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return count(t, db, `SELECT count(*) FROM items WHERE id = ?`, id)
}

func TestSQLiteWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items.db")
	s := openTestSQLite(t, path)
	ctx := t.Context()

	a := testItem("a", "ceasefire", "alaska-summit")
	b := testItem("b", "alaska-summit")
	b.DuplicateOf, b.DupKind = "a", pipeline.DupSyndicated
	for _, it := range []*pipeline.Item{a, b, a, b} { // both redelivered
		if err := s.Write(ctx, it); err != nil {
			t.Fatalf("Write(%s): %v", it.ID, err)
		}
	}
	if got := count(t, s.db, `SELECT count(*) FROM items`); got != 2 {
		t.Errorf("items after redelivery = %d rows, want 2", got)
	}
	if got := count(t, s.db, `SELECT count(*) FROM item_tags`); got != 3 {
		t.Errorf("item_tags = %d rows, want 3", got)
	}

	// The stored row holds every field of the item.
	var (
		version, feed, title, authors, tags, entities, fetched string
		published, dupOf, dupKind, story                       sql.NullString
		isUpdate                                               bool
	)
	err := s.db.QueryRowContext(ctx, `SELECT version, feed, title, authors, tags, entities, fetched, published,
		duplicate_of, dup_kind, story_id, is_update FROM items WHERE id = ?`, "b").Scan(
		&version, &feed, &title, &authors, &tags, &entities, &fetched, &published, &dupOf, &dupKind, &story, &isUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if version != b.Version() || feed != "afp" || title != b.Title || dupOf.String != "a" ||
		dupKind.String != pipeline.DupSyndicated || story.String != "story-1" || isUpdate {
		t.Errorf("row b = version %q feed %q title %q dup %v/%v story %v update %v; want %q afp %q a/syndicated story-1 false",
			version, feed, title, dupOf, dupKind, story, isUpdate, b.Version(), b.Title)
	}
	if fetched != "2025-08-16T12:00:00.000Z" || published.String != "2025-08-16T10:00:00.000Z" {
		t.Errorf("row b times = fetched %q published %v, want 2025-08-16T12:00:00.000Z and 10:00", fetched, published)
	}
	var gotTags []pipeline.Tag
	if err := json.Unmarshal([]byte(tags), &gotTags); err != nil || len(gotTags) != 1 || gotTags[0].Tag != "alaska-summit" ||
		len(gotTags[0].Evidence) != 1 {
		t.Errorf("row b tags = %s (%v), want alaska-summit with its evidence", tags, err)
	}
	if authors != `["A. Writer"]` {
		t.Errorf("row b authors = %s, want [\"A. Writer\"]", authors)
	}

	// An edited item replaces the row and its tags.
	aEdited := *a
	aEdited.Title = "Title a (updated)"
	aEdited.Update = true
	aEdited.Tags = []pipeline.Tag{{Tag: "sanctions", Kind: "topic"}}
	if err := s.Write(ctx, &aEdited); err != nil {
		t.Fatal(err)
	}
	var gotTitle string
	var gotUpdate bool
	s.db.QueryRowContext(ctx, `SELECT title, is_update FROM items WHERE id = 'a'`).Scan(&gotTitle, &gotUpdate)
	if gotTitle != aEdited.Title || !gotUpdate {
		t.Errorf("after edit, row a = %q update %v, want %q true", gotTitle, gotUpdate, aEdited.Title)
	}
	if got := tagsOf(t, s.db, "a"); !slices.Equal(got, []string{"sanctions"}) {
		t.Errorf("after edit, tags of a = %v, want [sanctions]", got)
	}
	// A late redelivery of the old version does not roll the row back.
	if err := s.Write(ctx, a); err != nil {
		t.Fatal(err)
	}
	s.db.QueryRowContext(ctx, `SELECT title FROM items WHERE id = 'a'`).Scan(&gotTitle)
	if gotTitle != aEdited.Title {
		t.Errorf("after old version redelivered, title of a = %q, want %q", gotTitle, aEdited.Title)
	}
	if got := count(t, s.db, `SELECT count(*) FROM item_versions WHERE item_id = 'a'`); got != 2 {
		t.Errorf("versions of a = %d, want 2", got)
	}
	// An edit fetched before the stored version (delivered out of order)
	// is recorded but does not replace the row.
	older := *a
	older.Title = "Title a (stale edit)"
	older.Fetched = a.Fetched.Add(-time.Hour)
	if err := s.Write(ctx, &older); err != nil {
		t.Fatal(err)
	}
	s.db.QueryRowContext(ctx, `SELECT title FROM items WHERE id = 'a'`).Scan(&gotTitle)
	if gotTitle != aEdited.Title {
		t.Errorf("after stale edit, title of a = %q, want %q", gotTitle, aEdited.Title)
	}

	// Tags are queryable in plain SQL: the example query of docs/sinks.md.
	var ids []string
	rows, err := s.db.QueryContext(ctx, `SELECT i.id FROM items i JOIN item_tags t ON t.item_id = i.id
		WHERE t.tag = ? AND i.item_time >= strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-7 days') ORDER BY i.id`,
		"alaska-summit", "2025-08-20T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if !slices.Equal(ids, []string{"b"}) { // a is now tagged sanctions only
		t.Errorf("items tagged alaska-summit in the week before 2025-08-20 = %v, want [b]", ids)
	}

	// Reopening keeps the data and the schema version, and redelivery
	// after a restart is still a no-op.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTestSQLite(t, path)
	if v, err := s2.SchemaVersion(ctx); err != nil || v != len(sqliteSchema) {
		t.Errorf("SchemaVersion after reopen = %d, %v; want %d", v, err, len(sqliteSchema))
	}
	if err := s2.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s2.db, `SELECT count(*) FROM items`); got != 2 {
		t.Errorf("items after reopen = %d, want 2", got)
	}
	if got := count(t, s2.db, `SELECT count(*) FROM item_entities WHERE entity_id = 'anchorage'`); got != 2 {
		t.Errorf("items with entity anchorage = %d, want 2", got)
	}
	var mode string
	var sync int
	s2.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode)
	s2.db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync)
	if mode != "wal" || sync != 1 {
		t.Errorf("journal_mode = %q, synchronous = %d; want wal, 1 (NORMAL)", mode, sync)
	}
	s3, err := OpenSQLiteConfig(SQLiteConfig{Path: path, Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	s3.db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync)
	if sync != 2 {
		t.Errorf("with Fsync, synchronous = %d, want 2 (FULL)", sync)
	}
}

func tagsOf(t *testing.T, db *sql.DB, id string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT tag FROM item_tags WHERE item_id = ? ORDER BY tag`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tags []string
	for rows.Next() {
		var tg string
		rows.Scan(&tg)
		tags = append(tags, tg)
	}
	return tags
}

func TestSQLiteHostileText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?name#1%20.db")
	s := openTestSQLite(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created at the exact path: %v", err)
	}
	it := testItem("nul\x00id", "tag\x00x")
	it.Title = "bad \xff utf8 and \x00 nul"
	it.Text = "'); DROP TABLE items; --"
	if err := s.Write(t.Context(), it); err != nil {
		t.Fatalf("Write(hostile item): %v", err)
	}
	var title, text string
	if err := s.db.QueryRowContext(t.Context(), `SELECT title, text FROM items`).Scan(&title, &text); err != nil {
		t.Fatal(err)
	}
	if title != "bad \uFFFD utf8 and  nul" || text != it.Text {
		t.Errorf("stored title %q text %q, want NUL dropped, invalid UTF-8 replaced, SQL kept as text", title, text)
	}
	if it.Title != "bad \xff utf8 and \x00 nul" {
		t.Errorf("Write changed the caller's item: title %q", it.Title)
	}
}

// TestSQLiteConcurrentWrites writes from several goroutines and two
// handles on the same file (as two processes would).
func TestSQLiteConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items.db")
	s1 := openTestSQLite(t, path)
	s2 := openTestSQLite(t, path)
	const workers, perWorker = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			s := s1
			if w%2 == 1 {
				s = s2
			}
			for i := range perWorker {
				// Workers overlap: each item is written by two workers.
				it := testItem(fmt.Sprintf("item-%d", (w/2)*perWorker+i), "t1", "t2")
				if err := s.Write(t.Context(), it); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Write: %v", err)
	}
	want := workers / 2 * perWorker
	if got := count(t, s1.db, `SELECT count(*) FROM items`); got != want {
		t.Errorf("items = %d, want %d", got, want)
	}
	if got := count(t, s1.db, `SELECT count(*) FROM item_tags`); got != 2*want {
		t.Errorf("item_tags = %d, want %d", got, 2*want)
	}
}

func TestSQLiteRejectsNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items.db")
	s := openTestSQLite(t, path)
	if _, err := s.db.ExecContext(t.Context(), fmt.Sprintf("PRAGMA user_version = %d", len(sqliteSchema)+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := OpenSQLite(path); err == nil {
		s.Close()
		t.Fatalf("OpenSQLite(schema from the future) = nil error, want one")
	}
}

// benchItems returns real news articles (ECB+, 1.9 KB of text on average) as
// tagged items, or synthetic ones when the dev data is not there.
func benchItems(b *testing.B) []*pipeline.Item {
	b.Helper()
	f, err := os.Open("../../shared/data/stories/ecbplus-dev.jsonl")
	if err != nil {
		b.Logf("no dev data (%v): synthetic items", err)
		return []*pipeline.Item{testItem("x", "ceasefire", "alaska-summit", "sanctions")}
	}
	defer f.Close()
	var items []*pipeline.Item
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var doc struct {
			ID    string `json:"doc_id"`
			Title string `json:"title_guess"`
			Text  string `json:"text"`
			Topic int    `json:"topic"`
		}
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			b.Fatal(err)
		}
		it := testItem(doc.ID, fmt.Sprintf("topic-%d", doc.Topic), "news")
		it.Title, it.Text, it.ContentHash = doc.Title, doc.Text, "h-"+doc.ID
		items = append(items, it)
	}
	return items
}

func BenchmarkSQLiteWrite(b *testing.B) {
	for _, fsync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			s, err := OpenSQLiteConfig(SQLiteConfig{Path: filepath.Join(b.TempDir(), "items.db"), Fsync: fsync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchWrites(b, s.Write)
		})
	}
}

// benchWrites writes a new item per op with write.
func benchWrites(b *testing.B, write func(context.Context, *pipeline.Item) error) {
	items := benchItems(b)
	i := 0
	for b.Loop() {
		it := *items[i%len(items)]
		it.ID = fmt.Sprintf("item-%d", i)
		i++
		if err := write(b.Context(), &it); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSQLiteRedelivery measures the cost of a redelivered version.
func BenchmarkSQLiteRedelivery(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "items.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	it := benchItems(b)[0]
	if err := s.Write(b.Context(), it); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Write(b.Context(), it); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSQLiteConfigValidate(t *testing.T) {
	// busy_timeout beyond 2^31 ms overflows SQLite's int.
	huge := SQLiteConfig{Path: filepath.Join(t.TempDir(), "x.db"), BusyTimeout: 600 * time.Hour}
	for _, c := range []SQLiteConfig{{}, {Path: "x.db", BusyTimeout: -time.Second}, {Path: "x.db", Retention: time.Minute}, huge} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
		if s, err := OpenSQLiteConfig(c); err == nil {
			s.Close()
			t.Errorf("OpenSQLiteConfig(%+v) = nil error, want one", c)
		}
	}
	if err := (SQLiteConfig{Path: "x.db"}).Validate(); err != nil {
		t.Errorf("Validate(path only) = %v", err)
	}
	if err := huge.Validate(); err == nil || !strings.Contains(err.Error(), "busy_timeout 600h0m0s: want at most 1h (default 5s)") {
		t.Errorf("Validate(busy_timeout 600h) = %v, want at most 1h", err)
	}
	if err := (SQLiteConfig{Path: "x.db", BusyTimeout: MaxBusyTimeout}).Validate(); err != nil {
		t.Errorf("Validate(busy_timeout 1h) = %v", err)
	}
	if err := (SQLiteConfig{Path: "x.db", Retention: 30 * 24 * time.Hour}).Validate(); err != nil {
		t.Errorf("Validate(retention 30 days) = %v", err)
	}
}

// pruner is what TestSQLitePrune and TestPostgresPrune exercise.
type pruner interface {
	Write(ctx context.Context, it *pipeline.Item) error
	Prune(ctx context.Context, before time.Time) (int64, error)
}

// testPrune checks Prune on a database sink: items last written before
// the cut go with their tags, entities and versions; an item edited after
// the cut and a later item stay; a pruned item that comes again is stored
// again. count runs a COUNT(*) query with one item id parameter.
func testPrune(t *testing.T, db pruner, count func(query, id string) int) {
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if err := db.Write(ctx, testItem(id, "ceasefire")); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	cut := time.Now()
	time.Sleep(10 * time.Millisecond)
	edited := testItem("a", "ceasefire")
	edited.Title, edited.Update = "Title a, edited", true
	for _, it := range []*pipeline.Item{edited, testItem("c", "ceasefire")} {
		if err := db.Write(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.Prune(ctx, cut)
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1 (b)", n, err)
	}
	for id, want := range map[string]int{"a": 1, "b": 0, "c": 1} {
		for _, table := range []string{"items WHERE id", "item_tags WHERE item_id", "item_entities WHERE item_id"} {
			if got := count("SELECT count(*) FROM "+table+" = $1", id); got != want {
				t.Errorf("after Prune: %s = %s: %d rows, want %d", table, id, got, want)
			}
		}
	}
	if got := count("SELECT count(*) FROM item_versions WHERE item_id = $1", "a"); got != 2 {
		t.Errorf("versions of a (edited after the cut) = %d, want 2", got)
	}
	if got := count("SELECT count(*) FROM item_versions WHERE item_id = $1", "b"); got != 0 {
		t.Errorf("versions of pruned b = %d, want 0", got)
	}
	if err := db.Write(ctx, testItem("b", "ceasefire")); err != nil {
		t.Fatal(err)
	}
	if got := count("SELECT count(*) FROM items WHERE id = $1", "b"); got != 1 {
		t.Errorf("b written again after pruning: %d rows, want 1", got)
	}
}

func TestSQLitePrune(t *testing.T) {
	s := openTestSQLite(t, filepath.Join(t.TempDir(), "items.db"))
	testPrune(t, s, func(q, id string) int { return count(t, s.db, q, id) })

	// More than one batch.
	for i := range pruneBatch + 5 {
		if err := s.Write(t.Context(), testItem(fmt.Sprintf("bulk-%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Prune(t.Context(), time.Now().Add(time.Second))
	if err != nil || n != pruneBatch+5+3 {
		t.Fatalf("Prune of everything = %d, %v; want %d", n, err, pruneBatch+5+3)
	}
	if got := count(t, s.db, "SELECT count(*) FROM item_versions"); got != 0 {
		t.Errorf("%d version records left after pruning everything", got)
	}
}

// TestSQLiteReopenAfterFailedReopen takes the database's directory away
// under an open sink, so that reopening the path after the file is gone
// fails, and brings it back (a new empty directory, or the old one moved
// back): the next write reopens the path and succeeds, instead of failing
// on the closed database until a restart.
func TestSQLiteReopenAfterFailedReopen(t *testing.T) {
	for _, tt := range []struct {
		name string
		// away takes the directory dir away; back brings one back.
		away, back func(t *testing.T, dir string)
		before     int // rows of the item written before in the file at the path
	}{
		{"removed, then created again", func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}, 0},
		{"moved, then moved back", func(t *testing.T, dir string) {
			if err := os.Rename(dir, dir+".old"); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, dir string) {
			if err := os.Rename(dir+".old", dir); err != nil {
				t.Fatal(err)
			}
		}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "items.db")
			s := openTestSQLite(t, path)
			if err := s.Write(t.Context(), testItem("before")); err != nil {
				t.Fatal(err)
			}
			tt.away(t, dir)
			err := s.Write(t.Context(), testItem("after"))
			if err == nil || !strings.Contains(err.Error(), "reopening it failed") || pipeline.IsPermanent(err) {
				t.Fatalf("write with the directory gone: %v, want a retryable error saying the reopen failed", err)
			}
			if err := s.Write(t.Context(), testItem("after")); err == nil || pipeline.IsPermanent(err) {
				t.Fatalf("second write with the directory gone: %v, want a retryable error", err)
			}
			tt.back(t, dir)
			if err := s.Write(t.Context(), testItem("after")); err != nil {
				t.Fatalf("write with the directory back: %v", err)
			}
			if _, err := s.Prune(t.Context(), time.Now().Add(-time.Hour)); err != nil {
				t.Errorf("prune after the reopen: %v", err)
			}
			if n := rowsByID(t, path, "after"); n != 1 {
				t.Errorf("the file at the path holds %d rows of the item written after, want 1", n)
			}
			if n := rowsByID(t, path, "before"); n != tt.before {
				t.Errorf("the file at the path holds %d rows of the item written before, want %d", n, tt.before)
			}
		})
	}
}

// TestSQLiteFileDeletedWhileOpen deletes (or replaces) the database file
// under an open sink, as an operator cleaning up might. SQLite alone keeps
// writing into the unlinked file, where nobody can read the items again.
// The sink notices at its next write: the attempt fails, saying what
// happened, and the retry stores the item in the file now at the path.
func TestSQLiteFileDeletedWhileOpen(t *testing.T) {
	for _, tt := range []struct {
		name    string
		replace func(t *testing.T, path string)
		want    string
	}{
		{"deleted", func(t *testing.T, path string) {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
		}, "was moved or deleted while open"},
		{"deleted, log left", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "was moved or deleted while open"},
		{"moved (rotated)", func(t *testing.T, path string) {
			if err := os.Rename(path, path+".old"); err != nil {
				t.Fatal(err)
			}
		}, "was moved or deleted while open"},
		{"replaced", func(t *testing.T, path string) {
			other := filepath.Join(t.TempDir(), "other.db")
			o, err := OpenSQLite(other)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Write(t.Context(), testItem("from-other")); err != nil {
				t.Fatal(err)
			}
			o.Close()
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}, "was replaced while open"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "items.db")
			s := openTestSQLite(t, path)
			if err := s.Write(t.Context(), testItem("before")); err != nil {
				t.Fatal(err)
			}
			tt.replace(t, path)
			err := s.Write(t.Context(), testItem("after"))
			if err == nil || !strings.Contains(err.Error(), tt.want) || pipeline.IsPermanent(err) {
				t.Fatalf("first write after the file was %s: %v, want a retryable error saying %q", tt.name, err, tt.want)
			}
			if err := s.Write(t.Context(), testItem("after")); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if n := rowsByID(t, path, "after"); n != 1 {
				t.Errorf("the file at the path holds %d rows of the item written after, want 1", n)
			}
			if n := rowsByID(t, path, "before"); n != 0 {
				t.Errorf("the file at the path holds the item written before it was %s", tt.name)
			}
			if _, err := os.Stat(path + ".old"); err == nil {
				// Rotated: the item written before is in the moved file,
				// with every write since its last checkpoint.
				old, err := sql.Open("sqlite", path+".old")
				if err != nil {
					t.Fatal(err)
				}
				defer old.Close()
				if n := count(t, old, `SELECT count(*) FROM items WHERE id = 'before'`); n != 1 {
					t.Errorf("the moved file holds %d rows of the item written before, want 1", n)
				}
			}
			if _, err := s.Prune(t.Context(), time.Now().Add(-time.Hour)); err != nil {
				t.Errorf("prune after the reopen: %v", err)
			}
		})
	}
}

// TestDatabaseSinksHandleTimeout: the database sinks tell their stage how
// long a write may take, through pipeline.SinkHandler, so that it pulls no
// more items at a time than it can write before their ack deadline.
func TestDatabaseSinksHandleTimeout(t *testing.T) {
	for _, tc := range []struct {
		busy, want time.Duration
	}{
		{0, 6 * time.Second},
		{20 * time.Second, 21 * time.Second},
	} {
		db, err := OpenSQLiteConfig(SQLiteConfig{Path: filepath.Join(t.TempDir(), "items.db"), BusyTimeout: tc.busy})
		if err != nil {
			t.Fatal(err)
		}
		h, ok := pipeline.SinkHandler(db).(interface{ HandleTimeout() time.Duration })
		if !ok || h.HandleTimeout() != tc.want {
			t.Errorf("busy_timeout %s: the SQLite handler's HandleTimeout = %v (present %v), want %s", tc.busy, h, ok, tc.want)
		}
		db.Close()
	}
	if _, ok := pipeline.SinkHandler((*Postgres)(nil)).(interface{ HandleTimeout() time.Duration }); !ok {
		t.Error("the PostgreSQL handler has no HandleTimeout")
	}
}
