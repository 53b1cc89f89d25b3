package parser

import (
	"html"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"
	jsonfeed "github.com/mmcdole/gofeed/json"
	"github.com/mmcdole/gofeed/rss"
	xhtml "golang.org/x/net/html"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Limits on what one hostile entry can make an item carry.
const (
	maxTitle = 2 << 10 // bytes of a title
	maxName  = 256     // bytes of one author or category
	maxNames = 64      // authors or categories kept per item
	maxText  = 1 << 20 // bytes of body text
)

// reasonEmpty is why an entry with nothing to read is skipped.
const reasonEmpty = "no title, link or text"

// maxTTL bounds feed-declared refresh hints; anything longer is nonsense
// the poller should not obey.
const maxTTL = 30 * 24 * time.Hour

// convert maps gofeed's universal feed onto Feed and pipeline.Items.
func convert(src Source, gf *gofeed.Feed, now time.Time) *Feed {
	f := &Feed{
		Title:        cleanInline(gf.Title),
		Lang:         cleanLang(gf.Language),
		UpdatePeriod: updatePeriod(gf),
	}
	if rf, ok := gf.OriginalFeed().(*rss.Feed); ok {
		f.TTL = ttl(rf.TTL)
	}
	base := baseURL(src.URL, gf.FeedLink, gf.Link)
	f.Link = resolveURL(base, gf.Link)
	if base == nil { // no absolute feed URL: the site link may serve as base
		base = baseURL(f.Link)
	}

	var jsonItems map[*gofeed.Item]*jsonfeed.Item
	if jf, ok := gf.OriginalFeed().(*jsonfeed.Feed); ok && len(jf.Items) == len(gf.Items) {
		jsonItems = make(map[*gofeed.Item]*jsonfeed.Item, len(gf.Items))
		for i, gi := range gf.Items {
			jsonItems[gi] = jf.Items[i]
		}
	}
	// Atom entries and JSON Feed items inherit the feed's authors.
	_, isAtom := gf.OriginalFeed().(*atom.Feed)
	inheritAuthors := isAtom || jsonItems != nil

	items := make([]pipeline.Item, 0, len(gf.Items))
	for n, gi := range gf.Items {
		if gi == nil {
			f.Skipped = append(f.Skipped, Skip{Entry: n + 1, Reason: reasonEmpty})
			continue
		}
		it := pipeline.Item{
			Feed:       src.Name,
			FeedURL:    src.URL,
			GUID:       strings.ToValidUTF8(strings.TrimSpace(gi.GUID), "\uFFFD"),
			Title:      truncate(cleanInline(gi.Title), maxTitle),
			Authors:    people(gi.Authors),
			Categories: dedupe(gi.Categories),
			Lang:       f.Lang,
			Published:  itemTime(gi),
			Fetched:    now,
		}
		if len(it.Authors) == 0 && inheritAuthors {
			it.Authors = people(gf.Authors)
		}
		it.URL = itemLink(base, gi)
		ji := jsonItems[gi]
		if gi.DublinCoreExt != nil && len(gi.DublinCoreExt.Language) > 0 {
			if l := cleanLang(gi.DublinCoreExt.Language[0]); l != "" {
				it.Lang = l
			}
		}
		if ji != nil {
			if l := cleanLang(ji.Language); l != "" {
				it.Lang = l
			}
		}
		it.Text = truncate(body(gi, ji), maxText)
		if it.Title == "" && it.URL == "" && it.Text == "" {
			// Nothing to show, tag or tell apart from the next such
			// entry: a GUID alone does not make an item.
			f.Skipped = append(f.Skipped, Skip{Entry: n + 1, Reason: reasonEmpty})
			continue
		}
		it.ContentHash = ContentHash(it.Title, it.Text)
		items = append(items, it)
	}
	f.Items = assignIDs(src.Name, items)
	return f
}

// body returns the plain text of the richest of the entry's bodies:
// content:encoded, Atom content or JSON content_html/content_text on one
// side, description, Atom summary or JSON summary on the other.
func body(gi *gofeed.Item, ji *jsonfeed.Item) string {
	var candidates []string
	if ji != nil {
		// JSON Feed says which fields are HTML and which are plain text.
		if ji.ContentHTML != "" {
			candidates = append(candidates, ji.ContentHTML)
		} else if ji.ContentText != "" {
			candidates = append(candidates, plainToHTML(ji.ContentText))
		}
		if ji.Summary != "" {
			candidates = append(candidates, plainToHTML(ji.Summary))
		}
	} else {
		candidates = append(candidates, gi.Content, gi.Description)
	}
	best, bestLen := "", 0
	for i, c := range candidates {
		if strings.TrimSpace(c) == "" || i > 0 && c == candidates[0] {
			continue
		}
		t := strings.TrimSpace(strings.ToValidUTF8(Text(c), "\uFFFD"))
		if n := utf8.RuneCountInString(t); n > bestLen {
			best, bestLen = t, n
		}
	}
	return best
}

// plainToHTML wraps each non-empty line of a plain text in a paragraph, so
// that plain and HTML bodies go through the same extractor.
func plainToHTML(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			b.WriteString("<p>")
			b.WriteString(html.EscapeString(line))
			b.WriteString("</p>\n")
		}
	}
	return b.String()
}

// itemLink returns the entry's canonical article link: its link, else its
// first other link, else a GUID that is an http(s) URL (an RSS permalink).
func itemLink(base *url.URL, gi *gofeed.Item) string {
	cands := append([]string{gi.Link}, gi.Links...)
	for _, c := range cands {
		if u := resolveURL(base, c); u != "" {
			return u
		}
	}
	g := strings.TrimSpace(gi.GUID)
	if strings.HasPrefix(g, "http://") || strings.HasPrefix(g, "https://") {
		return CanonicalURL(g)
	}
	return ""
}

// itemTime returns the entry's publication time (else its update time) in
// UTC, or zero when it has none or an implausible one.
func itemTime(gi *gofeed.Item) time.Time {
	for _, t := range []*time.Time{gi.PublishedParsed, gi.UpdatedParsed} {
		if t == nil || t.IsZero() {
			continue
		}
		u := t.UTC()
		// Years outside this range cannot be real news and would not
		// survive JSON encoding (RFC 3339 has four-digit years).
		if u.Year() < 1900 || u.Year() > 9999 {
			continue
		}
		return u.Truncate(time.Second)
	}
	return time.Time{}
}

// cleanInline turns a one-line field that may hold HTML (a title, a name)
// into plain text: entities decoded (twice-escaped ones too), tags
// stripped, white space collapsed, invalid UTF-8 replaced.
func cleanInline(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = html.UnescapeString(s)
	if strings.ContainsRune(s, '<') {
		var b strings.Builder
		z := xhtml.NewTokenizer(strings.NewReader(s))
	loop:
		for {
			switch z.Next() {
			case xhtml.ErrorToken:
				break loop
			case xhtml.TextToken:
				b.Write(z.Text())
			case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
				b.WriteByte(' ')
			}
		}
		s = b.String()
	}
	return squashSpace(strings.ToValidUTF8(s, "\uFFFD"))
}

// truncate cuts s to at most n bytes at a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimSpace(s[:n])
}

// people returns the cleaned, de-duplicated names (else e-mail addresses)
// of persons.
func people(ps []*gofeed.Person) []string {
	var names []string
	for _, p := range ps {
		if p == nil {
			continue
		}
		n := p.Name
		if strings.TrimSpace(n) == "" {
			n = p.Email
		}
		names = append(names, n)
	}
	return dedupe(names)
}

// dedupe cleans each value, drops empty ones and keeps the first spelling
// of values that are equal ignoring case.
func dedupe(vals []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range vals {
		if len(out) == maxNames {
			break
		}
		v = truncate(cleanInline(v), maxName)
		k := strings.ToLower(v)
		if v == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, v)
	}
	return out
}

// cleanLang normalises a language code ("en_US " → "en-us"); it returns ""
// for anything that is not shaped like a BCP 47 tag.
func cleanLang(s string) string {
	s = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", "-"))
	if s == "" || len(s) > 35 {
		return ""
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return ""
		}
	}
	return s
}

// ttl reads RSS <ttl> (minutes).
func ttl(s string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Minute, maxTTL)
}

// updatePeriod reads the RSS syndication module: sy:updatePeriod (hourly,
// daily, weekly, monthly, yearly; default daily) divided by
// sy:updateFrequency (default 1). Zero when the feed has neither.
func updatePeriod(gf *gofeed.Feed) time.Duration {
	sy := gf.Extensions["sy"]
	if sy == nil {
		return 0
	}
	first := func(name string) (string, bool) {
		if e := sy[name]; len(e) > 0 {
			return strings.ToLower(strings.TrimSpace(e[0].Value)), true
		}
		return "", false
	}
	period, hasPeriod := first("updatePeriod")
	freq, hasFreq := first("updateFrequency")
	if !hasPeriod && !hasFreq {
		return 0
	}
	var d time.Duration
	switch period {
	case "hourly":
		d = time.Hour
	case "", "daily":
		d = 24 * time.Hour
	case "weekly":
		d = 7 * 24 * time.Hour
	case "monthly":
		d = 30 * 24 * time.Hour
	case "yearly":
		d = 365 * 24 * time.Hour
	default:
		return 0
	}
	n := 1
	if hasFreq {
		v, err := strconv.Atoi(freq)
		if err != nil || v <= 0 {
			return 0
		}
		n = v
	}
	return min(d/time.Duration(n), maxTTL)
}
