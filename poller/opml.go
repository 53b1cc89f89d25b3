package poller

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/unicode/norm"
)

// maxOPML bounds the OPML document read by ReadOPML.
const maxOPML = 16 << 20

type opmlDoc struct {
	XMLName xml.Name    `xml:"opml"`
	Version string      `xml:"version,attr"`
	Title   string      `xml:"head>title"`
	Body    []opmlEntry `xml:"body>outline"`
}

type opmlEntry struct {
	Text     string      `xml:"text,attr"`
	Title    string      `xml:"title,attr,omitempty"`
	Type     string      `xml:"type,attr,omitempty"`
	XMLURL   string      `xml:"xmlUrl,attr,omitempty"`
	HTMLURL  string      `xml:"htmlUrl,attr,omitempty"`
	Interval string      `xml:"wirewatchInterval,attr,omitempty"`
	FullText string      `xml:"wirewatchFullText,attr,omitempty"`
	Children []opmlEntry `xml:"outline"`
}

// ReadOPML reads the feeds of an OPML subscription list; it is ImportOPML
// without the list of outlines left out.
func ReadOPML(r io.Reader) ([]Feed, error) {
	imp, err := ImportOPML(r)
	if err != nil {
		return nil, err
	}
	return imp.Feeds, nil
}

// OPMLImport is what ImportOPML read from a subscription list.
type OPMLImport struct {
	Feeds   []Feed
	Skipped []OPMLSkip // outlines that were not imported, in document order
}

// OPMLSkip is an outline of a subscription list that was not imported.
type OPMLSkip struct {
	Title  string // the outline's title (else text), as written
	URL    string // its xmlUrl, as written; "" when it has none
	Reason string // why it was left out
}

// String names the outline and says why it was left out:
// `"Old wire" (ftp://old.example/feed): url "ftp://old.example/feed": scheme must be http or https`.
func (s OPMLSkip) String() string {
	var b strings.Builder
	b.WriteString(strconv.Quote(s.Title))
	if s.URL != "" {
		b.WriteString(" (" + s.URL + ")")
	}
	return b.String() + ": " + s.Reason
}

// maxOPMLDepth bounds how deep outlines are followed.
const maxOPMLDepth = 32

// ImportOPML reads the feeds of an OPML subscription list: outlines with an
// xmlUrl, at any depth up to maxOPMLDepth (category outlines are flattened).
// Each feed gets a name made from its title (or host), unique within the
// list. Outlines left out are listed in Skipped with the reason: no xmlUrl
// (an outline without children), a URL that is not http(s), a URL already
// imported from an earlier outline (compared ignoring the case of scheme and
// host and a default port), or nesting too deep. A document that is not OPML
// is an error. It never panics on hostile input.
func ImportOPML(r io.Reader) (*OPMLImport, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxOPML+1))
	if err != nil {
		return nil, err // the reader's error names it ("read FILE: is a directory")
	}
	if len(data) > maxOPML {
		return nil, fmt.Errorf("opml: larger than %d bytes", maxOPML)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("not an OPML document: empty")
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = charset.NewReaderLabel
	dec.Strict = false
	var doc opmlDoc
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, errors.New("not an OPML document: no <opml> element")
	} else if err != nil {
		return nil, fmt.Errorf("not an OPML document: %w", err)
	}
	imp := &OPMLImport{}
	used := map[string]int{}
	byURL := map[string]string{} // urlKey -> name of the feed imported with it
	var walk func([]opmlEntry, int)
	walk = func(es []opmlEntry, depth int) {
		for _, e := range es {
			title := strings.TrimSpace(e.Title)
			if title == "" {
				title = strings.TrimSpace(e.Text)
			}
			u := strings.TrimSpace(e.XMLURL)
			skip := func(why string) {
				imp.Skipped = append(imp.Skipped, OPMLSkip{Title: title, URL: u, Reason: why})
			}
			if depth > maxOPMLDepth {
				skip(fmt.Sprintf("nested deeper than %d outlines", maxOPMLDepth))
				continue
			}
			switch {
			case u == "" && len(e.Children) > 0: // a category
			case u == "" && strings.TrimSpace(e.HTMLURL) != "":
				skip("no xmlUrl, only htmlUrl " + strconv.Quote(strings.TrimSpace(e.HTMLURL)) + " (try wirewatch feeds discover)")
			case u == "":
				skip("no xmlUrl")
			case checkURL(u) != nil:
				// The URL is in the skip already: keep only the reason.
				skip(strings.TrimPrefix(checkURL(u).Error(), "url "+strconv.Quote(u)+": "))
			case byURL[urlKey(u)] != "":
				skip("same URL as feed " + byURL[urlKey(u)])
			default:
				f := Feed{Name: uniqueName(nameFor(title, u), used), URL: u, Title: title}
				if d, err := time.ParseDuration(e.Interval); err == nil && d > 0 {
					f.Interval = d
				}
				f.FullText, _ = strconv.ParseBool(e.FullText)
				imp.Feeds = append(imp.Feeds, f)
				byURL[urlKey(u)] = f.Name
			}
			walk(e.Children, depth+1)
		}
	}
	walk(doc.Body, 0)
	return imp, nil
}

// urlKey is the form in which two feed URLs compare equal: scheme and host
// lower-cased, default port and fragment dropped. Path and query stay as
// they are (servers may treat their case as significant).
func urlKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && !(u.Scheme == "http" && p == "80" || u.Scheme == "https" && p == "443") {
		host = net.JoinHostPort(host, p)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	u.Host, u.Fragment, u.RawFragment = host, "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}

// WriteOPML writes feeds as an OPML 2.0 subscription list. Interval and
// FullText travel as wirewatch-specific attributes other readers ignore.
func WriteOPML(w io.Writer, title string, feeds []Feed) error {
	doc := opmlDoc{Version: "2.0", Title: title}
	for _, f := range feeds {
		text := f.Title
		if text == "" {
			text = f.Name
		}
		e := opmlEntry{Text: text, Title: text, Type: "rss", XMLURL: f.URL}
		if f.Interval > 0 {
			e.Interval = f.Interval.String()
		}
		if f.FullText {
			e.FullText = "true"
		}
		doc.Body = append(doc.Body, e)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write opml: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write opml: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write opml: %w", err)
	}
	return nil
}

// nameFor makes a feed name from a title, or from the URL's host and path
// when the title gives nothing: lower-case letters and digits joined by
// '-', at most 48 bytes. Latin letters with diacritics lose them ("Ünïcode"
// gives "unicode", "Straße" "strasse"); other non-ASCII letters separate
// words like punctuation does.
func nameFor(title, rawURL string) string {
	slug := func(s string) string {
		var b strings.Builder
		dash := false
		for _, r := range toASCII(strings.ToLower(s)) {
			if unicode.IsLetter(r) && r < unicode.MaxASCII || unicode.IsDigit(r) && r < unicode.MaxASCII {
				if dash && b.Len() > 0 {
					b.WriteByte('-')
				}
				dash = false
				b.WriteRune(r)
				if b.Len() >= 48 {
					break
				}
				continue
			}
			dash = true
		}
		return b.String()
	}
	if n := slug(title); n != "" {
		return n
	}
	u := strings.TrimPrefix(strings.TrimPrefix(rawURL, "https://"), "http://")
	if n := slug(strings.TrimPrefix(u, "www.")); n != "" {
		return n
	}
	return "feed"
}

// latin spells the Latin letters that do not decompose into an ASCII letter
// and combining marks.
var latin = strings.NewReplacer("ß", "ss", "æ", "ae", "œ", "oe", "ø", "o", "đ", "d", "ð", "d", "þ", "th",
	"ł", "l", "ı", "i", "ħ", "h", "ŧ", "t", "ŋ", "ng", "ĸ", "k", "ſ", "s")

// toASCII strips the diacritics of Latin letters in lower-case s: NFD, then
// combining marks after an ASCII letter dropped. Other text is unchanged.
func toASCII(s string) string {
	if isASCII(s) {
		return s
	}
	s = norm.NFD.String(latin.Replace(s))
	var b strings.Builder
	b.Grow(len(s))
	prevASCII := false
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) && prevASCII {
			continue // the mark of ü, é, ñ…
		}
		prevASCII = r < unicode.MaxASCII && unicode.IsLetter(r)
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// uniqueName returns name, or name-2, name-3… when already used.
func uniqueName(name string, used map[string]int) string {
	used[name]++
	if used[name] == 1 {
		return name
	}
	for {
		n := name + "-" + strconv.Itoa(used[name])
		if used[n] == 0 {
			used[n] = 1
			return n
		}
		used[name]++
	}
}
