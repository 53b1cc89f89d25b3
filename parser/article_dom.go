package parser

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// The DOM extractor follows Mozilla Readability's plan — score paragraphs,
// credit their ancestors, pick the best container, add its good siblings,
// clean the result conditionally — with the signals that make trafilatura
// and boilerpipe better: text and link density per block, paragraph
// structure, and looser passes when the strict one finds too little.

// nstat is what the extractor knows about one element.
type nstat struct {
	text, link, commas int32 // all text below the element (non-space bytes)
	// inline* count only the text that flows in the element's own
	// paragraph: its text nodes and inline children, not block children.
	inline, inlineLink, inlineCommas int32
	paras, imgs, lis, inputs, embeds int32 // descendant counts
	// good is the text of the paragraphs below the element that look like
	// prose: long enough and few links.
	good      int32
	score     float64
	candidate bool
	// From the class and id, worked out once in the loose pass: the
	// Readability class weight, and whether the name is unlikely (strongly:
	// even when it holds much of the prose) to be article content.
	weight           float64
	unlikely, strong bool
}

// Pass modes, from the most to the least selective.
const (
	// passStrict drops elements with an unlikely class or id, except one
	// holding most of the page's prose (a layout wrapper with a bad name).
	passStrict = iota
	// passRelaxed drops only strongly unlikely names (comments, related
	// stories, recommendation widgets).
	passRelaxed
	// passAll drops no element for its name.
	passAll
)

// extraction holds the state of one pass over a page.
type extraction struct {
	mode int
	// loose holds the stats of the passAll measurement; the other passes
	// read the class information and the prose share from it.
	loose    map[*html.Node]*nstat
	bodyGood int32
	stats    map[*html.Node]*nstat
	paras    []*html.Node // elements whose own paragraph text is long enough to score
	drop     map[*html.Node]bool
	// topGood is the prose in the chosen nodes; cleaning never drops an
	// element that holds a large share of it.
	topGood  int32
	topScore float64
	slab     []nstat // preallocated stats, handed out by newStat
	classes  map[classKey]classInfo
}

// newStat returns zeroed stats from the slab (one allocation per pass
// instead of one per element).
func (x *extraction) newStat() *nstat {
	if len(x.slab) == 0 {
		return &nstat{}
	}
	s := &x.slab[0]
	x.slab = x.slab[1:]
	return s
}

// minExtract is the text length (non-space bytes) below which the strict
// pass is considered to have missed the article.
const minExtract = 400

// extractDOM returns the main text of the page by content scoring.
func extractDOM(root *html.Node, m *pageMeta) string {
	body := findBody(root)
	if body == nil {
		return ""
	}
	all := &extraction{mode: passAll, stats: make(map[*html.Node]*nstat, m.elements), drop: map[*html.Node]bool{},
		slab: make([]nstat, m.elements+1), classes: map[classKey]classInfo{}}
	bs := all.measure(body, 0, false)
	best := ""
	for _, mode := range []int{passStrict, passRelaxed, passAll} {
		x := all
		if mode != passAll {
			x = &extraction{mode: mode, loose: all.stats, bodyGood: bs.good,
				stats: make(map[*html.Node]*nstat, len(all.stats)), drop: map[*html.Node]bool{},
				slab: make([]nstat, len(all.stats))}
			x.measure(body, 0, false)
		}
		// Readability's rule: when a pass finds too little, retry with
		// fewer filters and keep the longest result. Comment sections
		// and related-story lists are only let in when the other passes
		// found next to nothing (a short story beside long comments must
		// not turn into the comments).
		if t := x.text(body, m); len(t) > len(best) {
			best = t
		}
		n := nonSpaceLen(best)
		if n >= minExtract || mode == passRelaxed && n >= minExtract/4 {
			break
		}
	}
	return best
}

// text picks, cleans and renders the article of one pass.
func (x *extraction) text(body *html.Node, m *pageMeta) string {
	nodes := x.pick(body)
	if len(nodes) == 0 {
		return ""
	}
	for _, n := range nodes {
		x.topGood += x.stats[n].good
	}
	w := blockWriter{dropLinks: true}
	for _, n := range nodes {
		x.clean(n, 0)
		w.flush()
		w.walk(n, 0, x.skip)
	}
	return finishArticle(w.blocks(), m)
}

func findBody(n *html.Node) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.DataAtom == atom.Html {
			for b := c.FirstChild; b != nil; b = b.NextSibling {
				if b.Type == html.ElementNode && b.DataAtom == atom.Body {
					return b
				}
			}
		}
	}
	return nil
}

// skip reports whether an element is left out of the text.
func (x *extraction) skip(n *html.Node) bool {
	if x.drop[n] {
		return true
	}
	_, ok := x.stats[n]
	return !ok // never measured: junk
}

// junk reports whether an element can never hold article text.
func (x *extraction) junk(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Iframe, atom.Svg, atom.Math,
		atom.Object, atom.Embed, atom.Canvas, atom.Button, atom.Input, atom.Select, atom.Textarea,
		atom.Option, atom.Nav, atom.Aside, atom.Footer, atom.Figcaption, atom.Head, atom.Link,
		atom.Meta, atom.Title, atom.Dialog, atom.Menu, atom.Label, atom.Audio, atom.Video, atom.Picture,
		atom.Header:
		return true
	case atom.Form:
		return !hasDescendant(n, atom.P, 0)
	case atom.Body, atom.Html:
		return false
	}
	if n.DataAtom == 0 {
		// Custom elements (amp-*, ads, widgets) are kept but looked at.
		if strings.HasPrefix(n.Data, "amp-") && n.Data != "amp-img" || strings.Contains(n.Data, "-ad") {
			return true
		}
	}
	if isHidden(n) {
		return true
	}
	switch attr(n, "role") {
	case "navigation", "menu", "menubar", "complementary", "dialog", "alertdialog", "banner", "contentinfo", "search":
		return true
	}
	if ls := x.loose[n]; ls != nil && ls.unlikely && n.DataAtom != atom.Main {
		switch x.mode {
		case passStrict:
			return ls.good*2 <= x.bodyGood || ls.strong
		case passRelaxed:
			return ls.strong
		}
	}
	return false
}

// unlikelyNames are class/id substrings of page parts that are almost
// never the article; likelyNames rescue a name that has both.
var (
	unlikelyNames = []string{
		"-ad-", "ad-break", "adbox", "advert", "agegate", "banner", "breadcrumb", "combx", "comment",
		"community", "cover-wrap", "disqus", "extra", "footer", "gdpr", "header", "legends", "menu",
		"related", "remark", "replies", "rss", "shoutbox", "sidebar", "skyscraper", "social", "sponsor",
		"supplemental", "pagination", "pager", "popup", "yom-remote", "share", "sharing", "newsletter",
		"promo", "subscribe", "signup", "sign-up", "cookie", "outbrain", "taboola", "caption", "credit",
		"byline", "toolbar", "recommend", "trending", "most-popular", "mostpopular", "modal", "masthead",
		"author-bio", "authorbio", "tags", "widget", "navbar", "navigation", "skip",
	}
	// notProse names blocks that may read like prose but are not the story.
	notProse = []string{
		"caption", "credit", "byline", "comment", "related", "share", "promo", "sponsor", "newsletter",
		"subscribe", "footer", "sidebar", "author", "bio", "disclaimer", "correction", "editor",
	}
	// strongUnlikely names are dropped in the strict and relaxed passes however much
	// text they hold.
	strongUnlikely = []string{"comment", "disqus", "replies", "related", "recommend", "outbrain", "taboola"}
	likelyNames    = []string{"and", "article", "body", "column", "content", "main", "shadow", "story", "entry", "post-text"}
	// Readability's class weights.
	negativeNames = []string{
		"-ad-", "hidden", "banner", "combx", "comment", "com-", "contact", "foot", "footnote", "gdpr",
		"masthead", "media", "meta", "outbrain", "promo", "related", "scroll", "share", "shoutbox",
		"sidebar", "skyscraper", "sponsor", "shopping", "tags", "tool", "widget", "caption", "credit",
		"byline", "newsletter", "subscribe", "social", "nav", "menu",
	}
	positiveNames = []string{
		"article", "body", "content", "entry", "hentry", "h-entry", "main", "page", "post", "text",
		"blog", "story", "prose",
	}
)

// classInfo is what an element's class and id say about it.
type classInfo struct {
	weight           float64
	unlikely, strong bool
}

// classKey is an element's raw class and id attributes.
type classKey struct{ class, id string }

func newClassInfo(cls string) classInfo {
	var ci classInfo
	lists := classNames.match(cls)
	if lists&listNegative != 0 {
		ci.weight -= 25
	}
	if lists&listPositive != 0 {
		ci.weight += 25
	}
	ci.unlikely = lists&listUnlikely != 0 && lists&listLikely == 0 || hasToken(cls, []string{"ad", "ads", "nav"})
	ci.strong = ci.unlikely && lists&listStrong != 0
	return ci
}

// Name lists a class/id can match, as bits.
const (
	listNegative = 1 << iota
	listPositive
	listUnlikely
	listLikely
	listStrong
)

// classNames finds which name lists a class/id string has a substring of,
// in one pass over the string (ids are unique, so per-page caching does
// not spare this work).
var classNames = newNameMatcher(map[uint8][]string{
	listNegative: negativeNames, listPositive: positiveNames, listUnlikely: unlikelyNames,
	listLikely: likelyNames, listStrong: strongUnlikely,
})

type namePattern struct {
	s     string
	lists uint8
}

// nameMatcher is a multi-substring matcher for short ASCII patterns (at
// least 2 bytes): a bitset of the patterns' first two bytes rejects most
// positions at once.
type nameMatcher struct {
	first [1 << 13]byte
	pats  map[uint16][]namePattern
}

func newNameMatcher(lists map[uint8][]string) *nameMatcher {
	m := &nameMatcher{pats: map[uint16][]namePattern{}}
	for bit, names := range lists {
		for _, p := range names {
			k := uint16(p[0])<<8 | uint16(p[1])
			m.first[k>>3] |= 1 << (k & 7)
			i := slices.IndexFunc(m.pats[k], func(np namePattern) bool { return np.s == p })
			if i >= 0 {
				m.pats[k][i].lists |= bit
			} else {
				m.pats[k] = append(m.pats[k], namePattern{p, bit})
			}
		}
	}
	return m
}

// match returns the lists that have a pattern inside s.
func (m *nameMatcher) match(s string) uint8 {
	var lists uint8
	for i := 0; i+1 < len(s); i++ {
		k := uint16(s[i])<<8 | uint16(s[i+1])
		if m.first[k>>3]&(1<<(k&7)) == 0 {
			continue
		}
		for _, p := range m.pats[k] {
			if lists&p.lists != p.lists && strings.HasPrefix(s[i:], p.s) {
				lists |= p.lists
			}
		}
	}
	return lists
}

// classOf returns the class information of n, from a per-page cache: the
// same class names repeat on every list item and paragraph of a page.
func (x *extraction) classOf(n *html.Node) classInfo {
	var k classKey
	itemprop := false
	for _, a := range n.Attr {
		switch a.Key {
		case "class":
			k.class = a.Val
		case "id":
			k.id = a.Val
		case "itemprop":
			itemprop = a.Val == "articleBody"
		}
	}
	var ci classInfo
	if k != (classKey{}) {
		var ok bool
		if ci, ok = x.classes[k]; !ok {
			ci = newClassInfo(strings.ToLower(k.class + " " + k.id))
			x.classes[k] = ci
		}
	}
	if itemprop {
		ci.weight += 50
	}
	return ci
}

func hasDescendant(n *html.Node, a atom.Atom, depth int) bool {
	if depth > maxDepth {
		return false
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.DataAtom == a || hasDescendant(c, a, depth+1)) {
			return true
		}
	}
	return false
}

// measure fills x.stats for n and its subtree and returns n's stats; junk
// elements get none.
func (x *extraction) measure(n *html.Node, depth int, inLink bool) *nstat {
	s := x.newStat()
	x.stats[n] = s
	if ls := x.loose[n]; ls != nil {
		s.weight, s.unlikely, s.strong = ls.weight, ls.unlikely, ls.strong
	} else if n.Type == html.ElementNode {
		ci := x.classOf(n)
		s.weight, s.unlikely, s.strong = ci.weight, ci.unlikely, ci.strong
	}
	if n.DataAtom == atom.A {
		inLink = true
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			l64, c64 := textWeight(c.Data)
			l, commas := int32(min(l64, 1<<30)), int32(min(c64, 1<<30))
			s.text += l
			s.inline += l
			s.commas += commas
			s.inlineCommas += commas
			if inLink {
				s.link += l
				s.inlineLink += l
			}
		case html.ElementNode:
			if depth >= maxDepth || x.junk(c) {
				continue
			}
			cs := x.measure(c, depth+1, inLink)
			s.text += cs.text
			s.link += cs.link
			s.commas += cs.commas
			s.paras += cs.paras
			s.imgs += cs.imgs
			s.lis += cs.lis
			s.inputs += cs.inputs
			s.embeds += cs.embeds
			s.good += cs.good
			switch c.DataAtom {
			case atom.P:
				s.paras++
			case atom.Img:
				s.imgs++
			case atom.Li:
				s.lis++
			}
			if !isBlock(c) {
				s.inline += cs.inline
				s.inlineLink += cs.inlineLink
				s.inlineCommas += cs.inlineCommas
			}
		}
	}
	if isBlock(n) && s.inline >= 50 && s.inlineLink*3 < s.inline {
		s.good += s.inline - s.inlineLink
	}
	if isBlock(n) && s.inline >= 25 && !inLink {
		switch n.DataAtom {
		case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Th:
		default:
			x.paras = append(x.paras, n)
		}
	}
	return s
}

// textWeight returns the number of non-space bytes of s and its commas.
func textWeight(s string) (n, commas int) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\n', '\t', '\r', '\f':
		case ',':
			n++
			commas++
		case 0xEF: // U+FF0C FULLWIDTH COMMA is EF BC 8C
			n++
			if i+2 < len(s) && s[i+1] == 0xBC && s[i+2] == 0x8C {
				commas++
			}
		case 0xE3: // U+3001 IDEOGRAPHIC COMMA is E3 80 81
			n++
			if i+2 < len(s) && s[i+1] == 0x80 && s[i+2] == 0x81 {
				commas++
			}
		default:
			if c < 0x80 || c >= 0xC0 { // count runes, not continuation bytes
				n++
			}
		}
	}
	return n, commas
}

func nonSpaceLen(s string) int {
	n, _ := textWeight(s)
	return n
}

func (s *nstat) linkDensity() float64 {
	if s.text == 0 {
		return 0
	}
	return float64(s.link) / float64(s.text)
}

func tagScore(n *html.Node) float64 {
	switch n.DataAtom {
	case atom.Article:
		return 10
	case atom.Div, atom.Main:
		return 5
	case atom.Pre, atom.Td, atom.Blockquote:
		return 3
	case atom.Address, atom.Ol, atom.Ul, atom.Dl, atom.Dd, atom.Dt, atom.Li, atom.Form:
		return -3
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Th:
		return -5
	}
	return 0
}

// pick scores the paragraphs and returns the nodes that make the article,
// in document order.
func (x *extraction) pick(body *html.Node) []*html.Node {
	var cands []*html.Node
	for _, p := range x.paras {
		ps := x.stats[p]
		ld := 0.0
		if ps.inline > 0 {
			ld = float64(ps.inlineLink) / float64(ps.inline)
		}
		score := (1 + float64(ps.inlineCommas) + min(float64(ps.inline)/100, 3)) * (1 - ld)
		if score <= 0 {
			continue
		}
		// The paragraph's own block counts like its parent (Readability
		// scores <p> and credits ancestors; here any block with its own text
		// is a paragraph, and it may hold further blocks).
		level := 0
		for a := p; a != nil && level < 5; a = a.Parent {
			as := x.stats[a]
			if as == nil {
				break
			}
			if a.Type != html.ElementNode {
				break
			}
			if !as.candidate {
				as.candidate = true
				as.score = tagScore(a) + as.weight
				cands = append(cands, a)
			}
			var div float64
			switch level {
			case 0:
				div = 1
			case 1:
				div = 1
			case 2:
				div = 2
			default:
				div = float64(level) * 3
			}
			if a == p && isParagraphTag(p) {
				// A <p> does not itself contain the article; its parent does.
				as.score += score / 4
			} else {
				as.score += score / div
			}
			level++
		}
	}
	if len(cands) == 0 {
		return nil
	}
	var top *html.Node
	topScore := 0.0
	for _, c := range cands {
		cs := x.stats[c]
		cs.score *= 1 - cs.linkDensity()
		if top == nil || cs.score > topScore {
			top, topScore = c, cs.score
		}
	}
	top = x.raise(top, cands)
	x.topScore = max(x.stats[top].score, topScore)
	return x.siblings(top)
}

func isParagraphTag(n *html.Node) bool {
	switch n.DataAtom {
	case atom.P, atom.Pre, atom.Td, atom.Li, atom.Blockquote, atom.Dd, atom.Dt:
		return true
	}
	return false
}

// raise moves from the best-scoring node up to the ancestor that holds the
// whole article: the common ancestor of several near-best candidates, or a
// parent that scores better than its child.
func (x *extraction) raise(top *html.Node, cands []*html.Node) *html.Node {
	topScore := x.stats[top].score
	var alts []*html.Node
	for _, c := range cands {
		if c != top && x.stats[c].score >= topScore*0.75 {
			alts = append(alts, c)
			if len(alts) == 16 { // enough to find a common ancestor; bounds the work
				break
			}
		}
	}
	if len(alts) >= 3 {
		for p := top.Parent; p != nil && p.DataAtom != atom.Body; p = p.Parent {
			contained := 0
			for _, a := range alts {
				if isAncestor(p, a) {
					contained++
				}
			}
			if contained >= 3 {
				top = p
				break
			}
		}
	}
	last := x.stats[top].score
	threshold := last / 3
	for p := top.Parent; p != nil && p.Type == html.ElementNode && p.DataAtom != atom.Body; p = p.Parent {
		ps := x.stats[p]
		if ps == nil {
			break
		}
		if !ps.candidate {
			continue
		}
		if ps.score < threshold {
			break
		}
		if ps.score > last {
			top = p
			break
		}
		last = ps.score
	}
	// An only child adds nothing: take its parent so siblings are judged.
	for top.Parent != nil && top.Parent.DataAtom != atom.Body && top.Parent.Type == html.ElementNode &&
		onlyElementChild(top.Parent) == top {
		top = top.Parent
	}
	return top
}

func isAncestor(a, n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p == a {
			return true
		}
	}
	return false
}

func onlyElementChild(n *html.Node) *html.Node {
	var only *html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			if only != nil {
				return nil
			}
			only = c
		} else if c.Type == html.TextNode && strings.TrimSpace(c.Data) != "" {
			return nil
		}
	}
	return only
}

// siblings returns top plus those of its siblings that look like more of
// the article.
func (x *extraction) siblings(top *html.Node) []*html.Node {
	parent := top.Parent
	if parent == nil || parent.Type != html.ElementNode {
		return []*html.Node{top}
	}
	ts := x.stats[top]
	threshold := max(10, x.topScore*0.2)
	topClass := attr(top, "class")
	var out []*html.Node
	for c := parent.FirstChild; c != nil; c = c.NextSibling {
		if c == top {
			out = append(out, c)
			continue
		}
		if c.Type != html.ElementNode {
			continue
		}
		cs := x.stats[c]
		if cs == nil {
			continue
		}
		bonus := 0.0
		if topClass != "" && attr(c, "class") == topClass {
			bonus = x.topScore * 0.2
		}
		if cs.candidate && cs.score+bonus >= threshold {
			out = append(out, c)
			continue
		}
		// A sibling that is mostly prose continues the article (sections
		// split by a figure, a pull quote or an ad slot).
		if cs.good >= 140 && cs.good*10 >= ts.good && cs.linkDensity() < 0.25 && cs.weight >= 0 {
			out = append(out, c)
			continue
		}
		if c.DataAtom == atom.P {
			ld := cs.linkDensity()
			if cs.text > 80 && ld < 0.25 {
				out = append(out, c)
			} else if cs.text > 0 && cs.text <= 80 && ld == 0 && endsSentence(c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func endsSentence(n *html.Node) bool {
	var sb strings.Builder
	appendText(&sb, n, 0)
	t := strings.TrimSpace(sb.String())
	return strings.HasSuffix(t, ".") || strings.HasSuffix(t, "!") || strings.HasSuffix(t, "?")
}

// clean marks for dropping the parts of the chosen content that look like
// page furniture (Readability's cleanConditionally plus headline removal).
func (x *extraction) clean(n *html.Node, depth int) {
	if depth > maxDepth {
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		cs := x.stats[c]
		if cs == nil {
			continue
		}
		if x.furniture(c, cs) {
			x.drop[c] = true
			continue
		}
		x.clean(c, depth+1)
	}
}

func (x *extraction) furniture(n *html.Node, s *nstat) bool {
	switch n.DataAtom {
	case atom.H1:
		return true
	case atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		return s.weight < 0 || s.linkDensity() > 0.33
	case atom.Figure:
		return s.paras == 0
	case atom.Form, atom.Fieldset, atom.Table, atom.Ul, atom.Ol, atom.Div, atom.Section, atom.Dl, atom.Aside:
	default:
		return false
	}
	isList := n.DataAtom == atom.Ul || n.DataAtom == atom.Ol || n.DataAtom == atom.Dl
	weight := s.weight
	score := 0.0
	if s.candidate {
		score = s.score
	}
	if x.topGood > 0 && s.good*10 > x.topGood*3 {
		return false // holds much of the article: clean inside it instead
	}
	if weight+score < 0 && (weight < 0 || !isList) {
		// A wrapper around one paragraph of prose is kept despite a vaguely
		// negative name ("leafmedia", "meta-para"); captions, bylines and
		// promos are not prose wrappers.
		return !(s.good >= 50 && s.good*10 >= s.text*6 && !containsAny(classID(n), notProse))
	}
	if s.commas >= 10 {
		return false
	}
	ld := s.linkDensity()
	p := s.paras
	switch {
	case s.imgs > 1 && float64(p)/float64(s.imgs) < 0.5 && !hasAncestorTag(n, atom.Figure):
		return true
	case !isList && s.lis > p+s.inline/80 && s.lis > 3:
		return true
	case s.inputs > p/3:
		return true
	case !isList && s.text < 25 && (s.imgs == 0 || s.imgs > 2):
		return true
	case !isList && weight < 25 && ld > 0.2:
		return true
	case weight >= 25 && ld > 0.5:
		return true
	case isList && ld > 0.5:
		return true
	case s.embeds == 1 && s.text < 75 || s.embeds > 1:
		return true
	}
	return false
}

func hasAncestorTag(n *html.Node, a atom.Atom) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.DataAtom == a {
			return true
		}
	}
	return false
}

// finishArticle filters rendered blocks: drops lines that are page chrome
// ("Advertisement", "Read more", the headline again) and trailing footers.
func finishArticle(blocks []string, m *pageMeta) string {
	out := blocks[:0]
	for _, b := range blocks {
		if b == "" || isReadMore(b) || isChrome(b) || isDateline(b) || isPointer(b) || isCredit(b) || !hasWord(b) {
			continue
		}
		if m != nil && (b == m.h1 || b == m.ogTitle) {
			continue
		}
		out = append(out, b)
	}
	out = cutComments(out)
	out = stripFooters(out)
	return strings.Join(out, "\n\n")
}

// commentHeadings open a reader-comment section.
var commentHeadings = []string{
	"comments", "comment", "reader comments", "readers' comments", "responses", "leave a reply",
	"leave a comment", "post a comment", "add a comment", "join the conversation", "join the discussion",
	"discussion", "what do you think?", "your comments", "conversation",
}

// cutComments drops a reader-comment section that scoring let through: a
// comment heading after at least two blocks of story, and everything after
// it.
func cutComments(blocks []string) []string {
	for i := 2; i < len(blocks); i++ {
		if len(blocks[i]) > 40 {
			continue
		}
		t := strings.ToLower(strings.Trim(blocks[i], " :.()0123456789"))
		for _, h := range commentHeadings {
			if t == h {
				return blocks[:i]
			}
		}
	}
	return blocks
}

// datelinePrefixes open the publication line of an article ("Updated
// 11:21 pm CST, Tuesday…", "By Jane Doe - 11/18/19").
var datelinePrefixes = []string{"updated", "last updated", "published", "posted", "modified", "by ", "first published"}

// isDateline reports whether b is a short publication or byline line: it
// opens with one of datelinePrefixes and holds a digit (a date or time), or
// it is "By" and a name.
func isDateline(b string) bool {
	if len(b) > 120 {
		return false
	}
	lower := strings.ToLower(b)
	// A dateline is a few words and not a sentence ("Updated at 1:23 p.m."
	// may end in the dot of "p.m.").
	if len(strings.Fields(b)) > 10 || strings.HasSuffix(lower, ".") && !strings.HasSuffix(lower, "m.") {
		return false
	}
	for _, p := range datelinePrefixes {
		if !strings.HasPrefix(lower, p) {
			continue
		}
		if p == "by " {
			// "By Jane Doe", "By JANE DOE - 2019-04-10"; not "By 2030, …".
			r, _ := utf8.DecodeRuneInString(b[3:])
			return unicode.IsUpper(r) && (len(b) < 50 || strings.ContainsAny(b, "0123456789"))
		}
		if strings.ContainsAny(b, "0123456789") {
			return true
		}
	}
	return false
}

// pointerPrefixes open a line that points to another article.
var pointerPrefixes = []string{
	"related:", "read more:", "read also:", "also read:", "see also:", "see more:", "more:", "watch:",
	"read:", "also:", "recommended:", "don't miss", "don’t miss", "read next:", "listen:", "related coverage:",
	"lesen sie auch:", "mehr zum thema:", "lire aussi :", "lire aussi:", "à lire aussi", "leia também:", "lee también:",
	"leggi anche:", "читайте также:",
}

// isPointer reports whether b is a short "Related: …" style line.
func isPointer(b string) bool {
	if len(b) > 200 {
		return false
	}
	lower := strings.ToLower(b)
	for _, p := range pointerPrefixes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return false
}

// hasWord reports whether b holds a letter or digit (not only rules like
// "___" or bullets).
func hasWord(b string) bool {
	for _, r := range b {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

var chromeLines = []string{
	"advertisement", "advertisements", "ad", "sponsored", "share", "share this", "share this article",
	"share on facebook", "share on twitter", "tweet", "email", "print", "comments", "related",
	"related articles", "related stories", "more on this story", "skip to content", "close", "menu",
	"loading...", "loading", "story continues below advertisement", "article continues below",
	"continue reading below", "scroll to continue with content", "sign up", "subscribe",
	"you may also like", "recommended", "read next", "more stories", "trending", "most popular",
	"related coverage", "see also", "more from", "up next", "watch", "photos", "video",
	"this slideshow requires javascript", "don't miss", "don’t miss", "read more", "more",
	"anzeige", "werbung", "publicité", "publicidad", "publicidade", "pubblicità", "advertentie", "реклама",
	"lesen sie auch", "lire aussi", "à lire aussi", "leia também", "lee también", "leggi anche", "teilen",
	"partager", "compartir", "compartilhar", "condividi",
}

func isChrome(b string) bool {
	if len(b) > 48 {
		return false
	}
	t := strings.ToLower(strings.Trim(b, " .:…|-–—"))
	for _, c := range chromeLines {
		if t == c {
			return true
		}
	}
	return false
}
