package poller

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ProjectURL is named in the User-Agent so outlets can see who polls them.
const ProjectURL = "https://github.com/wirewatch/wirewatch"

// Feed is one configured feed.
type Feed struct {
	// Name identifies the feed in subjects, state and logs; unique.
	Name string `yaml:"name" json:"name"`
	// URL is the feed document's address (http or https).
	URL string `yaml:"url" json:"url"`
	// Interval overrides Config.DefaultInterval for this feed; zero means
	// the default.
	Interval time.Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// FullText asks the poller to fetch each new item's page and replace
	// the item text with the article body extracted from it.
	FullText bool `yaml:"full_text,omitempty" json:"full_text,omitempty"`
	// FullTextTeasers fetches the page only for items whose feed text is a
	// teaser (short, ending in an ellipsis or a "Read more" link): the
	// automatic mode for feeds that sometimes carry whole stories.
	FullTextTeasers bool `yaml:"full_text_teasers,omitempty" json:"full_text_teasers,omitempty"`
	// Title is a human label (from OPML); optional.
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
	// Headers are extra request headers for this feed, such as
	// Authorization or Cookie for a wire service's subscriber feed. They go
	// with the feed's requests and with its article pages on the same host,
	// and are dropped on a redirect to another host. Headers the poller
	// manages (Accept-Encoding, conditional GET, Host) cannot be set.
	// Values are secrets: they never reach feed state, OPML or JSON.
	Headers map[string]string `yaml:"headers,omitempty" json:"-"`
}

// managedHeaders are set by the poller itself and cannot be configured.
var managedHeaders = map[string]bool{
	"Accept-Encoding": true, "If-None-Match": true, "If-Modified-Since": true, "Host": true,
	"Content-Length": true, "Connection": true, "Transfer-Encoding": true, "Te": true, "Upgrade": true,
}

// CheckHeaders reports every header of a feed's Headers that cannot be
// sent: a name that is not an HTTP token, a header the poller manages, a
// value with a line break or a NUL.
func CheckHeaders(h map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(h)) {
		switch {
		case !isToken(k):
			errs = append(errs, fmt.Errorf("header %q: not a valid header name", k))
		case managedHeaders[textproto.CanonicalMIMEHeaderKey(k)]:
			errs = append(errs, fmt.Errorf("header %q: set by wirewatch itself", k))
		case strings.ContainsAny(h[k], "\r\n\x00"):
			errs = append(errs, fmt.Errorf("header %q: value contains a line break or NUL", k))
		}
	}
	return errors.Join(errs...)
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// Config tunes the poller. The zero value of any field means its default
// (see DefaultConfig); Validate reports values that make no sense.
type Config struct {
	// Version goes into the User-Agent: "wirewatch/<Version> (+ProjectURL)".
	Version string
	// UserAgent replaces the whole User-Agent when set.
	UserAgent string

	// DefaultInterval is a feed's poll interval when it sets none (15m).
	DefaultInterval time.Duration
	// MinInterval and MaxInterval bound the interval after server hints
	// (Cache-Control max-age, Expires, RSS ttl, sy:updatePeriod) are applied
	// (floor 1m, ceiling 24h). A configured interval below the floor is
	// raised to it.
	MinInterval time.Duration
	MaxInterval time.Duration
	// Jitter is the fraction of the interval by which a next poll is moved
	// at random, so feeds don't fire together (0.1 = ±10%).
	Jitter float64

	// BackoffBase and BackoffMax shape the delay after consecutive
	// failures: BackoffBase·2^(n-1), ±Jitter, capped at BackoffMax
	// (defaults 1m and 12h). A failing feed keeps being retried at
	// BackoffMax; it is never disabled.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// RetryAfterMax caps how long a 429/503 Retry-After can hold a host (6h).
	RetryAfterMax time.Duration

	// ConnectTimeout bounds DNS plus TCP connect (10s), TLSTimeout the TLS
	// handshake (10s), HeaderTimeout the wait for response headers after the
	// request is written (30s), TotalTimeout the whole fetch including the
	// body and redirects (60s).
	ConnectTimeout time.Duration
	TLSTimeout     time.Duration
	HeaderTimeout  time.Duration
	TotalTimeout   time.Duration

	// MaxBody caps the bytes read from the wire (15 MiB); MaxDecompressed
	// caps the bytes after gzip decoding (4×MaxBody).
	MaxBody         int64
	MaxDecompressed int64
	// MaxRedirects caps the redirects followed per fetch (10).
	MaxRedirects int

	// Concurrency is the number of fetches in flight at once (32).
	Concurrency int
	// PerHostConcurrency is the number of fetches in flight to one host (1);
	// PerHostGap the minimum time between the starts of two requests to one
	// host (1s; negative means none).
	PerHostConcurrency int
	PerHostGap         time.Duration
	// PerProcessHostGap keeps the per-host gap within each process only.
	// By default, with a shared store (KV), instances reserve each start
	// on a host through the store, so the gap holds across all of them
	// (one more KV round trip per request). Per-host concurrency is per
	// process either way.
	PerProcessHostGap bool

	// AllowPrivateNetworks lets feeds resolve to private, loopback,
	// link-local and other non-public addresses. Off by default.
	AllowPrivateNetworks bool
	// AllowHosts names hosts ("host" or "host:port") the operator runs
	// themselves, such as replay's local server: they may resolve to any
	// address and are exempt from per-host politeness (gap and per-host
	// concurrency; the global limit still applies). This is an explicit
	// allow list, not a way to turn the address check off.
	AllowHosts []string

	// LeaseTTL is how long one instance holds a feed while fetching it; a
	// dead instance's feeds are picked up by another within it (2m). It
	// must exceed TotalTimeout.
	LeaseTTL time.Duration
	// Instance names this process in leases; default host name + pid +
	// random suffix. With an Identity it is prefixed "<Identity>/".
	Instance string
	// Identity, when set, names this instance across its restarts: a lease
	// held under the same Identity (by a crashed predecessor) is taken over
	// at once instead of after LeaseTTL. Set it only when no other live
	// process can have it; wirewatch uses the embedded server's data dir
	// identity (pipeline.Server.Identity), which only the process holding
	// the data dir lock reads, and one poller per process. Empty (the
	// default): every other holder's lease is waited out. It must not
	// contain "/".
	Identity string

	// PageCacheSize is the number of full-text pages remembered (by URL,
	// with validators and extracted text) (2048); PageFresh is how long a
	// cached page is reused without asking the server again (6h).
	PageCacheSize int
	PageFresh     time.Duration

	// resolve replaces the resolver step of the guarded dialer; benchmarks use
	// it to map many host names to loopback. Unexported: tests only.
	resolve func(host string) ([]net.IP, error)
	// transport replaces the HTTP transport (synctest tests serve an
	// http.Handler in memory, where sockets would escape the bubble).
	transport http.RoundTripper
}

// DefaultConfig returns the defaults spelled out on Config.
func DefaultConfig() Config {
	return Config{
		Version:            "dev",
		DefaultInterval:    15 * time.Minute,
		MinInterval:        time.Minute,
		MaxInterval:        24 * time.Hour,
		Jitter:             0.1,
		BackoffBase:        time.Minute,
		BackoffMax:         12 * time.Hour,
		RetryAfterMax:      6 * time.Hour,
		ConnectTimeout:     10 * time.Second,
		TLSTimeout:         10 * time.Second,
		HeaderTimeout:      30 * time.Second,
		TotalTimeout:       60 * time.Second,
		MaxBody:            15 << 20,
		MaxRedirects:       10,
		Concurrency:        32,
		PerHostConcurrency: 1,
		PerHostGap:         time.Second,
		LeaseTTL:           2 * time.Minute,
		PageCacheSize:      2048,
		PageFresh:          6 * time.Hour,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	if c.Version == "" {
		c.Version = d.Version
	}
	setDur(&c.DefaultInterval, d.DefaultInterval)
	setDur(&c.MinInterval, d.MinInterval)
	setDur(&c.MaxInterval, d.MaxInterval)
	setDur(&c.BackoffBase, d.BackoffBase)
	setDur(&c.BackoffMax, d.BackoffMax)
	setDur(&c.RetryAfterMax, d.RetryAfterMax)
	setDur(&c.ConnectTimeout, d.ConnectTimeout)
	setDur(&c.TLSTimeout, d.TLSTimeout)
	setDur(&c.HeaderTimeout, d.HeaderTimeout)
	setDur(&c.TotalTimeout, d.TotalTimeout)
	setDur(&c.PerHostGap, d.PerHostGap)
	setDur(&c.LeaseTTL, d.LeaseTTL)
	setDur(&c.PageFresh, d.PageFresh)
	if c.Jitter == 0 {
		c.Jitter = d.Jitter
	}
	if c.MaxBody == 0 {
		c.MaxBody = d.MaxBody
	}
	if c.MaxDecompressed == 0 {
		c.MaxDecompressed = 4 * c.MaxBody
	}
	if c.MaxRedirects == 0 {
		c.MaxRedirects = d.MaxRedirects
	}
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.PerHostConcurrency == 0 {
		c.PerHostConcurrency = d.PerHostConcurrency
	}
	if c.PageCacheSize == 0 {
		c.PageCacheSize = d.PageCacheSize
	}
	if c.PerHostGap < 0 {
		c.PerHostGap = 0
	}
	if c.Jitter < 0 {
		c.Jitter = 0
	}
	return c
}

// MaxPerHostGap bounds Config.PerHostGap (a reservation in the shared
// store lives this long).
const MaxPerHostGap = time.Hour

// ConfigError is one problem Validate found: the setting, named as in the
// poller section of wirewatch.yaml where it has a key there, its value and
// what is wrong with it.
type ConfigError struct {
	Key   string
	Value any
	Why   string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("poller: %s = %v: %s", e.Key, e.Value, e.Why)
}

// Validate reports every setting that makes no sense, after defaults, each
// as a *ConfigError, joined.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(key string, v any, why string) {
		errs = append(errs, &ConfigError{Key: key, Value: v, Why: why})
	}
	// Zero means the default; a negative duration is a typo (-1s for 1s),
	// never a setting. PerHostGap is the exception: negative means none.
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"default_interval", c.DefaultInterval}, {"min_interval", c.MinInterval}, {"max_interval", c.MaxInterval},
		{"backoff_base", c.BackoffBase}, {"backoff_max", c.BackoffMax}, {"retry_after_max", c.RetryAfterMax},
		{"connect_timeout", c.ConnectTimeout}, {"tls_timeout", c.TLSTimeout}, {"header_timeout", c.HeaderTimeout},
		{"timeout", c.TotalTimeout}, {"lease_ttl", c.LeaseTTL}, {"page_fresh", c.PageFresh},
	} {
		if d.v < 0 {
			bad(d.key, d.v, "must not be negative")
		}
	}
	if c.MinInterval > c.MaxInterval {
		bad("min_interval", c.MinInterval, "above max_interval "+c.MaxInterval.String())
	}
	if c.Jitter >= 1 {
		bad("jitter", c.Jitter, "must be below 1")
	}
	if c.BackoffBase > c.BackoffMax {
		bad("backoff_base", c.BackoffBase, "above backoff_max "+c.BackoffMax.String())
	}
	if c.MaxBody < 0 {
		bad("max_body", c.MaxBody, "must be positive")
	}
	if c.MaxDecompressed < c.MaxBody {
		bad("max_decompressed", c.MaxDecompressed, "below max_body")
	}
	if c.MaxRedirects < 0 || c.MaxRedirects > 30 {
		bad("max_redirects", c.MaxRedirects, "must be 0..30")
	}
	if c.Concurrency < 1 {
		bad("concurrency", c.Concurrency, "must be at least 1")
	}
	if c.PerHostConcurrency < 1 {
		bad("per_host_concurrency", c.PerHostConcurrency, "must be at least 1")
	}
	if c.PerHostGap > MaxPerHostGap {
		bad("per_host_gap", c.PerHostGap, "must be at most "+MaxPerHostGap.String())
	}
	if c.PageCacheSize < 0 {
		bad("page_cache_size", c.PageCacheSize, "must not be negative")
	}
	if c.LeaseTTL >= 0 && c.LeaseTTL <= c.TotalTimeout {
		bad("lease_ttl", c.LeaseTTL, "must exceed timeout "+c.TotalTimeout.String())
	}
	if strings.Contains(c.Identity, "/") {
		bad("identity", c.Identity, `must not contain "/"`)
	}
	for _, h := range c.AllowHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			bad("allow_hosts", h, "want host or host:port")
		}
	}
	return errors.Join(errs...)
}

// UserAgentHeader is the User-Agent header value the poller sends.
func (c Config) UserAgentHeader() string {
	if c.UserAgent != "" {
		return c.UserAgent
	}
	return "wirewatch/" + c.Version + " (+" + ProjectURL + ")"
}

// ValidateFeeds checks names and URLs: non-empty unique names (also unique
// once turned into subject tokens), absolute http(s) URLs.
func ValidateFeeds(feeds []Feed) error {
	var errs []error
	seen := map[string]string{}
	for i, f := range feeds {
		if f.Name == "" {
			errs = append(errs, fmt.Errorf("feeds[%d]: name is empty", i))
		} else if prev, ok := seen[stateKey(f.Name)]; ok {
			errs = append(errs, fmt.Errorf("feeds[%d] %q: name clashes with %q", i, f.Name, prev))
		} else {
			seen[stateKey(f.Name)] = f.Name
		}
		if err := checkURL(f.URL); err != nil {
			errs = append(errs, fmt.Errorf("feeds[%d] %q: %w", i, f.Name, err))
		}
		if f.Interval < 0 {
			errs = append(errs, fmt.Errorf("feeds[%d] %q: interval %s is negative", i, f.Name, f.Interval))
		}
		if err := CheckHeaders(f.Headers); err != nil {
			errs = append(errs, fmt.Errorf("feeds[%d] %q: %w", i, f.Name, err))
		}
	}
	return errors.Join(errs...)
}

// CheckURL reports why raw cannot be a feed URL: it must parse and be an
// absolute http or https URL with a host.
func CheckURL(raw string) error { return checkURL(raw) }

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL
		}
		return fmt.Errorf("url %q: %w", redactURL(raw), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: scheme must be http or https", redactURL(raw))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("url %q: no host", redactURL(raw))
	}
	return nil
}

// redactURL hides the password of a feed URL with user information
// (https://user:pass@host/feed, basic auth) in messages and logs, as
// net/http does in its own errors. A URL that does not parse loses
// everything between its scheme and its last "@".
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if _, ok := u.User.Password(); !ok {
			return raw // as written: Redacted would also rewrite it ("http://" to "http:")
		}
		return u.Redacted()
	}
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return raw[:start] + "xxxxx" + raw[at:]
}
