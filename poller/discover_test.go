package poller

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestDiscover(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/linked/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><html><head><title>News</title>
<base href="/linked/sub/">
<link rel="alternate" type="application/rss+xml" title="All news" href="../all.rss">
<link rel="alternate" type="application/atom+xml" title="World" href="https://other.example/world.atom">
<link rel="alternate" type="application/rss+xml" href="../all.rss">
<link rel="alternate" hreflang="de" href="/de/">
<link rel="stylesheet" type="text/css" href="/x.css">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
</head><body>hi</body></html>`))
	})
	mux.HandleFunc("/plain/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<html><body>no feeds declared</body></html>`))
	})
	mux.HandleFunc("/feed.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Write(rss("path", 1, ""))
	})
	mux.HandleFunc("/direct.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Write(append([]byte("\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- hi -->\n"), rss("direct", 1, "")[39:]...))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cfg := localConfig(t, srv)
	cfg.PerHostGap = time.Millisecond

	for _, tc := range []struct {
		path string
		want []Discovered
	}{
		{"/linked/", []Discovered{
			{URL: srv.URL + "/linked/all.rss", Title: "All news", Type: "application/rss+xml", Source: "link"},
			{URL: "https://other.example/world.atom", Title: "World", Type: "application/atom+xml", Source: "link"},
		}},
		{"/plain/", []Discovered{{URL: srv.URL + "/feed.xml", Type: "rss", Source: "path"}}},
		{"/direct.xml", []Discovered{{URL: srv.URL + "/direct.xml", Type: "rss", Source: "self"}}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got, err := Discover(t.Context(), cfg, srv.URL+tc.path)
			if err != nil {
				t.Fatalf("Discover(%s) = %v", tc.path, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Discover(%s) =\n%+v\nwant\n%+v", tc.path, got, tc.want)
			}
		})
	}
	t.Run("private address refused", func(t *testing.T) {
		if _, err := Discover(t.Context(), DefaultConfig(), srv.URL+"/linked/"); err == nil {
			t.Error("Discover on loopback without allow list: no error")
		}
	})
}

func TestSniffFeed(t *testing.T) {
	for in, want := range map[string]string{
		`<?xml version="1.0"?><rss version="2.0">`:             "rss",
		"\ufeff  <feed xmlns=\"http://www.w3.org/2005/Atom\">": "atom",
		`<rdf:RDF xmlns:rdf="x">`:                              "rdf",
		`{"version": "https://jsonfeed.org/version/1.1"}`:      "json",
		`{"hello": 1}`: "",
		`<!DOCTYPE html><html><head><link rel="alternate">`: "",
		`<?xml version="1.0"?><!-- c --><rss>`:              "rss",
		``:                                                  "",
		`<`:                                                 "",
	} {
		if got := sniffFeed([]byte(in)); got != want {
			t.Errorf("sniffFeed(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzFeedLinks(f *testing.F) {
	f.Add([]byte(`<link rel="alternate" type="application/rss+xml" href="/a"><base href="http://x/">`))
	f.Add([]byte(`<link rel="feed" href="//evil/%zz">`))
	base, _ := url.Parse("https://example.com/news/")
	f.Fuzz(func(t *testing.T, page []byte) {
		for _, d := range feedLinks(page, base) {
			if checkURL(d.URL) != nil {
				t.Errorf("feedLinks returned %q, not an http(s) URL", d.URL)
			}
		}
		_ = sniffFeed(page)
	})
}

func FuzzHeaders(f *testing.F) {
	f.Add("max-age=60, s-maxage=3600", "Wed, 21 Oct 2015 07:28:00 GMT", "120")
	f.Add("", "", "Wed, 21 Oct 2015 07:28:00 GMT")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, cc, expires, retryAfter string) {
		h := headerHints(http.Header{"Cache-Control": {cc}, "Expires": {expires}}, now)
		if h.MaxAge < 0 || h.Expires < 0 {
			t.Errorf("negative hint %+v", h)
		}
		if d := parseRetryAfter(retryAfter, now, time.Hour); d < 0 || d > time.Hour {
			t.Errorf("parseRetryAfter(%q) = %s, outside [0, 1h]", retryAfter, d)
		}
	})
}

// FuzzReadBody: whatever a server sends as a (gzip) body, readBody returns
// at most the caps and never panics.
func FuzzReadBody(f *testing.F) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("a"), 5000))
	zw.Close()
	f.Add(gz.Bytes(), true)
	f.Add([]byte("<rss></rss>"), false)
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), true)
	c := newClient(Config{MaxBody: 1024, MaxDecompressed: 4096}.withDefaults())
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		resp := &http.Response{Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: -1}
		if gzipped {
			resp.Header.Set("Content-Encoding", "gzip")
		}
		got, wire, err := c.readBody(resp)
		if err == nil && (int64(len(got)) > 4096 || wire > 1024) {
			t.Errorf("readBody returned %d bytes (%d on the wire) past the caps", len(got), wire)
		}
		if err == nil && !gzipped && !bytes.Equal(got, body) {
			t.Errorf("identity body changed")
		}
	})
}
