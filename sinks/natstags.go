package sinks

import (
	"context"
	"fmt"

	"github.com/wirewatch/wirewatch/pipeline"
)

// NATSTags fans each tagged first copy out to one subject per tag
// (items.tag.<tag>) and per entity (items.entity.<kind>.<id>), for users
// who subscribe to topics rather than feeds. Copies (items with
// DuplicateOf) are not fanned out: subscribers get each story once.
// It is a pipeline.Handler: its outputs carry Nats-Msg-Ids, so a
// redelivered item is published once. Safe for concurrent use.
type NATSTags struct {
	subj pipeline.Subjects
}

var _ pipeline.Handler = (*NATSTags)(nil)

// NewNATSTags returns the tag-subject fan-out for subj.
func NewNATSTags(subj pipeline.Subjects) *NATSTags { return &NATSTags{subj: subj} }

// Handle implements pipeline.Handler.
func (n *NATSTags) Handle(_ context.Context, it *pipeline.Item) ([]pipeline.Output, error) {
	if it.DuplicateOf != "" || len(it.Tags)+len(it.Entities) == 0 {
		return nil, nil
	}
	data, err := it.Marshal()
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("natstags: encode %s: %w", it.ID, err))
	}
	v := it.Version()
	outs := make([]pipeline.Output, 0, len(it.Tags)+len(it.Entities))
	seen := make(map[string]bool, cap(outs))
	for _, t := range it.Tags {
		s := n.subj.TagSubject(t.Tag)
		if seen[s] {
			continue
		}
		seen[s] = true
		outs = append(outs, pipeline.Output{Subject: s, MsgID: v + ".tag." + pipeline.Token(t.Tag), Data: data})
	}
	for _, e := range it.Entities {
		s := n.subj.EntitySubject(e.Kind, e.ID)
		if seen[s] {
			continue
		}
		seen[s] = true
		outs = append(outs, pipeline.Output{Subject: s, MsgID: v + ".entity." + pipeline.Token(e.Kind) + "." + pipeline.Token(e.ID), Data: data})
	}
	return outs, nil
}

// NATSTagsConfig is the stage configuration of the fan-out: a durable
// consumer on items.tagged (first copies only).
func NATSTagsConfig(subj pipeline.Subjects) pipeline.StageConfig {
	return pipeline.StageConfig{
		Name:       "sink-nats-tags",
		Stream:     subj.StreamTagged(),
		Subjects:   []string{subj.Tagged()},
		DeadLetter: subj.DeadLetter("nats-tags"),
	}
}
