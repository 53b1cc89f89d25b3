package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testPage = `<html lang="en"><head><title>T</title></head><body><nav><a href="/">Home</a></nav>
<article><h1>Headline</h1><p>First paragraph of the story, with enough words to count as prose here.</p>
<p>Second paragraph, which also says something, at some length, about the matter.</p></article>
<footer>© 2025 Example</footer></body></html>`

func TestRunExtract(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "page.html")
	if err := os.WriteFile(file, []byte(testPage), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    string
		wantErr bool
	}{
		{"stdin", nil, testPage, "First paragraph of the story, with enough words to count as prose here.\n\nSecond paragraph, which also says something, at some length, about the matter.\n", false},
		{"file", []string{file}, "", "First paragraph", false},
		{"title", []string{"--title", "--url", "https://example.com/a", file}, "", "title: Headline\nlang: en\nsource: dom\n", false},
		{"fragment", []string{"--fragment"}, "<p>One.</p><p>Read more</p>", "One.\n", false},
		{"help", []string{"-h"}, "", "", false},
		{"missing file", []string{filepath.Join(dir, "nope.html")}, "", "", true},
		{"two files", []string{file, file}, "", "", true},
		{"batch wants dirs", []string{"--batch", dir}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runExtract(t.Context(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if errors.Is(err, flag.ErrHelp) { // what run turns into success
				err = nil
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("runExtract(%q) error = %v, wantErr %v (stderr %s)", tt.args, err, tt.wantErr, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.want) {
				t.Errorf("runExtract(%q) stdout = %q, want it to contain %q", tt.args, stdout.String(), tt.want)
			}
			if strings.Contains(stdout.String(), "Home") || strings.Contains(stdout.String(), "©") {
				t.Errorf("runExtract(%q) kept navigation or footer: %q", tt.args, stdout.String())
			}
		})
	}
}

func TestRunExtractBatch(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	pages := map[string]string{"a1": testPage, "b2": "<p>not much</p>", "c3": ""}
	for id, p := range pages {
		if err := os.WriteFile(filepath.Join(in, id+".html"), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(in, "urls.tsv"), []byte("a1\thttps://example.com/a1\n"), 0o644)
	var stdout, stderr bytes.Buffer
	if err := runExtract(t.Context(), []string{"--batch", in, out}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("runExtract --batch: %v (stderr %s)", err, stderr.String())
	}
	for id := range pages {
		b, err := os.ReadFile(filepath.Join(out, id+".txt"))
		if err != nil {
			t.Fatalf("batch output for %s: %v", id, err)
		}
		if id == "a1" && !strings.HasPrefix(string(b), "First paragraph") {
			t.Errorf("batch %s.txt = %q, want the article text", id, b)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "urls.txt")); err == nil {
		t.Error("batch wrote urls.txt for urls.tsv")
	}
}
