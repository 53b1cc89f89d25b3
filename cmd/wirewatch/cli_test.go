package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestParseFlags checks that flags are taken anywhere among the
// positional arguments, and that "--" and flag values are respected.
func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		pos  []string
		n    int
		c    string
		json bool
	}{
		{"flags first", []string{"-n", "1", "foo"}, []string{"foo"}, 1, "", false},
		{"flags after", []string{"foo", "-n", "1"}, []string{"foo"}, 1, "", false},
		{"flags between", []string{"foo", "--json", "bar", "-c=x.yaml", "baz"}, []string{"foo", "bar", "baz"}, 0, "x.yaml", true},
		{"negative value", []string{"foo", "-n", "-1"}, []string{"foo"}, -1, "", false},
		{"dash is positional", []string{"-", "-n", "2"}, []string{"-"}, 2, "", false},
		{"double dash ends flags", []string{"foo", "--", "-n", "1"}, []string{"foo", "-n", "1"}, 0, "", false},
		{"double dash as a value", []string{"-c", "--", "foo", "-n", "3"}, []string{"foo"}, 3, "--", false},
		{"bool with value", []string{"--json=false", "foo"}, []string{"foo"}, 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet("test", "test", stdio{out: &bytes.Buffer{}, err: &bytes.Buffer{}})
			n := fs.Int("n", 0, "")
			c := fs.String("c", "", "")
			asJSON := fs.Bool("json", false, "")
			pos, err := fs.parse(tt.args)
			if err != nil {
				t.Fatalf("parse(%q): %v", tt.args, err)
			}
			if !slices.Equal(pos, tt.pos) || *n != tt.n || *c != tt.c || *asJSON != tt.json {
				t.Errorf("parse(%q) = %q, -n %d, -c %q, --json %v; want %q, -n %d, -c %q, --json %v",
					tt.args, pos, *n, *c, *asJSON, tt.pos, tt.n, tt.c, tt.json)
			}
		})
	}
}

// TestCommandLine runs the binary's entry point on command lines with
// mistakes in them and checks the exit status, the message and where the
// output goes: help to stdout with status 0, mistakes to stderr with
// status 2, a one-line hint instead of the whole usage.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "g.yaml")
	if err := os.WriteFile(cfg, []byte("feeds: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := env(map[string]string{"HOME": dir})
	tests := []struct {
		name        string
		args        []string
		code        int
		stderr      []string // in stderr
		stdout      []string // in stdout
		notStdout   []string
		notStderr   []string
		emptyStdout bool
	}{
		// H1: stray words are errors, with the likely intent.
		{"config check file without -c", []string{"config", "check", "g.yaml"}, 2,
			[]string{`config check: unexpected argument "g.yaml" (give the config file with -c)`, "Run 'wirewatch config -h'"}, nil, nil, nil, true},
		{"config check extra word", []string{"config", "check", "-c", cfg, "extra"}, 2,
			[]string{`unexpected argument "extra"`}, nil, nil, nil, true},
		{"config file as subcommand", []string{"config", cfg}, 2,
			[]string{"wirewatch config check -c " + cfg}, nil, nil, nil, true},
		{"config flags before check", []string{"config", "-c", cfg, "check"}, 0,
			[]string{"config ok"}, []string{"feeds: []"}, nil, nil, false},
		{"config without subcommand", []string{"config"}, 2, []string{"want the subcommand check"}, nil, nil, nil, true},
		{"run config without -c", []string{"run", "g.yaml", "--data-dir", filepath.Join(dir, "dd"), "--listen", "off", "--http", "off"}, 2,
			[]string{`run: unexpected argument "g.yaml" (give the config file with -c)`}, nil, nil, nil, true},
		{"run flag name without dash", []string{"run", "data-dir", "--listen", "off", "--http", "off"}, 2, []string{`(did you mean --data-dir?)`}, nil, nil, nil, true},
		{"stories extra word", []string{"stories", "--db", filepath.Join(dir, "x.db"), "extra"}, 2,
			[]string{`stories: unexpected argument "extra" (stories takes no arguments)`}, nil, nil, nil, true},
		{"stories without a database", []string{"stories"}, 2,
			[]string{"stories: no database given: give --db", "WIREWATCH_SQLITE_PATH", "or --dsn", "WIREWATCH_POSTGRES_DSN"}, nil, nil, []string{"not both"}, true},
		{"stories both databases", []string{"stories", "--db", "x.db", "--dsn", "postgres://h/db"}, 2,
			[]string{"stories: give --db", "not both"}, nil, nil, nil, true},
		{"stories database without --db", []string{"stories", "items.db"}, 2,
			[]string{"give the SQLite file with --db"}, nil, nil, nil, true},
		{"version extra word", []string{"version", "extra"}, 2, []string{`version: unexpected argument "extra"`}, nil, nil, nil, true},
		{"replay extra word", []string{"replay", dir}, 2, []string{"give a directory of feed files with --feeds"}, nil, nil, nil, true},
		{"tags test file", []string{"tags", "test", "article.txt"}, 2, []string{"wirewatch tags test < FILE"}, nil, nil, nil, true},
		{"feeds list config without -c", []string{"feeds", "list", "cfg.yaml"}, 2, []string{"give the config file with -c"}, nil, nil, nil, true},
		{"feeds unknown subcommand", []string{"feeds", "frob"}, 2, []string{`feeds: unknown subcommand "frob" (want list, import, export, discover or preview)`}, nil, nil, nil, true},
		{"feeds list -n", []string{"feeds", "list", "-n", "5"}, 2, []string{"feeds: -n is a flag of feeds preview, not feeds list"}, nil, nil, nil, true},
		{"feeds export --json", []string{"feeds", "export", "-c", cfg, "--json"}, 2, []string{"feeds: --json is a flag of feeds list and preview, not feeds export"}, nil, nil, nil, true},
		{"feeds preview --data-dir", []string{"feeds", "preview", "https://example.org/feed", "--data-dir", dir}, 2, []string{"feeds: --data-dir is a flag of feeds list, not feeds preview"}, nil, nil, nil, true},
		{"feeds export without -c", []string{"feeds", "export"}, 2, []string{"feeds: export: no config given", "with -c"}, nil, nil, nil, true},
		{"feeds preview two args", []string{"feeds", "preview", "a", "b"}, 2, []string{"preview: want one URL or configured feed name, got 2"}, nil, nil, nil, true},
		{"extract two files", []string{"extract", "a.html", "b.html"}, 2, []string{`unexpected argument "b.html"`}, nil, nil, nil, true},
		// A bad value given by a flag is blamed on the flag, not the file.
		{"run bad --listen", []string{"run", "-c", cfg, "--listen", "999.1.1.1:99999", "--http", "off", "--data-dir", filepath.Join(dir, "dd")}, 2,
			[]string{`--listen: "999.1.1.1:99999": port "99999"`}, nil, nil, []string{"config " + cfg}, true},
		{"run bad --log-level", []string{"run", "-c", cfg, "--log-level", "loud"}, 2,
			[]string{`--log-level: "loud": want debug, info, warn or error`}, nil, nil, nil, true},
		{"feeds preview unknown name", []string{"feeds", "preview", "nosuch", "-c", cfg}, 1,
			[]string{`preview: "nosuch" is neither a feed of the config (-c) nor an http(s) URL`}, nil, nil, nil, true},
		// The default rules are relative to the repository root, not this package.
		{"replay default rules elsewhere", []string{"replay", "--feeds", "../../testdata/feeds"}, 1,
			[]string{"(the default rules; run replay from the wirewatch repository, or give --rules and --feeds)"}, nil, nil, nil, true},

		// M7, L2: help.
		{"help run", []string{"help", "run"}, 0, nil,
			[]string{"Usage: wirewatch run", "default 127.0.0.1:9464", "default 127.0.0.1:4222", "default info", "default " + filepath.Join(dir, ".local/state/wirewatch")},
			nil, []string{"help requested"}, false},
		{"help feeds", []string{"help", "feeds"}, 0, nil, []string{"preview URL|NAME", "-nats-url"}, nil, nil, false},
		{"run -h", []string{"run", "-h"}, 0, nil, []string{"Usage: wirewatch run"}, nil, nil, false},
		{"subscribe --help", []string{"subscribe", "--help"}, 0, nil, []string{"Usage: wirewatch subscribe"}, nil, nil, false},
		{"feeds preview -h", []string{"feeds", "preview", "-h"}, 0, nil, []string{"Usage: wirewatch feeds"}, nil, nil, false},
		{"tags -h", []string{"tags", "-h"}, 0, nil, []string{"Usage: wirewatch tags test", "-kind kind"}, []string{"flags:\n\n", "flags:\n$"}, nil, false},
		{"replay -h", []string{"replay", "-h"}, 0, nil,
			[]string{"[--db FILE.db]", "[--data-dir DIR]", "[--concurrency N]", "-rules file"}, []string{"-rules value"}, nil, false},
		{"version -h", []string{"version", "-h"}, 0, nil, []string{"Usage: wirewatch version"}, []string{"Flags:"}, nil, false},
		{"config -h", []string{"config", "-h"}, 0, nil, []string{"Usage: wirewatch config check", "Flags:\n  -c file"}, nil, nil, false},
		{"help bogus", []string{"help", "bogus"}, 2, []string{`help: unknown command "bogus" (see 'wirewatch help')`}, nil, nil, []string{"Commands:"}, true},
		{"help alone", []string{"help"}, 0, nil, []string{"Commands:"}, nil, nil, false},
		{"no arguments", nil, 2, []string{"Commands:"}, nil, nil, []string{"no command given"}, true},
		{"unknown command", []string{"bogus"}, 2, []string{`unknown command "bogus" (see 'wirewatch help')`}, nil, nil, []string{"Commands:"}, true},

		// L2: a bad flag value is the error and a hint, not the usage.
		{"bad flag value", []string{"stories", "--db", "x.db", "-n", "abc"}, 2,
			[]string{`stories: invalid value "abc" for flag -n`, "Run 'wirewatch stories -h' for its usage."}, nil, nil, []string{"Usage:", "Flags:"}, true},
		{"unknown flag", []string{"run", "--bogus"}, 2, []string{"run: flag provided but not defined: -bogus"}, nil, nil, []string{"Usage:"}, true},

		// L1: flag value checks.
		{"replay log level", []string{"replay", "--log-level", "verbose"}, 2, []string{`replay: --log-level "verbose": want debug, info, warn or error`}, nil, nil, nil, true},
		{"replay concurrency", []string{"replay", "--concurrency", "0"}, 2, []string{"replay: --concurrency 0: want at least 1"}, nil, nil, nil, true},
		{"stories negative n", []string{"stories", "--db", "x.db", "-n", "-1"}, 2, []string{"stories: -n -1: want 0 (all) or more"}, nil, nil, nil, true},
		{"stories negative since", []string{"stories", "--db", "x.db", "--since", "-1h"}, 2, []string{"stories: --since -1h0m0s"}, nil, nil, nil, true},
		{"subscribe all and since", []string{"subscribe", "--all", "--since", "1h", "foo"}, 2, []string{"--all", "--since", "give one of them"}, nil, nil, nil, true},
		{"subscribe flag after pattern", []string{"subscribe", "foo", "-n", "-1"}, 2, []string{"subscribe: -n -1"}, nil, nil, nil, true},
		{"tags list bogus kind", []string{"tags", "list", "--kind", "bogus"}, 2,
			[]string{`tags: --kind "bogus": want one of topic, person, place, org, other`}, nil, nil, nil, true},

		// L4: subjects NATS would refuse are refused before connecting.
		// A --nats-url that does not parse: url.Parse's error would quote the password.
		{"subscribe bad nats url", []string{"subscribe", "--nats-url", "nats://user:s3cret@bad host:4222", "foo"}, 1,
			[]string{"subscribe: --nats-url nats://<redacted>@bad host:4222: a URL does not parse"}, nil, nil, []string{"s3cret"}, true},
		{"dlq bad nats url", []string{"dlq", "list", "--nats-url", "nats://user:s3cret@bad host:4222"}, 1,
			[]string{"a URL does not parse"}, nil, nil, []string{"s3cret"}, true},
		{"subscribe empty token", []string{"subscribe", "--nats-url", "nats://127.0.0.1:1", "items..x"}, 2,
			[]string{`pattern "items..x"`, "empty token"}, nil, nil, []string{"connect"}, true},
		{"subscribe trailing dot", []string{"subscribe", "--nats-url", "nats://127.0.0.1:1", "person."}, 2,
			[]string{`pattern "person."`, "empty token"}, nil, nil, []string{"connect"}, true},
		{"subscribe wildcard inside token", []string{"subscribe", "--nats-url", "nats://127.0.0.1:1", "person.zel*"}, 2,
			[]string{`pattern "person.zel*"`, "whole tokens"}, nil, nil, []string{"connect"}, true},
		{"subscribe > not last", []string{"subscribe", "--nats-url", "nats://127.0.0.1:1", "items.tag.>.x"}, 2,
			[]string{"must come last"}, nil, nil, []string{"connect"}, true},

		// dlq: mistakes are refused before connecting; no daemon is a failure.
		{"dlq without subcommand", []string{"dlq"}, 2, []string{"dlq: want the subcommand list or replay", "Run 'wirewatch dlq -h'"}, nil, nil, nil, true},
		{"dlq unknown subcommand", []string{"dlq", "show"}, 2, []string{`dlq: unknown subcommand "show" (want list or replay)`}, nil, nil, nil, true},
		{"dlq unknown stage", []string{"dlq", "replay", "--all", "--stage", "bogus", "--nats-url", "nats://127.0.0.1:1"}, 2,
			[]string{`dlq: --stage "bogus": no such stage (want dedup, tag, nats-tags, jsonl, sqlite, postgres, webhook or webhook-NAME)`}, nil, nil, []string{"connect"}, true},
		{"dlq replay --seq and --all", []string{"dlq", "replay", "--seq", "3", "--all"}, 2, []string{"--seq picks dead letters, --all takes every one", "give one of them"}, nil, nil, nil, true},
		{"dlq replay without --seq or --all", []string{"dlq", "replay", "--stage", "jsonl"}, 2, []string{"say which dead letters to replay: --seq N", "or --all"}, nil, nil, nil, true},
		{"dlq replay bad --seq", []string{"dlq", "replay", "--seq", "3,x"}, 2, []string{`dlq: invalid value "3,x" for flag -seq: "x" is not a DLQ sequence`}, nil, nil, nil, true},
		{"dlq replay --seq 0", []string{"dlq", "replay", "--seq", "0"}, 2, []string{`"0" is not a DLQ sequence`}, nil, nil, nil, true},
		{"dlq replay sequence without --seq", []string{"dlq", "replay", "12"}, 2, []string{`dlq: unexpected argument "12" (give a dead letter's sequence with --seq 12)`}, nil, nil, nil, true},
		{"dlq list with a replay flag", []string{"dlq", "list", "--all"}, 2, []string{"dlq: --all is a flag of dlq replay, not dlq list"}, nil, nil, nil, true},
		{"dlq list negative n", []string{"dlq", "list", "-n", "-1"}, 2, []string{"dlq: -n -1: want 0 (all) or more"}, nil, nil, nil, true},
		{"dlq bad prefix", []string{"dlq", "list", "--prefix", "a..b"}, 2, []string{"dlq: --prefix:"}, nil, nil, []string{"connect"}, true},
		{"dlq no daemon", []string{"dlq", "list", "--nats-url", "nats://127.0.0.1:1"}, 1,
			[]string{"dlq: connect to nats://127.0.0.1:1", "is 'wirewatch run' running"}, nil, nil, nil, true},
		{"dlq creds missing", []string{"dlq", "list", "--nats-url", "nats://127.0.0.1:1", "--creds", "/nonexistent/x.creds"}, 1,
			[]string{"dlq: connect to nats://127.0.0.1:1", "/nonexistent/x.creds: no such file or directory"}, nil, nil, []string{"is 'wirewatch run' running"}, true},
		{"subscribe creds missing", []string{"subscribe", "--nats-url", "nats://127.0.0.1:1", "--creds", "/nonexistent/x.creds", "ceasefire"}, 1,
			[]string{"subscribe: connect to nats://127.0.0.1:1", "/nonexistent/x.creds: no such file or directory"}, nil, nil, []string{"is 'wirewatch run' running"}, true},
		{"dlq -h", []string{"dlq", "-h"}, 0, nil, []string{"Usage: wirewatch dlq list", "wirewatch dlq replay", "-dry-run", "-seq N"}, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A command line wrongly accepted must not run for ever (run
			// would start the daemon).
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			code := report(run(ctx, tt.args, stdio{in: strings.NewReader(""), out: &out, err: &errb, getenv: getenv}), &errb)
			if code != tt.code {
				t.Errorf("wirewatch %q: exit status %d, want %d\nstdout: %s\nstderr: %s", tt.args, code, tt.code, out.String(), errb.String())
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("wirewatch %q: stderr lacks %q:\n%s", tt.args, w, errb.String())
				}
			}
			for _, w := range tt.notStderr {
				if strings.Contains(errb.String(), w) {
					t.Errorf("wirewatch %q: stderr has %q:\n%s", tt.args, w, errb.String())
				}
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("wirewatch %q: stdout lacks %q:\n%s", tt.args, w, out.String())
				}
			}
			for _, w := range tt.notStdout {
				if strings.Contains(out.String(), w) || strings.HasSuffix(w, "$") && strings.HasSuffix(out.String(), strings.TrimSuffix(w, "$")) {
					t.Errorf("wirewatch %q: stdout has %q:\n%s", tt.args, w, out.String())
				}
			}
			if tt.emptyStdout && out.Len() > 0 {
				t.Errorf("wirewatch %q: stdout = %q, want nothing (mistakes go to stderr)", tt.args, out.String())
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "dd")); err == nil {
		t.Error("run with a stray argument created its --data-dir")
	}
}

// TestUnknownCommandOneLine checks that an unknown command gets the
// one-line hint the README promises, not the whole usage.
func TestUnknownCommandOneLine(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"help", "bogus"}} {
		var out, errb bytes.Buffer
		code := report(run(t.Context(), args, stdio{out: &out, err: &errb, getenv: env(nil)}), &errb)
		want := "wirewatch: unknown command \"bogus\" (see 'wirewatch help')\n"
		if args[0] == "help" {
			want = "wirewatch: help: unknown command \"bogus\" (see 'wirewatch help')\n"
		}
		if code != 2 || errb.String() != want || out.Len() > 0 {
			t.Errorf("wirewatch %q: exit %d, stderr %q, stdout %q; want exit 2, stderr %q", args, code, errb.String(), out.String(), want)
		}
	}
}

// TestFlagValueErr checks that a config error blamed on a flag is a
// wrong command line (exit 2, with the hint), and one blamed on the file
// or the environment is not.
func TestFlagValueErr(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int
	}{
		{"flag", errors.New(`--log-level: "loud": want debug, info, warn or error`), 2},
		{"flag among file errors", errors.Join(errors.New("config g.yaml: nats.replicas: 9: want 1 to 5"), errors.New(`--http: "bad": want host:port`)), 2},
		{"file", errors.New("config g.yaml: log.level: \"loud\": want debug, info, warn or error"), 1},
		{"environment", errors.New(`WIREWATCH_LOG_LEVEL: "loud": want debug, info, warn or error`), 1},
	}
	for _, tt := range tests {
		var errb bytes.Buffer
		if code := report(flagValueErr("run", tt.err), &errb); code != tt.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", tt.name, code, tt.code, errb.String())
		}
		if hint := strings.Contains(errb.String(), "Run 'wirewatch run -h'"); hint != (tt.code == 2) {
			t.Errorf("%s: stderr %q: usage hint %v, want %v", tt.name, errb.String(), hint, tt.code == 2)
		}
	}
	if flagValueErr("run", nil) != nil {
		t.Error("flagValueErr(nil) != nil")
	}
}

// TestReplayRefusesToReplace checks that replay --out and --db replace
// only what replay would have written, and say why not otherwise.
func TestReplayRefusesToReplace(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	emptyDir := filepath.Join(dir, "emptydir")
	os.Mkdir(emptyDir, 0o755)
	sqlite := write("items.db", "SQLite format 3\x00"+strings.Repeat("\x00", 100))
	jsonl := write("items.jsonl", `{"id":"a"}`+"\n")
	text := write("notes.txt", "my notes\n")
	empty := write("empty", "")
	short := write("short.db", "SQLite")
	walDir := filepath.Join(dir, "w.db")
	write("w.db", "")
	os.Mkdir(walDir+"-wal", 0o755)
	link := filepath.Join(dir, "link")
	os.Symlink(emptyDir, link)

	tests := []struct {
		flag, path string
		want       string // in the error; "" for none
	}{
		{"--db", emptyDir, "is a directory"},
		{"--db", dir, "is a directory"},
		{"--db", link, "is a directory"},
		{"--db", jsonl, "is not a SQLite database"},
		{"--db", text, "is not a SQLite database"},
		{"--db", short, "is not a SQLite database"},
		{"--db", walDir, "w.db-wal: is a directory"},
		{"--db", "/dev/null", "not a regular file"},
		{"--db", sqlite, ""},
		{"--db", empty, ""},
		{"--db", filepath.Join(dir, "new.db"), ""},
		{"--out", emptyDir, "is a directory"},
		{"--out", sqlite, "is not a JSON-lines file"},
		{"--out", text, "is not a JSON-lines file"},
		{"--out", jsonl, ""},
		{"--out", empty, ""},
	}
	for _, tt := range tests {
		check := isJSONL
		if tt.flag == "--db" {
			check = isSQLite
		}
		err := checkReplaceable(tt.flag, tt.path, check)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("checkReplaceable(%s %s) = %v, want nil", tt.flag, tt.path, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.flag+" ")):
			t.Errorf("checkReplaceable(%s %s) = %v, want an error naming the flag and %q", tt.flag, tt.path, err, tt.want)
		}
	}

	// Through the command: nothing is removed.
	for _, args := range [][]string{{"--db", emptyDir}, {"--out", sqlite}, {"--db", text}} {
		var out, errb bytes.Buffer
		err := run(t.Context(), append([]string{"replay", "--feeds", "../../testdata/feeds", "--rules", "../../testdata/rules/summit.yaml"}, args...),
			stdio{out: &out, err: &errb, getenv: env(nil)})
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("replay %q = %v, want refused naming %s", args, err, args[0])
		}
	}
	if st, err := os.Stat(emptyDir); err != nil || !st.IsDir() {
		t.Errorf("replay --db removed the directory %s", emptyDir)
	}
	for _, p := range []string{sqlite, text} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("replay replaced %s", p)
		}
	}
}

// TestFeedsListNoDaemon checks that feeds list with no daemon and no data
// dir says so, naming both, instead of creating the dir and printing an
// empty table.
func TestFeedsListNoDaemon(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "state")
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("nats:\n  data_dir: "+dataDir+"\n  listen: "+listen+"\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"default", []string{"list", "-c", cfg}, []string{"nats://" + listen, dataDir + " does not exist", "--nats-url", "--data-dir", "wirewatch run"}},
		{"--data-dir missing", []string{"list", "-c", cfg, "--data-dir", filepath.Join(dir, "nope")}, []string{"--data-dir " + filepath.Join(dir, "nope") + " does not exist"}},
		{"--data-dir without state", []string{"list", "--data-dir", empty}, []string{"--data-dir " + empty + " holds no wirewatch state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := runFeeds(t.Context(), tt.args, nil, &out, &errb)
			if err == nil {
				t.Fatalf("feeds %q succeeded, want an error; stdout:\n%s", tt.args, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("feeds %q: error %q lacks %q", tt.args, err, w)
				}
			}
			if out.Len() > 0 {
				t.Errorf("feeds %q printed %q", tt.args, out.String())
			}
		})
	}
	for _, d := range []string{dataDir, filepath.Join(dir, "nope"), filepath.Join(empty, "jetstream")} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("feeds list created %s", d)
		}
	}
}
