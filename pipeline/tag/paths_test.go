package tag

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadReportsEveryPath: missing paths and broken files are all
// reported together, not just the first.
func TestLoadReportsEveryPath(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("entities:\n  - {id: a, kind: thing, aliases: [A]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing1, missing2 := filepath.Join(dir, "nope1.yaml"), filepath.Join(dir, "nope2")
	_, err := LoadFiles(missing1, bad, missing2)
	if err == nil {
		t.Fatal("LoadFiles(two missing paths, one bad file) = nil error")
	}
	for _, w := range []string{missing1, missing2, "bad.yaml:2", `kind "thing"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("LoadFiles error %q does not mention %q", err, w)
		}
	}
}
