package pipeline

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher puts freshly parsed items on items.parsed.<feed>, the input of
// the dedup stage. Safe for concurrent use.
type Publisher struct {
	js   jetstream.JetStream
	subj Subjects
}

// NewPublisher returns a Publisher writing through js.
func NewPublisher(js jetstream.JetStream, subj Subjects) *Publisher {
	return &Publisher{js: js, subj: subj}
}

// Publish publishes items with Nats-Msg-Id = item version, so a re-polled
// unchanged item inside the duplicate window is dropped by the server,
// and waits until the stream has stored all of them, in order. Each item
// goes to the subject of its own Feed (feed when the item names none).
func (p *Publisher) Publish(ctx context.Context, feed string, items []Item) error {
	futures := make([]jetstream.PubAckFuture, 0, len(items))
	for i := range items {
		data, err := items[i].Marshal()
		if err != nil {
			return fmt.Errorf("publish item %s: %w", items[i].ID, err)
		}
		name := items[i].Feed
		if name == "" {
			name = feed
		}
		m := &nats.Msg{Subject: p.subj.Parsed(name), Data: data}
		f, err := p.js.PublishMsgAsync(m, jetstream.WithMsgID(items[i].Version()))
		if err != nil {
			return fmt.Errorf("publish item %s: %w", items[i].ID, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish item %s: %w", items[i].ID, err)
		case <-ctx.Done():
			return fmt.Errorf("publish item %s: %w", items[i].ID, ctx.Err())
		}
	}
	return nil
}
