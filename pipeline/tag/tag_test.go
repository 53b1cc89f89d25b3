package tag

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wirewatch/wirewatch/pipeline"
)

const testRules = `
entities:
  - id: zelensky
    kind: person
    aliases: [Volodymyr Zelensky, Zelensky, Zelenskyy, Zelenskiy]
  - id: kyiv
    kind: place
    aliases: [Kyiv, Kiev]
  - id: usa
    kind: place
    aliases: [United States, U.S., {text: US, case: true}]
  - id: ec
    kind: org
    aliases: [European Community, {text: EC, case: true}]
  - id: may
    kind: person
    label: Theresa May
    aliases: [Theresa May, {text: May, case: true, with: [{entity: may}, prime minister]}]
  - id: turkey
    kind: place
    aliases: [{text: Turkey, proper: true}]
  - id: beijing
    kind: place
    in: china
    aliases: [Beijing, 北京]
  - id: china
    kind: place
    aliases: [China, 中国]
  - id: nato
    kind: org
    aliases: [NATO]
topics:
  - id: ceasefire
    any: [cease-fire, truce]
  - id: kyiv-talks
    all:
      - entity: kyiv
      - any: [talks, negotiations]
    near: 3
  - id: title-nato
    field: title
    entity: nato
  - id: often
    any: [{entity: nato}]
    min: 3
  - id: not-china
    all: [{entity: nato}]
    none: [{entity: china}]
`

func testTagger(t *testing.T) *Tagger {
	t.Helper()
	r, err := ParseRules("test.yaml", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	return New(r)
}

func TestMatching(t *testing.T) {
	tg := testTagger(t)
	tests := []struct {
		name, title, text string
		want              []string // entity IDs in Entities
		topics            []string
	}{
		{"spellings and possessive", "", "Zelenskyy's aides met ZELENSKIY; Zelensky’s office in Kiev", []string{"kyiv", "zelensky"}, nil},
		{"diacritics and NFKC", "", "Zelenský spoke in Kyïv; ＵＳ officials", []string{"kyiv", "usa", "zelensky"}, nil},
		{"case-sensitive US", "", "tell us about it, said the U.S. envoy", []string{"usa"}, nil},
		{"US lower-case only", "", "join us", nil, nil},
		{"EC exact", "", "the EC said; an ec2 server; the ec", []string{"ec"}, nil},
		{"May needs context", "", "In May, prices rose.", nil, nil},
		{"May with context", "", "The prime minister, May, said no.", []string{"may"}, nil},
		{"proper Turkey", "", "roast turkey for dinner", nil, nil},
		{"proper Turkey capitalised", "", "Turkey and Syria", []string{"turkey"}, nil},
		{"word boundaries", "", "Kyivstar and NATOs and Kievan", nil, nil},
		{"hyphen variants", "", "a ceasefire, then a cease fire", nil, []string{"ceasefire"}},
		{"plural of a term", "", "two truces failed", nil, []string{"ceasefire"}},
		{"no plural of an alias", "", "the Kyivs of this world", nil, nil},
		{"CJK without spaces", "", "我们在北京开会", []string{"beijing", "china"}, nil},
		{"near within", "", "Kyiv agreed to talks", []string{"kyiv"}, []string{"kyiv-talks"}},
		{"near too far", "", "Kyiv said that it would consider more talks", []string{"kyiv"}, nil},
		{"field scope", "NATO meets", "", []string{"nato"}, []string{"not-china", "title-nato"}},
		{"field scope text only", "", "NATO meets", []string{"nato"}, []string{"not-china"}},
		{"min occurrences", "", "NATO, NATO and NATO in China", []string{"china", "nato"}, []string{"often"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := &pipeline.Item{Title: tt.title, Text: tt.text}
			tg.Tag(it)
			checkEvidence(t, it)
			var got []string
			for _, e := range it.Entities {
				got = append(got, e.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Tag(%q) entities = %v, want %v", tt.text, got, tt.want)
			}
			if got := topics(it); !slices.Equal(got, tt.topics) {
				t.Errorf("Tag(%q) topics = %v, want %v", tt.text, got, tt.topics)
			}
		})
	}
}

func TestEvidenceOffsets(t *testing.T) {
	tg := testTagger(t)
	it := &pipeline.Item{Title: "Zelensky’s day", Text: "Déjà vu: Zelenský met NATO in Kyiv. Zelensky left."}
	tg.Tag(it)
	checkEvidence(t, it)
	var z *pipeline.Tag
	for i := range it.Tags {
		if it.Tags[i].Tag == "zelensky" {
			z = &it.Tags[i]
		}
	}
	if z == nil || len(z.Evidence) != 3 || z.Evidence[0].Field != "title" || z.Evidence[1].Match != "Zelenský" {
		t.Fatalf("zelensky evidence = %+v, want title then \"Zelenský\" then \"Zelensky\"", z)
	}
	for _, e := range it.Entities {
		if e.ID == "zelensky" && e.Mentions != 3 {
			t.Errorf("zelensky mentions = %d, want 3", e.Mentions)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // substrings of the error
	}{
		{"unknown key", "entities:\n  - id: a\n    kind: person\n    alias: [A]\n", []string{"bad.yaml:4", `unknown key "alias"`, `entity "a"`}},
		{"bad kind", "entities:\n  - id: a\n    kind: thing\n    aliases: [A]\n", []string{"bad.yaml:2", `kind "thing"`}},
		{"bad id", "entities:\n  - id: A B\n    kind: org\n    aliases: [A]\n", []string{`id "A B"`}},
		{"no aliases", "entities:\n  - id: a\n    kind: org\n", []string{"no aliases"}},
		{"empty alias", "entities:\n  - id: a\n    kind: org\n    aliases: ['--']\n", []string{"has no words"}},
		{"duplicate", "entities:\n  - {id: a, kind: org, aliases: [A]}\n  - {id: a, kind: org, aliases: [B]}\n", []string{"defined twice"}},
		{"topic without match", "topics:\n  - id: t\n    none: [x]\n", []string{`topic "t"`, "nothing to match"}},
		{"bad near", "topics:\n  - id: t\n    any: [x]\n    near: 3\n", []string{"near"}},
		{"bad field", "topics:\n  - id: t\n    field: body\n    any: [x]\n", []string{`field "body"`}},
		{"not yaml", "entities: [\n", []string{"bad.yaml"}},
		{"two problems", "entities:\n  - {id: a, kind: x, aliases: [A]}\ntopics:\n  - {id: T, any: [y]}\n", []string{`kind "x"`, `id "T"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules("bad.yaml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("ParseRules(%q) = nil error, want %v", tt.doc, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseRules(%q) error %q does not mention %q", tt.doc, err, w)
				}
			}
		})
	}
}

func TestLoadMergeAndReferences(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "entities:\n  - {id: x, kind: org, aliases: [Old Name]}\n")
	write("b.yaml", "entities:\n  - {id: x, kind: org, aliases: [New Name]}\ntopics:\n  - {id: t, entity: x}\n")
	r, err := LoadFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e := r.Entity("x"); e == nil || e.Aliases[0].Text != "New Name" {
		t.Fatalf("merged entity x = %+v, want the later file's", e)
	}
	write("c.yaml", "topics:\n  - {id: u, entity: missing}\n")
	if _, err := LoadFiles(dir); err == nil || !strings.Contains(err.Error(), `unknown entity "missing"`) || !strings.Contains(err.Error(), "c.yaml") {
		t.Fatalf("LoadFiles with a dangling reference: err = %v, want unknown entity naming c.yaml", err)
	}
	// With the gazetteer, place IDs like ukraine resolve.
	write("c.yaml", "topics:\n  - {id: u, entity: ukraine}\n")
	if _, err := Load(dir); err != nil {
		t.Fatalf("Load over the gazetteer: %v", err)
	}
}

func TestGazetteer(t *testing.T) {
	g, err := Gazetteer()
	if err != nil {
		t.Fatal(err)
	}
	tg := New(g)
	tests := []struct{ text, want string }{
		{"l'Allemagne et la Russie", "germany russia"},
		{"Präsident in Moskau und Peking", "beijing china moscow russia"},
		{"Визит в Японию: Япония", "japan"},
		{"TOKYO, March 3 - Japanese exporters", "japan tokyo"},
		{"STAMFORD, Conn., Feb 26 - said", "connecticut usa"},
		{"roast turkey and china plates", ""},
		// A city's name ending a longer capitalised name is not the city.
		{"Analysts at Morgan Stanley said", ""},
		{"Morgan Stanley said", ""},
		{"a novel by Jack London.", ""},
		{"underwritten by First Boston Corp", ""},
		{"In London, shares fell", "london uk"},
		{"across Greater London", "london uk"},
		{"in Port Stanley", "falkland-islands stanley"},
		{"BANK OF MONTREAL CUTS PRIME RATE", "canada montreal"},
		{"Shares Fall In Tokyo", "japan tokyo"},
		{"flights by Air France resumed", ""},
		{"analysts at Credit Suisse said", ""},
		{"the archives of Communist China", "china"},
		{"in Putin's Russia", "russia"},
	}
	for _, tt := range tests {
		it := &pipeline.Item{Text: tt.text}
		tg.Tag(it)
		var got []string
		for _, e := range it.Entities {
			got = append(got, e.ID)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != tt.want {
			t.Errorf("gazetteer Tag(%q) = %v, want %s", tt.text, got, tt.want)
		}
	}
	if len(g.Entities) < 1000 {
		t.Errorf("gazetteer has %d entities, want at least 1000", len(g.Entities))
	}
}

func TestReloader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "r.yaml")
		write := func(doc string, mod time.Time) {
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, mod, mod); err != nil {
				t.Fatal(err)
			}
		}
		write("entities:\n  - {id: a, kind: org, aliases: [Alpha]}\n", time.Unix(1000, 0))
		var got []*Tagger
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		r, err := NewReloader([]string{path}, false, func(t *Tagger) { got = append(got, t) }, log)
		if err != nil {
			t.Fatal(err)
		}
		first := r.Tagger()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx, time.Second) }()

		// A bad file keeps the old rules.
		write("entities:\n  - {id: a, kind: nonsense, aliases: [Alpha]}\n", time.Unix(2000, 0))
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if r.Tagger() != first || len(got) != 0 {
			t.Fatalf("after a bad file: tagger changed (%d reloads), want the old one kept", len(got))
		}
		if e, ok := gaugeOrCounter(t, r.reloads.WithLabelValues("error")), gaugeOrCounter(t, r.lastOK); e != 1 || ok != 0 {
			t.Errorf("after a bad file: reloads{error} = %v, last_reload_successful = %v; want 1 and 0", e, ok)
		}
		// A good change is picked up.
		write("entities:\n  - {id: b, kind: org, aliases: [Beta]}\n", time.Unix(3000, 0))
		time.Sleep(time.Second)
		synctest.Wait()
		if len(got) != 1 || r.Tagger() != got[0] || r.Tagger().Rules().Entity("b") == nil {
			t.Fatalf("after a good change: %d reloads, want 1 with entity b", len(got))
		}
		if n, ok := gaugeOrCounter(t, r.reloads.WithLabelValues("ok")), gaugeOrCounter(t, r.lastOK); n != 1 || ok != 1 {
			t.Errorf("after a good change: reloads{ok} = %v, last_reload_successful = %v; want 1 and 1", n, ok)
		}
		// On demand.
		if err := r.Reload(); err != nil || len(got) != 2 {
			t.Fatalf("Reload() = %v with %d reloads, want nil and 2", err, len(got))
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run() = %v, want nil after cancel", err)
		}
	})
}

func TestConcurrentTag(t *testing.T) {
	tg := summitTagger(t)
	it0 := seedItem(t, "testdata/seeds/002_9f4e31e1b15dc781.txt")
	tg.Tag(it0)
	want, _ := it0.Marshal()
	done := make(chan string)
	for range 4 {
		go func() {
			for range 20 {
				it := seedItem(t, "testdata/seeds/002_9f4e31e1b15dc781.txt")
				tg.Tag(it)
				if got, _ := it.Marshal(); string(got) != string(want) {
					done <- "differs"
					return
				}
			}
			done <- ""
		}()
	}
	for range 4 {
		if msg := <-done; msg != "" {
			t.Fatal("concurrent Tag output differs from sequential")
		}
	}
}

// gaugeOrCounter reads the value of one counter or gauge.
func gaugeOrCounter(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
