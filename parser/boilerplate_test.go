package parser

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestBoilerplateLearnStrip(t *testing.T) {
	const footer = "Sign up for the Example Daily newsletter © 2025"
	quote := `"We will not back down," the minister said.`
	b := NewBoilerplate()
	for i := range 20 {
		// Distinct words per item (digits alone do not make blocks differ).
		w := strings.Repeat(string(rune('a'+i)), 3)
		text := fmt.Sprintf("Story %s opens with its own lead.\n\nA second paragraph, %s.", w, w)
		if i < 8 {
			text += "\n\n" + quote // a running story repeats one quote in 8 of 20 items
		}
		// Footers change the year; digits are normalised.
		text += "\n\n" + strings.Replace(footer, "2025", fmt.Sprint(2020+i%3), 1)
		b.Learn(text)
		b.Learn(text) // a re-poll of the same item is not counted again
	}
	tests := []struct {
		name, in, want string
	}{
		{"footer stripped", "New lead.\n\n" + footer, "New lead."},
		{"footer other year", "New lead.\n\nSign up for the Example Daily newsletter © 2031", "New lead."},
		{"repeated quote kept", "New lead.\n\n" + quote, "New lead.\n\n" + quote},
		{"all boilerplate kept whole", footer, footer},
		{"nothing to strip", "Only fresh text.", "Only fresh text."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Strip(tt.in); got != tt.want {
				t.Errorf("Strip(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if !b.IsBoilerplate(footer) || b.IsBoilerplate(quote) {
		t.Errorf("IsBoilerplate(footer, quote) = %v, %v, want true, false", b.IsBoilerplate(footer), b.IsBoilerplate(quote))
	}
}

func TestBoilerplateNeedsHistory(t *testing.T) {
	b := NewBoilerplate()
	b.Learn("A.\n\nFooter line here")
	b.Learn("B.\n\nFooter line here")
	if got := b.Strip("C.\n\nFooter line here"); got != "C.\n\nFooter line here" {
		t.Errorf("Strip after 2 items = %q, want nothing stripped (MinItems 5)", got)
	}
}

func TestBoilerplateForgets(t *testing.T) {
	b := &Boilerplate{Window: 10, MaxBlocks: 64}
	for i := range 10 {
		b.Learn(fmt.Sprintf("Item %d text.\n\nOld footer line", i))
	}
	if !b.IsBoilerplate("Old footer line") {
		t.Fatal("footer in 10 of 10 items not learnt")
	}
	for i := range 500 {
		b.Learn(fmt.Sprintf("Fresh item %d, %s.", i, strings.Repeat("x", i%50)))
	}
	if b.IsBoilerplate("Old footer line") {
		t.Error("footer not seen for 500 items is still boilerplate")
	}
	if n := len(b.blocks); n > 64 {
		t.Errorf("table holds %d blocks, want at most MaxBlocks 64", n)
	}
}

func TestBoilerplateConcurrent(t *testing.T) {
	b := NewBoilerplate()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				text := fmt.Sprintf("g%d item %d.\n\nShared footer text", g, i)
				b.Learn(text)
				_ = b.Strip(text)
			}
		})
	}
	wg.Wait()
	if got := b.Strip("x y z.\n\nShared footer text"); got != "x y z." {
		t.Errorf("Strip after concurrent learning = %q, want footer gone", got)
	}
}

func TestStripRepeated(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"too few", []string{"a b c\n\nfoot er line", "d e f\n\nfoot er line"}, []string{"a b c\n\nfoot er line", "d e f\n\nfoot er line"}},
		{
			"footer in all",
			[]string{"one two three\n\nSubscribe to our list", "four five six\n\nSubscribe to our list", "seven eight nine\n\nSubscribe to our list"},
			[]string{"one two three", "four five six", "seven eight nine"},
		},
		{
			"quote in two of six kept",
			[]string{"aa bb cc\n\nthe same quote here", "dd ee ff\n\nthe same quote here", "gg hh", "ii jj", "kk ll", "mm nn"},
			[]string{"aa bb cc\n\nthe same quote here", "dd ee ff\n\nthe same quote here", "gg hh", "ii jj", "kk ll", "mm nn"},
		},
		{
			"item that is only boilerplate kept",
			[]string{"Subscribe to our list", "x y z\n\nSubscribe to our list", "p q r\n\nSubscribe to our list"},
			[]string{"Subscribe to our list", "x y z", "p q r"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StripRepeated(tt.in)
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Errorf("StripRepeated(%q)[%d] = %q, want %q", tt.in, i, got[i], tt.want[i])
				}
			}
		})
	}
}
