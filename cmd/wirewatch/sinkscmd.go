package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

const sinksSynopsis = `sinks list [--json] [flags]
       wirewatch sinks rm NAME... [flags]

Each sink is a durable consumer of the tagged stream (<PREFIX>_TAGGED)
named sink-<name>: sink-jsonl, sink-sqlite, sink-postgres, sink-nats-tags,
sink-webhook or sink-webhook-NAME. It stays when the sink leaves the
config, counting what it has not taken, so that a sink configured again
gets everything published meanwhile (the daemon warns about such
consumers at start).

list  every sink consumer: items it has not taken (pending), items it
      holds unacknowledged, pull requests waiting (a running worker), when
      it last took an item; with -c, whether that config has the sink.
rm    deletes the consumers of sinks that are gone for good (NAME as in
      dlq: jsonl, webhook-alerts, sink- optional). A sink the -c config
      still has, or one a running worker pulls from, is refused.

It connects like 'wirewatch subscribe': the running daemon's listener,
--nats-url, or as the config file given with -c says.`

// sinkConsumer is one line of 'sinks list'.
type sinkConsumer struct {
	Name       string     `json:"name"`
	Pending    uint64     `json:"pending"`
	Unacked    int        `json:"unacked"`
	Waiting    int        `json:"waiting"`
	LastActive *time.Time `json:"last_active,omitempty"`
	InConfig   *bool      `json:"in_config,omitempty"` // with -c only
}

// runSinks is 'wirewatch sinks'.
func runSinks(ctx context.Context, args []string, s stdio) error {
	fs := newFlagSet("sinks", sinksSynopsis, s)
	cf := addClientFlags(fs, s)
	asJSON := fs.Bool("json", false, "list: one JSON object per sink consumer")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return fs.usageErr("want the subcommand list or rm")
	}
	sub, names := pos[0], pos[1:]
	switch {
	case sub != "list" && sub != "rm":
		return fs.usageErr("unknown subcommand %q (want list or rm)", sub)
	case sub == "list" && len(names) > 0:
		return fs.usageErr("unexpected argument %q (sinks list takes none)", names[0])
	case sub == "rm" && len(names) == 0:
		return fs.usageErr("say which sinks' consumers to delete (see 'wirewatch sinks list')")
	case sub == "rm" && *asJSON:
		return fs.usageErr("--json is a flag of sinks list, not sinks rm")
	}
	var consumers []string
	for _, n := range names {
		c, ok := stageName(n)
		if !ok || !strings.HasPrefix(c, "sink-") {
			return fs.usageErr("%q is not a sink (want jsonl, sqlite, postgres, nats-tags, webhook or webhook-NAME)", n)
		}
		consumers = append(consumers, c)
	}
	if err := cf.resolve(s); err != nil {
		return err
	}
	subj, err := pipeline.NewSubjects(*cf.prefix)
	if err != nil {
		return fs.usageErr("--prefix: %v", err)
	}
	var configured map[string]bool
	if cf.cfg != nil {
		configured = configuredSinks(*cf.cfg, subj)
	}
	nc, js, err := connectClient("sinks", *cf.url, *cf.creds)
	if err != nil {
		return err
	}
	defer nc.Close()
	stream := subj.StreamTagged()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return streamErr("sinks", subj, *cf.url, stream, err)
	}
	if sub == "rm" {
		return removeSinks(ctx, st, stream, consumers, configured, cf, s)
	}
	var list []sinkConsumer
	lister := st.ListConsumers(ctx)
	for info := range lister.Info() {
		if !strings.HasPrefix(info.Name, "sink-") {
			continue
		}
		c := sinkConsumer{Name: info.Name, Pending: info.NumPending, Unacked: info.NumAckPending, Waiting: info.NumWaiting}
		if info.Delivered.Last != nil {
			t := info.Delivered.Last.UTC()
			c.LastActive = &t
		}
		if configured != nil {
			in := configured[info.Name]
			c.InConfig = &in
		}
		list = append(list, c)
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("sinks: list the consumers of %s: %w", stream, err)
	}
	slices.SortFunc(list, func(a, b sinkConsumer) int { return strings.Compare(a.Name, b.Name) })
	if *asJSON {
		enc := json.NewEncoder(s.out)
		for _, c := range list {
			if err := enc.Encode(c); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(s.err, "sink consumers of %s at %s\n", stream, redactURL(*cf.url))
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONSUMER\tPENDING\tUNACKED\tWAITING\tLAST ITEM\tIN CONFIG")
	for _, c := range list {
		last, in := "never", "-"
		if c.LastActive != nil {
			last = c.LastActive.Format(time.RFC3339)
		}
		if c.InConfig != nil {
			in = map[bool]string{true: "yes", false: "no"}[*c.InConfig]
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", c.Name, c.Pending, c.Unacked, c.Waiting, last, in)
	}
	return tw.Flush()
}

// removeSinks deletes the named sink consumers, refusing one the config
// still has or one a running worker pulls from; it goes on with the others
// and fails at the end when any was refused.
func removeSinks(ctx context.Context, st jetstream.Stream, stream string, consumers []string, configured map[string]bool, cf *clientFlags, s stdio) error {
	var errs []error
	for _, name := range consumers {
		if configured[name] {
			errs = append(errs, fmt.Errorf("%s: the config %s still has this sink: remove it there (and restart) first", name, *cf.cfgPath))
			continue
		}
		c, err := st.Consumer(ctx, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			errs = append(errs, fmt.Errorf("%s: no such consumer on %s", name, stream))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		info := c.CachedInfo()
		if info.NumWaiting > 0 {
			errs = append(errs, fmt.Errorf("%s: a running wirewatch pulls from it (%d pull requests waiting): remove the sink from that daemon's config and restart it first", name, info.NumWaiting))
			continue
		}
		if err := st.DeleteConsumer(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("%s: delete: %w", name, err))
			continue
		}
		fmt.Fprintf(s.out, "deleted %s (it had not taken %d items)\n", name, info.NumPending)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sinks rm: %w", err)
	}
	return nil
}

// configuredSinks is the set of sink consumer names cfg runs, as
// buildStages names them.
func configuredSinks(cfg Config, subj pipeline.Subjects) map[string]bool {
	names := map[string]bool{}
	if cfg.Sinks.NATSTags == nil || *cfg.Sinks.NATSTags {
		names["sink-nats-tags"] = true
	}
	if cfg.Sinks.JSONL.Path != "" {
		names[pipeline.SinkConfig(subj, "jsonl").Name] = true
	}
	if cfg.Sinks.SQLite.Path != "" {
		names[pipeline.SinkConfig(subj, "sqlite").Name] = true
	}
	if cfg.Sinks.Postgres.DSN != "" {
		names[pipeline.SinkConfig(subj, "postgres").Name] = true
	}
	for _, w := range cfg.Sinks.Webhooks {
		names[pipeline.SinkConfig(subj, w.SinkName()).Name] = true
	}
	return names
}
