package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/dedup"
	"github.com/wirewatch/wirewatch/pipeline/tag"
)

// newDedup builds the dedup stage handler. Story grouping also weighs the
// entities the tagger finds, so the dedup stage runs the tagger's matcher
// on a copy of the item (tagging proper happens in the next stage).
func newDedup(ctx context.Context, js jetstream.JetStream, subj pipeline.Subjects, o stageOptions, t *tag.Tagger, log *slog.Logger) (*dedup.Dedup, error) {
	cfg := o.dedup
	cfg.Entities = func(it *pipeline.Item) []string {
		c := pipeline.Item{Title: it.Title, Text: it.Text}
		t.Tag(&c)
		ids := make([]string, 0, len(c.Entities))
		for _, e := range c.Entities {
			ids = append(ids, e.Kind+":"+e.ID)
		}
		return ids
	}
	return dedup.New(ctx, js, subj, cfg, log)
}
