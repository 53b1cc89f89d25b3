package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

const subscribeSynopsis = `subscribe [flags] PATTERN...

Prints tagged items live from a running wirewatch (its embedded server's
listener, or the cluster given by --nats-url). A PATTERN is a tag name
(alaska-summit), an entity as kind.id (person.zelensky), or a NATS subject
pattern below the prefix (items.tag.>, items.entity.place.*). Wildcards *
and > work in every form. Each item is printed once per subscription even
when several patterns match it.`

func runSubscribe(ctx context.Context, args []string, s stdio) error {
	fs := newFlagSet("subscribe", subscribeSynopsis, s)
	url := fs.String("nats-url", firstNonEmpty(s.getenv("WIREWATCH_NATS_URL"), "nats://127.0.0.1:4222"), "NATS server (env WIREWATCH_NATS_URL)")
	creds := fs.String("creds", s.getenv("WIREWATCH_NATS_CREDENTIALS"), "NATS credentials file")
	prefix := fs.String("prefix", firstNonEmpty(s.getenv("WIREWATCH_PREFIX"), pipeline.DefaultPrefix), "subject prefix")
	since := fs.Duration("since", 0, "also print items from this long ago (e.g. 1h); default: only new ones")
	all := fs.Bool("all", false, "print every stored item first, then new ones")
	asJSON := fs.Bool("json", false, "print each full item as one JSON line")
	limit := fs.Int("n", 0, "exit after this many items (0: run until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("subscribe: give at least one PATTERN")
	}
	subj, err := pipeline.NewSubjects(*prefix)
	if err != nil {
		return err
	}
	filters := make([]string, 0, fs.NArg())
	for _, p := range fs.Args() {
		filters = append(filters, subscribeSubject(subj, p))
	}
	opts := []nats.Option{nats.Name("wirewatch subscribe")}
	if *creds != "" {
		opts = append(opts, nats.UserCredentials(*creds))
	}
	nc, err := nats.Connect(*url, opts...)
	if err != nil {
		return fmt.Errorf("subscribe: connect to %s: %w (is 'wirewatch run' running with nats.listen set?)", redactURL(*url), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	occ := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverNewPolicy}
	switch {
	case *all:
		occ.DeliverPolicy = jetstream.DeliverAllPolicy
	case *since > 0:
		t := time.Now().Add(-*since)
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := js.OrderedConsumer(ctx, subj.StreamTags(), occ)
	if err != nil {
		return fmt.Errorf("subscribe: stream %s: %w", subj.StreamTags(), err)
	}
	fmt.Fprintf(s.err, "subscribed to %s\n", strings.Join(filters, ", "))
	return printItems(ctx, cons, s.out, *asJSON, *limit)
}

// subscribeSubject turns a user's pattern into a subject filter.
func subscribeSubject(subj pipeline.Subjects, p string) string {
	switch {
	case strings.HasPrefix(p, subj.Prefix()):
		return p
	case strings.HasPrefix(p, "items."):
		return subj.Prefix() + p
	case strings.Contains(p, "."): // kind.id
		return subj.Prefix() + "items.entity." + p
	case p == ">" || p == "*":
		return subj.Prefix() + "items.tag." + p
	default:
		return subj.Prefix() + "items.tag." + pipeline.Token(p)
	}
}

// printItems prints each item once (an item reaches several tag subjects)
// until ctx ends or limit items were printed.
func printItems(ctx context.Context, cons jetstream.Consumer, w io.Writer, asJSON bool, limit int) error {
	seen := map[string]bool{}
	printed := 0
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("subscribe: %w", err)
		}
		item, err := pipeline.Unmarshal(msg.Data())
		if err != nil {
			continue
		}
		if v := item.Version(); seen[v] {
			continue
		} else {
			seen[v] = true
		}
		if asJSON {
			b, _ := json.Marshal(item)
			fmt.Fprintf(w, "%s\n", b)
		} else {
			tags := make([]string, 0, len(item.Tags))
			for _, t := range item.Tags {
				tags = append(tags, t.Tag)
			}
			fmt.Fprintf(w, "%s  %-14s %s\n    %s\n    tags: %s  story: %s\n",
				item.Time().Format(time.RFC3339), item.Feed, item.Title, item.URL, strings.Join(tags, ", "), item.StoryID)
		}
		printed++
		if limit > 0 && printed >= limit {
			it.Stop()
			return nil
		}
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
