package sinks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

func newTestWebhook(t *testing.T, cfg WebhookConfig, client doer) *Webhook {
	t.Helper()
	w, err := NewWebhook(cfg, client)
	if err != nil {
		t.Fatalf("NewWebhook(%+v): %v", cfg, err)
	}
	return w
}

func TestWebhookSigned(t *testing.T) {
	secret := "s3cret"
	var (
		mu   sync.Mutex
		got  []*http.Request
		body [][]byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, body = append(got, r), append(body, b)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	wh := newTestWebhook(t, WebhookConfig{URL: srv.URL + "/hook?x=1", Secret: secret,
		Headers: map[string]string{"Authorization": "Bearer tok"}}, srv.Client())
	now := time.Date(2025, 8, 16, 12, 0, 0, 0, time.UTC)
	wh.now = func() time.Time { return now }

	it := testItem("a", "ceasefire")
	it.Update = true
	if err := wh.Write(t.Context(), it); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	r, b := got[0], body[0]
	if r.Method != http.MethodPost || r.URL.Path != "/hook" || r.URL.RawQuery != "x=1" {
		t.Errorf("request = %s %s, want POST /hook?x=1", r.Method, r.URL)
	}
	// Recompute the signature here, independently of SignWebhook.
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", now.Unix(), b)
	wantSig := fmt.Sprintf("t=%d,v1=%s", now.Unix(), hex.EncodeToString(mac.Sum(nil)))
	for h, want := range map[string]string{
		"Content-Type":         "application/json",
		"Authorization":        "Bearer tok",
		WebhookSignatureHeader: wantSig,
		WebhookDeliveryHeader:  it.Version(),
		WebhookItemHeader:      "a",
		WebhookEventHeader:     "item.update",
	} {
		if v := r.Header.Get(h); v != want {
			t.Errorf("header %s = %q, want %q", h, v, want)
		}
	}
	dec, err := pipeline.Unmarshal(b)
	if err != nil || dec.Version() != it.Version() || len(dec.Tags) != 1 {
		t.Errorf("body = %s (%v), want the item JSON", b, err)
	}
	if err := VerifyWebhook([]byte(secret), r.Header.Get(WebhookSignatureHeader), b, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("VerifyWebhook(what the sink sent) = %v", err)
	}
}

func TestVerifyWebhook(t *testing.T) {
	secret := []byte("k1")
	now := time.Unix(1755345600, 0)
	body := []byte(`{"id":"a"}`)
	sig := SignWebhook(secret, now, body)
	tests := []struct {
		name    string
		secret  []byte
		header  string
		body    []byte
		now     time.Time
		wantErr bool
	}{
		{"valid", secret, sig, body, now, false},
		{"valid, clock skew", secret, sig, body, now.Add(-4 * time.Minute), false},
		{"rotated secret: second v1 matches", secret, SignWebhook([]byte("old"), now, body) + ",v1=" + strings.SplitN(sig, "v1=", 2)[1], body, now, false},
		{"tampered body", secret, sig, []byte(`{"id":"b"}`), now, true},
		{"wrong secret", []byte("k2"), sig, body, now, true},
		{"replayed later", secret, sig, body, now.Add(time.Hour), true},
		{"timestamp changed", secret, strings.Replace(sig, "t=1755345600", "t=1755345601", 1), body, now, true},
		{"no timestamp", secret, "v1=" + strings.SplitN(sig, "v1=", 2)[1], body, now, true},
		{"no signature", secret, "t=1755345600", body, now, true},
		{"garbage", secret, "t=x,v1=zz", body, now, true},
		{"empty", secret, "", body, now, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyWebhook(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute)
			if (err != nil) != tt.wantErr {
				t.Errorf("VerifyWebhook(%q) = %v, want error %v", tt.header, err, tt.wantErr)
			}
		})
	}
}

func TestWebhookStatus(t *testing.T) {
	const (
		delivered = iota
		retryable
		permanent
	)
	tests := []struct {
		name   string
		status []int // one per attempt
		want   []int
	}{
		{"200", []int{200}, []int{delivered}},
		{"204", []int{204}, []int{delivered}},
		{"500 then 200", []int{500, 200}, []int{retryable, delivered}},
		{"503", []int{503}, []int{retryable}},
		{"408", []int{408}, []int{retryable}},
		{"429 with Retry-After", []int{429}, []int{retryable}},
		{"400", []int{400}, []int{permanent}},
		{"422", []int{422}, []int{permanent}},
		{"401 then 200", []int{401, 200}, []int{retryable, delivered}},
		{"404", []int{404}, []int{retryable}},
		{"410", []int{410}, []int{retryable}},
		{"302 not followed", []int{302}, []int{retryable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var followed atomic.Bool
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/moved" {
					followed.Store(true)
					return
				}
				code := tt.status[n.Add(1)-1]
				switch code {
				case 429:
					w.Header().Set("Retry-After", "3600")
				case 302:
					w.Header().Set("Location", "/moved")
				}
				w.WriteHeader(code)
				fmt.Fprintf(w, "reply %d", code)
			}))
			defer srv.Close()
			wh := newTestWebhook(t, WebhookConfig{URL: srv.URL, Secret: "k"}, nil)
			for i, want := range tt.want {
				err := wh.Write(t.Context(), testItem("a"))
				got := delivered
				if err != nil {
					got = retryable
					if pipeline.IsPermanent(err) {
						got = permanent
					}
				}
				if got != want {
					t.Errorf("attempt %d (status %d): Write = %v, want outcome %d (0 delivered, 1 retryable, 2 permanent)",
						i+1, tt.status[i], err, want)
				}
				if err != nil {
					var se *StatusError
					if !errors.As(err, &se) || se.Status != tt.status[i] || se.Body != fmt.Sprintf("reply %d", tt.status[i]) {
						t.Errorf("attempt %d: error %v does not carry status %d and the body", i+1, err, tt.status[i])
					}
				}
			}
			if followed.Load() {
				t.Errorf("the redirect was followed: a POST must not turn into a GET elsewhere")
			}
		})
	}
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client hanging up
		select {                    // hang until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	wh := newTestWebhook(t, WebhookConfig{URL: srv.URL + "/hook?token=QUERYSECRET", Timeout: 200 * time.Millisecond}, nil)
	err := wh.Write(t.Context(), testItem("a"))
	if err == nil || pipeline.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write(slow receiver) = %v, want a retryable deadline-exceeded error", err)
	}
	if err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Write(slow receiver) = %v, want the URL redacted", err)
	}
}

// TestWebhookNetworkError also checks that the error, which goes to the
// log and into the dead letter's headers, does not carry the URL's token:
// net/http's own error quotes the whole URL.
func TestWebhookNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook/PATHSECRET?token=QUERYSECRET"
	srv.Close() // nothing listens there now
	wh := newTestWebhook(t, WebhookConfig{URL: url}, nil)
	err := wh.Write(t.Context(), testItem("a"))
	if err == nil || pipeline.IsPermanent(err) {
		t.Errorf("Write(closed port) = %v, want a retryable error", err)
	}
	if err != nil && (strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "REDACTED")) {
		t.Errorf("Write(closed port) = %v, want the URL redacted", err)
	}
}

// countingClient is a real http.Client that counts the response body
// bytes its caller reads.
type countingClient struct {
	c    *http.Client
	read atomic.Int64
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.c.Do(r)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.read}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func TestWebhookHugeResponseCapped(t *testing.T) {
	for _, status := range []int{200, 500} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				chunk := []byte(strings.Repeat("x", 32<<10))
				for r.Context().Err() == nil { // endless body
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			}))
			defer srv.Close()
			const max = 100 << 10
			client := &countingClient{c: srv.Client()}
			wh := newTestWebhook(t, WebhookConfig{URL: srv.URL, MaxResponseBytes: max, Timeout: 20 * time.Second}, client)
			err := wh.Write(t.Context(), testItem("a"))
			if status == 200 && err != nil {
				t.Errorf("Write(200 + endless body) = %v, want delivered", err)
			}
			if status == 500 {
				var se *StatusError
				if !errors.As(err, &se) || len(se.Body) > 256 {
					t.Errorf("Write(500 + endless body) = %v, want a StatusError with at most 256 body bytes", err)
				}
			}
			if n := client.read.Load(); n > max {
				t.Errorf("read %d body bytes, want at most %d", n, max)
			}
		})
	}
}

func TestWebhookFilter(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get(WebhookItemHeader))
		mu.Unlock()
	}))
	defer srv.Close()
	wh := newTestWebhook(t, WebhookConfig{URL: srv.URL, Tags: []string{"ceasefire", "zelensky"}, FirstCopiesOnly: true}, nil)
	copyOf := testItem("copy", "ceasefire")
	copyOf.DuplicateOf = "first"
	entity := testItem("entity")
	entity.Tags = []pipeline.Tag{{Tag: "zelensky", Kind: "person"}}
	for _, it := range []*pipeline.Item{
		testItem("first", "ceasefire", "other"), copyOf, testItem("untagged"), testItem("elsewhere", "sports"), entity,
	} {
		if err := wh.Write(t.Context(), it); err != nil {
			t.Fatalf("Write(%s): %v", it.ID, err)
		}
	}
	if want := []string{"first", "entity"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("receiver got %v, want %v", got, want)
	}
}

func TestNewWebhookRejects(t *testing.T) {
	for _, cfg := range []WebhookConfig{
		{},
		{URL: "ftp://example.org/x"},
		{URL: "/relative"},
		{URL: "http://"},
		{URL: "http://example.org", Timeout: -time.Second},
		{URL: "http://example.org", Headers: map[string]string{"Bad Header": "x"}},
		{URL: "http://example.org", MaxAttempts: -1},
		{URL: "http://example.org", MaxAttempts: 101},
		{URL: "http://example.org", MaxBackoff: -time.Second},
		{URL: "http://example.org", MaxBackoff: 500 * time.Millisecond},
		{URL: "http://example.org", MaxBackoff: 25 * time.Hour},
	} {
		if _, err := NewWebhook(cfg, nil); err == nil {
			t.Errorf("NewWebhook(%+v) = nil error, want one", cfg)
		}
	}
}

// BenchmarkWebhookWrite measures one signed delivery to a loopback
// receiver that reads the body and answers 204.
func BenchmarkWebhookWrite(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	wh, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: "k"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	it := benchItems(b)[0]
	for b.Loop() {
		if err := wh.Write(b.Context(), it); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWebhookConfigRedacted(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"token in path", "https://hooks.example.org/services/T000/B000/XXXXSECRET", "https://hooks.example.org/REDACTED"},
		{"token in query", "https://h.example.org/?token=SECRET", "https://h.example.org/REDACTED"},
		{"basic auth", "https://me:SECRET@h.example.org", "https://me:REDACTED@h.example.org"},
		{"plain", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"unparsable", "http://[::1:SECRET", "REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := WebhookConfig{URL: tt.url, Secret: "SECRET", Headers: map[string]string{"Authorization": "Bearer SECRET"}}
			r := c.Redacted()
			if r.URL != tt.want {
				t.Errorf("Redacted().URL = %q, want %q", r.URL, tt.want)
			}
			if s := fmt.Sprintf("%+v", r); strings.Contains(s, "SECRET") {
				t.Errorf("Redacted() = %s, still holds the secret", s)
			}
			if c.Headers["Authorization"] != "Bearer SECRET" {
				t.Errorf("Redacted changed the original headers")
			}
			if err := c.Validate(); err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("Validate() = %v, echoes the URL", err)
			}
		})
	}
}

func TestWebhookSinkName(t *testing.T) {
	subj := pipeline.MustSubjects("")
	for name, want := range map[string]string{"": "sink-webhook", "Slack Alerts": "sink-webhook-slack_alerts"} {
		c := WebhookConfig{Name: name}
		if got := pipeline.SinkConfig(subj, c.SinkName()).Name; got != want {
			t.Errorf("consumer of webhook %q = %q, want %q", name, got, want)
		}
	}
}

func TestWebhookBackoff(t *testing.T) {
	const m = time.Minute
	tests := []struct {
		name       string
		attempts   int
		maxBackoff time.Duration
		want       []time.Duration
		retryFor   time.Duration
	}{
		// 1s + 5s + 30s + 2m + 5×10m: "about 53 minutes".
		{"defaults", 0, 0, []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * m, 10 * m}, 52*m + 36*time.Second},
		{"cap below the defaults", 4, m, []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, m}, 36 * time.Second},
		{"cap between steps", 3, 3 * time.Second, []time.Duration{time.Second, 3 * time.Second}, 4 * time.Second},
		{"cap at the first step", 5, time.Second, []time.Duration{time.Second}, 4 * time.Second},
		{"one attempt", 1, 0, []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * m, 10 * m}, 0},
		{"cap above the defaults doubles on", 9, time.Hour,
			[]time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * m, 10 * m, 20 * m, 40 * m, time.Hour}, 10*m + 2*m + 36*time.Second + 20*m + 40*m + time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := WebhookConfig{URL: "http://example.org", MaxAttempts: tt.attempts, MaxBackoff: tt.maxBackoff}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := c.Backoff(); !slices.Equal(got, tt.want) {
				t.Errorf("Backoff() = %v, want %v", got, tt.want)
			}
			if got := c.RetryFor(); got != tt.retryFor {
				t.Errorf("RetryFor() = %v, want %v", got, tt.retryFor)
			}
		})
	}
}

// TestWebhookErrorPage: a receiver's HTML error page is kept as its text,
// so that the log and the dead letter say what went wrong instead of
// showing the start of the markup.
func TestWebhookErrorPage(t *testing.T) {
	page := `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <style type="text/css">body { font-family: sans-serif; }</style>
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 501</p>
        <p>Message: Unsupported method (&#x27;POST&#x27;).</p>
        <p>Error code explanation: 501 - Server does not support this operation.</p>
    </body>
</html>
` + "<p>" + strings.Repeat("padding ", 100) + "</p>"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		w.WriteHeader(http.StatusNotImplemented)
		io.WriteString(w, page)
	}))
	defer srv.Close()
	err := newTestWebhook(t, WebhookConfig{URL: srv.URL}, nil).Write(t.Context(), testItem("a"))
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("Write = %v, want a StatusError", err)
	}
	want := "Error response Error response Error code: 501 Message: Unsupported method ('POST'). Error code explanation"
	if !strings.HasPrefix(se.Body, want) || strings.Contains(se.Body, "<") || strings.Contains(se.Body, "font-family") {
		t.Errorf("StatusError body %q: want the page's text, starting %q", se.Body, want)
	}
	if len(se.Body) > snippetBytes || !strings.HasSuffix(se.Body, "…") {
		t.Errorf("StatusError body of %d bytes: want at most %d, ending in … where cut", len(se.Body), snippetBytes)
	}
}
