package parser

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxFragment bounds the feed fragment Text looks at; a feed item body
// larger than this is cut (at a UTF-8 boundary) before parsing.
const maxFragment = 4 << 20

// maxDepth bounds every recursive walk over a parsed tree, so a hostile
// document of a million nested elements costs time in the HTML parser but
// never a stack overflow here. Content deeper than this is ignored.
const maxDepth = 256

// Text turns an HTML fragment from a feed (content:encoded, Atom content,
// description) into plain text: paragraphs, list items, headings and quotes
// are blocks separated by blank lines; scripts, styles, forms, share and
// social blocks, "Read more" links, image captions and credits, and trailing
// republication or copyright footers are removed. It never panics and is
// safe for concurrent use.
func Text(fragment string) string {
	if len(fragment) > maxFragment {
		fragment = truncUTF8(fragment, maxFragment)
	}
	if !strings.ContainsAny(fragment, "<&") {
		// Plain text: keep its line structure, drop the footers.
		return finishBlocks(plainBlocks(fragment))
	}
	nodes, err := html.ParseFragment(strings.NewReader(fragment), &html.Node{
		Type: html.ElementNode, Data: "body", DataAtom: atom.Body,
	})
	if err != nil {
		return ""
	}
	var w blockWriter
	for _, n := range nodes {
		if n.Type == html.ElementNode && skipFragmentElement(n) {
			continue
		}
		w.walk(n, 0, skipFragmentElement)
	}
	return finishBlocks(w.blocks())
}

// TeaserWords is the length below which IsTeaser calls a text a teaser.
const TeaserWords = 120

// IsTeaser reports whether a feed item's body looks like a teaser rather
// than the whole story, so that the poller may fetch the article page
// (per feed, when full_text is "auto"): text is the item's Text, fragment
// the HTML it came from (may be ""). A teaser is short (under TeaserWords
// words), or its HTML ends with a "Read more"/"Continue reading" link, or
// its text ends in an ellipsis ("…", "...", "[…]").
func IsTeaser(text, fragment string) bool {
	if len(strings.Fields(text)) < TeaserWords {
		return true
	}
	t := strings.TrimSpace(text)
	if strings.HasSuffix(t, "…") || strings.HasSuffix(t, "...") || strings.HasSuffix(t, "[…]") {
		return true
	}
	if fragment == "" {
		return false
	}
	tail := strings.ToLower(fragment[max(0, len(fragment)-400):])
	for _, p := range []string{"read more", "continue reading", "read the full", "keep reading", "more-link", "read-more"} {
		if strings.Contains(tail, p) {
			return true
		}
	}
	return false
}

// finishBlocks drops empty blocks, "Read more" lines and trailing footers,
// and joins the rest with blank lines.
func finishBlocks(blocks []string) string {
	out := blocks[:0]
	for _, b := range blocks {
		if b == "" || isReadMore(b) || isCredit(b) {
			continue
		}
		out = append(out, b)
	}
	out = stripFooters(out)
	if len(out) > 0 {
		out[len(out)-1] = trimReadMore(out[len(out)-1])
	}
	return strings.Join(out, "\n\n")
}

// creditPrefixes open an image credit or caption line.
var creditPrefixes = []string{
	"photo:", "photos:", "photo by", "photograph:", "photograph by", "image:", "image credit", "image by",
	"images:", "picture:", "pictures:", "credit:", "credits:", "(image credit", "(photo", "(credit", "pic:",
	"illustration:", "illustration by", "video:", "caption:", "source image:", "foto:", "bild:",
}

// isCredit reports whether b is a short image credit or caption line.
func isCredit(b string) bool {
	if len(b) > 160 {
		return false
	}
	lower := strings.ToLower(b)
	for _, p := range creditPrefixes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return false
}

// readMoreSuffixes end a teaser: "… Read more", "[…]", "Continue reading →".
var readMoreSuffixes = []string{"read more", "continue reading", "read the full story", "keep reading", "[…]", "[...]", "[&hellip;]"}

// trimReadMore removes a "Read more" or "[…]" tail from the last block.
func trimReadMore(b string) string {
	t := strings.TrimRight(b, " .…»›→>|-–—:\u00a0")
	lower := strings.ToLower(t)
	for _, suf := range readMoreSuffixes {
		if strings.HasSuffix(lower, suf) && len(t) > len(suf) {
			return strings.TrimSpace(t[:len(t)-len(suf)])
		}
	}
	return b
}

// plainBlocks splits plain text into blocks at blank lines (or at line
// breaks when the text has no blank line), whitespace collapsed.
func plainBlocks(s string) []string {
	sep := "\n\n"
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if !strings.Contains(s, sep) {
		sep = "\n"
	}
	var out []string
	for part := range strings.SplitSeq(s, sep) {
		if p := collapseSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// skipFragmentElement reports whether an element of a feed fragment and
// everything in it carry no body text.
func skipFragmentElement(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Form, atom.Button, atom.Input,
		atom.Select, atom.Textarea, atom.Iframe, atom.Object, atom.Embed, atom.Svg, atom.Math,
		atom.Canvas, atom.Figcaption, atom.Nav, atom.Head, atom.Title, atom.Meta, atom.Link:
		return true
	case atom.A:
		return isReadMoreLink(n)
	}
	if isHidden(n) {
		return true
	}
	cls := classID(n)
	return cls != "" && (containsAny(cls, fragmentJunk) || hasToken(cls, junkTokens))
}

// fragmentJunk are class/id substrings of blocks that are never body text
// in a feed fragment.
var fragmentJunk = []string{
	"share", "social", "caption", "credit", "newsletter", "subscribe", "related", "advert",
	"sponsor", "promo", "signup", "sign-up", "feedflare", "sharedaddy", "jp-relatedposts",
	"wp-block-buttons", "read-more", "readmore", "more-link",
}

// junkTokens are whole class/id tokens of non-body blocks (too short to
// match as substrings).
var junkTokens = []string{"ad", "ads", "adsbygoogle", "tags", "meta", "byline"}

// readMorePhrases are link texts (lower case, trimmed of dots and arrows)
// that only point to the rest of the article.
var readMorePhrases = []string{
	"read more", "continue reading", "read the full story", "read full story", "read the full article",
	"read full article", "read the rest", "read the rest of this entry", "more", "full story",
	"keep reading", "read on", "view full article", "click here to read more", "read article",
	"read the original article", "see more", "learn more",
	// de, fr, es, pt, it, nl, ru
	"weiterlesen", "mehr lesen", "mehr", "lire la suite", "lire plus", "en savoir plus", "leer más", "leer mas",
	"seguir leyendo", "leia mais", "continue lendo", "leggi tutto", "continua a leggere", "lees verder",
	"lees meer", "читать далее", "читать дальше", "подробнее",
}

func isReadMoreLink(n *html.Node) bool {
	var sb strings.Builder
	appendText(&sb, n, 0)
	return isReadMore(sb.String())
}

// isReadMore reports whether s is only a "Read more"/"Continue reading" line,
// possibly with the title after it ("Continue reading “X” →").
func isReadMore(s string) bool {
	if len(s) > 160 {
		return false
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.Trim(t, " .…»›→>[]()|-–—:\u00a0")
	for _, p := range readMorePhrases {
		if t == p {
			return true
		}
		if len(p) > 8 && strings.HasPrefix(t, p) && strings.ContainsAny(t[len(p):len(p)+1], " :…") {
			return true
		}
	}
	return false
}

// footerMarkers are phrases that start a republication, syndication or
// copyright notice. They are only honoured at the end of a text.
var footerMarkers = []string{
	"this content is courtesy of", "the post ", "appeared first on", "originally published",
	"was originally published", "first appeared on", "first published on", "republished with permission",
	"republished from", "this article is republished", "this story was originally", "all rights reserved",
	"copyright ©", "copyright (c)", "© copyright", "this content is made available", "used for educational purposes",
	"if you are the author", "this article originally appeared", "this story originally appeared",
	"reproduced with permission", "source:", "is subject to copyright", "no part may be reproduced",
	"the contents of this site are", "sign up for our newsletter", "subscribe to our newsletter",
	"click here to subscribe",
}

// socialNames tell a "Follow …" footer from a sentence of the story.
var socialNames = []string{"twitter", "facebook", "instagram", "linkedin", "youtube", "tiktok", "@", "coverage", "newsletter"}

// weakFooterMarkers mark a short trailing block as a footer only when they
// open it (they are ordinary words inside a sentence of the story).
var weakFooterMarkers = []string{
	"related posts", "related articles", "follow us", "follow him", "follow her", "follow them",
	"subscribe to", "sign up", "have a tip", "got a tip", "if you enjoyed this", "if you liked this",
	"additional reporting by", "reporting by", "editing by", "newsletter", "join our", "share this",
	"like us on", "contact the author", "contact us", "click here", "download our app", "read more about",
	"more from", "filed under", "tags:", "follow ", "listen to", "watch:", "subscribe", "©",
}

// stripFooters removes trailing blocks, and trailing sentences of the last
// block, that are republication or copyright notices.
func stripFooters(blocks []string) []string {
	for len(blocks) > 0 {
		last := blocks[len(blocks)-1]
		cut := footerStart(last)
		if cut < 0 {
			break
		}
		if cut == 0 {
			blocks = blocks[:len(blocks)-1]
			continue
		}
		blocks[len(blocks)-1] = strings.TrimSpace(last[:cut])
		break
	}
	return blocks
}

// footerStart returns where a footer begins in block b: 0 when the whole
// block is one, the offset of the first footer sentence when the block
// ends with one, or -1.
func footerStart(b string) int {
	if len(b) > 1500 {
		return -1
	}
	lower := strings.ToLower(b)
	if lower == "" {
		return -1
	}
	if strings.HasPrefix(lower, "©") || strings.HasPrefix(lower, "(c) ") || strings.HasPrefix(lower, "copyright") {
		return 0
	}
	if len(b) < 400 {
		head := lower[:min(len(lower), 80)]
		for _, m := range weakFooterMarkers {
			if !(strings.HasPrefix(head, m) || strings.Contains(head, m) && strings.Contains(m, " ") && len(b) < 200) {
				continue
			}
			if m == "follow " && !containsAny(lower, socialNames) {
				continue // "Follow the money," he said.
			}
			return 0
		}
	}
	first := -1
	for _, m := range footerMarkers {
		i := strings.Index(lower, m)
		if i < 0 {
			continue
		}
		if m == "the post " && !strings.Contains(lower, "appeared first on") {
			continue
		}
		if m == "source:" && (i != 0 || len(b) > 200) {
			continue
		}
		if first < 0 || i < first {
			first = i
		}
	}
	if first <= 0 {
		return first
	}
	// Only cut at a sentence boundary.
	s := sentenceStart(lower, first)
	if s < 0 {
		return -1
	}
	return s
}

// sentenceStart returns the start of the sentence holding offset i of s, or
// -1 when it is the first sentence (whole block) — callers cut there.
func sentenceStart(s string, i int) int {
	for j := i - 1; j > 0; j-- {
		switch s[j] {
		case '.', '!', '?', '\n':
			if j+1 < len(s) && (s[j+1] == ' ' || s[j+1] == '\n') {
				return j + 1
			}
		}
	}
	return 0
}

// blockWriter renders a tree as text blocks: block elements start and end a
// block, <br> starts a line, runs of white space collapse to one space.
type blockWriter struct {
	out   []string
	cur   strings.Builder
	space bool // a space is pending before the next word
	// With dropLinks set, a block that is almost all link text (a list of
	// headlines, a "related" line) is left out.
	dropLinks bool
	inLink    int // depth of <a> elements around the current text
	linkBytes int // non-space bytes of link text in the current block
}

func (w *blockWriter) blocks() []string {
	w.flush()
	return w.out
}

func (w *blockWriter) flush() {
	if w.cur.Len() > 0 {
		b := strings.TrimSpace(w.cur.String())
		if !w.dropLinks || w.linkBytes == 0 || !linkBlock(b, w.linkBytes) {
			w.out = append(w.out, b)
		}
		w.cur.Reset()
	}
	w.linkBytes = 0
	w.space = false
}

// linkBlock reports whether a block with linkBytes of link text is a link
// list rather than prose.
func linkBlock(b string, linkBytes int) bool {
	n := nonSpaceLen(b)
	return n < 300 && linkBytes*10 >= n*9
}

// newline handles <br>: a line break, and a second one in a row ends the
// block (blogs separate paragraphs with <br><br>).
func (w *blockWriter) newline() {
	switch {
	case w.cur.Len() == 0:
	case w.atLineStart():
		w.flush()
	default:
		w.cur.WriteByte('\n')
	}
	w.space = false
}

func (w *blockWriter) text(s string) {
	for len(s) > 0 {
		// Skip white space.
		i := 0
		for i < len(s) {
			c := s[i]
			if c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' {
				i++
				continue
			}
			if c < utf8.RuneSelf {
				break
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isSpace(r) {
				break
			}
			i += size
		}
		if i > 0 {
			w.space = true
			s = s[i:]
		}
		// Copy one word, ASCII bytes at a time.
		j, bad := 0, false
		for j < len(s) {
			c := s[j]
			if c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' {
				break
			}
			if c == 0 {
				bad = true
				break
			}
			if c < utf8.RuneSelf {
				j++
				continue
			}
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size == 1 {
				bad = true
				break
			}
			if isSpace(r) {
				break
			}
			j += size
		}
		if j > 0 || bad {
			if w.space && w.cur.Len() > 0 && !w.atLineStart() {
				w.cur.WriteByte(' ')
			}
			w.space = false
			w.cur.WriteString(s[:j])
		}
		if bad {
			if s[j] != 0 { // NUL is dropped, an invalid byte becomes U+FFFD
				w.cur.WriteString("\uFFFD")
			}
			j++
		}
		s = s[j:]
	}
}

func (w *blockWriter) atLineStart() bool {
	return w.cur.String()[w.cur.Len()-1] == '\n'
}

// walk writes n; skip (may be nil) names elements to leave out entirely.
func (w *blockWriter) walk(n *html.Node, depth int, skip func(*html.Node) bool) {
	if depth > maxDepth {
		return
	}
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		if w.inLink > 0 {
			w.linkBytes += nonSpaceLen(n.Data)
		}
		return
	case html.ElementNode:
	case html.DocumentNode:
	default:
		return
	}
	block := isBlock(n)
	if n.DataAtom == atom.Br {
		w.newline()
		return
	}
	if block {
		w.flush()
	}
	if n.DataAtom == atom.A {
		w.inLink++
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && skip != nil && skip(c) {
			continue
		}
		w.walk(c, depth+1, skip)
	}
	if n.DataAtom == atom.A {
		w.inLink--
	}
	if block {
		w.flush()
	}
}

// isBlock reports whether an element starts its own block of text.
func isBlock(n *html.Node) bool {
	if n.Type != html.ElementNode {
		return false
	}
	switch n.DataAtom {
	case atom.Address, atom.Article, atom.Aside, atom.Blockquote, atom.Dd, atom.Div, atom.Dl, atom.Dt,
		atom.Fieldset, atom.Figcaption, atom.Figure, atom.Footer, atom.Form, atom.H1, atom.H2, atom.H3,
		atom.H4, atom.H5, atom.H6, atom.Header, atom.Hr, atom.Li, atom.Main, atom.Nav, atom.Ol, atom.P,
		atom.Pre, atom.Section, atom.Table, atom.Tr, atom.Td, atom.Th, atom.Ul, atom.Body, atom.Html,
		atom.Caption, atom.Tbody, atom.Thead, atom.Tfoot, atom.Details, atom.Summary, atom.Center:
		return true
	}
	return false
}

// appendText appends the raw text of n (no block structure).
func appendText(sb *strings.Builder, n *html.Node, depth int) {
	if depth > maxDepth {
		return
	}
	if n.Type == html.TextNode {
		sb.WriteString(n.Data)
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		appendText(sb, c, depth+1)
	}
}

// collapseSpace trims s and turns every run of white space into one space.
func collapseSpace(s string) string {
	var w blockWriter
	w.text(s)
	return strings.TrimSpace(w.cur.String())
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == '\f' || r == '\u00a0' ||
		(r > 0x7f && unicode.IsSpace(r)) || r == '\u200b' || r == '\ufeff'
}

// isHidden reports whether an element is not rendered.
func isHidden(n *html.Node) bool {
	for _, a := range n.Attr {
		switch a.Key {
		case "hidden":
			return true
		case "aria-hidden":
			if a.Val == "true" {
				return true
			}
		case "style":
			if strings.Contains(a.Val, "none") || strings.Contains(a.Val, "hidden") {
				v := strings.ReplaceAll(strings.ToLower(a.Val), " ", "")
				if strings.Contains(v, "display:none") || strings.Contains(v, "visibility:hidden") {
					return true
				}
			}
		}
	}
	return false
}

// classID returns the element's class and id, lower case, space separated.
func classID(n *html.Node) string {
	var c, id string
	for _, a := range n.Attr {
		switch a.Key {
		case "class":
			c = a.Val
		case "id":
			id = a.Val
		}
	}
	if c == "" && id == "" {
		return ""
	}
	return strings.ToLower(c + " " + id)
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// hasToken reports whether s, split at non-alphanumeric characters,
// holds one of toks.
func hasToken(s string, toks []string) bool {
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		for _, t := range toks {
			if f == t {
				return true
			}
		}
	}
	return false
}

func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
