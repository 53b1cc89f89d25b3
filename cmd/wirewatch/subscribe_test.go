package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

func TestSubscribeSubject(t *testing.T) {
	subj := pipeline.MustSubjects("")
	tests := map[string]string{
		"ceasefire":                "wirewatch.items.tag.ceasefire",
		"Alaska-Summit":            "wirewatch.items.tag.alaska-summit",
		"person.zelensky":          "wirewatch.items.entity.person.zelensky",
		"place.*":                  "wirewatch.items.entity.place.*",
		"items.tag.>":              "wirewatch.items.tag.>",
		"wirewatch.items.entity.>": "wirewatch.items.entity.>",
		">":                        "wirewatch.items.tag.>",
	}
	for in, want := range tests {
		if got := subscribeSubject(subj, in); got != want {
			t.Errorf("subscribeSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSubscribe replays the bundled feeds into a kept data dir, serves it
// with a listener as 'wirewatch run' does, and subscribes by tag, by
// entity and by wildcard.
func TestSubscribe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats")
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"replay", "--feeds", "../../testdata/feeds", "--rules", "../../testdata/rules/summit.yaml", "--data-dir", dir},
		stdio{out: &out, err: &errb, getenv: env(nil)}); err != nil {
		t.Fatalf("replay: %v\n%s", err, errb.String())
	}
	srv, err := pipeline.StartServer(t.Context(), pipeline.ServerConfig{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	tests := []struct {
		patterns []string
		n        int
		check    func(it pipeline.Item) bool
	}{
		{[]string{"alaska-summit"}, 5, func(it pipeline.Item) bool { return hasTag(it, "alaska-summit") }},
		{[]string{"person.zelensky"}, 1, func(it pipeline.Item) bool { return hasEntity(it, "zelensky") }},
		{[]string{"items.entity.place.>", "ceasefire"}, 3, func(it pipeline.Item) bool { return len(it.Entities) > 0 }},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.patterns, "+"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			args := append([]string{"subscribe", "--nats-url", srv.ClientURL(), "--all", "--json", "-n", "1000000"}, tt.patterns...)
			// -n is larger than what is stored: the command runs until ctx ends.
			go func() { time.Sleep(3 * time.Second); cancel() }()
			if err := run(ctx, args, stdio{out: &out, err: &errb, getenv: env(nil)}); err != nil {
				t.Fatalf("subscribe: %v\n%s", err, errb.String())
			}
			seen := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if line == "" {
					continue
				}
				var it pipeline.Item
				if err := json.Unmarshal([]byte(line), &it); err != nil {
					t.Fatalf("bad line %q: %v", line, err)
				}
				if seen[it.Version()] {
					t.Errorf("item %s printed twice", it.ID)
				}
				seen[it.Version()] = true
				if it.DuplicateOf != "" {
					t.Errorf("subscribe printed copy %s of %s; subscribers get first copies", it.ID, it.DuplicateOf)
				}
				if !tt.check(it) {
					t.Errorf("item %q does not match %v", it.Title, tt.patterns)
				}
			}
			if len(seen) < tt.n {
				t.Errorf("subscribe %v printed %d items, want at least %d", tt.patterns, len(seen), tt.n)
			}
		})
	}
}

func hasTag(it pipeline.Item, tag string) bool {
	for _, t := range it.Tags {
		if t.Tag == tag {
			return true
		}
	}
	return false
}

func hasEntity(it pipeline.Item, id string) bool {
	for _, e := range it.Entities {
		if e.ID == id {
			return true
		}
	}
	return false
}
