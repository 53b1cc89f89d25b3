package dedup

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Diagnostics for tuning, run on demand (they print, they do not check):
//
//	DEDUP_SWEEP=1 go test ./pipeline/dedup -run TestSweepECB -v
//	DEDUP_DIAG=1 go test ./pipeline/dedup -run TestPairsECB -v
//	DEDUP_DIAG=1 go test ./pipeline/dedup -run TestSplitOracleECB -v
//	DEDUP_DIAG=1 go test ./pipeline/dedup -run TestBatchBoundECB -v

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

// TestSplitOracleECB prints, for each order, B-cubed of the stories as
// made and of the same stories split by gold subtopic: how much of the
// gap to a perfect score is stories mixing the two events of a topic
// (precision) and how much is events split over stories (recall).
func TestSplitOracleECB(t *testing.T) {
	if os.Getenv("DEDUP_DIAG") == "" {
		t.Skip("DEDUP_DIAG not set")
	}
	docs := loadECB(t)
	for seed := uint64(1); seed <= 5; seed++ {
		items, byID := ecbItems(docs, seed)
		e := NewEngine(Config{Entities: testEntities(t)})
		pred, gold, split := map[string]string{}, map[string]string{}, map[string]string{}
		for _, it := range items {
			pred[it.ID] = e.Process(it).StoryID
			gold[it.ID] = byID[it.ID].Subtopic
		}
		for id, s := range pred {
			pred[id] = e.resolve(s)
			split[id] = pred[id] + "/" + gold[id]
		}
		p, r, f := bcubed(pred, gold)
		p2, r2, f2 := bcubed(split, gold)
		t.Logf("order %d: as made P %.3f R %.3f F1 %.3f; split by subtopic P %.3f R %.3f F1 %.3f", seed, p, r, f, p2, r2, f2)
	}
}

// TestBatchBoundECB clusters ECB+ dev with every article known at once
// (average-link agglomerative clustering over the full similarity matrix
// of story vectors, IDF of the whole set): no online method with the same
// vectors is expected to do better, so it bounds what tuning the online
// clusterer can reach. Leads of 60 words (the default), 250 and the whole
// text; a threshold sweep, each printed as threshold:F1/a-b merges.
func TestBatchBoundECB(t *testing.T) {
	if os.Getenv("DEDUP_DIAG") == "" {
		t.Skip("DEDUP_DIAG not set")
	}
	docs := loadECB(t)
	ent := testEntities(t)
	for _, lead := range []int{60, 250, 100000} {
		cfg := Config{Entities: ent, LeadWords: lead}.withDefaults()
		vecs := make([][]term, len(docs))
		for i, d := range docs {
			vecs[i] = extract(&pipeline.Item{Title: d.Title, Text: d.Text}, &cfg).terms
		}
		sim := simMatrix(vecs)
		var out []string
		for _, th := range []float64{0.08, 0.1, 0.12, 0.15, 0.18, 0.21, 0.24, 0.3} {
			cl := averageLink(sim, th, 1)
			pred, gold, byID := map[string]string{}, map[string]string{}, map[string]ecbDoc{}
			for i, c := range cl {
				id := strconv.Itoa(i)
				pred[id], gold[id], byID[id] = strconv.Itoa(c), docs[i].Subtopic, docs[i]
			}
			_, _, f := bcubed(pred, gold)
			out = append(out, fmt.Sprintf("%.2f:%.3f/%d", th, f, abMerges(pred, byID)))
		}
		t.Logf("lead %d words: %s", lead, strings.Join(out, " "))
	}
}

// TestBisectOracleECB asks the easiest version of the a/b question: with
// each gold topic's articles given, and told it holds exactly two events,
// can clustering split them? Average-link, and spherical 2-means (best of
// 100 starts). The vectors are weighted by
// rarity over the whole set (global IDF), by rarity inside the topic
// (local IDF: terms every article of the topic shares count for little,
// so the terms that tell its two events apart stand out) and by both;
// terms met in a single article of the topic are dropped, since they
// cannot link two. It prints, per setting, the articles on the wrong
// side of the split and the topics with any.
func TestBisectOracleECB(t *testing.T) {
	if os.Getenv("DEDUP_DIAG") == "" {
		t.Skip("DEDUP_DIAG not set")
	}
	docs := loadECB(t)
	ent := testEntities(t)
	for _, lead := range []int{60, 100000} {
		cfg := Config{Entities: ent, LeadWords: lead}.withDefaults()
		vecs := make([][]term, len(docs))
		for i, d := range docs {
			vecs[i] = extract(&pipeline.Item{Title: d.Title, Text: d.Text}, &cfg).terms
		}
		global, n := docFreq(vecs), float64(len(vecs))
		for _, run := range [][2]string{
			{"average-link", "global"}, {"average-link", "local"}, {"average-link", "global*local"},
			{"2-means", "global"}, {"2-means", "global*local"},
		} {
			algo, mode := run[0], run[1]
			wrong := 0
			var bad []string
			for topic := 1; topic <= 22; topic++ {
				var sub [][]term
				var subtopics []string
				for i, d := range docs {
					if d.Topic == topic {
						sub, subtopics = append(sub, vecs[i]), append(subtopics, d.Subtopic)
					}
				}
				if len(sub) == 0 {
					continue
				}
				local, m := docFreq(sub), float64(len(sub))
				weight := func(h uint32) float64 {
					if local[h] < 2 {
						return 0
					}
					g := math.Log((n + 1) / (float64(global[h]) + 0.5))
					l := math.Log((m + 1) / (float64(local[h]) + 0.5))
					switch mode {
					case "global":
						return g
					case "local":
						return l
					}
					return g * l
				}
				var split []int
				if algo == "average-link" {
					split = averageLink(weightedSim(sub, weight), math.Inf(-1), 2)
				} else {
					split = twoMeans(weighted(sub, weight), 100)
				}
				// Articles outside their cluster's majority subtopic.
				counts := map[[2]string]int{}
				size := map[string]int{}
				for k, c := range split {
					counts[[2]string{strconv.Itoa(c), subtopics[k]}]++
					size[strconv.Itoa(c)]++
				}
				most := map[string]int{}
				for k, v := range counts {
					most[k[0]] = max(most[k[0]], v)
				}
				w := 0
				for c, s := range size {
					w += s - most[c]
				}
				if w > 0 {
					bad = append(bad, fmt.Sprintf("%d:%d", topic, w))
				}
				wrong += w
			}
			t.Logf("lead %d words, %s, %s IDF: %d of %d articles on the wrong side; topics: %s",
				lead, algo, mode, wrong, len(docs), strings.Join(bad, " "))
		}
	}
}

// simMatrix returns the IDF-weighted cosine of every pair of vectors,
// with document frequencies over all of them.
func simMatrix(vecs [][]term) [][]float64 {
	df := docFreq(vecs)
	n := float64(len(vecs))
	return weightedSim(vecs, func(h uint32) float64 { return math.Log((n + 1) / (float64(df[h]) + 0.5)) })
}

// docFreq counts the vectors each term occurs in.
func docFreq(vecs [][]term) map[uint32]int {
	df := map[uint32]int{}
	for _, v := range vecs {
		for _, tm := range v {
			df[tm.h]++
		}
	}
	return df
}

// weightedSim returns the cosine of every pair of vectors with each
// term's weight multiplied by weight(term).
func weightedSim(vecs [][]term, weight func(h uint32) float64) [][]float64 {
	ws := weighted(vecs, weight)
	sim := make([][]float64, len(vecs))
	for i := range sim {
		sim[i] = make([]float64, len(vecs))
	}
	for i := range ws {
		sim[i][i] = 1
		for j := i + 1; j < len(ws); j++ {
			c := dot(ws[i], ws[j])
			sim[i][j], sim[j][i] = c, c
		}
	}
	return sim
}

// weighted returns the vectors with each term's weight multiplied by
// weight(term), normalised to unit length.
func weighted(vecs [][]term, weight func(h uint32) float64) []map[uint32]float64 {
	ws := make([]map[uint32]float64, len(vecs))
	for i, v := range vecs {
		m := map[uint32]float64{}
		for _, tm := range v {
			if x := float64(tm.w) * weight(tm.h); x != 0 {
				m[tm.h] = x
			}
		}
		ws[i] = unit(m)
	}
	return ws
}

func unit(m map[uint32]float64) map[uint32]float64 {
	var norm float64
	for _, x := range m {
		norm += x * x
	}
	for k := range m {
		m[k] /= math.Sqrt(norm)
	}
	return m
}

func dot(a, b map[uint32]float64) float64 {
	var c float64
	for k, x := range a {
		c += x * b[k]
	}
	return c
}

// twoMeans splits unit vectors in two by spherical k-means, keeping the
// best of starts runs from random pairs of seeds; it returns a side (0
// or 1) per vector.
func twoMeans(ws []map[uint32]float64, starts int) []int {
	r := rand.New(rand.NewPCG(1, 2))
	best, bestObj := make([]int, len(ws)), math.Inf(-1)
	side := make([]int, len(ws))
	for range starts {
		a, b := r.IntN(len(ws)), r.IntN(len(ws))
		if a == b {
			continue
		}
		cents := [2]map[uint32]float64{ws[a], ws[b]}
		var obj float64
		for range 30 {
			obj = 0
			for i, w := range ws {
				d0, d1 := dot(w, cents[0]), dot(w, cents[1])
				side[i] = 0
				if d1 > d0 {
					side[i] = 1
				}
				obj += max(d0, d1)
			}
			cents = [2]map[uint32]float64{{}, {}}
			for i, w := range ws {
				for k, x := range w {
					cents[side[i]][k] += x
				}
			}
			unit(cents[0])
			unit(cents[1])
		}
		if obj > bestObj {
			bestObj = obj
			copy(best, side)
		}
	}
	return best
}

// averageLink merges the two clusters with the highest mean pairwise
// similarity until it falls below th or k clusters are left; it returns
// a cluster per item.
func averageLink(sim [][]float64, th float64, k int) []int {
	n := len(sim)
	members := make([][]int, n)
	sum := make([][]float64, n) // sum of similarities between clusters i and j
	alive := make([]bool, n)
	for i := range n {
		members[i], sum[i], alive[i] = []int{i}, slices.Clone(sim[i]), true
	}
	for left := n; left > k; left-- {
		bi, bj, best := -1, -1, th
		for i := range n {
			for j := i + 1; alive[i] && j < n; j++ {
				if alive[j] {
					if a := sum[i][j] / float64(len(members[i])*len(members[j])); a >= best {
						bi, bj, best = i, j, a
					}
				}
			}
		}
		if bi < 0 {
			break
		}
		members[bi] = append(members[bi], members[bj]...)
		alive[bj] = false
		for x := range n {
			sum[bi][x] += sum[bj][x]
			sum[x][bi] = sum[bi][x]
		}
	}
	out := make([]int, n)
	for i := range n {
		for _, x := range members[i] {
			if alive[i] {
				out[x] = i
			}
		}
	}
	return out
}
