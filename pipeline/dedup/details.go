package dedup

import (
	"cmp"
	"slices"
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
// Commas in value are skipped ("1,200" is "1200").
func detailHash(kind, value string) uint32 {
	k := uint32(mix64(wordHash(kind)^0x6b696e64)) & 0xffff0000
	if k == 0 {
		k = 1 << 16
	}
	v := uint64(14695981039346656037)
	for i := 0; i < len(value); i++ {
		if value[i] != ',' {
			v ^= uint64(value[i])
			v *= 1099511628211
		}
	}
	return k | uint32(mix64(v^0x76616c))&0xfffe
}

// spelled maps number words to digits, so "ten people" and "10 people"
// are one detail.
var spelled = map[string]string{
	"two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
	"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
	"sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
	"dozen": "12", "hundred": "100",
}

// details appends the hashes (detailHash) of the details of s to dst: a
// number (digits with an optional decimal part, or a number word)
// followed, after spaces or a hyphen only, by a word that is not a stop
// word. Times (17:06), calendar years, ordinals and numbers followed by
// punctuation are not details.
func details(s string, dst []uint32) []uint32 {
	num := ""        // the previous token, when it is a number that may count the next word
	sep := byte(' ') // the separator since the previous token: ' ' (spaces, hyphens) or punctuation
	prevSep := byte(' ')
	var buf [16]byte
	i := 0
	for i < len(s) {
		c := s[i]
		if c < 0x80 && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			if c != ' ' && c != '\t' && c != '-' {
				sep = c
			}
			i++
			continue
		}
		if c >= 0x80 {
			r, sz := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				if r != '–' {
					sep = '?'
				}
				i += sz
				continue
			}
		}
		prevSep, sep = sep, ' '
		j := i
		if c >= '0' && c <= '9' {
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' ||
				(s[j] == ',' || s[j] == '.') && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9') {
				j++
			}
			n := s[i:j]
			ordinal := false
			for j < len(s) {
				// "17th", "3pm", "AK47": not a count.
				r2, sz2 := rune(s[j]), 1
				if r2 >= 0x80 {
					r2, sz2 = utf8.DecodeRuneInString(s[j:])
				}
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
			num = n
			continue
		}
		ascii := true
		for j < len(s) {
			c2 := s[j]
			if c2 < 0x80 {
				if c2 >= 'a' && c2 <= 'z' || c2 >= 'A' && c2 <= 'Z' || c2 >= '0' && c2 <= '9' || c2 == '\'' {
					j++
					continue
				}
				break
			}
			r2, sz2 := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
				break
			}
			ascii = false
			j += sz2
		}
		w := s[i:j]
		i = j
		prevNum := num
		counted := num != "" && prevSep == ' '
		num = ""
		if !counted && (len(w) > 7 || !ascii) {
			continue // too long or not ASCII: neither counted nor a number word
		}
		var lw string
		if ascii && len(w) <= len(buf) {
			for k := 0; k < len(w); k++ {
				b := w[k]
				if b >= 'A' && b <= 'Z' {
					b += 'a' - 'A'
				}
				buf[k] = b
			}
			if d, ok := spelled[string(buf[:len(w)])]; ok {
				num = d
				continue // "two three people": the last number counts
			}
			if !counted {
				continue
			}
			lw = string(buf[:len(w)])
		} else {
			lw = strings.ToLower(w)
		}
		if kind, ok := stem(lw); ok {
			dst = append(dst, detailHash(kind, prevNum))
		}
	}
	return dst
}

// detailsAgree reports whether the story terms b (sorted by hash) hold
// one of the item's details ds: the same value of the same kind.
func detailsAgree(ds []uint32, b []term) bool {
	for _, h := range ds {
		if _, ok := slices.BinarySearchFunc(b, h, func(t term, h uint32) int { return cmp.Compare(t.h, h) }); ok {
			return true
		}
	}
	return false
}
