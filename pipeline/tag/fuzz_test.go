package tag

import (
	"os"
	"testing"

	"github.com/wirewatch/wirewatch/pipeline"
)

func FuzzParseRules(f *testing.F) {
	f.Add([]byte(testRules))
	if data, err := os.ReadFile("../../testdata/rules/summit.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("topics:\n  - id: t\n    all: [{any: [a, b], min: 2}, {entity: [x]}]\n    near: 2\n"))
	f.Add([]byte("entities: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRules("fuzz.yaml", data)
		if err != nil {
			return
		}
		_ = r.Check()
		it := &pipeline.Item{Title: "Alpha NATO", Text: "Zelensky met Putin in Kyiv; a cease-fire, talks and U.S. aid."}
		New(r).Tag(it)
		checkEvidence(t, it)
	})
}

func FuzzTag(f *testing.F) {
	tg := summitTagger(f)
	for _, s := range []string{"Zelenskyy’s talks in Kyïv", "ＵＳ and 北京", "a\u0301\u0301 Putin's", "\xff\xfeKiev", "U.S.", "Calif.,"} {
		f.Add("title "+s, s)
	}
	f.Fuzz(func(t *testing.T, title, text string) {
		it := &pipeline.Item{Title: title, Text: text}
		tg.Tag(it)
		checkEvidence(t, it)
	})
}
