package sinks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Webhook headers. The signature is HMAC-SHA256, keyed with the shared
// secret, over "<t>.<body>", where t is the Unix time of the attempt; see
// docs/sinks.md for how a receiver checks it.
const (
	// WebhookSignatureHeader carries "t=<unix seconds>,v1=<hex hmac>".
	WebhookSignatureHeader = "Wirewatch-Signature"
	// WebhookDeliveryHeader carries the item version: the same on every
	// attempt of one item version, so receivers use it as an idempotency
	// key.
	WebhookDeliveryHeader = "Wirewatch-Delivery"
	// WebhookItemHeader carries the item ID (the same across edits).
	WebhookItemHeader = "Wirewatch-Item"
	// WebhookEventHeader is "item" for a new item, "item.update" for an
	// edited one.
	WebhookEventHeader = "Wirewatch-Event"
)

// WebhookConfig configures one webhook sink (an entry under sinks: in
// wirewatch.yaml). The sink is off when URL is empty.
type WebhookConfig struct {
	// Name tells several webhooks apart: it names the consumer and the
	// dead-letter subject (see SinkName). Default: none.
	Name string `yaml:"name"`
	// URL receives a POST of the item JSON (http or https).
	URL string `yaml:"url"`
	// Secret keys the HMAC-SHA256 signature. Empty sends no signature
	// header (only sensible on a trusted network).
	Secret string `yaml:"secret"`
	// Timeout bounds one attempt: connect, send, response headers and
	// reading the (capped) body. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Tags, when set, sends only items carrying at least one of these tags
	// (a tag's name, e.g. "ceasefire", or an entity tag such as
	// "zelensky"); others are skipped as delivered.
	Tags []string `yaml:"tags"`
	// FirstCopiesOnly skips copies (items with duplicate_of set).
	FirstCopiesOnly bool `yaml:"first_copies_only"`
	// Headers are added to every request (e.g. an Authorization token).
	Headers map[string]string `yaml:"headers"`
	// MaxResponseBytes caps how much of a response body is read (the rest
	// is discarded with the connection). Default 64 KiB.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// MaxAttempts is how many times an item is sent before it goes to
	// the dead-letter subject (1 to 100). Default 10.
	MaxAttempts int `yaml:"max_attempts"`
	// MaxBackoff caps the wait between two attempts of an item (1s to
	// 24h): the waits grow 1s, 5s, 30s, 2m, 10m, then double, up to
	// MaxBackoff, which then repeats (see Backoff). Default 10m.
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Webhook retry defaults: 10 attempts, waits of 1s, 5s, 30s, 2m, then
// 10m, about 53 minutes in all before an item is dead-lettered.
const (
	DefaultWebhookMaxAttempts = 10
	DefaultWebhookMaxBackoff  = 10 * time.Minute
)

// Limits of MaxAttempts and MaxBackoff.
const (
	maxWebhookAttempts   = 100
	minWebhookMaxBackoff = time.Second
	maxWebhookMaxBackoff = 24 * time.Hour
)

// WithDefaults returns c with every zero value that has a default set to
// it: what NewWebhook runs with and 'config check' prints.
func (c WebhookConfig) WithDefaults() WebhookConfig {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 10
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultWebhookMaxAttempts
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultWebhookMaxBackoff
	}
	return c
}

// Backoff returns the waits between attempts, for
// pipeline.StageConfig.BackOff (the last one repeats): 1s, 5s, 30s, 2m,
// 10m, then doubling, each capped at MaxBackoff (default 10m).
func (c WebhookConfig) Backoff() []time.Duration {
	limit := c.WithDefaults().MaxBackoff
	var waits []time.Duration
	for _, d := range []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute} {
		if d >= limit {
			break
		}
		waits = append(waits, d)
	}
	for d := 20 * time.Minute; d < limit; d *= 2 {
		waits = append(waits, d)
	}
	return append(waits, limit)
}

// RetryFor is how long an item that keeps failing is retried before it
// is dead-lettered: the sum of the waits between its MaxAttempts
// attempts (not counting the attempts themselves).
func (c WebhookConfig) RetryFor() time.Duration {
	waits, total := c.Backoff(), time.Duration(0)
	for i := range c.WithDefaults().MaxAttempts - 1 {
		total += waits[min(i, len(waits)-1)]
	}
	return total
}

// doer is the slice of *http.Client the webhook needs.
type doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Webhook POSTs each item as JSON to a URL, signed with HMAC-SHA256. One
// Write is one attempt: a 2xx is delivered; 400, 413, 415 and 422 are
// Permanent (the item is dead-lettered at once), since retrying a request
// the receiver refuses cannot help; any other status and network errors
// are retryable errors (the consumer retries with backoff). The webhook
// does not log: the stage driving it logs when the receiver starts
// failing and when it recovers (see pipeline.Stage). Safe for concurrent
// use.
type Webhook struct {
	cfg    WebhookConfig
	url    string
	host   string
	client doer
	tags   map[string]bool
	now    func() time.Time
}

var _ pipeline.Sink = (*Webhook)(nil)

// Timeout is the bound on one delivery attempt (the configured timeout, or
// its default).
func (w *Webhook) Timeout() time.Duration { return w.cfg.Timeout }

// NewWebhook checks cfg and returns the webhook sink. client sends the
// requests; nil means a client that does not follow redirects (a
// redirected POST would silently turn into a GET). Timeouts come from
// cfg.Timeout either way.
func NewWebhook(cfg WebhookConfig, client doer) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL) // checked by Validate
	cfg = cfg.WithDefaults()
	if client == nil {
		client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	w := &Webhook{cfg: cfg, url: u.String(), host: u.Host, client: client, now: time.Now}
	if len(cfg.Tags) > 0 {
		w.tags = make(map[string]bool, len(cfg.Tags))
		for _, t := range cfg.Tags {
			w.tags[t] = true
		}
	}
	return w, nil
}

// SinkName is the name to give pipeline.SinkConfig: "webhook", or
// "webhook-<name>" when Name is set, so each webhook has its own durable
// consumer (sink-webhook-<name>) and dead-letter subject
// (dlq.webhook-<name>).
func (c WebhookConfig) SinkName() string {
	if c.Name == "" {
		return "webhook"
	}
	return "webhook-" + pipeline.Token(c.Name)
}

// Validate reports every problem of c, joined. Messages never quote the
// URL, which often carries a token.
func (c WebhookConfig) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("webhook sink: url is empty"))
	case err != nil:
		errs = append(errs, errors.New("webhook sink: url does not parse"))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, errors.New("webhook sink: url must be an absolute http or https URL"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("webhook sink: timeout %s is negative", c.Timeout))
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, fmt.Errorf("webhook sink: max_response_bytes %d is negative", c.MaxResponseBytes))
	}
	if c.MaxAttempts < 0 || c.MaxAttempts > maxWebhookAttempts {
		errs = append(errs, fmt.Errorf("webhook sink: max_attempts %d: want 1 to %d (default %d)",
			c.MaxAttempts, maxWebhookAttempts, DefaultWebhookMaxAttempts))
	}
	if c.MaxBackoff != 0 && (c.MaxBackoff < minWebhookMaxBackoff || c.MaxBackoff > maxWebhookMaxBackoff) {
		errs = append(errs, fmt.Errorf("webhook sink: max_backoff %s: want 1s to 24h (default 10m)", c.MaxBackoff))
	}
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n\t") {
			errs = append(errs, fmt.Errorf("webhook sink: header name %q is not valid", k))
		}
		if strings.ContainsAny(v, "\r\n") {
			errs = append(errs, fmt.Errorf("webhook sink: header %s: value contains a line break", k))
		}
	}
	return errors.Join(errs...)
}

// Redacted returns a copy of c safe to print: the secret, header values
// and the URL's password, path and query (which often hold a token) are
// replaced.
func (c WebhookConfig) Redacted() WebhookConfig {
	if c.Secret != "" {
		c.Secret = "REDACTED"
	}
	if len(c.Headers) > 0 {
		h := make(map[string]string, len(c.Headers))
		for k := range c.Headers {
			h[k] = "REDACTED"
		}
		c.Headers = h
	}
	if u, err := url.Parse(c.URL); err == nil && u.Host != "" {
		r := url.URL{Scheme: u.Scheme, Host: u.Host}
		if u.User != nil {
			r.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			r.Path = "/REDACTED"
		}
		c.URL = r.String()
	} else if c.URL != "" {
		c.URL = "REDACTED"
	}
	return c
}

// StatusError is a non-2xx response from a webhook receiver.
type StatusError struct {
	// Host is the receiver's host (not the whole URL, which may hold a
	// token).
	Host   string
	Status int
	// Body is the start of the response body, for the log.
	Body string
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("post %s: status %d", e.Host, e.Status)
	}
	return fmt.Sprintf("post %s: status %d: %q", e.Host, e.Status, e.Body)
}

// wants reports whether the filter lets it through.
func (w *Webhook) wants(it *pipeline.Item) bool {
	if w.cfg.FirstCopiesOnly && it.DuplicateOf != "" {
		return false
	}
	if w.tags == nil {
		return true
	}
	return slices.ContainsFunc(it.Tags, func(t pipeline.Tag) bool { return w.tags[t.Tag] })
}

// Write POSTs it once, unless the filter skips it: a skipped item is
// not an attempt, and says nothing about the receiver's health to the
// stage (pipeline.NotAttempted).
func (w *Webhook) Write(ctx context.Context, it *pipeline.Item) error {
	if !w.wants(it) {
		pipeline.NotAttempted(ctx)
		return nil
	}
	return w.post(ctx, it)
}

// post makes one attempt to deliver it.
func (w *Webhook) post(ctx context.Context, it *pipeline.Item) error {
	body, err := it.Marshal()
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("webhook sink: encode %s: %w", it.ID, err))
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("webhook sink %s: %w", w.host, err))
	}
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "wirewatch-webhook/1")
	req.Header.Set(WebhookDeliveryHeader, it.Version())
	req.Header.Set(WebhookItemHeader, it.ID)
	event := "item"
	if it.Update {
		event = "item.update"
	}
	req.Header.Set(WebhookEventHeader, event)
	if w.cfg.Secret != "" {
		req.Header.Set(WebhookSignatureHeader, SignWebhook([]byte(w.cfg.Secret), w.now(), body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// net/http's error quotes the whole URL, whose path or query often
		// holds a token; the error goes to the log and into dead letters'
		// headers. Keep the cause, with the URL as config check prints it.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = &url.Error{Op: uerr.Op, URL: w.cfg.Redacted().URL, Err: uerr.Err}
		}
		// Network errors and timeouts: the receiver may be back later.
		return fmt.Errorf("webhook sink: post %s for %s: %w", w.host, it.ID, err)
	}
	snippet, rerr := w.drain(resp.Body, resp.Header.Get("Content-Type"))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Delivered even if reading the rest of the body failed.
		return nil
	}
	serr := &StatusError{Host: w.host, Status: resp.StatusCode, Body: snippet}
	err = fmt.Errorf("webhook sink: %s: %w", it.ID, serr)
	if rerr != nil {
		err = fmt.Errorf("%w (reading body: %v)", err, rerr)
	}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
		http.StatusUnprocessableEntity:
		// The receiver refuses this item: sending it again cannot help.
		return pipeline.Permanent(err)
	default:
		// 5xx, 408, 429, and what an operator fixes on the receiver's
		// side: a route missing during a deploy (404), an expired token
		// (401, 403), a moved endpoint (3xx, not followed). Retried with
		// the consumer's backoff (MaxAttempts, MaxBackoff: about 53
		// minutes in all by default) before the item is dead-lettered.
		return err
	}
}

// drain reads at most MaxResponseBytes of body, closes it and returns the
// start of it for error messages: an HTML error page as its text (a
// receiver's "405 Method Not Allowed" page is mostly markup), at most
// snippetBytes. A receiver sending more is cut off: the connection is
// closed instead of reused.
func (w *Webhook) drain(body io.ReadCloser, contentType string) (string, error) {
	defer body.Close()
	var head bytes.Buffer
	_, err := io.Copy(capWriter{&head, 4 << 10}, io.LimitReader(body, w.cfg.MaxResponseBytes))
	s := head.String()
	if strings.Contains(contentType, "html") || strings.HasPrefix(strings.TrimSpace(s), "<") {
		s = htmlText(s)
	}
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) > snippetBytes {
		cut := snippetBytes - len("…")
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s, err
}

// snippetBytes bounds the response text kept in a StatusError.
const snippetBytes = 256

// htmlText is the text of an HTML fragment, without scripts and styles.
func htmlText(s string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	skip := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.StartTagToken:
			name, _ := z.TagName()
			skip = string(name) == "script" || string(name) == "style"
		case html.EndTagToken:
			skip = false
		case html.TextToken:
			if !skip {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		}
	}
}

// capWriter keeps the first n bytes written and accepts (drops) the rest.
type capWriter struct {
	b *bytes.Buffer
	n int
}

func (c capWriter) Write(p []byte) (int, error) {
	if room := c.n - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// SignWebhook returns the Wirewatch-Signature header value for body sent
// at t: "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>".
func SignWebhook(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks a Wirewatch-Signature header against body, for
// receivers written in Go: the HMAC must match (any of several v1 values
// matches, to allow secret rotation) and t must be within tolerance of
// now, so a captured request cannot be replayed later.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("verify webhook: no valid timestamp in signature header")
	}
	if len(sigs) == 0 {
		return errors.New("verify webhook: no v1 signature in header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("verify webhook: timestamp %s is %s from now, beyond %s", ts, d.Round(time.Second), tolerance)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return errors.New("verify webhook: signature does not match")
}
