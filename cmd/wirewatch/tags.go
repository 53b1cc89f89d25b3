package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/tag"
)

const tagsSynopsis = `tags test [--rules FILE]... [--no-gazetteer] [--title T] [--json] < text
       wirewatch tags list [--rules FILE]... [--no-gazetteer] [--kind K] [--all]

test  tags the text read from stdin (its first line is the title unless
      --title is given) and prints every tag with its evidence
      (field:start-end "match", byte offsets) and every entity mentioned.
list  prints the topics and entities of the rules; the built-in gazetteer's
      entities only with --all.

Rules are the given YAML files or directories merged over the built-in
gazetteer (--no-gazetteer leaves it out). See docs/tagging.md.`

// tagKinds are the values of tags list --kind.
var tagKinds = []string{tag.KindTopic, tag.KindPerson, tag.KindPlace, tag.KindOrg, tag.KindOther}

// runTags implements "wirewatch tags".
func runTags(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("tags", tagsSynopsis, stdio{in: stdin, out: stdout, err: stderr})
	var rules stringList
	fs.Var(&rules, "rules", "rules `file` or directory (repeatable; later override earlier by id)")
	noGaz := fs.Bool("no-gazetteer", false, "leave out the built-in world gazetteer")
	title := fs.String("title", "", "the item's title (test; default: the first line of stdin)")
	asJSON := fs.Bool("json", false, "print the tags and entities as JSON (test)")
	kind := fs.String("kind", "", "list only this `kind`: "+strings.Join(tagKinds, ", "))
	all := fs.Bool("all", false, "list the gazetteer's entities too (list)")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return fs.usageErr("want a subcommand: test or list")
	}
	sub := pos[0]
	if sub != "test" && sub != "list" {
		return fs.usageErr("unknown subcommand %q (want test or list)", sub)
	}
	if err := fs.noArgs(pos[1:], func(w string) string {
		switch strings.ToLower(filepath.Ext(w)) {
		case ".yaml", ".yml":
			return "give rule files with --rules"
		}
		if sub == "test" {
			return "the text is read from standard input: wirewatch tags test < FILE"
		}
		return ""
	}); err != nil {
		return err
	}
	if *kind != "" && !slices.Contains(tagKinds, *kind) {
		return fs.usageErr("--kind %q: want one of %s", *kind, strings.Join(tagKinds, ", "))
	}
	var r *tag.Rules
	if *noGaz {
		r, err = tag.LoadFiles(rules...)
	} else {
		r, err = tag.Load(rules...)
	}
	if err != nil {
		return err
	}
	if sub == "test" {
		return tagsTest(ctx, r, *title, *asJSON, stdin, stdout)
	}
	return tagsList(r, *kind, *all, stdout)
}

func tagsTest(_ context.Context, r *tag.Rules, title string, asJSON bool, stdin io.Reader, stdout io.Writer) error {
	data, err := io.ReadAll(io.LimitReader(stdin, 64<<20))
	if err != nil {
		return fmt.Errorf("tags test: read stdin: %w", err)
	}
	text := string(data)
	if title == "" {
		title, text, _ = strings.Cut(text, "\n")
	}
	it := &pipeline.Item{Title: title, Text: text}
	tag.New(r).Tag(it)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Tags     []pipeline.Tag    `json:"tags"`
			Entities []pipeline.Entity `json:"entities"`
		}{it.Tags, it.Entities})
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "TAGS\t\t\n")
	for _, tg := range it.Tags {
		var ev []string
		for _, e := range tg.Evidence {
			ev = append(ev, fmt.Sprintf("%s:%d-%d %q", e.Field, e.Start, e.End, e.Match))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", tg.Kind, tg.Tag, strings.Join(ev, " "))
	}
	fmt.Fprintf(w, "\nENTITIES\t\t\n")
	for _, e := range it.Entities {
		fmt.Fprintf(w, "%s\t%s\t%s (%d)\n", e.Kind, e.ID, e.Label, e.Mentions)
	}
	return w.Flush()
}

func tagsList(r *tag.Rules, kind string, all bool, stdout io.Writer) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if kind == "" || kind == tag.KindTopic {
		for _, t := range r.Topics {
			fmt.Fprintf(w, "topic\t%s\t%s\t%s\n", t.ID, t.Label, t.Source)
		}
	}
	hidden := 0
	for _, e := range r.Entities {
		if kind != "" && e.Kind != kind {
			continue
		}
		if !all && strings.HasPrefix(e.Source, "gazetteer.tsv:") {
			hidden++
			continue
		}
		var names []string
		for _, a := range e.Aliases {
			names = append(names, a.Text)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Kind, e.ID, e.Label, strings.Join(names, ", "))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if hidden > 0 {
		fmt.Fprintf(stdout, "(%d gazetteer entities not shown; --all lists them)\n", hidden)
	}
	return nil
}
