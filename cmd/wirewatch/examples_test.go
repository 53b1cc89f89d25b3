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

// TestExampleConfigs keeps the shipped example configs valid from any
// working directory: their rules path is relative to their own directory,
// so 'run -c docs/examples/…' from the repository root and 'config check'
// from elsewhere find the same bundled rules.
func TestExampleConfigs(t *testing.T) {
	rules, err := filepath.Abs("../../testdata/rules/summit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"wirewatch.yaml", "wirewatch.compose.yaml"} {
		path := filepath.Join(repo, "docs", "examples", name)
		for _, wd := range []struct{ name, dir, cfg string }{
			{"repository root", repo, filepath.Join("docs", "examples", name)},
			{"elsewhere", t.TempDir(), path},
		} {
			t.Run(name+" from "+wd.name, func(t *testing.T) {
				t.Chdir(wd.dir)
				var out, errb bytes.Buffer
				getenv := env(map[string]string{"HOME": t.TempDir()})
				if err := run(t.Context(), []string{"config", "check", "-c", wd.cfg}, stdio{out: &out, err: &errb, getenv: getenv}); err != nil {
					t.Fatalf("config check -c %s in %s: %v\n%s", wd.cfg, wd.dir, err, errb.String())
				}
				var cfg Config
				if err := yaml.Unmarshal(out.Bytes(), &cfg); err != nil {
					t.Fatal(err)
				}
				if len(cfg.Rules) != 1 || cfg.Rules[0] != rules {
					t.Errorf("config check -c %s in %s printed rules %q, want [%s]", wd.cfg, wd.dir, cfg.Rules, rules)
				}
			})
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
	// Relative paths, from the file's directory: printed absolute.
	yml := "feeds:\n  - name: a\n    url: https://example.org/a.xml\ndedup:\n  jaccard: 0.7\nrules:\n  - rules.yaml\nsinks:\n  sqlite:\n    path: items.db\n"
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte("entities:\n  - {id: b, kind: org, aliases: [B]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
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
	if want := filepath.Join(dir, "items.db"); cfg.Sinks.SQLite.Path != want {
		t.Errorf("sqlite path printed as %q, want %q (from the config file's directory)", cfg.Sinks.SQLite.Path, want)
	}
	if want := filepath.Join(dir, "rules.yaml"); len(cfg.Rules) != 1 || cfg.Rules[0] != want {
		t.Errorf("rules printed as %q, want [%q]", cfg.Rules, want)
	}
	// In another directory, the printed config still names the same files.
	again := filepath.Join(t.TempDir(), "resolved.yaml")
	if err := os.WriteFile(again, []byte(printed), 0o644); err != nil {
		t.Fatal(err)
	}
	if printed2, _ := check(again); printed2 != printed {
		t.Errorf("the printed config resolves differently:\n%s\nvs\n%s", printed2, printed)
	}
}
