package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerRef names one durable consumer of a stream.
type ConsumerRef struct{ Stream, Consumer string }

// WaitIdle blocks until every listed consumer has nothing pending and
// nothing unacknowledged, checked in order, in one pass after another
// until a full pass finds all idle. List consumers upstream first: since a
// stage acks only after publishing its outputs, an idle pass over the
// chain means every item published before the call has gone all the way
// through. A consumer that does not exist yet counts as busy. Two passes
// in a row, poll apart, must find all idle: a test once saw a consumer
// reported idle while its stage was still creating it, with six messages
// in the stream (not reproduced since); a second look costs one poll.
func WaitIdle(ctx context.Context, js jetstream.JetStream, refs []ConsumerRef, poll time.Duration) error {
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	idlePasses := 0
	for {
		busy := ""
		for _, r := range refs {
			c, err := js.Consumer(ctx, r.Stream, r.Consumer)
			if err != nil {
				if errors.Is(err, jetstream.ErrConsumerNotFound) {
					busy = r.Consumer
					break
				}
				return fmt.Errorf("wait idle: consumer %s: %w", r.Consumer, err)
			}
			info, err := c.Info(ctx)
			if err != nil {
				return fmt.Errorf("wait idle: consumer %s: %w", r.Consumer, err)
			}
			if info.NumPending > 0 || info.NumAckPending > 0 || info.NumRedelivered > 0 {
				busy = r.Consumer
				break
			}
		}
		if busy == "" {
			if idlePasses++; idlePasses >= 2 {
				return nil
			}
		} else {
			idlePasses = 0
		}
		select {
		case <-ctx.Done():
			if busy == "" {
				return fmt.Errorf("wait idle: before a second idle pass: %w", ctx.Err())
			}
			return fmt.Errorf("wait idle: %s still busy: %w", busy, ctx.Err())
		case <-time.After(poll):
		}
	}
}
