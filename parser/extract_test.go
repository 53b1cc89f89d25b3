package parser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestExtractGolden extracts every page (*.html) and feed fragment
// (*.frag.html) in testdata/extract and compares with <case>.golden.txt;
// go test ./parser -update rewrites the golden files.
func TestExtractGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "extract", "*.html"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/extract/*.html: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".html")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if strings.HasSuffix(name, ".frag") {
				got = Text(string(in))
			} else {
				a, err := ExtractArticle(in, "", "https://example.com/"+name)
				if err != nil {
					t.Fatalf("ExtractArticle(%s): %v", name, err)
				}
				got = "title: " + a.Title + "\nlang: " + a.Lang + "\nsource: " + a.Source + "\n\n" + a.Text
			}
			got += "\n"
			golden := strings.TrimSuffix(f, ".html") + ".golden.txt"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./parser -update)", err)
			}
			if got != string(want) {
				t.Errorf("extract %s:\n--- got\n%s\n--- want\n%s", name, got, want)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain text", "Just a line of text.", "Just a line of text."},
		{"entities only", "Fish &amp; chips", "Fish & chips"},
		{"blocks", "<h2>Head</h2><p>One <b>bold</b> word.</p><ul><li>a</li><li>b</li></ul>", "Head\n\nOne bold word.\n\na\n\nb"},
		{"br lines", "<p>line one<br>line two</p>", "line one\nline two"},
		{"double br paragraphs", "first para<br><br><br>second para<br>", "first para\n\nsecond para"},
		{"inline spacing", "<p>a<span>b</span> <i>c</i></p>", "ab c"},
		{"script style form", "<p>x</p><script>alert(1)</script><style>p{}</style><form><input value=v>Sign up</form>", "x"},
		{"share block", `<p>Body.</p><div class="share-buttons"><a>Share on Facebook</a></div>`, "Body."},
		{"read more link", `<p>Teaser text. <a href="/x">Read more &raquo;</a></p>`, "Teaser text."},
		{"read more suffix", `Teaser text. Continue reading`, "Teaser text."},
		{"hellip suffix", `<p>Teaser text [&hellip;]</p>`, "Teaser text"},
		{"caption", `<figure><img src=a><figcaption>Photo: AP</figcaption></figure><p>Body.</p>`, "Body."},
		{"credit line", `<p>Photo: Jane Doe/Reuters</p><p>Body.</p><p>(Image credit: NASA)</p>`, "Body."},
		{"photo sentence kept", `<p>Photographers gathered outside the court.</p>`, "Photographers gathered outside the court."},
		{"credit class", `<p class="image-credit">Getty Images</p><p>Body.</p>`, "Body."},
		{"hidden", `<p style="display: none">x</p><p hidden>y</p><p>Body.</p>`, "Body."},
		{"appeared first", `<p>Body.</p><p>The post <a>X</a> appeared first on <a>Y</a>.</p>`, "Body."},
		{"copyright footer", `<p>Body.</p><p>© 2025 Example Media. All rights reserved.</p>`, "Body."},
		{"footer sentence in last block", `<p>Body text here. This article was originally published by Example.</p>`, "Body text here."},
		{"copyright mid text kept", `<p>The court ruled on copyright © law. It matters.</p><p>End.</p>`, "The court ruled on copyright © law. It matters.\n\nEnd."},
		{"nested lists", "<ol><li>one<ul><li>inner</li></ul></li></ol>", "one\n\ninner"},
		{"invalid utf8", "<p>a\xffb</p>", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExtractArticleContentType(t *testing.T) {
	page := []byte("<p>" + strings.Repeat("Some words, of prose, here. ", 30) + "</p>")
	tests := []struct {
		contentType string
		wantErr     bool
	}{
		{"", false},
		{"text/html; charset=utf-8", false},
		{"application/xhtml+xml", false},
		{"TEXT/HTML", false},
		{"garbage;;;", false},
		{"application/pdf", true},
		{"image/png", true},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			a, err := ExtractArticle(page, tt.contentType, "https://example.com/a")
			if (err != nil) != tt.wantErr {
				t.Fatalf("ExtractArticle(%q) error = %v, wantErr %v", tt.contentType, err, tt.wantErr)
			}
			if !tt.wantErr && !strings.Contains(a.Text, "Some words") {
				t.Errorf("ExtractArticle(%q).Text = %q", tt.contentType, a.Text)
			}
		})
	}
}

func TestExtractArticleCharset(t *testing.T) {
	latin1 := []byte("<html><head><meta charset=\"iso-8859-1\"></head><body><div><p>" +
		strings.Repeat("Le caf\xe9 est ferm\xe9, dit-il, et la client\xe8le est partie. ", 12) + "</p></div></body></html>")
	utf8Mislabelled := []byte("<html><head><meta charset=\"iso-8859-1\"></head><body><div><p>" +
		strings.Repeat("Le café est fermé, dit-il, et la clientèle est partie. ", 12) + "</p></div></body></html>")
	tests := []struct {
		name        string
		page        []byte
		contentType string
	}{
		{"meta latin1", latin1, ""},
		{"header latin1", []byte(strings.Replace(string(latin1), `<meta charset="iso-8859-1">`, "", 1)), "text/html; charset=ISO-8859-1"},
		{"utf8 mislabelled latin1", utf8Mislabelled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ExtractArticle(tt.page, tt.contentType, "")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(a.Text, "Le café est fermé, dit-il, et la clientèle") {
				t.Errorf("ExtractArticle(%s).Text = %.80q, want decoded French", tt.name, a.Text)
			}
		})
	}
}

// TestExtractHostile runs inputs that break naive extractors (deep
// nesting, unterminated raw text, huge nodes): they must not panic, and the
// time each takes is printed (a quadratic path shows up as seconds here,
// and as a test timeout at worst).
// TestExtractArticleNotHTML checks that binary content given without a
// telling content type is named for what it looks like, and that pages
// nested past the HTML parser's limit are named as such.
func TestExtractArticleNotHTML(t *testing.T) {
	tests := []struct {
		name, page, contentType, want string
	}{
		{"pdf", "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "", "not an HTML page (the content looks like application/pdf)"},
		{"png as octet-stream", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "application/octet-stream", "not an HTML page (the content looks like image/png)"},
		{"binary", "\x00\x01\x02\xff\xfe<\x00p>", "", "not an HTML page (the content looks like application/octet-stream)"},
		{"deep nesting", strings.Repeat("<div>", 1000) + "text", "", "elements nested too deep"},
	}
	for _, tt := range tests {
		_, err := ExtractArticle([]byte(tt.page), tt.contentType, "https://example.com/a")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ExtractArticle error = %v, want %q", tt.name, err, tt.want)
		}
	}
	// Pages without a doctype, or in UTF-16 with a BOM, are still pages.
	for _, page := range []string{"<p>" + strings.Repeat("Some words here. ", 30) + "</p>", "\xff\xfe<\x00p\x00>\x00h\x00i\x00"} {
		if _, err := ExtractArticle([]byte(page), "", ""); err != nil && strings.Contains(err.Error(), "not an HTML page") {
			t.Errorf("ExtractArticle(%q) refused a page: %v", page[:8], err)
		}
	}
}

func TestExtractHostile(t *testing.T) {
	tests := map[string]string{
		"deep nesting":      strings.Repeat("<div>", 100000) + "text" + strings.Repeat("</div>", 100000),
		"deep inline":       strings.Repeat("<b><i>", 50000) + "text",
		"unclosed":          "<html><body><p>one<p>two<table><tr><td>three",
		"bad json-ld":       `<script type="application/ld+json">{"articleBody": [1,2,{"@graph":</script>`,
		"json-ld nesting":   `<script type="application/ld+json">` + strings.Repeat("[", 100000) + `</script>`,
		"binary":            "\x00\x01\x02\xff\xfe<\x00p>",
		"many attributes":   "<p " + strings.Repeat(`class="share" `, 10000) + ">x</p>",
		"utf16 label":       `<meta charset="utf-16"><p>x</p>`,
		"unknown charset":   `<meta charset="x-klingon"><p>x</p>`,
		"only whitespace":   strings.Repeat(" \n\t", 1000),
		"huge text node":    "<p>" + strings.Repeat("word, ", 200000) + "</p>",
		"nested forms":      strings.Repeat("<form><p>a</p>", 1000),
		"read more anchor":  strings.Repeat(`<a href="/x">Read more</a>`, 1000),
		"unclosed navs":     strings.Repeat("<nav>x", 200000),
		"unclosed scripts":  strings.Repeat("<script>x", 200000),
		"unclosed comments": strings.Repeat("<!--x", 200000),
		"navs closing late": strings.Repeat("<nav>x", 100000) + strings.Repeat("</nav>", 50000),
		"ld+json scripts":   strings.Repeat(`<script type="application/ld+json">{"articleBody":"x"}</script>`, 20000),
	}
	for name, page := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			if _, err := ExtractArticle([]byte(page), "", ""); err != nil {
				t.Logf("ExtractArticle(%s): %v", name, err)
			}
			_ = Text(page)
			t.Logf("%s: %d bytes in %v", name, len(page), time.Since(start))
		})
	}
}

func FuzzExtract(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "extract", "*.html"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, "")
		}
	}
	f.Add([]byte(`<script type="application/ld+json">{"@type":"NewsArticle","articleBody":"<p>x</p>"}</script>`), "text/html; charset=utf-8")
	f.Add([]byte("<div><p>a<div><p>b"), "text/html; charset=shift_jis")
	f.Fuzz(func(t *testing.T, page []byte, contentType string) {
		if len(page) > 1<<20 {
			return
		}
		a, err := ExtractArticle(page, contentType, "https://example.com/")
		if err != nil {
			return
		}
		// The text can never be larger than the page's text (after
		// decoding a single-byte charset to UTF-8, at most 3x).
		if len(a.Text) > 3*len(page)+16 {
			t.Errorf("ExtractArticle: %d bytes of text from a %d-byte page", len(a.Text), len(page))
		}
		for _, s := range []string{a.Text, a.Title, a.Lang} {
			if !utf8.ValidString(s) {
				t.Errorf("ExtractArticle: invalid UTF-8 %q", s)
			}
		}
	})
}

func FuzzText(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "extract", "*.frag.html"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("<p>a</p><p>The post x appeared first on y</p>")
	f.Add("plain & text\n\nwith lines")
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 1<<20 {
			return
		}
		got := Text(in)
		if len(got) > 3*len(in)+16 {
			t.Errorf("Text: %d bytes from %d", len(got), len(in))
		}
		if strings.Contains(got, "\n\n\n") {
			t.Errorf("Text(%q) = %q: more than one blank line between blocks", in, got)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Text(%q) = %q: invalid UTF-8", in, got)
		}
	})
}

func TestStripRaw(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"script", `a<script>var x = "</div>";</script>b`, "a b"},
		{"upper case", `a<SCRIPT type="text/javascript">x</Script >b`, "a b"},
		{"style and comment", `a<style>p{}</style><!-- c -->b`, "a  b"},
		{"svg", `a<svg viewBox="0 0 1 1"><path d="M0"/></svg>b`, "a b"},
		{"json-ld kept", `<script type="application/ld+json">{}</script>`, `<script type="application/ld+json">{}</script>`},
		{"unterminated kept", `a<script>x`, `a<script>x`},
		{"not a script", `a<scripts>b<noscript>c</noscript>`, `a<scripts>b<noscript>c</noscript>`},
		{"lone angle", `a < b <`, `a < b <`},
		{"nav", `a<nav class="x"><ul><li><a>Home</a></li></ul></nav>b`, "a b"},
		{"nested aside", `a<ASIDE><aside>x</aside>y</Aside>b`, "a b"},
		{"unclosed nav kept", `a<nav><p>x`, `a<nav><p>x`},
		{"navigation is not nav", `<navigation>x</navigation>`, `<navigation>x</navigation>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(stripRaw(nil, []byte(tt.in))); got != tt.want {
				t.Errorf("stripRaw(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFinishArticle(t *testing.T) {
	body := "The talks lasted nearly three hours, officials said on Friday."
	tests := []struct {
		name   string
		blocks []string
		want   string
	}{
		{"dateline", []string{"Updated 11:21 pm CST, Tuesday, November 19, 2019", body}, body},
		{"byline with date", []string{"By Jane Doe - 11/18/19 11:04 PM EST", body}, body},
		{"byline name", []string{"By Jane Doe", body}, body},
		{"sentence starting with by kept", []string{"By noon, the crowd had grown to thousands of people.", body}, "By noon, the crowd had grown to thousands of people.\n\n" + body},
		{"pointer", []string{body, "Related: Leaders arrive in Alaska", body}, body + "\n\n" + body},
		{"chrome", []string{"Advertisement", body, "You may also like..."}, body},
		{"rule line", []string{body, "___", body}, body + "\n\n" + body},
		{"trailing follow", []string{body, "Follow her on Twitter @example.", "Get the latest updates. Subscribe to our newsletter."}, body},
		{"follow inside story kept", []string{"Investors will follow the decision closely, analysts said.", body}, "Investors will follow the decision closely, analysts said.\n\n" + body},
		{"by year kept", []string{"By 2030 the city plans 10,000 more trees", body}, "By 2030 the city plans 10,000 more trees\n\n" + body},
		{"published sentence kept", []string{"Published in 1999, the book sold 2 million copies.", body}, "Published in 1999, the book sold 2 million copies.\n\n" + body},
		{"dateline p.m.", []string{"Updated at 1:23 p.m.", body}, body},
		{"trailing follow the money kept", []string{body, "Follow the money."}, body + "\n\nFollow the money."},
		{"headline repeated", []string{"Summit ends", body}, body},
	}
	m := &pageMeta{h1: "Summit ends"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := finishArticle(append([]string(nil), tt.blocks...), m); got != tt.want {
				t.Errorf("finishArticle(%q) = %q, want %q", tt.blocks, got, tt.want)
			}
		})
	}
}

func TestExtractArticleRules(t *testing.T) {
	para := func(s string) string {
		return "<p>" + s + ", officials said on Tuesday, adding that talks would continue next week in the capital.</p>"
	}
	story := para("First") + para("Second") + para("Third") + para("Fourth")
	tests := []struct {
		name, page, want, notWant string
	}{
		{
			"negative-named wrapper of one paragraph kept",
			`<article><div class="body"><div class="el__leafmedia"><p><cite>Rome (Wire)</cite> The lead paragraph of the story is here, and it is long enough to read as prose.</p></div>` + story + `</div></article>`,
			"The lead paragraph of the story is here", "",
		},
		{
			"caption-named prose dropped",
			`<article><div class="body">` + story + `<div class="image-caption">The minister arrives at the summit venue on Tuesday morning, surrounded by aides.</div></div></article>`,
			"Fourth, officials", "The minister arrives",
		},
		{
			"json-ld wins over a teaser in the markup",
			`<script type="application/ld+json">{"@type":"NewsArticle","articleBody":"` + strings.Repeat("A long body sentence, with detail. ", 40) + `"}</script><div><p>Teaser only, read the rest in the app.</p></div>`,
			"A long body sentence", "Teaser only",
		},
		{
			"markup wins over json-ld teaser",
			`<script type="application/ld+json">{"@type":"NewsArticle","articleBody":"Short teaser of the story, not the whole of it, just a sentence or two to tempt readers in."}</script><article>` + story + `</article>`,
			"Fourth, officials", "",
		},
		{
			"comment-named section dropped",
			`<article>` + story + `</article><div id="comments">` + strings.Repeat(para("A reader writes"), 8) + `</div>`,
			"Fourth, officials", "A reader writes",
		},
		{
			"hidden text dropped",
			`<article>` + story + `<p style="display:none">Hidden spam text that is long enough to count as a paragraph, honest.</p></article>`,
			"Third, officials", "Hidden spam",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ExtractArticle([]byte("<html><body>"+tt.page+"</body></html>"), "", "")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(a.Text, tt.want) {
				t.Errorf("ExtractArticle(%s).Text = %q, want it to contain %q", tt.name, a.Text, tt.want)
			}
			if tt.notWant != "" && strings.Contains(a.Text, tt.notWant) {
				t.Errorf("ExtractArticle(%s).Text = %q, want no %q", tt.name, a.Text, tt.notWant)
			}
		})
	}
}

func TestIsTeaser(t *testing.T) {
	long := strings.Repeat("word ", TeaserWords+10)
	tests := []struct {
		name, text, fragment string
		want                 bool
	}{
		{"short", "Officials met on Friday.", "", true},
		{"long", long, "<p>" + long + "</p>", false},
		{"long with ellipsis", long + "and then…", "", true},
		{"long with read more link", long, "<p>" + long + `</p><p><a class="more-link" href="/x">Continue reading</a></p>`, true},
		{"empty", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTeaser(tt.text, tt.fragment); got != tt.want {
				t.Errorf("IsTeaser(%.30q, %.30q) = %v, want %v", tt.text, tt.fragment, got, tt.want)
			}
		})
	}
}

// TestNameMatcher checks the one-pass matcher against plain substring
// search on class names from real pages and on every pattern itself.
func TestNameMatcher(t *testing.T) {
	names := []string{
		"", "a", "widget blog", "el__leafmedia el__leafmedia--sourced-paragraph", "post-body post-content",
		"zn-body__paragraph speakable", "article-footer", "comments-area", "related-stories", "share-bar",
		"main-wrapper main-wrapper--article", "c-nav__item", "ad ad-slot", "sidebar-right", "hidden-xs",
		"story-body__inner", "mw-content-text", "-ad-box", "commentary", "entry-content clearfix",
	}
	names = append(names, negativeNames...)
	names = append(names, positiveNames...)
	names = append(names, unlikelyNames...)
	names = append(names, likelyNames...)
	for _, n := range names {
		want := uint8(0)
		for bit, list := range map[uint8][]string{listNegative: negativeNames, listPositive: positiveNames,
			listUnlikely: unlikelyNames, listLikely: likelyNames, listStrong: strongUnlikely} {
			if containsAny(n, list) {
				want |= bit
			}
		}
		if got := classNames.match(n); got != want {
			t.Errorf("classNames.match(%q) = %05b, want %05b", n, got, want)
		}
	}
}
