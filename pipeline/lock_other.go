//go:build !unix

package pipeline

import (
	"fmt"
	"os"
)

// lockDataDir creates dir; where flock(2) does not exist the data dir is
// not locked against a second process.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return nil, nil
}
