package main

import (
	"context"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

const configSynopsis = `config check [-c wirewatch.yaml]

Loads the config file (unknown keys are errors), applies WIREWATCH_*
environment overrides, validates it and the rule files it names, prints the
resolved config (every default filled in, every path absolute) with secrets
redacted, and exits non-zero on any problem. Relative paths in the file
resolve from the file's directory; those from WIREWATCH_* variables from the
working directory.`

func runConfig(_ context.Context, args []string, s stdio) error {
	fs := newFlagSet("config check", configSynopsis, s)
	cfgPath := fs.String("c", s.getenv("WIREWATCH_CONFIG"), "config `file` (env WIREWATCH_CONFIG)")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return &usageError{cmd: "config", err: errors.New("config: want the subcommand check: wirewatch config check [-c FILE]")}
	case pos[0] != "check":
		if h := configHint(pos[0]); h != "" {
			return &usageError{cmd: "config", err: fmt.Errorf("config: unknown subcommand %q (to check it: wirewatch config check -c %s)", pos[0], pos[0])}
		}
		return &usageError{cmd: "config", err: fmt.Errorf("config: unknown subcommand %q (want check)", pos[0])}
	}
	if err := fs.noArgs(pos[1:], configHint); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, s.getenv)
	if err != nil {
		return err
	}
	problems := cfg.Validate()
	problems = errors.Join(problems, cfg.checkRules())
	out, err := yaml.Marshal(cfg.resolved(buildVersion()).redacted())
	if err != nil {
		return err
	}
	s.out.Write(out)
	if problems != nil {
		return problems
	}
	fmt.Fprintln(s.err, "config ok")
	return nil
}
