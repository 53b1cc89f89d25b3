package parser

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/mmcdole/gofeed"
	"golang.org/x/text/encoding/unicode"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Source names the configured feed a document came from.
type Source struct {
	Name string // configured feed name
	URL  string // configured (or permanently redirected) feed URL
}

// Feed is what one fetch of a feed document yields.
type Feed struct {
	Title string
	Link  string // the site's home page, if the feed names one
	Lang  string
	// TTL is RSS <ttl>; zero when absent.
	TTL time.Duration
	// UpdatePeriod is derived from sy:updatePeriod / sy:updateFrequency;
	// zero when absent.
	UpdatePeriod time.Duration
	Items        []pipeline.Item
	// Skipped lists the entries of the document that were left out, in
	// document order; nil when none was. An entry listed twice is merged
	// into one item, not listed here.
	Skipped []Skip
}

// Skip is one entry of a feed document that Parse left out.
type Skip struct {
	Entry  int    `json:"entry"`  // position among the document's entries, from 1
	Reason string `json:"reason"` // why, e.g. "no title, link or text"
}

// String says which entry was skipped and why ("entry 3: no title, link or
// text").
func (s Skip) String() string { return fmt.Sprintf("entry %d: %s", s.Entry, s.Reason) }

// Parse parses an RSS 0.9x/1.0/2.0, Atom or JSON Feed document fetched from
// src. now is the fetch time: it becomes every item's Fetched and is the
// only clock Parse reads. Items come in document order, each with ID, Feed,
// FeedURL, Fetched, Text and ContentHash set; entries listed twice in one
// document appear once; entries with no title, link or text are left out and
// listed in Feed.Skipped. Characters XML forbids (&#0;, raw control
// characters, invalid UTF-8) are dropped or replaced before parsing, so one
// such entry does not cost the whole feed. Errors name the feed ("parse feed
// <name>: …"): an empty body, an HTML page, a document that is not a feed (a
// JSON document without the "version" and "items" JSON Feed requires), or
// XML/JSON so broken that no feed can be read from it. Parse never panics on
// hostile input and is safe for concurrent use.
func Parse(src Source, body []byte, now time.Time) (f *Feed, err error) {
	name := src.Name
	if name == "" {
		name = src.URL
	}
	defer func() {
		// gofeed is third-party code fed hostile bytes: a panic in it must
		// cost one document, not the process.
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("parse feed %s: parser panic: %v", name, r)
		}
	}()
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("parse feed %s: empty document", name)
	}
	body, err = toUTF8(body)
	if err != nil {
		return nil, fmt.Errorf("parse feed %s: %w", name, err)
	}
	body, _ = sanitize(body)
	if isJSON(body) {
		if err := checkJSONFeed(body); err != nil {
			return nil, fmt.Errorf("parse feed %s: %w", name, err)
		}
	}
	fp := gofeed.NewParser()
	fp.KeepOriginalFeed = true
	gf, err := fp.Parse(bytes.NewReader(body))
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			if looksLikeHTML(body) {
				return nil, fmt.Errorf("parse feed %s: not a feed: got an HTML page", name)
			}
			return nil, fmt.Errorf("parse feed %s: not an RSS, Atom or JSON feed", name)
		}
		return nil, fmt.Errorf("parse feed %s: %w", name, jsonError(err))
	}
	return convert(src, gf, now.UTC()), nil
}

// xmlEncodingDecl matches the encoding pseudo-attribute of an XML
// declaration.
var xmlEncodingDecl = regexp.MustCompile(`^(<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']`)

// toUTF8 drops a UTF-8 byte order mark (JSON decoding rejects it) and
// decodes a UTF-16 document marked by its byte order mark, rewriting its XML
// declaration to say UTF-8. Other encodings are left to the XML decoder,
// which reads the declaration.
func toUTF8(body []byte) ([]byte, error) {
	if rest, ok := bytes.CutPrefix(body, []byte("\xef\xbb\xbf")); ok {
		return rest, nil
	}
	if len(body) < 2 || !(body[0] == 0xff && body[1] == 0xfe || body[0] == 0xfe && body[1] == 0xff) {
		return body, nil
	}
	dec := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
	out, err := dec.Bytes(body)
	if err != nil {
		return nil, fmt.Errorf("decode UTF-16: %w", err)
	}
	return xmlEncodingDecl.ReplaceAll(out, []byte(`${1}"UTF-8"`)), nil
}

// looksLikeHTML reports whether the start of body is an HTML page, the usual
// answer of a site whose feed moved.
func looksLikeHTML(body []byte) bool {
	head := bytes.ToLower(body[:min(len(body), 1024)])
	return bytes.Contains(head, []byte("<!doctype html")) || bytes.Contains(head, []byte("<html"))
}
