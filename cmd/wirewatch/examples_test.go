package main

import (
	"bytes"
	"testing"
)

// TestExampleConfigs keeps the shipped example configs valid.
func TestExampleConfigs(t *testing.T) {
	for _, path := range []string{"../../docs/examples/wirewatch.yaml", "../../docs/examples/wirewatch.compose.yaml"} {
		var out, errb bytes.Buffer
		// The compose file's rules path is relative to the repository root.
		getenv := env(map[string]string{"WIREWATCH_RULES": "../../testdata/rules/summit.yaml", "HOME": t.TempDir()})
		if err := run(t.Context(), []string{"config", "check", "-c", path}, stdio{out: &out, err: &errb, getenv: getenv}); err != nil {
			t.Errorf("config check %s: %v\n%s", path, err, errb.String())
		}
	}
}
