package dedup

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Story events, the "event" field of a message on stories.<story_id>.
const (
	EventCreated = "created"
	EventGrew    = "grew"
	EventMerged  = "merged"
)

// Decision is what the engine decided for one item.
type Decision struct {
	// Drop: the same version of a known item again (a re-poll); nothing
	// is published.
	Drop bool
	// Replay: the same version decided moments ago (a redelivery of an
	// unfinished message); the recorded outputs are published again and
	// nothing is recorded.
	Replay bool
	// Update: a new version of a known item.
	Update      bool
	DuplicateOf string
	DupKind     string
	StoryID     string
	// Event is the story event to publish ("" for none), Merged the
	// stories merged into StoryID by this item, Size the story's size
	// after this item.
	Event  string
	Merged []string
	Size   int
	// FirstID and FirstFeed name the story's earliest item by item time
	// (this one included): which outlet had it first.
	FirstID, FirstFeed string
	// Score is the similarity behind the decision (copy overlap or story
	// cosine), for logs and evaluation.
	Score float64
}

// entry is the state kept for one item (fields ordered to pack: it is
// held for every item in the window).
type entry struct {
	id      string
	version string
	seen    int64 // wall clock of the decision, unix ms
	t       int64 // item time, unix ms
	dupOf   string
	story   string
	merged  []string
	exact   uint64 // hash of the content hash, 0 when none
	guidKey uint64 // hash of the GUID+URL key, 0 when none
	feed    string
	size    int32
	kind    code // DupKind
	event   code // story event
	update  bool

	// First copies within the window only.
	inDocs   bool
	shingles int32
	sig      *Signature
	terms    []term
}

// code is one of a few known strings (dup kinds, story events), stored
// in a byte.
type code uint8

var codeNames = []string{"", pipeline.DupExact, pipeline.DupSyndicated, EventCreated, EventGrew, EventMerged}

// codeOf returns the code of s; a string it does not know (only a
// hand-made record could hold one) is stored as "".
func codeOf(s string) code {
	if i := slices.Index(codeNames, s); i > 0 {
		return code(i)
	}
	return 0
}

func (c code) String() string { return codeNames[c] }

// story is one cluster of reports.
type story struct {
	id         string
	start      int64 // earliest item time
	last       int64 // latest item time
	size       int
	centroid   []term   // sum of members' unit term vectors, sorted by h; shared with the first item's terms until the story grows (never written in place)
	indexed    []uint32 // terms under which the story is in the postings
	normN      int      // doc count when norm was computed
	norm       float64  // IDF-weighted norm of centroid, cached
	seed       []term   // the first item's terms (shared with its entry): the centroid may drift, the seed does not
	seedNormN  int
	seedNorm   float64 // IDF-weighted norm of seed, cached like norm
	originID   string  // earliest item by item time
	originFeed string
	dead       bool // merged away or evicted: skip in postings

	// Scratch of Engine.cluster: mark is the call (epoch) that last made
	// the story a candidate, slot its index among that call's candidates.
	mark uint32
	slot int32
}

// cand is a story considered for an item, with its score.
type cand struct {
	s    *story
	dot  float64
	last int // index of the last term added, against repeated postings
}

// Bounds on the story search: the terms a story keeps, the item terms
// whose postings give candidates, the latest stories read per posting
// list, and the candidates scored in full.
const (
	maxCentroid = 64
	postTerms   = 12
	candTerms   = 12
	maxPosting  = 256
	maxScored   = 32
)

// Engine holds the dedup state and makes the decisions. It is a pure
// in-memory structure: Decide reads it, Apply changes it, and applying the
// same records in the same order always yields the same state. It is not
// safe for concurrent use; Dedup serialises access.
type Engine struct {
	cfg Config

	items   map[string]*entry
	exact   map[uint64]*entry // content hash -> first item
	guids   map[uint64]*entry // GUID+URL key -> first item
	docs    []*entry          // first copies in the LSH index, by ref-1
	lsh     lshIndex
	df      map[uint32]int32
	ndocs   int
	stories map[string]*story
	posting map[uint32][]*story
	alias   map[string]string // merged story -> survivor

	watermark int64 // latest item time applied, unix ms
	applies   int
	logN      float64 // ln(ndocs+dfPrior+1), for idf
	logNFor   int     // the ndocs logN was computed for

	// Scratch of cluster, reused between calls (the engine is not safe
	// for concurrent use anyway).
	epoch               uint32
	scratchCands        []cand
	scratchQ, scratchQD []float64
	scratchTop          []int
}

// NewEngine returns an empty engine; cfg zero fields take defaults.
func NewEngine(cfg Config) *Engine {
	cfg = cfg.withDefaults()
	return &Engine{
		cfg:     cfg,
		items:   map[string]*entry{},
		exact:   map[uint64]*entry{},
		guids:   map[uint64]*entry{},
		df:      map[uint32]int32{},
		stories: map[string]*story{},
		posting: map[uint32][]*story{},
		alias:   map[string]string{},
		lsh:     newLSH(1024),
	}
}

// Process decides and applies one item, as one worker alone would: the
// convenience used by tests and evaluation.
func (e *Engine) Process(it *pipeline.Item) Decision {
	f := extract(it, &e.cfg)
	d := e.Decide(it, &f)
	if !d.Drop && !d.Replay {
		e.Apply(newRecord(it, &f, &d, e.cfg.Now()))
	}
	return d
}

// resolve follows merges to the surviving story ID.
func (e *Engine) resolve(id string) string {
	for i := 0; i < 64; i++ {
		next, ok := e.alias[id]
		if !ok {
			return id
		}
		id = next
	}
	return id
}

// Decide returns the decision for it with features f, reading the state
// only.
func (e *Engine) Decide(it *pipeline.Item, f *features) Decision {
	if old := e.items[it.ID]; old != nil {
		if old.version == it.Version() {
			if e.cfg.Now().UnixMilli()-old.seen <= e.cfg.RedeliveryWindow.Milliseconds() {
				return old.replay()
			}
			return Decision{Drop: true}
		}
		sid := e.resolve(old.story)
		size := 0
		if s := e.stories[sid]; s != nil {
			size = s.size
		}
		return Decision{Update: true, DuplicateOf: old.dupOf, DupKind: old.kind.String(), StoryID: sid, Size: size}
	}
	var d Decision
	if root := e.exactRoot(it, f); root != nil {
		d = e.copyOf(root, pipeline.DupExact, 1)
	} else if root, score := e.nearCopy(it, f); root != nil {
		d = e.copyOf(root, pipeline.DupSyndicated, score)
	} else {
		d = e.cluster(it, f)
	}
	d.FirstID, d.FirstFeed = it.ID, it.Feed
	t := it.Time().UnixMilli()
	for _, sid := range append([]string{d.StoryID}, d.Merged...) {
		if s := e.stories[e.resolve(sid)]; s != nil {
			if o := e.items[s.originID]; o != nil && (o.t < t || o.t == t && o.id < d.FirstID) {
				t, d.FirstID, d.FirstFeed = o.t, o.id, o.feed
			}
		}
	}
	return d
}

// Recorded returns the decision recorded for it, as a Replay, when its
// version was decided however long ago; false when it was not (a new item
// or version, or one forgotten after KeepIDs).
func (e *Engine) Recorded(it *pipeline.Item) (Decision, bool) {
	if old := e.items[it.ID]; old != nil && old.version == it.Version() {
		return old.replay(), true
	}
	return Decision{}, false
}

// replay is the decision recorded for old, to publish its outputs again.
func (old *entry) replay() Decision {
	return Decision{Replay: true, Update: old.update, DuplicateOf: old.dupOf, DupKind: old.kind.String(),
		StoryID: old.story, Event: old.event.String(), Merged: old.merged, Size: int(old.size)}
}

// exactRoot returns the first item with the same text hash or the same
// raw GUID and canonical URL.
func (e *Engine) exactRoot(it *pipeline.Item, f *features) *entry {
	t := it.Time().UnixMilli()
	// Entries are kept for KeepIDs after the newest item; an item from
	// longer before that is not compared with them either.
	keep := e.cfg.KeepIDs.Milliseconds()
	near := func(r *entry) bool { return r != nil && r.t >= t-keep && r.t <= t+keep }
	if r := e.exact[keyHash(f.exact)]; near(r) {
		return r
	}
	if r := e.guids[keyHash(f.guidKey)]; near(r) {
		return r
	}
	return nil
}

// copyOf is the decision for a copy of root.
func (e *Engine) copyOf(root *entry, kind string, score float64) Decision {
	first := root.id
	if root.dupOf != "" {
		first = root.dupOf
	}
	sid := e.resolve(root.story)
	size := 1
	if s := e.stories[sid]; s != nil {
		size = s.size + 1
	}
	return Decision{DuplicateOf: first, DupKind: kind, StoryID: sid, Event: EventGrew, Size: size, Score: score}
}

// nearCopy finds the first copy whose text this one copies: the LSH
// candidate with the highest verified overlap (earliest on a tie).
func (e *Engine) nearCopy(it *pipeline.Item, f *features) (*entry, float64) {
	if f.shingles == 0 {
		return nil, 0
	}
	t, win := it.Time().UnixMilli(), e.cfg.Window.Milliseconds()
	var best *entry
	bestScore := 0.0
	seen := map[uint32]bool{}
	for b := range numBands {
		e.lsh.each(f.sig.bandKey(b), func(ref uint32) {
			if seen[ref] {
				return
			}
			seen[ref] = true
			c := e.docs[ref-1]
			if c == nil || !c.inDocs || c.t < t-win || c.t > t+win {
				return
			}
			j := f.sig.jaccard(c.sig)
			score := 0.0
			if j >= e.cfg.Jaccard {
				score = j
			}
			if ov := overlap(j, f.shingles, int(c.shingles)); ov >= e.cfg.Containment && ov > score {
				score = ov
			}
			if score == 0 {
				return
			}
			if best == nil || score > bestScore || score == bestScore && c.seen < best.seen {
				best, bestScore = c, score
			}
		})
	}
	return best, bestScore
}

// idf is the rarity weight of a term given the current document
// frequencies: ln((N+prior+1)/(df+0.5)). The prior counts dfPrior
// imaginary documents that share no term, so that while the window holds
// few documents (a cold start) every term weighs about the same instead of
// shared terms weighing nothing.
func (e *Engine) idf(h uint32) float64 {
	if e.logNFor != e.ndocs || e.logN == 0 {
		e.logN, e.logNFor = math.Log(float64(e.ndocs)+dfPrior+1), e.ndocs
	}
	df := e.df[h]
	if df >= 0 && int(df) < len(logDF) {
		return e.logN - logDF[df]
	}
	return e.logN - math.Log(float64(df)+0.5)
}

// logDF[n] is ln(n+0.5): the usual document frequencies without a
// logarithm per term and item.
var logDF = func() (t [1024]float64) {
	for i := range t {
		t[i] = math.Log(float64(i) + 0.5)
	}
	return t
}()

var dfPrior = 50.0

// Event details in the story score (details.go): the words of the lead
// searched for details, the weight of a detail term in the item's vector
// (small: details count mostly through agreement), and the score added
// when the item and the story share a detail value.
const (
	detailWords  = 200
	detailWeight = 0.05
	agreeBonus   = 0.03
)

// storyNorm returns the IDF-weighted norm of s's centroid, recomputed
// when the document count moved by more than 10% since the last time
// (IDF then moves by less than ln(1.1)).
func (e *Engine) storyNorm(s *story) float64 {
	if s.norm > 0 && e.ndocs <= s.normN+s.normN/10 {
		return s.norm
	}
	var n float64
	for _, tm := range s.centroid {
		x := float64(tm.w) * e.idf(tm.h)
		n += x * x
	}
	s.norm, s.normN = math.Sqrt(n), e.ndocs
	return s.norm
}

// cluster assigns a first copy to a story: the most similar active story
// at or above StoryThreshold, else a new one; stories that the item
// matches at or above MergeThreshold besides the best are merged in.
func (e *Engine) cluster(it *pipeline.Item, f *features) Decision {
	t := it.Time().UnixMilli()
	win := e.cfg.Window.Milliseconds()
	// q is the item's IDF-weighted vector; qd its weights times IDF again,
	// ready to multiply with raw centroid weights.
	var qn float64
	q := e.scratchQ[:0]
	qd := e.scratchQD[:0]
	for range f.terms {
		q, qd = append(q, 0), append(qd, 0)
	}
	e.scratchQ, e.scratchQD = q, qd
	for i, tm := range f.terms {
		idf := e.idf(tm.h)
		q[i] = float64(tm.w) * idf
		qd[i] = q[i] * idf
		qn += q[i] * q[i]
	}
	qn = math.Sqrt(qn)
	// Candidates come from the postings of the item's heaviest terms only
	// (the rare, telling ones), and only from the latest stories of each
	// posting list, which bounds the work per item whatever the window
	// holds. The best of them are then scored on every term.
	// Terms no story has (df 0) cannot find one: they are the rarest, so
	// without this they would crowd out the useful ones.
	top := e.scratchTop[:0]
	defer func() { e.scratchTop = top[:0] }()
	for i, tm := range f.terms {
		if e.df[tm.h] > 0 {
			top = append(top, i)
		}
	}
	slices.SortFunc(top, func(a, b int) int {
		if q[a] != q[b] {
			return cmp.Compare(q[b], q[a])
		}
		return cmp.Compare(f.terms[a].h, f.terms[b].h)
	})
	top = top[:min(len(top), candTerms)]
	// Candidates are gathered in a reused slice; a story's mark (this
	// call's epoch) and slot find its entry without a map.
	e.epoch++
	cands := e.scratchCands[:0]
	if qn > 0 {
		for _, i := range top {
			post := e.posting[f.terms[i].h]
			post = post[max(0, len(post)-maxPosting):]
			for _, s := range post {
				if s.dead || t < s.start-win || t > s.last+win {
					continue
				}
				if s.mark != e.epoch || int(s.slot) >= len(cands) || cands[s.slot].s != s {
					s.mark, s.slot = e.epoch, int32(len(cands))
					cands = append(cands, cand{s: s, last: -1})
				}
				c := &cands[s.slot]
				if c.last == i {
					continue
				}
				c.last = i
				c.dot += q[i] // a cheap pre-score: the item's weight of shared terms
			}
		}
	}
	e.scratchCands = cands
	defer clear(cands) // drop the story pointers for the GC
	// The maxScored best by pre-score, kept sorted (best first) by
	// insertion: most candidates fail the first comparison.
	better := func(a, b *cand) bool {
		if a.dot != b.dot {
			return a.dot > b.dot
		}
		return a.s.id < b.s.id
	}
	pre := make([]*cand, 0, maxScored+1)
	for ci := range cands {
		c := &cands[ci]
		if len(pre) == maxScored && !better(c, pre[len(pre)-1]) {
			continue
		}
		k := len(pre)
		for k > 0 && better(c, pre[k-1]) {
			k--
		}
		pre = slices.Insert(pre, k, c)
		if len(pre) > maxScored {
			pre = pre[:maxScored]
		}
	}
	threshold := e.cfg.StoryThreshold
	if f.words < e.cfg.MinWords {
		threshold = e.cfg.HeadlineThreshold
	}
	var itemDetails []uint32
	for _, tm := range f.terms {
		if isDetail(tm.h) {
			itemDetails = append(itemDetails, tm.h)
		}
	}
	scored := make([]cand, 0, len(pre))
	for _, c := range pre {
		n := e.storyNorm(c.s)
		if n == 0 {
			continue
		}
		var dot float64
		cen := c.s.centroid
		for i, j := 0, 0; i < len(f.terms) && j < len(cen); {
			switch {
			case f.terms[i].h < cen[j].h:
				i++
			case f.terms[i].h > cen[j].h:
				j++
			default:
				dot += qd[i] * float64(cen[j].w)
				i++
				j++
			}
		}
		sc := dot / (n * qn)
		if w := e.cfg.SeedWeight; w > 0 && c.s.seed != nil && c.s.size > 1 && f.words >= e.cfg.MinWords {
			// The centroid drifts as a story grows; its seed does not.
			// Headlines alone (few words) share too little with any one
			// report, so they are matched on the centroid only.
			sc = (1-w)*sc + w*e.seedCosine(c.s, f.terms, qd, qn)
		}
		if sc >= threshold-agreeBonus && detailsAgree(itemDetails, c.s.centroid) {
			// Two reports of one event print the same counts and
			// measures; two events of one kind print others. (Below
			// threshold-agreeBonus the bonus changes no decision.)
			sc += agreeBonus
		}
		scored = append(scored, cand{s: c.s, dot: sc})
	}
	slices.SortFunc(scored, func(a, b cand) int {
		if a.dot != b.dot {
			return cmp.Compare(b.dot, a.dot)
		}
		return cmp.Compare(a.s.id, b.s.id)
	})
	if len(scored) == 0 || scored[0].dot < threshold {
		score := 0.0
		if len(scored) > 0 {
			score = scored[0].dot
		}
		return Decision{StoryID: storyID(it.ID), Event: EventCreated, Size: 1, Score: score}
	}
	best := scored[0]
	group := []*story{best.s}
	for _, c := range scored[1:] {
		if c.dot < e.cfg.MergeThreshold || best.dot < e.cfg.MergeThreshold {
			break
		}
		group = append(group, c.s)
	}
	if len(group) == 1 {
		return Decision{StoryID: best.s.id, Event: EventGrew, Size: best.s.size + 1, Score: best.dot}
	}
	// The oldest story survives a merge, so its ID stays stable.
	slices.SortFunc(group, func(a, b *story) int {
		if a.start != b.start {
			return cmp.Compare(a.start, b.start)
		}
		return cmp.Compare(a.id, b.id)
	})
	d := Decision{StoryID: group[0].id, Event: EventMerged, Size: 1, Score: best.dot}
	for _, s := range group {
		d.Size += s.size
	}
	for _, s := range group[1:] {
		d.Merged = append(d.Merged, s.id)
	}
	return d
}

// storyID derives a story's ID from its first item's ID.
func storyID(itemID string) string {
	h := sha256.Sum256([]byte("story\x00" + itemID))
	return "s" + hex.EncodeToString(h[:10])
}

// Apply records a decision in the state. Records must be applied in the
// order they were written.
func (e *Engine) Apply(r *Record) {
	e.applies++
	if r.Time > e.watermark {
		e.watermark = r.Time
	}
	if old := e.items[r.ID]; old != nil {
		// An update (or a record replayed twice): the decision stands,
		// only the version and time of the last write change.
		old.version, old.seen, old.update = r.Version, r.Seen, r.Update
		old.event, old.merged, old.size = codeOf(r.Event), r.Merged, int32(r.Size)
		return
	}
	en := &entry{
		id: r.ID, version: r.Version, seen: r.Seen, t: r.Time, dupOf: r.DupOf, kind: codeOf(r.Kind),
		story: r.Story, event: codeOf(r.Event), merged: r.Merged, size: int32(r.Size), update: r.Update,
		exact: keyHash(r.Exact), guidKey: keyHash(r.GUIDKey), feed: r.Feed,
	}
	e.items[r.ID] = en
	if en.exact != 0 && e.exact[en.exact] == nil {
		e.exact[en.exact] = en
	}
	if en.guidKey != 0 && e.guids[en.guidKey] == nil {
		e.guids[en.guidKey] = en
	}
	sid := e.resolve(r.Story)
	s := e.stories[sid]
	for _, m := range r.Merged {
		e.mergeInto(sid, m)
		if s == nil {
			s = e.stories[sid]
		}
	}
	if s == nil {
		s = &story{id: sid, start: r.Time, last: r.Time, originID: r.ID, originFeed: r.Feed}
		e.stories[sid] = s
	}
	s.size++
	s.start, s.last = min(s.start, r.Time), max(s.last, r.Time)
	if r.Time < e.items[s.originID].timeOr(math.MaxInt64) {
		s.originID, s.originFeed = r.ID, r.Feed
	}
	if r.DupOf == "" {
		terms := r.terms()
		en.terms = terms
		for _, tm := range terms {
			e.df[tm.h]++
		}
		e.ndocs++
		if s.centroid == nil {
			s.centroid = terms
			s.seed = terms
		} else {
			s.centroid = e.addTerms(s.centroid, terms)
		}
		s.norm = 0
		e.index(s)
		if sig, ok := r.signature(); ok && r.Shingles > 0 {
			en.sig, en.shingles, en.inDocs = sig, int32(r.Shingles), true
			e.docs = append(e.docs, en)
			ref := uint32(len(e.docs))
			for b := range numBands {
				e.lsh.add(sig.bandKey(b), ref)
			}
		}
	}
	if e.applies%1024 == 0 {
		e.evict()
	}
}

func (en *entry) timeOr(def int64) int64 {
	if en == nil {
		return def
	}
	return en.t
}

// mergeInto merges story m into story into (creating into from m when it
// does not exist yet, as on a replay that starts mid-window).
func (e *Engine) mergeInto(into, m string) {
	m = e.resolve(m)
	if m == into {
		return
	}
	src := e.stories[m]
	dst := e.stories[into]
	e.alias[m] = into
	delete(e.stories, m)
	if src == nil {
		return
	}
	if dst == nil {
		// Postings hold *story: keep the value, rename it.
		src.id = into
		e.stories[into] = src
		return
	}
	src.dead = true
	dst.size += src.size
	dst.start, dst.last = min(dst.start, src.start), max(dst.last, src.last)
	if src.start < dst.start || e.items[dst.originID] == nil {
		dst.originID, dst.originFeed = src.originID, src.originFeed
	}
	dst.centroid = e.addTerms(dst.centroid, src.centroid)
	dst.norm = 0
	e.index(dst)
}

// addTerms returns the sum of two sorted term vectors as a new slice,
// pruned to the maxCentroid terms with the highest IDF weight when it
// grows past twice that.
func (e *Engine) addTerms(a, b []term) []term {
	out := make([]term, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].h < b[j].h:
			out = append(out, a[i])
			i++
		case a[i].h > b[j].h:
			out = append(out, b[j])
			j++
		default:
			out = append(out, term{h: a[i].h, w: a[i].w + b[j].w})
			i++
			j++
		}
	}
	out = append(append(out, a[i:]...), b[j:]...)
	if len(out) <= 2*maxCentroid {
		return out
	}
	slices.SortFunc(out, func(x, y term) int {
		wx, wy := float64(x.w)*e.idf(x.h), float64(y.w)*e.idf(y.h)
		if wx != wy {
			return cmp.Compare(wy, wx)
		}
		return cmp.Compare(x.h, y.h)
	})
	out = slices.Clone(out[:maxCentroid])
	slices.SortFunc(out, func(x, y term) int { return cmp.Compare(x.h, y.h) })
	return out
}

// index puts s in the postings of its postTerms heaviest terms (by IDF
// weight) that it is not filed under yet. Postings only find candidates;
// scoring reads the centroid, so a stale posting costs a lookup, no error.
func (e *Engine) index(s *story) {
	if len(s.indexed) >= 3*postTerms {
		return
	}
	type tw struct {
		h uint32
		w float64
	}
	top := make([]tw, 0, len(s.centroid))
	for _, tm := range s.centroid {
		top = append(top, tw{tm.h, float64(tm.w) * e.idf(tm.h)})
	}
	slices.SortFunc(top, func(x, y tw) int {
		if x.w != y.w {
			return cmp.Compare(y.w, x.w)
		}
		return cmp.Compare(x.h, y.h)
	})
	for _, x := range top[:min(len(top), postTerms)] {
		if !slices.Contains(s.indexed, x.h) {
			s.indexed = append(s.indexed, x.h)
			e.posting[x.h] = append(e.posting[x.h], s)
		}
	}
}

// keyHash maps a content hash or GUID key to a map key; "" gives 0.
func keyHash(s string) uint64 {
	if s == "" {
		return 0
	}
	return wordHash(s) | 1
}

// evict forgets what fell out of the window (by item time): copies'
// candidates, document frequencies and stories after Window, identities
// after KeepIDs. It rebuilds the LSH index and postings when it removed
// anything from them.
func (e *Engine) evict() {
	win := e.watermark - e.cfg.Window.Milliseconds()
	keep := e.watermark - e.cfg.KeepIDs.Milliseconds()
	changed := false
	for id, en := range e.items {
		if en.t < win && en.terms != nil {
			for _, tm := range en.terms {
				if e.df[tm.h]--; e.df[tm.h] <= 0 {
					delete(e.df, tm.h)
				}
			}
			e.ndocs--
			en.terms = nil
		}
		if en.t < win && en.inDocs {
			en.inDocs, en.sig = false, nil
			changed = true
		}
		if en.t < keep {
			delete(e.items, id)
			if e.exact[en.exact] == en {
				delete(e.exact, en.exact)
			}
			if e.guids[en.guidKey] == en {
				delete(e.guids, en.guidKey)
			}
		}
	}
	for id, s := range e.stories {
		if s.last < win {
			s.dead = true
			delete(e.stories, id)
			changed = true
		}
	}
	for m, into := range e.alias {
		if _, ok := e.stories[into]; !ok {
			if _, ok := e.alias[into]; !ok {
				delete(e.alias, m)
			}
		}
	}
	if !changed {
		return
	}
	docs := e.docs[:0]
	for _, d := range e.docs {
		if d != nil && d.inDocs {
			docs = append(docs, d)
		}
	}
	clear(e.docs[len(docs):])
	e.docs = docs
	e.lsh = newLSH(len(docs) * numBands)
	for i, d := range e.docs {
		for b := range numBands {
			e.lsh.add(d.sig.bandKey(b), uint32(i+1))
		}
	}
	e.posting = map[uint32][]*story{}
	for _, s := range e.stories {
		for _, h := range s.indexed {
			e.posting[h] = append(e.posting[h], s)
		}
	}
}

// Stats describes the state's size.
type Stats struct {
	Items, Docs, Stories int
}

// Stats returns the current state size.
func (e *Engine) Stats() Stats {
	return Stats{Items: len(e.items), Docs: len(e.docs), Stories: len(e.stories)}
}

// unixMilli converts a time to unix ms, zero time to 0.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// seedCosine is the IDF-weighted cosine of the item (terms; qd = weight
// times IDF squared; qn = norm of weight times IDF) with s's seed. The
// seed's norm is cached like the centroid's.
func (e *Engine) seedCosine(s *story, terms []term, qd []float64, qn float64) float64 {
	if s.seedNorm == 0 || e.ndocs > s.seedNormN+s.seedNormN/10 {
		var n float64
		for _, tm := range s.seed {
			x := float64(tm.w) * e.idf(tm.h)
			n += x * x
		}
		s.seedNorm, s.seedNormN = math.Sqrt(n), e.ndocs
	}
	if s.seedNorm == 0 || qn == 0 {
		return 0
	}
	var dot float64
	v := s.seed
	for i, j := 0, 0; i < len(terms) && j < len(v); {
		switch {
		case terms[i].h < v[j].h:
			i++
		case terms[i].h > v[j].h:
			j++
		default:
			dot += qd[i] * float64(v[j].w)
			i++
			j++
		}
	}
	return dot / (s.seedNorm * qn)
}
