package parser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// MaxPageSize is the largest article page ExtractArticle reads; the rest
// of a larger page is ignored (the poller should not fetch more anyway).
const MaxPageSize = 8 << 20

// Article is the main content of one article page.
type Article struct {
	// Title is the headline: og:title, else the first <h1>, else <title>.
	Title string
	// Text is the article body as plain text, blocks separated by blank
	// lines, without navigation, share bars, related links, captions and
	// footers.
	Text string
	// Lang is the page language as declared (<html lang>, content-language),
	// lower case; empty when the page declares none.
	Lang string
	// Source says where Text came from: "dom" (content scoring over the
	// page), "json-ld" (schema.org articleBody) or "" when nothing was found.
	Source string
}

// ExtractArticle finds the main article body of an HTML page. contentType
// is the HTTP Content-Type header (its charset wins over <meta charset>;
// "" when unknown) and pageURL the page address (may be ""). Malformed HTML
// is repaired the way browsers do; an error is returned only when the
// Content-Type names something other than HTML (or XHTML, XML, plain text,
// octet-stream) or the page cannot be decoded at all. An empty Text with
// a nil error means the page has no recognisable article. It never panics
// and is safe for concurrent use.
func ExtractArticle(page []byte, contentType, pageURL string) (Article, error) {
	if len(page) > MaxPageSize {
		page = page[:MaxPageSize]
	}
	if !htmlType(contentType) {
		return Article{}, fmt.Errorf("extract %s: content type %q is not HTML", pageName(pageURL), contentType)
	}
	if sniffed := http.DetectContentType(page); !textType(sniffed) {
		// No type, or a generic one, and binary bytes: a PDF, an image,
		// an archive. Say so rather than report what the HTML parser
		// makes of it.
		return Article{}, fmt.Errorf("extract %s: not an HTML page (the content looks like %s)", pageName(pageURL), sniffed)
	}
	page, err := decodePage(page, contentType)
	if err != nil {
		return Article{}, fmt.Errorf("extract %s: %w", pageName(pageURL), err)
	}
	buf := stripPool.Get().(*[]byte)
	if cap(*buf) < len(page) {
		*buf = make([]byte, 0, len(page))
	}
	stripped := stripRaw((*buf)[:0], page)
	root, err := html.Parse(bytes.NewReader(stripped))
	if cap(stripped) <= maxPooled {
		*buf = stripped[:0]
		stripPool.Put(buf)
	}
	if err != nil {
		if strings.Contains(err.Error(), "open stack of elements exceeds") {
			return Article{}, fmt.Errorf("extract %s: parse html: elements nested too deep (%w)", pageName(pageURL), err)
		}
		return Article{}, fmt.Errorf("extract %s: parse html: %w", pageName(pageURL), err)
	}
	var m pageMeta
	m.scan(root, 0)
	a := Article{Title: m.title(), Lang: m.lang}

	domText := extractDOM(root, &m)
	ld := m.bestLDBody()
	switch {
	case useJSONLD(ld, domText):
		a.Text, a.Source = ld, "json-ld"
	case domText != "":
		a.Text, a.Source = domText, "dom"
	}
	return a, nil
}

// htmlType reports whether a Content-Type may hold an HTML page; an empty
// or unparsable one may (servers get it wrong; the parser copes).
// textType reports whether a sniffed content type (http.DetectContentType)
// can be a page: text of any kind, or XML.
func textType(sniffed string) bool {
	return strings.HasPrefix(sniffed, "text/") || strings.Contains(sniffed, "xml")
}

func htmlType(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return true
	}
	switch mt {
	case "text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml", "application/octet-stream":
		return true
	}
	return false
}

func pageName(pageURL string) string {
	if pageURL == "" {
		return "page"
	}
	return pageURL
}

// useJSONLD decides between the schema.org articleBody and the text found by
// scoring the page. The markup is preferred: articleBody is often a teaser
// or flattened without paragraphs; it wins only when the page gave clearly
// less text.
func useJSONLD(ld, dom string) bool {
	if len(ld) < 200 {
		return ld != "" && dom == ""
	}
	return len(dom) < len(ld)*6/10
}

// decodePage returns the page as UTF-8. The encoding is the first of: a
// BOM; bytes that are valid UTF-8 with non-ASCII characters (a page saved
// or served as UTF-8 whose header or <meta> still names a legacy charset is
// common, and legacy text is almost never valid UTF-8 by accident); the
// HTTP header charset; <meta charset> in the first 1024 bytes; UTF-8 when
// the bytes are valid; windows-1252 (the HTML standard's default).
func decodePage(page []byte, contentType string) ([]byte, error) {
	enc, name, _ := charset.DetermineEncoding(page, contentType)
	switch {
	case name == "utf-8":
	case strings.HasPrefix(name, "utf-16") || strings.HasPrefix(name, "iso-2022"):
		// 7-bit or 16-bit encodings: the UTF-8 check says nothing.
		return transcode(page, enc, name)
	case hasMultibyteUTF8(page):
	default:
		return transcode(page, enc, name)
	}
	if utf8.Valid(page) {
		return page, nil
	}
	return bytes.ToValidUTF8(page, []byte("\uFFFD")), nil
}

func transcode(page []byte, enc encoding.Encoding, name string) ([]byte, error) {
	out, err := enc.NewDecoder().Bytes(page)
	if err != nil {
		return nil, fmt.Errorf("decode charset %s: %w", name, err)
	}
	return out, nil
}

// hasMultibyteUTF8 reports whether page is valid UTF-8 and holds at least
// one non-ASCII character.
func hasMultibyteUTF8(page []byte) bool {
	i := 0
	for i < len(page) && page[i] < 0x80 {
		i++
	}
	return i < len(page) && utf8.Valid(page[i:])
}

// pageMeta is what one pass over the page learns besides the body.
type pageMeta struct {
	elements int // element count, to size the extractor's tables
	lang     string
	ogTitle  string
	docTitle string
	h1       string
	ldBodies []string
}

func (m *pageMeta) title() string {
	switch {
	case m.ogTitle != "":
		return m.ogTitle
	case m.h1 != "":
		return m.h1
	}
	return m.docTitle
}

// bestLDBody returns the longest articleBody found in JSON-LD.
func (m *pageMeta) bestLDBody() string {
	best := ""
	for _, b := range m.ldBodies {
		if len(b) > len(best) {
			best = b
		}
	}
	return best
}

func (m *pageMeta) scan(n *html.Node, depth int) {
	if depth > maxDepth {
		return
	}
	if n.Type == html.ElementNode {
		m.elements++
		switch n.DataAtom {
		case atom.Html:
			if l := attr(n, "lang"); l != "" && m.lang == "" {
				m.lang = normLang(l)
			}
		case atom.Meta:
			prop := strings.ToLower(attr(n, "property") + attr(n, "name"))
			switch {
			case prop == "og:title" && m.ogTitle == "":
				m.ogTitle = collapseSpace(attr(n, "content"))
			case strings.EqualFold(attr(n, "http-equiv"), "content-language") && m.lang == "":
				m.lang = normLang(attr(n, "content"))
			}
		case atom.Title:
			if m.docTitle == "" {
				var sb strings.Builder
				appendText(&sb, n, 0)
				m.docTitle = collapseSpace(sb.String())
			}
		case atom.H1:
			if m.h1 == "" {
				var sb strings.Builder
				appendText(&sb, n, 0)
				m.h1 = collapseSpace(sb.String())
			}
		case atom.Script:
			if strings.Contains(strings.ToLower(attr(n, "type")), "ld+json") && n.FirstChild != nil {
				m.ldBodies = append(m.ldBodies, ldArticleBodies(n.FirstChild.Data)...)
			}
			return
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		m.scan(c, depth+1)
	}
}

func normLang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(s, ",; "); i >= 0 {
		s = s[:i]
	}
	s = strings.ReplaceAll(s, "_", "-")
	if len(s) > 35 {
		return ""
	}
	return s
}

// ldArticleBodies returns every articleBody (as plain text) in one JSON-LD
// script, looking through arrays, @graph and nested objects.
func ldArticleBodies(src string) []string {
	if !strings.Contains(src, "articleBody") && !strings.Contains(src, "articlebody") {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(strings.TrimSpace(src)), &v); err != nil {
		// Some sites emit JSON-LD with raw newlines in strings.
		fixed := strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(src)
		if json.Unmarshal([]byte(fixed), &v) != nil {
			return nil
		}
	}
	var out []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 32 {
			return
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		case map[string]any:
			for k, e := range x {
				if strings.EqualFold(k, "articleBody") || strings.EqualFold(k, "text") && isArticleType(x["@type"]) {
					if s, ok := e.(string); ok {
						if t := ldText(s); t != "" {
							out = append(out, t)
						}
						continue
					}
				}
				walk(e, depth+1)
			}
		}
	}
	walk(v, 0)
	return out
}

func isArticleType(t any) bool {
	s, ok := t.(string)
	return ok && strings.HasSuffix(s, "Article") || s == "BlogPosting" || s == "Report"
}

// ldText turns an articleBody (plain text, sometimes HTML) into blocks.
func ldText(s string) string {
	if strings.Contains(s, "<") && strings.Contains(s, ">") {
		return Text(s)
	}
	s = html.UnescapeString(s)
	return strings.Join(plainBlocks(s), "\n\n")
}
