package tag

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// maxPatternWords bounds the words of one alias or term, and so the work
// done at each token of the text.
const maxPatternWords = 12

// pattern is one folded word sequence to find: an entity alias or a term.
type pattern struct {
	entity int32  // index into Tagger.ents, or -1 for a term
	alias  int32  // index into the entity's aliases
	term   int32  // index into Tagger.terms, or -1
	exact  bool   // compare the original words exactly (after NFKC)
	dot    bool   // exact alias ending in '.' ("Calif."): the text must have the dot too
	proper bool   // words capitalised in the alias must be capitalised in the text
	with   *ccond // context a conditional alias needs, or nil
	orig   []string
}

// matcher finds every pattern in a token stream in one pass: a trie over
// word IDs, walked from each token. Patterns have at most maxPatternWords
// words and most walks stop after one map lookup, so the pass is linear in
// practice, like Aho-Corasick over words.
type matcher struct {
	vocab   map[string]int32 // folded word -> word ID, while adding
	words   wordTable        // the same, for lookups while scanning
	next    map[uint64]int32 // (node<<32 | word ID) -> child node
	outputs [][]int32        // node -> pattern indexes ending there
	root    []int32          // word ID -> child of the root, or 0 for none
	pats    []pattern
}

func newMatcher() *matcher {
	return &matcher{vocab: map[string]int32{}, next: map[uint64]int32{}, outputs: [][]int32{nil}}
}

// add inserts pattern p for each spelling variant of phrase.
func (m *matcher) add(phrase string, p pattern) {
	variants := []string{phrase}
	if strings.ContainsAny(phrase, "-‐‑–") {
		// "cease-fire" also matches "ceasefire" ("cease fire" comes free,
		// since hyphens separate words).
		variants = append(variants, strings.NewReplacer("-", "", "‐", "", "‑", "", "–", "").Replace(phrase))
	}
	if p.term >= 0 {
		// Terms also match the English plural of their last word:
		// "land swap" finds "land swaps", "truce" finds "truces".
		for _, v := range variants {
			if pl := plural(v); pl != "" {
				variants = append(variants, pl)
			}
		}
	}
	seen := map[string]bool{}
	for _, v := range variants {
		keys, orig := foldWords(v)
		if len(keys) == 0 || len(keys) > maxPatternWords {
			continue
		}
		k := strings.Join(keys, " ")
		if seen[k] {
			continue
		}
		seen[k] = true
		pp := p
		pp.orig = orig
		pp.dot = p.exact && strings.HasSuffix(strings.TrimSpace(v), ".")
		idx := int32(len(m.pats))
		m.pats = append(m.pats, pp)
		node := int32(0)
		for _, w := range keys {
			id, ok := m.vocab[w]
			if !ok {
				id = int32(len(m.vocab))
				m.vocab[w] = id
			}
			key := uint64(node)<<32 | uint64(uint32(id))
			child, ok := m.next[key]
			if !ok {
				child = int32(len(m.outputs))
				m.outputs = append(m.outputs, nil)
				m.next[key] = child
				if node == 0 {
					for int(id) >= len(m.root) {
						m.root = append(m.root, 0)
					}
					m.root[id] = child
				}
			}
			node = child
		}
		m.outputs[node] = append(m.outputs[node], idx)
	}
}

// hit is one pattern occurrence: words [start, end) of a field.
type hit struct {
	field      uint8
	start, end int32
	pat        int32
}

// scan appends the hits of field f (tokenized in ts) to hits. ids is
// scratch space for word IDs.
func (m *matcher) scan(ts *tokens, f uint8, ids []int32, hits []hit) ([]int32, []hit) {
	ids = ids[:0]
	for i := range ts.toks {
		ids = append(ids, m.words.lookup(ts.toks[i].h, ts.keyOf(i)))
	}
	for i := range ids {
		if ids[i] < 0 {
			continue
		}
		node := int32(0)
		for j := i; j < len(ids) && j < i+maxPatternWords; j++ {
			if ids[j] < 0 {
				break
			}
			if j == i {
				if int(ids[j]) >= len(m.root) || m.root[ids[j]] == 0 {
					break
				}
				node = m.root[ids[j]]
			} else {
				child, ok := m.next[uint64(node)<<32|uint64(uint32(ids[j]))]
				if !ok {
					break
				}
				node = child
			}
			for _, p := range m.outputs[node] {
				if m.accept(&m.pats[p], ts, i) {
					hits = append(hits, hit{field: f, start: int32(i), end: int32(j + 1), pat: p})
				}
			}
		}
	}
	return ids, hits
}

// accept applies a pattern's case rules to the words starting at i.
func (m *matcher) accept(p *pattern, ts *tokens, i int) bool {
	if !p.exact && !p.proper {
		return true
	}
	if p.dot {
		end := ts.toks[i+len(p.orig)-1].end
		if int(end) >= len(ts.src) || ts.src[end] != '.' {
			return false
		}
	}
	for k, want := range p.orig {
		got := ts.text(i + k)
		if p.exact {
			if got != want && norm.NFKC.String(got) != want {
				return false
			}
			continue
		}
		if isUpperInitial(want) && !isUpperInitial(got) {
			return false
		}
	}
	return true
}

// plural returns phrase with its last word in the regular English plural,
// or "" when the last word is not a plain lower-case ASCII word or already
// ends in s.
func plural(phrase string) string {
	i := strings.LastIndexFunc(phrase, func(r rune) bool { return r < 'a' || r > 'z' })
	w := phrase[i+1:]
	if len(w) < 3 {
		return ""
	}
	switch {
	case strings.HasSuffix(w, "s"):
		return ""
	case strings.HasSuffix(w, "x"), strings.HasSuffix(w, "ch"), strings.HasSuffix(w, "sh"), strings.HasSuffix(w, "z"):
		return phrase + "es"
	case strings.HasSuffix(w, "y") && !strings.ContainsAny(w[len(w)-2:len(w)-1], "aeiou"):
		return phrase[:len(phrase)-1] + "ies"
	}
	return phrase + "s"
}

// wordTable is an open-addressing hash table from folded word to word ID,
// keyed by the hash the tokenizer computes anyway.
type wordTable struct {
	mask  uint64
	slots []wordSlot
}

type wordSlot struct {
	h    uint64
	word string
	id   int32
}

// build fills the table from vocab, at most half full.
func (w *wordTable) build(vocab map[string]int32) {
	n := uint64(16)
	for n < 2*uint64(len(vocab)) {
		n *= 2
	}
	w.mask, w.slots = n-1, make([]wordSlot, n)
	for word, id := range vocab {
		h := hashWord(word)
		i := h & w.mask
		for w.slots[i].word != "" {
			i = (i + 1) & w.mask
		}
		w.slots[i] = wordSlot{h: h, word: word, id: id}
	}
}

// lookup returns the ID of word (whose hashWord is h), or -1.
func (w *wordTable) lookup(h uint64, word string) int32 {
	if len(w.slots) == 0 {
		return -1
	}
	for i := h & w.mask; ; i = (i + 1) & w.mask {
		s := &w.slots[i]
		if s.word == "" {
			return -1
		}
		if s.h == h && s.word == word {
			return s.id
		}
	}
}
