package dedup

import (
	"slices"
	"strings"
	"testing"
)

func TestDetails(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"count", "The navy captured 23 pirates on Saturday.", []string{"pirate=23"}},
		{"decimal and hyphen", "A 5.6-magnitude earthquake jolted Qeshm island", []string{"magnitude=5.6"}},
		{"number word", "Ten people were killed and five hurt", []string{"people=10", "hurt=5"}},
		{"thousands", "about 1,200 homes lost power", []string{"home=1200"}},
		{"capitals", "TEN People and Twenty-Three Pirates", []string{"people=10", "pirate=3"}},
		{"non-ASCII kind", "3 Männer und 4 Ärzte", []string{"männer=3", "ärzte=4"}},
		{"stop-word kind", "a 35-year-old deputy", nil},
		{"stop word after", "took 23 of them into custody", nil},
		{"punctuation after", "a toll of 10, officials said", nil},
		{"time", "at 17:06 local time", nil},
		{"year", "in 2008 pirates struck", nil},
		{"ordinal", "the 17th century church", nil},
		{"number then number", "two 3 people", []string{"people=3"}},
		{"empty", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want []uint32
			for _, d := range c.want {
				k, v, _ := strings.Cut(d, "=")
				want = append(want, detailHash(k, v))
			}
			if got := details(c.in, nil); !slices.Equal(got, want) {
				t.Errorf("details(%q) = %x, want %x (%q)", c.in, got, want, c.want)
			}
		})
	}
}

func TestDetailsAgree(t *testing.T) {
	dets := func(ds ...string) []uint32 {
		var hs []uint32
		for _, d := range ds {
			k, v, _ := strings.Cut(d, "=")
			hs = append(hs, detailHash(k, v))
		}
		return hs
	}
	terms := func(ds ...string) []term {
		var ts []term
		for _, d := range ds {
			k, v, _ := strings.Cut(d, "=")
			ts = append(ts, term{h: detailHash(k, v), w: 1})
		}
		// Ordinary terms in between, as in a real vector.
		for _, w := range []string{"navy", "pirate", "gulf"} {
			ts = append(ts, term{h: termHash(w), w: 1})
		}
		slices.SortFunc(ts, func(a, b term) int { return int(int64(a.h) - int64(b.h)) })
		return ts
	}
	for _, c := range []struct {
		name string
		a    []uint32
		b    []term
		want bool
	}{
		{"same count", dets("pirate=23"), terms("pirate=23", "year=35"), true},
		{"other count", dets("pirate=23"), terms("pirate=26"), false},
		{"same value, other kind", dets("pirate=23"), terms("ship=23"), false},
		{"no details", dets(), terms("pirate=23"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := detailsAgree(c.a, c.b); got != c.want {
				t.Errorf("detailsAgree = %v, want %v", got, c.want)
			}
			for _, h := range c.a {
				if h == 0 {
					t.Fatal("zero term hash")
				}
			}
		})
	}
	if isDetail(termHash("navy")) || !isDetail(detailHash("pirate", "23")) {
		t.Error("detail and word hashes are not told apart by the low bit")
	}
}

func FuzzDetails(f *testing.F) {
	for _, s := range []string{"23 pirates", "5.6-magnitude", "Ten people", "1,2,3.4.5 x", "17:06 pm", "\xff9 \xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, h := range details(s, nil) {
			if h == 0 || !isDetail(h) {
				t.Fatalf("details(%q): hash %x is not a detail", s, h)
			}
		}
	})
}
