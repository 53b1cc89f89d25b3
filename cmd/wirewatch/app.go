package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/dedup"
	"github.com/wirewatch/wirewatch/pipeline/tag"
	"github.com/wirewatch/wirewatch/sinks"
)

// newLogger builds the process logger from the log section.
func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToLower(c.Level))); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		// Durations as the text format writes them ("1m30s"), not as
		// nanoseconds, which nobody reads and log tools do not parse.
		opts.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		}
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// broker is a NATS connection, and the embedded server behind it when
// there is no external one. Close drains the connection, then stops the
// server.
type broker struct {
	srv *pipeline.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func openBroker(ctx context.Context, c NATSConfig, name string, log *slog.Logger) (*broker, error) {
	b := &broker{}
	opts := []nats.Option{
		nats.Name("wirewatch " + name),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		// Asynchronous errors (a slow consumer, a subscription the
		// server no longer knows) go to the log, not as bare lines to
		// stderr (nats.go's default), which would break JSON logs.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("nats error", "err", err, "subject", sub.Subject)
				return
			}
			log.Warn("nats error", "err", err)
		}),
	}
	if c.URL == "" {
		if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		srv, err := pipeline.StartServer(ctx, pipeline.ServerConfig{
			DataDir:   c.DataDir,
			Listen:    c.Listen,
			MaxStore:  int64(c.MaxStore),
			MaxMemory: int64(c.MaxMemory),
			Log:       log.With("component", "nats-server"),
		})
		if err != nil {
			return nil, err
		}
		b.srv = srv
		nc, err := srv.Connect(opts...)
		if err != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("connect to embedded nats: %w", err)
		}
		b.nc = nc
		if u := srv.ClientURL(); u != "" {
			log.Info("embedded nats listening", "url", u, "data_dir", c.DataDir)
		} else {
			log.Info("embedded nats started (in-process only)", "data_dir", c.DataDir)
		}
	} else {
		if c.Credentials != "" {
			opts = append(opts, nats.UserCredentials(c.Credentials))
		}
		nc, err := nats.Connect(c.URL, opts...)
		if err != nil {
			if _, ok := errors.AsType[*url.Error](err); ok {
				// url.Parse's message quotes the URL, password and all.
				err = errors.New("a URL does not parse (" + natsURLWant + ")")
			}
			return nil, fmt.Errorf("connect to nats %s: %w", redactURL(c.URL), err)
		}
		b.nc = nc
		log.Info("connected to nats", "url", nc.ConnectedUrlRedacted())
	}
	js, err := jetstream.New(b.nc, jetstream.WithPublishAsyncTimeout(pipeline.PublishTimeout))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.js = js
	return b, nil
}

// Close drains the connection (flushing pending acks and publishes) and
// stops the embedded server, in that order.
func (b *broker) Close() {
	if b.nc != nil {
		if err := b.nc.Drain(); err == nil {
			deadline := time.Now().Add(5 * time.Second)
			for !b.nc.IsClosed() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
	}
}

// stageSet is every consumer one process runs, and what to close after
// they stop.
type stageSet struct {
	stages   []*pipeline.Stage
	order    []pipeline.ConsumerRef // upstream first, for WaitIdle
	tagStage *pipeline.TagStage
	dedup    *dedup.Dedup
	pruners  []pruner // database sinks with a retention
	closers  []io.Closer
}

func (s *stageSet) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// stageOptions are what run and replay set differently.
type stageOptions struct {
	tagger  *tag.Tagger
	sinks   SinksConfig
	tags    bool
	dedup   dedup.Config
	workers int
	// webhookAckFloor is the least ack deadline of a webhook stage
	// (default 30s, the deadline of every other stage); tests lower it
	// to see a slow receiver within seconds.
	webhookAckFloor time.Duration
}

// buildStages creates the streams and the dedup, tag and sink stages.
func buildStages(ctx context.Context, b *broker, subj pipeline.Subjects, sc pipeline.StreamConfig, o stageOptions, metrics *pipeline.Metrics, log *slog.Logger) (*stageSet, error) {
	if err := pipeline.Setup(ctx, b.js, subj, sc); err != nil {
		return nil, err
	}
	set := &stageSet{}
	// One tag stage handler holds the current tagger (swapped on reload);
	// the dedup stage asks it for entities too.
	set.tagStage = pipeline.NewTagStage(subj, o.tagger)

	dd, err := newDedup(ctx, b.js, subj, o, set.tagStage, log)
	if err != nil {
		return nil, err
	}
	set.dedup = dd
	dedupCfg := pipeline.StageConfig{
		Name: "dedup", Stream: subj.StreamParsed(), Subjects: []string{subj.AllParsed()},
		DeadLetter: subj.DeadLetter("dedup"),
	}
	// The workers share one health: one failing and one recovered line.
	dedupStage := pipeline.NewStage(b.js, dedupCfg, dd, metrics, log)
	set.stages = append(set.stages, dedupStage)
	for range max(o.workers, 1) - 1 {
		set.stages = append(set.stages, dedupStage.Worker())
	}
	set.order = append(set.order, pipeline.ConsumerRef{Stream: dedupCfg.Stream, Consumer: dedupCfg.Name})

	tagCfg := pipeline.StageConfig{
		Name: "tag", Stream: subj.StreamDeduped(), Subjects: []string{subj.AllUnique(), subj.AllDuplicates()},
		DeadLetter: subj.DeadLetter("tag"),
	}
	set.stages = append(set.stages, pipeline.NewStage(b.js, tagCfg, set.tagStage, metrics, log))
	set.order = append(set.order, pipeline.ConsumerRef{Stream: tagCfg.Stream, Consumer: tagCfg.Name})

	// logAttrs add to the stage's log lines (its failing and recovered
	// lines above all) what tells an operator which destination it is.
	addSink := func(cfg pipeline.StageConfig, h pipeline.Handler, logAttrs ...any) {
		set.stages = append(set.stages, pipeline.NewStage(b.js, cfg, h, metrics, log.With(logAttrs...)))
		set.order = append(set.order, pipeline.ConsumerRef{Stream: cfg.Stream, Consumer: cfg.Name})
	}
	if o.tags {
		addSink(sinks.NATSTagsConfig(subj), sinks.NewNATSTags(subj))
	}
	fail := func(err error) (*stageSet, error) {
		set.Close()
		return nil, err
	}
	if c := o.sinks.JSONL; c.Path != "" {
		j, err := sinks.OpenJSONL(c.sinkConfig())
		if err != nil {
			return fail(err)
		}
		set.closers = append(set.closers, j)
		addSink(pipeline.SinkConfig(subj, "jsonl"), pipeline.SinkHandler(j))
	}
	if c := o.sinks.SQLite; c.Path != "" {
		db, err := sinks.OpenSQLiteConfig(c)
		if err != nil {
			return fail(err)
		}
		set.closers = append(set.closers, db)
		addSink(pipeline.SinkConfig(subj, "sqlite"), pipeline.SinkHandler(db))
		if c.Retention > 0 {
			set.pruners = append(set.pruners, pruner{name: "sqlite", db: db, retention: c.Retention})
		}
	}
	if c := o.sinks.Postgres; c.DSN != "" {
		db, err := sinks.OpenPostgres(ctx, c.DSN)
		if err != nil {
			return fail(err)
		}
		set.closers = append(set.closers, db)
		addSink(pipeline.SinkConfig(subj, "postgres"), pipeline.SinkHandler(db))
		if c.Retention > 0 {
			set.pruners = append(set.pruners, pruner{name: "postgres", db: db, retention: c.Retention})
		}
	}
	for _, c := range o.sinks.Webhooks {
		wh, err := sinks.NewWebhook(c, nil)
		if err != nil {
			return fail(err)
		}
		// A receiver may take up to its timeout per item. Messages wait in
		// the worker's buffer for their turn, and one that waits past the
		// ack deadline is delivered again: the receiver gets a second
		// POST. So a webhook pulls one message at a time (at most four
		// unacked), with an ack deadline of twice the timeout (Validate
		// bounds it; min keeps an unchecked one from overflowing).
		sc := pipeline.SinkConfig(subj, c.SinkName())
		sc.Batch = 1
		sc.AckWait = max(cmp.Or(o.webhookAckFloor, 30*time.Second), 2*min(wh.Timeout(), MaxWebhookTimeout))
		sc.MaxDeliver = c.WithDefaults().MaxAttempts
		sc.BackOff = c.Backoff()
		// The URL as 'config check' prints it: its path and query often
		// hold a token.
		addSink(sc, pipeline.SinkHandler(wh), "url", c.Redacted().URL)
	}
	return set, nil
}

// registry is the process's Prometheus registry with Go and process
// collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
