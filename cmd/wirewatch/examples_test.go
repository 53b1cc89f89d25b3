package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/pipeline/dedup"
	"github.com/wirewatch/wirewatch/poller"
	"github.com/wirewatch/wirewatch/sinks"
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

// TestConfigCheckResolved checks that 'config check' prints the values the
// daemon runs with (the defaults of the poller, the dedup stage and the
// SQLite sink filled in, the file's own values kept), and that what it
// prints is itself a valid config that resolves to the same.
func TestConfigCheckResolved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wirewatch.yaml")
	yml := "feeds:\n  - name: a\n    url: https://example.org/a.xml\ndedup:\n  jaccard: 0.7\nsinks:\n  sqlite:\n    path: " + filepath.Join(dir, "items.db") + "\n"
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(path string) (string, Config) {
		var out, errb bytes.Buffer
		if err := run(t.Context(), []string{"config", "check", "-c", path}, stdio{out: &out, err: &errb, getenv: env(map[string]string{"HOME": dir})}); err != nil {
			t.Fatalf("config check %s: %v\n%s", path, err, errb.String())
		}
		var cfg Config
		if err := yaml.Unmarshal(out.Bytes(), &cfg); err != nil {
			t.Fatalf("config check printed YAML that does not parse: %v\n%s", err, out.String())
		}
		return out.String(), cfg
	}
	printed, cfg := check(path)
	pd, dd := poller.DefaultConfig(), dedup.Config{}.WithDefaults()
	if cfg.Poller.DefaultInterval != pd.DefaultInterval || cfg.Poller.Concurrency != pd.Concurrency || cfg.Poller.LeaseTTL != pd.LeaseTTL {
		t.Errorf("poller printed as %+v, want the poller defaults", cfg.Poller)
	}
	if cfg.Dedup.Jaccard != 0.7 || cfg.Dedup.StoryThreshold != dd.StoryThreshold || cfg.Dedup.KeepIDs != dd.KeepIDs {
		t.Errorf("dedup printed as %+v, want jaccard 0.7 from the file and the other defaults", cfg.Dedup)
	}
	if cfg.Sinks.SQLite.BusyTimeout != sinks.DefaultBusyTimeout {
		t.Errorf("sqlite busy_timeout printed as %s, want %s", cfg.Sinks.SQLite.BusyTimeout, sinks.DefaultBusyTimeout)
	}
	again := filepath.Join(dir, "resolved.yaml")
	if err := os.WriteFile(again, []byte(printed), 0o644); err != nil {
		t.Fatal(err)
	}
	if printed2, _ := check(again); printed2 != printed {
		t.Errorf("the printed config resolves differently:\n%s\nvs\n%s", printed2, printed)
	}
}
