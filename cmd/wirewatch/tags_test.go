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

func TestRunTags(t *testing.T) {
	summit := filepath.Join("..", "..", "testdata", "rules", "summit.yaml")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("entities:\n  - id: x\n    kind: thing\n    aliases: [X]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	article := "Putin and Trump leave Alaska summit with no deal\nANCHORAGE (AFP) - “Next time in Moscow,” Putin told Trump. Ukraine wants security guarantees."
	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    []string // in stdout
		wantErr string
	}{
		{"test", []string{"test", "--rules", summit}, article,
			[]string{"topic", "alaska-summit", `title:29-35 "summit"`, "next-summit", "person", "putin", "Vladimir Putin (", "usa"}, ""},
		{"test json", []string{"test", "--rules", summit, "--json"}, article, []string{`"tag": "alaska-summit"`, `"mentions":`}, ""},
		{"test title flag", []string{"test", "--rules", summit, "--title", "Kremlin"}, "nothing here", []string{"kremlin"}, ""},
		{"list topics", []string{"list", "--rules", summit, "--kind", "topic"}, "", []string{"peace-talks", "summit.yaml:"}, ""},
		{"list hides gazetteer", []string{"list"}, "", []string{"gazetteer entities not shown"}, ""},
		{"bad rules", []string{"list", "--rules", bad}, "", nil, "bad.yaml:2"},
		{"unknown subcommand", []string{"frob"}, "", nil, "unknown subcommand"},
		{"no subcommand", nil, "", nil, "want a subcommand"},
		{"help", []string{"-h"}, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runTags(t.Context(), tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if errors.Is(err, flag.ErrHelp) { // what run turns into success
				err = nil
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("runTags(%v) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("runTags(%v) = %v", tt.args, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("runTags(%v) output lacks %q:\n%s", tt.args, w, out.String())
				}
			}
		})
	}
}
