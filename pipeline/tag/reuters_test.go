package tag

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/wirewatch/wirewatch/pipeline"
)

const reutersPath = "../../../shared/data/tagging/reuters21578-train.jsonl"

// reutersEra maps gazetteer place IDs to the Reuters-21578 (1987) label of
// the same country: the archive's vocabulary, not a tuning of the rules.
var reutersEra = map[string]string{
	"germany": "west-germany", "russia": "ussr", "dr-congo": "zaire", "myanmar": "burma", "cambodia": "kampuchea",
	"yemen": "yemen-arab-republic",
}

type prf struct{ tp, fp, fn int }

func (c *prf) add(got, want []string) {
	for _, g := range got {
		if slices.Contains(want, g) {
			c.tp++
		} else {
			c.fp++
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			c.fn++
		}
	}
}

func (c prf) String() string {
	p := float64(c.tp) / float64(max(c.tp+c.fp, 1))
	r := float64(c.tp) / float64(max(c.tp+c.fn, 1))
	return fmt.Sprintf("P %.3f R %.3f F1 %.3f (tp %d fp %d fn %d)", p, r, 2*p*r/max(p+r, 1e-9), c.tp, c.fp, c.fn)
}

func (c prf) precision() float64 { return float64(c.tp) / float64(max(c.tp+c.fp, 1)) }
func (c prf) recall() float64    { return float64(c.tp) / float64(max(c.tp+c.fn, 1)) }

// TestReutersEval measures the gazetteer (places) and the Reuters people and
// organisation rules (testdata/rules/reuters) on the Reuters-21578 training
// split: micro precision and recall per label kind, strict (the item's
// entity tags against the document's labels) and mention-level (every
// entity mentioned, Item.Entities, against the labels). Places are compared
// at country level: cities, states and provinces count through their
// country. Documents with no label at all are skipped (never annotated).
func TestReutersEval(t *testing.T) {
	f, err := os.Open(reutersPath)
	if err != nil {
		t.Skipf("Reuters data not available (%v): skipping the evaluation", err)
	}
	defer f.Close()
	r, err := Load("../../testdata/rules/reuters")
	if err != nil {
		t.Fatal(err)
	}
	tg := New(r)
	kinds := []string{KindPlace, KindPerson, KindOrg}
	labelKey := map[string]string{KindPlace: "places", KindPerson: "people", KindOrg: "orgs"}
	strict, mention := map[string]*prf{}, map[string]*prf{}
	for _, k := range kinds {
		strict[k], mention[k] = &prf{}, &prf{}
	}
	docs := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var d struct {
			Title    string   `json:"title"`
			Dateline string   `json:"dateline"`
			Body     string   `json:"body"`
			Places   []string `json:"places"`
			People   []string `json:"people"`
			Orgs     []string `json:"orgs"`
			Topics   []string `json:"topics"`
			Exch     []string `json:"exchanges"`
			Comp     []string `json:"companies"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Places)+len(d.People)+len(d.Orgs)+len(d.Topics)+len(d.Exch)+len(d.Comp) == 0 {
			continue
		}
		docs++
		it := &pipeline.Item{Title: d.Title, Text: d.Dateline + "\n" + d.Body}
		tg.Tag(it)
		want := map[string][]string{"places": d.Places, "people": d.People, "orgs": d.Orgs}
		gotStrict, gotMention := map[string][]string{}, map[string][]string{}
		for _, tag := range it.Tags {
			if id, ok := evalID(r, tag.Kind, tag.Tag); ok && !slices.Contains(gotStrict[tag.Kind], id) {
				gotStrict[tag.Kind] = append(gotStrict[tag.Kind], id)
			}
		}
		for _, e := range it.Entities {
			if id, ok := evalID(r, e.Kind, e.ID); ok && !slices.Contains(gotMention[e.Kind], id) {
				gotMention[e.Kind] = append(gotMention[e.Kind], id)
			}
		}
		for _, k := range kinds {
			strict[k].add(gotStrict[k], want[labelKey[k]])
			mention[k].add(gotMention[k], want[labelKey[k]])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Reuters-21578 train: %d labelled documents", docs)
	for _, k := range kinds {
		t.Logf("%-6s strict  %v", k, strict[k])
		t.Logf("%-6s mention %v", k, mention[k])
	}
	// Targets from the issue; the figures above are the measurement.
	if p, rc := strict[KindPlace].precision(), strict[KindPlace].recall(); rc < 0.90 || p < 0.80 {
		t.Errorf("places strict P %.3f R %.3f, target P >= 0.80 with R >= 0.90", p, rc)
	}
}

// evalID maps a tagged entity to the Reuters label it stands for: places
// only at country level (entities not inside another), in 1987 names.
func evalID(r *Rules, kind, id string) (string, bool) {
	if kind != KindPlace {
		return id, kind == KindPerson || kind == KindOrg
	}
	if e := r.Entity(id); e == nil || e.In != "" {
		return "", false
	}
	if old, ok := reutersEra[id]; ok {
		return old, true
	}
	return id, true
}
