package parser

import (
	"net/url"
	"strings"
	"testing"
)

func TestCanonicalURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"already canonical", "https://example.com/a/b?x=1", "https://example.com/a/b?x=1"},
		{"case of scheme and host", "HTTPS://News.Example.COM/Path/Case", "https://news.example.com/Path/Case"},
		{"default https port", "https://example.com:443/a", "https://example.com/a"},
		{"default http port", "http://example.com:80/a", "http://example.com/a"},
		{"other port kept", "https://example.com:8443/a", "https://example.com:8443/a"},
		{"fragment dropped", "https://example.com/a#comments", "https://example.com/a"},
		{"utm family", "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x&UTM_Term=y", "https://example.com/a"},
		{"click ids", "https://example.com/a?fbclid=1&gclid=2&msclkid=3&igshid=4&_ga=5&mc_cid=6&mc_eid=7", "https://example.com/a"},
		{"ref-like", "https://example.com/a?ref=hp&ref_src=twsrc&cmpid=rss&ocid=msn&CMP=share_btn", "https://example.com/a"},
		{"query sorted", "https://example.com/a?page=2&id=7&b=1", "https://example.com/a?b=1&id=7&page=2"},
		{"repeated names keep order", "https://example.com/a?tag=z&id=1&tag=a", "https://example.com/a?id=1&tag=z&tag=a"},
		{"encoding kept", "https://example.com/s?q=a%20b&utm_source=x", "https://example.com/s?q=a%20b"},
		{"empty query and path", "https://example.com?", "https://example.com/"},
		{"empty pairs", "https://example.com/a?&&id=1&", "https://example.com/a?id=1"},
		{"userinfo dropped", "https://user:pw@example.com/a", "https://example.com/a"},
		{"trailing dot host", "https://example.com./a", "https://example.com/a"},
		{"spaces trimmed", "  https://example.com/a  ", "https://example.com/a"},
		{"relative unchanged", "/news/a?utm_source=x", "/news/a?utm_source=x"},
		{"mailto unchanged", "mailto:desk@example.com", "mailto:desk@example.com"},
		{"garbage unchanged", "%zz://", "%zz://"},
		{"ipv6", "http://[::1]:80/a", "http://[::1]/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanonicalURL(tt.in); got != tt.want {
				t.Errorf("CanonicalURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := CanonicalURL(CanonicalURL(tt.in)); got != CanonicalURL(tt.in) {
				t.Errorf("CanonicalURL is not idempotent on %q: %q", tt.in, got)
			}
		})
	}
}

func TestResolveURL(t *testing.T) {
	base, _ := url.Parse("https://feeds.example.com/world/rss.xml")
	tests := []struct{ name, ref, want string }{
		{"absolute", "https://www.example.com/a?utm_source=x", "https://www.example.com/a"},
		{"root relative", "/news/a", "https://feeds.example.com/news/a"},
		{"path relative", "a.html", "https://feeds.example.com/world/a.html"},
		{"dot segments", "../b/./c", "https://feeds.example.com/b/c"},
		{"protocol relative", "//cdn.example.com/x", "https://cdn.example.com/x"},
		{"javascript", "javascript:alert(1)", ""},
		{"empty", "  ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolveURL(base, tt.ref); got != tt.want {
				t.Errorf("resolveURL(%s, %q) = %q, want %q", base, tt.ref, got, tt.want)
			}
		})
	}
}

func FuzzCanonicalURL(f *testing.F) {
	for _, s := range []string{"https://example.com/a?utm_source=x&b=1#f", "HTTP://A:80", "http://[::1]:443/", "%", "?&&="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := CanonicalURL(s)
		if again := CanonicalURL(c); again != c {
			t.Errorf("CanonicalURL not idempotent: %q -> %q -> %q", s, c, again)
		}
		// An http(s) link comes out without fragment, default port or
		// tracking parameters.
		u, err := url.Parse(c)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return
		}
		if u.Fragment != "" || u.Scheme == "http" && u.Port() == "80" || u.Scheme == "https" && u.Port() == "443" {
			t.Errorf("CanonicalURL(%q) = %q keeps a fragment or default port", s, c)
		}
		for part := range strings.SplitSeq(u.RawQuery, "&") {
			k, _, _ := strings.Cut(part, "=")
			if dk, err := url.QueryUnescape(k); err == nil {
				k = dk
			}
			if isTrackingParam(k) {
				t.Errorf("CanonicalURL(%q) = %q keeps tracking parameter %q", s, c, k)
			}
		}
	})
}
