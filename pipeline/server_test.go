package pipeline

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestServerDataDirLocked checks that a second embedded server refuses a
// data dir in use (two servers on one JetStream store damage it), naming
// the dir and the owner, and that the dir is free again after Shutdown.
func TestServerDataDirLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats")
	first, err := StartServer(t.Context(), ServerConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartServer(t.Context(), ServerConfig{DataDir: dir})
	if err == nil {
		t.Fatal("a second server started on a data dir in use")
	}
	for _, want := range []string{dir, "in use", "process " + strconv.Itoa(os.Getpid()), "--nats-url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	first.Shutdown()
	again, err := StartServer(t.Context(), ServerConfig{DataDir: dir})
	if err != nil {
		t.Fatalf("data dir still locked after Shutdown: %v", err)
	}
	again.Shutdown()
}

// TestServerListenInUse checks that a client port already taken is
// reported at once, naming the setting, instead of a timeout.
func TestServerListenInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = StartServer(t.Context(), ServerConfig{DataDir: t.TempDir(), Listen: ln.Addr().String()})
	if err == nil {
		t.Fatal("server started on a port in use")
	}
	if !strings.Contains(err.Error(), ln.Addr().String()) || !strings.Contains(err.Error(), "nats.listen") {
		t.Errorf("error %q does not name the address and the setting", err)
	}
	if strings.Contains(err.Error(), "not ready") {
		t.Errorf("error %q: want the port named at once, not a readiness timeout", err)
	}
	// The data dir lock was released with the failed start.
	dir := t.TempDir()
	StartServer(t.Context(), ServerConfig{DataDir: dir, Listen: ln.Addr().String()})
	srv, err := StartServer(t.Context(), ServerConfig{DataDir: dir})
	if err != nil {
		t.Fatalf("data dir locked after a failed start: %v", err)
	}
	srv.Shutdown()
}
