package dedup

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTextBytes bounds how much of a body the stage reads: a copy is
// recognised long before 64 KiB and hostile input must not cost more.
const maxTextBytes = 64 << 10

// bodyLines splits text into its non-empty lines (paragraphs) after
// dropping the parts that differ between copies of one wire story: a
// leading repeat of the headline, bylines, a dateline prefix, and
// footer lines or a trailing block of related links. The rules look at
// shape (short lines, no sentence punctuation, all-caps place names,
// well-known footer openings), never at a particular outlet.
func bodyLines(title, text string) []string {
	lines, _ := splitBody(title, text)
	return lines
}

// splitBody is bodyLines that also returns the dropped headline repeat
// ("" when there was none).
func splitBody(title, text string) (lines []string, headline string) {
	if len(text) > maxTextBytes {
		text = text[:maxTextBytes]
	}
	raw := strings.Split(text, "\n")
	lines = make([]string, 0, len(raw))
	ntitle := foldSpace(title)
	for _, l := range raw {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if isBoilerLine(l) {
			continue
		}
		lines = append(lines, l)
	}
	// A dateline ("MOSCOW, Aug 16 (Reuters) - ") or a line that is only a
	// dateline ("MADRID, 16 (EUROPA PRESS)").
	for i := 0; i < len(lines) && i < 2; i++ {
		if isDatelineOnly(lines[i]) {
			lines = append(lines[:i], lines[i+1:]...)
			i--
			continue
		}
		if rest, ok := cutDateline(lines[i]); ok {
			lines[i] = rest
			break
		}
	}
	// The headline repeated as the first line, once bylines and the
	// dateline are gone (a copy may put them before it).
	if len(lines) > 0 && ntitle != "" && foldSpace(lines[0]) == ntitle {
		headline, lines = lines[0], lines[1:]
	}
	// A trailing block of related links: two or more short lines without
	// sentence punctuation at the end.
	end := len(lines)
	for end > 0 && isLinkish(lines[end-1]) {
		end--
	}
	if len(lines)-end >= 2 && end > 0 {
		lines = lines[:end]
	}
	return lines, headline
}

// foldSpace lower-cases s and collapses white space, for comparisons.
func foldSpace(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

var boilerPrefixes = []string{
	"by ", "written by", "reporting by", "additional reporting", "editing by", "compiled by",
	"read more", "read also", "also read", "related:", "related articles", "related stories",
	"see also", "more:", "more on this", "click here", "subscribe", "sign up", "follow us",
	"follow @", "share this", "share on", "advertisement", "copyright", "©", "(c) ",
	"all rights reserved", "this article was", "this story was", "this article first",
	"this story first", "originally published", "first published", "photo:", "image:",
	"source:", "watch:", "listen:", "recommended", "you may also like", "don't miss",
}

// isBoilerLine reports whether a line is a byline, credit or footer: a
// short line opening with one of the usual phrases.
func isBoilerLine(l string) bool {
	if len(l) > 200 {
		return false
	}
	low := strings.ToLower(l[:min(len(l), 32)])
	for _, p := range boilerPrefixes {
		if strings.HasPrefix(low, p) {
			return true
		}
	}
	tail := strings.TrimSuffix(l, ".")
	const arr = "all rights reserved"
	return len(tail) >= len(arr) && strings.EqualFold(tail[len(tail)-len(arr):], arr)
}

// isLinkish reports whether a line looks like a link title in a related
// block: short and not ending a sentence.
func isLinkish(l string) bool {
	if len(strings.Fields(l)) > 14 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(l)
	switch r {
	case '.', '!', '?', '"', '\'', '”', '’', ')', ':', ';':
		return false
	}
	return true
}

// isDatelineOnly reports whether a line is only a dateline: short, mostly
// upper case or a parenthesised agency, no sentence.
func isDatelineOnly(l string) bool {
	if len(l) > 60 || strings.HasSuffix(l, ".") {
		return false
	}
	return hasCapsWord(l) && (strings.Contains(l, "(") || strings.Contains(l, ","))
}

// cutDateline removes a dateline prefix ending in a dash within the first
// 80 bytes, when the prefix holds an all-caps word (a place or agency).
func cutDateline(l string) (string, bool) {
	head := l
	if len(head) > 80 {
		head = head[:80]
	}
	best := -1
	bestLen := 0
	for _, sep := range []string{" - ", " — ", " – ", " -- "} {
		if i := strings.Index(head, sep); i > 0 && (best < 0 || i < best) {
			best, bestLen = i, len(sep)
		}
	}
	if best < 0 || !hasCapsWord(l[:best]) {
		return l, false
	}
	return strings.TrimSpace(l[best+bestLen:]), true
}

// hasCapsWord reports whether s holds a word of three or more letters, all
// upper case.
func hasCapsWord(s string) bool {
	n, upper := 0, true
	for _, r := range s + " " {
		if unicode.IsLetter(r) {
			n++
			upper = upper && unicode.IsUpper(r)
			continue
		}
		if n >= 3 && upper {
			return true
		}
		n, upper = 0, true
	}
	return false
}

// appendWords appends the lower-cased words of s to dst: runs of letters
// and digits, an apostrophe between letters kept inside the word and
// dropped ("don't" -> "dont"), a possessive "'s" dropped ("Russia's" ->
// "russia").
func appendWords(dst []string, s string) []string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		r, sz := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			i += sz
			continue
		}
		// Fast path: a word of lower-case ASCII letters and digits is a
		// substring of s, no allocation.
		j := i
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j > i && (j == len(s) || s[j] < 0x80 && !isASCIIWordByte(s[j]) && s[j] != '\'') {
			dst = append(dst, s[i:j])
			i = j
			continue
		}
		b.Reset()
		for i < len(s) {
			r, sz = utf8.DecodeRuneInString(s[i:])
			if isWordRune(r) {
				b.WriteRune(unicode.ToLower(r))
				i += sz
				continue
			}
			if r == '\'' || r == '’' {
				next, nsz := utf8.DecodeRuneInString(s[i+sz:])
				if unicode.IsLetter(next) {
					after, _ := utf8.DecodeRuneInString(s[i+sz+nsz:])
					if (next == 's' || next == 'S') && !isWordRune(after) {
						i += sz + nsz // possessive: drop "'s"
						break
					}
					i += sz
					continue
				}
			}
			break
		}
		dst = append(dst, b.String())
	}
	return dst
}

func isASCIIWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
