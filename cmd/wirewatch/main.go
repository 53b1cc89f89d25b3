// Command wirewatch is an event-driven news feed monitor: it polls feeds,
// removes duplicates, groups stories, tags items and delivers them to NATS
// subjects and stores. Run "wirewatch help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// stdio bundles a command's standard streams and environment, so commands
// are tested without touching the process's own.
type stdio struct {
	in     io.Reader
	out    io.Writer
	err    io.Writer
	getenv func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, s stdio) error
}

func commands() map[string]command {
	return map[string]command{
		"run":       {"run the daemon: poll feeds, dedup, tag, deliver to sinks", runDaemon},
		"replay":    {"run the full pipeline over a directory of feed files and print a summary", runReplay},
		"subscribe": {"print tagged items live from a running wirewatch", runSubscribe},
		"stories":   {"list the stored stories, each once, with their outlets and tags", runStories},
		"extract": {"print the body text the parser keeps from an HTML page", func(ctx context.Context, args []string, s stdio) error {
			return runExtract(ctx, args, s.in, s.out, s.err)
		}},
		"feeds": {"list feed health, import/export OPML, discover a site's feeds", func(ctx context.Context, args []string, s stdio) error {
			return runFeeds(ctx, args, s.in, s.out, s.err)
		}},
		"tags": {"try tagging rules on a text, list rules", func(ctx context.Context, args []string, s stdio) error {
			return runTags(ctx, args, s.in, s.out, s.err)
		}},
		"config":  {"check a config file and print it resolved (config check -c FILE)", runConfig},
		"version": {"print the version", runVersion},
	}
}

func main() {
	s := stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv}
	if err := run(context.Background(), os.Args[1:], s); err != nil {
		if !errors.Is(err, errQuiet) {
			fmt.Fprintln(os.Stderr, "wirewatch:", err)
		}
		os.Exit(1)
	}
}

// errQuiet is returned when the command already told the user what went
// wrong (usage printed, summary with failures printed).
var errQuiet = errors.New("quiet failure")

func run(ctx context.Context, args []string, s stdio) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				return c.run(ctx, []string{"-h"}, s)
			}
		}
		usage(s.out, cmds)
		return nil
	}
	if args[0] == "-v" || args[0] == "--version" {
		return runVersion(ctx, nil, s)
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(s.err, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	err := c.run(ctx, args[1:], s)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("wirewatch: event-driven news feed monitor\n\nUsage:\n  wirewatch <command> [flags]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'wirewatch <command> -h' for a command's flags.\n")
	b.WriteString("Quick start: 'wirewatch replay' runs the bundled summit feeds through the whole pipeline.\n")
	io.WriteString(w, b.String())
}

// newFlagSet returns a FlagSet that prints its usage with a one-line
// synopsis and returns errors instead of exiting.
func newFlagSet(name, synopsis string, s stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(s.err)
	fs.Usage = func() {
		fmt.Fprintf(s.err, "Usage: wirewatch %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// count says "1 copy", "2 copies", "0 outlets".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
