package poller

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

// FeedState is what the poller remembers about one feed between polls and
// across restarts. It is stored as JSON in the feeds KV bucket.
type FeedState struct {
	Name string `json:"name"`
	// URL is where the feed is fetched now: the configured URL, or where a
	// permanent redirect (301/308) moved it.
	URL string `json:"url"`
	// ConfiguredURL is the URL from the config when URL was set; a new
	// configured URL resets URL (and a gone feed).
	ConfiguredURL string `json:"configured_url"`

	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	BodyHash     string `json:"body_hash,omitempty"`

	NextDue  time.Time     `json:"next_due"`
	Interval time.Duration `json:"interval,omitempty"`
	// FeedTTL and FeedUpdatePeriod are the document's own hints (RSS ttl,
	// sy:updatePeriod) from the last parse, kept for 304 and unchanged polls.
	FeedTTL          time.Duration `json:"feed_ttl,omitempty"`
	FeedUpdatePeriod time.Duration `json:"feed_update_period,omitempty"`
	// HeaderHint is the longer of Cache-Control max-age and Expires from
	// the last successful response.
	HeaderHint time.Duration `json:"header_hint,omitempty"`

	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastChange  time.Time `json:"last_change,omitzero"`
	LastStatus  int       `json:"last_status,omitempty"`
	// Errors counts consecutive failures; zero after a success.
	Errors       int       `json:"errors,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	// HeldUntil is set while the feed's host asked (Retry-After) to wait.
	HeldUntil time.Time `json:"held_until,omitzero"`
	// Gone is set by 410 Gone: the feed is no longer polled until its
	// configured URL changes.
	Gone bool `json:"gone,omitempty"`

	// Seen holds a short key of each item version of the last document
	// published (at most maxSeen): an item the next document still
	// carries unchanged is not published again, however long it stays.
	Seen []string `json:"seen,omitempty"`

	Fetches     uint64 `json:"fetches,omitempty"`
	NotModified uint64 `json:"not_modified,omitempty"`
	Unchanged   uint64 `json:"unchanged,omitempty"`
	Changed     uint64 `json:"changed,omitempty"`
	Failures    uint64 `json:"failures,omitempty"`
	Items       uint64 `json:"items,omitempty"`
}

// Feed health as reported by FeedState.Status.
const (
	StatusNew        = "new"
	StatusOK         = "ok"
	StatusBackingOff = "backing off"
	StatusHeld       = "held" // host asked to wait (429/503 Retry-After)
	StatusGone       = "gone"
)

// Status is the feed's health: new, ok, backing off, held or gone.
func (s FeedState) Status(now time.Time) string {
	switch {
	case s.Gone:
		return StatusGone
	case s.Errors > 0:
		return StatusBackingOff
	case now.Before(s.HeldUntil):
		return StatusHeld
	case s.LastSuccess.IsZero():
		return StatusNew
	}
	return StatusOK
}

// stateKey is the KV key of a feed: its subject token, which is a valid
// key and readable in `nats kv ls`.
func stateKey(name string) string { return pipeline.Token(name) }

// Store keeps feed state and the leases that make several instances fetch
// each due feed once. Implementations are safe for concurrent use.
type Store interface {
	// Load returns a feed's state; ok is false when none is stored.
	Load(ctx context.Context, name string) (st FeedState, ok bool, err error)
	// LoadAll returns every stored state.
	LoadAll(ctx context.Context) ([]FeedState, error)
	// Save stores a feed's state.
	Save(ctx context.Context, st FeedState) error
	// Acquire takes the feed's lease for this instance. ok is false when
	// another instance holds it. release gives it back early; an unreleased
	// lease expires on its own after the lease TTL.
	Acquire(ctx context.Context, name, instance string) (release func(), ok bool, err error)
}

// MemoryStore is a Store in memory, for one process that needs neither
// restarts nor other instances (tests, one-shot runs). Safe for
// concurrent use.
type MemoryStore struct {
	mu     sync.Mutex
	states map[string]FeedState
	leases map[string]string
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{states: map[string]FeedState{}, leases: map[string]string{}}
}

// Load implements Store.
func (m *MemoryStore) Load(_ context.Context, name string) (FeedState, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[stateKey(name)]
	return st, ok, nil
}

// LoadAll implements Store.
func (m *MemoryStore) LoadAll(context.Context) ([]FeedState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]FeedState, 0, len(m.states))
	for _, st := range m.states {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b FeedState) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Save implements Store.
func (m *MemoryStore) Save(_ context.Context, st FeedState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[stateKey(st.Name)] = st
	return nil
}

// Acquire implements Store; leases never expire in memory.
func (m *MemoryStore) Acquire(_ context.Context, name, instance string) (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := stateKey(name)
	if _, held := m.leases[k]; held {
		return nil, false, nil
	}
	m.leases[k] = instance
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.leases[k] == instance {
			delete(m.leases, k)
		}
	}, true, nil
}

// KVStore is a Store on two JetStream KV buckets: feed state (kept) and
// leases (entries expire after the lease TTL). Safe for concurrent use.
type KVStore struct {
	feeds  jetstream.KeyValue
	leases jetstream.KeyValue
	holds  jetstream.KeyValue // nil in a store opened for reading states only
	gaps   jetstream.KeyValue // next allowed start per host; nil like holds

	// strict is set with replicas > 1: reads may come from a lagging
	// replica (direct get), so a poll first claims the feed with a
	// compare-and-set on the revision it read.
	strict bool
	mu     sync.Mutex
	revs   map[string]uint64 // last revision read per key, for claims
}

// claimer is implemented by stores whose reads may be stale: Claim writes
// st only if the stored state is still the one last loaded, and reports
// false when another instance wrote in between.
type claimer interface {
	Claim(ctx context.Context, st FeedState) (bool, error)
}

// HoldSharer is implemented by stores that share Retry-After holds between
// instances, so that one instance's 429 keeps every instance off that host.
// KVStore implements it; MemoryStore has no one to share with.
type HoldSharer interface {
	// ShareHold tells every instance that host asked to wait until until.
	ShareHold(ctx context.Context, host string, until time.Time) error
	// WatchHolds calls fn for every hold shared so far, then ready, then
	// for each new hold, until ctx ends (nil) or the watch fails.
	WatchHolds(ctx context.Context, ready func(), fn func(host string, until time.Time)) error
}

var _ HoldSharer = (*KVStore)(nil)

// HostGapSharer is implemented by stores that space the requests of all
// instances to one host: the per-host gap then holds across processes, not
// only within each. KVStore implements it.
type HostGapSharer interface {
	// ReserveHost reserves the next start of a request to host: the later
	// of now and the previous reservation (by any instance) plus gap. It
	// returns the reserved start.
	ReserveHost(ctx context.Context, host string, now time.Time, gap time.Duration) (time.Time, error)
}

var _ HostGapSharer = (*KVStore)(nil)

// OpenStore creates (or updates) the buckets Bucket("feeds") and
// Bucket("leases") idempotently and returns a store on them. leaseTTL is
// Config.LeaseTTL (zero means the default). The buckets have one replica;
// see OpenStoreReplicas for a cluster.
func OpenStore(ctx context.Context, js jetstream.JetStream, subj pipeline.Subjects, leaseTTL time.Duration) (*KVStore, error) {
	return OpenStoreReplicas(ctx, js, subj, leaseTTL, 1)
}

// OpenStoreReplicas is OpenStore with the buckets replicated on replicas
// servers (3 on a three-node cluster).
func OpenStoreReplicas(ctx context.Context, js jetstream.JetStream, subj pipeline.Subjects, leaseTTL time.Duration, replicas int) (*KVStore, error) {
	if leaseTTL == 0 {
		leaseTTL = DefaultConfig().LeaseTTL
	}
	open := func(cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		var kv jetstream.KeyValue
		err := pipeline.Retry(ctx, func(ctx context.Context) error {
			var err error
			kv, err = js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("kv bucket %s: %w", cfg.Bucket, err)
		}
		return kv, nil
	}
	feeds, err := open(jetstream.KeyValueConfig{
		Bucket:      subj.Bucket("feeds"),
		Description: "wirewatch poller: feed state (validators, schedule, errors, counters)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, err
	}
	leases, err := open(jetstream.KeyValueConfig{
		Bucket:      subj.Bucket("leases"),
		Description: "wirewatch poller: who is fetching which feed",
		History:     1,
		TTL:         leaseTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, err
	}
	holds, err := open(jetstream.KeyValueConfig{
		Bucket:      subj.Bucket("holds"),
		Description: "wirewatch poller: hosts that asked to wait (Retry-After)",
		History:     1,
		TTL:         24 * time.Hour, // holds are capped far below; old ones go away
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, err
	}
	gaps, err := open(jetstream.KeyValueConfig{
		Bucket:      subj.Bucket("hostgaps"),
		Description: "wirewatch poller: when each host may get its next request (per-host gap across instances)",
		History:     1,
		TTL:         MaxPerHostGap, // a reservation matters for one gap; old ones go away
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, err
	}
	return &KVStore{feeds: feeds, leases: leases, holds: holds, gaps: gaps, strict: replicas > 1, revs: map[string]uint64{}}, nil
}

// ReserveHost implements HostGapSharer with a compare-and-set on the
// host's key: of two instances that read the same reservation, one writes
// the next and the other reads again.
func (s *KVStore) ReserveHost(ctx context.Context, host string, now time.Time, gap time.Duration) (time.Time, error) {
	if s.gaps == nil {
		return now, nil
	}
	key := pipeline.Token(host)
	for range 16 {
		var rev uint64
		start := now
		e, err := s.gaps.Get(ctx, key)
		switch {
		case err == nil:
			rev = e.Revision()
			if len(e.Value()) == 8 {
				if prev := time.UnixMilli(int64(binary.BigEndian.Uint64(e.Value()))); prev.After(start) {
					start = prev
				}
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return now, fmt.Errorf("reserve host %s: %w", host, err)
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(start.Add(gap).UnixMilli()))
		if rev == 0 {
			_, err = s.gaps.Create(ctx, key, b[:])
		} else {
			_, err = s.gaps.Update(ctx, key, b[:], rev)
		}
		if err == nil {
			return start, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return now, fmt.Errorf("reserve host %s: %w", host, err)
		}
		// Another instance reserved in between: read again.
	}
	return now, fmt.Errorf("reserve host %s: lost 16 compare-and-sets in a row", host)
}

// Claim implements claimer. With one replica reads are never stale and
// Claim writes nothing.
func (s *KVStore) Claim(ctx context.Context, st FeedState) (bool, error) {
	if !s.strict {
		return true, nil
	}
	k := stateKey(st.Name)
	s.mu.Lock()
	rev := s.revs[k]
	s.mu.Unlock()
	b, err := json.Marshal(st)
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", st.Name, err)
	}
	if rev == 0 {
		_, err = s.feeds.Create(ctx, k, b)
	} else {
		_, err = s.feeds.Update(ctx, k, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", st.Name, err)
	}
	return true, nil
}

type hold struct {
	Host  string    `json:"host"`
	Until time.Time `json:"until"`
}

// ShareHold implements HoldSharer.
func (s *KVStore) ShareHold(ctx context.Context, host string, until time.Time) error {
	b, _ := json.Marshal(hold{Host: host, Until: until.UTC()})
	if _, err := s.holds.Put(ctx, pipeline.Token(host), b); err != nil {
		return fmt.Errorf("share hold of %s: %w", host, err)
	}
	return nil
}

// WatchHolds implements HoldSharer.
func (s *KVStore) WatchHolds(ctx context.Context, ready func(), fn func(host string, until time.Time)) error {
	w, err := s.holds.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("watch holds: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("watch holds: watcher stopped")
			}
			if e == nil {
				if ready != nil {
					ready()
					ready = nil
				}
				continue
			}
			var h hold
			if json.Unmarshal(e.Value(), &h) == nil && h.Host != "" {
				fn(h.Host, h.Until)
			}
		}
	}
}

// Load implements Store.
func (s *KVStore) Load(ctx context.Context, name string) (FeedState, bool, error) {
	e, err := s.feeds.Get(ctx, stateKey(name))
	if s.revs != nil {
		s.mu.Lock()
		if err == nil {
			s.revs[stateKey(name)] = e.Revision()
		} else {
			delete(s.revs, stateKey(name))
		}
		s.mu.Unlock()
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return FeedState{}, false, nil
	}
	if err != nil {
		return FeedState{}, false, fmt.Errorf("load state %s: %w", name, err)
	}
	var st FeedState
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return FeedState{}, false, fmt.Errorf("load state %s: %w", name, err)
	}
	return st, true, nil
}

// LoadAll implements Store. Undecodable entries are skipped.
func (s *KVStore) LoadAll(ctx context.Context) ([]FeedState, error) {
	w, err := s.feeds.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("load states: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []FeedState
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				slices.SortFunc(out, func(a, b FeedState) int { return strings.Compare(a.Name, b.Name) })
				return out, nil
			}
			var st FeedState
			if json.Unmarshal(e.Value(), &st) == nil {
				out = append(out, st)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("load states: %w", ctx.Err())
		}
	}
}

// Save implements Store.
func (s *KVStore) Save(ctx context.Context, st FeedState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("save state %s: %w", st.Name, err)
	}
	if _, err := s.feeds.Put(ctx, stateKey(st.Name), b); err != nil {
		return fmt.Errorf("save state %s: %w", st.Name, err)
	}
	return nil
}

// Acquire implements Store with KV Create (compare-and-set on absence);
// the bucket's TTL expires a dead instance's lease.
func (s *KVStore) Acquire(ctx context.Context, name, instance string) (func(), bool, error) {
	release, ok, _, err := s.acquireOwn(ctx, name, instance, "")
	return release, ok, err
}

// acquireOwn is Acquire that also takes over a lease whose holder starts
// with own (when not ""), with a compare-and-set on the lease's revision;
// prev is the holder it took over from. The caller must be certain that
// no live instance holds a lease under own but itself.
func (s *KVStore) acquireOwn(ctx context.Context, name, instance, own string) (release func(), ok bool, prev string, err error) {
	k := stateKey(name)
	rev, err := s.leases.Create(ctx, k, []byte(instance))
	if errors.Is(err, jetstream.ErrKeyExists) && own != "" {
		rev, prev, err = s.takeOver(ctx, k, instance, own)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, false, "", nil
	}
	if err != nil {
		return nil, false, "", fmt.Errorf("lease %s: %w", name, err)
	}
	return func() {
		// Only our own revision: never delete a lease someone else took
		// after ours expired. A failure just leaves it to expire.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.leases.Delete(ctx, k, jetstream.LastRevision(rev))
	}, true, prev, nil
}

// takeOver replaces the lease k with instance when its holder starts with
// own. It returns jetstream.ErrKeyExists when another holds it, or wrote
// it in between.
func (s *KVStore) takeOver(ctx context.Context, k, instance, own string) (rev uint64, prev string, err error) {
	e, err := s.leases.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Released or expired since the create: create it again.
		rev, err = s.leases.Create(ctx, k, []byte(instance))
		return rev, "", err
	}
	if err != nil {
		return 0, "", err
	}
	prev = string(e.Value())
	if !strings.HasPrefix(prev, own) {
		return 0, "", jetstream.ErrKeyExists
	}
	rev, err = s.leases.Update(ctx, k, []byte(instance), e.Revision())
	return rev, prev, err
}

// States lists the stored state of every feed in the deployment's feeds
// bucket, sorted by name, for `wirewatch feeds list`. It does not create
// the bucket: no bucket means no feed was ever polled (an empty list).
func States(ctx context.Context, js jetstream.JetStream, subj pipeline.Subjects) ([]FeedState, error) {
	kv, err := js.KeyValue(ctx, subj.Bucket("feeds"))
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("feed states: %w", err)
	}
	return (&KVStore{feeds: kv}).LoadAll(ctx)
}
