package dedup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Dedup is the dedup stage's pipeline.Handler. Every decision is written
// to the dedup KV bucket as one record with a compare-and-set on the
// bucket's last sequence (Nats-Expected-Last-Sequence): a worker may only
// decide on a state that includes every decision written before. When
// another worker wrote in between, the write fails, the worker applies
// the records it missed and decides again. So any number of Dedup values,
// in one process or many, behave as one worker: exactly one first copy per
// group, no story split by a race. The bucket's TTL bounds the state, and
// a new Dedup replays it, so a restart loses nothing.
//
// Dedup is safe for concurrent use; decisions are serialised.
type Dedup struct {
	js     jetstream.JetStream
	subj   pipeline.Subjects
	cfg    Config
	log    *slog.Logger
	bucket string
	prefix string // KV subject prefix, "$KV.<bucket>."

	metrics *metrics

	mu      sync.Mutex
	eng     *Engine
	cons    jetstream.Consumer // ordered consumer over the bucket's stream
	applied uint64             // last stream sequence applied to eng
}

var _ pipeline.Handler = (*Dedup)(nil)

// New creates (or reuses) the dedup KV bucket subj.Bucket("dedup") and
// replays it into a fresh Engine. ctx bounds the setup only. The bucket's
// TTL is cfg.KeepIDs, so state lives as long as it can matter.
func New(ctx context.Context, js jetstream.JetStream, subj pipeline.Subjects, cfg Config, log *slog.Logger) (*Dedup, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &Dedup{
		js: js, subj: subj, cfg: cfg, log: log.With("stage", "dedup"),
		bucket: subj.Bucket("dedup"), eng: NewEngine(cfg), metrics: newMetrics(),
	}
	d.prefix = "$KV." + d.bucket + "."
	// Retried: processes starting together on a cluster race to create it.
	err := pipeline.Retry(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      d.bucket,
			Description: "wirewatch: dedup decisions (one record per item), replayed by every dedup worker",
			History:     1,
			TTL:         cfg.KeepIDs,
			Storage:     jetstream.FileStorage,
			Replicas:    max(cfg.Replicas, 1),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dedup: create bucket %s: %w", d.bucket, err)
	}
	err = pipeline.Retry(ctx, func(ctx context.Context) error {
		d.cons, err = js.OrderedConsumer(ctx, "KV_"+d.bucket, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{d.prefix + ">"},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
			// Every fetch recreates the consumer, and nats.go retries
			// that forever by default, deaf to any context: a stage
			// catching up while the cluster could not create it hung
			// its daemon's shutdown. Bounded, the fetch fails and the
			// caller's own retry, which does end with its context, takes
			// over.
			MaxResetAttempts: resetAttempts,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dedup: read bucket %s: %w", d.bucket, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	start := time.Now()
	// A worker starting while a node fails (the bucket's leader moving)
	// waits for the cluster rather than dying: catchUp resumes after the
	// last record it applied.
	for attempt, delay := 1, 250*time.Millisecond; ; attempt, delay = attempt+1, min(2*delay, 5*time.Second) {
		err := d.catchUp(ctx)
		if err == nil {
			break
		}
		if !pipeline.Transient(err) || ctx.Err() != nil || attempt >= maxStartAttempts {
			return nil, err
		}
		d.log.Warn("reading the decision log failed, retrying", "err", err, "attempt", attempt, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
	st := d.eng.Stats()
	d.log.Info("dedup state loaded", "bucket", d.bucket, "items", st.Items, "stories", st.Stories,
		"last_seq", d.applied, "took", time.Since(start).Round(time.Millisecond))
	return d, nil
}

// maxStartAttempts bounds how often New retries reading the decision log
// after a transient error (about two minutes of waiting).
const maxStartAttempts = 30

// resetAttempts bounds how often one fetch of the decision log tries to
// recreate its consumer: at most about 2 × 10 s (the client's request
// timeout) plus 1 s between them.
const resetAttempts = 2

// maxAttempts bounds how often Handle retries a decision that lost the
// compare-and-set to another worker before giving the message back.
const maxAttempts = 50

// Handle decides for one parsed item and returns the item with its dedup
// fields set, for items.unique.<feed> or items.duplicate.<feed>, plus a
// story event when the item created, grew or merged a story. A re-poll
// returns nothing; a redelivery returns the same outputs as the first
// delivery, and so does a replayed dead letter (pipeline.Replayed), however
// late.
func (d *Dedup) Handle(ctx context.Context, it *pipeline.Item) ([]pipeline.Output, error) {
	f := extract(it, &d.cfg)
	log := d.log.With("item", it.ID, "feed", it.Feed)
	d.mu.Lock()
	defer d.mu.Unlock()
	for attempt := 1; ; attempt++ {
		dec := d.eng.Decide(it, &f)
		if dec.Drop && pipeline.Replayed(ctx) {
			// A dead letter sent back by 'wirewatch dlq replay', later
			// than the redelivery window: its decision was recorded, but
			// its outputs were not stored (that is why it was given up
			// on). Publish them again rather than take it for a re-poll.
			dec, _ = d.eng.Recorded(it)
		}
		if dec.Drop {
			log.Debug("same version again, dropped")
			d.metrics.observe(&dec)
			return nil, nil
		}
		if dec.Replay {
			log.Debug("redelivered, same outputs again")
			d.metrics.observe(&dec)
			return d.outputs(it, &dec)
		}
		rec := newRecord(it, &f, &dec, d.cfg.Now())
		data, err := json.Marshal(rec)
		if err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("dedup: encode record of %s: %w", it.ID, err))
		}
		msg := &nats.Msg{Subject: d.prefix + "it." + pipeline.Token(it.ID), Data: data}
		pctx, cancel := context.WithTimeout(ctx, pipeline.PublishTimeout)
		ack, err := d.js.PublishMsg(pctx, msg, jetstream.WithExpectLastSequence(d.applied))
		cancel()
		if err == nil {
			d.eng.Apply(rec)
			d.applied = ack.Sequence
			d.metrics.observe(&dec)
			log.Debug("decided", "story", dec.StoryID, "event", dec.Event, "duplicate_of", dec.DuplicateOf,
				"dup_kind", dec.DupKind, "update", dec.Update, "score", dec.Score)
			return d.outputs(it, &dec)
		}
		last, conflict := wrongLastSeq(err)
		if !conflict {
			return nil, fmt.Errorf("dedup: record decision of %s: %w", it.ID, err)
		}
		d.metrics.races.Inc()
		if attempt >= maxAttempts {
			return nil, fmt.Errorf("dedup: record decision of %s: lost %d races in a row: %w", it.ID, attempt, err)
		}
		if err := d.catchUp(ctx); err != nil {
			return nil, err
		}
		// Every record up to last that still exists is applied now; the
		// rest expired, so last is a sound base for the next attempt.
		d.applied = max(d.applied, last)
	}
}

// wrongLastSeq reports whether err is JetStream's "wrong last sequence"
// and the stream's last sequence it names.
func wrongLastSeq(err error) (uint64, bool) {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
		return 0, false
	}
	var last uint64
	if _, err := fmt.Sscanf(apiErr.Description, "wrong last sequence: %d", &last); err != nil {
		return 0, true
	}
	return last, true
}

// catchUp applies every record written since the last one applied.
// d.mu must be held.
func (d *Dedup) catchUp(ctx context.Context) error {
	for ctx.Err() == nil {
		batch, err := d.cons.FetchNoWait(1024)
		if err != nil {
			return fmt.Errorf("dedup: read bucket %s: %w", d.bucket, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("dedup: read bucket %s: %w", d.bucket, err)
			}
			seq := md.Sequence.Stream
			if seq <= d.applied {
				continue // our own write, applied when it was made
			}
			if op := msg.Headers().Get("KV-Operation"); op == "" {
				var rec Record
				if err := json.Unmarshal(msg.Data(), &rec); err != nil || rec.ID == "" || rec.Story == "" {
					d.log.Warn("skipping unreadable dedup record", "seq", seq, "subject", msg.Subject(), "err", err)
				} else {
					d.eng.Apply(&rec)
				}
			}
			d.applied = seq
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("dedup: read bucket %s: %w", d.bucket, err)
		}
		if n == 0 {
			return nil
		}
	}
	return ctx.Err()
}

// StoryEvent is the JSON message on stories.<story_id>.
type StoryEvent struct {
	// Event is "created", "grew" or "merged".
	Event   string `json:"event"`
	StoryID string `json:"story_id"`
	// Size is the number of items in the story after this one.
	Size int `json:"size"`
	// The item that caused the event.
	ItemID      string    `json:"item_id"`
	Feed        string    `json:"feed"`
	Title       string    `json:"title"`
	URL         string    `json:"url,omitempty"`
	Time        time.Time `json:"time"`
	DuplicateOf string    `json:"duplicate_of,omitempty"`
	DupKind     string    `json:"dup_kind,omitempty"`
	// Merged lists the stories merged into StoryID (event "merged"); their
	// followers get the same event on their own subject.
	Merged []string `json:"merged,omitempty"`
	// FirstItem and FirstFeed name the story's earliest item by published
	// time: which outlet had the story first.
	FirstItem string `json:"first_item,omitempty"`
	FirstFeed string `json:"first_feed,omitempty"`
}

// outputs builds the messages for it under decision dec.
func (d *Dedup) outputs(it *pipeline.Item, dec *Decision) ([]pipeline.Output, error) {
	out := *it
	out.DuplicateOf, out.DupKind, out.StoryID, out.Update = dec.DuplicateOf, dec.DupKind, dec.StoryID, dec.Update
	data, err := out.Marshal()
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("dedup: encode item %s: %w", it.ID, err))
	}
	subject := d.subj.Unique(it.Feed)
	if dec.DuplicateOf != "" {
		subject = d.subj.Duplicate(it.Feed)
	}
	outs := []pipeline.Output{{Subject: subject, MsgID: "dedup." + it.Version(), Data: data}}
	if dec.Event == "" {
		return outs, nil
	}
	ev := StoryEvent{
		Event: dec.Event, StoryID: dec.StoryID, Size: dec.Size, ItemID: it.ID, Feed: it.Feed, Title: it.Title,
		URL: it.URL, Time: it.Time(), DuplicateOf: dec.DuplicateOf, DupKind: dec.DupKind, Merged: dec.Merged,
		FirstItem: dec.FirstID, FirstFeed: dec.FirstFeed,
	}
	evData, err := json.Marshal(ev)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("dedup: encode story event of %s: %w", it.ID, err))
	}
	for _, sid := range append([]string{dec.StoryID}, dec.Merged...) {
		outs = append(outs, pipeline.Output{
			Subject: d.subj.Story(sid), MsgID: "story." + sid + "." + it.Version(), Data: evData,
		})
	}
	return outs, nil
}

// Stats returns the size of the state held in memory.
func (d *Dedup) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.eng.Stats()
}
