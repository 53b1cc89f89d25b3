package dedup

import (
	"slices"
	"testing"
)

func TestAppendWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"plain words here", []string{"plain", "words", "here"}},
		{"Russia's President", []string{"russia", "president"}},
		{"don't stop", []string{"dont", "stop"}},
		{"end's", []string{"end"}},
		{"Zelenskiy’s “Kyiv” 2025-08-16", []string{"zelenskiy", "kyiv", "2025", "08", "16"}},
		{"naïve café", []string{"naïve", "café"}},
		{"abcD x'", []string{"abcd", "x"}},
		{"", nil},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := appendWords(nil, c.in); !slices.Equal(got, c.want) {
				t.Errorf("appendWords(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestBodyLines(t *testing.T) {
	cases := []struct {
		name, title, text string
		want              []string
	}{
		{"headline repeated and byline", "Big news", "Big news\nBy Jane Doe\nThe story starts here.",
			[]string{"The story starts here."}},
		{"dateline cut", "", "MOSCOW, Aug 16 (Reuters) - Putin said things.\nMore text.",
			[]string{"Putin said things.", "More text."}},
		{"dateline line dropped", "", "MADRID, 16 (EUROPA PRESS)\nTrump spoke.",
			[]string{"Trump spoke."}},
		{"related links block", "", "A sentence.\nAnother sentence.\nRelated\nOther headline\nThird headline",
			[]string{"A sentence.", "Another sentence."}},
		{"footer", "", "A sentence.\nCopyright 2025 Outlet. All rights reserved.",
			[]string{"A sentence."}},
		{"no dash in a normal sentence", "", "The US - Russia talks went on.",
			[]string{"The US - Russia talks went on."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := bodyLines(c.title, c.text); !slices.Equal(got, c.want) {
				t.Errorf("bodyLines(%q) = %q, want %q", c.text, got, c.want)
			}
		})
	}
}
