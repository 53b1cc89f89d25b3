package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadConfig: any file gives a config or an error naming the file on
// each of its lines, never a panic; so does Validate, and redacting a
// config leaves the config itself as it was.
func FuzzLoadConfig(f *testing.F) {
	for _, seed := range []string{
		"",
		"nats:\n  max_store: 2GiB\nfeeds:\n  - name: a\n    url: https://example.org/a.xml\n    interval: 10m\n",
		"sinks:\n  webhooks:\n    - url: https://example.org/hook\n      secret: s\n      tags: [ceasefire]\n",
		"poller: {max_body: 1KiB, per_host_gap: -1s}\nlog: {level: debug, format: json}\n",
		"nats: [1, 2]\n",
		"feeds: {name: x}\n",
		"&a [*a]",
		"feeds:\n  - name: w\n    url: https://example.org/w.xml\n    headers: {Authorization: Bearer ${TOKEN}, X-Key: \"${A}${B}\"}\n",
		"feeds:\n  - name: w\n    url: https://example.org/w.xml\n    headers:\n      Authorization: Bearer ${TOKEN}\n      X-Key: \"${A}${B}\"\n",
		"sinks:\n  sqlite: {path: x.db, retention: 720h}\n  postgres: {dsn: postgres://db/news, retention: 1m}\n",
		"nats: {max_store: lots, max_memory: [1], listen: '999.1.1.1:99999'}\npoller: {concurrency: many, timeout: 15}\nfeeds: {name: x}\n",
		"nats:\n  max_store: 99999999999GiB\nrules: [x.yaml, '']\nhttp: {listen: notanaddr}\nfeeds:\n  - {name: a, url: 'http://exa mple.org'}\n  - {name: b, url: 'http://'}\n",
		"a: &x {b: *x}\nnats: *x\n",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(path, env(map[string]string{"TOKEN": "t"}))
		namesFile(t, "loadConfig", path, err)
		if err != nil {
			return
		}
		namesFile(t, "Validate", path, c.Validate())
		before := fmt.Sprintf("%+v", c)
		_ = c.redacted()
		if after := fmt.Sprintf("%+v", c); after != before {
			t.Errorf("redacted changed the config:\n%s\nwas\n%s", after, before)
		}
	})
}

// namesFile fails t unless every line of err names the config file at path.
func namesFile(t *testing.T, what, path string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if !strings.HasPrefix(line, "config "+path+": ") {
			t.Errorf("%s: error line %q does not name the file", what, line)
		}
	}
}
