package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/sinks"
)

// TestStories replays the bundled feeds into the JSONL and SQLite sinks
// (replay --out --db) and lists the stories: every story once, with counts
// that agree with the items themselves (computed here from the JSONL, not
// by SQL).
func TestStories(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "items.jsonl")
	var stdout, stderr bytes.Buffer
	dbPath := filepath.Join(dir, "items.db")
	if err := run(t.Context(), []string{"replay", "--feeds", "../../testdata/feeds", "--rules", "../../testdata/rules/summit.yaml", "--out", out, "--db", dbPath},
		stdio{out: &stdout, err: &stderr, getenv: env(nil)}); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	items := readJSONL(t, out)

	// What each story should show, from the items (the latest version of each).
	latest := map[string]pipeline.Item{}
	for _, it := range items {
		latest[it.ID] = it
	}
	type want struct {
		reports, copies int
		feeds           map[string]bool
		hasAlaska       bool
	}
	wants := map[string]*want{}
	for _, it := range latest {
		w := wants[it.StoryID]
		if w == nil {
			w = &want{feeds: map[string]bool{}}
			wants[it.StoryID] = w
		}
		if it.DuplicateOf == "" {
			w.reports++
		} else {
			w.copies++
		}
		w.feeds[it.Feed] = true
		for _, tg := range it.Tags {
			w.hasAlaska = w.hasAlaska || tg.Tag == "alaska-summit"
		}
	}

	list := func(args ...string) []sinks.StorySummary {
		t.Helper()
		var o, e bytes.Buffer
		if err := run(t.Context(), append([]string{"stories", "--db", dbPath, "--json", "-n", "100"}, args...), stdio{out: &o, err: &e, getenv: env(nil)}); err != nil {
			t.Fatalf("stories %v: %v\n%s", args, err, e.String())
		}
		var got []sinks.StorySummary
		for _, l := range strings.Split(strings.TrimSpace(o.String()), "\n") {
			var s sinks.StorySummary
			if err := json.Unmarshal([]byte(l), &s); err != nil {
				t.Fatalf("bad line %q: %v", l, err)
			}
			got = append(got, s)
		}
		return got
	}
	all := list()
	if len(all) != len(wants) {
		t.Errorf("stories listed %d stories, the items have %d", len(all), len(wants))
	}
	for i, s := range all {
		w := wants[s.StoryID]
		if w == nil {
			t.Errorf("story %s is not in the items", s.StoryID)
			continue
		}
		if s.Reports != w.reports || s.Copies != w.copies || s.Outlets != len(w.feeds) {
			t.Errorf("story %s: %d reports, %d copies, %d outlets; the items say %d, %d, %d",
				s.StoryID, s.Reports, s.Copies, s.Outlets, w.reports, w.copies, len(w.feeds))
		}
		if !w.feeds[s.FirstFeed] || s.Title == "" {
			t.Errorf("story %s: first feed %q (not one of its outlets?), title %q", s.StoryID, s.FirstFeed, s.Title)
		}
		if i > 0 && s.Outlets > all[i-1].Outlets {
			t.Errorf("story %s (%d outlets) listed after one with %d", s.StoryID, s.Outlets, all[i-1].Outlets)
		}
	}
	if all[0].Outlets != 8 || all[0].Reports != 5 || all[0].Copies != 3 || !slices.Contains(all[0].Tags, "alaska-summit") {
		t.Errorf("first story = %+v, want the Alaska summit: 8 outlets, 5 reports, 3 syndicated copies", all[0])
	}
	// --tag keeps the stories with that tag, all of them.
	tagged := 0
	for _, w := range wants {
		if w.hasAlaska {
			tagged++
		}
	}
	got := list("--tag", "alaska-summit")
	for _, s := range got {
		if !wants[s.StoryID].hasAlaska {
			t.Errorf("--tag alaska-summit listed story %s, which has no item tagged so", s.StoryID)
		}
	}
	if len(got) != tagged || tagged == 0 {
		t.Errorf("--tag alaska-summit listed %d stories, the items have %d", len(got), tagged)
	}
	if got := list("-n", "1"); len(got) != 1 {
		t.Errorf("-n 1 listed %d stories", len(got))
	}
}
