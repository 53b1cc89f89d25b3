package sinks

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/wirewatch/wirewatch/pipeline"
)

func TestJSONLIdempotentAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	a := &pipeline.Item{ID: "a", Feed: "f", Title: "A", Text: "alpha", ContentHash: "h1"}
	b := &pipeline.Item{ID: "b", Feed: "f", Title: "B", Text: "beta", ContentHash: "h2"}
	aEdited := *a
	aEdited.Title = "A (updated)"

	s, err := OpenJSONL(path, false)
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

	s, err = OpenJSONL(path, true)
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
	if _, err := OpenJSONL(path, false); err == nil {
		t.Fatalf("OpenJSONL(garbage) = nil error, want one naming the line")
	}
}
