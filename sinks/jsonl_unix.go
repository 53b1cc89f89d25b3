//go:build unix

package sinks

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockJSONL takes an exclusive lock on the open file: two processes
// appending to one file, each with its own index and its own rotation,
// would interleave and cut each other's lines. The kernel releases it when
// the file is closed or the process dies.
func lockJSONL(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errors.New("in use by another process (a second wirewatch with the same config?): give each process its own sinks.jsonl.path")
	}
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}
