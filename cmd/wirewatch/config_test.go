package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// envLine is an error line blamed on an environment variable.
var envLine = regexp.MustCompile(`^WIREWATCH_[A-Z_]+: `)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string // $DIR stands for a temporary directory that exists
		env     map[string]string
		wantErr []string // substrings the error must contain; nil means no error
		notWant []string // substrings the error must not contain
		lines   int      // if not 0, how many problems (error lines) there must be
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
		{name: "dedup threshold out of range", yaml: "dedup:\n  jaccard: 1.5\n", wantErr: []string{"dedup.jaccard: 1.5: want a number from 0 to 1"}},
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

		// Listeners (M2): host:port with a port 0-65535, or "" / "off".
		{name: "http.listen without a port", yaml: "http:\n  listen: notanaddr\n",
			wantErr: []string{`http.listen: "notanaddr": want host:port`}},
		{name: "nats.listen port out of range", yaml: "nats:\n  listen: 999.1.1.1:99999\n",
			wantErr: []string{`nats.listen: "999.1.1.1:99999": port "99999": want a number from 0 to 65535`}},
		{name: "nats.listen host not an IP", yaml: "nats:\n  listen: 999.1.1.1:4222\n",
			wantErr: []string{`nats.listen: "999.1.1.1:4222": host "999.1.1.1" is not an IP address`}},
		{name: "listeners off, empty, any port", yaml: "nats:\n  listen: \"off\"\nhttp:\n  listen: \"\"\n"},
		{name: "listeners with port 0 and a host name", yaml: "nats:\n  listen: localhost:0\nhttp:\n  listen: :9464\n"},
		{name: "nats.listen unused with an external server", yaml: "nats:\n  url: nats://h:4222\n  listen: nope\n  max_store: 1KiB\n"},

		// Feed URLs (M2).
		{name: "feed URL does not parse", yaml: "feeds:\n  - name: a\n    url: http://exa mple.org/feed\n",
			wantErr: []string{`feeds[0].url: feed "a": "http://exa mple.org/feed": invalid character " " in host name`}},
		{name: "feed URL without host", yaml: "feeds:\n  - name: a\n    url: \"http://\"\n",
			wantErr: []string{`feeds[0].url: feed "a": "http://": no host`}},
		{name: "two feeds with one URL", yaml: "feeds:\n  - name: a\n    url: https://Example.org/f\n  - name: b\n    url: https://x.org/g\n  - name: c\n    url: https://example.org/f\n",
			wantErr: []string{`feeds[2].url: feed "c": "https://example.org/f" is also the url of feeds[0] ("a")`}},

		// Durations, sizes (M2).
		{name: "negative poller timeout", yaml: "poller:\n  timeout: -1s\n",
			wantErr: []string{"poller.timeout: -1s: must not be negative"}, notWant: []string{"poller: poller"}},
		{name: "negative per_host_gap means none", yaml: "poller:\n  per_host_gap: -1s\n"},
		{name: "poller cross-field check keyed", yaml: "poller:\n  min_interval: 2h\n  max_interval: 1h\n",
			wantErr: []string{"poller.min_interval: 2h0m0s: above max_interval 1h0m0s"}},
		{name: "max_store too small", yaml: "nats:\n  max_store: 1KiB\n",
			wantErr: []string{"nats.max_store: 1KiB: want at least 1MiB"}},
		{name: "max_store at the floor", yaml: "nats:\n  max_store: 1MiB\n"},
		{name: "size overflows", yaml: "nats:\n  max_store: 99999999999GiB\n",
			wantErr: []string{`line 2: nats.max_store: bad size "99999999999GiB": too large`}},

		// Sink files (M2): the directory must exist; nothing is created.
		{name: "jsonl directory missing", yaml: "sinks:\n  jsonl:\n    path: $DIR/nodir/items.jsonl\n",
			wantErr: []string{"sinks.jsonl.path:", "nodir/items.jsonl", "does not exist"}},
		{name: "sqlite path is a directory", yaml: "sinks:\n  sqlite:\n    path: $DIR\n",
			wantErr: []string{"sinks.sqlite.path:", "is a directory"}},
		{name: "sink files in a directory that exists", yaml: "sinks:\n  jsonl:\n    path: $DIR/items.jsonl\n  sqlite:\n    path: $DIR/items.db\n"},
		// Bounds that keep values from overflowing: 4×max_body in the poller,
		// twice a webhook's timeout (its ack deadline), busy_timeout in ms
		// in SQLite's int.
		{name: "max_body too large", yaml: "poller:\n  max_body: 2GiB\n",
			wantErr: []string{"poller.max_body: 2GiB: want at most 1GiB"}, lines: 1},
		{name: "max_body that overflows 4 times", yaml: "poller:\n  max_body: 4611686018427387904\n",
			wantErr: []string{"poller.max_body: 4294967296GiB: want at most 1GiB"}, notWant: []string{"max_decompressed"}, lines: 1},
		{name: "max_body at the bound", yaml: "poller:\n  max_body: 1GiB\n"},
		{name: "webhook timeout too long", yaml: "sinks:\n  webhooks:\n    - {url: https://example.org/h, timeout: 2562047h}\n",
			wantErr: []string{"sinks.webhooks[0].timeout: 2562047h0m0s: want at most 10m (default 10s)"}, lines: 1},
		{name: "webhook timeout at the bound", yaml: "sinks:\n  webhooks:\n    - {url: https://example.org/h, timeout: 10m}\n"},
		{name: "sqlite busy_timeout too long", yaml: "sinks:\n  sqlite:\n    path: $DIR/x.db\n    busy_timeout: 600h\n",
			wantErr: []string{"sinks.sqlite: busy_timeout 600h0m0s: want at most 1h (default 5s)"}, lines: 1},
		{name: "sqlite problems keyed, without stutter", yaml: "sinks:\n  sqlite:\n    path: $DIR/x.db\n    busy_timeout: -1s\n    retention: 1m\n",
			wantErr: []string{"sinks.sqlite: busy_timeout -1s is negative", "sinks.sqlite: retention"}, notWant: []string{"sqlite sink:"}},

		// yaml.v3 truncates 2.5 to 2 in an int without a word.
		{name: "fractions for whole numbers", yaml: "nats:\n  replicas: 1.5\npoller:\n  concurrency: 2.5\nsinks:\n  webhooks:\n    - url: https://example.org/h\n      max_attempts: 2.5\n",
			wantErr: []string{"line 2: nats.replicas: got 1.5, want a whole number", "line 4: poller.concurrency: got 2.5, want a whole number",
				"line 8: sinks.webhooks[0].max_attempts: got 2.5, want a whole number"}, lines: 3},
		{name: "whole numbers written as floats", yaml: "poller:\n  concurrency: 2.0\nsinks:\n  webhooks:\n    - url: https://example.org/h\n      max_response_bytes: 1e3\ndedup:\n  jaccard: 0.7\n",
			check: func(t *testing.T, c Config) {
				if c.Poller.Concurrency != 2 || c.Sinks.Webhooks[0].MaxResponseBytes != 1000 {
					t.Errorf("concurrency %d, max_response_bytes %d; want 2, 1000", c.Poller.Concurrency, c.Sinks.Webhooks[0].MaxResponseBytes)
				}
			}},

		// The credentials file of an external server: run reads it when it
		// connects, so config check must find it first.
		{name: "credentials file missing", yaml: "nats:\n  url: nats://127.0.0.1:4222\n  credentials: $DIR/no.creds\n",
			wantErr: []string{`nats.credentials: "`, `/no.creds": no such file or directory`}},
		{name: "credentials file is a directory", yaml: "nats:\n  url: nats://127.0.0.1:4222\n  credentials: $DIR\n",
			wantErr: []string{"nats.credentials:", "is a directory"}},
		{name: "credentials file missing from the environment", yaml: "nats:\n  url: nats://127.0.0.1:4222\n",
			env:     map[string]string{"WIREWATCH_NATS_CREDENTIALS": "/nonexistent/x.creds"},
			wantErr: []string{`WIREWATCH_NATS_CREDENTIALS: "/nonexistent/x.creds": no such file or directory`}},
		{name: "credentials file that exists", yaml: "nats:\n  url: nats://127.0.0.1:4222\n  credentials: $DIR/wirewatch.yaml\n"},

		// nats.url: each comma-separated URL parses, with a NATS scheme and a
		// host; a message shows it redacted, never url.Parse's error.
		{name: "nats.url does not parse", yaml: "nats:\n  url: \"nats://user:s3cret@bad host:4222\"\n",
			wantErr: []string{`nats.url: "nats://<redacted>@bad host:4222" does not parse: want nats://[user:password@]host[:port]`},
			notWant: []string{"s3cret", "invalid character"}, lines: 1},
		{name: "nats.url second URL does not parse", yaml: "nats:\n  url: \"nats://a:4222, user:pw#x@b:4222\"\n",
			wantErr: []string{`nats.url: "nats://<redacted>@b:4222" does not parse`}, notWant: []string{"user:pw", "pw#x"}, lines: 1},
		{name: "nats.url bad scheme and no host", yaml: "nats:\n  url: \"http://u:s3cret@h:4222,nats://:4222\"\n",
			wantErr: []string{`nats.url: "http://<redacted>@h:4222": scheme "http": want nats://`, `nats.url: "nats://:4222": no host`},
			notWant: []string{"s3cret"}, lines: 2},
		{name: "nats.url with no URL", yaml: "nats:\n  url: \" , \"\n", wantErr: []string{`nats.url: " , ": no URL`}},
		{name: "nats.url from the environment does not parse", env: map[string]string{"WIREWATCH_NATS_URL": "nats://user:s3cret@[::1:4222"},
			wantErr: []string{`WIREWATCH_NATS_URL: "nats://<redacted>@[::1:4222" does not parse`}, notWant: []string{"s3cret"}},
		{name: "postgres dsn from the environment does not parse", env: map[string]string{"WIREWATCH_POSTGRES_DSN": "not a dsn"},
			wantErr: []string{"WIREWATCH_POSTGRES_DSN: does not parse (check its syntax)"}, lines: 1},
		{name: "postgres dsn in the file does not parse", yaml: "sinks:\n  postgres:\n    dsn: \"not a dsn\"\n",
			wantErr: []string{"sinks.postgres.dsn: does not parse (check its syntax)"}, lines: 1},
		{name: "postgres retention", yaml: "sinks:\n  postgres:\n    dsn: \"postgres://h/db\"\n    retention: 1m\n",
			wantErr: []string{"sinks.postgres: retention 1m0s"}, lines: 1},
		{name: "nats.url seeds", yaml: "nats:\n  url: \"nats://u:p@h1:4222, tls://h2,h3:4222,ws://h4:8080/\"\n"},

		// Webhook names: one webhook needs none; several must differ.
		{name: "one webhook without a name", yaml: "sinks:\n  webhooks:\n    - url: https://example.org/h\n"},
		{name: "one unnamed among named webhooks", yaml: "sinks:\n  webhooks:\n    - url: https://example.org/h\n    - {name: b, url: https://example.org/b}\n"},
		{name: "two webhooks without a name", yaml: "sinks:\n  webhooks:\n    - url: https://example.org/a\n    - url: https://example.org/b\n",
			wantErr: []string{"sinks.webhooks[1].name: required when there are several webhooks (webhooks[0] has none either"}},
		{name: "webhook names that fold together", yaml: "sinks:\n  webhooks:\n    - {name: Slack Alerts, url: https://example.org/a}\n    - {name: slack_alerts, url: https://example.org/b}\n",
			wantErr: []string{`sinks.webhooks[1].name: "slack_alerts": webhooks[0] ("Slack Alerts") has the same name`}},
		// JSONL rotation: the default size, a size of one's own, 0 to turn it off.
		{name: "jsonl rotation default", yaml: "sinks:\n  jsonl: {path: items.jsonl}\n",
			check: func(t *testing.T, c Config) {
				if j := c.Sinks.JSONL.sinkConfig(); j.MaxSize != DefaultJSONLMaxSize || j.MaxFiles != 0 {
					t.Errorf("jsonl max_size, max_files = %d, %d, want %d, 0", j.MaxSize, j.MaxFiles, DefaultJSONLMaxSize)
				}
			}},
		{name: "jsonl rotation", yaml: "sinks:\n  jsonl: {path: items.jsonl, max_size: 64MiB, max_files: 5}\n",
			check: func(t *testing.T, c Config) {
				if j := c.Sinks.JSONL.sinkConfig(); j.MaxSize != 64<<20 || j.MaxFiles != 5 {
					t.Errorf("jsonl max_size, max_files = %d, %d, want 64MiB, 5", j.MaxSize, j.MaxFiles)
				}
			}},
		{name: "jsonl rotation off", yaml: "sinks:\n  jsonl: {path: items.jsonl, max_size: 0}\n",
			check: func(t *testing.T, c Config) {
				if c.Sinks.JSONL.MaxSize != 0 {
					t.Errorf("jsonl max_size = %d, want 0", c.Sinks.JSONL.MaxSize)
				}
			}},
		{name: "jsonl rotation bad", yaml: "sinks:\n  jsonl: {path: items.jsonl, max_size: -1, max_files: -2}\n",
			wantErr: []string{`bad size "-1"`, "sinks.jsonl.max_files: -2: want 0 (keep every rotated file) or more"}},
		// Webhook retries: attempts and the backoff cap, in range and within nats.retention.
		{name: "webhook retries", yaml: "sinks:\n  webhooks:\n    - {url: https://example.org/h, max_attempts: 3, max_backoff: 1m}\n",
			check: func(t *testing.T, c Config) {
				if w := c.Sinks.Webhooks[0]; w.MaxAttempts != 3 || w.MaxBackoff != time.Minute {
					t.Errorf("webhook max_attempts, max_backoff = %d, %s, want 3, 1m", w.MaxAttempts, w.MaxBackoff)
				}
			}},
		{name: "webhook retries out of range", yaml: "sinks:\n  webhooks:\n    - {url: https://example.org/h, max_attempts: 101, max_backoff: 100ms}\n",
			wantErr: []string{"sinks.webhooks[0]: max_attempts 101: want 1 to 100 (default 10)", "sinks.webhooks[0]: max_backoff 100ms: want 1s to 24h (default 10m)"}, lines: 2},
		{name: "webhook retries beyond the retention", yaml: "nats:\n  retention: 24h\nsinks:\n  webhooks:\n    - {url: https://example.org/h, max_attempts: 30, max_backoff: 2h}\n",
			wantErr: []string{"sinks.webhooks[0].max_attempts: 30 with max_backoff 2h0m0s retries an item for 44h32m36s", "beyond nats.retention 24h0m0s"}, lines: 1},
		{name: "webhook retry key misspelt", yaml: "sinks:\n  webhooks:\n    - {url: https://example.org/h, max_attempt: 3}\n",
			wantErr: []string{"line 3: unknown key sinks.webhooks[].max_attempt"}},

		// M4: type errors name the key and do not hide the other problems.
		{name: "type errors keyed", yaml: "poller:\n  concurrency: many\n  allow_private_networks: maybe\n  timeout: 15\n",
			wantErr: []string{`line 2: poller.concurrency: got "many", want a whole number`,
				`line 3: poller.allow_private_networks: got "maybe", want true or false`,
				"line 4: poller.timeout: got 15, want a duration such as 90s"},
			notWant: []string{"unmarshal", "time.Duration", "yaml: unmarshal errors"}},
		{name: "type errors in flow style", yaml: "nats: [1, 2]\npoller: {max_body: 1KiB, timeout: 15, concurrency: abc}\nfeeds: {name: x}\n",
			wantErr: []string{"line 1: nats: got a list, want a mapping", "line 2: poller.timeout: got 15", "line 2: poller.concurrency: got \"abc\"",
				"line 3: feeds: got a mapping, want a list"}},
		{name: "bad size does not stop decoding", yaml: "nats:\n  max_store: lots\n  max_memory: [1]\npoller:\n  concurrency: many\n",
			wantErr: []string{`line 2: nats.max_store: bad size "lots"`, "line 3: nats.max_memory: got a list, want a size",
				`line 5: poller.concurrency: got "many"`}},
		{name: "many problems at once", yaml: "nats:\n  max_store: lots\n  replicas: 0\n  listen: 999.1.1.1:99999\npoller:\n  concurrency: \"many\"\n  allow_private_networks: maybe\n  max_redirects: -1\n  timeout: -1s\n" +
			"feeds:\n  - name: a\n    url: http://exa mple.org/feed\n  - name: b\n    url: https://x.org/f\n  - name: c\n    url: https://x.org/f\n" +
			"rules:\n  - $DIR/missing-1.yaml\n  - $DIR/missing-2.yaml\ndedup:\n  jaccard: 1.5\n  workers: 0\n" +
			"sinks:\n  jsonl:\n    path: $DIR/nodir/items.jsonl\n  webhooks:\n    - url: https://example.org/a\n    - url: https://example.org/b\nhttp:\n  listen: notanaddr\nlog:\n  level: loud\n",
			env: map[string]string{"WIREWATCH_LOG_FORMAT": "xml"},
			wantErr: []string{`line 2: nats.max_store: bad size "lots"`, `line 6: poller.concurrency: got "many"`, `line 7: poller.allow_private_networks: got "maybe"`,
				"nats.replicas: 0", `nats.listen: "999.1.1.1:99999"`, "poller.max_redirects: -1", "poller.timeout: -1s",
				`feeds[0].url: feed "a"`, `feeds[2].url: feed "c": "https://x.org/f" is also the url of feeds[1] ("b")`,
				`rules[0]: "` /* path follows */, "missing-1.yaml\": no such file", `rules[1]: "`, "missing-2.yaml\": no such file",
				"dedup.jaccard: 1.5", "dedup.workers: 0", "sinks.jsonl.path:", "sinks.webhooks[1].name", "http.listen", `log.level: "loud"`,
				`WIREWATCH_LOG_FORMAT: "xml": want text or json`},
			lines: 18},

		// M4: rule paths, every one, with its key.
		{name: "missing rule files", yaml: "rules:\n  - $DIR/a.yaml\n  - $DIR\n  - $DIR/b.yaml\n  - \"\"\n",
			wantErr: []string{"rules[0]: ", "a.yaml\": no such file or directory", "rules[2]: ", "b.yaml\": no such file or directory", "rules[3]: empty path"},
			notWant: []string{"rules[1]", "stat "}},
		{name: "missing rule files from the environment", env: map[string]string{"WIREWATCH_RULES": "/nonexistent/a.yaml:/nonexistent/b.yaml"},
			wantErr: []string{`WIREWATCH_RULES: rules[0]: "/nonexistent/a.yaml": no such file or directory`, `WIREWATCH_RULES: rules[1]: "/nonexistent/b.yaml"`}},

		// M4: values from the environment are blamed on the variable.
		{name: "bad value from the environment", yaml: "log:\n  level: info\n  format: xml\n",
			env:     map[string]string{"WIREWATCH_LOG_LEVEL": "loud", "WIREWATCH_HTTP_LISTEN": "nohost"},
			wantErr: []string{`WIREWATCH_LOG_LEVEL: "loud": want debug`, `WIREWATCH_HTTP_LISTEN: "nohost": want host:port`, `log.format: "xml"`},
			notWant: []string{"log.level", "http.listen"}},
		{name: "bad environment with file problems", yaml: "poller:\n  concurrency: many\nlog:\n  level: loud\n",
			env:     map[string]string{"WIREWATCH_ALLOW_PRIVATE_NETWORKS": "maybe"},
			wantErr: []string{`WIREWATCH_ALLOW_PRIVATE_NETWORKS: "maybe": want true or false`, "poller.concurrency", `log.level: "loud"`}},
		{name: "missing header variable with file problems", yaml: "feeds:\n  - name: afp\n    url: https://example.org/afp.xml\n    headers:\n      Authorization: Bearer ${AFP_TOKEN}\nlog:\n  level: loud\n",
			wantErr: []string{"feeds[0].headers.Authorization", "AFP_TOKEN", `log.level: "loud"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "wirewatch.yaml")
			doc := strings.ReplaceAll(tt.yaml, "$DIR", dir)
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(path, env(tt.env))
			if err == nil {
				err = c.Validate()
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("loadConfig(%q) = nil error, want one containing %q", doc, tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				for _, w := range tt.notWant {
					if strings.Contains(err.Error(), w) {
						t.Errorf("error %q contains %q", err, w)
					}
				}
				// Every problem of the list names its origin: the file, or
				// the environment variable.
				for l := range strings.Lines(err.Error()) {
					if !strings.HasPrefix(l, "config "+path+": ") && !envLine.MatchString(l) {
						t.Errorf("error line %q names neither the file nor a variable", l)
					}
				}
				if n := len(strings.Split(err.Error(), "\n")); tt.lines != 0 && n != tt.lines {
					t.Errorf("error has %d lines, want %d (one per problem): %v", n, tt.lines, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig(%q): %v", doc, err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			if _, err := os.Stat(filepath.Join(dir, "nodir")); err == nil {
				t.Errorf("loadConfig created a directory")
			}
		})
	}
}

func TestCheckRules(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("entities:\n  - {id: a, kind: thing, aliases: [A]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("entities:\n  - {id: b, kind: org, aliases: [B]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		rules []string
		want  string // substring; "" means nil
	}{
		{"none", nil, ""},
		{"good", []string{good}, ""},
		{"bad file", []string{good, bad}, "config wirewatch.yaml: rules: " + bad + `:2: entity "a": kind "thing"`},
		{"missing path left to Validate", []string{bad, filepath.Join(dir, "missing.yaml")}, ""},
	}
	for _, tt := range tests {
		c := Config{Rules: tt.rules, path: "wirewatch.yaml"}
		err := c.checkRules()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: checkRules(%q) = %v, want %q", tt.name, tt.rules, err, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	c := Config{NATS: NATSConfig{URL: "nats://user:secret@host:4222", Credentials: "/etc/x.creds"}}
	r := c.redacted()
	if strings.Contains(r.NATS.URL, "secret") || r.NATS.Credentials != "<redacted>" {
		t.Errorf("redacted() = %+v", r.NATS)
	}
	// nats.url may be several URLs, with or without a scheme.
	for u, want := range map[string]string{
		"nats://host:4222":                        "nats://host:4222",
		"user:secret@host:4222":                   "<redacted>@host:4222",
		"user:secret@h1:4222,nats://h2:4222":      "<redacted>@h1:4222,nats://h2:4222",
		"nats://a:secret@h1,nats://b:secret@h2":   "nats://<redacted>@h2",
		"nats://h1,user:secret@h2":                "nats://<redacted>@h2",
		"nats://user:s3cret@bad host:4222":        "nats://<redacted>@bad host:4222",
		"nats://user:pa#ss@host:4222,tls://other": "nats://<redacted>@host:4222,tls://other",
	} {
		if got := redactURL(u); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", u, got, want)
		}
	}
}

// TestConfigCheckNATSURL checks that 'config check' of a nats.url that does
// not parse prints its password nowhere.
func TestConfigCheckNATSURL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wirewatch.yaml")
	if err := os.WriteFile(path, []byte("nats:\n  url: \"nats://user:s3cret@bad host:4222\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	err := run(t.Context(), []string{"config", "check", "-c", path}, stdio{out: &out, err: &errb, getenv: env(map[string]string{"HOME": dir})})
	if err == nil || !strings.Contains(err.Error(), `nats.url: "nats://<redacted>@bad host:4222" does not parse`) {
		t.Errorf("config check: %v, want a nats.url problem", err)
	}
	if all := out.String() + errb.String() + fmt.Sprint(err); strings.Contains(all, "s3cret") {
		t.Errorf("config check printed the password:\n%s", all)
	}
}

// TestConfigRelativePaths checks that relative paths in the config file
// resolve from the file's directory whatever the working directory, while
// those from WIREWATCH_* variables and flags resolve from the working
// directory; and that a missing rule file is named by key and by the path
// tried.
func TestConfigRelativePaths(t *testing.T) {
	rule := "entities:\n  - {id: b, kind: org, aliases: [B]}\n"
	tests := []struct {
		name string
		yaml string            // the file is $CFG/wirewatch.yaml; $CFG and $WD stand for the directories
		env  map[string]string // $WD in values stands for the working directory
		flag [3]string         // key, flag, value: set as run does after loading
		want map[string]string // key -> path after loading ($CFG and $WD replaced)
		err  []string          // substrings of the error; nil means none
	}{
		{name: "rules from the file's directory",
			yaml: "rules:\n  - rules/a.yaml\n  - ../shared\n",
			want: map[string]string{"rules[0]": "$CFG/rules/a.yaml", "rules[1]": "$CFG/../shared"}},
		{name: "sink files, data dir and credentials from the file's directory",
			yaml: "nats:\n  data_dir: state\n  credentials: nats.creds\nsinks:\n  jsonl:\n    path: items.jsonl\n  sqlite:\n    path: db/items.db\n",
			want: map[string]string{"nats.data_dir": "$CFG/state", "nats.credentials": "$CFG/nats.creds",
				"sinks.jsonl.path": "$CFG/items.jsonl", "sinks.sqlite.path": "$CFG/db/items.db"}},
		{name: "absolute paths kept",
			yaml: "rules:\n  - $CFG/rules/a.yaml\nnats:\n  data_dir: $WD/state\n",
			want: map[string]string{"rules[0]": "$CFG/rules/a.yaml", "nats.data_dir": "$WD/state"}},
		{name: "default data dir not the file's",
			yaml: "rules:\n  - rules/a.yaml\n", env: map[string]string{"HOME": "$WD"},
			want: map[string]string{"nats.data_dir": "$WD/.local/state/wirewatch"}},
		{name: "environment from the working directory",
			yaml: "rules:\n  - rules/a.yaml\nsinks:\n  jsonl:\n    path: items.jsonl\n",
			env:  map[string]string{"WIREWATCH_RULES": "rules/a.yaml", "WIREWATCH_JSONL_PATH": "out.jsonl", "WIREWATCH_DATA_DIR": "st"},
			want: map[string]string{"rules[0]": "rules/a.yaml", "sinks.jsonl.path": "out.jsonl", "nats.data_dir": "st"}},
		{name: "flag from the working directory",
			yaml: "nats:\n  data_dir: state\n", flag: [3]string{"nats.data_dir", "--data-dir", "mine"},
			want: map[string]string{"nats.data_dir": "mine"}},
		{name: "missing rule file names the key and the path tried",
			yaml: "rules:\n  - rules/a.yaml\n  - rules/missing.yaml\n",
			err:  []string{`config $CFG/wirewatch.yaml: rules[1]: "$CFG/rules/missing.yaml": no such file or directory`}},
		{name: "missing rule file from the environment names the variable",
			yaml: "rules:\n  - rules/a.yaml\n", env: map[string]string{"WIREWATCH_RULES": "rules/a.yaml:nope.yaml"},
			err: []string{`WIREWATCH_RULES: rules[1]: "nope.yaml": no such file or directory`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgDir, wd := t.TempDir(), t.TempDir()
			if err := os.MkdirAll(filepath.Join(cfgDir, "rules"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cfgDir, "rules", "a.yaml"), []byte(rule), 0o644); err != nil {
				t.Fatal(err)
			}
			// The working directory has a rules/a.yaml too, that must not be
			// the one found (when the file names it).
			if err := os.MkdirAll(filepath.Join(wd, "rules"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(wd, "rules", "a.yaml"), []byte(rule), 0o644); err != nil {
				t.Fatal(err)
			}
			repl := strings.NewReplacer("$CFG", cfgDir, "$WD", wd).Replace
			path := filepath.Join(cfgDir, "wirewatch.yaml")
			if err := os.WriteFile(path, []byte(repl(tt.yaml)), 0o644); err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{}
			for k, v := range tt.env {
				vars[k] = repl(v)
			}
			t.Chdir(wd)
			c, err := loadConfig(path, env(vars))
			if err == nil {
				if tt.flag[0] != "" {
					c.setFlag(tt.flag[0], tt.flag[1], tt.flag[2])
				}
				err = c.Validate()
			}
			if tt.err != nil {
				if err == nil {
					t.Fatalf("loadConfig(%q) = nil error, want %q", tt.yaml, tt.err)
				}
				for _, w := range tt.err {
					if w = repl(w); !strings.Contains(err.Error(), w) {
						t.Errorf("loadConfig(%q): error %q does not contain %q", tt.yaml, err, w)
					}
				}
				return
			}
			got := map[string]string{"nats.data_dir": c.NATS.DataDir, "nats.credentials": c.NATS.Credentials,
				"sinks.jsonl.path": c.Sinks.JSONL.Path, "sinks.sqlite.path": c.Sinks.SQLite.Path}
			for i, r := range c.Rules {
				got[fmt.Sprintf("rules[%d]", i)] = r
			}
			for k, w := range tt.want {
				if w = filepath.Clean(repl(w)); got[k] != w {
					t.Errorf("loadConfig(%q) in %s: %s = %q, want %q", tt.yaml, wd, k, got[k], w)
				}
			}
			// What config check prints is absolute, from the same bases.
			r := c.resolved("v")
			printed := map[string]string{"nats.data_dir": r.NATS.DataDir, "sinks.jsonl.path": r.Sinks.JSONL.Path}
			for i, p := range r.Rules {
				printed[fmt.Sprintf("rules[%d]", i)] = p
			}
			for k, p := range printed {
				if w, ok := tt.want[k]; ok {
					if w = repl(w); !filepath.IsAbs(w) {
						w = filepath.Join(wd, w)
					}
					if p != filepath.Clean(w) {
						t.Errorf("resolved() %s = %q, want %q", k, p, filepath.Clean(w))
					}
				}
			}
		})
	}
}

// TestFractionErrorsAliases checks that an anchor holding its own alias,
// which yaml.v3 reads into a node graph with a cycle, ends the walk.
func TestFractionErrorsAliases(t *testing.T) {
	for _, doc := range []string{"feeds: &x [*x]\n", "poller: &p {concurrency: 2.5, x: *p}\n", "a: &a 1.5\npoller:\n  concurrency: *a\n"} {
		_ = fractionErrors([]byte(doc))
	}
	if got := fractionErrors([]byte("a: &a 1.5\npoller:\n  concurrency: *a\n")); len(got) != 1 || !strings.Contains(got[0], "poller.concurrency: got 1.5") {
		t.Errorf("alias to 1.5 for poller.concurrency: got %q", got)
	}
}
