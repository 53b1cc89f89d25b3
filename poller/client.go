package poller

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors a fetch can wrap; check with errors.Is.
var (
	// ErrBodyTooLarge: the body exceeded Config.MaxBody on the wire or
	// Config.MaxDecompressed after gzip decoding.
	ErrBodyTooLarge = errors.New("body too large")
	// ErrRedirectLoop: a redirect led back to a URL already visited.
	ErrRedirectLoop = errors.New("redirect loop")
	// ErrTooManyRedirects: more than Config.MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrForbiddenAddress: the host resolved only to addresses that are
	// refused (private, loopback, link-local…) and is not allowed.
	ErrForbiddenAddress = errors.New("address not public (private, loopback, link-local…): refused unless allow_private_networks is set")
)

// timeoutError is a fetch stopped by Config.TotalTimeout (poller.timeout):
// the server was too slow to send the whole response. errors.Is(err,
// context.DeadlineExceeded) holds for it.
type timeoutError struct {
	Limit time.Duration
}

// Error says how long the fetch was allowed.
func (e *timeoutError) Error() string {
	return fmt.Sprintf("timed out after %s (poller.timeout)", e.Limit)
}

// Timeout reports true, as net.Error timeouts do.
func (e *timeoutError) Timeout() bool { return true }

// Is makes a timeoutError match context.DeadlineExceeded.
func (e *timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// fetchCause returns what the caller should read of an error of one fetch
// under ctx: net/http's *url.Error wrapper dropped (it repeats the URL, and
// after a redirect names the Location header as sent, often a relative
// path), and the fetch's own timeoutError in place of whatever a read cut
// short by the total timeout reported ("context deadline exceeded").
func fetchCause(ctx context.Context, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if te, ok := context.Cause(ctx).(*timeoutError); ok && !errors.Is(err, ErrBodyTooLarge) {
		return te
	}
	return err
}

// StatusError is an HTTP status the poller treats as a failure.
type StatusError struct {
	Code int
	URL  string
	// RetryAfter is the server's Retry-After (429, 503), capped; zero when
	// absent or unparsable.
	RetryAfter time.Duration
}

// Error says which URL answered which status.
func (e *StatusError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s: http %d (retry after %s)", e.URL, e.Code, e.RetryAfter)
	}
	return fmt.Sprintf("%s: http %d", e.URL, e.Code)
}

const (
	acceptFeed = "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, " +
		"application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
	acceptPage = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
)

// client is the guarded HTTP client every request of the poller goes
// through (feeds, pages, discovery). Safe for concurrent use.
type client struct {
	cfg   Config
	hc    *http.Client
	allow map[string]bool // lower-case "host" and "host:port"
	now   func() time.Time
}

func newClient(cfg Config) *client {
	c := &client{cfg: cfg, allow: map[string]bool{}, now: time.Now}
	for _, h := range cfg.AllowHosts {
		c.allow[strings.ToLower(h)] = true
	}
	guarded := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivateNetworks {
		// Defence in depth: dialContext already dials only checked IPs;
		// Control sees the address the socket really connects to.
		guarded.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dial %s: %w", address, ErrForbiddenAddress)
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("dial %s: %w", address, ErrForbiddenAddress)
			}
			return nil
		}
	}
	open := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	// Keep as many idle connections to a host as may be in flight to it:
	// allowed hosts (replay's server) are exempt from the per-host limit.
	idlePerHost := max(2, cfg.PerHostConcurrency)
	if len(cfg.AllowHosts) > 0 {
		idlePerHost = max(idlePerHost, cfg.Concurrency)
	}
	tr := &http.Transport{
		Proxy:                  nil, // an environment proxy would bypass the address check
		DialContext:            c.dialer(guarded, open),
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    cfg.TLSTimeout,
		ResponseHeaderTimeout:  cfg.HeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true, // gzip is decoded here, under a cap
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    idlePerHost,
		IdleConnTimeout:        60 * time.Second,
		MaxResponseHeaderBytes: 256 << 10,
	}
	c.hc = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	if cfg.transport != nil {
		c.hc.Transport = cfg.transport
	}
	return c
}

// allowed reports whether host (and port) is on the operator's allow list.
func (c *client) allowed(host, port string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	return c.allow[host] || c.allow[net.JoinHostPort(host, port)]
}

// allowedURL is allowed for a URL's host.
func (c *client) allowedURL(u *url.URL) bool {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return c.allowed(u.Hostname(), port)
}

// dialer resolves the host itself, refuses non-public addresses unless
// allowed, and dials the very IP it checked (no second lookup to rebind).
func (c *client) dialer(guarded, open *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		if c.allowed(host, port) || (c.cfg.AllowPrivateNetworks && c.cfg.resolve == nil) {
			return open.DialContext(ctx, network, addr)
		}
		var ips []net.IP
		if ip := net.ParseIP(host); ip != nil {
			ips = []net.IP{ip}
		} else if c.cfg.resolve != nil {
			ips, err = c.cfg.resolve(host)
		} else {
			var addrs []net.IPAddr
			addrs, err = net.DefaultResolver.LookupIPAddr(ctx, host)
			for _, a := range addrs {
				ips = append(ips, a.IP)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		d := guarded
		if c.cfg.AllowPrivateNetworks {
			d = open
		}
		var errs []error
		for _, ip := range ips {
			a, ok := netip.AddrFromSlice(ip)
			if !ok {
				continue
			}
			if !c.cfg.AllowPrivateNetworks && !publicAddr(a.Unmap()) {
				if host == a.Unmap().String() || net.ParseIP(host) != nil {
					errs = append(errs, fmt.Errorf("%s: %w", host, ErrForbiddenAddress))
				} else {
					errs = append(errs, fmt.Errorf("%s resolves to %s: %w", host, a.Unmap(), ErrForbiddenAddress))
				}
				continue
			}
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
		if len(errs) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
		return nil, errors.Join(errs...)
	}
}

// nonPublic lists ranges that are not reachable public unicast space.
var nonPublic = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// publicAddr reports whether a is public unicast. NAT64 (64:ff9b::/96) and
// 6to4 addresses are judged by the IPv4 address they embed.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		if netip.MustParsePrefix("64:ff9b::/96").Contains(a) {
			return publicAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		}
		if netip.MustParsePrefix("2002::/16").Contains(a) {
			return publicAddr(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return a.IsGlobalUnicast()
}

// trace follows one fetch's redirect chain.
type trace struct {
	// permanent is the URL reached through redirects that were all
	// permanent (301/308) from the start; empty when the first was not.
	permanent string
	broken    bool // a temporary redirect interrupted the permanent chain
	// custom names the feed's own headers, dropped on a redirect to
	// another host.
	custom []string
}

type traceKey struct{}

func (c *client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.cfg.MaxRedirects {
		return fmt.Errorf("after %d redirects: %w", len(via)-1, ErrTooManyRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to %s: scheme not allowed", req.URL.Redacted())
	}
	target := req.URL.String()
	for _, v := range via {
		if v.URL.String() == target {
			return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), ErrRedirectLoop)
		}
	}
	tr, _ := req.Context().Value(traceKey{}).(*trace)
	if tr != nil && len(tr.custom) > 0 && !strings.EqualFold(req.URL.Hostname(), via[0].URL.Hostname()) {
		// A feed's credentials are for its own host only.
		for _, k := range tr.custom {
			req.Header.Del(k)
		}
	}
	if tr != nil && !tr.broken && req.Response != nil {
		switch req.Response.StatusCode {
		case http.StatusMovedPermanently, http.StatusPermanentRedirect:
			tr.permanent = target
		default:
			tr.broken = true
		}
	}
	return nil
}

// fetchRequest is one GET.
type fetchRequest struct {
	URL          string
	Accept       string
	ETag         string            // sent as If-None-Match
	LastModified string            // sent as If-Modified-Since
	Header       map[string]string // the feed's own headers (Feed.Headers)
}

// fetchResponse is what a GET yielded.
type fetchResponse struct {
	Status       int
	Header       http.Header
	Body         []byte // decoded; nil on 304
	FinalURL     string
	PermanentURL string // where 301/308 redirects from the start led; "" if none
	WireBytes    int64
}

// get performs one guarded GET: total timeout, redirects, caps, gzip.
// A 304 is returned as a response; other non-2xx statuses as *StatusError.
func (c *client) get(ctx context.Context, fr fetchRequest) (*fetchResponse, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.TotalTimeout, &timeoutError{Limit: c.cfg.TotalTimeout})
	defer cancel()
	tr := &trace{}
	ctx = context.WithValue(ctx, traceKey{}, tr)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fr.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", fr.URL, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgentHeader())
	req.Header.Set("Accept", fr.Accept)
	req.Header.Set("Accept-Encoding", "gzip")
	if fr.ETag != "" {
		req.Header.Set("If-None-Match", fr.ETag)
	}
	if fr.LastModified != "" {
		req.Header.Set("If-Modified-Since", fr.LastModified)
	}
	for k, v := range fr.Header {
		if !managedHeaders[textproto.CanonicalMIMEHeaderKey(k)] {
			req.Header.Set(k, v)
			tr.custom = append(tr.custom, k)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", fr.URL, fetchCause(ctx, err))
	}
	defer resp.Body.Close()
	out := &fetchResponse{
		Status:       resp.StatusCode,
		Header:       resp.Header,
		FinalURL:     resp.Request.URL.String(),
		PermanentURL: tr.permanent,
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		// Drain a little so the connection can be reused; never much.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return out, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		se := &StatusError{Code: resp.StatusCode, URL: redactURL(out.FinalURL)}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.now(), c.cfg.RetryAfterMax)
		}
		return out, se
	}
	body, wire, err := c.readBody(resp)
	out.WireBytes = wire
	if err != nil {
		return out, fmt.Errorf("read %s: %w", out.FinalURL, fetchCause(ctx, err))
	}
	out.Body = body
	return out, nil
}

// readBody reads the body under MaxBody (wire) and MaxDecompressed.
func (c *client) readBody(resp *http.Response) ([]byte, int64, error) {
	if resp.ContentLength > c.cfg.MaxBody {
		return nil, 0, fmt.Errorf("content-length %d over %d: %w", resp.ContentLength, c.cfg.MaxBody, ErrBodyTooLarge)
	}
	wire := &countingReader{r: io.LimitReader(resp.Body, c.cfg.MaxBody+1)}
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	var (
		body  []byte
		err   error
		limit = c.cfg.MaxBody
	)
	switch enc {
	case "", "identity":
		body, err = readCapped(wire, limit)
	case "gzip", "x-gzip":
		limit = c.cfg.MaxDecompressed
		var gz *gzip.Reader
		gz, err = gzip.NewReader(wire)
		if err == nil {
			body, err = readCapped(gz, limit)
		}
		if err != nil && wire.n > c.cfg.MaxBody {
			err = nil // report the wire cap below, it is the real cause
		}
		if err != nil && !strings.HasPrefix(err.Error(), "gzip: ") { // compress/gzip's own errors say it
			err = fmt.Errorf("gzip: %w", err)
		}
	default:
		return nil, wire.n, fmt.Errorf("content-encoding %q not supported", enc)
	}
	if wire.n > c.cfg.MaxBody {
		return nil, wire.n, fmt.Errorf("over %d bytes on the wire: %w", c.cfg.MaxBody, ErrBodyTooLarge)
	}
	if err != nil {
		return nil, wire.n, err
	}
	return body, wire.n, nil
}

// readCapped reads r to the end; more than limit bytes is ErrBodyTooLarge.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("over %d bytes decoded: %w", limit, ErrBodyTooLarge)
	}
	return b, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// parseRetryAfter reads delay-seconds or an HTTP date, relative to now,
// capped at max. Unparsable, past or negative values give zero.
func parseRetryAfter(v string, now time.Time, max time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(max/time.Second) {
			return max
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, max)
}
