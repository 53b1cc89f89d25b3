package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/dedup"
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
		"stories.>":                "wirewatch.stories.>",
		"stories.s1f0c":            "wirewatch.stories.s1f0c",
		// Tag and entity tokens are folded as the pipeline folds them, in
		// every form; wildcards and tokens checkSubject refuses are not.
		"ZELENSKY":                       "wirewatch.items.tag.zelensky",
		"items.tag.Ceasefire":            "wirewatch.items.tag.ceasefire",
		"wirewatch.items.tag.Ceasefire":  "wirewatch.items.tag.ceasefire",
		"Person.Zelensky":                "wirewatch.items.entity.person.zelensky",
		"items.entity.Place.Zürich":      "wirewatch.items.entity.place.z_rich",
		"items.entity.PLACE.*":           "wirewatch.items.entity.place.*",
		"person.zel*":                    "wirewatch.items.entity.person.zel*",
		"items.tagged.>":                 "wirewatch.items.tagged.>",
		"dlq.>":                          "wirewatch.dlq.>",
		"wirewatch.items.entity.person.": "wirewatch.items.entity.person.",
	}
	for in, want := range tests {
		if got, err := subscribeSubject(subj, in); got != want || err != nil {
			t.Errorf("subscribeSubject(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// A bare subject root is ambiguous: a tag, or the subjects?
	for in, want := range map[string]string{
		"stories": "give stories.> (every story's events) or items.tag.stories (the tag)",
		"Items":   "give items.tagged (every tagged first copy) or items.tag.items (the tag)",
		"dlq":     "wirewatch dlq list",
	} {
		if got, err := subscribeSubject(subj, in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("subscribeSubject(%q) = %q, %v; want refused with %q", in, got, err, want)
		}
	}
}

// TestWriteItem checks subscribe's text form: copies and updates are
// marked, and an item without tags has no empty "tags:".
func TestWriteItem(t *testing.T) {
	at := time.Date(2025, 8, 16, 3, 40, 0, 0, time.UTC)
	tests := []struct {
		name string
		item pipeline.Item
		want string
	}{
		{"first copy", pipeline.Item{Feed: "afp-world", Title: "No deal", URL: "https://afp.example/a", Published: at,
			StoryID: "s1", Tags: []pipeline.Tag{{Tag: "alaska-summit"}, {Tag: "putin"}}},
			"2025-08-16T03:40:00Z  afp-world      No deal\n    https://afp.example/a\n    tags: alaska-summit, putin  story: s1\n"},
		{"syndicated copy", pipeline.Item{Feed: "gulf-tribune", Title: "No deal in Alaska", URL: "https://gulf.example/b", Published: at,
			StoryID: "s1", DuplicateOf: "a1", DupKind: pipeline.DupSyndicated, Tags: []pipeline.Tag{{Tag: "putin"}}},
			"    tags: putin  story: s1  copy of a1 (syndicated)\n"},
		{"exact copy without tags", pipeline.Item{Feed: "gulf-tribune", Title: "G20", Published: at, StoryID: "s2", DuplicateOf: "u12", DupKind: pipeline.DupExact},
			"    story: s2  copy of u12 (exact)\n"},
		{"update", pipeline.Item{Feed: "frontier-daily", Title: "Edited", Published: at, StoryID: "s1", Update: true},
			"    story: s1  update\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		writeItem(&b, &tt.item)
		if !strings.HasSuffix(b.String(), tt.want) || strings.Contains(b.String(), "tags: ") != (len(tt.item.Tags) > 0) {
			t.Errorf("%s: printed\n%s\nwant it to end with\n%s", tt.name, b.String(), tt.want)
		}
	}
}

// TestSubscribeRefused checks that patterns no subscriber stream holds
// are refused before connecting, naming the pattern.
func TestSubscribeRefused(t *testing.T) {
	for _, args := range [][]string{
		{"dlq.>"},   // dead letters: for 'wirewatch dlq list'
		{"stories"}, // a bare subject root is ambiguous
		{"items.tag.>", "dlq"},
		{"items.parsed.>"},      // a work queue
		{"wirewatch.dlq.jsonl"}, // dead letters
		{"items.>"},
		{"ceasefire", "stories.>"},
		{"items.tagged", "ceasefire"},
	} {
		var out bytes.Buffer
		// Nothing listens on the URL: a refused pattern must not get that far.
		err := run(t.Context(), append([]string{"subscribe", "--nats-url", "nats://127.0.0.1:1"}, args...), stdio{out: &out, err: &out, getenv: env(nil)})
		if err == nil || strings.Contains(err.Error(), "connect") {
			t.Errorf("subscribe %v: err = %v, want the pattern refused", args, err)
		} else if len(args) == 1 && !strings.Contains(err.Error(), args[0]) {
			t.Errorf("subscribe %v: error %q does not name the pattern", args, err)
		}
	}
	var out bytes.Buffer
	err := run(t.Context(), []string{"subscribe", "--nats-url", "nats://127.0.0.1:1", "dlq.>"}, stdio{out: &out, err: &out, getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "wirewatch dlq list") || strings.Contains(err.Error(), "entity kind") {
		t.Errorf("subscribe dlq.> = %v, want the pattern refused, pointing at 'wirewatch dlq list'", err)
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
		{[]string{"items.tagged"}, 17, func(it pipeline.Item) bool { return it.StoryID != "" }},
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

	// -c: reach the daemon as its config says (nats.listen), unless a flag
	// or variable says otherwise; a config with no listener is refused.
	t.Run("config", func(t *testing.T) {
		dir := t.TempDir()
		write := func(name, yaml string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		listening := write("listening.yaml", "nats:\n  listen: "+strings.TrimPrefix(srv.ClientURL(), "nats://")+"\n")
		if lines := subscribeOutput(t, "-c", listening, "--all", "--json", "alaska-summit"); len(lines) < 5 {
			t.Errorf("subscribe -c (nats.listen): %d items, want the 5 alaska-summit ones", len(lines))
		}
		var out bytes.Buffer
		err := run(t.Context(), []string{"subscribe", "-c", listening, "--nats-url", "nats://127.0.0.1:1", "alaska-summit"}, stdio{out: &out, err: &out, getenv: env(nil)})
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("subscribe -c with --nats-url: %v, want the flag's URL tried", err)
		}
		out.Reset()
		err = run(t.Context(), []string{"dlq", "list", "-c", write("other.yaml", "nats:\n  listen: "+strings.TrimPrefix(srv.ClientURL(), "nats://")+"\n  prefix: other.\n")},
			stdio{out: &out, err: &out, getenv: env(nil)})
		if err == nil || !strings.Contains(err.Error(), `"other."`) {
			t.Errorf("dlq list -c with nats.prefix other.: %v, want the config's prefix named", err)
		}
		err = run(t.Context(), []string{"subscribe", "-c", write("closed.yaml", "nats:\n  listen: \"\"\n"), "alaska-summit"}, stdio{out: &out, err: &out, getenv: env(nil)})
		if err == nil || !strings.Contains(err.Error(), "nats.listen is off") {
			t.Errorf("subscribe -c with no listener: %v, want it refused", err)
		}
	})

	// Story events: every story is created once, grows one report at a
	// time, and the Alaska story ends with its eight reports (five seeds,
	// three syndicated copies; an update sends no event).
	t.Run("stories", func(t *testing.T) {
		var events []dedup.StoryEvent
		created, biggest := map[string]bool{}, dedup.StoryEvent{}
		for _, l := range subscribeOutput(t, "--nats-url", srv.ClientURL(), "--all", "--json", "stories.>") {
			var ev dedup.StoryEvent
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("bad line %q: %v", l, err)
			}
			events = append(events, ev)
			switch ev.Event {
			case dedup.EventCreated:
				if created[ev.StoryID] || ev.Size != 1 {
					t.Errorf("story %s created twice or with size %d", ev.StoryID, ev.Size)
				}
				created[ev.StoryID] = true
			case dedup.EventGrew:
				if !created[ev.StoryID] {
					t.Errorf("story %s grew before it was created", ev.StoryID)
				}
			}
			if ev.Size > biggest.Size {
				biggest = ev
			}
		}
		if len(created) < 10 || biggest.Size != 8 {
			t.Fatalf("%d stories created, biggest of size %d; want the bundled stories and the Alaska story of 8", len(created), biggest.Size)
		}
		// One story: only its events, the same as above.
		var want int
		for _, ev := range events {
			if ev.StoryID == biggest.StoryID {
				want++
			}
		}
		lines := subscribeOutput(t, "--nats-url", srv.ClientURL(), "--all", "stories."+biggest.StoryID)
		var got int
		for _, l := range lines {
			if strings.Contains(l, " "+biggest.StoryID+" ") {
				got++
			}
		}
		if got != want || want != 8 {
			t.Errorf("following story %s printed %d events (%d lines), want %d (8)", biggest.StoryID, got, len(lines), want)
		}
	})

	// items.tagged and items.tagged.> together: every item, the copies and
	// the update marked in the text form.
	t.Run("every item as text", func(t *testing.T) {
		lines := subscribeOutput(t, "--nats-url", srv.ClientURL(), "--all", "items.tagged", "items.tagged.>")
		text := strings.Join(lines, "\n")
		var items int
		for _, l := range lines {
			if !strings.HasPrefix(l, " ") {
				items++
			}
		}
		if items != 23 || strings.Count(text, "(syndicated)") != 3 || strings.Count(text, "(exact)") != 2 || strings.Count(text, "  update") != 1 {
			t.Errorf("subscribe items.tagged items.tagged.> printed %d items (want 23), want 3 syndicated and 2 exact copies and 1 update marked:\n%s", items, text)
		}
		if strings.Contains(text, "tags:  ") || strings.Contains(text, "tags: \n") {
			t.Errorf("an item without tags printed an empty tags label:\n%s", text)
		}
	})

	// Flags after the pattern count: -n 2 ends the command after two items.
	t.Run("flags after pattern", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		var out, errb bytes.Buffer
		args := []string{"subscribe", "alaska-summit", "--nats-url", srv.ClientURL(), "--all", "--json", "-n", "2"}
		if err := run(ctx, args, stdio{out: &out, err: &errb, getenv: env(nil)}); err != nil {
			t.Fatalf("subscribe %q: %v\n%s", args, err, errb.String())
		}
		if ctx.Err() != nil {
			t.Fatalf("subscribe %q ran until its deadline, want it to stop after 2 items", args)
		}
		if n := strings.Count(strings.TrimSpace(out.String()), "\n") + 1; n != 2 {
			t.Errorf("subscribe %q printed %d items, want 2", args, n)
		}
		if strings.Contains(errb.String(), "items.tag.-n") {
			t.Errorf("subscribe %q took a flag as a pattern: %s", args, errb.String())
		}
	})

	// A dead letter replayed to one sink ('wirewatch dlq replay') goes
	// back on items.tagged; subscribers saw it when it was news and must
	// not see it again, while an item published after it still shows.
	t.Run("replayed dead letter", func(t *testing.T) {
		nc, err := srv.Connect()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		subj := pipeline.MustSubjects("")
		for _, id := range []string{"replayed-item", "fresh-item"} {
			it := pipeline.Item{ID: id, Feed: "wire", Title: id, StoryID: "s-" + id}
			data, err := it.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			msg := nats.NewMsg(subj.Tagged())
			msg.Data = data
			if id == "replayed-item" {
				msg.Header.Set(pipeline.HeaderReplayFor, "sqlite")
			}
			if err := nc.PublishMsg(msg); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		out := strings.Join(subscribeOutput(t, "--nats-url", srv.ClientURL(), "--since", "1h", "--json", "items.tagged"), "\n")
		if !strings.Contains(out, `"fresh-item"`) {
			t.Fatalf("subscribe missed the item published after the replay:\n%s", out)
		}
		if strings.Contains(out, `"replayed-item"`) {
			t.Errorf("subscribe printed a dead letter replayed to the sqlite sink")
		}
	})

	// A prefix no wirewatch on the server uses is named, with --prefix.
	t.Run("unknown prefix", func(t *testing.T) {
		var out bytes.Buffer
		err := run(t.Context(), []string{"subscribe", "--nats-url", srv.ClientURL(), "--prefix", "other.", "ceasefire"}, stdio{out: &out, err: &out, getenv: env(nil)})
		if err == nil || !strings.Contains(err.Error(), `no wirewatch with prefix "other."`) || !strings.Contains(err.Error(), "--prefix") {
			t.Errorf("subscribe --prefix other. = %v, want no wirewatch with that prefix named, and --prefix", err)
		}
	})
}

// subscribeOutput runs 'wirewatch subscribe ARGS' for 3 s and returns its
// output lines.
func subscribeOutput(t *testing.T, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	go func() { time.Sleep(3 * time.Second); cancel() }()
	var out, errb bytes.Buffer
	if err := run(ctx, append([]string{"subscribe"}, args...), stdio{out: &out, err: &errb, getenv: env(nil)}); err != nil {
		t.Fatalf("subscribe %v: %v\n%s", args, err, errb.String())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
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
