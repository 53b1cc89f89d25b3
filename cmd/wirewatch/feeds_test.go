package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/parser"
	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/poller"
)

func TestFeedsImportExport(t *testing.T) {
	var out, errb bytes.Buffer
	if err := runFeeds(t.Context(), []string{"import", "../../poller/testdata/subscriptions.opml"}, nil, &out, &errb); err != nil {
		t.Fatalf("feeds import: %v (%s)", err, errb.String())
	}
	for _, want := range []string{"feeds:", "name: afp-world", "url: https://www.afp.com/en/rss/world.xml", "interval: 30m0s", "full_text: true",
		`# skipped: "Gopher" (gopher://old.example/feed): scheme must be http or https`, "5 feeds imported", "2 outlines skipped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("feeds import output lacks %q:\n%s", want, out.String())
		}
	}
	// The printed block is a valid config: export reads it back as OPML.
	cfgPath := filepath.Join(t.TempDir(), "wirewatch.yaml")
	if err := os.WriteFile(cfgPath, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runFeeds(t.Context(), []string{"export", "-c", cfgPath}, nil, &out, &errb); err != nil {
		t.Fatalf("feeds export: %v", err)
	}
	feeds, err := poller.ReadOPML(&out)
	if err != nil || len(feeds) != 5 || feeds[4].Interval.String() != "30m0s" {
		t.Errorf("export → import = %+v, %v; want the 5 imported feeds", feeds, err)
	}
}

func TestFeedsList(t *testing.T) {
	dir := t.TempDir()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`<rss version="2.0"><channel><title>t</title><item><title>a</title><guid>a</guid></item></channel></rss>`))
	}))
	defer web.Close()
	feeds := []poller.Feed{{Name: "good", URL: web.URL + "/good"}, {Name: "broken", URL: web.URL + "/broken"}, {Name: "unpolled", URL: web.URL + "/x"}}

	srv, err := pipeline.StartServer(t.Context(), pipeline.ServerConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	store, err := poller.OpenStore(t.Context(), js, pipeline.MustSubjects(""), 0)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := poller.DefaultConfig()
	pcfg.AllowPrivateNetworks = true
	p, err := poller.New(pcfg, feeds, discardPub{}, store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p.Poll(t.Context(), "good")
	p.Poll(t.Context(), "broken")
	nc.Close()
	srv.Shutdown()

	cfgPath := filepath.Join(t.TempDir(), "wirewatch.yaml")
	yml := "feeds:\n"
	for _, f := range feeds {
		yml += "  - name: " + f.Name + "\n    url: " + f.URL + "\n"
	}
	os.WriteFile(cfgPath, []byte(yml), 0o644)
	var out, errb bytes.Buffer
	if err := runFeeds(t.Context(), []string{"list", "-c", cfgPath, "--data-dir", dir}, nil, &out, &errb); err != nil {
		t.Fatalf("feeds list: %v (%s)", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("feeds list printed %d lines, want header + 3:\n%s", len(lines), out.String())
	}
	for i, want := range []string{"good  ", "broken  ", "unpolled  "} {
		if !strings.HasPrefix(lines[i+1], want) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i+1], want)
		}
	}
	for line, want := range map[int]string{1: "ok", 2: "backing off (1 error,", 3: "new (never polled)"} {
		if !strings.Contains(lines[line], want) {
			t.Errorf("line %d = %q, want %q", line, lines[line], want)
		}
	}
	if !strings.Contains(lines[2], "http 500") {
		t.Errorf("broken feed line lacks its last error: %q", lines[2])
	}
	if want := "feed state from the data dir " + dir; !strings.Contains(errb.String(), want) {
		t.Errorf("feeds list stderr = %q, want it to say %q", errb.String(), want)
	}

	// --json: one object per feed, in the order of the table, with its
	// status; the poller's item keys are left out.
	out.Reset()
	if err := runFeeds(t.Context(), []string{"list", "-c", cfgPath, "--data-dir", dir, "--json"}, nil, &out, &errb); err != nil {
		t.Fatalf("feeds list --json: %v (%s)", err, errb.String())
	}
	var got []feedStatus
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var fs feedStatus
		if err := json.Unmarshal([]byte(l), &fs); err != nil {
			t.Fatalf("feeds list --json: bad line %q: %v", l, err)
		}
		if strings.Contains(l, `"seen"`) {
			t.Errorf("feeds list --json printed the item keys: %s", l)
		}
		got = append(got, fs)
	}
	if len(got) != 3 || got[0].Name != "good" || got[0].Status != "ok" || got[0].Fetches != 1 ||
		got[1].Name != "broken" || got[1].Status != "backing off" || !strings.Contains(got[1].LastError, "http 500") ||
		got[2].Name != "unpolled" || got[2].Status != "new" || !got[2].NeverPolled || got[2].URL != web.URL+"/x" || got[0].NeverPolled {
		t.Errorf("feeds list --json =\n%s", out.String())
	}

	// Without a config no feed is "not in config"; with one, the stored
	// feeds it lacks are.
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"--data-dir", dir}, false},
		{[]string{"--data-dir", dir, "-c", filepath.Join(t.TempDir(), "none.yaml")}, true},
	} {
		if tt.want {
			os.WriteFile(tt.args[3], []byte("feeds: []\n"), 0o644)
		}
		out.Reset()
		errb.Reset()
		if err := runFeeds(t.Context(), append([]string{"list"}, tt.args...), nil, &out, &errb); err != nil {
			t.Fatalf("feeds list %q: %v (%s)", tt.args, err, errb.String())
		}
		if got := strings.Count(out.String(), "(not in config)"); got != 2*boolInt(tt.want) {
			t.Errorf("feeds list %q marked %d feeds \"(not in config)\", want %d:\n%s", tt.args, got, 2*boolInt(tt.want), out.String())
		}
		out.Reset()
		if err := runFeeds(t.Context(), append([]string{"list", "--json"}, tt.args...), nil, &out, &errb); err != nil {
			t.Fatalf("feeds list --json %q: %v (%s)", tt.args, err, errb.String())
		}
		if got := strings.Count(out.String(), `"not_in_config":true`); got != 2*boolInt(tt.want) {
			t.Errorf("feeds list --json %q marked %d feeds not_in_config, want %d:\n%s", tt.args, got, 2*boolInt(tt.want), out.String())
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFeedsDiscover(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<html><head><link rel="alternate" type="application/atom+xml" title="Atom" href="/atom.xml"></head></html>`))
	}))
	defer web.Close()
	t.Setenv("WIREWATCH_ALLOW_PRIVATE_NETWORKS", "true")
	var out, errb bytes.Buffer
	if err := runFeeds(t.Context(), []string{"discover", web.URL}, nil, &out, &errb); err != nil {
		t.Fatalf("feeds discover: %v", err)
	}
	if !strings.Contains(out.String(), web.URL+"/atom.xml") || !strings.Contains(out.String(), "link") {
		t.Errorf("feeds discover output:\n%s", out.String())
	}
}

type discardPub struct{}

func (discardPub) Publish(_ context.Context, _ string, _ []pipeline.Item) error { return nil }

// TestFeedsPreview fetches a bundled feed through the real client and
// prints it; a configured feed's name brings its headers (the server
// refuses requests without them).
func TestFeedsPreview(t *testing.T) {
	doc, err := os.ReadFile("../../testdata/feeds/afp-world.xml")
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/secure" && r.Header.Get("Authorization") != "Bearer t0k3n" {
			http.Error(w, "subscribers only", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(doc)
	}))
	defer web.Close()
	want, err := parser.Parse(parser.Source{Name: "x", URL: web.URL}, doc, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("WIREWATCH_ALLOW_PRIVATE_NETWORKS", "true")
	t.Setenv("WIRE_TOKEN", "t0k3n")

	var out, errb bytes.Buffer
	if err := runFeeds(t.Context(), []string{"preview", "-n", "100", web.URL + "/feed"}, nil, &out, &errb); err != nil {
		t.Fatalf("feeds preview: %v\n%s", err, errb.String())
	}
	text := out.String()
	if !strings.Contains(text, want.Title) || !strings.Contains(text, count(len(want.Items), "item")) {
		t.Errorf("preview header lacks %q / %d items:\n%s", want.Title, len(want.Items), text)
	}
	for _, it := range want.Items {
		if !strings.Contains(text, it.Title) {
			t.Errorf("preview lacks item %q", it.Title)
		}
	}

	cfgPath := filepath.Join(t.TempDir(), "wirewatch.yaml")
	os.WriteFile(cfgPath, []byte("feeds:\n  - name: wire\n    url: "+web.URL+"/secure\n    headers:\n      Authorization: Bearer ${WIRE_TOKEN}\n"), 0o644)
	out.Reset()
	if err := runFeeds(t.Context(), []string{"preview", "-c", cfgPath, "--json", "wire"}, nil, &out, &errb); err != nil {
		t.Fatalf("feeds preview wire (with its headers): %v", err)
	}
	if n := strings.Count(strings.TrimSpace(out.String()), "\n") + 1; n != len(want.Items) {
		t.Errorf("--json printed %d lines, want %d items", n, len(want.Items))
	}
	// Flags may follow the name.
	out.Reset()
	if err := runFeeds(t.Context(), []string{"preview", "wire", "-c", cfgPath, "--json"}, nil, &out, &errb); err != nil {
		t.Fatalf("feeds preview wire -c FILE --json: %v", err)
	}
	if n := strings.Count(strings.TrimSpace(out.String()), "\n") + 1; n != len(want.Items) {
		t.Errorf("preview wire -c FILE --json printed %d lines, want %d items", n, len(want.Items))
	}
	if err := runFeeds(t.Context(), []string{"preview", web.URL + "/secure"}, nil, &out, &errb); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("preview without the headers = %v, want the 401 named", err)
	}
}
