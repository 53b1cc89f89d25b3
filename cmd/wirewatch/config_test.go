package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr []string // substrings the error must contain; nil means no error
		check   func(t *testing.T, c Config)
	}{
		{
			name: "defaults from empty file",
			yaml: "",
			check: func(t *testing.T, c Config) {
				if c.NATS.Prefix != "wirewatch." || c.Dedup.Window != 72*time.Hour || c.Poller.MaxBody != 15<<20 {
					t.Errorf("defaults = %+v", c)
				}
			},
		},
		{
			name: "full file",
			yaml: "nats:\n  max_store: 2GiB\n  retention: 48h\npoller:\n  per_host_gap: 2s\nfeeds:\n  - name: afp\n    url: https://example.org/afp.xml\n    interval: 10m\n",
			check: func(t *testing.T, c Config) {
				if c.NATS.MaxStore != 2<<30 || c.NATS.Retention != 48*time.Hour || len(c.Feeds) != 1 || c.Feeds[0].Interval != 10*time.Minute {
					t.Errorf("got %+v", c)
				}
				if p := c.pollerConfig("v1"); p.PerHostGap != 2*time.Second {
					t.Errorf("pollerConfig().PerHostGap = %s, want 2s", p.PerHostGap)
				}
			},
		},
		{
			name: "env overrides file",
			yaml: "nats:\n  url: nats://file:4222\n",
			env:  map[string]string{"WIREWATCH_NATS_URL": "nats://env:4222", "WIREWATCH_LOG_LEVEL": "debug"},
			check: func(t *testing.T, c Config) {
				if c.NATS.URL != "nats://env:4222" || c.Log.Level != "debug" {
					t.Errorf("env not applied: %+v", c.NATS)
				}
			},
		},
		{
			name: "dedup thresholds",
			yaml: "dedup:\n  jaccard: 0.7\n  story_threshold: 0.25\n  keep_ids: 240h\n",
			check: func(t *testing.T, c Config) {
				d := c.Dedup.dedupConfig(1)
				if d.Jaccard != 0.7 || d.StoryThreshold != 0.25 || d.KeepIDs != 240*time.Hour || d.Window != 72*time.Hour {
					t.Errorf("dedupConfig() = %+v", d)
				}
			},
		},
		{name: "dedup threshold out of range", yaml: "dedup:\n  jaccard: 1.5\n", wantErr: []string{"dedup", "1.5"}},
		{name: "unknown key", yaml: "natz:\n  url: x\n", wantErr: []string{"line 1: unknown key natz"}},
		{name: "unknown keys in sections", yaml: "nats:\n  lisen: x\nfeeds:\n  - name: a\n    url: http://x\n    intervall: 5m\nsinks:\n  sqlite:\n    paht: x\n",
			wantErr: []string{"line 2: unknown key nats.lisen", "line 6: unknown key feeds[].intervall", "line 9: unknown key sinks.sqlite.paht"}},
		{name: "bad size", yaml: "nats:\n  max_store: lots\n", wantErr: []string{"bad size", "lots"}},
		{name: "bad duration", yaml: "dedup:\n  window: soon\n", wantErr: []string{"soon"}},
		{
			name: "feed headers from the environment",
			yaml: "feeds:\n  - name: afp\n    url: https://example.org/afp.xml\n    headers:\n      Authorization: Bearer ${AFP_TOKEN}\n      X-Client: wirewatch\n",
			env:  map[string]string{"AFP_TOKEN": "t0k3n"},
			check: func(t *testing.T, c Config) {
				if h := c.Feeds[0].Headers; h["Authorization"] != "Bearer t0k3n" || h["X-Client"] != "wirewatch" {
					t.Errorf("headers = %v", h)
				}
				if r := c.redacted(); r.Feeds[0].Headers["Authorization"] != "<redacted>" || c.Feeds[0].Headers["Authorization"] != "Bearer t0k3n" {
					t.Errorf("redacted() headers = %v (original now %v)", r.Feeds[0].Headers, c.Feeds[0].Headers)
				}
			},
		},
		{
			name:    "feed header variable not set",
			yaml:    "feeds:\n  - name: afp\n    url: https://example.org/afp.xml\n    headers:\n      Authorization: Bearer ${AFP_TOKEN}\n",
			wantErr: []string{"feeds[0].headers.Authorization", "AFP_TOKEN", "not set"},
		},
		{
			name:    "feed header not allowed",
			yaml:    "feeds:\n  - name: afp\n    url: https://example.org/afp.xml\n    headers:\n      Accept-Encoding: br\n      Bad Name: x\n",
			wantErr: []string{"feeds[0].headers", "Accept-Encoding", "set by wirewatch", "Bad Name"},
		},
		{
			name:    "every problem at once",
			yaml:    "feeds:\n  - name: a\n    url: ftp://x\n  - name: A\n    url: https://x\nlog:\n  level: loud\n",
			wantErr: []string{"feeds[0].url", "feeds[1].name", "log.level", "loud"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wirewatch.yaml")
			os.WriteFile(path, []byte(tt.yaml), 0o644)
			c, err := loadConfig(path, env(tt.env))
			if err == nil {
				err = c.Validate()
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("loadConfig(%q) = nil error, want one containing %q", tt.yaml, tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestRedact(t *testing.T) {
	c := Config{NATS: NATSConfig{URL: "nats://user:secret@host:4222", Credentials: "/etc/x.creds"}}
	r := c.redacted()
	if strings.Contains(r.NATS.URL, "secret") || r.NATS.Credentials != "<redacted>" {
		t.Errorf("redacted() = %+v", r.NATS)
	}
}
