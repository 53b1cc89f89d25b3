package pipeline

import (
	"fmt"
	"strings"
	"unicode"
)

// DefaultPrefix is the subject prefix used when the config sets none.
const DefaultPrefix = "wirewatch."

// Subjects names every subject, stream, consumer and KV bucket of one
// wirewatch deployment. All names derive from the prefix, so two
// deployments with different prefixes can share a NATS cluster.
// The zero value is not usable; build one with NewSubjects.
type Subjects struct {
	prefix string // always ends in "."
	name   string // upper-case stream-name stem, e.g. "WIREWATCH"
}

// NewSubjects returns the subject names for prefix ("" means DefaultPrefix).
// A prefix is one or more NATS tokens; the trailing dot is optional.
func NewSubjects(prefix string) (Subjects, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	prefix = strings.TrimSuffix(prefix, ".") + "."
	for _, tok := range strings.Split(strings.TrimSuffix(prefix, "."), ".") {
		if tok == "" || Token(tok) != tok {
			return Subjects{}, fmt.Errorf("subject prefix %q: token %q is not a plain NATS token (letters, digits, - and _)", prefix, tok)
		}
	}
	name := strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(strings.TrimSuffix(prefix, ".")))
	return Subjects{prefix: prefix, name: name}, nil
}

// MustSubjects is NewSubjects for constant prefixes; it panics on a bad one.
func MustSubjects(prefix string) Subjects {
	s, err := NewSubjects(prefix)
	if err != nil {
		panic(err)
	}
	return s
}

// Prefix returns the prefix, ending in ".".
func (s Subjects) Prefix() string { return s.prefix }

// Parsed is the subject of a freshly parsed item of feed.
func (s Subjects) Parsed(feed string) string { return s.prefix + "items.parsed." + Token(feed) }

// Unique is the subject of a first copy after dedup.
func (s Subjects) Unique(feed string) string { return s.prefix + "items.unique." + Token(feed) }

// Duplicate is the subject of a copy after dedup.
func (s Subjects) Duplicate(feed string) string { return s.prefix + "items.duplicate." + Token(feed) }

// Story is the subject of events of one story.
func (s Subjects) Story(storyID string) string { return s.prefix + "stories." + Token(storyID) }

// Tagged is the subject of a tagged first copy (one full item).
func (s Subjects) Tagged() string { return s.prefix + "items.tagged" }

// TaggedDuplicate is the subject of a tagged copy. Stored sinks read both
// Tagged and TaggedDuplicate, so they hold every item; live subscribers of
// Tagged see each story once.
func (s Subjects) TaggedDuplicate() string { return s.prefix + "items.tagged.duplicate" }

// TagSubject is the subject of one tag of a first copy, for subscribers.
func (s Subjects) TagSubject(tag string) string { return s.prefix + "items.tag." + Token(tag) }

// EntitySubject is the subject of one entity of a first copy.
func (s Subjects) EntitySubject(kind, id string) string {
	return s.prefix + "items.entity." + Token(kind) + "." + Token(id)
}

// DeadLetter is where a sink puts an item it gave up on.
func (s Subjects) DeadLetter(sink string) string { return s.prefix + "dlq." + Token(sink) }

// Wildcards used by streams and subscribers.
func (s Subjects) AllParsed() string     { return s.prefix + "items.parsed.>" }
func (s Subjects) AllUnique() string     { return s.prefix + "items.unique.>" }
func (s Subjects) AllDuplicates() string { return s.prefix + "items.duplicate.>" }
func (s Subjects) AllStories() string    { return s.prefix + "stories.>" }
func (s Subjects) AllTags() string       { return s.prefix + "items.tag.>" }
func (s Subjects) AllEntities() string   { return s.prefix + "items.entity.>" }
func (s Subjects) AllDeadLetters() string {
	return s.prefix + "dlq.>"
}

// Stream names.
func (s Subjects) StreamParsed() string  { return s.name + "_PARSED" }
func (s Subjects) StreamDeduped() string { return s.name + "_DEDUPED" }
func (s Subjects) StreamStories() string { return s.name + "_STORIES" }
func (s Subjects) StreamTagged() string  { return s.name + "_TAGGED" }
func (s Subjects) StreamTags() string    { return s.name + "_TAGS" }
func (s Subjects) StreamDLQ() string     { return s.name + "_DLQ" }

// Bucket returns the name of the KV bucket for purpose (e.g. "dedup",
// "feeds", "leases").
func (s Subjects) Bucket(purpose string) string {
	return s.name + "_" + strings.ToUpper(Token(purpose))
}

// Token turns s into one valid NATS subject token: letters, digits, '-' and
// '_' are kept, ASCII letters lower-cased, everything else becomes '_'.
// An empty result becomes "_".
func Token(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteRune(unicode.ToLower(r))
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
