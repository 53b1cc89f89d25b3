package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net"
	"net/url"
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
	"github.com/wirewatch/wirewatch/pipeline/tag"
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

	path string            // the file it came from, for messages
	env  map[string]string // the WIREWATCH_* variables applied, for messages
	// flags maps a key to the command-line flag that set it (and the
	// value it set), for messages.
	flags map[string][2]string
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

// JSONLConfig is the JSON-lines file sink (sinks.JSONLConfig in YAML).
type JSONLConfig struct {
	Path     string   `yaml:"path"`
	Fsync    bool     `yaml:"fsync"`
	MaxSize  ByteSize `yaml:"max_size"`
	MaxFiles int      `yaml:"max_files"`
}

// DefaultJSONLMaxSize is sinks.jsonl.max_size when the config says nothing:
// the sink keeps the versions of the current and previous file in memory
// (about 100 bytes each) and reads them back at start, so one file must
// not grow forever.
const DefaultJSONLMaxSize = 256 << 20

func (c JSONLConfig) sinkConfig() sinks.JSONLConfig {
	return sinks.JSONLConfig{Path: c.Path, Fsync: c.Fsync, MaxSize: int64(c.MaxSize), MaxFiles: c.MaxFiles}
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

// UnmarshalYAML implements yaml.Unmarshaler. A bad size is a
// *yaml.TypeError, so that yaml.v3 goes on decoding the rest of the file
// and reports it with the other type errors.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: got %s, want %s", n.Line, kindName(n), sizeWant)}}
	}
	v, err := parseByteSize(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
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

const sizeWant = "a size such as 15MiB, 1GiB or a byte count"

func parseByteSize(orig string) (ByteSize, error) {
	s := strings.TrimSpace(orig)
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
		return 0, fmt.Errorf("bad size %q: want %s", orig, sizeWant)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad size %q: too large", orig)
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
		Sinks: SinksConfig{NATSTags: &t, JSONL: JSONLConfig{MaxSize: DefaultJSONLMaxSize},
			SQLite: sinks.SQLiteConfig{BusyTimeout: sinks.DefaultBusyTimeout}},
		HTTP: HTTPConfig{Listen: "127.0.0.1:9464"},
		Log:  LogConfig{Level: "info", Format: "text", Summary: 5 * time.Minute},
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
// WIREWATCH_* environment. When the file has wrongly typed values (or the
// environment bad ones), the error also holds every problem Validate finds
// in what did decode, so that one run reports them all.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig(getenv)
	var errs []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		cfg.path = path
		// The default data dir is not the file's: mark it, to tell a
		// data_dir the file sets (resolved from its directory) from it.
		defDataDir := cfg.NATS.DataDir
		cfg.NATS.DataDir = unsetPath
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(&cfg)
		if cfg.NATS.DataDir == unsetPath {
			cfg.NATS.DataDir = defDataDir
		} else {
			cfg.NATS.DataDir = fromFile(path, cfg.NATS.DataDir)
		}
		cfg.resolveFilePaths()
		if err != nil && !errors.Is(err, io.EOF) {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return cfg, fmt.Errorf("config %s: %s", path, escapeBreaks(err.Error())) // syntax: nothing else is known
			}
			for _, m := range typeErrors(data, te) {
				errs = append(errs, fmt.Errorf("config %s: %s", path, escapeBreaks(m)))
			}
		}
		for _, m := range fractionErrors(data) {
			errs = append(errs, fmt.Errorf("config %s: %s", path, m))
		}
	}
	errs = append(errs, cfg.applyEnv(getenv)...)
	if err := cfg.expandHeaders(getenv); err != nil {
		errs = append(errs, prefixLines(cfg.where("")+": ", err)...)
	}
	if len(errs) == 0 {
		return cfg, nil
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// unsetPath stands for a path key the config file did not set.
const unsetPath = "\x00unset"

// resolveFilePaths resolves the relative paths the config file gave (rule
// files, sink files, the credentials file) from the file's directory, as
// Prometheus does for rule_files: `run -c /etc/wirewatch/wirewatch.yaml`
// then finds them from any working directory. nats.data_dir, which has a
// default, is resolved by loadConfig. Paths from WIREWATCH_* variables and
// flags, applied later, stay relative to the working directory.
func (c *Config) resolveFilePaths() {
	for i, p := range c.Rules {
		c.Rules[i] = fromFile(c.path, p)
	}
	for _, p := range []*string{&c.NATS.Credentials, &c.Sinks.JSONL.Path, &c.Sinks.SQLite.Path} {
		*p = fromFile(c.path, *p)
	}
}

// fromFile resolves p, a path written in the config file at cfgPath, from
// that file's directory. Empty and absolute paths are kept.
func fromFile(cfgPath, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	dir := filepath.Dir(cfgPath)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Join(dir, p)
}

// escapeBreaks keeps a message from yaml.v3 on one line: it quotes
// neither the values nor the tags and keys it names, and a line break in
// one (!%0A, !!int "1\n2") would start a line without the file's name.
func escapeBreaks(msg string) string { return strings.ReplaceAll(msg, "\n", `\n`) }

// prefixLines splits err's message into lines (errors.Join puts one
// problem on each) and prefixes each, so that every problem of a list
// carries its context.
func prefixLines(prefix string, err error) []error {
	var out []error
	for l := range strings.Lines(err.Error()) {
		if l = strings.TrimRight(l, "\n"); l != "" {
			out = append(out, errors.New(prefix+l))
		}
	}
	return out
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

var (
	fieldNotFound    = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	cannotUnmarshal  = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `([^`]*)`)? into (.+)$")
	lineMessage      = regexp.MustCompile(`^line (\d+): (.*)$`)
	quotedInMessage  = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
	truncatedInValue = "..."
)

// typeErrors rewrites yaml.v3's type errors for people: "field x not found
// in type main.NATSConfig" becomes "unknown key nats.x"; "cannot unmarshal
// !!str `many` into int" becomes "poller.concurrency: got "many", want a
// whole number"; other messages get the key of the value on their line
// when that is unambiguous.
func typeErrors(data []byte, te *yaml.TypeError) []string {
	keys := valueKeys(data)
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if g := fieldNotFound.FindStringSubmatch(m); g != nil {
			if sec, ok := sectionOf[g[3]]; ok {
				msgs = append(msgs, "line "+g[1]+": unknown key "+sec+g[2])
				continue
			}
		}
		value, hasValue := "", false
		if g := cannotUnmarshal.FindStringSubmatch(m); g != nil {
			got := tagName(g[2])
			if g[3] != "" || g[2] == "!!str" {
				value, hasValue = g[3], true
				got = g[3]
				if g[2] == "!!str" {
					got = strconv.Quote(g[3])
				}
			}
			m = fmt.Sprintf("line %s: got %s, want %s", g[1], got, typeWant(g[4]))
		} else if q := quotedInMessage.FindStringSubmatch(m); q != nil {
			if v, err := strconv.Unquote(q[0]); err == nil {
				value, hasValue = v, true
			}
		}
		g := lineMessage.FindStringSubmatch(m)
		if g == nil {
			msgs = append(msgs, m)
			continue
		}
		line, _ := strconv.Atoi(g[1])
		if key := keys.at(line, value, hasValue); key != "" {
			m = "line " + g[1] + ": " + key + ": " + g[2]
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// fractionErrors reports the numbers with a fraction (2.5) that data gives
// to whole-number keys: yaml.v3 truncates them to 2 without a word. Types
// that decode themselves (sizes) and durations are left to their decoders.
func fractionErrors(data []byte) []string {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var msgs []string
	aliases := 0
	var walk func(n *yaml.Node, t reflect.Type, key string)
	walk = func(n *yaml.Node, t reflect.Type, key string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if reflect.PointerTo(t).Implements(yamlUnmarshaler) || t == reflect.TypeFor[time.Duration]() {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, t, key)
			}
		case yaml.AliasNode:
			if n.Alias != nil && aliases < 1000 { // an anchor may hold its own alias
				aliases++
				walk(n.Alias, t, key)
			}
		case yaml.ScalarNode:
			switch t.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				var f float64
				if n.ShortTag() == "!!float" && n.Decode(&f) == nil && !math.IsInf(f, 0) && f != math.Trunc(f) {
					msgs = append(msgs, fmt.Sprintf("line %d: %s: got %s, want a whole number", n.Line, key, n.Value))
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				sub := k
				if key != "" {
					sub = key + "." + k
				}
				switch t.Kind() {
				case reflect.Map:
					walk(n.Content[i+1], t.Elem(), sub)
				case reflect.Struct:
					if f, ok := yamlField(t, k); ok {
						walk(n.Content[i+1], f.Type, sub)
					}
				}
			}
		case yaml.SequenceNode:
			if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
				for i, c := range n.Content {
					walk(c, t.Elem(), fmt.Sprintf("%s[%d]", key, i))
				}
			}
		}
	}
	walk(&doc, reflect.TypeFor[Config](), "")
	return msgs
}

var yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// yamlField returns the field of struct type t that the YAML key name
// decodes into, by its yaml tag (or its lower-cased name, yaml.v3's
// default).
func yamlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// valueAt is a value in the YAML document and the key path leading to it.
type valueAt struct {
	key, value string
	scalar     bool
}

type lineKeys map[int][]valueAt

// valueKeys maps each line of the document to the values that start on
// it, with their key paths (nats.max_store, feeds[2].interval).
func valueKeys(data []byte) lineKeys {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	m := lineKeys{}
	var walk func(n *yaml.Node, key string)
	add := func(v *yaml.Node, key string) {
		m[v.Line] = append(m[v.Line], valueAt{key: key, value: v.Value, scalar: v.Kind == yaml.ScalarNode})
		walk(v, key)
	}
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, key)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if key != "" {
					k = key + "." + k
				}
				add(n.Content[i+1], k)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				add(c, fmt.Sprintf("%s[%d]", key, i))
			}
		}
	}
	walk(&doc, "")
	return m
}

// at returns the key of the value on line (matching value, which yaml.v3
// may have cut to 7 characters and "...", if hasValue), or "" when the
// line holds no such value or several.
func (lk lineKeys) at(line int, value string, hasValue bool) string {
	var found []string
	for _, v := range lk[line] {
		if hasValue {
			if !v.scalar {
				continue
			}
			if cut, ok := strings.CutSuffix(value, truncatedInValue); ok && len(cut) == 7 {
				if !strings.HasPrefix(v.value, cut) {
					continue
				}
			} else if v.value != value {
				continue
			}
		} else if v.scalar && len(lk[line]) > 1 {
			continue
		}
		found = append(found, v.key)
	}
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

func tagName(tag string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "null"
	}
	return strings.TrimPrefix(tag, "!!")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "an alias"
}

// typeWant says in YAML terms what a Go type of the config takes.
func typeWant(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration such as 90s, 15m or 24h"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), isSection(goType):
		return "a mapping"
	}
	return goType
}

func isSection(goType string) bool {
	_, ok := sectionOf[goType]
	return ok
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

// envVar is a WIREWATCH_* variable that sets a string key.
type envVar struct {
	name, key string
	p         *string
}

func (c *Config) envStrings() []envVar {
	return []envVar{
		{"WIREWATCH_NATS_URL", "nats.url", &c.NATS.URL},
		{"WIREWATCH_NATS_CREDENTIALS", "nats.credentials", &c.NATS.Credentials},
		{"WIREWATCH_DATA_DIR", "nats.data_dir", &c.NATS.DataDir},
		{"WIREWATCH_NATS_LISTEN", "nats.listen", &c.NATS.Listen},
		{"WIREWATCH_PREFIX", "nats.prefix", &c.NATS.Prefix},
		{"WIREWATCH_HTTP_LISTEN", "http.listen", &c.HTTP.Listen},
		{"WIREWATCH_LOG_LEVEL", "log.level", &c.Log.Level},
		{"WIREWATCH_LOG_FORMAT", "log.format", &c.Log.Format},
		{"WIREWATCH_JSONL_PATH", "sinks.jsonl.path", &c.Sinks.JSONL.Path},
		{"WIREWATCH_SQLITE_PATH", "sinks.sqlite.path", &c.Sinks.SQLite.Path},
		{"WIREWATCH_POSTGRES_DSN", "sinks.postgres.dsn", &c.Sinks.Postgres.DSN},
	}
}

// applyEnv overrides the config with WIREWATCH_* variables and remembers
// which it applied, so that Validate blames a bad value on its variable.
func (c *Config) applyEnv(getenv func(string) string) []error {
	set := func(name, v string) {
		if c.env == nil {
			c.env = map[string]string{}
		}
		c.env[name] = v
	}
	for _, e := range c.envStrings() {
		if v, ok := lookup(getenv, e.name); ok {
			*e.p = v
			set(e.name, v)
		}
	}
	if v, ok := lookup(getenv, "WIREWATCH_RULES"); ok {
		c.Rules = strings.Split(v, string(os.PathListSeparator))
		set("WIREWATCH_RULES", v)
	}
	if v, ok := lookup(getenv, "WIREWATCH_ALLOW_PRIVATE_NETWORKS"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return []error{fmt.Errorf("WIREWATCH_ALLOW_PRIVATE_NETWORKS: %q: want true or false", v)}
		}
		c.Poller.AllowPrivateNetworks = b
	}
	return nil
}

func lookup(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	return v, v != ""
}

// where names the origin of key's value for a message: the environment
// variable that set it (if a flag or the code has not changed it since),
// else the config file.
func (c *Config) where(key string) string {
	if f, ok := c.flags[key]; ok && c.stringAt(key) == f[1] {
		return f[0]
	}
	for _, e := range c.envStrings() {
		if v, ok := c.env[e.name]; ok && e.key == key && *e.p == v {
			return e.name
		}
	}
	if v, ok := c.env["WIREWATCH_RULES"]; ok && strings.HasPrefix(key, "rules") &&
		strings.Join(c.Rules, string(os.PathListSeparator)) == v {
		return "WIREWATCH_RULES: " + key
	}
	where := "config"
	if c.path != "" {
		where += " " + c.path
	}
	if key != "" {
		where += ": " + key
	}
	return where
}

// setFlag sets the string key (one of envStrings' keys) to v from the
// command-line flag name, when v is not empty, so that Validate blames a
// bad value on the flag.
func (c *Config) setFlag(key, name, v string) {
	if v == "" {
		return
	}
	for _, e := range c.envStrings() {
		if e.key == key {
			*e.p = v
			if c.flags == nil {
				c.flags = map[string][2]string{}
			}
			c.flags[key] = [2]string{name, v}
			return
		}
	}
	panic("setFlag: no string key " + key)
}

// stringAt is the value of the string key (one of envStrings' keys).
func (c *Config) stringAt(key string) string {
	for _, e := range c.envStrings() {
		if e.key == key {
			return *e.p
		}
	}
	return ""
}

// checkRules loads the rule files as the daemon will and reports every
// problem in them, each naming the file and line. It leaves missing paths
// to Validate, which names their keys (rules[1]), and then returns nil.
func (c *Config) checkRules() error {
	for _, p := range c.Rules {
		if _, err := os.Stat(p); p == "" || err != nil {
			return nil
		}
	}
	if _, err := tag.Load(c.Rules...); err != nil {
		return errors.Join(prefixLines(c.where("rules")+": ", err)...)
	}
	return nil
}

// MinMaxStore is the least nats.max_store the embedded server is given:
// every item is stored in several streams and the feed state in KV
// buckets, and with less (1KiB, say) JetStream refuses the first item
// with "insufficient resources" while the daemon keeps running.
const MinMaxStore = 1 << 20

// MaxPollerMaxBody is the largest poller.max_body: the poller also allows
// 4 times it after decompression, which must not overflow, and a feed
// larger than this is no feed.
const MaxPollerMaxBody = 1 << 30

// MaxWebhookTimeout is the longest timeout of a webhook: its consumer's
// ack deadline is twice it.
const MaxWebhookTimeout = 10 * time.Minute

// Validate reports every problem at once, each naming the file (or the
// environment variable) and key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, format string, a ...any) {
		errs = append(errs, prefixLines(c.where(key)+": ", fmt.Errorf(format, a...))...)
	}
	if _, err := pipeline.NewSubjects(c.NATS.Prefix); err != nil {
		bad("nats.prefix", "%v", err)
	}
	if c.NATS.URL == "" { // the embedded server
		if c.NATS.DataDir == "" {
			bad("nats.data_dir", "required for the embedded server")
		}
		if err := checkListen(c.NATS.Listen); err != nil {
			bad("nats.listen", "%v", err)
		}
		if c.NATS.MaxStore < MinMaxStore {
			bad("nats.max_store", "%s: want at least %s (the embedded server cannot store items in less)", c.NATS.MaxStore, ByteSize(MinMaxStore))
		}
	} else {
		for _, err := range checkNATSURLs(c.NATS.URL) {
			bad("nats.url", "%v", err)
		}
		if p := c.NATS.Credentials; p != "" {
			// run reads it when it connects: a missing file would stop it
			// there, after config check said ok.
			if st, err := os.Stat(p); err != nil {
				bad("nats.credentials", "%q: %v", p, pathErr(err))
			} else if st.IsDir() {
				bad("nats.credentials", "%q is a directory: want a .creds file", p)
			}
		}
	}
	if c.NATS.Replicas < 1 || c.NATS.Replicas > 5 {
		bad("nats.replicas", "%d: want 1 to 5", c.NATS.Replicas)
	}
	if c.NATS.Retention < time.Minute {
		bad("nats.retention", "%s: want at least 1m", c.NATS.Retention)
	}
	if err := checkListen(c.HTTP.Listen); err != nil {
		bad("http.listen", "%v", err)
	}
	c.validateFeeds(bad)
	for i, p := range c.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		if p == "" {
			bad(key, "empty path: want a rule file or a directory of them")
		} else if _, err := os.Stat(p); err != nil {
			bad(key, "%q: %v", p, pathErr(err))
		}
	}
	if c.Sinks.JSONL.Path != "" {
		if err := checkFilePath(c.Sinks.JSONL.Path); err != nil {
			bad("sinks.jsonl.path", "%v", err)
		}
	}
	if c.Sinks.JSONL.MaxFiles < 0 {
		bad("sinks.jsonl.max_files", "%d: want 0 (keep every rotated file) or more", c.Sinks.JSONL.MaxFiles)
	}
	if c.Sinks.SQLite.Path != "" {
		if err := checkFilePath(c.Sinks.SQLite.Path); err != nil {
			bad("sinks.sqlite.path", "%v", err)
		}
		if err := c.Sinks.SQLite.Validate(); err != nil {
			for _, l := range prefixLines("", err) {
				bad("sinks.sqlite", "%s", strings.TrimPrefix(l.Error(), "sqlite sink: "))
			}
		}
	}
	if c.Sinks.Postgres.DSN != "" {
		if err := c.Sinks.Postgres.Validate(); err != nil {
			key, msg := "sinks.postgres", strings.TrimPrefix(err.Error(), "postgres sink: ")
			if rest, ok := strings.CutPrefix(msg, "dsn "); ok {
				key, msg = "sinks.postgres.dsn", rest // blamed on WIREWATCH_POSTGRES_DSN when it came from there
			}
			bad(key, "%s", msg)
		}
	}
	hooks := map[string]int{}
	for i, w := range c.Sinks.Webhooks {
		key := fmt.Sprintf("sinks.webhooks[%d]", i)
		if w.Timeout > MaxWebhookTimeout {
			bad(key+".timeout", "%s: want at most 10m (default 10s)", w.Timeout)
		}
		if err := w.Validate(); err != nil {
			for _, l := range prefixLines("", err) {
				bad(key, "%s", strings.TrimPrefix(l.Error(), "webhook sink: "))
			}
		} else if d, r := w.RetryFor(), c.NATS.Retention; d >= r && r >= time.Minute {
			// The tagged stream drops items older than nats.retention,
			// retried or not: one would vanish instead of being
			// dead-lettered.
			w := w.WithDefaults()
			bad(key+".max_attempts", "%d with max_backoff %s retries an item for %s, beyond nats.retention %s: want fewer attempts or a shorter max_backoff",
				w.MaxAttempts, w.MaxBackoff, d, r)
		}
		// The name tells webhooks' consumers and dead-letter subjects
		// apart (SinkName); one webhook needs none.
		if j, dup := hooks[w.SinkName()]; dup {
			if w.Name == "" {
				bad(key+".name", "required when there are several webhooks (webhooks[%d] has none either; the name tells their consumers and dead-letter subjects apart)", j)
			} else {
				bad(key+".name", "%q: webhooks[%d] (%q) has the same name once folded to a subject token; give each webhook its own name", w.Name, j, c.Sinks.Webhooks[j].Name)
			}
		} else {
			hooks[w.SinkName()] = i
		}
	}
	if c.Dedup.Window < time.Minute {
		bad("dedup.window", "%s: want at least 1m", c.Dedup.Window)
	} else if err := c.Dedup.dedupConfig(c.NATS.Replicas).Validate(); err != nil {
		for _, l := range prefixLines("", err) {
			key, msg, ok := strings.Cut(l.Error(), ": ")
			if !ok || !strings.HasPrefix(key, "dedup.") {
				key, msg = "dedup", l.Error()
			}
			bad(key, "%s", msg)
		}
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
	pc := c.pollerConfig("")
	if c.Poller.MaxBody > MaxPollerMaxBody {
		bad("poller.max_body", "%s: want at most %s", c.Poller.MaxBody, ByteSize(MaxPollerMaxBody))
		pc.MaxBody = MaxPollerMaxBody // not reported again as max_decompressed (4 times it) overflowing
	}
	if err := pc.Validate(); err != nil {
		list := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		}
		for _, l := range list {
			if ce, ok := errors.AsType[*poller.ConfigError](l); ok {
				bad("poller."+ce.Key, "%v: %s", ce.Value, ce.Why)
			} else {
				bad("poller", "%v", l)
			}
		}
	}
	return errors.Join(errs...)
}

// validateFeeds checks names (unique after folding), URLs (absolute http
// or https with a host, each polled by one feed), intervals and headers.
func (c *Config) validateFeeds(bad func(key, format string, a ...any)) {
	names := map[string]int{}
	urls := map[string]int{}
	feed := func(i int) string {
		if n := c.Feeds[i].Name; n != "" {
			return fmt.Sprintf("feeds[%d] (%q)", i, n)
		}
		return fmt.Sprintf("feeds[%d]", i)
	}
	for i, f := range c.Feeds {
		key := fmt.Sprintf("feeds[%d]", i)
		if f.Name == "" {
			bad(key+".name", "required")
		} else if j, dup := names[pipeline.Token(f.Name)]; dup {
			bad(key+".name", "%q clashes with feeds[%d] (names must be unique after folding to a subject token)", f.Name, j)
		} else {
			names[pipeline.Token(f.Name)] = i
		}
		if err := poller.CheckURL(f.URL); err != nil {
			bad(key+".url", "feed %q: %s (want an absolute http or https URL)", f.Name, strings.TrimPrefix(err.Error(), "url "))
		} else if j, dup := urls[sameURL(f.URL)]; dup {
			bad(key+".url", "feed %q: %q is also the url of %s; poll each feed once", f.Name, f.URL, feed(j))
		} else {
			urls[sameURL(f.URL)] = i
		}
		if f.Interval < 0 {
			bad(key+".interval", "%s: must not be negative", f.Interval)
		}
		if err := poller.CheckHeaders(f.Headers); err != nil {
			bad(key+".headers", "%v", err)
		}
	}
}

// sameURL folds what does not change which document a URL names: the case
// of the scheme and host. Call it on URLs that parse.
func sameURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return u.String()
}

// natsURLWant is what nats.url takes, for messages.
const natsURLWant = "want nats://[user:password@]host[:port] (or tls://, ws://, wss://), comma-separated"

// checkNATSURLs checks each comma-separated URL of nats.url as the NATS
// client reads it (a URL without a scheme is nats://): it must parse, with
// the scheme nats, tls, ws or wss and a host. The messages show each URL
// redacted, never url.Parse's error, which quotes it, password and all.
func checkNATSURLs(s string) []error {
	var errs []error
	n := 0
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		n++
		if !strings.Contains(u, "://") {
			u = "nats://" + u
		}
		p, err := url.Parse(u)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%q does not parse: %s", redactURL(u), natsURLWant))
		case p.Scheme != "nats" && p.Scheme != "tls" && p.Scheme != "ws" && p.Scheme != "wss":
			errs = append(errs, fmt.Errorf("%q: scheme %q: %s", redactURL(u), p.Scheme, natsURLWant))
		case p.Hostname() == "":
			errs = append(errs, fmt.Errorf("%q: no host: %s", redactURL(u), natsURLWant))
		}
	}
	if n == 0 {
		errs = append(errs, fmt.Errorf("%q: no URL: %s", s, natsURLWant))
	}
	return errs
}

// checkListen accepts "" and "off" (no listener) and host:port with a
// numeric port; a host that looks like an IPv4 address must be one.
func checkListen(addr string) error {
	if addr == "" || addr == "off" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port, e.g. 127.0.0.1:9464, or \"off\"", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q: want a number from 0 to 65535", addr, port)
	}
	if strings.Trim(host, "0123456789.") == "" && host != "" && net.ParseIP(host) == nil {
		return fmt.Errorf("%q: host %q is not an IP address", addr, host)
	}
	if strings.ContainsAny(host, " /\\") {
		return fmt.Errorf("%q: host %q is not a host name or IP address", addr, host)
	}
	return nil
}

// checkFilePath reports why a sink could not create or open the file at
// p: its directory is missing, or p is a directory. It creates nothing.
func checkFilePath(p string) error {
	st, err := os.Stat(p)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("%q is a directory: want a file path", p)
	case err == nil || !errors.Is(err, fs.ErrNotExist):
		return nil // exists; or the sink will say what is wrong
	}
	dir := filepath.Dir(p)
	st, err = os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%q: directory %s does not exist (wirewatch does not create it)", p, dir)
	case err != nil:
		return fmt.Errorf("%q: directory %s: %v", p, dir, pathErr(err))
	case !st.IsDir():
		return fmt.Errorf("%q: %s is not a directory", p, dir)
	}
	return nil
}

// pathErr drops the operation and path of a *fs.PathError, which the
// message names already ("no such file or directory").
func pathErr(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
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
	hooks := make([]sinks.WebhookConfig, len(c.Sinks.Webhooks))
	for i, w := range c.Sinks.Webhooks {
		hooks[i] = w.WithDefaults()
	}
	c.Sinks.Webhooks = hooks
	// Paths absolute, as the daemon opens them: those from the file are
	// already (from its directory), those from the environment, flags or
	// defaults are from the working directory.
	c.Rules = slices.Clone(c.Rules)
	for i := range c.Rules {
		c.Rules[i] = absPath(c.Rules[i])
	}
	for _, p := range []*string{&c.NATS.DataDir, &c.NATS.Credentials, &c.Sinks.JSONL.Path, &c.Sinks.SQLite.Path} {
		*p = absPath(*p)
	}
	return c
}

// absPath is p made absolute from the working directory; "" stays "".
func absPath(p string) string {
	if p == "" {
		return p
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
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

// redactURL hides the user information of a URL, or of a comma-separated
// list of them (nats.url): everything from after the first scheme (or
// from the start, when a URL without a scheme comes first) to the last
// "@".
func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	start := 0
	if scheme := strings.Index(s, "://"); scheme >= 0 && scheme < strings.Index(s, "@") {
		start = scheme + 3
	}
	return s[:start] + "<redacted>" + s[at:]
}
