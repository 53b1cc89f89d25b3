package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamConfig sets the limits of the streams wirewatch creates.
type StreamConfig struct {
	// Replicas per stream: 1 for a single server, 3 on a 3-node cluster.
	Replicas int
	// MaxAge bounds how long processed items stay in the output streams
	// (deduped, tagged, tag subjects, stories). Default 7 days.
	MaxAge time.Duration
	// MaxBytes bounds each stream's size; 0 means no per-stream bound
	// (the server's JetStream storage limit still applies).
	MaxBytes int64
	// StoreBudget, when > 0, is all the storage the server gives
	// JetStream (the embedded server's max_store). Each output stream
	// (deduped, stories, tagged, tag subjects, dead letters) then gets a
	// share of it as its MaxBytes (shareTags and the others), and drops its oldest
	// messages when that is used up, as it does at MaxAge. Without it the
	// output streams, the tag subjects above all (one full item per tag
	// and entity), fill the server within MaxAge at a few thousand items
	// a day, and a full server refuses every write: the parsed queue, the
	// dedup log, the poller's feed state and leases. The rest of the
	// budget is left to the parsed queue and the KV buckets.
	StoreBudget int64
	// DuplicateWindow is how long the server remembers Nats-Msg-Ids.
	// Default 24h, so a crash-redelivered item is dropped even after a
	// long outage.
	DuplicateWindow time.Duration
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxAge == 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = -1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 24 * time.Hour
	}
	return c
}

// Shares of StreamConfig.StoreBudget, in percent, the output streams may
// hold: the tag subjects carry the whole item once per tag and entity (10
// to 40 times an item), the others about once. The 20% left is for the
// parsed work queue and the KV buckets (dedup log, feed state, leases).
const (
	shareTags, shareTagged, shareDeduped, shareStories, shareDLQ = 40, 20, 10, 5, 5
)

// Streams returns the configuration of every stream of the deployment.
func Streams(subj Subjects, cfg StreamConfig) []jetstream.StreamConfig {
	cfg = cfg.withDefaults()
	// share is the stream's part of cfg.StoreBudget in percent, 0 for none.
	mk := func(name, desc string, subjects []string, retention jetstream.RetentionPolicy, share int64) jetstream.StreamConfig {
		maxBytes := cfg.MaxBytes
		if b := cfg.StoreBudget / 100 * share; b > 0 && (maxBytes < 0 || b < maxBytes) {
			maxBytes = b
		}
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Retention:   retention,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			MaxAge:      cfg.MaxAge,
			MaxBytes:    maxBytes,
			Discard:     jetstream.DiscardOld,
			// The server refuses a window longer than the stream keeps
			// its messages (nats.retention under 24h).
			Duplicates: min(cfg.DuplicateWindow, cfg.MaxAge),
		}
	}
	parsed := mk(subj.StreamParsed(), "wirewatch: parsed items waiting for dedup",
		[]string{subj.AllParsed()}, jetstream.WorkQueuePolicy, 0)
	// A work queue must not silently drop unprocessed items when full.
	parsed.Discard = jetstream.DiscardNew
	return []jetstream.StreamConfig{
		parsed,
		mk(subj.StreamDeduped(), "wirewatch: items after dedup (first copies and copies)",
			[]string{subj.AllUnique(), subj.AllDuplicates()}, jetstream.LimitsPolicy, shareDeduped),
		mk(subj.StreamStories(), "wirewatch: story events",
			[]string{subj.AllStories()}, jetstream.LimitsPolicy, shareStories),
		mk(subj.StreamTagged(), "wirewatch: tagged items (full items, for sinks)",
			[]string{subj.Tagged(), subj.TaggedDuplicate()}, jetstream.LimitsPolicy, shareTagged),
		mk(subj.StreamTags(), "wirewatch: one message per tag and entity, for subscribers",
			[]string{subj.AllTags(), subj.AllEntities()}, jetstream.LimitsPolicy, shareTags),
		mk(subj.StreamDLQ(), "wirewatch: dead letters of stages and sinks",
			[]string{subj.AllDeadLetters()}, jetstream.LimitsPolicy, shareDLQ),
	}
}

// Setup creates or updates every stream of the deployment. It is
// idempotent and safe to run from several processes at once.
func Setup(ctx context.Context, js jetstream.JetStream, subj Subjects, cfg StreamConfig) error {
	// The bounded streams go first: when max_store was lowered they
	// shrink, and free the room the others need.
	streams := Streams(subj, cfg)
	slices.SortStableFunc(streams, func(a, b jetstream.StreamConfig) int {
		return cmp.Compare(boundedFirst(a), boundedFirst(b))
	})
	for _, sc := range streams {
		if err := checkOwner(ctx, js, subj, sc.Name); err != nil {
			return err
		}
		err := Retry(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, sc)
			return err
		})
		if isStorageExceeded(err) {
			return fmt.Errorf("create stream %s: %w (the streams reserve more than JetStream's storage limit, "+
				"the embedded server's nats.max_store: raise it, or delete streams no longer used)", sc.Name, err)
		}
		if err != nil {
			return fmt.Errorf("create stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// checkOwner refuses to take over a stream that another deployment made:
// prefixes differing only in '.', '-' and '_' (a-b, a_b, a.b) give the
// same stream names, and updating the stream would move the other
// deployment's subjects (and share its consumers).
func checkOwner(ctx context.Context, js jetstream.JetStream, subj Subjects, name string) error {
	var info *jetstream.StreamInfo
	err := Retry(ctx, func(ctx context.Context) error {
		s, err := js.Stream(ctx, name)
		if err == nil {
			info = s.CachedInfo()
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	if info == nil {
		return nil
	}
	for _, s := range info.Config.Subjects {
		if strings.HasPrefix(s, subj.Prefix()) {
			return nil
		}
	}
	return fmt.Errorf("stream %s holds %s, not subjects of prefix %q: another deployment's prefix gives the same stream names "+
		"(prefixes that differ only in '.', '-' and '_' do); choose another prefix", name, strings.Join(info.Config.Subjects, ", "), subj.Prefix())
}

// boundedFirst orders the streams with a MaxBytes before the others.
func boundedFirst(sc jetstream.StreamConfig) int {
	if sc.MaxBytes > 0 {
		return 0
	}
	return 1
}

// isStorageExceeded reports the server's "insufficient storage resources
// available" (JSStorageResourcesExceededErr).
func isStorageExceeded(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeStorageResourcesExceeded
}

// jsErrCodeStorageResourcesExceeded is nats-server's
// JSStorageResourcesExceededErr.
const jsErrCodeStorageResourcesExceeded jetstream.ErrorCode = 10047

// Retry runs a JetStream API call until it succeeds, fails for a reason
// other than a timeout or a cluster in transition, or ctx ends (at most
// about a minute). On a cluster, two processes creating the same stream
// or bucket at once can leave one request unanswered; the call is
// idempotent, so asking again is the cure.
func Retry(ctx context.Context, call func(ctx context.Context) error) error {
	// A create answers in tens of milliseconds (about 70 ms for three
	// replicas on a local cluster); an unanswered one is retried soon, with
	// a longer wait each time for slow clusters (250 ms, 500 ms, 1 s, … 10 s).
	// Two daemons starting together on a cluster lose about 18 requests
	// this way: a 1 s first wait cost them 9 s of startup.
	delay, wait := 100*time.Millisecond, 250*time.Millisecond
	deadline := time.Now().Add(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, wait)
		err := call(cctx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		sleep(ctx, delay)
		delay, wait = min(2*delay, 2*time.Second), min(2*wait, 10*time.Second)
	}
}

// Transient reports errors that asking again may cure: timeouts, no
// responders, JetStream temporarily unavailable (a leader election after
// a node failed).
func Transient(err error) bool { return transient(err) }

// transient reports errors that asking again may cure.
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503 JetStream temporarily unavailable, 500 cluster busy
		// (e.g. "insufficient resources" while peers join).
		return apiErr.Code == 503 || apiErr.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabled ||
			strings.Contains(apiErr.Description, "temporarily unavailable")
	}
	return false
}
