package parser

import (
	"strings"

	"github.com/PuerkitoBio/goquery"
)

// Text turns an HTML fragment from a feed (content:encoded, Atom content,
// description) into plain text, paragraphs separated by blank lines.
// STUB: first cut, replaced by the real extractor.
func Text(fragment string) string {
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(fragment))
	if err != nil {
		return ""
	}
	doc.Find("script,style").Remove()
	var paras []string
	doc.Find("p").Each(func(_ int, s *goquery.Selection) {
		if t := strings.TrimSpace(s.Text()); t != "" {
			paras = append(paras, t)
		}
	})
	if len(paras) == 0 {
		return strings.TrimSpace(doc.Text())
	}
	return strings.Join(paras, "\n\n")
}
