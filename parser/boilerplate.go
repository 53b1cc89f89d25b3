package parser

import (
	"hash/maphash"
	"strings"
	"sync"
	"unicode"
)

// Boilerplate learns the blocks (paragraphs, lines) that recur across many
// items of one feed — a standard footer, a newsletter sign-up line, a
// "follow us" box — and strips them from item texts.
//
// A block counts as boilerplate once it has been seen in at least MinItems
// distinct items and in at least MinShare of the items learnt within the
// last Window items. Both thresholds must hold, so a genuine quote repeated
// in a few items of a running story survives while a footer present in
// most items goes. Blocks are compared after case folding, white-space
// collapsing and replacing digits (so "© 2024" and "© 2025" match).
//
// Wiring: the poller holds one Boilerplate per feed (it lives as long as
// the feed's state; nothing to close) and, for each new item (not for
// re-polled ones: identical texts are counted once anyway), calls Learn
// with the item text and then Strip before publishing. The parser can use
// StripRepeated within one fetched document before any history exists.
// Memory is bounded: at most MaxBlocks distinct blocks are remembered.
//
// A Boilerplate is safe for concurrent use.
type Boilerplate struct {
	// MinItems is the least number of distinct items a block must appear
	// in (default 5).
	MinItems int
	// MinShare is the least fraction of the recent items a block must
	// appear in (default 0.5).
	MinShare float64
	// Window is the number of recent items the share is taken over
	// (default 50).
	Window int
	// MaxBlocks bounds the table of remembered blocks (default 4096).
	MaxBlocks int

	mu     sync.Mutex
	seed   maphash.Seed
	items  int                 // items learnt so far
	blocks map[uint64]*bpEntry // by block hash
	recent map[uint64]int      // item text hash -> item number, for repeats
}

type bpEntry struct {
	count int // distinct items the block appeared in, within the window
	last  int // item number when last seen
}

// NewBoilerplate returns a Boilerplate with default thresholds.
func NewBoilerplate() *Boilerplate {
	return &Boilerplate{}
}

func (b *Boilerplate) init() {
	if b.blocks == nil {
		b.seed = maphash.MakeSeed()
		b.blocks = make(map[uint64]*bpEntry)
		b.recent = make(map[uint64]int)
	}
}

func (b *Boilerplate) minItems() int { return cmpDefault(b.MinItems, 5) }
func (b *Boilerplate) window() int   { return cmpDefault(b.Window, 50) }
func (b *Boilerplate) maxBlocks() int {
	return cmpDefault(b.MaxBlocks, 4096)
}
func (b *Boilerplate) minShare() float64 {
	if b.MinShare <= 0 {
		return 0.5
	}
	return b.MinShare
}

func cmpDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// Learn records the blocks of one item's text. The same text learnt again
// within the window is ignored, so re-polled items do not inflate counts.
func (b *Boilerplate) Learn(text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.init()
	th := maphash.String(b.seed, text)
	if n, ok := b.recent[th]; ok && b.items-n < b.window() {
		return
	}
	b.items++
	b.recent[th] = b.items
	seen := map[uint64]bool{}
	for _, blk := range splitBlocks(text) {
		h := b.hash(blk)
		if h == 0 || seen[h] {
			continue
		}
		seen[h] = true
		e := b.blocks[h]
		if e == nil || b.items-e.last >= b.window() {
			e = &bpEntry{}
			b.blocks[h] = e
		}
		e.count++
		e.last = b.items
	}
	b.evict()
}

// evict forgets blocks and item hashes that fell out of the window, and
// the least useful blocks when the table is over MaxBlocks.
func (b *Boilerplate) evict() {
	w := b.window()
	if len(b.recent) > 2*w {
		for h, n := range b.recent {
			if b.items-n >= w {
				delete(b.recent, h)
			}
		}
	}
	if len(b.blocks) <= b.maxBlocks() {
		return
	}
	for h, e := range b.blocks {
		if b.items-e.last >= w {
			delete(b.blocks, h)
		}
	}
	// Still too many: drop the blocks seen once.
	for h, e := range b.blocks {
		if len(b.blocks) <= b.maxBlocks()*3/4 {
			break
		}
		if e.count <= 1 {
			delete(b.blocks, h)
		}
	}
}

// IsBoilerplate reports whether one block of text is learnt boilerplate.
func (b *Boilerplate) IsBoilerplate(block string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.isBoilerplate(b.hash(block))
}

func (b *Boilerplate) isBoilerplate(h uint64) bool {
	if b.blocks == nil || h == 0 {
		return false
	}
	e := b.blocks[h]
	if e == nil || b.items-e.last >= b.window() || e.count < b.minItems() {
		return false
	}
	span := min(b.items, b.window())
	return float64(e.count) >= b.minShare()*float64(span)
}

// Strip removes the learnt boilerplate blocks from text. Nothing is
// removed until enough items have been learnt; a text that would be
// emptied is returned unchanged (the item is all boilerplate: keep it).
func (b *Boilerplate) Strip(text string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.blocks == nil || b.items < b.minItems() {
		return text
	}
	blocks := splitBlocks(text)
	out := make([]string, 0, len(blocks))
	for _, blk := range blocks {
		if !b.isBoilerplate(b.hash(blk)) {
			out = append(out, blk)
		}
	}
	if len(out) == len(blocks) || len(out) == 0 {
		return text
	}
	return strings.Join(out, "\n\n")
}

func (b *Boilerplate) hash(block string) uint64 {
	k := blockKey(block)
	if k == "" {
		return 0
	}
	h := maphash.String(b.seed, k)
	if h == 0 {
		h = 1
	}
	return h
}

// StripRepeated removes, from a batch of texts (the items of one feed
// document), every block that appears in at least 3 of them and in at
// least half of them. It needs no history, so it cannot catch a footer in
// a two-item feed; Boilerplate does that across polls. Texts that would be
// emptied are kept whole. The result has one entry per input.
func StripRepeated(texts []string) []string {
	out := make([]string, len(texts))
	copy(out, texts)
	if len(texts) < 3 {
		return out
	}
	split := make([][]string, len(texts))
	counts := map[string]int{}
	for i, t := range texts {
		split[i] = splitBlocks(t)
		seen := map[string]bool{}
		for _, blk := range split[i] {
			k := blockKey(blk)
			if k != "" && !seen[k] {
				seen[k] = true
				counts[k]++
			}
		}
	}
	need := max(3, (len(texts)+1)/2)
	for i, blocks := range split {
		kept := make([]string, 0, len(blocks))
		for _, blk := range blocks {
			if counts[blockKey(blk)] < need {
				kept = append(kept, blk)
			}
		}
		if len(kept) != len(blocks) && len(kept) > 0 {
			out[i] = strings.Join(kept, "\n\n")
		}
	}
	return out
}

// splitBlocks splits a text made by Text or ExtractArticle into its blocks
// (paragraphs separated by blank lines; single lines when there is none).
func splitBlocks(text string) []string {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	sep := "\n\n"
	if !strings.Contains(text, sep) {
		sep = "\n"
	}
	var out []string
	for p := range strings.SplitSeq(text, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// blockKey normalises a block for comparison: lower case, letters and
// digits only (digits as 0), single spaces. Blocks with fewer than 3 word
// characters give "" and are never boilerplate.
func blockKey(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	space, n := false, 0
	for _, r := range s {
		switch {
		case unicode.IsDigit(r):
			r = '0'
		case unicode.IsLetter(r):
			r = unicode.ToLower(r)
		default:
			space = sb.Len() > 0
			continue
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteRune(r)
		n++
	}
	if n < 3 {
		return ""
	}
	return sb.String()
}
