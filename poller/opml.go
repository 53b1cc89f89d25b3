package poller

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/net/html/charset"
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

// ReadOPML reads the feeds of an OPML subscription list (outlines with an
// xmlUrl, at any depth; category outlines are flattened). Each feed gets a
// name made from its title (or host), unique within the list. Outlines
// whose URL is not http(s) are skipped; a document that is not OPML is an
// error. It never panics on hostile input.
func ReadOPML(r io.Reader) ([]Feed, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxOPML+1))
	if err != nil {
		return nil, fmt.Errorf("read opml: %w", err)
	}
	if len(data) > maxOPML {
		return nil, fmt.Errorf("read opml: larger than %d bytes", maxOPML)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = charset.NewReaderLabel
	dec.Strict = false
	var doc opmlDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read opml: %w", err)
	}
	var feeds []Feed
	used := map[string]int{}
	var walk func([]opmlEntry, int)
	walk = func(es []opmlEntry, depth int) {
		if depth > 32 {
			return
		}
		for _, e := range es {
			if u := strings.TrimSpace(e.XMLURL); u != "" && checkURL(u) == nil {
				title := strings.TrimSpace(e.Title)
				if title == "" {
					title = strings.TrimSpace(e.Text)
				}
				f := Feed{Name: uniqueName(nameFor(title, u), used), URL: u, Title: title}
				if d, err := time.ParseDuration(e.Interval); err == nil && d > 0 {
					f.Interval = d
				}
				f.FullText, _ = strconv.ParseBool(e.FullText)
				feeds = append(feeds, f)
			}
			walk(e.Children, depth+1)
		}
	}
	walk(doc.Body, 0)
	return feeds, nil
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
// '-', at most 48 bytes.
func nameFor(title, rawURL string) string {
	slug := func(s string) string {
		var b strings.Builder
		dash := false
		for _, r := range strings.ToLower(s) {
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
