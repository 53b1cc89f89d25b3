package parser

import (
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// trackingParams are query parameters that say how a reader reached a page,
// not which page it is. Names are matched case-insensitively.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "gclsrc": true, "dclid": true, "gbraid": true, "wbraid": true,
	"msclkid": true, "yclid": true, "twclid": true, "ttclid": true, "li_fat_id": true, "igshid": true,
	"mc_cid": true, "mc_eid": true, "_ga": true, "_gl": true, "_hsenc": true, "_hsmi": true,
	"mkt_tok": true, "ocid": true, "cmpid": true, "cmp": true, "icid": true, "smid": true,
	"ref": true, "ref_src": true, "ref_url": true, "referrer": true, "src_ref": true,
	"xtor": true, "wt.mc_id": true, "wt_mc_id": true, "at_medium": true, "at_campaign": true,
	"at_custom1": true, "at_custom2": true, "at_custom3": true, "at_custom4": true,
	"sr_share": true, "s_cid": true, "ito": true,
	"oly_enc_id": true, "oly_anon_id": true, "vero_id": true, "__twitter_impression": true,
	"guccounter": true, "guce_referrer": true, "guce_referrer_sig": true,
}

// trackingPrefixes are families of tracking parameters (utm_source,
// utm_medium, …; pk_campaign, …).
var trackingPrefixes = []string{"utm_", "pk_", "mtm_", "hsa_", "fb_action_", "ga_"}

func isTrackingParam(name string) bool {
	name = strings.ToLower(name)
	if trackingParams[name] {
		return true
	}
	for _, p := range trackingPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// CanonicalURL returns the canonical form of an article link, so that the
// same article reached through differently decorated links compares equal:
// scheme and host lower-cased, default port (:80 for http, :443 for https)
// dropped, fragment dropped, tracking parameters (utm_*, fbclid, gclid,
// mc_cid, ref, cmpid, igshid, …) removed and the remaining query parameters
// sorted by name (the order of repeated names is kept), an empty path
// written as "/". Links that are not absolute http(s) URLs are returned
// trimmed but otherwise unchanged; an unparsable link is returned trimmed.
func CanonicalURL(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return raw
	}
	return canonical(u)
}

// canonical normalises an absolute http(s) URL in place and returns it as a
// string.
func canonical(u *url.URL) string {
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := u.Hostname(), u.Port()
	host = strings.TrimRight(strings.ToLower(host), ".")
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" && u.Opaque == "" {
		u.Path, u.RawPath = "/", ""
	}
	u.RawQuery = cleanQuery(u.RawQuery)
	u.ForceQuery = false
	return u.String()
}

// cleanQuery drops tracking parameters and empty pairs from a raw query and
// sorts the rest by decoded name, keeping each pair's own encoding.
func cleanQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type pair struct{ key, raw string }
	var kept []pair
	for part := range strings.SplitSeq(raw, "&") {
		// A pair's trailing white space (a link "…?q #top") goes: it would
		// end the canonical link, and CanonicalURL trims a link first.
		part = strings.TrimRightFunc(part, unicode.IsSpace)
		if part == "" {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if k == "" || isTrackingParam(k) {
			continue
		}
		kept = append(kept, pair{k, part})
	}
	slices.SortStableFunc(kept, func(a, b pair) int { return strings.Compare(a.key, b.key) })
	var b strings.Builder
	for i, p := range kept {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.raw)
	}
	return b.String()
}

// resolveURL resolves ref against base (when ref is relative and base is an
// absolute URL) and canonicalises the result. It returns "" for a link that
// cannot be an article address (empty, javascript:, data:, unparsable).
func resolveURL(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if !u.IsAbs() {
		if base == nil {
			return ref
		}
		u = base.ResolveReference(u)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return ""
		}
		return canonical(u)
	case "javascript", "data", "vbscript", "about":
		return ""
	}
	return u.String()
}

// baseURL returns the first of candidates that is an absolute http(s) URL.
func baseURL(candidates ...string) *url.URL {
	for _, c := range candidates {
		u, err := url.Parse(strings.TrimSpace(c))
		if err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
			return u
		}
	}
	return nil
}
