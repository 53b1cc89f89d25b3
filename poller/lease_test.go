package poller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

// TestLeaseTakeOverAfterCrash crashes a poller while it holds its feeds'
// leases (taken, never released, the server stopped under them) and starts
// another on the same data dir with a lease TTL of 2 minutes. A poller with
// the data dir's identity (the crashed one's successor) polls those feeds
// at once; one with another identity, or none (a process that does not
// hold the data dir, as with --nats-url), leaves them to the TTL.
func TestLeaseTakeOverAfterCrash(t *testing.T) {
	const ttl = 2 * time.Minute
	tests := []struct {
		name     string
		identity func(dataDir string) string // the new poller's, from the data dir's
		want     bool                        // feeds polled within the test
	}{
		{"same data dir: taken over at once", func(id string) string { return id }, true},
		{"another identity waits", func(string) string { return "0123456789abcdef0123456789abcdef" }, false},
		{"no identity waits", func(string) string { return "" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log fetchLog
			web := httptest.NewServer(http.HandlerFunc(log.handler))
			defer web.Close()
			feeds := []Feed{{Name: "a", URL: web.URL + "/a"}, {Name: "b", URL: web.URL + "/b"}}
			cfg := localConfig(t, web)
			cfg.LeaseTTL = ttl
			dir := t.TempDir()

			// The crashed run: its poller's instance name holds both leases.
			ns := startNATS(t, dir)
			id := ns.Identity()
			if id == "" {
				t.Fatal("the embedded server has no data dir identity")
			}
			store, nc, _ := openKV(t, ns, ttl)
			old := cfg
			old.Identity = id
			dead := mustNew(t, old, feeds, newRecorder(), store)
			for _, f := range feeds {
				if _, ok, err := store.Acquire(t.Context(), f.Name, dead.cfg.Instance); err != nil || !ok {
					t.Fatalf("Acquire(%s) = %v, %v", f.Name, ok, err)
				}
			}
			nc.Close()
			ns.Shutdown()

			ns = startNATS(t, dir)
			defer ns.Shutdown()
			if ns.Identity() != id {
				t.Fatalf("identity after restart = %q, want %q", ns.Identity(), id)
			}
			store, _, js := openKV(t, ns, ttl)
			cfg.Identity = tt.identity(id)
			p := mustNew(t, cfg, feeds, newRecorder(), store)
			if p.cfg.Instance == dead.cfg.Instance {
				t.Fatalf("the new poller has the crashed one's instance name %q", p.cfg.Instance)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			polled := func() bool {
				a, _ := log.times("/a")
				b, _ := log.times("/b")
				return len(a) > 0 && len(b) > 0
			}
			// At once is well within 5s; a wait for the lease is 2m.
			deadline := time.Now().Add(5 * time.Second)
			if !tt.want {
				deadline = time.Now().Add(1500 * time.Millisecond)
			}
			for !polled() && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			a, _ := log.times("/a")
			b, _ := log.times("/b")
			if got := len(a) > 0 && len(b) > 0; got != tt.want || !tt.want && (len(a) > 0 || len(b) > 0) {
				t.Errorf("identity %q after a crash under %q: polled a %d, b %d times; want polled = %v",
					cfg.Identity, id, len(a), len(b), tt.want)
			}
			if !tt.want {
				// The crashed run's leases still stand, untouched.
				kv, err := js.KeyValue(t.Context(), pipeline.MustSubjects("").Bucket("leases"))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range feeds {
					e, err := kv.Get(t.Context(), stateKey(f.Name))
					if err != nil || string(e.Value()) != dead.cfg.Instance {
						t.Errorf("lease %s after the wait: %v, %v; want held by %s", f.Name, entryValue(e), err, dead.cfg.Instance)
					}
				}
			}
		})
	}
}

func entryValue(e jetstream.KeyValueEntry) string {
	if e == nil {
		return "<none>"
	}
	return string(e.Value())
}

// TestInstanceNames checks that an Identity prefixes the instance name,
// that two pollers of one identity still get different names, and that an
// identity with "/" (which would make its prefix another's) is refused.
func TestInstanceNames(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Identity = "abc"
	p1 := mustNew(t, cfg, nil, newRecorder(), nil)
	p2 := mustNew(t, cfg, nil, newRecorder(), nil)
	if !strings.HasPrefix(p1.cfg.Instance, "abc/") || p1.cfg.Instance == p2.cfg.Instance {
		t.Errorf("instances %q and %q: want both prefixed abc/ and different", p1.cfg.Instance, p2.cfg.Instance)
	}
	cfg.Identity = "a/b"
	if _, err := New(cfg, nil, newRecorder(), nil, testLog(t)); err == nil || !strings.Contains(err.Error(), "identity") {
		t.Errorf("New with identity %q: %v, want an error naming identity", cfg.Identity, err)
	}
}
