package sinks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

func TestJSONLIdempotentAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	a := &pipeline.Item{ID: "a", Feed: "f", Title: "A", Text: "alpha", ContentHash: "h1"}
	b := &pipeline.Item{ID: "b", Feed: "f", Title: "B", Text: "beta", ContentHash: "h2"}
	aEdited := *a
	aEdited.Title = "A (updated)"

	s, err := OpenJSONL(JSONLConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range []*pipeline.Item{a, b, a} { // a redelivered
		if err := s.Write(t.Context(), it); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash mid-write: a torn line at the end.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"c","feed":"f","tit`)
	f.Close()

	s, err = OpenJSONL(JSONLConfig{Path: path, Fsync: true})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if got := s.Len(); got != 2 {
		t.Errorf("after reopen Len() = %d, want 2", got)
	}
	for _, it := range []*pipeline.Item{b, &aEdited} { // b again after restart, a's edit
		if err := s.Write(t.Context(), it); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	data, _ := os.ReadFile(path)
	lines := bytes.Count(data, []byte("\n"))
	if lines != 3 {
		t.Errorf("file has %d lines, want 3 (a, b, a edited):\n%s", lines, data)
	}
	if bytes.Contains(data, []byte(`"tit`+"\n")) || bytes.HasSuffix(data, []byte(`"tit`)) {
		t.Errorf("torn line survived:\n%s", data)
	}
}

func TestJSONLRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	os.WriteFile(path, []byte("not json\n"), 0o644)
	if _, err := OpenJSONL(JSONLConfig{Path: path}); err == nil {
		t.Fatalf("OpenJSONL(garbage) = nil error, want one naming the line")
	}
}

// jsonlItems reads every line of the files and returns the item IDs in
// order, failing on a line that is not an item.
func jsonlItems(t *testing.T, files ...string) []string {
	t.Helper()
	var ids []string
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var it pipeline.Item
			if err := json.Unmarshal(line, &it); err != nil {
				t.Fatalf("%s line %d: %v", name, i+1, err)
			}
			ids = append(ids, it.ID)
		}
	}
	return ids
}

// rotatedFiles lists the items-*.jsonl files in dir, oldest first.
func rotatedFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries { // sorted by name, and so by time
		if strings.HasPrefix(e.Name(), "items-") && strings.HasSuffix(e.Name(), ".jsonl") {
			names = append(names, filepath.Join(dir, e.Name()))
		}
	}
	return names
}

func jsonlItem(i int) *pipeline.Item {
	id := fmt.Sprintf("item-%03d", i)
	return &pipeline.Item{ID: id, Feed: "f", Title: "Title " + id, Text: strings.Repeat("word ", 20), ContentHash: "h" + id}
}

func TestJSONLRotation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxFiles int
	}{
		{"keep all", 0},
		{"keep 2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "glob[1]*") // names filepath.Match would misread
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "items.jsonl")
			cfg := JSONLConfig{Path: path, MaxSize: 1000, MaxFiles: tc.maxFiles}
			s, err := OpenJSONL(cfg)
			if err != nil {
				t.Fatal(err)
			}
			clock := time.Date(2026, 11, 21, 13, 0, 0, 0, time.UTC)
			s.now = func() time.Time { return clock } // every rotation in one millisecond: names must still differ
			const n = 40
			for i := range n {
				if err := s.Write(t.Context(), jsonlItem(i)); err != nil {
					t.Fatal(err)
				}
				// A redelivery of the item before, which may be in the
				// file rotated just now, is not written again.
				if i > 0 {
					if err := s.Write(t.Context(), jsonlItem(i-1)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rotated := rotatedFiles(t, dir)
			if tc.maxFiles == 0 && len(rotated) < 3 {
				t.Fatalf("rotated files %v: want several for %d items of ~200 bytes at max_size 1000", rotated, n)
			}
			if tc.maxFiles > 0 && len(rotated) != tc.maxFiles {
				t.Errorf("%d rotated files kept, want max_files %d: %v", len(rotated), tc.maxFiles, rotated)
			}
			for _, name := range append(rotated, path) {
				if fi, _ := os.Stat(name); fi.Size() > cfg.MaxSize {
					t.Errorf("%s has %d bytes, over max_size %d", name, fi.Size(), cfg.MaxSize)
				}
			}
			got := jsonlItems(t, append(rotated, path)...)
			first := n - len(got)
			if tc.maxFiles == 0 && first != 0 {
				t.Errorf("%d items in the files, want all %d", len(got), n)
			}
			for i, id := range got {
				if want := jsonlItem(first + i).ID; id != want {
					t.Fatalf("item %d in the files is %s, want %s (each item once, in order):\n%v", i, id, want, got)
				}
			}

			// After a restart, the last items of the newest rotated file
			// are still known: a redelivery of them is not written again.
			s, err = OpenJSONL(cfg)
			if err != nil {
				t.Fatal(err)
			}
			inCurrent := len(jsonlItems(t, path))
			for i := n - inCurrent - 2; i < n; i++ {
				if err := s.Write(t.Context(), jsonlItem(i)); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			rotated2 := rotatedFiles(t, dir)
			if again := jsonlItems(t, append(rotated2, path)...); len(again) != len(got) && tc.maxFiles == 0 {
				t.Errorf("after a restart and redeliveries the files hold %d items, want %d", len(again), len(got))
			}
			if cur := jsonlItems(t, path); len(cur) != inCurrent {
				t.Errorf("current file has %d items after redeliveries, want %d", len(cur), inCurrent)
			}
		})
	}
}

// TestJSONLFollowsFile moves, deletes and truncates the file under an open
// sink, as logrotate does: the next item goes to a new file at the path, and
// a redelivery of an item written before is not written again.
func TestJSONLFollowsFile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(path string) error
	}{
		{"moved", func(p string) error { return os.Rename(p, p+".1") }},
		{"deleted", os.Remove},
		{"copied and truncated", func(p string) error {
			data, err := os.ReadFile(p)
			if err == nil {
				err = os.WriteFile(p+".1", data, 0o644)
			}
			if err == nil {
				err = os.Truncate(p, 0)
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "items.jsonl")
			s, err := OpenJSONL(JSONLConfig{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := range 3 {
				if err := s.Write(t.Context(), jsonlItem(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.change(path); err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{2, 3} { // 2 redelivered, 3 new
				if err := s.Write(t.Context(), jsonlItem(i)); err != nil {
					t.Fatal(err)
				}
			}
			if got := jsonlItems(t, path); !slices.Equal(got, []string{"item-003"}) {
				t.Errorf("file at the path holds %v, want only the new item-003", got)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(t.Context(), jsonlItem(4)); err == nil {
				t.Error("Write after Close = nil error")
			}
		})
	}
}

// BenchmarkJSONLWrite measures one new item per op, without fsync, with
// rotation at the default size and without.
func BenchmarkJSONLWrite(b *testing.B) {
	for _, maxSize := range []int64{0, 256 << 20} {
		b.Run(fmt.Sprintf("max_size=%d", maxSize), func(b *testing.B) {
			s, err := OpenJSONL(JSONLConfig{Path: filepath.Join(b.TempDir(), "items.jsonl"), MaxSize: maxSize})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchWrites(b, s.Write)
		})
	}
}

// TestJSONLOneWriter: a second sink on the same path (a second process
// with the same config) is refused, naming the key to change, instead of
// interleaving its lines with the first one's.
func TestJSONLOneWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items.jsonl")
	a, err := OpenJSONL(JSONLConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := OpenJSONL(JSONLConfig{Path: path}); err == nil {
		b.Close()
		t.Fatal("second OpenJSONL on the same path = nil error")
	} else if !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), "sinks.jsonl.path") {
		t.Errorf("second OpenJSONL: %v; want it to say the file is in use and name sinks.jsonl.path", err)
	}
	a.Close()
	b, err := OpenJSONL(JSONLConfig{Path: path})
	if err != nil {
		t.Fatalf("OpenJSONL after the first closed: %v", err)
	}
	b.Close()
}
