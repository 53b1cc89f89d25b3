package tag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reloader keeps a Tagger built from rule files current: Reload rebuilds it
// on demand (the daemon calls it on SIGHUP) and Run polls the files'
// modification times. When the new rules are bad the old Tagger stays and
// the error is logged. Safe for concurrent use.
type Reloader struct {
	paths     []string
	gazetteer bool
	onChange  func(*Tagger)
	log       *slog.Logger

	mu     sync.Mutex // serialises reloads
	stamps []stamp
	cur    atomic.Pointer[Tagger]

	// Metrics, the way Prometheus reports its own config reloads.
	reloads     *prometheus.CounterVec
	lastOK      prometheus.Gauge
	lastSuccess prometheus.Gauge
}

type stamp struct {
	name string
	mod  time.Time
	size int64
}

// NewReloader loads the rule files at paths (files or directories, as for
// Load; with gazetteer false the built-in gazetteer is left out) and
// returns a Reloader holding the Tagger built from them. onChange, if not
// nil, is called with every new Tagger after a successful reload (not for
// the first one: take that from Tagger). It fails when the first load does.
func NewReloader(paths []string, gazetteer bool, onChange func(*Tagger), log *slog.Logger) (*Reloader, error) {
	r := &Reloader{
		paths: slices.Clone(paths), gazetteer: gazetteer, onChange: onChange, log: log,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wirewatch_tag_rules_reloads_total",
			Help: "Rule reloads after the first load (SIGHUP or a file change), by outcome (ok, error).",
		}, []string{"outcome"}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wirewatch_tag_rules_last_reload_successful",
			Help: "1 when the last load of the rule files succeeded, 0 when the running rules are older than the files.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wirewatch_tag_rules_last_reload_success_timestamp_seconds",
			Help: "When the running rules were loaded (unix seconds).",
		}),
	}
	t, st, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cur.Store(t)
	r.stamps = st
	r.lastOK.Set(1)
	r.lastSuccess.SetToCurrentTime()
	return r, nil
}

// Collectors returns the Reloader's Prometheus collectors for the caller
// to register: reloads by outcome, whether the last one succeeded, and
// when the running rules were loaded.
func (r *Reloader) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.reloads, r.lastOK, r.lastSuccess}
}

// Tagger returns the current Tagger.
func (r *Reloader) Tagger() *Tagger { return r.cur.Load() }

func (r *Reloader) load() (*Tagger, []stamp, error) {
	st, err := stamps(r.paths)
	if err != nil {
		return nil, nil, err
	}
	rules, err := load(r.gazetteer, r.paths)
	if err != nil {
		return nil, nil, err
	}
	return New(rules), st, nil
}

// Reload rebuilds the Tagger from the rule files now. On error the current
// Tagger is kept, the error is logged and returned.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload("request")
}

func (r *Reloader) reload(why string) error {
	start := time.Now()
	t, st, err := r.load()
	if err != nil {
		r.reloads.WithLabelValues("error").Inc()
		r.lastOK.Set(0)
		r.log.Error("rules reload failed, keeping the old rules", "err", err, "trigger", why)
		return fmt.Errorf("reload rules: %w", err)
	}
	r.reloads.WithLabelValues("ok").Inc()
	r.lastOK.Set(1)
	r.lastSuccess.SetToCurrentTime()
	r.stamps = st
	r.cur.Store(t)
	r.log.Info("rules reloaded", "trigger", why, "entities", len(t.rules.Entities), "topics", len(t.rules.Topics),
		"took", time.Since(start))
	if r.onChange != nil {
		r.onChange(t)
	}
	return nil
}

// Run polls the rule files every interval and reloads when one was added,
// removed or changed (modification time or size). A bad file is logged once
// per change and the old rules stay. Run returns nil when ctx ends.
func (r *Reloader) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return errors.New("rules watch: interval must be positive")
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		st, err := stamps(r.paths)
		r.mu.Lock()
		switch {
		case err != nil:
			if !slices.Equal(r.stamps, nil) {
				r.log.Warn("rules watch: cannot read rule files", "err", err)
				r.stamps = nil // log again only after they come back
			}
		case !slices.Equal(st, r.stamps):
			if r.reload("file change") != nil {
				r.stamps = st // do not retry until the files change again
			}
		}
		r.mu.Unlock()
	}
}

// Watch loads the rules at paths over the built-in gazetteer, calls
// onChange with the first Tagger, then polls the files every interval and
// calls onChange with each successfully reloaded Tagger until ctx ends.
// Use a Reloader to also reload on demand.
func Watch(ctx context.Context, paths []string, interval time.Duration, onChange func(*Tagger), log *slog.Logger) error {
	r, err := NewReloader(paths, true, onChange, log)
	if err != nil {
		return err
	}
	onChange(r.Tagger())
	return r.Run(ctx, interval)
}

func stamps(paths []string) ([]stamp, error) {
	files, err := ruleFiles(paths)
	if err != nil {
		return nil, err
	}
	out := make([]stamp, 0, len(files))
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		out = append(out, stamp{name: f, mod: st.ModTime(), size: st.Size()})
	}
	return out, nil
}
