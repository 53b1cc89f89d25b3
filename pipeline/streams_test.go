package pipeline

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestStoreBudgetKeepsServerWritable fills the tag subjects with twice
// the embedded server's max_store, as weeks of tag fan-out do (one full
// item per tag and entity): the tag stream must drop its oldest messages
// at its share, and the server must still take the parsed queue's and the
// KV buckets' writes. Without per-stream limits the server filled up, and
// a full server refuses every write: the pipeline stopped.
func TestStoreBudgetKeepsServerWritable(t *testing.T) {
	const budget = 8 << 20
	_, js := startJSConfig(t, ServerConfig{DataDir: t.TempDir(), MaxStore: budget})
	subj := MustSubjects("")
	if err := Setup(t.Context(), js, subj, StreamConfig{StoreBudget: budget}); err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: subj.Bucket("feeds"), Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	item := bytes.Repeat([]byte("x"), 8<<10)
	for i := range 2 * budget / len(item) {
		if _, err := js.Publish(t.Context(), subj.TagSubject(fmt.Sprintf("tag%d", i%40)), item); err != nil {
			t.Fatalf("tag message %d (%d MiB published): %v", i, i*len(item)>>20, err)
		}
	}
	if _, err := js.Publish(t.Context(), subj.Parsed("feed"), item); err != nil {
		t.Errorf("parsed queue refuses an item with the tag stream full: %v", err)
	}
	if _, err := kv.Put(t.Context(), "feed", item); err != nil {
		t.Errorf("KV refuses a write with the tag stream full: %v", err)
	}
	st, err := js.Stream(t.Context(), subj.StreamTags())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if limit := uint64(budget / 100 * shareTags); info.State.Bytes > limit {
		t.Errorf("tag stream holds %d bytes, want at most its share %d", info.State.Bytes, limit)
	}
	t.Logf("tag stream: %d messages, %d bytes (limit %d)", info.State.Msgs, info.State.Bytes, info.Config.MaxBytes)
}

// TestStreamsStoreBudget checks the shares: output streams within the
// budget, the parsed work queue unbounded, no budget no limit, and an
// explicit smaller MaxBytes kept.
func TestStreamsStoreBudget(t *testing.T) {
	subj := MustSubjects("")
	var sum int64
	for _, sc := range Streams(subj, StreamConfig{StoreBudget: 1 << 30}) {
		if sc.Name == subj.StreamParsed() {
			if sc.MaxBytes != -1 {
				t.Errorf("%s: MaxBytes %d, want -1", sc.Name, sc.MaxBytes)
			}
			continue
		}
		if sc.MaxBytes <= 0 || sc.Discard != jetstream.DiscardOld {
			t.Errorf("%s: MaxBytes %d, discard %v, want a share and DiscardOld", sc.Name, sc.MaxBytes, sc.Discard)
		}
		sum += sc.MaxBytes
	}
	if sum > (1<<30)*8/10 {
		t.Errorf("output streams may hold %d bytes of a budget of %d, want at most 80%%", sum, 1<<30)
	}
	for _, sc := range Streams(subj, StreamConfig{}) {
		if sc.MaxBytes != -1 {
			t.Errorf("no budget: %s MaxBytes %d, want -1", sc.Name, sc.MaxBytes)
		}
	}
	for _, sc := range Streams(subj, StreamConfig{StoreBudget: 1 << 30, MaxBytes: 1 << 20}) {
		if sc.MaxBytes != 1<<20 {
			t.Errorf("MaxBytes 1 MiB: %s MaxBytes %d", sc.Name, sc.MaxBytes)
		}
	}
}

// TestShortRetention: streams that keep items less than the 24h duplicate
// window (nats.retention 1h) are created, with the window cut to the
// retention; the server refuses a longer one.
func TestShortRetention(t *testing.T) {
	_, js := startJS(t, t.TempDir())
	subj := MustSubjects("")
	if err := Setup(t.Context(), js, subj, StreamConfig{MaxAge: time.Hour}); err != nil {
		t.Fatalf("Setup with MaxAge 1h: %v", err)
	}
	for _, sc := range Streams(subj, StreamConfig{MaxAge: time.Hour}) {
		s, err := js.Stream(t.Context(), sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		if d := s.CachedInfo().Config.Duplicates; d != time.Hour {
			t.Errorf("%s: duplicate window %s, want 1h", sc.Name, d)
		}
	}
}

// TestPrefixesFoldingTogether: two deployments whose prefixes give the same
// stream names (a-b, a_b) on one server: the second is refused, and the
// first one's streams keep their subjects.
func TestPrefixesFoldingTogether(t *testing.T) {
	_, js := startJS(t, t.TempDir())
	first, second := MustSubjects("a-b."), MustSubjects("a_b.")
	if first.StreamParsed() != second.StreamParsed() {
		t.Fatalf("stream names %s and %s differ: the case this test is about is gone", first.StreamParsed(), second.StreamParsed())
	}
	if err := Setup(t.Context(), js, first, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := Setup(t.Context(), js, first, StreamConfig{}); err != nil {
		t.Fatalf("Setup again with the same prefix: %v", err)
	}
	err := Setup(t.Context(), js, second, StreamConfig{})
	if err == nil || !strings.Contains(err.Error(), "another deployment's prefix") {
		t.Fatalf("Setup with a prefix folding to the same names = %v, want a refusal", err)
	}
	s, err := js.Stream(t.Context(), first.StreamParsed())
	if err != nil {
		t.Fatal(err)
	}
	if subs := s.CachedInfo().Config.Subjects; len(subs) == 0 || !strings.HasPrefix(subs[0], "a-b.") {
		t.Errorf("first deployment's stream now holds %v", subs)
	}
}
