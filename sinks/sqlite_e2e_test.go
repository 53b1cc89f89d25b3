package sinks_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/wirewatch/wirewatch/pipeline"
	"github.com/wirewatch/wirewatch/sinks"
)

// lostAck stores through the sink, then reports failure the first time it
// sees each item version, as if the process died between the write and
// the ack: the consumer redelivers, and the sink must not store it twice.
type lostAck struct {
	sink pipeline.Sink
	mu   sync.Mutex
	seen map[string]int
}

func (l *lostAck) Write(ctx context.Context, it *pipeline.Item) error {
	if err := l.sink.Write(ctx, it); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[it.Version()]++
	if l.seen[it.Version()] == 1 {
		return errors.New("ack lost")
	}
	return nil
}

// TestDatabaseSinksRedelivered runs the SQLite and PostgreSQL sinks behind
// a real sink stage on an embedded NATS server, with every first ack lost:
// each item is stored exactly once, and an edit replaces its row.
func TestDatabaseSinksRedelivered(t *testing.T) {
	type db struct {
		sink  pipeline.Sink
		count func(query string) int
	}
	open := map[string]func(t *testing.T) db{
		"sqlite": func(t *testing.T) db {
			path := filepath.Join(t.TempDir(), "items.db")
			s, err := sinks.OpenSQLite(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ro.Close() })
			return db{s, func(q string) int {
				var n int
				if err := ro.QueryRow(q).Scan(&n); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return n
			}}
		},
		"postgres": func(t *testing.T) db {
			dsn := freshPostgresSchema(t)
			p, err := sinks.OpenPostgres(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			conn, err := pgx.Connect(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close(context.Background()) })
			return db{p, func(q string) int {
				var n int
				if err := conn.QueryRow(t.Context(), q).Scan(&n); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return n
			}}
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			d := open[name](t)
			ctx := t.Context()
			js, subj := startJetStream(t)
			la := &lostAck{sink: d.sink, seen: map[string]int{}}
			cfg := pipeline.SinkConfig(subj, name)
			cfg.BackOff = []time.Duration{10 * time.Millisecond}
			stage := pipeline.NewStage(js, cfg, pipeline.SinkHandler(la), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- stage.Run(runCtx) }()
			defer func() {
				stop()
				if err := <-done; err != nil {
					t.Errorf("stage Run: %v", err)
				}
			}()

			const n = 50
			fetched := time.Date(2025, 8, 16, 12, 0, 0, 0, time.UTC)
			var items []*pipeline.Item
			for i := range n {
				items = append(items, &pipeline.Item{ID: fmt.Sprintf("item-%02d", i), Feed: "afp", FeedURL: "https://example.org/afp.xml",
					Title: fmt.Sprintf("Title %d", i), Fetched: fetched, Text: "text", ContentHash: fmt.Sprintf("h%d", i),
					Tags: []pipeline.Tag{{Tag: "alaska-summit", Kind: "topic"}, {Tag: fmt.Sprintf("t%d", i%3), Kind: "topic"}}})
			}
			edit := *items[0]
			edit.Title, edit.Update = "Title 0 (updated)", true
			edit.Tags = []pipeline.Tag{{Tag: "sanctions", Kind: "topic"}}
			items = append(items, &edit)
			for _, it := range items {
				data, err := it.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := js.Publish(ctx, subj.Tagged(), data, jetstream.WithMsgID("tagged."+it.Version())); err != nil {
					t.Fatal(err)
				}
			}
			wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			if err := pipeline.WaitIdle(wctx, js, []pipeline.ConsumerRef{{Stream: subj.StreamTagged(), Consumer: cfg.Name}}, 0); err != nil {
				t.Fatal(err)
			}

			la.mu.Lock()
			for _, it := range items {
				if got := la.seen[it.Version()]; got != 2 {
					t.Errorf("%s (%s) written %d times, want 2 (first ack lost, then redelivered)", it.ID, it.Title, got)
				}
			}
			la.mu.Unlock()
			for q, want := range map[string]int{
				`SELECT count(*) FROM items`:         n,
				`SELECT count(*) FROM item_versions`: n + 1,
				`SELECT count(*) FROM item_tags`:     2*n - 1, // the edit has one tag instead of two
				`SELECT count(*) FROM items WHERE id = 'item-00' AND title = 'Title 0 (updated)'`: 1,
				`SELECT count(*) FROM item_tags WHERE tag = 'alaska-summit'`:                      n - 1,
			} {
				if got := d.count(q); got != want {
					t.Errorf("%s = %d, want %d", q, got, want)
				}
			}
			dlq, err := js.Stream(ctx, subj.StreamDLQ())
			if err != nil {
				t.Fatal(err)
			}
			info, err := dlq.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != 0 {
				t.Errorf("dead-letter stream holds %d messages, want 0", info.State.Msgs)
			}
		})
	}
}

func startJetStream(t *testing.T) (jetstream.JetStream, pipeline.Subjects) {
	t.Helper()
	srv, err := pipeline.StartServer(t.Context(), pipeline.ServerConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); srv.Shutdown() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subj := pipeline.MustSubjects("")
	if err := pipeline.Setup(t.Context(), js, subj, pipeline.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	return js, subj
}

// freshPostgresSchema returns a DSN for a new schema of the database named
// by WIREWATCH_TEST_POSTGRES_DSN, dropped at the end of the test. Without
// it the test skips, or fails when CI is set.
func freshPostgresSchema(t *testing.T) string {
	dsn, _ := sinks.PostgresTestDSN(t)
	return dsn
}
