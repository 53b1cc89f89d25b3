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
	"path/filepath"
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
		"feeds": {"list feed health, import/export OPML, discover and preview feeds", func(ctx context.Context, args []string, s stdio) error {
			return runFeeds(ctx, args, s.in, s.out, s.err)
		}},
		"tags": {"try tagging rules on a text, list rules", func(ctx context.Context, args []string, s stdio) error {
			return runTags(ctx, args, s.in, s.out, s.err)
		}},
		"dlq":     {"list dead letters, replay them to the stage that gave up", runDLQ},
		"sinks":   {"list the sinks' consumers, delete those of sinks that are gone", runSinks},
		"config":  {"check a config file and print it resolved (config check -c FILE)", runConfig},
		"version": {"print the version", runVersion},
	}
}

func main() {
	s := stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv}
	os.Exit(report(run(context.Background(), os.Args[1:], s), os.Stderr))
}

// report prints err (unless the command already did) and returns the exit
// status: 0 for none, 2 for a command line that is wrong (unknown command
// or flag, a bad flag value, a missing or stray argument), with a hint
// where to find the command's usage, 1 for anything else.
func report(err error, w io.Writer) int {
	if err == nil {
		return 0
	}
	if !errors.Is(err, errQuiet) {
		fmt.Fprintln(w, "wirewatch:", err)
	}
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.cmd != "" {
			fmt.Fprintf(w, "Run 'wirewatch %s -h' for its usage.\n", ue.cmd)
		}
		return 2
	}
	return 1
}

// errQuiet is returned when the command already told the user what went
// wrong (usage printed, summary with failures printed).
var errQuiet = errors.New("quiet failure")

// usageError is a command line that cannot be run as given: an unknown
// command or flag, a bad flag value, a missing or stray argument. cmd
// names the command whose -h explains it ("" for the top level).
type usageError struct {
	cmd string
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// flagValueErr is err from Config.Validate of command cmd, after its
// flags were set with Config.setFlag: a usageError when a line of it is
// blamed on a flag ("--http: …"), since a bad flag value is a wrong
// command line (exit 2), while a bad file or environment variable is not.
func flagValueErr(cmd string, err error) error {
	if err == nil {
		return nil
	}
	for l := range strings.Lines(err.Error()) {
		if strings.HasPrefix(l, "--") {
			return &usageError{cmd: cmd, err: err}
		}
	}
	return err
}

func run(ctx context.Context, args []string, s stdio) error {
	cmds := commands()
	if len(args) == 0 {
		usage(s.err, cmds)
		return &usageError{err: fmt.Errorf("no command given: %w", errQuiet)}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		switch len(args) {
		case 1:
			usage(s.out, cmds)
			return nil
		case 2:
			c, ok := cmds[args[1]]
			if !ok {
				return &usageError{err: fmt.Errorf("help: unknown command %q (see 'wirewatch help')", args[1])}
			}
			err := c.run(ctx, []string{"-h"}, s)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		default:
			return &usageError{err: fmt.Errorf("help: want one command, got %q", args[1:])}
		}
	}
	if args[0] == "-v" || args[0] == "--version" {
		return runVersion(ctx, nil, s)
	}
	c, ok := cmds[args[0]]
	if !ok {
		return &usageError{err: fmt.Errorf("unknown command %q (see 'wirewatch help')", args[0])}
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
	b.WriteString("wirewatch: event-driven news feed monitor\n\nUsage:\n  wirewatch <command> [flags] [arguments]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'wirewatch help <command>' or 'wirewatch <command> -h' for a command's flags.\n")
	b.WriteString("Exit status: 0 done, 1 failed, 2 the command line is wrong.\n")
	b.WriteString("Quick start: 'wirewatch replay' runs the bundled summit feeds through the whole pipeline.\n")
	io.WriteString(w, b.String())
}

// cmdFlags is a command's flag set. Its parse takes flags anywhere among
// the positional arguments, prints the usage to stdout on -h, and turns
// every command-line mistake into a usageError (the message and a hint,
// not the whole usage).
type cmdFlags struct {
	*flag.FlagSet
	name     string // the command as typed: "run", "feeds", "config check"
	synopsis string
	s        stdio
}

// newFlagSet returns the flag set of command name; synopsis is its usage
// text after "Usage: wirewatch ".
func newFlagSet(name, synopsis string, s stdio) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// parse reports errors and prints the usage itself.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, name: name, synopsis: synopsis, s: s}
}

// printUsage writes the synopsis and the flags, if the command has any.
func (f *cmdFlags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: wirewatch %s\n", strings.TrimRight(f.synopsis, "\n"))
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	io.WriteString(w, "\nFlags:\n")
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// help prints the usage to stdout and returns flag.ErrHelp, which the
// command returns and run turns into success.
func (f *cmdFlags) help() error {
	f.printUsage(f.s.out)
	return flag.ErrHelp
}

// usageErr is a command-line mistake of this command.
func (f *cmdFlags) usageErr(format string, a ...any) error {
	return &usageError{cmd: strings.Fields(f.name)[0], err: errors.New(f.name + ": " + fmt.Sprintf(format, a...))}
}

// parse parses args and returns the positional arguments in order. Unlike
// flag.FlagSet.Parse it does not stop at the first of them: "subscribe foo
// -n 1" sets -n. "--" ends the flags; everything after it is positional.
// -h or --help prints the usage to stdout and returns flag.ErrHelp.
func (f *cmdFlags) parse(args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if strings.Contains(name, "=") {
			continue
		}
		fl := f.Lookup(name)
		if fl == nil || isBoolFlag(fl) {
			continue // an unknown flag is reported by Parse
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i]) // the value, even if it starts with a dash
		}
	}
	if err := f.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, f.help()
		}
		return nil, f.usageErr("%v", err)
	}
	return pos, nil
}

func isBoolFlag(fl *flag.Flag) bool {
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// noArgs refuses positional arguments of a command that takes none. hint,
// if not nil, says what the word was likely meant for ("" when it cannot
// tell); a word that is the name of a flag gets "did you mean --word?".
func (f *cmdFlags) noArgs(pos []string, hint func(word string) string) error {
	if len(pos) == 0 {
		return nil
	}
	w := pos[0]
	h := ""
	if hint != nil {
		h = hint(w)
	}
	if h == "" && f.Lookup(w) != nil {
		h = "did you mean --" + w + "?"
	}
	if h != "" {
		return f.usageErr("unexpected argument %q (%s)", w, h)
	}
	return f.usageErr("unexpected argument %q (%s takes no arguments)", w, f.name)
}

// configHint is the hint for a stray word of a command with -c: a YAML
// file is most likely the config.
func configHint(w string) string {
	switch strings.ToLower(filepath.Ext(w)) {
	case ".yaml", ".yml":
		return "give the config file with -c"
	}
	return ""
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
