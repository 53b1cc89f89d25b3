package dedup

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

const wire = `Russian President Vladimir Putin and US President Donald Trump met in Anchorage, Alaska, on Friday for talks on the war in Ukraine that lasted nearly three hours.

The two leaders said they had made progress but announced no ceasefire, and Trump said he would call Ukrainian President Volodymyr Zelensky and NATO leaders to brief them.

Putin said any settlement must address what he called the root causes of the conflict, and invited Trump to a second meeting in Moscow.

European leaders said they would wait for the readout before commenting, while Kyiv said nothing should be decided about Ukraine without Ukraine.`

const otherReport = `US President Donald Trump said after his Alaska summit with Vladimir Putin in Anchorage that there was no deal yet on Ukraine but that the meeting was productive.

Trump told reporters aboard Air Force One that Zelensky would have to agree to any arrangement, and that a trilateral meeting could follow soon.`

const unrelated = `The central bank left its main interest rate unchanged on Thursday, saying inflation was easing more slowly than expected and that wage growth remained strong.

Economists had broadly expected the decision; markets now price the first cut for the spring, after the next round of wage negotiations is concluded.`

func item(feed, key, title, text string, at time.Time) *pipeline.Item {
	return &pipeline.Item{
		ID: testID(feed, key), Feed: feed, GUID: key, URL: "https://" + feed + ".example/" + key,
		Title: title, Text: text, Published: at, Fetched: at, ContentHash: testHash(text),
	}
}

// TestDecide walks an engine through the decisions of every level, one
// step at a time, each checked against what must happen.
func TestDecide(t *testing.T) {
	t0 := time.Date(2025, 8, 15, 20, 0, 0, 0, time.UTC)
	now := t0
	e := NewEngine(Config{Now: func() time.Time { return now }})
	orig := item("afp", "1", "Putin and Trump meet in Alaska", wire, t0)
	var origStory string
	steps := []struct {
		name  string
		it    *pipeline.Item
		later time.Duration // wall clock advance before the step
		check func(t *testing.T, d Decision)
	}{
		{"first report creates a story", orig, 0, func(t *testing.T, d Decision) {
			if d.DuplicateOf != "" || d.Event != EventCreated || d.StoryID == "" {
				t.Errorf("got %+v, want a new story", d)
			}
			origStory = d.StoryID
		}},
		{"redelivery gets the same decision", orig, time.Minute, func(t *testing.T, d Decision) {
			if !d.Replay || d.StoryID != origStory || d.Event != EventCreated {
				t.Errorf("got %+v, want replay of story %s", d, origStory)
			}
		}},
		{"re-poll after the redelivery window is dropped", orig, 48 * time.Hour, func(t *testing.T, d Decision) {
			if !d.Drop {
				t.Errorf("got %+v, want drop", d)
			}
		}},
		{"edited title is an update in the same story", func() *pipeline.Item {
			c := *orig
			c.Title = "Putin and Trump end Alaska summit without deal"
			return &c
		}(), 0, func(t *testing.T, d Decision) {
			if !d.Update || d.StoryID != origStory || d.DuplicateOf != "" || d.Event != "" {
				t.Errorf("got %+v, want update of story %s", d, origStory)
			}
		}},
		{"same text in another outlet is an exact copy", item("paper", "x9", "Summit in Alaska", wire, t0.Add(time.Hour)), 0,
			func(t *testing.T, d Decision) {
				if d.DuplicateOf != orig.ID || d.DupKind != pipeline.DupExact || d.StoryID != origStory {
					t.Errorf("got %+v, want exact copy of %s", d, orig.ID)
				}
			}},
		{"same GUID and URL in a second feed of the outlet is exact", func() *pipeline.Item {
			c := item("afp-world", "1", orig.Title, wire+"\n\nUpdated with reaction.", t0.Add(time.Minute))
			c.URL = orig.URL
			return c
		}(), 0, func(t *testing.T, d Decision) {
			if d.DuplicateOf != orig.ID || d.DupKind != pipeline.DupExact {
				t.Errorf("got %+v, want exact copy of %s", d, orig.ID)
			}
		}},
		{"truncated copy with byline, new headline and footer is syndicated", item("republisher", "r1",
			"Trump, Putin hold talks in Anchorage",
			"By Staff Reporter\n\nANCHORAGE, Aug 15 (AFP) - "+strings.Join(strings.Split(wire, "\n\n")[:3], "\n\n")+
				"\n\nRead more: our Ukraine coverage\nRelated\nEU leaders meet\nMarkets today", t0.Add(2*time.Hour)), 0,
			func(t *testing.T, d Decision) {
				if d.DuplicateOf != orig.ID || d.DupKind != pipeline.DupSyndicated || d.StoryID != origStory || d.FirstID != orig.ID {
					t.Errorf("got %+v, want syndicated copy of %s in story %s, first item %s", d, orig.ID, origStory, orig.ID)
				}
			}},
		{"another outlet's own report joins the story", item("reuters", "9", "Trump says no deal yet after Putin summit in Alaska",
			otherReport, t0.Add(3*time.Hour)), 0, func(t *testing.T, d Decision) {
			if d.DuplicateOf != "" || d.StoryID != origStory || d.Event != EventGrew {
				t.Errorf("got %+v (score %.2f), want first copy growing story %s", d, d.Score, origStory)
			}
		}},
		{"an unrelated report starts its own story", item("bank", "5", "Central bank holds rates", unrelated, t0.Add(4*time.Hour)), 0,
			func(t *testing.T, d Decision) {
				if d.StoryID == origStory || d.Event != EventCreated || d.DuplicateOf != "" {
					t.Errorf("got %+v, want a new story", d)
				}
			}},
		{"the same report outside the window starts a new story", item("late", "1", "Trump says no deal yet after Putin summit in Alaska",
			otherReport+"\n\nA week later.", t0.Add(10*24*time.Hour)), 0, func(t *testing.T, d Decision) {
			if d.StoryID == origStory {
				t.Errorf("got %+v, want a story other than %s", d, origStory)
			}
		}},
	}
	for _, st := range steps {
		now = now.Add(st.later)
		d := e.Process(st.it)
		t.Run(st.name, func(t *testing.T) { st.check(t, d) })
	}
}

// TestShortTextIsNotExact checks that bodies too short to tell apart
// (teasers, headline-only feeds) are never exact or syndicated copies.
func TestShortTextIsNotExact(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e := NewEngine(Config{})
	a := item("a", "1", "Markets close higher", "Read the full story on our site.", at)
	b := item("b", "2", "Storm hits coast", "Read the full story on our site.", at)
	e.Process(a)
	if d := e.Process(b); d.DuplicateOf != "" {
		t.Errorf("short identical teasers: got duplicate_of %s (%s), want none", d.DuplicateOf, d.DupKind)
	}
}

// TestApplyReplaysToSameState checks that applying the records of one
// engine to a fresh one (a restart, or a second worker) gives the same
// decisions for what comes next.
func TestApplyReplaysToSameState(t *testing.T) {
	items := makeCorpus(30, 4, 9)
	cfg := Config{}
	a := NewEngine(cfg)
	var recs []*Record
	for _, ci := range items[:80] {
		it := ci.it
		f := extract(&it, &a.cfg)
		d := a.Decide(&it, &f)
		r := newRecord(&it, &f, &d, time.Now())
		// Through JSON, as via the KV bucket.
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		a.Apply(r)
		recs = append(recs, &back)
	}
	b := NewEngine(cfg)
	for _, r := range recs {
		b.Apply(r)
	}
	for _, ci := range items[80:] {
		it := ci.it
		da, db := a.Process(&it), b.Process(&it)
		if da.DuplicateOf != db.DuplicateOf || da.StoryID != db.StoryID || da.Event != db.Event {
			t.Errorf("item %s: live engine %+v, replayed engine %+v", it.ID, da, db)
		}
	}
}

// FuzzProcess feeds hostile titles and texts through the whole decision:
// it must never panic, and a second copy of the same text in another feed
// must never be a first copy when the first was long enough to compare.
func FuzzProcess(f *testing.F) {
	f.Add("Putin and Trump meet", wire)
	f.Add("", "")
	f.Add("By", "By \n\n - \n\nRelated\n\n\n’s ’ 'x' Ω\u00a0\u200b")
	f.Add("MOSCOW", "MOSCOW, Aug 16 (Reuters) - ")
	f.Fuzz(func(t *testing.T, title, text string) {
		at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		e := NewEngine(Config{})
		d1 := e.Process(item("a", "1", title, text, at))
		if d1.DuplicateOf != "" || d1.StoryID == "" {
			t.Fatalf("first item: %+v", d1)
		}
		d2 := e.Process(item("b", "2", title, text, at.Add(time.Minute)))
		f := extract(item("a", "1", title, text, at), &e.cfg)
		if f.shingles > 0 && d2.DuplicateOf == "" {
			t.Fatalf("identical text (%d shingles) in a second feed is a first copy: %+v", f.shingles, d2)
		}
	})
}

// FuzzApplyRecord feeds hostile KV records (another process, or a
// corrupted bucket) to Apply, as catchUp does: it must never panic,
// applying a record twice changes nothing more than applying it once, and
// a new item decided afterwards gets a story and a finite score.
func FuzzApplyRecord(f *testing.F) {
	good, _ := json.Marshal(newRecord(item("a", "1", "t", wire, time.Unix(0, 0)), &features{}, &Decision{StoryID: "s1", Event: EventCreated}, time.Unix(0, 0)))
	f.Add(good)
	f.Add([]byte(`{"id":"x","story":"s","merged":["s","s2","x"],"sig":"AAAA","terms":"AAAAAAAAAAA="}`))
	f.Add([]byte(`{"id":"x","dup":"y","story":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		if json.Unmarshal(data, &r) != nil || r.ID == "" || r.Story == "" {
			return // catchUp skips it
		}
		e := NewEngine(Config{})
		e.Apply(&r)
		once := e.Stats()
		e.Apply(&r)
		if twice := e.Stats(); twice != once {
			t.Fatalf("record applied twice: %+v, once: %+v", twice, once)
		}
		d := e.Process(item("a", "1", "t", wire, time.Unix(0, 0)))
		if !d.Drop && !d.Replay && d.StoryID == "" || math.IsNaN(d.Score) || math.IsInf(d.Score, 0) {
			t.Fatalf("item after record %+v: %+v", r, d)
		}
		e.evict()
	})
}

// TestMerge checks that an item matching two stories strongly merges
// them into the older one, whose ID survives, and that later copies of
// either story's items land in the survivor.
func TestMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	words := func(n int) []string {
		ws := make([]string, n)
		for i := range ws {
			ws[i] = vocab[r.IntN(len(vocab))]
		}
		return ws
	}
	a, b := words(30), words(30)
	both := append(slices.Clone(a), b...)
	r.Shuffle(len(both), func(i, j int) { both[i], both[j] = both[j], both[i] })
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e := NewEngine(Config{})
	da := e.Process(item("f1", "a", strings.Join(a[:5], " "), strings.Join(a, " "), t0))
	db := e.Process(item("f2", "b", strings.Join(b[:5], " "), strings.Join(b, " "), t0.Add(time.Minute)))
	if da.StoryID == db.StoryID {
		t.Fatalf("unrelated items share story %s", da.StoryID)
	}
	dm := e.Process(item("f3", "m", "", strings.Join(both, " "), t0.Add(2*time.Minute)))
	if dm.Event != EventMerged || dm.StoryID != da.StoryID || !slices.Equal(dm.Merged, []string{db.StoryID}) || dm.Size != 3 {
		t.Fatalf("bridging item: got %+v (score %.2f), want merge of %s into %s, size 3", dm, dm.Score, db.StoryID, da.StoryID)
	}
	// An exact copy of b's item now belongs to the surviving story.
	dc := e.Process(item("f4", "bc", "copy", strings.Join(b, " "), t0.Add(3*time.Minute)))
	if dc.DupKind != pipeline.DupExact || dc.StoryID != da.StoryID {
		t.Errorf("copy of a merged story's item: got %+v, want exact copy in %s", dc, da.StoryID)
	}
}

// TestCopyKeepsOriginalHeadline: an outlet republishes a wire story
// under a headline of its own, keeping the original headline as the first
// line of a truncated body after its byline. The original's feed repeats
// its headline as the body's first line. The copy is still a copy.
func TestCopyKeepsOriginalHeadline(t *testing.T) {
	t0 := time.Date(2025, 8, 15, 20, 0, 0, 0, time.UTC)
	e := NewEngine(Config{Now: func() time.Time { return t0 }})
	head := "Putin and Trump hold nearly three hours of talks on Ukraine at an Alaska air base"
	paras := strings.Split(wire, "\n\n")
	orig := item("wire", "1", head, head+"\n\n"+wire, t0)
	cp := item("paper", "7", "Alaska summit ends without ceasefire",
		"By Staff Reporter\n\n"+head+"\n\n"+paras[0], t0.Add(time.Hour))
	if d := e.Process(orig); d.Event != EventCreated {
		t.Fatalf("original: got %+v, want a new story", d)
	}
	if d := e.Process(cp); d.DuplicateOf != orig.ID || d.DupKind != pipeline.DupSyndicated {
		t.Errorf("copy under a new headline: got %+v, want syndicated copy of %s", d, orig.ID)
	}
}
