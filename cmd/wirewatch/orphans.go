package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

// warnOrphanSinks logs one Warn for each sink consumer on the tagged
// stream that no configured sink uses: a sink removed from the config, or
// renamed. Its durable consumer stays on the stream and keeps counting
// what it has not taken, so a sink configured again under that name gets
// everything published meanwhile (and dead letters replayed to it wait
// there). wirewatch never deletes it: the operator says whether the sink
// is gone for good. With several processes whose configs differ, each
// warns about the others' sinks. Errors are logged, not returned: this is
// advice, not a reason to stop.
func warnOrphanSinks(ctx context.Context, js jetstream.JetStream, subj pipeline.Subjects, used []pipeline.ConsumerRef, log *slog.Logger) {
	stream := subj.StreamTagged()
	inUse := map[string]bool{}
	for _, r := range used {
		if r.Stream == stream {
			inUse[r.Consumer] = true
		}
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		log.Debug("listing sink consumers", "stream", stream, "err", err)
		return
	}
	lister := st.ListConsumers(ctx)
	for info := range lister.Info() {
		name := info.Name
		if !strings.HasPrefix(name, "sink-") || inUse[name] {
			continue
		}
		log.Warn("a sink consumer has no sink in the config", "consumer", name, "stream", stream,
			"pending", info.NumPending, "unacked", info.NumAckPending,
			"hint", fmt.Sprintf("configure the sink again to receive what it missed, or delete the consumer if the sink is gone for good: wirewatch sinks rm %s", strings.TrimPrefix(name, "sink-")))
	}
	if err := lister.Err(); err != nil {
		log.Debug("listing sink consumers", "stream", stream, "err", err)
	}
}
