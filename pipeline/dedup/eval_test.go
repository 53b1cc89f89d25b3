package dedup

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// dataDir is the shared dev data, reached from the package directory.
const dataDir = "../../../shared/data"

type ecbDoc struct {
	DocID    string `json:"doc_id"`
	Topic    int    `json:"topic"`
	Subtopic string `json:"subtopic"`
	URL      string `json:"url"`
	Title    string `json:"title_guess"`
	Text     string `json:"text"`
}

func loadECB(t testing.TB) []ecbDoc {
	t.Helper()
	path := filepath.Join(dataDir, "stories", "ecbplus-dev.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("ECB+ data not available (%v): skipping evaluation", err)
	}
	defer f.Close()
	var docs []ecbDoc
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var d ecbDoc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return docs
}

// testHash stands in for the parser's content hash: SHA-256 of the
// lower-cased, space-collapsed text.
func testHash(text string) string {
	h := sha256.Sum256([]byte(strings.Join(strings.Fields(strings.ToLower(text)), " ")))
	return hex.EncodeToString(h[:])
}

func testID(feed, key string) string {
	h := sha256.Sum256([]byte(feed + "\x00" + key))
	return hex.EncodeToString(h[:16])
}

// ecbItems turns the docs into items in a shuffled order (seed), all
// inside one story window: ECB+ has no dates, so time cannot help.
func ecbItems(docs []ecbDoc, seed uint64) ([]*pipeline.Item, map[string]ecbDoc) {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	order := r.Perm(len(docs))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	items := make([]*pipeline.Item, 0, len(docs))
	byID := map[string]ecbDoc{}
	for i, k := range order {
		d := docs[k]
		feed := "ecb-" + d.DocID
		ts := base.Add(time.Duration(i) * 5 * time.Minute)
		it := &pipeline.Item{
			ID: testID(feed, d.DocID), Feed: feed, GUID: d.DocID, URL: d.URL, Title: d.Title, Text: d.Text,
			Published: ts, Fetched: ts, ContentHash: testHash(d.Text),
		}
		items = append(items, it)
		byID[it.ID] = d
	}
	return items, byID
}

// bcubed returns B-cubed precision, recall and F1 of pred against gold
// (both item -> cluster label).
func bcubed(pred, gold map[string]string) (p, r, f float64) {
	predSets := map[string][]string{}
	goldSets := map[string][]string{}
	for id, c := range pred {
		predSets[c] = append(predSets[c], id)
		goldSets[gold[id]] = append(goldSets[gold[id]], id)
	}
	for id := range pred {
		inter := 0
		for _, o := range predSets[pred[id]] {
			if gold[o] == gold[id] {
				inter++
			}
		}
		p += float64(inter) / float64(len(predSets[pred[id]]))
		r += float64(inter) / float64(len(goldSets[gold[id]]))
	}
	n := float64(len(pred))
	p, r = p/n, r/n
	return p, r, 2 * p * r / (p + r)
}

// pairF1 returns pairwise precision, recall and F1 of pred against gold.
func pairF1(pred, gold map[string]string) (p, r, f float64) {
	ids := make([]string, 0, len(pred))
	for id := range pred {
		ids = append(ids, id)
	}
	var tp, fp, fn float64
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			sp := pred[ids[i]] == pred[ids[j]]
			sg := gold[ids[i]] == gold[ids[j]]
			switch {
			case sp && sg:
				tp++
			case sp:
				fp++
			case sg:
				fn++
			}
		}
	}
	p, r = tp/(tp+fp), tp/(tp+fn)
	return p, r, 2 * p * r / (p + r)
}

// TestEvalECBStories prints B-cubed F1 of story IDs against ECB+
// subtopics over several shuffled orders and fails on any merge of an "a"
// and a "b" subtopic of one topic.
func TestEvalECBStories(t *testing.T) {
	docs := loadECB(t)
	var sumF, minF float64 = 0, 1
	seeds := []uint64{1, 2, 3, 4, 5}
	for _, seed := range seeds {
		items, byID := ecbItems(docs, seed)
		e := NewEngine(Config{})
		pred, gold := map[string]string{}, map[string]string{}
		for _, it := range items {
			d := e.Process(it)
			pred[it.ID] = d.StoryID
			gold[it.ID] = byID[it.ID].Subtopic
		}
		// Resolve merges made after an item was published.
		for id, s := range pred {
			pred[id] = e.resolve(s)
		}
		p, r, f := bcubed(pred, gold)
		mixed := abMerges(pred, byID)
		t.Logf("ECB+ dev seed %d: %d items, %d stories (gold %d): B-cubed P=%.3f R=%.3f F1=%.3f; a/b merges: %d",
			seed, len(items), countValues(pred), countValues(gold), p, r, f, mixed)
		if mixed > 0 {
			t.Errorf("seed %d: %d stories mix an a and a b subtopic of one topic", seed, mixed)
		}
		sumF += f
		minF = min(minF, f)
	}
	t.Logf("ECB+ dev B-cubed F1: mean %.3f, min %.3f over %d orders", sumF/float64(len(seeds)), minF, len(seeds))
}

// abMerges counts predicted stories holding both subtopics of a topic.
func abMerges(pred map[string]string, byID map[string]ecbDoc) int {
	subs := map[string]map[string]bool{}
	for id, s := range pred {
		if subs[s] == nil {
			subs[s] = map[string]bool{}
		}
		subs[s][byID[id].Subtopic] = true
	}
	n := 0
	for _, set := range subs {
		topics := map[string]int{}
		for sub := range set {
			topics[strings.TrimRight(sub, "ab")]++
		}
		for _, c := range topics {
			if c > 1 {
				n++
				break
			}
		}
	}
	return n
}

func countValues(m map[string]string) int {
	set := map[string]bool{}
	for _, v := range m {
		set[v] = true
	}
	return len(set)
}

// TestEvalUCIHeadlines prints pairwise F1 of story grouping from
// headlines alone against the aggregator's story clusters.
func TestEvalUCIHeadlines(t *testing.T) {
	path := filepath.Join(dataDir, "stories", "uci-headlines-dev.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("UCI data not available (%v): skipping evaluation", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	e := NewEngine(Config{})
	pred, gold := map[string]string{}, map[string]string{}
	for _, row := range rows[1:] {
		ms, err := strconv.ParseInt(row[7], 10, 64)
		if err != nil {
			t.Fatalf("%s: timestamp %q: %v", path, row[7], err)
		}
		ts := time.UnixMilli(ms).UTC()
		it := &pipeline.Item{ID: testID(row[3], row[2]), Feed: row[3], URL: row[2], Title: row[1],
			Published: ts, Fetched: ts, ContentHash: testHash("")}
		d := e.Process(it)
		pred[it.ID] = d.StoryID
		gold[it.ID] = row[5]
	}
	for id, s := range pred {
		pred[id] = e.resolve(s)
	}
	p, r, f1 := pairF1(pred, gold)
	bp, br, bf := bcubed(pred, gold)
	t.Logf("UCI headlines: %d items, %d stories (gold %d): pairwise P=%.3f R=%.3f F1=%.3f; B-cubed P=%.3f R=%.3f F1=%.3f",
		len(pred), countValues(pred), countValues(gold), p, r, f1, bp, br, bf)
}

var _ = fmt.Sprint
