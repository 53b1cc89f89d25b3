package parser

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	const x = `<rss>` // makes the document XML
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"clean", x + `a &amp; b &#233; &#x1F600; &#9;&#10;&#13;`, x + `a &amp; b &#233; &#x1F600; &#9;&#10;&#13;`, 0},
		{"nul ref", x + `a&#0;b`, x + `ab`, 1},
		{"nul hex ref", x + `a&#x0;b&#x00000;c`, x + `abc`, 2},
		{"control refs", x + `&#1;&#8;&#11;&#12;&#x1f;&#31;`, x, 6},
		{"non-characters", x + `&#xFFFE;&#xffff;&#65534;`, x, 3},
		{"surrogate", x + `&#xD800;&#57343;`, x, 2},
		{"beyond unicode", x + `&#x110000;&#1114112;&#99999999999999999999999;`, x, 3},
		{"largest legal", x + `&#x10FFFF;&#xFFFD;&#xE000;&#xD7FF;&#32;`, x + `&#x10FFFF;&#xFFFD;&#xE000;&#xD7FF;&#32;`, 0},
		{"not references", x + `&#;&#x;&#0 &#12b &#X0; & # &amp;#0;`, x + `&#;&#x;&#0 &#12b &#X0; & # &amp;#0;`, 0},
		{"ref at end", x + `&#0`, x + `&#0`, 0},
		{"raw controls", x + "a\x00b\x01c\x08d\x0be\x0cf\x1bg\x1fh\ti\nj\rk", x + "abcdefgh\ti\nj\rk", 7},
		{"raw non-characters", x + "a\uFFFEb\uFFFFc\uFFFDd", x + "abc\uFFFDd", 2},
		{"invalid utf-8", x + "caf\xe9 \xed\xa0\x80", x + "caf\uFFFD \uFFFD\uFFFD\uFFFD", 4},
		{"declared utf-8", `<?xml version="1.0" encoding="UTF-8"?><r>caf` + "\xe9&#0;", `<?xml version="1.0" encoding="UTF-8"?><r>caf` + "\uFFFD", 2},
		{"declared latin-1", `<?xml version="1.0" encoding='ISO-8859-1'?><r>caf` + "\xe9\xff\xfe&#0;\x01", `<?xml version="1.0" encoding='ISO-8859-1'?><r>caf` + "\xe9\xff\xfe", 2},
		{"json keeps refs", `{"t": "a&#0;b` + "\x01\xe9\"}", `{"t": "a&#0;b` + "\xe9\"}", 1},
		{"no new reference", x + "&#\x010;&\x01#0;&#x\x01\x020;&#0\x01;", x + "&# 0;& #0;&#x 0;&#0 ;", 5},
		{"declared utf8 single quotes", "<?xml version='1.0' encoding = 'utf8' ?><r>\xe9", "<?xml version='1.0' encoding = 'utf8' ?><r>\uFFFD", 1},
		{"declared windows-1252", "<?xml version=\"1.0\" encoding=\"windows-1252\"?><r>\x93q\x94", "<?xml version=\"1.0\" encoding=\"windows-1252\"?><r>\x93q\x94", 0},
		{"encoding outside the declaration", "<?xml version=\"1.0\"?><r encoding=\"latin1\">\xe9", "<?xml version=\"1.0\"?><r encoding=\"latin1\">\uFFFD", 1},
		{"encoding emptied by the drop", "<?xml version=\"1.0\" encoding=\"&#1;\x02\"?><r>\xe9", "<?xml version=\"1.0\" encoding=\"\"?><r>\uFFFD", 3},
		{"leading space", " \n<r>&#0;</r>", " \n<r></r>", 1},
		{"empty", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n := sanitize([]byte(tt.in))
			if string(got) != tt.want || n != tt.n {
				t.Errorf("sanitize(%q) = %q, %d; want %q, %d", tt.in, got, n, tt.want, tt.n)
			}
		})
	}
}

// TestSanitizeNoCopy checks that a clean document is returned as it is,
// without an allocation.
func TestSanitizeNoCopy(t *testing.T) {
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Caf&#233; &amp; été</title></channel></rss>`)
	if got, _ := sanitize(body); &got[0] != &body[0] {
		t.Errorf("sanitize copied a clean document")
	}
	if a := testing.AllocsPerRun(100, func() { sanitize(body) }); a != 0 {
		t.Errorf("sanitize(clean document): %v allocations, want 0", a)
	}
}

// TestParseIllegalCharacters checks the audit's case: one &#0; in one item
// no longer costs the whole feed.
func TestParseIllegalCharacters(t *testing.T) {
	for _, ref := range []string{"&#0;", "&#x0;", "&#xFFFE;", "\x00", "\uFFFE", "\xff"} {
		body := `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>` +
			`<item><title>Good</title><guid>1</guid><description>fine</description></item>` +
			`<item><title>Bad</title><guid>2</guid><description>one ` + ref + ` here</description></item></channel></rss>`
		f, err := Parse(Source{Name: "dirty"}, []byte(body), fetchTime)
		if err != nil {
			t.Errorf("Parse(item with %q): %v, want both items", ref, err)
			continue
		}
		if len(f.Items) != 2 || f.Items[1].Title != "Bad" || !strings.HasPrefix(f.Items[1].Text, "one ") {
			t.Errorf("Parse(item with %q) = %+v, want both items", ref, f.Items)
		}
	}
}

// FuzzSanitize checks that sanitize leaves nothing it should drop, only
// drops or replaces, is idempotent and never changes a document that needs
// nothing.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"<r>a&#0;b</r>", "<r>\x01\uFFFE\xff&#xD800;&#x10FFFF;</r>", `{"a":"&#0;\u0000` + "\x02\"}",
		`<?xml version="1.0" encoding="latin1"?><r>` + "\xe9&#1;</r>", "<r>&#99999999999999999999;&#x;&#</r>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		out, n := sanitize(body)
		if !bytes.Equal(body, orig) {
			t.Fatalf("sanitize modified its input")
		}
		if n == 0 && !bytes.Equal(out, body) {
			t.Fatalf("sanitize(%q) = %q with n = 0", body, out)
		}
		again, m := sanitize(out)
		if m != 0 || !bytes.Equal(again, out) {
			t.Fatalf("sanitize not idempotent: %q -> %q -> %q (%d changes)", body, out, again, m)
		}
		for _, c := range out {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				t.Fatalf("sanitize(%q) = %q keeps control byte %#x", body, out, c)
			}
		}
		if isXML := bytes.HasPrefix(bytes.TrimLeft(out, " \t\r\n"), []byte("<")); isXML && utf8Declared(out) && !utf8.Valid(out) {
			t.Fatalf("sanitize(%q) = %q: invalid UTF-8 left in a UTF-8 document", body, out)
		}
	})
}

// BenchmarkSanitize measures the pass over a clean feed (the usual case)
// and over one with an illegal reference at its end.
func BenchmarkSanitize(b *testing.B) {
	clean, err := os.ReadFile(filepath.Join("..", "testdata", "feeds", "afp-world.xml"))
	if err != nil {
		b.Fatal(err)
	}
	dirty := append(bytes.Clone(clean), "&#0;"...)
	for _, c := range []struct {
		name string
		body []byte
	}{{"clean", clean}, {"dirty", dirty}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				sanitize(c.body)
			}
		})
	}
}
