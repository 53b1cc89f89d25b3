package sinks

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// storyItems: story s1 has two reports (a, b) and a copy of a (c) from
// three outlets; story s2 one report (d), later.
func storyItems() []*pipeline.Item {
	base := time.Date(2025, 8, 15, 23, 0, 0, 0, time.UTC)
	mk := func(id, feed, story, dupOf string, at time.Duration, tags ...string) *pipeline.Item {
		it := testItem(id, tags...)
		it.Feed, it.StoryID, it.DuplicateOf = feed, story, dupOf
		if dupOf != "" {
			it.DupKind = pipeline.DupSyndicated
		}
		it.Published, it.Fetched = base.Add(at), base.Add(at)
		return it
	}
	return []*pipeline.Item{
		mk("a", "f1", "s1", "", 0, "x", "y"),
		mk("b", "f2", "s1", "", time.Hour, "x"),
		mk("c", "f3", "s1", "a", 2*time.Hour, "x"),
		mk("d", "f1", "s2", "", 5*time.Hour, "z"),
	}
}

// testStories writes storyItems with write and checks query's answers.
func testStories(t *testing.T, write func(context.Context, *pipeline.Item) error, query func(StoryQuery) ([]StorySummary, error)) {
	t.Helper()
	for _, it := range storyItems() {
		if err := write(t.Context(), it); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2025, 8, 15, 23, 0, 0, 0, time.UTC)
	s1 := StorySummary{StoryID: "s1", Title: "Title a", URL: "https://example.org/a/a", FirstFeed: "f1",
		First: base, Last: base.Add(2 * time.Hour), Reports: 2, Copies: 1, Outlets: 3, Tags: []string{"x", "y"}}
	s2 := StorySummary{StoryID: "s2", Title: "Title d", URL: "https://example.org/a/d", FirstFeed: "f1",
		First: base.Add(5 * time.Hour), Last: base.Add(5 * time.Hour), Reports: 1, Outlets: 1, Tags: []string{"z"}}
	for _, tc := range []struct {
		name string
		q    StoryQuery
		want []StorySummary
	}{
		{"all, most outlets first", StoryQuery{}, []StorySummary{s1, s2}},
		{"by tag", StoryQuery{Tag: "z"}, []StorySummary{s2}},
		{"since", StoryQuery{Since: base.Add(3 * time.Hour)}, []StorySummary{s2}},
		{"limit", StoryQuery{Limit: 1}, []StorySummary{s1}},
	} {
		got, err := query(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", tc.name, got, tc.want)
		}
	}
}

func TestStoriesSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items.db")
	s := openTestSQLite(t, path)
	testStories(t, s.Write, func(q StoryQuery) ([]StorySummary, error) { return Stories(t.Context(), path, q) })
	if _, err := Stories(t.Context(), filepath.Join(t.TempDir(), "missing.db"), StoryQuery{}); err == nil {
		t.Error("Stories on a missing file: nil error")
	}
	// Files that are not the sink's database are named as such.
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE notes (x TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	text := filepath.Join(t.TempDir(), "items.jsonl")
	os.WriteFile(text, []byte(`{"id":"x"}`+"\n"), 0o644)
	for path, want := range map[string]string{other: "not a wirewatch database", text: "not a SQLite database"} {
		if _, err := Stories(t.Context(), path, StoryQuery{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Stories(%s): %v, want %q", filepath.Base(path), err, want)
		}
	}
}

// TestStoriesTagReadError checks that a tag Stories cannot read fails it,
// rather than returning the story without the tag. The tag column is made
// NULL, which Scan cannot store in a string, for one of the story's tags.
// (An error of rows.Next itself is not reproducible here: the tag query
// sorts by count, so SQLite reads every row before the first and reports
// a read error from the query.)
func TestStoriesTagReadError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items.db")
	s := openTestSQLite(t, path)
	if err := s.Write(t.Context(), testItem("a", "ceasefire", "unreadable")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`ALTER TABLE item_tags RENAME COLUMN tag TO stored_tag`,
		`ALTER TABLE item_tags ADD COLUMN tag TEXT GENERATED ALWAYS AS (nullif(stored_tag, 'unreadable')) VIRTUAL`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	got, err := Stories(t.Context(), path, StoryQuery{})
	if err == nil || !strings.Contains(err.Error(), "NULL") {
		t.Errorf("Stories with a tag that cannot be read = %+v, %v; want an error", got, err)
	}
}

func TestStoriesPostgres(t *testing.T) {
	dsn, _ := postgresDSN(t)
	p := openTestPostgres(t, dsn)
	testStories(t, p.Write, func(q StoryQuery) ([]StorySummary, error) { return PostgresStories(t.Context(), dsn, q) })
}
