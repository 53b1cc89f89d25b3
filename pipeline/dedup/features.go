package dedup

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/wirewatch/wirewatch/pipeline"
)

// term is one weighted story term: a hashed word or entity.
type term struct {
	h uint32
	w float32
}

// features is what the engine needs of an item: computed once, outside
// any lock, and stored in the item's record so other workers can apply
// the decision without the text.
type features struct {
	words    int       // body words after boilerplate removal
	shingles int       // distinct shingles
	sig      Signature // valid when shingles > 0
	exact    string    // content hash, when the text is non-trivial
	guidKey  string    // hash of raw GUID + canonical URL, when both are set
	terms    []term    // story terms, sorted by h, unit length (L2)
}

// shingleBufs recycles shingle buffers between extract calls, which run
// concurrently (outside the dedup lock).
var shingleBufs = sync.Pool{New: func() any { b := make([]uint64, 0, 1024); return &b }}

// extract computes the features of it under cfg.
func extract(it *pipeline.Item, cfg *Config) features {
	var f features
	lines, headline := splitBody(it.Title, it.Text)
	// Copies are compared on the body with a headline repeat kept: one
	// outlet's copy may keep the original headline as its first line
	// under a headline of its own. Stories are matched without it (the
	// title already counts, with its own weight).
	words := appendWords(make([]string, 0, 512), headline)
	nh := len(words)
	for _, l := range lines {
		words = appendWords(words, l)
	}
	f.words = len(words) - nh
	if f.words >= cfg.MinWords {
		bp := shingleBufs.Get().(*[]uint64)
		sh := shingles(words, *bp)
		f.shingles = len(sh)
		f.sig = minhash(sh)
		*bp = sh
		shingleBufs.Put(bp)
		if it.ContentHash != "" {
			f.exact = it.ContentHash
		}
	}
	if it.GUID != "" && it.URL != "" {
		h := sha256.Sum256([]byte(it.GUID + "\x00" + it.URL))
		f.guidKey = hex.EncodeToString(h[:12])
	}
	f.terms = storyTerms(it, lines, words[nh:], cfg)
	return f
}

// storyTerms builds the item's story vector: title words, lead words and
// entities, each with sublinear term frequency times its field weight,
// normalised to unit length. Rarity (IDF) is applied at scoring time,
// because document frequencies keep changing.
func storyTerms(it *pipeline.Item, lines, body []string, cfg *Config) []term {
	// Contributions are appended as (hash, weight) pairs and summed per
	// hash at the end (a stable sort keeps the order of the additions):
	// slices, not maps, on this hot path.
	type hw struct {
		h uint32
		w float64
	}
	acc := make([]hw, 0, 192)
	hs := make([]uint32, 0, 128)
	// runs appends each distinct hash of the sorted hs with weight(n),
	// n being how often it occurs.
	runs := func(weight func(n int) float64) {
		slices.Sort(hs)
		for i := 0; i < len(hs); {
			j := i + 1
			for j < len(hs) && hs[j] == hs[i] {
				j++
			}
			acc = append(acc, hw{hs[i], weight(j - i)})
			i = j
		}
	}
	add := func(words []string, weight float64) {
		hs = hs[:0]
		for _, w := range words {
			if s, ok := stem(w); ok {
				hs = append(hs, termHash(s))
			}
		}
		runs(func(n int) float64 { return weight * (1 + logInt(n)) })
	}
	once := func(weight float64) func(int) float64 { return func(int) float64 { return weight } }
	add(appendWords(nil, it.Title), cfg.TitleWeight)
	add(body[:min(len(body), cfg.LeadWords)], 1)
	if !cfg.NoNames {
		// Names in the lead: the lines holding the first LeadWords words.
		var names []string
		n := 0
		for _, l := range lines {
			if n >= cfg.LeadWords {
				break
			}
			names = properNames(l, names)
			n += countWords(l)
		}
		hs = hs[:0]
		for _, nm := range names {
			hs = append(hs, termHash("\x00n:"+nm))
		}
		runs(once(cfg.EntityWeight))
	}
	if detailWeight > 0 {
		// Details of the title and the lead lines.
		hs = details(it.Title, hs[:0])
		n := 0
		for _, l := range lines {
			if n >= detailWords {
				break
			}
			hs = details(l, hs)
			n += countWords(l)
		}
		runs(once(detailWeight))
	}
	if cfg.Entities != nil {
		hs = hs[:0]
		for _, e := range cfg.Entities(it) {
			hs = append(hs, termHash("\x00e:"+strings.ToLower(e)))
		}
		runs(once(cfg.EntityWeight))
	}
	slices.SortStableFunc(acc, func(a, b hw) int { return cmp.Compare(a.h, b.h) })
	terms := make([]term, 0, len(acc))
	var norm float64
	for i := 0; i < len(acc); {
		h, w := acc[i].h, acc[i].w
		for i++; i < len(acc) && acc[i].h == h; i++ {
			w += acc[i].w
		}
		norm += w * w
		terms = append(terms, term{h: h, w: float32(w)})
	}
	if norm > 0 {
		inv := 1 / math.Sqrt(norm)
		for i := range terms {
			terms[i].w = float32(float64(terms[i].w) * inv)
		}
	}
	return terms
}

// logInt is ln(n) for term counts, from a table for the usual ones.
func logInt(n int) float64 {
	if n < len(logInts) {
		return logInts[n]
	}
	return math.Log(float64(n))
}

var logInts = func() (t [64]float64) {
	for i := 1; i < len(t); i++ {
		t[i] = math.Log(float64(i))
	}
	return t
}()

// termHash hashes a term to 32 bits, never 0.
func termHash(s string) uint32 { return uint32(mix64(wordHash(s))) | 1 }

// stem drops stop words and short tokens and strips a plural or
// possessive ending, so "summits" and "summit" are one term.
func stem(w string) (string, bool) {
	if len(w) < 2 || stopWords[w] {
		return "", false
	}
	n := len(w)
	switch {
	case n > 4 && strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y", true
	case n > 3 && w[n-1] == 's' && w[n-2] != 's' && w[n-2] != 'u' && w[n-2] != 'i':
		return w[:n-1], true
	}
	return w, true
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all almost also although am among an and
	another any are around as at be became because been before being below between both but by can could did do
	does doing done down during each either else even ever every few for from further had has have having he her
	here hers herself him himself his how however i if in into is it its itself just last least less like made
	make many may me might more most much must my myself near neither never new next no nor not now of off often
	on once one only or other our ours ourselves out over own per perhaps rather really said same say says she
	should since so some still such than that the their theirs them themselves then there these they this those
	though through thus to too toward under until up upon us very via was we well were what when where whether
	which while who whom whose why will with within without would yet you your yours yourself yourselves
	told according including including mr mrs ms dr also just told tuesday monday wednesday thursday friday
	saturday sunday today yesterday tomorrow week year years time times day days two three first second`) {
		m[w] = true
	}
	return m
}()

// properNames returns the runs of capitalised words in s that do not
// start a sentence ("Betty Ford Center", "Red Sox"), lower-cased: a cheap
// stand-in for named entities when the caller gives none. Headlines in
// title case would make every word a name, so callers pass body text.
func properNames(s string, dst []string) []string {
	var run []string
	sentenceStart := true
	flush := func() {
		if len(run) > 0 {
			dst = append(dst, strings.Join(run, " "))
			run = run[:0]
		}
	}
	i := 0
	for i < len(s) {
		r, sz := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			switch r {
			case '.', '!', '?', '\n', ':', '"', '“', '”':
				sentenceStart = true
				flush()
			case ',', ';', '(', ')':
				flush()
			}
			i += sz
			continue
		}
		j := i
		for j < len(s) {
			r2, sz2 := utf8.DecodeRuneInString(s[j:])
			if !isWordRune(r2) && r2 != '\'' && r2 != '’' && r2 != '-' {
				break
			}
			j += sz2
		}
		w := s[i:j]
		upper := unicode.IsUpper(r)
		switch {
		case upper && !sentenceStart:
			run = append(run, strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(w, "'s"), "’s")))
		default:
			flush()
		}
		sentenceStart = false
		i = j
	}
	flush()
	return dst
}

// countWords counts runs of non-space bytes in s without allocating.
func countWords(s string) int {
	n, in := 0, false
	for i := 0; i < len(s); i++ {
		sp := s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'
		if !sp && !in {
			n++
		}
		in = !sp
	}
	return n
}
