package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/dedup"
	"github.com/wirewatch/wirewatch/pipeline/tag"
	"github.com/wirewatch/wirewatch/poller"
)

const runSynopsis = `run [-c wirewatch.yaml] [flags]

Runs the daemon: polls the configured feeds, dedups, tags and delivers items
to the configured sinks until SIGINT or SIGTERM. SIGHUP reloads the rules.
With --nats-url several processes share the work through durable consumers.`

func runDaemon(ctx context.Context, args []string, s stdio) error {
	fs := newFlagSet("run", runSynopsis, s)
	// These flags override the config, so their zero value means "as
	// configured"; the help still says what that is by default.
	def := defaultConfig(s.getenv)
	cfgPath := fs.String("c", s.getenv("WIREWATCH_CONFIG"), "config `file` (env WIREWATCH_CONFIG)")
	natsURL := fs.String("nats-url", "", "external NATS server or cluster `URL` (nats.url; default: the embedded server)")
	dataDir := fs.String("data-dir", "", "embedded NATS data `dir` (nats.data_dir; default "+def.NATS.DataDir+")")
	listen := fs.String("listen", "", "embedded NATS client listener `addr`, \"off\" for none (nats.listen; default "+def.NATS.Listen+")")
	httpListen := fs.String("http", "", "ops listener `addr` for /metrics, /healthz, /readyz, \"off\" for none (http.listen; default "+def.HTTP.Listen+")")
	logLevel := fs.String("log-level", "", "log `level`: debug, info, warn, error (log.level; default "+def.Log.Level+")")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if err := fs.noArgs(pos, configHint); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, s.getenv)
	if err != nil {
		return err
	}
	cfg.setFlag("nats.url", "--nats-url", *natsURL)
	cfg.setFlag("nats.data_dir", "--data-dir", *dataDir)
	cfg.setFlag("nats.listen", "--listen", *listen)
	cfg.setFlag("http.listen", "--http", *httpListen)
	cfg.setFlag("log.level", "--log-level", *logLevel)
	if cfg.NATS.Listen == "off" {
		cfg.NATS.Listen = ""
	}
	if cfg.HTTP.Listen == "off" {
		cfg.HTTP.Listen = ""
	}
	if err := cfg.Validate(); err != nil {
		return flagValueErr("run", err) // exit 2 when a flag's value is at fault
	}
	log := newLogger(cfg.Log, s.err)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP is taken from the start: Go's default for it ends the
	// process, and one during startup (a reload a little early) must not.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// After the first signal the default handling comes back: a second
	// SIGINT or SIGTERM ends the process at once (what is not yet acked
	// is redelivered on the next start).
	context.AfterFunc(ctx, func() {
		stop()
		log.Info("stopping: a second interrupt stops at once")
	})
	err = daemon(ctx, cfg, log, hup)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Told to stop while starting: what was cut off is the start.
		log.Info("wirewatch stopped while starting", "cut_off", err)
		return nil
	}
	if err != nil {
		log.Error("wirewatch stopped", "err", err)
		return fmt.Errorf("run: %w", errQuiet)
	}
	log.Info("wirewatch stopped")
	return nil
}

// daemon runs every component until ctx ends. Shutdown is ordered: polling
// stops, stages finish the message in hand and ack, then NATS is drained
// and the embedded server stopped. Each SIGHUP from hup (nil: none)
// reloads the rules.
func daemon(ctx context.Context, cfg Config, log *slog.Logger, hup <-chan os.Signal) error {
	if len(cfg.Feeds) == 0 {
		log.Warn("no feeds configured: stages and sinks run, nothing is polled", "config", cfg.path)
	}
	var tagStage *pipeline.TagStage
	rules, err := tag.NewReloader(cfg.Rules, true, func(t *tag.Tagger) {
		if tagStage != nil {
			tagStage.SetTagger(t)
		}
	}, log.With("component", "rules"))
	if err != nil {
		return err
	}
	subj, err := pipeline.NewSubjects(cfg.NATS.Prefix)
	if err != nil {
		return err
	}
	// The ops port is taken before anything starts, so a port in use stops
	// the daemon at once with its name rather than after the poller ran.
	var opsLn net.Listener
	if cfg.HTTP.Listen != "" {
		if opsLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
			return fmt.Errorf("ops endpoint (http.listen, --http): %w", err)
		}
		defer opsLn.Close()
	}
	b, err := openBroker(ctx, cfg.NATS, "run", log)
	if err != nil {
		return err
	}
	defer b.Close()
	reg := newRegistry()
	metrics := pipeline.NewMetrics(reg)
	tagsOn := cfg.Sinks.NATSTags == nil || *cfg.Sinks.NATSTags
	scfg := pipeline.StreamConfig{Replicas: cfg.NATS.Replicas, MaxAge: cfg.NATS.Retention}
	if b.srv != nil {
		// The output streams drop their oldest messages at their share of
		// max_store rather than fill it: a full server takes no writes.
		scfg.StoreBudget = int64(cfg.NATS.MaxStore)
	}
	dcfg := cfg.Dedup.dedupConfig(cfg.NATS.Replicas)
	// A redelivery must come within the parsed stream's duplicate window,
	// which is shorter than 24h when the streams keep items less long.
	dcfg.RedeliveryWindow = min(dedup.DefaultRedeliveryWindow, cfg.NATS.Retention)
	set, err := buildStages(ctx, b, subj, scfg,
		stageOptions{tagger: rules.Tagger(), sinks: cfg.Sinks, tags: tagsOn,
			dedup: dcfg, workers: cfg.Dedup.Workers}, metrics, log)
	if err != nil {
		return err
	}
	defer set.Close()
	tagStage = set.tagStage
	warnOrphanSinks(ctx, b.js, subj, set.order, log)
	reg.MustRegister(set.dedup.Collectors()...)
	reg.MustRegister(rules.Collectors()...)

	pcfg := cfg.pollerConfig(buildVersion())
	if b.srv != nil {
		// The data dir lock makes its identity ours alone: leases a
		// crashed predecessor on this data dir left are taken over at once.
		pcfg.Identity = b.srv.Identity()
	}
	store, err := poller.OpenStoreReplicas(ctx, b.js, subj, pcfg.LeaseTTL, cfg.NATS.Replicas)
	if err != nil {
		return err
	}
	pl, err := poller.New(pcfg, cfg.Feeds, pipeline.NewPublisher(b.js, subj), store, log.With("component", "poller"))
	if err != nil {
		return err
	}
	reg.MustRegister(pl.Collectors()...)

	// Stages and sinks outlive the poller: they stop after it, so what it
	// published last is still handled before the connection drains.
	stageCtx, stopStages := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStages()
	var stages errgroup.Group
	stageErr := make(chan error, len(set.stages))
	for _, st := range set.stages {
		stages.Go(func() error {
			err := st.Run(stageCtx)
			if err != nil {
				stageErr <- err
			}
			return err
		})
	}

	g, gctx := errgroup.WithContext(ctx)
	// A stage that cannot run (its consumer cannot be created) stops the
	// daemon: running without it would pile work up unnoticed.
	g.Go(func() error {
		select {
		case err := <-stageErr:
			return err
		case <-gctx.Done():
			return nil
		}
	})
	g.Go(func() error { return pl.Run(gctx) })
	g.Go(func() error { return rules.Run(gctx, 5*time.Second) })
	g.Go(func() error { return reloadOnHUP(gctx, rules, hup) })
	pruned := newPrunedCounter()
	reg.MustRegister(pruned)
	for _, p := range set.pruners {
		g.Go(func() error { return runPruner(gctx, p, pruneEvery, time.Now, pruned, log) })
	}
	if opsLn != nil {
		g.Go(func() error { return serveOps(gctx, opsLn, reg, b, log) })
	}
	if cfg.Log.Summary > 0 {
		g.Go(func() error { return logSummaries(gctx, reg, cfg.Log.Summary, log) })
	}
	log.Info("wirewatch running", "version", buildVersion(), "feeds", len(cfg.Feeds), "prefix", subj.Prefix())
	err = g.Wait()
	log.Info("shutting down: poller stopped, finishing in-flight messages")
	stopStages()
	if serr := stages.Wait(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// reloadOnHUP reloads the rules on each SIGHUP from hup; a bad file keeps
// the old rules (the Reloader logs either outcome).
func reloadOnHUP(ctx context.Context, r *tag.Reloader, hup <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			_ = r.Reload()
		}
	}
}

// serveOps serves /metrics, /healthz (process up) and /readyz (NATS
// connected) until ctx ends.
func serveOps(ctx context.Context, ln net.Listener, reg prometheus.Gatherer, b *broker, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.nc.IsConnected() {
			http.Error(w, "nats: "+b.nc.Status().String(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("ops endpoint listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("ops endpoint %s: %w", ln.Addr(), err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	}
}
