package main

import (
	"log/slog"
	"strings"
	"testing"
)

// TestOpenBrokerBadURL checks that a nats.url that does not parse (which
// Validate reports first; feeds --nats-url is not validated) fails to
// connect without the password in the error: url.Parse's message quotes
// the whole URL.
func TestOpenBrokerBadURL(t *testing.T) {
	for _, u := range []string{"nats://user:s3cret@bad host:4222", "nats://user:s3cret@[::1:4222", "nats://127.0.0.1:1,nats://user:s3cret@bad host"} {
		b, err := openBroker(t.Context(), NATSConfig{URL: u}, "test", slog.New(slog.DiscardHandler))
		if err == nil {
			b.Close()
			t.Fatalf("openBroker(%q) connected", u)
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "a URL does not parse") {
			t.Errorf("openBroker(%q): %v, want a URL problem without the password", u, err)
		}
	}
}
