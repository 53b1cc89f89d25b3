//go:build unix

package pipeline

import (
	"os"
	"path/filepath"
	"testing"
)

// TestServerIdentity checks that a data dir keeps its identity across
// restarts of the server that locks it, and that anything else (another
// data dir, a copy of the identity file in another place, a damaged file)
// gets an identity of its own.
func TestServerIdentity(t *testing.T) {
	start := func(t *testing.T, dir string) string {
		t.Helper()
		srv, err := StartServer(t.Context(), ServerConfig{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		if id := srv.Identity(); !validID(id) {
			t.Fatalf("Identity() = %q, want 32 hex digits", id)
		}
		return srv.Identity()
	}
	first := t.TempDir()
	id := start(t, first)
	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the data dir to start on
		same  bool                      // want id
	}{
		{"restart on the same data dir", func(*testing.T) string { return first }, true},
		{"another data dir", func(t *testing.T) string { return t.TempDir() }, false},
		{"identity file copied to another data dir", func(t *testing.T) string {
			dir := t.TempDir()
			copyFile(t, filepath.Join(first, identityFile), filepath.Join(dir, identityFile))
			return dir
		}, false},
		{"damaged identity file", func(t *testing.T) string {
			dir := t.TempDir()
			copyFile(t, filepath.Join(first, identityFile), filepath.Join(dir, identityFile))
			if err := os.WriteFile(filepath.Join(dir, identityFile), []byte(`{"id": "x"`), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			got := start(t, dir)
			if (got == id) != tt.same {
				t.Errorf("Identity() on %s = %q, first data dir's %q: want same = %v", dir, got, id, tt.same)
			}
			// And it keeps the one it got.
			if again := start(t, dir); again != got {
				t.Errorf("Identity() after a restart = %q, want %q", again, got)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
