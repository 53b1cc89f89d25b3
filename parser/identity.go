package parser

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/wirewatch/wirewatch/pipeline"
)

// maxBadGUIDShare is the share of a document's entries whose GUID may be
// blank or reused (by an entry with another link or title) before no GUID of
// that document is trusted: 1/20 = 5%.
const maxBadGUIDShare = 20

// punct maps typographic variants that NFKC keeps apart onto one form, so a
// CMS that curls quotes does not change the hash of a copied text.
var punct = strings.NewReplacer(
	"\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'", "\u2032", "'", "\u00b4", "'", "`", "'",
	"\u201c", `"`, "\u201d", `"`, "\u201e", `"`, "\u201f", `"`, "\u2033", `"`, "\u00ab", `"`, "\u00bb", `"`,
	"\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-", "\u2014", "-", "\u2015", "-", "\u2212", "-",
	"\u00ad", "", "\u200b", "", "\u200c", "", "\u200d", "", "\u2060", "", "\ufeff", "",
)

// NormalizeText returns s in the form that ContentHash hashes: Unicode NFKC,
// case-folded, typographic quotes and dashes mapped to ASCII, soft hyphens
// and zero-width characters removed, every run of white space (paragraph
// breaks included) collapsed to one space, trimmed. Two texts that differ
// only in markup, case, quote style or spacing normalise to the same string.
func NormalizeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if isASCII(s) {
		// NFKC leaves ASCII alone and folding it is lower-casing: skip
		// both (most of the cost) for the common all-ASCII text.
		return squashSpace(strings.ToLower(strings.ReplaceAll(s, "`", "'")))
	}
	s = norm.NFKC.String(s)
	s = punct.Replace(s)
	s = cases.Fold().String(s)
	return squashSpace(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// squashSpace replaces every run of white space and control characters
// with one space and trims both ends.
func squashSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ContentHash returns the hex SHA-256 of NormalizeText(text). When text
// normalises to nothing it hashes the normalised title instead (under a
// distinct prefix), so that bodiless items are not all "identical".
func ContentHash(title, text string) string {
	n := NormalizeText(text)
	if n == "" {
		n = "\x00title\x00" + NormalizeText(title)
	}
	h := sha256.Sum256([]byte(n))
	return hex.EncodeToString(h[:])
}

// itemID is the hex of the first 16 bytes of SHA-256(feed, kind, key).
func itemID(feed, kind, key string) string {
	h := sha256.New()
	h.Write([]byte(feed))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// assignIDs sets ID on every item of one document and drops entries that are
// the same entry listed twice (same ID and same content hash). See
// docs/parser.md for the rules:
//
//   - GUIDs are trusted unless more than 1/maxBadGUIDShare of the entries
//     have a blank GUID or one reused by an entry with a different link or
//     title; then no GUID of the document is used.
//   - A trusted, non-blank GUID that is not reused: feed + GUID.
//   - Otherwise the canonical link, when no other entry of the document with
//     a different title has it: feed + link.
//   - Otherwise feed + link + published date + normalised title.
func assignIDs(feed string, items []pipeline.Item) []pipeline.Item {
	type seen struct {
		first int  // index of the first entry with this key
		other bool // another entry with a different link/title has it
	}
	guids := map[string]*seen{}
	links := map[string]*seen{}
	for i := range items {
		it := &items[i]
		if g := it.GUID; g != "" {
			if s, ok := guids[g]; !ok {
				guids[g] = &seen{first: i}
			} else if f := &items[s.first]; f.URL != it.URL || f.Title != it.Title {
				s.other = true
			}
		}
		if l := it.URL; l != "" {
			if s, ok := links[l]; !ok {
				links[l] = &seen{first: i}
			} else if items[s.first].Title != it.Title {
				s.other = true
			}
		}
	}
	bad := 0
	for i := range items {
		if g := items[i].GUID; g == "" || guids[g].other {
			bad++
		}
	}
	trustGUIDs := bad*maxBadGUIDShare <= len(items)

	out := items[:0]
	byID := map[string]string{} // ID -> content hash
	for i := range items {
		it := items[i]
		switch {
		case trustGUIDs && it.GUID != "" && !guids[it.GUID].other:
			it.ID = itemID(feed, "guid", it.GUID)
		case it.URL != "" && !links[it.URL].other:
			it.ID = itemID(feed, "url", it.URL)
		default:
			date := ""
			if !it.Published.IsZero() {
				date = it.Published.Format(time.RFC3339)
			}
			it.ID = itemID(feed, "entry", it.URL+"\x00"+date+"\x00"+NormalizeText(it.Title))
		}
		if h, dup := byID[it.ID]; dup {
			if h == it.ContentHash {
				continue // the same entry listed twice
			}
			// Same key, different text: keep both, told apart by position.
			base := it.ID
			for n := 2; ; n++ {
				it.ID = itemID(feed, "dup", base+"#"+strconv.Itoa(n))
				if _, taken := byID[it.ID]; !taken {
					break
				}
			}
		}
		byID[it.ID] = it.ContentHash
		out = append(out, it)
	}
	return out
}
