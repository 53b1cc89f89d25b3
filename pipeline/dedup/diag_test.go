package dedup

import (
	"math"
	"os"
	"strings"
	"testing"
)

// Diagnostics for tuning, run on demand (they print, they do not check):
//
//	DEDUP_SWEEP=1 go test ./pipeline/dedup -run TestSweepECB -v
//	DEDUP_DIAG=1 go test ./pipeline/dedup -run TestPairsECB -v

// TestSweepECB prints ECB+ B-cubed F1 (mean and min over the 5 orders)
// and a/b merges over a grid of story parameters, with the tagger's
// entities as in production.
func TestSweepECB(t *testing.T) {
	if os.Getenv("DEDUP_SWEEP") == "" {
		t.Skip("DEDUP_SWEEP not set")
	}
	docs := loadECB(t)
	ent := testEntities(t)
	for _, th := range []float64{0.15, 0.2, 0.25, 0.3} {
		for _, sw := range []float64{-1, 0.2, 0.3, 0.5} {
			for _, ew := range []float64{1, 2, 3} {
				cfg := Config{Entities: ent, StoryThreshold: th, SeedWeight: sw, EntityWeight: ew}
				mean, minF, mixed := evalECB(t, docs, cfg, false)
				t.Logf("story_threshold=%.2f seed_weight=%.1f entity_weight=%.0f: B-cubed F1 mean %.3f min %.3f, a/b merges %d",
					th, sw, ew, mean, minF, mixed)
			}
		}
	}
}

// TestPairsECB prints histograms of the IDF-weighted cosine between the
// story vectors of two ECB+ articles (IDF of the whole set, as after one
// order is processed): pairs of one subtopic, pairs of the two subtopics
// of one topic (which must stay apart), and the rest. Where the first two
// overlap, no threshold on bag-of-words similarity separates the events.
func TestPairsECB(t *testing.T) {
	if os.Getenv("DEDUP_DIAG") == "" {
		t.Skip("DEDUP_DIAG not set")
	}
	docs := loadECB(t)
	items, byID := ecbItems(docs, 1)
	e := NewEngine(Config{Entities: testEntities(t)})
	fs := make([]features, len(items))
	for i, it := range items {
		e.Process(it)
		fs[i] = extract(it, &e.cfg)
	}
	vs := make([]map[uint32]float64, len(items))
	for i := range fs {
		m := map[uint32]float64{}
		var n float64
		for _, tm := range fs[i].terms {
			x := float64(tm.w) * e.idf(tm.h)
			m[tm.h] = x
			n += x * x
		}
		for k := range m {
			m[k] /= math.Sqrt(n)
		}
		vs[i] = m
	}
	hist := map[string][]int{"same": make([]int, 11), "a/b": make([]int, 11), "other": make([]int, 11)}
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			var c float64
			for k, x := range vs[i] {
				c += x * vs[j][k]
			}
			a, b := byID[items[i].ID].Subtopic, byID[items[j].ID].Subtopic
			kind := "other"
			switch {
			case a == b:
				kind = "same"
			case strings.TrimRight(a, "ab") == strings.TrimRight(b, "ab"):
				kind = "a/b"
			}
			hist[kind][min(10, int(c*20))]++
		}
	}
	for _, k := range []string{"same", "a/b", "other"} {
		t.Logf("%-5s pairs by cosine [0,0.05) [0.05,0.1) … [0.45,0.5) ≥0.5: %v", k, hist[k])
	}
}
