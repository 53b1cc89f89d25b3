package tag

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Entity kinds.
const (
	KindPerson = "person"
	KindPlace  = "place"
	KindOrg    = "org"
	KindOther  = "other"
	// KindTopic is the Tag.Kind of a topic tag.
	KindTopic = "topic"
)

// Rules is a set of entities and topics, loaded from rule files and merged.
// A Rules value is read-only once built; share it freely.
type Rules struct {
	Entities []*Entity // sorted by ID
	Topics   []*Topic  // sorted by ID
}

// Entity is a named thing with the aliases that mention it.
type Entity struct {
	ID       string
	Kind     string // person, place, org or other
	Label    string
	Wikidata string
	// In is the ID of an enclosing place (a city's country): a mention of
	// this entity also counts as a mention of In.
	In      string
	Aliases []Alias
	// Source is "file:line" where the entity was defined.
	Source string
}

// Alias is one way of writing an entity's name.
type Alias struct {
	Text string
	// Case makes the alias match only with exactly this letter case (after
	// NFKC), e.g. "US" but not "us".
	Case bool
	// Proper makes the alias match only where each word starts with a
	// capital (or an uncased letter): "Turkey" but not "turkey".
	Proper bool
	// With, when set, is context the item must also have for this alias to
	// count (e.g. a surname that counts only next to the full name).
	With *Cond
}

// Topic is a boolean rule over entities and terms.
type Topic struct {
	ID     string
	Label  string
	Cond   *Cond
	Source string
}

// Op is a condition operator.
type Op int

// Condition operators.
const (
	OpAll    Op = iota // every child matches (within Near words when Near > 0)
	OpAny              // at least Min occurrences of the children (Min defaults to 1)
	OpNone             // no child matches
	OpTerm             // the phrase Term occurs
	OpEntity           // one of Entities is mentioned
)

// Cond is a node of a topic rule.
type Cond struct {
	Op       Op
	Term     string   // OpTerm
	Entities []string // OpEntity: any of these IDs
	Kids     []*Cond
	Near     int    // OpAll: children within this many words of each other
	Min      int    // OpAny: minimum number of occurrences
	Field    string // "", "title" or "text": restricts every leaf below
	Line     int
}

// ParseRules parses one rules document. name is used in error messages
// (usually the file name). References to entities defined in other files
// are not checked here; Load and Merge check them.
func ParseRules(name string, data []byte) (*Rules, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r := &Rules{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return r, nil // empty file
	}
	p := &parser{name: name}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root, "", "want a mapping with entities and topics")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "entities":
			for _, n := range p.seq(v, "", "entities") {
				if e := p.entity(n); e != nil {
					r.Entities = append(r.Entities, e)
				}
			}
		case "topics":
			for _, n := range p.seq(v, "", "topics") {
				if t := p.topic(n); t != nil {
					r.Topics = append(r.Topics, t)
				}
			}
		default:
			p.add(k, "", "unknown key %q (want entities, topics)", k.Value)
		}
	}
	seen := map[string]int{}
	for _, e := range r.Entities {
		if l, ok := seen["e:"+e.ID]; ok {
			p.errs = append(p.errs, fmt.Errorf("%s: entity %q defined twice (first at line %d)", e.Source, e.ID, l))
		}
		seen["e:"+e.ID] = lineOf(e.Source)
	}
	for _, t := range r.Topics {
		if l, ok := seen["t:"+t.ID]; ok {
			p.errs = append(p.errs, fmt.Errorf("%s: topic %q defined twice (first at line %d)", t.Source, t.ID, l))
		}
		seen["t:"+t.ID] = lineOf(t.Source)
	}
	if err := errors.Join(p.errs...); err != nil {
		return nil, err
	}
	r.sort()
	return r, nil
}

func lineOf(source string) int {
	i := strings.LastIndexByte(source, ':')
	n, _ := strconv.Atoi(source[i+1:])
	return n
}

func (r *Rules) sort() {
	sort.SliceStable(r.Entities, func(i, j int) bool { return r.Entities[i].ID < r.Entities[j].ID })
	sort.SliceStable(r.Topics, func(i, j int) bool { return r.Topics[i].ID < r.Topics[j].ID })
}

// Merge returns the union of rs: an entity or topic with the same ID as an
// earlier one replaces it. Nil elements are skipped. The inputs are not
// modified. Merge checks that every entity a topic, alias context or In
// refers to is defined.
func Merge(rs ...*Rules) (*Rules, error) {
	ents := map[string]*Entity{}
	tops := map[string]*Topic{}
	for _, r := range rs {
		if r == nil {
			continue
		}
		for _, e := range r.Entities {
			ents[e.ID] = e
		}
		for _, t := range r.Topics {
			tops[t.ID] = t
		}
	}
	out := &Rules{}
	for _, e := range ents {
		out.Entities = append(out.Entities, e)
	}
	for _, t := range tops {
		out.Topics = append(out.Topics, t)
	}
	out.sort()
	return out, out.Check()
}

// Check reports references to undefined entities, naming where each was made.
func (r *Rules) Check() error {
	ids := make(map[string]bool, len(r.Entities))
	for _, e := range r.Entities {
		ids[e.ID] = true
	}
	var errs []error
	var walk func(c *Cond, where string)
	walk = func(c *Cond, where string) {
		if c == nil {
			return
		}
		for _, id := range c.Entities {
			if !ids[id] {
				errs = append(errs, fmt.Errorf("%s: unknown entity %q (line %d)", where, id, c.Line))
			}
		}
		for _, k := range c.Kids {
			walk(k, where)
		}
	}
	for _, e := range r.Entities {
		if e.In != "" && !ids[e.In] {
			errs = append(errs, fmt.Errorf("%s: entity %q: in: unknown entity %q", e.Source, e.ID, e.In))
		}
		for _, a := range e.Aliases {
			walk(a.With, fmt.Sprintf("%s: entity %q: alias %q: with", e.Source, e.ID, a.Text))
		}
	}
	for _, t := range r.Topics {
		walk(t.Cond, fmt.Sprintf("%s: topic %q", t.Source, t.ID))
	}
	return errors.Join(errs...)
}

// Entity returns the entity with the given ID, or nil.
func (r *Rules) Entity(id string) *Entity {
	i, ok := slices.BinarySearchFunc(r.Entities, id, func(e *Entity, id string) int { return strings.Compare(e.ID, id) })
	if !ok {
		return nil
	}
	return r.Entities[i]
}

// Load reads rule files and merges them over the built-in gazetteer (see
// Gazetteer): each path is a YAML file or a directory whose *.yaml and
// *.yml files are read in name order. Later definitions override earlier
// ones by ID. Every problem is reported, each naming its file, line and
// rule. LoadFiles does the same without the gazetteer.
func Load(paths ...string) (*Rules, error) {
	return load(true, paths)
}

// LoadFiles is Load without the built-in gazetteer.
func LoadFiles(paths ...string) (*Rules, error) {
	return load(false, paths)
}

func load(gazetteer bool, paths []string) (*Rules, error) {
	// A missing path does not stop the others: every problem is reported.
	files, err := ruleFiles(paths)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	var parts []*Rules
	if gazetteer {
		g, err := Gazetteer()
		if err != nil {
			return nil, err
		}
		parts = append(parts, g)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("read rules: %w", err))
			continue
		}
		r, err := ParseRules(f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		parts = append(parts, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return Merge(parts...)
}

// ruleFiles expands directories into their rule files. It reports every
// path that cannot be read (joined) along with the files of the others.
func ruleFiles(paths []string) ([]string, error) {
	var files []string
	var errs []error
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: %w", err))
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: %w", err))
			continue
		}
		for _, e := range ents {
			if e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	return files, errors.Join(errs...)
}

// parser turns YAML nodes into rules, collecting every problem.
type parser struct {
	name string
	errs []error
}

func (p *parser) errf(n *yaml.Node, rule, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if rule != "" {
		msg = rule + ": " + msg
	}
	return fmt.Errorf("%s:%d: %s", p.name, n.Line, msg)
}

func (p *parser) add(n *yaml.Node, rule, format string, args ...any) {
	p.errs = append(p.errs, p.errf(n, rule, format, args...))
}

func (p *parser) seq(n *yaml.Node, rule, key string) []*yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		if n != nil {
			p.add(n, rule, "%s: want a list", key)
		}
		return nil
	}
	return n.Content
}

func (p *parser) str(n *yaml.Node, rule, key string) string {
	if n.Kind != yaml.ScalarNode {
		p.add(n, rule, "%s: want a string", key)
		return ""
	}
	return n.Value
}

func (p *parser) boolean(n *yaml.Node, rule, key string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		p.add(n, rule, "%s: want true or false", key)
	}
	return b
}

func (p *parser) integer(n *yaml.Node, rule, key string) int {
	var v int
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil || v < 0 || v > 1000 {
		p.add(n, rule, "%s: want a whole number from 0 to 1000", key)
		return 0
	}
	return v
}

// validID reports whether id is usable as an ID and as a NATS subject token.
func validID(id string) bool {
	return id != "" && len(id) <= 100 && pipeline.Token(id) == id && strings.ToLower(id) == id
}

func (p *parser) entity(n *yaml.Node) *Entity {
	if n.Kind != yaml.MappingNode {
		p.add(n, "", "entity: want a mapping")
		return nil
	}
	e := &Entity{Source: fmt.Sprintf("%s:%d", p.name, n.Line)}
	rule := "entity"
	if id := mapValue(n, "id"); id != nil && id.Kind == yaml.ScalarNode {
		rule = fmt.Sprintf("entity %q", id.Value)
	}
	proper, exact := false, false
	var aliases []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "id":
			e.ID = p.str(v, rule, "id")
		case "kind":
			e.Kind = p.str(v, rule, "kind")
		case "label":
			e.Label = p.str(v, rule, "label")
		case "wikidata":
			e.Wikidata = p.str(v, rule, "wikidata")
		case "in":
			e.In = p.str(v, rule, "in")
		case "proper":
			proper = p.boolean(v, rule, "proper")
		case "case":
			exact = p.boolean(v, rule, "case")
		case "aliases":
			aliases = p.seq(v, rule, "aliases")
		default:
			p.add(k, rule, "unknown key %q (want id, kind, label, aliases, wikidata, in, proper, case)", k.Value)
		}
	}
	if !validID(e.ID) {
		p.add(n, rule, "id %q: want lower-case letters, digits, '-' and '_'", e.ID)
	}
	switch e.Kind {
	case KindPerson, KindPlace, KindOrg, KindOther:
	case "":
		p.add(n, rule, "missing kind (person, place, org or other)")
	default:
		p.add(n, rule, "kind %q: want person, place, org or other", e.Kind)
	}
	if e.Wikidata != "" && !validWikidata(e.Wikidata) {
		p.add(n, rule, "wikidata %q: want an item ID like Q42", e.Wikidata)
	}
	if e.Label == "" && len(aliases) > 0 && aliases[0].Kind == yaml.ScalarNode {
		e.Label = aliases[0].Value
	}
	for _, an := range aliases {
		a := Alias{Proper: proper, Case: exact}
		switch an.Kind {
		case yaml.ScalarNode:
			a.Text = an.Value
		case yaml.MappingNode:
			for j := 0; j+1 < len(an.Content); j += 2 {
				k, v := an.Content[j], an.Content[j+1]
				switch k.Value {
				case "text":
					a.Text = p.str(v, rule, "alias text")
				case "case":
					a.Case = p.boolean(v, rule, "alias case")
				case "proper":
					a.Proper = p.boolean(v, rule, "alias proper")
				case "with":
					a.With = p.cond(v, rule, OpAny)
				default:
					p.add(k, rule, "alias: unknown key %q (want text, case, proper, with)", k.Value)
				}
			}
		default:
			p.add(an, rule, "alias: want a string or a mapping with text")
			continue
		}
		if keys, _ := foldWords(a.Text); len(keys) == 0 {
			p.add(an, rule, "alias %q has no words", a.Text)
			continue
		} else if len(keys) > maxPatternWords {
			p.add(an, rule, "alias %q has more than %d words", a.Text, maxPatternWords)
			continue
		}
		e.Aliases = append(e.Aliases, a)
	}
	if len(e.Aliases) == 0 {
		p.add(n, rule, "no aliases")
	}
	if e.Label == "" {
		e.Label = e.ID
	}
	return e
}

func validWikidata(s string) bool {
	if len(s) < 2 || s[0] != 'Q' {
		return false
	}
	_, err := strconv.ParseUint(s[1:], 10, 64)
	return err == nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// condKeys are the keys of a condition mapping.
var condKeys = "all, any, none, entity, term, near, min, field"

func (p *parser) topic(n *yaml.Node) *Topic {
	if n.Kind != yaml.MappingNode {
		p.add(n, "", "topic: want a mapping")
		return nil
	}
	t := &Topic{Source: fmt.Sprintf("%s:%d", p.name, n.Line)}
	rule := "topic"
	if id := mapValue(n, "id"); id != nil && id.Kind == yaml.ScalarNode {
		rule = fmt.Sprintf("topic %q", id.Value)
	}
	// The topic mapping is itself a condition, plus id and label.
	body := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "id":
			t.ID = p.str(v, rule, "id")
		case "label":
			t.Label = p.str(v, rule, "label")
		default:
			body.Content = append(body.Content, k, v)
		}
	}
	if !validID(t.ID) {
		p.add(n, rule, "id %q: want lower-case letters, digits, '-' and '_'", t.ID)
	}
	if t.Label == "" {
		t.Label = t.ID
	}
	t.Cond = p.cond(body, rule, OpAll)
	if t.Cond != nil && !positive(t.Cond) {
		p.add(n, rule, "nothing to match: a topic needs all, any, entity or term outside none")
	}
	return t
}

// positive reports whether c can match something (it is not only negations).
func positive(c *Cond) bool {
	switch c.Op {
	case OpTerm, OpEntity:
		return true
	case OpNone:
		return false
	}
	for _, k := range c.Kids {
		if positive(k) {
			return true
		}
	}
	return false
}

const maxCondDepth = 16

// cond parses a condition: a string is a term, a list is an implicit op
// over its elements, a mapping has condition keys.
func (p *parser) cond(n *yaml.Node, rule string, listOp Op) *Cond {
	return p.condDepth(n, rule, listOp, 0)
}

func (p *parser) condDepth(n *yaml.Node, rule string, listOp Op, depth int) *Cond {
	if depth > maxCondDepth {
		p.add(n, rule, "condition nested deeper than %d", maxCondDepth)
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		p.add(n, rule, "YAML aliases are not allowed in conditions")
		return nil
	case yaml.ScalarNode:
		keys, _ := foldWords(n.Value)
		if len(keys) == 0 {
			p.add(n, rule, "term %q has no words", n.Value)
			return nil
		}
		if len(keys) > maxPatternWords {
			p.add(n, rule, "term %q has more than %d words", n.Value, maxPatternWords)
			return nil
		}
		return &Cond{Op: OpTerm, Term: n.Value, Line: n.Line}
	case yaml.SequenceNode:
		c := &Cond{Op: listOp, Line: n.Line}
		for _, k := range n.Content {
			if kc := p.condDepth(k, rule, OpAny, depth+1); kc != nil {
				c.Kids = append(c.Kids, kc)
			}
		}
		if len(c.Kids) == 0 {
			p.add(n, rule, "empty list")
			return nil
		}
		return c
	case yaml.MappingNode:
	default:
		p.add(n, rule, "condition: want a term, a list or a mapping")
		return nil
	}
	c := &Cond{Op: OpAll, Line: n.Line}
	var near, min *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "all", "any", "none":
			op := map[string]Op{"all": OpAll, "any": OpAny, "none": OpNone}[k.Value]
			sub := &Cond{Op: op, Line: v.Line}
			for _, kn := range p.seq(v, rule, k.Value) {
				if kc := p.condDepth(kn, rule, OpAny, depth+1); kc != nil {
					sub.Kids = append(sub.Kids, kc)
				}
			}
			if len(sub.Kids) == 0 {
				p.add(v, rule, "%s: empty", k.Value)
				continue
			}
			c.Kids = append(c.Kids, sub)
		case "entity":
			ec := &Cond{Op: OpEntity, Line: v.Line}
			switch v.Kind {
			case yaml.ScalarNode:
				ec.Entities = []string{v.Value}
			case yaml.SequenceNode:
				for _, e := range v.Content {
					ec.Entities = append(ec.Entities, p.str(e, rule, "entity"))
				}
			default:
				p.add(v, rule, "entity: want an ID or a list of IDs")
			}
			for _, id := range ec.Entities {
				if !validID(id) {
					p.add(v, rule, "entity: bad ID %q", id)
				}
			}
			if len(ec.Entities) > 0 {
				c.Kids = append(c.Kids, ec)
			}
		case "term":
			if tc := p.condDepth(v, rule, OpAny, depth+1); tc != nil {
				c.Kids = append(c.Kids, tc)
			}
		case "near":
			near = v
			c.Near = p.integer(v, rule, "near")
		case "min":
			min = v
			c.Min = p.integer(v, rule, "min")
		case "field":
			c.Field = p.str(v, rule, "field")
			if c.Field != "title" && c.Field != "text" {
				p.add(v, rule, "field %q: want title or text", c.Field)
			}
		default:
			p.add(k, rule, "unknown key %q (want %s)", k.Value, condKeys)
		}
	}
	if len(c.Kids) == 0 {
		p.add(n, rule, "condition has nothing to match (want %s)", condKeys)
		return nil
	}
	if near != nil {
		// near applies to the node's all-list, or to the node's own children.
		target := c
		if k := c.only(OpAll); k != nil {
			target = k
		}
		target.Near = c.Near
		if target != c {
			c.Near = 0
		}
		if len(target.Kids) < 2 {
			p.add(near, rule, "near needs at least two things to bring together")
		}
		for _, k := range target.Kids {
			if k.Op == OpNone || k.Op == OpAll {
				p.add(near, rule, "near works on terms, entities and any-lists, not on all or none")
				break
			}
		}
	}
	if min != nil {
		target := c.only(OpAny)
		if target == nil {
			// min on a node without an any-list counts occurrences of all its children.
			target = &Cond{Op: OpAny, Kids: c.Kids, Line: c.Line}
			c.Kids = []*Cond{target}
		}
		target.Min = c.Min
		c.Min = 0
	}
	if len(c.Kids) == 1 && c.Near == 0 && c.Field == "" {
		return c.Kids[0]
	}
	return c
}

// only returns the single child with op, if there is exactly one.
func (c *Cond) only(op Op) *Cond {
	var found *Cond
	for _, k := range c.Kids {
		if k.Op == op {
			if found != nil {
				return nil
			}
			found = k
		}
	}
	return found
}
