package dedup

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Event details: a count or measure with the word it counts ("23
// pirates", "5.6 magnitude", "10 killed", "35-year-old"). Two reports of
// one event print the same details; two events of one kind (two
// earthquakes, two pirate captures) print the same kinds of detail with
// other values.
//
// A detail is a story term whose hash has the low bit clear (other terms
// have it set): the high 16 bits hash its kind (the counted word), bits
// 1-15 its value. Details thus travel in the records and centroids like
// any term, and sorting terms by hash groups them by kind.

// isDetail reports whether h is a detail term.
func isDetail(h uint32) bool { return h&1 == 0 }

// detailHash returns the term hash of value counting kind; never 0.
func detailHash(kind, value string) uint32 {
	k := uint32(mix64(wordHash("\x00k:"+kind))) & 0xffff0000
	if k == 0 {
		k = 1 << 16
	}
	return k | uint32(mix64(wordHash("\x00v:"+value)))&0xfffe
}

// spelled maps number words to digits, so "ten people" and "10 people"
// are one detail.
var spelled = map[string]string{
	"two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
	"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
	"sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
	"dozen": "12", "hundred": "100",
}

// details appends the details of s to dst as "kind\x00value" pairs: a
// number (digits with an optional decimal part, or a number word)
// followed, after spaces or a hyphen only, by a word that is not a stop
// word. Times (17:06), calendar years, ordinals and numbers followed by
// punctuation are not details.
func details(s string, dst []string) []string {
	num := ""        // the previous token, when it is a number that may count the next word
	sep := byte(' ') // the separator since the previous token: ' ' (spaces, hyphens) or punctuation
	prevSep := byte(' ')
	i := 0
	for i < len(s) {
		r, sz := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			switch {
			case r == ' ' || r == '\t' || r == '-' || r == '–':
			case r < 0x80:
				sep = byte(r)
			default:
				sep = '?'
			}
			i += sz
			continue
		}
		prevSep, sep = sep, ' '
		j := i
		if r >= '0' && r <= '9' {
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' ||
				(s[j] == ',' || s[j] == '.') && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9') {
				j++
			}
			n := s[i:j]
			ordinal := false
			for j < len(s) {
				// "17th", "3pm", "AK47": not a count.
				r2, sz2 := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				ordinal = true
				j += sz2
			}
			i = j
			num = ""
			if ordinal || prevSep == ':' || len(n) == 4 && (n[:2] == "19" || n[:2] == "20") {
				continue
			}
			num = strings.ReplaceAll(n, ",", "")
			continue
		}
		for j < len(s) {
			r2, sz2 := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsLetter(r2) && !unicode.IsDigit(r2) && r2 != '\'' {
				break
			}
			j += sz2
		}
		w := s[i:j]
		i = j
		if num == "" && len(w) > 9 {
			continue
		}
		w = strings.ToLower(w)
		if num != "" && prevSep == ' ' {
			if _, isNum := spelled[w]; !isNum {
				if kind, ok := stem(w); ok {
					dst = append(dst, kind+"\x00"+num)
				}
			}
		}
		num = spelled[w]
	}
	return dst
}

// detailsAgree reports whether item terms a and story terms b (both
// sorted by hash) share a detail: the same value of the same kind.
func detailsAgree(a, b []term) bool {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case !isDetail(a[i].h):
			i++
		case !isDetail(b[j].h):
			j++
		case a[i].h < b[j].h:
			i++
		case a[i].h > b[j].h:
			j++
		default:
			return true
		}
	}
	return false
}
