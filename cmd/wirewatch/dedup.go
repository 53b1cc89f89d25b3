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
// entities the tagger finds, so the dedup stage runs the current tagger's
// matcher on a copy of the item (tagging proper happens in the next stage).
func newDedup(ctx context.Context, js jetstream.JetStream, subj pipeline.Subjects, o stageOptions, ts *pipeline.TagStage, log *slog.Logger) (*dedup.Dedup, error) {
	cfg := o.dedup
	cfg.Entities = func(it *pipeline.Item) []string {
		if t, ok := ts.Tagger().(*tag.Tagger); ok {
			return t.EntityIDs(it)
		}
		return nil
	}
	return dedup.New(ctx, js, subj, cfg, log)
}
