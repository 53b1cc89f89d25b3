package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wirewatch/wirewatch/pipeline"
)

// expected is testdata/expected.json: the hand-written answer key of the
// bundled scenario (see testdata/README.md).
type expected struct {
	TotalItems    int            `json:"total_items"`
	TotalVersions int            `json:"total_versions"`
	SummitTopics  []string       `json:"summit_topics"`
	Items         []expectedItem `json:"items"`
}

type itemRef struct {
	Feed string `json:"feed"`
	GUID string `json:"guid"`
	Link string `json:"link"`
}

type expectedItem struct {
	itemRef
	Snapshot            int      `json:"snapshot"`
	Title               string   `json:"title"`
	DuplicateOf         *itemRef `json:"duplicate_of"`
	DupKind             string   `json:"dup_kind"`
	Tie                 bool     `json:"tie"`
	Update              bool     `json:"update"`
	Story               string   `json:"story"`
	MustHaveTags        []string `json:"must_have_tags"`
	MustNotHaveTags     []string `json:"must_not_have_tags"`
	MustHaveEntities    []string `json:"must_have_entities"`
	MustNotHaveEntities []string `json:"must_not_have_entities"`
}

func loadExpected(t *testing.T) expected {
	t.Helper()
	data, err := os.ReadFile("../../testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("testdata/expected.json: %v", err)
	}
	return e
}

// replayOut runs "wirewatch replay" and returns the items it wrote and its
// JSON summary.
func replayOut(t *testing.T, feeds string) ([]pipeline.Item, summary, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "items.jsonl")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"replay", "--feeds", feeds, "--rules", "../../testdata/rules/summit.yaml",
		"--out", out, "--json"}, stdio{out: &stdout, err: &stderr, getenv: env(nil)})
	var sum summary
	if jerr := json.Unmarshal(stdout.Bytes(), &sum); jerr != nil {
		t.Fatalf("replay printed no JSON summary (err %v): %v\nstdout:\n%s\nstderr:\n%s", err, jerr, stdout.String(), stderr.String())
	}
	if err != nil {
		t.Logf("replay stderr:\n%s", stderr.String())
	}
	return readJSONL(t, out), sum, err
}

// TestReplayBundled replays testdata/feeds through the whole pipeline on
// the embedded server and checks the result against the answer key.
func TestReplayBundled(t *testing.T) {
	exp := loadExpected(t)
	items, sum, err := replayOut(t, "../../testdata/feeds")
	if err != nil {
		t.Fatalf("replay: %v", err)
	}

	// Every item accounted for: distinct IDs and versions.
	ids := map[string]bool{}
	for _, it := range items {
		ids[it.ID] = true
	}
	if len(ids) != exp.TotalItems || len(items) != exp.TotalVersions {
		t.Errorf("replay wrote %d versions of %d items, want %d of %d", len(items), len(ids), exp.TotalVersions, exp.TotalItems)
	}
	if sum.Items != len(items) || len(sum.Failures) != 0 || sum.DeadLetter != 0 {
		t.Errorf("summary = %+v, want %d items, no failures, no dead letters", sum, len(items))
	}
	// Stories with several reports are counted as 'wirewatch stories'
	// counts reports: first copies, not copies or updates.
	reports := map[string]int{} // every story, with its first copies
	for _, it := range items {
		n := reports[it.StoryID]
		if it.DuplicateOf == "" && !it.Update {
			n++
		}
		reports[it.StoryID] = n
	}
	several := 0
	for _, n := range reports {
		if n > 1 {
			several++
		}
	}
	if sum.Stories != len(reports) || sum.MultiStory != several || several != 1 {
		t.Errorf("summary: %d stories, %d with several reports; want %d, %d (the Alaska story)", sum.Stories, sum.MultiStory, len(reports), several)
	}

	// Match each expected item to the produced version.
	find := func(r itemRef, update bool) *pipeline.Item {
		for i := range items {
			it := &items[i]
			if it.Feed != r.Feed || it.Update != update {
				continue
			}
			if r.GUID != "" && it.GUID == r.GUID || r.GUID == "" && it.URL == r.Link {
				return it
			}
		}
		return nil
	}
	// The first copy of a tie may be either of the two.
	key := func(r itemRef) string {
		if r.GUID != "" {
			return r.Feed + " " + r.GUID
		}
		return r.Feed + " " + r.Link
	}
	tied := map[string]bool{}
	for _, e := range exp.Items {
		if e.Tie && e.DuplicateOf != nil {
			tied[key(*e.DuplicateOf)] = true
		}
	}
	stories := map[string]string{} // expected story -> story_id
	owner := map[string]string{}   // story_id -> expected story
	for _, e := range exp.Items {
		name := e.Feed + " " + e.Title
		got := find(e.itemRef, e.Update)
		if got == nil {
			t.Errorf("%s: not in the output", name)
			continue
		}
		if got.Update != e.Update {
			t.Errorf("%s: update = %v, want %v", name, got.Update, e.Update)
		}
		// Duplicates.
		switch {
		case e.DuplicateOf == nil:
			if got.DuplicateOf != "" && !tied[key(e.itemRef)] {
				t.Errorf("%s: marked %s copy of %s, want a first copy", name, got.DupKind, got.DuplicateOf)
			}
		case e.Tie:
			first := find(*e.DuplicateOf, false)
			if first == nil {
				t.Errorf("%s: its first copy is missing", name)
				break
			}
			// Exactly one of the two is the copy of the other.
			if !(got.DuplicateOf == first.ID && first.DuplicateOf == "") && !(first.DuplicateOf == got.ID && got.DuplicateOf == "") {
				t.Errorf("%s: tie with %s: duplicate_of %q / %q, want exactly one pointing at the other", name, first.Feed, got.DuplicateOf, first.DuplicateOf)
			}
			if kind := got.DupKind + first.DupKind; kind != e.DupKind {
				t.Errorf("%s: dup_kind %q, want %q", name, kind, e.DupKind)
			}
		default:
			first := find(*e.DuplicateOf, false)
			if first == nil || got.DuplicateOf != first.ID || got.DupKind != e.DupKind {
				t.Errorf("%s: duplicate_of=%q dup_kind=%q, want %s copy of %s %s", name, got.DuplicateOf, got.DupKind, e.DupKind, e.DuplicateOf.Feed, e.DuplicateOf.GUID+e.DuplicateOf.Link)
			}
		}
		// Stories: one story_id per expected story, and no sharing.
		if got.StoryID == "" {
			t.Errorf("%s: no story_id", name)
		} else {
			if id, ok := stories[e.Story]; ok && id != got.StoryID {
				t.Errorf("%s: story_id %s, but other items of story %q have %s", name, got.StoryID, e.Story, id)
			}
			if o, ok := owner[got.StoryID]; ok && o != e.Story {
				t.Errorf("%s (story %q) shares story_id %s with story %q", name, e.Story, got.StoryID, o)
			}
			stories[e.Story], owner[got.StoryID] = got.StoryID, e.Story
		}
		// Tags and entities, with evidence that points at the text.
		tags, ents := map[string]bool{}, map[string]bool{}
		for _, tg := range got.Tags {
			tags[tg.Tag] = true
			if len(tg.Evidence) == 0 {
				t.Errorf("%s: tag %s carries no evidence", name, tg.Tag)
			}
			for _, ev := range tg.Evidence {
				checkEvidence(t, name, got, tg.Tag, ev)
			}
		}
		for _, en := range got.Entities {
			ents[en.ID] = true
		}
		for _, w := range e.MustHaveTags {
			if !tags[w] {
				t.Errorf("%s: missing tag %s (has %v)", name, w, keys(tags))
			}
		}
		for _, w := range e.MustNotHaveTags {
			if tags[w] {
				t.Errorf("%s: has tag %s, must not", name, w)
			}
		}
		for _, w := range e.MustHaveEntities {
			if !ents[w] {
				t.Errorf("%s: missing entity %s (has %v)", name, w, keys(ents))
			}
		}
		for _, w := range e.MustNotHaveEntities {
			if ents[w] {
				t.Errorf("%s: has entity %s, must not", name, w)
			}
		}
	}
	if len(owner) != len(stories) {
		t.Errorf("%d story ids for %d expected stories", len(owner), len(stories))
	}
}

func checkEvidence(t *testing.T, name string, it *pipeline.Item, tag string, ev pipeline.Evidence) {
	t.Helper()
	var field string
	switch ev.Field {
	case "title":
		field = it.Title
	case "text":
		field = it.Text
	default:
		t.Errorf("%s: tag %s evidence in unknown field %q", name, tag, ev.Field)
		return
	}
	if ev.Start < 0 || ev.End > len(field) || ev.Start >= ev.End {
		t.Errorf("%s: tag %s evidence [%d,%d) outside %s (len %d)", name, tag, ev.Start, ev.End, ev.Field, len(field))
		return
	}
	if s := field[ev.Start:ev.End]; s != ev.Match || !utf8.ValidString(s) {
		t.Errorf("%s: tag %s evidence %s[%d:%d] = %q, match says %q", name, tag, ev.Field, ev.Start, ev.End, s, ev.Match)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestReplayDeterministic replays twice: the items written are identical.
func TestReplayDeterministic(t *testing.T) {
	a, _, err := replayOut(t, "../../testdata/feeds")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := replayOut(t, "../../testdata/feeds")
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("two replays of the same directory differ:\n%s\n---\n%s", ja, jb)
	}
}

// TestReplayBrokenFeed: one broken file gives one clear error naming that
// feed, and the others complete.
func TestReplayBrokenFeed(t *testing.T) {
	items, sum, err := replayOut(t, "../../testdata/broken")
	if err == nil {
		t.Fatalf("replay of a dir with a broken feed exited 0")
	}
	if len(sum.Failures) != 1 || sum.Failures[0].Feed != "broken-truncated" {
		t.Fatalf("failures = %+v, want exactly broken-truncated", sum.Failures)
	}
	if !strings.Contains(sum.Failures[0].Error, "broken-truncated") {
		t.Errorf("error %q does not name the feed", sum.Failures[0].Error)
	}
	feeds := map[string]int{}
	for _, it := range items {
		feeds[it.Feed]++
	}
	if feeds["good-json"] == 0 || feeds["good-rss"] == 0 {
		t.Errorf("items per feed = %v, want the good feeds complete", feeds)
	}
}
