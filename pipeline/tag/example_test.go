package tag_test

import (
	"fmt"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/tag"
)

func Example() {
	rules, err := tag.ParseRules("example.yaml", []byte(`
entities:
  - id: zelensky
    kind: person
    label: Volodymyr Zelensky
    aliases: [Volodymyr Zelensky, Zelensky, Zelenskiy, Zelenskyy]
topics:
  - id: ceasefire
    all:
      - any: [ceasefire, cease-fire, truce]
      - entity: [zelensky, ukraine]
    near: 10
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	g, err := tag.Gazetteer()
	if err != nil {
		fmt.Println(err)
		return
	}
	merged, err := tag.Merge(g, rules)
	if err != nil {
		fmt.Println(err)
		return
	}
	it := &pipeline.Item{Title: "Zelenskiy’s offer", Text: "KYIV - Ukraine proposed a cease-fire on Tuesday."}
	tag.New(merged).Tag(it)
	for _, t := range it.Tags {
		fmt.Print(t.Kind, " ", t.Tag, ":")
		for _, e := range t.Evidence {
			fmt.Printf(" %s[%d:%d]=%q", e.Field, e.Start, e.End, e.Match)
		}
		fmt.Println()
	}
	// Output:
	// person zelensky: title[0:9]="Zelenskiy"
	// place kyiv: text[0:4]="KYIV"
	// place ukraine: text[0:4]="KYIV" text[7:14]="Ukraine"
	// topic ceasefire: text[0:4]="KYIV" text[7:14]="Ukraine" text[26:36]="cease-fire"
}
