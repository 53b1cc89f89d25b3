package poller

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/parser"
)

// TestErrorMessages checks the exact wording of fetch and parse errors: each
// says once what failed and where (no "parse feed f: parse feed f:", no
// "gzip: gzip:", no net/http `Get "/relative"` wrapper), and a total timeout
// says how long was allowed and which setting sets it. SRV stands for the
// test server's URL.
func TestErrorMessages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/empty":
			w.Header().Set("Content-Type", "application/rss+xml")
		case "/not-a-feed":
			w.Write([]byte(`{"not": "a feed"}`))
		case "/bad-gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("this is not gzip"))
		case "/loop":
			w.Header().Set("Location", "/loop") // relative, as the audit's server sent it
			w.WriteHeader(http.StatusFound)
		case "/missing":
			http.NotFound(w, r)
		case "/drip":
			drip(w, r, 20*time.Millisecond)
		}
	}))
	defer srv.Close()
	cfg := localConfig(t, srv)
	cfg.TotalTimeout = 300 * time.Millisecond

	tests := []struct {
		name string
		want string
		is   error // errors.Is must hold too, if set
	}{
		{"empty", "parse feed empty: empty document", nil},
		{"not-a-feed", `parse feed not-a-feed: not a JSON Feed: no "version" and no "items" (JSON Feed 1.0 and 1.1 require both)`, nil},
		{"bad-gzip", "read SRV/bad-gzip: gzip: invalid header", nil},
		{"loop", "get SRV/loop: redirect to SRV/loop: redirect loop", ErrRedirectLoop},
		{"missing", "SRV/missing: http 404", nil},
		{"drip", "read SRV/drip: timed out after 300ms (poller.timeout)", context.DeadlineExceeded},
	}
	var feeds []Feed
	for _, tt := range tests {
		feeds = append(feeds, Feed{Name: tt.name, URL: srv.URL + "/" + tt.name})
	}
	p := mustNew(t, cfg, feeds, newRecorder(), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := strings.ReplaceAll(tt.want, "SRV", srv.URL)
			_, err := p.Poll(t.Context(), tt.name)
			if err == nil {
				t.Fatalf("Poll(%s) succeeded, want %q", tt.name, want)
			}
			// Poll adds the feed's name once; the state keeps the cause.
			if got, wantPoll := err.Error(), "poll "+tt.name+": "+want; got != wantPoll {
				t.Errorf("Poll(%s) error\n got %q\nwant %q", tt.name, got, wantPoll)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Poll(%s) error %q: errors.Is(%v) = false", tt.name, err, tt.is)
			}
			st, _, err := p.store.Load(t.Context(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if st.LastError != want {
				t.Errorf("state of %s: LastError\n got %q\nwant %q", tt.name, st.LastError, want)
			}
		})
	}

	// Preview names the URL once too.
	_, err := Preview(t.Context(), cfg, Feed{Name: "missing", URL: srv.URL + "/missing"})
	if want := "preview: " + srv.URL + "/missing: http 404"; err == nil || err.Error() != want {
		t.Errorf("Preview(/missing) = %v, want %q", err, want)
	}
	_, err = Discover(t.Context(), cfg, srv.URL+"/bad-gzip")
	if want := "discover: read " + srv.URL + "/bad-gzip: gzip: invalid header"; err == nil || err.Error() != want {
		t.Errorf("Discover(/bad-gzip) = %v, want %q", err, want)
	}
}

// TestTimeoutOnlyOwnDeadline: a fetch ended by its caller (shutdown) is not
// reported as the poller.timeout.
func TestTimeoutOnlyOwnDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := newClient(localConfig(t, srv).withDefaults())
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := c.get(ctx, fetchRequest{URL: srv.URL, Accept: acceptFeed})
	if err == nil || strings.Contains(err.Error(), "poller.timeout") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("get with the caller's deadline = %v, want the caller's context error", err)
	}
}

// TestPollSkippedEntries: entries with nothing to read are not published;
// the poll says how many were skipped and logs it once.
func TestPollSkippedEntries(t *testing.T) {
	body := `<rss version="2.0"><channel><title>t</title>` +
		`<item><title>Kept</title><guid>k</guid></item>` +
		`<item><guid>only-a-guid</guid></item>` +
		`<item><title> </title><description> </description></item></channel></rss>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body))
	}))
	defer srv.Close()
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pub := newRecorder()
	p, err := New(localConfig(t, srv), []Feed{{Name: "sparse", URL: srv.URL}}, pub, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Poll(t.Context(), "sparse")
	if err != nil {
		t.Fatal(err)
	}
	want := []parser.Skip{{Entry: 2, Reason: "no title, link or text"}, {Entry: 3, Reason: "no title, link or text"}}
	if res.Items != 1 || !slices.Equal(res.Skipped, want) {
		t.Errorf("Poll(sparse) = %d items, skipped %v; want 1, %v", res.Items, res.Skipped, want)
	}
	if _, n := pub.count("sparse"); n != 1 {
		t.Errorf("published %d items, want 1", n)
	}
	const line = `level=WARN msg="feed entries skipped" feed=sparse skipped=2 first="entry 2: no title, link or text" items=1`
	if !strings.Contains(logs.String(), line) {
		t.Errorf("log = %q, want a line containing %q", logs.String(), line)
	}
}
