package parser

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bigPage builds a deterministic article page of about size bytes: a
// navigation bar, a long article of paragraphs with links and figures, a
// sidebar of headlines and a long comment section, the shape of a large
// real news page.
func bigPage(size int) []byte {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Big page</title>`)
	b.WriteString(`<script>var x = "` + strings.Repeat("x", 20000) + `";</script><style>.a{color:red}</style></head><body>`)
	b.WriteString(`<nav class="menu"><ul>`)
	for i := range 50 {
		fmt.Fprintf(&b, `<li><a href="/s%d">Section %d</a></li>`, i, i)
	}
	b.WriteString(`</ul></nav><main><article><h1>A very long article</h1><div class="article-body">`)
	for i := 0; b.Len() < size*6/10; i++ {
		fmt.Fprintf(&b, `<p>Paragraph %d of the story, in which officials said on Tuesday that the talks, which lasted `+
			`nearly three hours, had been <a href="/x%d">frank and substantive</a>, and that a further meeting `+
			`would follow within weeks; critics, however, doubted it.</p>`, i, i)
		if i%20 == 0 {
			fmt.Fprintf(&b, `<figure><img src="/i%d.jpg"><figcaption>Photo %d (Reuters)</figcaption></figure>`, i, i)
		}
	}
	b.WriteString(`</div></article><aside class="sidebar"><ul>`)
	for i := 0; b.Len() < size*7/10; i++ {
		fmt.Fprintf(&b, `<li><a href="/h%d">Headline number %d about something else</a></li>`, i, i)
	}
	b.WriteString(`</ul></aside><section id="comments">`)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `<div class="comment"><span class="author">user%d</span><p>I disagree with this, `+
			`comment number %d, because of reasons.</p></div>`, i, i)
	}
	b.WriteString(`</section></main><footer>© 2025 Example News</footer></body></html>`)
	return []byte(b.String())
}

// BenchmarkExtractArticle2MB measures one 2 MB page. Budget (docs/extraction.md):
// under 100 ms and 64 MB allocated per page on one core.
func BenchmarkExtractArticle2MB(b *testing.B) {
	page := bigPage(2 << 20)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		a, err := ExtractArticle(page, "text/html; charset=utf-8", "https://example.com/big")
		if err != nil || len(a.Text) < 1<<20 {
			b.Fatalf("ExtractArticle(2 MB page) = %d bytes of text, %v", len(a.Text), err)
		}
	}
}

// BenchmarkExtractDataset extracts the 91 pages of the shared
// scrapinghub sample, one pass per iteration (skipped when the data folder
// is absent).
func BenchmarkExtractDataset(b *testing.B) {
	pages := datasetPages(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range pages {
			if _, err := ExtractArticle(p, "", ""); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(pages))*float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

func datasetPages(tb testing.TB) [][]byte {
	tb.Helper()
	files, _ := filepath.Glob("../../shared/data/extraction/scrapinghub/html/*.html.gz")
	if len(files) == 0 {
		tb.Skip("no ../../shared/data/extraction (see /work/shared/data/README.md)")
	}
	var pages [][]byte
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		fh.Close()
		if err != nil {
			tb.Fatal(err)
		}
		pages = append(pages, b)
	}
	return pages
}

// BenchmarkText measures a typical feed item body (about 6 KB of
// content:encoded with paragraphs, a figure, a share block and a footer).
func BenchmarkText(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`<figure><img src="a.jpg"><figcaption>Photo: Reuters</figcaption></figure>`)
	for i := range 20 {
		fmt.Fprintf(&sb, `<p>Paragraph %d: the talks in Anchorage, which lasted nearly three hours, marked the first `+
			`<a href="/x">face-to-face meeting</a> between the leaders since 2022.</p>`, i)
	}
	sb.WriteString(`<div class="sharedaddy"><a>Share on X</a></div><p>The post <a>Summit</a> appeared first on <a>Example</a>.</p>`)
	frag := sb.String()
	b.SetBytes(int64(len(frag)))
	b.ReportAllocs()
	for b.Loop() {
		if Text(frag) == "" {
			b.Fatal("empty text")
		}
	}
}
