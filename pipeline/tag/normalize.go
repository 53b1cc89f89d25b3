package tag

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// token is one word of a field: a maximal run of letters, digits and
// combining marks, or a single ideograph/kana (scripts written without
// spaces). Start and End are byte offsets into the original field; the
// folded form is key[ks:ke] of the tokenizer's buffer.
type token struct {
	start, end int32  // byte offsets into the original text
	ks, ke     int32  // folded form in the tokens' key buffer
	h          uint64 // hashWord of the folded form
}

// FNV-1a, 64 bits: computed while tokenizing, so word lookups need no
// second pass over the bytes.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func hashWord[T string | []byte](w T) uint64 {
	h := fnvOffset
	for i := 0; i < len(w); i++ {
		h = (h ^ uint64(w[i])) * fnvPrime
	}
	return h
}

// tokens is the tokenized form of one field.
type tokens struct {
	src  string
	toks []token
	key  []byte // folded forms, concatenated
}

// keyOf returns the folded form of token i. A token already folded (ASCII
// lower case) has ks < 0 and its key is the source text itself.
func (ts *tokens) keyOf(i int) string {
	t := ts.toks[i]
	if t.ks < 0 {
		return ts.src[t.start:t.end]
	}
	return unsafeString(ts.key[t.ks:t.ke])
}
func (ts *tokens) text(i int) string { t := ts.toks[i]; return ts.src[t.start:t.end] }

// isWordRune reports whether r belongs inside a word.
func isWordRune(r rune) bool {
	if 0x2000 <= r && r <= 0x206f || 0x3000 <= r && r <= 0x303f || r == 0xa0 {
		return false // general and CJK punctuation, no-break space: common, never words
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) ||
		unicode.Is(unicode.No, r)
}

// isSoloRune reports whether r is a word on its own: scripts written
// without spaces between words, where any substring may be a name.
func isSoloRune(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana)
}

// tokenize splits s into word tokens and folds each one (see fold). The
// result reuses ts's buffers.
func (ts *tokens) tokenize(s string) {
	ts.src = s
	ts.toks = ts.toks[:0]
	ts.key = ts.key[:0]
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiLower[c] == 0 {
				i++
				continue
			}
			// ASCII fast path: lower-case while the word stays ASCII.
			start := i
			lower := true
			h := fnvOffset
			for i < len(s) {
				l := asciiLower[s[i]]
				if l == 0 {
					break
				}
				lower = lower && l == s[i]
				h = (h ^ uint64(l)) * fnvPrime
				i++
			}
			if i < len(s) && s[i] >= utf8.RuneSelf {
				if r, _ := utf8.DecodeRuneInString(s[i:]); isWordRune(r) && !isSoloRune(r) {
					// The word goes on with non-ASCII letters: redo it slowly.
					i = ts.slowWord(s, start)
					continue
				}
			}
			if lower {
				ts.toks = append(ts.toks, token{start: int32(start), end: int32(i), ks: -1, h: h})
				continue
			}
			ks := len(ts.key)
			ts.key = append(ts.key, s[start:i]...)
			for k := ks; k < len(ts.key); k++ {
				ts.key[k] = asciiLower[ts.key[k]]
			}
			ts.toks = append(ts.toks, token{start: int32(start), end: int32(i), ks: int32(ks), ke: int32(len(ts.key)), h: h})
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case isSoloRune(r):
			ks := len(ts.key)
			ts.key = appendFold(ts.key, s[i:i+n])
			ts.toks = append(ts.toks, token{start: int32(i), end: int32(i + n), ks: int32(ks), ke: int32(len(ts.key)),
				h: hashWord(ts.key[ks:])})
			i += n
		case isWordRune(r):
			i = ts.slowWord(s, i)
		default:
			i += n
		}
	}
}

// asciiLower maps ASCII letters and digits to their lower case, and every
// other byte (including all non-ASCII bytes) to 0.
var asciiLower = func() (t [256]byte) {
	for b := '0'; b <= '9'; b++ {
		t[b] = byte(b)
	}
	for b := 'a'; b <= 'z'; b++ {
		t[b] = byte(b)
		t[b-'a'+'A'] = byte(b)
	}
	return t
}()

// slowWord reads the word starting at start (any runes), appends its token
// and returns the offset after it.
func (ts *tokens) slowWord(s string, start int) int {
	i := start
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) || isSoloRune(r) {
			break
		}
		i += n
	}
	if i == start { // a lone invalid byte or the like: skip it
		_, n := utf8.DecodeRuneInString(s[i:])
		return i + n
	}
	ks := len(ts.key)
	ts.key = appendFold(ts.key, s[start:i])
	if len(ts.key) == ks { // folded to nothing (e.g. only marks): not a word
		return i
	}
	ts.toks = append(ts.toks, token{start: int32(start), end: int32(i), ks: int32(ks), ke: int32(len(ts.key)),
		h: hashWord(ts.key[ks:])})
	return i
}

var folder = cases.Fold()

// letterFold maps letters that neither decompose nor case-fold to their
// base Latin letters, so "Łódź" and "Lodz" or "Ørsted" and "Orsted" meet.
var letterFold = strings.NewReplacer(
	"ø", "o", "ł", "l", "đ", "d", "ħ", "h", "ı", "i", "æ", "ae", "œ", "oe", "þ", "th", "ð", "d", "ŀ", "l",
)

// appendFold appends the folded form of word: NFKC, Unicode case folding,
// then diacritics removed (NFD without non-spacing marks, recomposed).
// ASCII words only need lower-casing.
func appendFold(dst []byte, word string) []byte {
	ascii := true
	for i := 0; i < len(word); i++ {
		if word[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(word); i++ {
			b := word[i]
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			dst = append(dst, b)
		}
		return dst
	}
	s := folder.String(norm.NFKC.String(word))
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if unicode.Is(unicode.Mn, r) || !isWordRune(r) {
			continue
		}
		b.WriteRune(r)
	}
	out := letterFold.Replace(norm.NFC.String(b.String()))
	return append(dst, out...)
}

// foldCache remembers foldWords results: a reload compiles the same
// gazetteer names again, and folding them is most of its cost.
var foldCache = struct {
	sync.Mutex
	m map[string][2][]string
}{m: map[string][2][]string{}}

const foldCacheMax = 1 << 18

// foldWords returns the folded tokens of a phrase (an alias or a term), and
// the original text of each token. The slices are shared: do not modify.
func foldWords(phrase string) (keys, orig []string) {
	foldCache.Lock()
	v, ok := foldCache.m[phrase]
	foldCache.Unlock()
	if ok {
		return v[0], v[1]
	}
	keys, orig = foldWordsUncached(phrase)
	foldCache.Lock()
	if len(foldCache.m) >= foldCacheMax {
		clear(foldCache.m)
	}
	foldCache.m[phrase] = [2][]string{keys, orig}
	foldCache.Unlock()
	return keys, orig
}

func foldWordsUncached(phrase string) (keys, orig []string) {
	var ts tokens
	ts.tokenize(phrase)
	for i := range ts.toks {
		keys = append(keys, strings.Clone(ts.keyOf(i)))
		orig = append(orig, norm.NFKC.String(ts.text(i)))
	}
	return keys, orig
}

// isUpperInitial reports whether word starts with a letter that is not
// lower-case (upper-case, title-case, or a script without case).
func isUpperInitial(word string) bool {
	r, _ := utf8.DecodeRuneInString(word)
	return !unicode.IsLower(r)
}
