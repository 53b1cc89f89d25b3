package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/pipeline/dedup"
	"github.com/wirewatch/wirewatch/poller"
	"github.com/wirewatch/wirewatch/sinks"
)

// Config is the whole wirewatch.yaml. Unknown keys are errors. Every field
// has a default; environment variables (WIREWATCH_*) and flags override
// the file.
type Config struct {
	NATS   NATSConfig    `yaml:"nats"`
	Poller PollerConfig  `yaml:"poller"`
	Feeds  []poller.Feed `yaml:"feeds"`
	// Rules lists rule files or directories of *.yaml, merged in order.
	Rules []string    `yaml:"rules"`
	Dedup DedupConfig `yaml:"dedup"`
	Sinks SinksConfig `yaml:"sinks"`
	HTTP  HTTPConfig  `yaml:"http"`
	Log   LogConfig   `yaml:"log"`

	path string // the file it came from, for messages
}

// NATSConfig says where the message broker is.
type NATSConfig struct {
	// URL of an external NATS server or cluster (comma-separated seeds).
	// Empty runs an embedded server.
	URL string `yaml:"url"`
	// Credentials is a .creds file for the external server.
	Credentials string `yaml:"credentials"`
	// DataDir holds the embedded server's JetStream files.
	DataDir string `yaml:"data_dir"`
	// Listen is the embedded server's client listener ("" = in-process only).
	Listen string `yaml:"listen"`
	// Prefix of every subject, stream and bucket name.
	Prefix    string   `yaml:"prefix"`
	MaxStore  ByteSize `yaml:"max_store"`
	MaxMemory ByteSize `yaml:"max_memory"`
	// Replicas of each stream and bucket (3 on a 3-node cluster).
	Replicas int `yaml:"replicas"`
	// Retention is how long processed items stay in the output streams.
	Retention time.Duration `yaml:"retention"`
}

// PollerConfig is the YAML face of poller.Config.
type PollerConfig struct {
	UserAgent            string        `yaml:"user_agent"`
	DefaultInterval      time.Duration `yaml:"default_interval"`
	MinInterval          time.Duration `yaml:"min_interval"`
	MaxInterval          time.Duration `yaml:"max_interval"`
	Concurrency          int           `yaml:"concurrency"`
	PerHostConcurrency   int           `yaml:"per_host_concurrency"`
	PerHostGap           time.Duration `yaml:"per_host_gap"`
	PerProcessHostGap    bool          `yaml:"per_process_host_gap"`
	Timeout              time.Duration `yaml:"timeout"`
	MaxBody              ByteSize      `yaml:"max_body"`
	MaxRedirects         int           `yaml:"max_redirects"`
	AllowPrivateNetworks bool          `yaml:"allow_private_networks"`
	LeaseTTL             time.Duration `yaml:"lease_ttl"`
}

// DedupConfig tunes the dedup stage. Zero values take the defaults of
// pipeline/dedup (docs/dedup.md says how each was measured).
type DedupConfig struct {
	// Window is how long items stay candidates for copies and stories.
	Window time.Duration `yaml:"window"`
	// Workers is the number of dedup workers in this process.
	Workers           int           `yaml:"workers"`
	KeepIDs           time.Duration `yaml:"keep_ids"`
	MinWords          int           `yaml:"min_words"`
	Jaccard           float64       `yaml:"jaccard"`
	Containment       float64       `yaml:"containment"`
	StoryThreshold    float64       `yaml:"story_threshold"`
	HeadlineThreshold float64       `yaml:"headline_threshold"`
	MergeThreshold    float64       `yaml:"merge_threshold"`
	SeedWeight        float64       `yaml:"seed_weight"`
	LeadWords         int           `yaml:"lead_words"`
	TitleWeight       float64       `yaml:"title_weight"`
	EntityWeight      float64       `yaml:"entity_weight"`
}

// dedupConfig maps the YAML dedup section onto dedup.Config.
func (d DedupConfig) dedupConfig(replicas int) dedup.Config {
	return dedup.Config{
		Window: d.Window, KeepIDs: d.KeepIDs, MinWords: d.MinWords, Jaccard: d.Jaccard,
		Containment: d.Containment, StoryThreshold: d.StoryThreshold, HeadlineThreshold: d.HeadlineThreshold,
		MergeThreshold: d.MergeThreshold, SeedWeight: d.SeedWeight, LeadWords: d.LeadWords,
		TitleWeight: d.TitleWeight, EntityWeight: d.EntityWeight, Replicas: replicas,
	}
}

// SinksConfig enables destinations; a sink with no path/url is off.
type SinksConfig struct {
	JSONL    JSONLConfig           `yaml:"jsonl"`
	SQLite   sinks.SQLiteConfig    `yaml:"sqlite"`
	Postgres sinks.PostgresConfig  `yaml:"postgres"`
	Webhooks []sinks.WebhookConfig `yaml:"webhooks"`
	NATSTags *bool                 `yaml:"nats_tags"`
}

// JSONLConfig is the JSON-lines file sink.
type JSONLConfig struct {
	Path  string `yaml:"path"`
	Fsync bool   `yaml:"fsync"`
}

// HTTPConfig is the ops endpoint (/metrics, /healthz, /readyz).
type HTTPConfig struct {
	Listen string `yaml:"listen"`
}

// LogConfig sets the log level (debug, info, warn, error) and format
// (text, json).
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
	// Summary is how often the daemon logs what it did since the last
	// summary (polls, items, copies, stories, errors) at info level; 0s
	// turns it off.
	Summary time.Duration `yaml:"summary"`
}

// ByteSize is a size in bytes written as 1048576, "15MiB", "1GiB", "64MB".
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

func (b ByteSize) String() string {
	for _, u := range []struct {
		s string
		n int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.n == 0 {
			return fmt.Sprintf("%d%s", int64(b)/u.n, u.s)
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		s string
		n int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.s) {
			mult, s = u.n, strings.TrimSpace(strings.TrimSuffix(s, u.s))
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 15MiB, 1GiB or a byte count)", s)
	}
	return ByteSize(n * mult), nil
}

// defaultConfig is what wirewatch runs with when the file says nothing.
func defaultConfig(getenv func(string) string) Config {
	t := true
	return Config{
		NATS: NATSConfig{
			DataDir:   defaultDataDir(getenv),
			Listen:    "127.0.0.1:4222",
			Prefix:    pipeline.DefaultPrefix,
			MaxStore:  1 << 30,
			MaxMemory: 64 << 20,
			Replicas:  1,
			Retention: 7 * 24 * time.Hour,
		},
		Poller: PollerConfig{MaxBody: 15 << 20},
		Rules:  nil, // the built-in gazetteer only; bundled summit rules: testdata/rules/summit.yaml
		Dedup:  DedupConfig{Window: 72 * time.Hour, Workers: 1},
		Sinks:  SinksConfig{NATSTags: &t},
		HTTP:   HTTPConfig{Listen: "127.0.0.1:9464"},
		Log:    LogConfig{Level: "info", Format: "text", Summary: 5 * time.Minute},
	}
}

// defaultDataDir is $XDG_STATE_HOME/wirewatch, else ~/.local/state/wirewatch,
// else ./data.
func defaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "wirewatch")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "wirewatch")
	}
	return "data"
}

// loadConfig reads path (if not empty) over the defaults, then applies the
// WIREWATCH_* environment.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig(getenv)
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config %s: %w", path, yamlKeys(err))
		}
		cfg.path = path
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return cfg, err
	}
	if err := cfg.expandHeaders(getenv); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// sectionOf names the config section of each YAML-decoded struct type
// ("main.NATSConfig" -> "nats."), for messages about unknown keys:
// yaml.v3 names the Go type.
var sectionOf = sections(reflect.TypeFor[Config](), "", map[string]string{})

func sections(t reflect.Type, path string, m map[string]string) map[string]string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			path = strings.TrimSuffix(path, ".") + "[]."
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return m
	}
	m[t.String()] = path
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" && f.IsExported() {
			sections(f.Type, path+name+".", m)
		}
	}
	return m
}

var fieldNotFound = regexp.MustCompile(`^(line \d+: )field (\S+) not found in type (\S+)$`)

// yamlKeys rewrites yaml.v3's "field x not found in type main.NATSConfig"
// as "unknown key nats.x", keeping every other message as it is.
func yamlKeys(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = m
		if g := fieldNotFound.FindStringSubmatch(m); g != nil {
			if sec, ok := sectionOf[g[3]]; ok {
				msgs[i] = g[1] + "unknown key " + sec + g[2]
			}
		}
	}
	return &yaml.TypeError{Errors: msgs}
}

// envRef is a ${NAME} reference in a feed header value.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandHeaders replaces ${NAME} in feed header values with the
// environment variable NAME, so credentials stay out of the file. A
// variable that is not set is an error naming the feed and header.
func (c *Config) expandHeaders(getenv func(string) string) error {
	var errs []error
	for i := range c.Feeds {
		f := &c.Feeds[i]
		if len(f.Headers) == 0 {
			continue
		}
		h := make(map[string]string, len(f.Headers))
		for _, k := range slices.Sorted(maps.Keys(f.Headers)) {
			h[k] = envRef.ReplaceAllStringFunc(f.Headers[k], func(ref string) string {
				name := envRef.FindStringSubmatch(ref)[1]
				v := getenv(name)
				if v == "" {
					errs = append(errs, fmt.Errorf("feeds[%d].headers.%s (feed %q): environment variable %s is not set", i, k, f.Name, name))
				}
				return v
			})
		}
		f.Headers = h
	}
	return errors.Join(errs...)
}

// applyEnv overrides the config with WIREWATCH_* variables.
func (c *Config) applyEnv(getenv func(string) string) error {
	str := map[string]*string{
		"WIREWATCH_NATS_URL":         &c.NATS.URL,
		"WIREWATCH_NATS_CREDENTIALS": &c.NATS.Credentials,
		"WIREWATCH_DATA_DIR":         &c.NATS.DataDir,
		"WIREWATCH_NATS_LISTEN":      &c.NATS.Listen,
		"WIREWATCH_PREFIX":           &c.NATS.Prefix,
		"WIREWATCH_HTTP_LISTEN":      &c.HTTP.Listen,
		"WIREWATCH_LOG_LEVEL":        &c.Log.Level,
		"WIREWATCH_LOG_FORMAT":       &c.Log.Format,
		"WIREWATCH_JSONL_PATH":       &c.Sinks.JSONL.Path,
		"WIREWATCH_SQLITE_PATH":      &c.Sinks.SQLite.Path,
		"WIREWATCH_POSTGRES_DSN":     &c.Sinks.Postgres.DSN,
	}
	for k, p := range str {
		if v, ok := lookup(getenv, k); ok {
			*p = v
		}
	}
	if v, ok := lookup(getenv, "WIREWATCH_RULES"); ok {
		c.Rules = strings.Split(v, string(os.PathListSeparator))
	}
	if v, ok := lookup(getenv, "WIREWATCH_ALLOW_PRIVATE_NETWORKS"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("WIREWATCH_ALLOW_PRIVATE_NETWORKS=%q: want true or false", v)
		}
		c.Poller.AllowPrivateNetworks = b
	}
	return nil
}

func lookup(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	return v, v != ""
}

// Validate reports every problem at once, naming the file and key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, format string, a ...any) {
		where := "config"
		if c.path != "" {
			where = "config " + c.path
		}
		errs = append(errs, fmt.Errorf("%s: %s: %s", where, key, fmt.Sprintf(format, a...)))
	}
	if _, err := pipeline.NewSubjects(c.NATS.Prefix); err != nil {
		bad("nats.prefix", "%v", err)
	}
	if c.NATS.URL == "" && c.NATS.DataDir == "" {
		bad("nats.data_dir", "required for the embedded server")
	}
	if c.NATS.Replicas < 1 || c.NATS.Replicas > 5 {
		bad("nats.replicas", "%d: want 1 to 5", c.NATS.Replicas)
	}
	if c.NATS.Retention < time.Minute {
		bad("nats.retention", "%s: want at least 1m", c.NATS.Retention)
	}
	names := map[string]int{}
	for i, f := range c.Feeds {
		key := fmt.Sprintf("feeds[%d]", i)
		if f.Name == "" {
			bad(key+".name", "required")
		} else if j, dup := names[pipeline.Token(f.Name)]; dup {
			bad(key+".name", "%q clashes with feeds[%d] (names must be unique after folding to a subject token)", f.Name, j)
		} else {
			names[pipeline.Token(f.Name)] = i
		}
		if !strings.HasPrefix(f.URL, "http://") && !strings.HasPrefix(f.URL, "https://") {
			bad(key+".url", "%q: want an http or https URL", f.URL)
		}
		if f.Interval < 0 {
			bad(key+".interval", "%s: must not be negative", f.Interval)
		}
		if err := poller.CheckHeaders(f.Headers); err != nil {
			bad(key+".headers", "%v", err)
		}
	}
	if c.Sinks.SQLite.Path != "" {
		if err := c.Sinks.SQLite.Validate(); err != nil {
			bad("sinks.sqlite", "%v", err)
		}
	}
	if c.Sinks.Postgres.DSN != "" {
		if err := c.Sinks.Postgres.Validate(); err != nil {
			bad("sinks.postgres", "%v", err)
		}
	}
	hooks := map[string]int{}
	for i, w := range c.Sinks.Webhooks {
		key := fmt.Sprintf("sinks.webhooks[%d]", i)
		if err := w.Validate(); err != nil {
			bad(key, "%v", err)
		}
		if j, dup := hooks[w.SinkName()]; dup {
			bad(key+".name", "%q: webhooks[%d] has the same name; give each webhook its own name", w.Name, j)
		}
		hooks[w.SinkName()] = i
	}
	if c.Dedup.Window < time.Minute {
		bad("dedup.window", "%s: want at least 1m", c.Dedup.Window)
	} else if err := c.Dedup.dedupConfig(c.NATS.Replicas).Validate(); err != nil {
		bad("dedup", "%v", err)
	}
	if c.Dedup.Workers < 1 || c.Dedup.Workers > 64 {
		bad("dedup.workers", "%d: want 1 to 64", c.Dedup.Workers)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	if c.Log.Summary < 0 || c.Log.Summary > 0 && c.Log.Summary < 10*time.Second {
		bad("log.summary", "%s: want 0s (off) or at least 10s", c.Log.Summary)
	}
	if err := c.pollerConfig("").Validate(); err != nil {
		bad("poller", "%v", err)
	}
	return errors.Join(errs...)
}

// pollerConfig maps the YAML poller section onto poller.Config.
func (c *Config) pollerConfig(ver string) poller.Config {
	p := poller.DefaultConfig()
	if ver != "" {
		p.Version = ver
	}
	pc := c.Poller
	setStr(&p.UserAgent, pc.UserAgent)
	setDur(&p.DefaultInterval, pc.DefaultInterval)
	setDur(&p.MinInterval, pc.MinInterval)
	setDur(&p.MaxInterval, pc.MaxInterval)
	setInt(&p.Concurrency, pc.Concurrency)
	setInt(&p.PerHostConcurrency, pc.PerHostConcurrency)
	setDur(&p.PerHostGap, pc.PerHostGap)
	setDur(&p.TotalTimeout, pc.Timeout)
	if pc.MaxBody > 0 {
		p.MaxBody = int64(pc.MaxBody)
	}
	setInt(&p.MaxRedirects, pc.MaxRedirects)
	setDur(&p.LeaseTTL, pc.LeaseTTL)
	p.AllowPrivateNetworks = pc.AllowPrivateNetworks
	p.PerProcessHostGap = pc.PerProcessHostGap
	return p
}

func setStr(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func setDur(dst *time.Duration, v time.Duration) {
	if v != 0 {
		*dst = v
	}
}

func setInt(dst *int, v int) {
	if v != 0 {
		*dst = v
	}
}

// resolved returns c with the defaults the daemon applies when it builds
// the poller, the dedup stage and the sinks filled in, so that
// 'config check' shows the values that run.
func (c Config) resolved(ver string) Config {
	p := c.pollerConfig(ver)
	c.Poller = PollerConfig{
		UserAgent: p.UserAgentHeader(), DefaultInterval: p.DefaultInterval, MinInterval: p.MinInterval,
		MaxInterval: p.MaxInterval, Concurrency: p.Concurrency, PerHostConcurrency: p.PerHostConcurrency,
		PerHostGap: p.PerHostGap, PerProcessHostGap: p.PerProcessHostGap, Timeout: p.TotalTimeout,
		MaxBody: ByteSize(p.MaxBody), MaxRedirects: p.MaxRedirects, AllowPrivateNetworks: p.AllowPrivateNetworks,
		LeaseTTL: p.LeaseTTL,
	}
	d := c.Dedup.dedupConfig(c.NATS.Replicas).WithDefaults()
	c.Dedup = DedupConfig{
		Window: d.Window, Workers: c.Dedup.Workers, KeepIDs: d.KeepIDs, MinWords: d.MinWords, Jaccard: d.Jaccard,
		Containment: d.Containment, StoryThreshold: d.StoryThreshold, HeadlineThreshold: d.HeadlineThreshold,
		MergeThreshold: d.MergeThreshold, SeedWeight: d.SeedWeight, LeadWords: d.LeadWords,
		TitleWeight: d.TitleWeight, EntityWeight: d.EntityWeight,
	}
	if c.Sinks.SQLite.Path != "" && c.Sinks.SQLite.BusyTimeout == 0 {
		c.Sinks.SQLite.BusyTimeout = sinks.DefaultBusyTimeout
	}
	return c
}

// redacted returns a copy safe to print: credentials and URL passwords
// hidden.
func (c Config) redacted() Config {
	if c.NATS.Credentials != "" {
		c.NATS.Credentials = "<redacted>"
	}
	c.NATS.URL = redactURL(c.NATS.URL)
	c.Sinks.Postgres = c.Sinks.Postgres.Redacted()
	hooks := make([]sinks.WebhookConfig, len(c.Sinks.Webhooks))
	for i, w := range c.Sinks.Webhooks {
		hooks[i] = w.Redacted()
	}
	c.Sinks.Webhooks = hooks
	feeds := slices.Clone(c.Feeds)
	for i, f := range feeds {
		if len(f.Headers) > 0 {
			h := make(map[string]string, len(f.Headers))
			for k := range f.Headers {
				h[k] = "<redacted>"
			}
			feeds[i].Headers = h
		}
	}
	c.Feeds = feeds
	return c
}

func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	return s[:scheme+3] + "<redacted>" + s[at:]
}
