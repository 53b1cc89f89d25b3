package poller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/PuerkitoBio/goquery"

	"github.com/wirewatch/wirewatch/parser"
)

// Discovered is a feed found on a site.
type Discovered struct {
	URL   string
	Title string
	// Type is "rss", "atom", "rdf" or "json" when the document was fetched
	// and recognised; for <link> results it is the link's declared type.
	Type string
	// Source says how it was found: "self" (the URL is a feed), "link" (a
	// <link rel="alternate"> on the page) or "path" (a common feed path).
	Source string
}

// commonPaths are tried, in order, when a page declares no feed.
var commonPaths = []string{
	"/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml", "/feed.json",
	"/feeds/posts/default", "/?feed=rss2",
}

var feedTypes = map[string]bool{
	"application/rss+xml": true, "application/atom+xml": true, "application/rdf+xml": true,
	"application/feed+json": true, "application/json": true, "text/xml": true, "application/xml": true,
}

// Discover finds the feeds of a site: the URL itself when it is a feed, else
// the page's <link rel="alternate"> feeds, else the first common feed path
// that answers with a feed. Every request goes through the same guarded
// client as polling (cfg's limits and address checks apply) and requests
// to one host keep cfg.PerHostGap apart.
func Discover(ctx context.Context, cfg Config, pageURL string) ([]Discovered, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkURL(pageURL); err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	cfg = cfg.withDefaults()
	c := newClient(cfg)
	defer c.hc.CloseIdleConnections()
	gate := newHosts(1, cfg.PerHostGap)
	get := func(u string) (*fetchResponse, error) {
		pu, err := url.Parse(u)
		if err != nil {
			return nil, err
		}
		if !c.allowedURL(pu) {
			release, until, err := gate.acquire(ctx, pu.Hostname())
			if err != nil {
				return nil, err
			}
			if release == nil {
				return nil, fmt.Errorf("%s asks to wait until %s", pu.Hostname(), until)
			}
			defer release()
		}
		return c.get(ctx, fetchRequest{URL: u, Accept: acceptPage + ", " + acceptFeed})
	}

	resp, err := get(pageURL)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err) // the client's errors name the URL
	}
	if typ := sniffFeed(resp.Body); typ != "" {
		return []Discovered{{URL: resp.FinalURL, Type: typ, Source: "self"}}, nil
	}
	base, _ := url.Parse(resp.FinalURL)
	if found := feedLinks(resp.Body, base); len(found) > 0 {
		return found, nil
	}
	var errs []error
	for _, path := range commonPaths {
		ref, _ := url.Parse(path)
		u := base.ResolveReference(ref).String()
		r, err := get(u)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("discover %s: %w", pageURL, ctx.Err())
			}
			errs = append(errs, err)
			continue
		}
		if typ := sniffFeed(r.Body); typ != "" {
			return []Discovered{{URL: r.FinalURL, Type: typ, Source: "path"}}, nil
		}
	}
	if len(errs) == len(commonPaths) {
		return nil, fmt.Errorf("discover %s: no feed linked, common paths failed: %w", pageURL, errors.Join(errs...))
	}
	return nil, nil
}

// feedLinks returns the feeds a page declares with <link rel="alternate">
// (or rel="feed"), resolved against <base href> or base, without repeats.
func feedLinks(page []byte, base *url.URL) []Discovered {
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(page))
	if err != nil || base == nil {
		return nil
	}
	if href, ok := doc.Find("base[href]").First().Attr("href"); ok {
		if b, err := base.Parse(strings.TrimSpace(href)); err == nil {
			base = b
		}
	}
	var out []Discovered
	seen := map[string]bool{}
	doc.Find("link[href]").Each(func(_ int, s *goquery.Selection) {
		rels := strings.Fields(strings.ToLower(s.AttrOr("rel", "")))
		typ := strings.ToLower(strings.TrimSpace(s.AttrOr("type", "")))
		typ, _, _ = strings.Cut(typ, ";")
		alt, feed := false, false
		for _, r := range rels {
			alt = alt || r == "alternate"
			feed = feed || r == "feed"
		}
		if !(alt && feedTypes[typ]) && !feed {
			return
		}
		u, err := base.Parse(strings.TrimSpace(s.AttrOr("href", "")))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || seen[u.String()] {
			return
		}
		seen[u.String()] = true
		out = append(out, Discovered{URL: u.String(), Title: strings.TrimSpace(s.AttrOr("title", "")), Type: typ, Source: "link"})
	})
	return out
}

// sniffFeed recognises a feed document by its start: "rss", "atom", "rdf",
// "json" (JSON Feed), or "" when it is something else.
func sniffFeed(body []byte) string {
	head := body[:min(len(body), 2048)]
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(head)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if bytes.Contains(head, []byte("jsonfeed.org/version")) {
			return "json"
		}
		return ""
	}
	lower := bytes.ToLower(head)
	for i := 0; i < len(lower); {
		j := bytes.IndexByte(lower[i:], '<')
		if j < 0 {
			return ""
		}
		i += j + 1
		rest := lower[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("?")), bytes.HasPrefix(rest, []byte("!")):
			continue // declaration, comment, doctype
		case bytes.HasPrefix(rest, []byte("rss")):
			return "rss"
		case bytes.HasPrefix(rest, []byte("feed")):
			return "atom"
		case bytes.HasPrefix(rest, []byte("rdf:rdf")):
			return "rdf"
		default:
			return ""
		}
	}
	return ""
}

// Preview fetches f once, through the same guarded client as polling (its
// headers, cfg's limits and address checks), and parses it: what the
// poller would see, without state, leases or publishing.
func Preview(ctx context.Context, cfg Config, f Feed) (*parser.Feed, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkURL(f.URL); err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	if err := CheckHeaders(f.Headers); err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	cfg = cfg.withDefaults()
	c := newClient(cfg)
	defer c.hc.CloseIdleConnections()
	resp, err := c.get(ctx, fetchRequest{URL: f.URL, Accept: acceptFeed, Header: f.Headers})
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err) // the client's errors name the URL
	}
	name := f.Name
	if name == "" {
		name = f.URL
	}
	return parser.Parse(parser.Source{Name: name, URL: resp.FinalURL}, resp.Body, c.now())
}
