package tag

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Options tune which mentioned entities become tags. Every mentioned entity
// is listed in Item.Entities; only salient ones are also Item.Tags, since a
// tag says what the item is about.
type Options struct {
	// LeadBytes: a mention starting in the first LeadBytes bytes of the text
	// (the dateline and lead) makes the entity salient. 0 means the default
	// (200); negative turns the rule off.
	LeadBytes int
	// MinMentions: this many mentions anywhere make the entity salient. 0
	// means the default (2).
	MinMentions int
	// MaxEvidence caps the evidence kept per tag (mentions are still all
	// counted). 0 means the default (8).
	MaxEvidence int
}

func (o Options) withDefaults() Options {
	if o.LeadBytes == 0 {
		o.LeadBytes = 200
	}
	if o.MinMentions == 0 {
		o.MinMentions = 2
	}
	if o.MaxEvidence == 0 {
		o.MaxEvidence = 8
	}
	return o
}

// Tagger tags items with a fixed set of rules. It is immutable and safe for
// concurrent use; to change rules build a new Tagger (see Reloader).
type Tagger struct {
	rules  *Rules
	opts   Options
	m      *matcher
	ents   []*Entity
	parent []int32 // entity index -> enclosing entity index, or -1
	gaz    []bool  // entity index -> a place of the built-in gazetteer (see endsName)
	terms  []string
	topics []ctopic
	pool   sync.Pool
}

type ctopic struct {
	t    *Topic
	cond *ccond
}

// ccond is a compiled Cond: entity IDs and terms resolved to indexes.
type ccond struct {
	op    Op
	term  int32
	ents  []int32
	kids  []*ccond
	near  int
	min   int
	field int8 // -1 any, else a field index
}

const (
	fieldTitle uint8 = 0
	fieldText  uint8 = 1
)

var fieldNames = [2]string{"title", "text"}

// New compiles r into a Tagger with default Options. References to unknown
// entities (which Load and Merge report) never match.
func New(r *Rules) *Tagger { return NewWith(r, Options{}) }

// NewWith compiles r into a Tagger with the given options.
func NewWith(r *Rules, opts Options) *Tagger {
	if r == nil {
		r = &Rules{}
	}
	t := &Tagger{rules: r, opts: opts.withDefaults(), m: newMatcher()}
	idx := make(map[string]int32, len(r.Entities))
	for i, e := range r.Entities {
		idx[e.ID] = int32(i)
	}
	t.ents = r.Entities
	t.parent = make([]int32, len(r.Entities))
	t.gaz = make([]bool, len(r.Entities))
	for i, e := range r.Entities {
		t.parent[i] = -1
		if p, ok := idx[e.In]; ok && e.In != e.ID {
			t.parent[i] = p
		}
		t.gaz[i] = e.Kind == KindPlace && strings.HasPrefix(e.Source, gazetteerName+":")
	}
	termIdx := map[string]int32{}
	var compile func(c *Cond, field int8) *ccond
	compile = func(c *Cond, field int8) *ccond {
		if c == nil {
			return nil
		}
		if c.Field != "" {
			field = int8(fieldText)
			if c.Field == "title" {
				field = int8(fieldTitle)
			}
		}
		cc := &ccond{op: c.Op, near: c.Near, min: max(c.Min, 1), field: field, term: -1}
		switch c.Op {
		case OpTerm:
			id, ok := termIdx[c.Term]
			if !ok {
				id = int32(len(t.terms))
				termIdx[c.Term] = id
				t.terms = append(t.terms, c.Term)
				t.m.add(c.Term, pattern{entity: -1, alias: -1, term: id})
			}
			cc.term = id
		case OpEntity:
			for _, e := range c.Entities {
				if i, ok := idx[e]; ok {
					cc.ents = append(cc.ents, i)
				}
			}
		}
		for _, k := range c.Kids {
			if k != nil {
				cc.kids = append(cc.kids, compile(k, field))
			}
		}
		return cc
	}
	for i, e := range r.Entities {
		for j, a := range e.Aliases {
			t.m.add(a.Text, pattern{entity: int32(i), alias: int32(j), term: -1, exact: a.Case, proper: a.Proper})
			if a.With != nil {
				w := compile(a.With, -1)
				for k := range t.m.pats {
					if p := &t.m.pats[k]; p.entity == int32(i) && p.alias == int32(j) {
						p.with = w
					}
				}
			}
		}
	}
	for _, tp := range r.Topics {
		if tp.Cond != nil { // a topic without a condition never holds
			t.topics = append(t.topics, ctopic{t: tp, cond: compile(tp.Cond, -1)})
		}
	}
	t.m.words.build(t.m.vocab)
	t.pool.New = func() any { return &scratch{} }
	return t
}

// Rules returns the rules the tagger was built from.
func (t *Tagger) Rules() *Rules { return t.rules }

// occ is one occurrence: words [ws, we) and bytes [bs, be) of a field.
type occ struct {
	field  uint8
	term   bool // from a term, not an entity
	ws, we int32
	bs, be int32
}

func cmpOcc(a, b occ) int {
	return cmp.Or(cmp.Compare(a.field, b.field), cmp.Compare(a.ws, b.ws), cmp.Compare(a.we, b.we), cmpBool(a.term, b.term))
}

type scratch struct {
	fields    [2]tokens
	ids       []int32
	hits      []hit
	kept      []hit
	groups    []group   // evidence candidates of one topic
	nearBuf   []labeled // scratch of near
	nearCount []int32
	arena     []pipeline.Evidence // evidence storage of the current item; not reused
	leafA     [][]occ             // scratch of near2
	leafB     [][]occ
	terms     occTable // per term
	ents      occTable // per entity, including mentions of places inside it
}

// occTable holds occurrences per index, reusing its slices between items;
// only touched entries are reset.
type occTable struct {
	lists   [][]occ
	touched []int32
}

func (o *occTable) reset(n int) {
	if len(o.lists) != n {
		o.lists = make([][]occ, n)
		o.touched = o.touched[:0]
	}
	for _, i := range o.touched {
		o.lists[i] = o.lists[i][:0]
	}
	o.touched = o.touched[:0]
}

func (o *occTable) add(i int32, x occ) {
	if len(o.lists[i]) == 0 {
		o.touched = append(o.touched, i)
	}
	o.lists[i] = append(o.lists[i], x)
}

// Tag sets it.Tags and it.Entities from the item's title and text,
// replacing what was there. Evidence offsets are bytes into the original
// it.Title and it.Text. Output is sorted, so equal input gives equal JSON.
func (t *Tagger) Tag(it *pipeline.Item) {
	s := t.pool.Get().(*scratch)
	defer t.pool.Put(s)
	s.terms.reset(len(t.terms))
	s.ents.reset(len(t.ents))
	s.hits = s.hits[:0]
	s.fields[fieldTitle].tokenize(it.Title)
	s.fields[fieldText].tokenize(it.Text)
	for f := range s.fields {
		s.ids, s.hits = t.m.scan(&s.fields[f], uint8(f), s.ids, s.hits)
	}

	// Terms count wherever they occur; entity aliases compete for words
	// (the longest wins), first without conditional aliases, whose context
	// is then judged on that result.
	hasCond := false
	for _, h := range s.hits {
		p := &t.m.pats[h.pat]
		if p.term >= 0 {
			o := t.occOf(s, h)
			o.term = true
			s.terms.add(p.term, o)
		} else if p.with != nil {
			hasCond = true
		}
	}
	t.resolve(s, false)
	if hasCond {
		accepted := s.kept[:0:0]
		for _, h := range s.hits {
			p := &t.m.pats[h.pat]
			if p.term >= 0 {
				continue
			}
			if w := p.with; w == nil {
				accepted = append(accepted, h)
			} else if t.holds(s, w) {
				accepted = append(accepted, h)
			}
		}
		s.hits = append(s.hits[:0], accepted...)
		s.ents.reset(len(t.ents))
		t.resolve(s, true)
	}

	it.Tags, it.Entities = nil, nil
	if n := len(s.ents.touched); n > 0 {
		it.Entities = make([]pipeline.Entity, 0, n)
	}
	s.arena = nil
	for _, e := range s.ents.touched {
		occs := s.ents.lists[e]
		ent := t.ents[e]
		it.Entities = append(it.Entities, pipeline.Entity{ID: ent.ID, Kind: ent.Kind, Label: ent.Label, Mentions: len(occs)})
		if t.salient(occs) {
			it.Tags = append(it.Tags, pipeline.Tag{Tag: ent.ID, Kind: ent.Kind, Evidence: t.evidence(s, occs)})
		}
	}
	for _, tp := range t.topics {
		if !t.holds(s, tp.cond) {
			continue
		}
		s.groups = s.groups[:0]
		t.collect(s, tp.cond)
		occs := t.pick(s)
		slices.SortFunc(occs, cmpOcc)
		it.Tags = append(it.Tags, pipeline.Tag{Tag: tp.t.ID, Kind: KindTopic, Evidence: t.evidence(s, occs)})
	}
	slices.SortFunc(it.Tags, func(a, b pipeline.Tag) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Tag, b.Tag)) })
	slices.SortFunc(it.Entities, func(a, b pipeline.Entity) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
	})
}

// resolve keeps the leftmost-longest entity alias hits (several entities
// sharing the same words all keep them) and records entity occurrences,
// crediting enclosing places too. With all set, conditional aliases count.
func (t *Tagger) resolve(s *scratch, all bool) {
	s.kept = s.kept[:0]
	for _, h := range s.hits {
		p := &t.m.pats[h.pat]
		if p.term >= 0 || (!all && p.with != nil) {
			continue
		}
		if t.gaz[p.entity] && endsName(&s.fields[h.field], h.start) {
			continue
		}
		s.kept = append(s.kept, h)
	}
	// scan emits hits by field, start, then end ascending: reversing each
	// run of one start puts the longest first, without sorting.
	for i := 0; i < len(s.kept); {
		j := i + 1
		for j < len(s.kept) && s.kept[j].field == s.kept[i].field && s.kept[j].start == s.kept[i].start {
			j++
		}
		slices.Reverse(s.kept[i:j])
		i = j
	}
	var last hit
	have := false
	var seen []int32 // entities already counted at the current span
	for _, h := range s.kept {
		if have && h.field == last.field && h.start < last.end && !(h.start == last.start && h.end == last.end) {
			continue // inside a longer (or earlier) match
		}
		if !have || h.field != last.field || h.start >= last.end {
			seen = seen[:0]
		}
		last, have = h, true
		e := t.m.pats[h.pat].entity
		if slices.Contains(seen, e) {
			continue // two aliases of one entity on the same words
		}
		seen = append(seen, e)
		o := t.occOf(s, h)
		for d, cur := 0, e; cur >= 0 && d < 4; d, cur = d+1, t.parent[cur] {
			s.ents.add(cur, o)
		}
	}
}

func (t *Tagger) occOf(s *scratch, h hit) occ {
	ts := &s.fields[h.field]
	return occ{field: h.field, ws: h.start, we: h.end, bs: ts.toks[h.start].start, be: ts.toks[h.end-1].end}
}

// salient reports whether an entity with these mentions is what the item
// is about: named in the title or the lead, or mentioned often.
func (t *Tagger) salient(occs []occ) bool {
	if len(occs) >= t.opts.MinMentions {
		return true
	}
	for _, o := range occs {
		if o.field == fieldTitle || (t.opts.LeadBytes > 0 && int(o.bs) < t.opts.LeadBytes) {
			return true
		}
	}
	return false
}

func (t *Tagger) evidence(s *scratch, occs []occ) []pipeline.Evidence {
	n := min(len(occs), t.opts.MaxEvidence)
	// One allocation serves several tags; each tag's slice is capped so an
	// append by the caller cannot overwrite the next tag's evidence.
	if cap(s.arena)-len(s.arena) < n {
		s.arena = make([]pipeline.Evidence, 0, max(32, n))
	}
	start := len(s.arena)
	for _, o := range occs[:n] {
		src := s.fields[o.field].src
		s.arena = append(s.arena, pipeline.Evidence{Field: fieldNames[o.field], Start: int(o.bs), End: int(o.be), Match: src[o.bs:o.be]})
	}
	return s.arena[start:len(s.arena):len(s.arena)]
}

// holds reports whether c holds, doing as little work as it can: most
// topics fail on a missing term or entity.
func (t *Tagger) holds(s *scratch, c *ccond) bool {
	switch c.op {
	case OpTerm:
		return hasField(s.terms.lists[c.term], c.field)
	case OpEntity:
		for _, e := range c.ents {
			if hasField(s.ents.lists[e], c.field) {
				return true
			}
		}
		return false
	case OpNone:
		for _, k := range c.kids {
			if t.holds(s, k) {
				return false
			}
		}
		return true
	case OpAny:
		n := 0
		for _, k := range c.kids {
			if n += t.count(s, k); n >= c.min {
				return true
			}
		}
		return false
	}
	for _, k := range c.kids {
		if !t.holds(s, k) {
			return false
		}
	}
	if c.near > 0 {
		return t.near(s, c, false)
	}
	return true
}

// count is the number of occurrences a condition contributes to a min:
// every occurrence of a term or entity; a nested condition counts once.
func (t *Tagger) count(s *scratch, c *ccond) int {
	switch c.op {
	case OpTerm:
		return countField(s.terms.lists[c.term], c.field)
	case OpEntity:
		n := 0
		for _, e := range c.ents {
			n += countField(s.ents.lists[e], c.field)
		}
		return n
	}
	if t.holds(s, c) {
		return 1
	}
	return 0
}

// collect appends to s.groups the occurrences of each leaf that makes a
// holding c true.
func (t *Tagger) collect(s *scratch, c *ccond) {
	switch c.op {
	case OpTerm:
		if o := filterField(s.terms.lists[c.term], c.field); len(o) > 0 {
			s.groups = append(s.groups, group{occs: o})
		}
	case OpEntity:
		for _, e := range c.ents {
			if o := filterField(s.ents.lists[e], c.field); len(o) > 0 {
				s.groups = append(s.groups, group{occs: o})
			}
		}
	case OpNone:
	case OpAll:
		if c.near > 0 {
			t.near(s, c, true)
			return
		}
		for _, k := range c.kids {
			t.collect(s, k)
		}
	case OpAny:
		for _, k := range c.kids {
			if t.holds(s, k) {
				t.collect(s, k)
			}
		}
	}
}

// pick chooses up to MaxEvidence occurrences from s.groups: round-robin
// over the groups so that every reason shows, in each round terms first
// (they say why a topic holds, where names say only who). A leaf's group
// gives one occurrence, a near group as many as fit; an occurrence that
// repeats a chosen text or overlaps a chosen match is skipped.
func (t *Tagger) pick(s *scratch) []occ {
	limit := t.opts.MaxEvidence
	var out []occ
	same := func(a, b occ) bool { // the same folded words
		if a.we-a.ws != b.we-b.ws {
			return false
		}
		fa, fb := &s.fields[a.field], &s.fields[b.field]
		for i := range a.we - a.ws {
			if fa.keyOf(int(a.ws+i)) != fb.keyOf(int(b.ws+i)) {
				return false
			}
		}
		return true
	}
	usable := func(o occ) bool {
		for _, p := range out {
			if same(p, o) || p.field == o.field && p.ws < o.we && o.ws < p.we {
				return false
			}
		}
		return true
	}
	cursor := make([]int, len(s.groups))
	picked := make([]bool, len(s.groups))
	for len(out) < limit {
		more := false
		for _, terms := range []bool{true, false} {
			for gi, g := range s.groups {
				if picked[gi] && !g.multi {
					continue
				}
				for cursor[gi] < len(g.occs) && len(out) < limit {
					o := g.occs[cursor[gi]]
					if o.term != terms {
						break
					}
					cursor[gi]++
					if usable(o) {
						out = append(out, o)
						picked[gi], more = true, true
						break
					}
				}
			}
		}
		if !more {
			break
		}
	}
	return out
}

func hasField(occs []occ, field int8) bool {
	if field < 0 {
		return len(occs) > 0
	}
	for _, o := range occs {
		if o.field == uint8(field) {
			return true
		}
	}
	return false
}

func countField(occs []occ, field int8) int {
	if field < 0 {
		return len(occs)
	}
	n := 0
	for _, o := range occs {
		if o.field == uint8(field) {
			n++
		}
	}
	return n
}

// filterField returns the occurrences in field (all for -1). The result
// may share storage with occs.
func filterField(occs []occ, field int8) []occ {
	if field < 0 || len(occs) == 0 {
		return occs
	}
	var out []occ
	for _, o := range occs {
		if o.field == uint8(field) {
			out = append(out, o)
		}
	}
	return out
}

// group is the evidence candidates of one leaf of a topic (one term or
// entity: one of them is shown) or of one near condition (as many as fit).
type group struct {
	occs  []occ
	multi bool
}

// labeled is an occurrence of one operand of a near condition.
type labeled struct {
	key  uint64 // field, first word, last word: sorts in text order
	o    occ
	list int32
}

// gather appends the occurrences of a holding condition, labeled.
func (t *Tagger) gather(s *scratch, c *ccond, label int32, buf []labeled) []labeled {
	add := func(occs []occ, field int8) {
		for _, o := range occs {
			if field < 0 || o.field == uint8(field) {
				buf = append(buf, labeled{key: uint64(o.field)<<48 | uint64(o.ws)<<24 | uint64(o.we), o: o, list: label})
			}
		}
	}
	switch c.op {
	case OpTerm:
		add(s.terms.lists[c.term], c.field)
	case OpEntity:
		for _, e := range c.ents {
			add(s.ents.lists[e], c.field)
		}
	case OpNone:
	default:
		for _, k := range c.kids {
			if t.holds(s, k) {
				buf = t.gather(s, k, label, buf)
			}
		}
	}
	return buf
}

// near reports whether one field has a window at most c.near words wide
// holding an occurrence of every operand of c. With keep, the occurrences
// in such windows are added to s.groups as evidence.
func (t *Tagger) near(s *scratch, c *ccond, keep bool) bool {
	var ops []*ccond
	for _, k := range c.kids {
		if k.op != OpNone {
			ops = append(ops, k)
		}
	}
	if len(ops) == 2 {
		return t.near2(s, ops[0], ops[1], c.near, keep)
	}
	buf := s.nearBuf[:0]
	lists := int32(0)
	for _, k := range c.kids {
		if k.op == OpNone {
			continue
		}
		buf = t.gather(s, k, lists, buf)
		lists++
	}
	s.nearBuf = buf
	if lists < 2 {
		return len(buf) > 0
	}
	slices.SortFunc(buf, func(a, b labeled) int { return cmp.Compare(a.key, b.key) })
	count := s.nearCount[:0]
	for range lists {
		count = append(count, 0)
	}
	s.nearCount = count
	covered := int32(0)
	found := false
	var out []occ
	marked := -1 // buf[:marked+1] already in out
	left := 0
	for right := range buf {
		for left < right && (buf[left].o.field != buf[right].o.field || int(buf[right].o.ws-buf[left].o.ws) > c.near) {
			if count[buf[left].list]--; count[buf[left].list] == 0 {
				covered--
			}
			left++
		}
		if count[buf[right].list]++; count[buf[right].list] == 1 {
			covered++
		}
		if covered == lists {
			if !keep {
				return true
			}
			found = true
			for i := max(left, marked+1); i <= right; i++ {
				out = append(out, buf[i].o)
			}
			marked = right
		}
	}
	if found {
		s.groups = append(s.groups, group{occs: out, multi: true})
	}
	return found
}

// near2 is near for two operands, without sorting: each occurrence of the
// rarer operand looks for the other within n words by binary search.
func (t *Tagger) near2(s *scratch, a, b *ccond, n int, keep bool) bool {
	s.leafA = t.leaves(s, a, s.leafA[:0])
	s.leafB = t.leaves(s, b, s.leafB[:0])
	la, lb := s.leafA, s.leafB
	if total(la) > total(lb) {
		la, lb = lb, la
	}
	var out []occ
	for _, l := range la {
		for _, o := range l {
			found := false
			for _, m := range lb {
				// First occurrence of m at or after o.ws-n in o's field.
				i, _ := slices.BinarySearchFunc(m, o, func(x, o occ) int {
					return cmp.Or(cmp.Compare(x.field, o.field), cmp.Compare(int(x.ws), int(o.ws)-n))
				})
				for ; i < len(m) && m[i].field == o.field && int(m[i].ws) <= int(o.ws)+n; i++ {
					if !keep {
						return true
					}
					out = append(out, m[i])
					found = true
					if len(out) > 4*t.opts.MaxEvidence {
						break
					}
				}
			}
			if found {
				out = append(out, o)
			}
			if len(out) > 4*t.opts.MaxEvidence {
				break
			}
		}
	}
	if len(out) == 0 {
		return false
	}
	slices.SortFunc(out, cmpOcc)
	s.groups = append(s.groups, group{occs: slices.Compact(out), multi: true})
	return true
}

func total(ls [][]occ) int {
	n := 0
	for _, l := range ls {
		n += len(l)
	}
	return n
}

// leaves appends the occurrence lists (each in text order) of the leaves
// of a holding condition.
func (t *Tagger) leaves(s *scratch, c *ccond, dst [][]occ) [][]occ {
	switch c.op {
	case OpTerm:
		if o := filterField(s.terms.lists[c.term], c.field); len(o) > 0 {
			dst = append(dst, o)
		}
	case OpEntity:
		for _, e := range c.ents {
			if o := filterField(s.ents.lists[e], c.field); len(o) > 0 {
				dst = append(dst, o)
			}
		}
	case OpNone:
	default:
		for _, k := range c.kids {
			if t.holds(s, k) {
				dst = t.leaves(s, k, dst)
			}
		}
	}
	return dst
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// unsafeString views b as a string for comparisons that do not outlive b.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// EntityIDs returns "kind:id" for every entity mentioned in the item's
// title and text, in the order Tag reports them, without changing the
// item. The dedup stage weighs these in story grouping. Safe for
// concurrent use.
func (t *Tagger) EntityIDs(it *pipeline.Item) []string {
	c := pipeline.Item{Title: it.Title, Text: it.Text}
	t.Tag(&c)
	ids := make([]string, 0, len(c.Entities))
	for _, e := range c.Entities {
		ids = append(ids, e.Kind+":"+e.ID)
	}
	return ids
}

// endsName reports whether the words from token i on end a longer
// capitalised name: the word before, on the same line with only spaces
// between, is capitalised (not in capitals), and is neither a place word
// such as "Greater" or "Port" nor a function word that titles and
// sentences capitalise ("In London", "Bank Of Tokyo"). A gazetteer place
// found so ("Morgan Stanley", "Jack London", "Air France", "Credit
// Suisse") is a person's or firm's name, not the place; a sentence
// starting with another word before a place ("Visiting London", "Only
// Kuwait") loses it, a price paid knowingly (Reuters: 74 wrong tags gone
// for 5 right ones).
func endsName(ts *tokens, i int32) bool {
	if i == 0 {
		return false
	}
	prev, cur := ts.toks[i-1], ts.toks[i]
	if strings.Trim(ts.src[prev.end:cur.start], " ") != "" {
		return false
	}
	// Capitalised, not all capitals: in a line of capitals ("BANK OF
	// MONTREAL", "FARMINGTON Conn.") every word looks like a name.
	w := ts.src[prev.start:prev.end]
	if r, _ := utf8.DecodeRuneInString(w); !unicode.IsUpper(r) || !strings.ContainsFunc(w, unicode.IsLower) {
		return false
	}
	key := ts.keyOf(int(i - 1))
	return !placeWords[key] && !functionWords[key]
}

// placeWords may precede a place's name as part of the place's own name
// ("Greater London", "Port Stanley") or qualify the place ("Communist
// China").
var placeWords = wordSet(`greater central downtown north south east west northern southern eastern western
	upper lower inner outer metropolitan metro old new port mount lake cape fort saint st san santa city
	suburban rural coastal mainland communist nazi imperial occupied ancient modern postwar colonial
	independent nationalist socialist federal`)

// functionWords come before places and are capitalised in titles and at
// the start of sentences ("In London", "From Paris", "Bank Of Tokyo").
var functionWords = wordSet(`in at from to for near outside inside across throughout around beyond like
	unlike as since via of on by with and or but after before while when where if although though because
	the a an into onto over under between among against toward towards during until`)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}
