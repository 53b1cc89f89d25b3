package main

import (
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/sinks"
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

// TestWebhookAckWaitHugeTimeout checks that a webhook timeout Validate
// would refuse does not overflow the consumer's ack deadline (twice the
// timeout) to below the floor: it is bounded at twice MaxWebhookTimeout.
func TestWebhookAckWaitHugeTimeout(t *testing.T) {
	rig := startWebhookStages(t, sinks.WebhookConfig{URL: "http://127.0.0.1:1/h", Timeout: math.MaxInt64/2 + 1}, time.Millisecond, slog.New(slog.DiscardHandler))
	// Every stage pulling from its consumer, so that none is still making
	// it when the test stops the stages.
	deadline := time.Now().Add(10 * time.Second)
	var info *jetstream.ConsumerInfo
	for _, c := range []struct{ stream, name string }{
		{rig.subj.StreamParsed(), "dedup"}, {rig.subj.StreamDeduped(), "tag"}, {rig.subj.StreamTagged(), "sink-webhook"},
	} {
		for {
			cons, err := rig.b.js.Consumer(t.Context(), c.stream, c.name)
			if err == nil {
				info, err = cons.Info(t.Context())
			}
			if err == nil && info.NumWaiting > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stage %s not pulling: %v", c.name, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := info.Config.AckWait; got != 2*MaxWebhookTimeout {
		t.Errorf("webhook consumer ack deadline %s, want %s", got, 2*MaxWebhookTimeout)
	}
}

// TestNATSAsyncErrorsLogged: the client's asynchronous errors (here a slow
// consumer) go to the daemon's log, not as bare lines to stderr that would
// break JSON logs.
func TestNATSAsyncErrorsLogged(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	b, err := openBroker(t.Context(), NATSConfig{DataDir: t.TempDir(), MaxStore: MinMaxStore, MaxMemory: 64 << 20}, "test", log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sub, err := b.nc.SubscribeSync("slow")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(1, 1<<20); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		b.nc.Publish("slow", []byte("x"))
	}
	b.nc.Flush()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "slow consumer") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if out := logs.String(); !strings.Contains(out, `"msg":"nats error"`) || !strings.Contains(out, "slow consumer") || !strings.Contains(out, `"subject":"slow"`) {
		t.Errorf("log after a slow consumer:\n%s\nwant a nats error line naming the subject", out)
	}
}

// TestJSONLogDurations: the JSON log writes durations as the text log
// does ("1m30s"), not as nanoseconds.
func TestJSONLogDurations(t *testing.T) {
	var b strings.Builder
	newLogger(LogConfig{Level: "info", Format: "json"}, &b).Info("x", "down_for", 90*time.Second)
	if !strings.Contains(b.String(), `"down_for":"1m30s"`) {
		t.Errorf("JSON log line %s: want \"down_for\":\"1m30s\"", b.String())
	}
}
