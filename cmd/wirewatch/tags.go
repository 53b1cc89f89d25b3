package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/tag"
)

const tagsUsage = `usage: wirewatch tags test [--rules F]... [--title T] [--json] < text
       wirewatch tags list [--rules F]... [--kind K] [--all]

test  tags the text read from stdin (its first line is the title unless
      --title is given) and prints every tag with its evidence
      (field:start-end "match", byte offsets) and every entity mentioned.
list  prints the topics and entities of the rules; the built-in gazetteer's
      entities only with --all.

Rules are the given YAML files or directories merged over the built-in
gazetteer (--no-gazetteer leaves it out). See docs/tagging.md.

flags:
`

// runTags implements "wirewatch tags".
func runTags(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	sub := "test"
	if len(args) > 0 {
		sub = args[0]
	}
	fs := flag.NewFlagSet("tags "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rules stringList
	fs.Var(&rules, "rules", "rules `FILE` or directory (repeatable; later override earlier by id)")
	noGaz := fs.Bool("no-gazetteer", false, "leave out the built-in world gazetteer")
	title := fs.String("title", "", "the item's title (default: the first line of stdin)")
	asJSON := fs.Bool("json", false, "print the tags and entities as JSON")
	kind := fs.String("kind", "", "list only this kind: topic, person, place, org or other")
	all := fs.Bool("all", false, "list the gazetteer's entities too")
	fs.Usage = func() {
		fmt.Fprint(stderr, tagsUsage)
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fs.Usage()
		if len(args) == 0 {
			return errors.New("tags: want a subcommand: test or list")
		}
		return nil
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("tags %s: unexpected argument %q", sub, fs.Arg(0))
	}
	var r *tag.Rules
	var err error
	if *noGaz {
		r, err = tag.LoadFiles(rules...)
	} else {
		r, err = tag.Load(rules...)
	}
	if err != nil {
		return err
	}
	switch sub {
	case "test":
		return tagsTest(ctx, r, *title, *asJSON, stdin, stdout)
	case "list":
		return tagsList(r, *kind, *all, stdout)
	}
	fs.Usage()
	return fmt.Errorf("tags: unknown subcommand %q (want test or list)", sub)
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
