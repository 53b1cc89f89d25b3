package pipeline

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestLowerMaxStore restarts the embedded server on the same data dir with
// a smaller max_store, as an operator lowering nats.max_store does. The
// server recovers the streams with their old, larger MaxBytes and then
// refused every stream create and update while their total exceeded the
// new max_store: Setup failed on the parsed queue and the daemon could not
// start. Setup must now succeed and give the streams their new shares.
func TestLowerMaxStore(t *testing.T) {
	dir := t.TempDir()
	subj := MustSubjects("")
	setup := func(budget int64) {
		t.Helper()
		srv, err := StartServer(t.Context(), ServerConfig{DataDir: dir, MaxStore: budget})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		nc, err := srv.Connect()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		cfg := StreamConfig{StoreBudget: budget}
		if err := Setup(t.Context(), js, subj, cfg); err != nil {
			t.Fatalf("max_store %d MiB: %v", budget>>20, err)
		}
		// The buckets are created after the streams and need some room too.
		if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: subj.Bucket("feeds"), Storage: jetstream.FileStorage}); err != nil {
			t.Fatalf("max_store %d MiB: bucket: %v", budget>>20, err)
		}
		for _, want := range Streams(subj, cfg) {
			st, err := js.Stream(t.Context(), want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.CachedInfo().Config.MaxBytes; got != want.MaxBytes {
				t.Errorf("max_store %d MiB: %s MaxBytes %d, want %d", budget>>20, want.Name, got, want.MaxBytes)
			}
		}
	}
	setup(64 << 20)
	setup(24 << 20)
	setup(2 << 20)
	setup(64 << 20)
}
