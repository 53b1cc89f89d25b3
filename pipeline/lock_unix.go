//go:build unix

package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the name of the lock an embedded server holds in its data
// dir while it runs.
const lockFile = "wirewatch.lock"

// lockDataDir takes an exclusive lock on dir (created if missing) so that
// two embedded servers never write one JetStream store: nats-server does
// not guard against it, and the streams' files would be damaged. The lock
// holds the owner's PID for the message; it is released when the returned
// file is closed, or by the kernel when the process dies, so a crash
// leaves nothing to clean up.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			owner := "another process"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				owner = "process " + strconv.Itoa(pid)
			}
			return nil, fmt.Errorf("data dir %s is in use by %s (a running wirewatch?): give each process its own data dir (--data-dir, nats.data_dir), or reach the running one with --nats-url", dir, owner)
		}
		return nil, fmt.Errorf("data dir lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
