package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Tagger sets an item's Tags and Entities. pipeline/tag provides one.
type Tagger interface {
	Tag(it *Item)
}

// TagStage is the Handler of the tag stage: it tags every item and
// publishes first copies to items.tagged and copies to
// items.tagged.duplicate. The tagger can be swapped while running (rule
// reload); safe for concurrent use.
type TagStage struct {
	subj   Subjects
	tagger atomic.Pointer[Tagger]
}

// NewTagStage returns the tag stage handler using t.
func NewTagStage(subj Subjects, t Tagger) *TagStage {
	s := &TagStage{subj: subj}
	s.SetTagger(t)
	return s
}

// SetTagger replaces the tagger; items handled afterwards use it.
func (s *TagStage) SetTagger(t Tagger) { s.tagger.Store(&t) }

// Tagger returns the current tagger.
func (s *TagStage) Tagger() Tagger { return *s.tagger.Load() }

// Handle implements Handler.
func (s *TagStage) Handle(_ context.Context, it *Item) ([]Output, error) {
	(*s.tagger.Load()).Tag(it)
	data, err := it.Marshal()
	if err != nil {
		return nil, Permanent(fmt.Errorf("encode tagged item: %w", err))
	}
	subject := s.subj.Tagged()
	if it.DuplicateOf != "" {
		subject = s.subj.TaggedDuplicate()
	}
	return []Output{{Subject: subject, MsgID: "tagged." + it.Version(), Data: data}}, nil
}

// Sink is a destination that stores or forwards tagged items. Write makes
// one delivery attempt and must be idempotent by item version: a
// redelivered item is written once. Retries, backoff and dead-lettering
// come from the consumer that calls it (see NewSinkStage).
type Sink interface {
	Write(ctx context.Context, it *Item) error
}

// SinkConfig returns the stage configuration of the sink named name: a
// durable consumer on the tagged stream (first copies and copies) that
// dead-letters to dlq.<name> after the last attempt.
func SinkConfig(subj Subjects, name string) StageConfig {
	return StageConfig{
		Name:       "sink-" + Token(name),
		Stream:     subj.StreamTagged(),
		Subjects:   []string{subj.Tagged(), subj.TaggedDuplicate()},
		DeadLetter: subj.DeadLetter(name),
	}
}

// SinkHandler adapts a Sink to a Handler with no outputs. A sink with a
// HandleTimeout method (the longest a Write may take) passes it on to
// the stage (see StageConfig.HandleTimeout).
func SinkHandler(s Sink) Handler {
	h := HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
		return nil, s.Write(ctx, it)
	})
	if ht, ok := s.(interface{ HandleTimeout() time.Duration }); ok {
		return timedHandler{h, ht.HandleTimeout}
	}
	return h
}

// timedHandler is a Handler with a HandleTimeout method.
type timedHandler struct {
	HandlerFunc
	timeout func() time.Duration
}

func (h timedHandler) HandleTimeout() time.Duration { return h.timeout() }
