package main

import (
	"context"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/pipeline/tag"
)

const configSynopsis = `config check [-c wirewatch.yaml]

Loads the config file (unknown keys are errors), applies WIREWATCH_*
environment overrides, validates it and the rule files it names, prints the
resolved config (every default filled in) with secrets redacted, and exits
non-zero on any problem.`

func runConfig(_ context.Context, args []string, s stdio) error {
	fs := newFlagSet("config check", configSynopsis, s)
	cfgPath := fs.String("c", s.getenv("WIREWATCH_CONFIG"), "config file (env WIREWATCH_CONFIG)")
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fs.Usage()
			return nil
		}
		return errors.New("config: usage: wirewatch config check [-c FILE]")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, s.getenv)
	if err != nil {
		return err
	}
	problems := cfg.Validate()
	if _, err := tag.Load(cfg.Rules...); err != nil {
		problems = errors.Join(problems, err)
	}
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
