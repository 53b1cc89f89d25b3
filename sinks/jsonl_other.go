//go:build !unix

package sinks

import "os"

// lockJSONL does nothing where flock is not available.
func lockJSONL(*os.File) error { return nil }
