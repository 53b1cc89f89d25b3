package sinks

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// freezer is a TCP proxy to a real PostgreSQL that can stop passing bytes
// on: a server that accepts connections but never answers (frozen,
// overloaded, a network black hole).
type freezer struct {
	ln     net.Listener
	target string
	frozen atomic.Bool
	wg     sync.WaitGroup
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target}
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			for _, pair := range [][2]net.Conn{{c, up}, {up, c}} {
				f.wg.Go(func() {
					defer pair[0].Close()
					defer pair[1].Close()
					buf := make([]byte, 32<<10)
					for {
						n, err := pair[0].Read(buf)
						for f.frozen.Load() {
							time.Sleep(10 * time.Millisecond) // hold the bytes
						}
						if n > 0 {
							if _, werr := pair[1].Write(buf[:n]); werr != nil {
								return
							}
						}
						if err != nil {
							return
						}
					}
				})
			}
		}
	})
	// Runs after the sink's pool is closed (cleanups run last first), so
	// every proxied connection ends.
	t.Cleanup(func() { f.frozen.Store(false); ln.Close(); f.wg.Wait() })
	return f
}

// TestPostgresWriteTimeout freezes the database under the sink: a write
// fails after PostgresWriteTimeout (and is retried by the consumer)
// instead of hanging for the consumer's whole ack deadline, or for ever
// when the caller sets no deadline.
func TestPostgresWriteTimeout(t *testing.T) {
	dsn, _ := postgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	fz := newFreezer(t, u.Host)
	u.Host = fz.ln.Addr().String()
	p := openTestPostgres(t, u.String())
	if err := p.Write(t.Context(), testItem("before")); err != nil {
		t.Fatalf("write through the proxy: %v", err)
	}
	fz.frozen.Store(true)
	done := make(chan error, 1)
	go func() { done <- p.Write(context.Background(), testItem("frozen")) }()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("write to a frozen database: %v, want a deadline error", err)
		}
	case <-time.After(PostgresWriteTimeout + 20*time.Second):
		fz.frozen.Store(false) // let the write and the pool's Close end
		t.Fatalf("write to a frozen database still waiting after %s", PostgresWriteTimeout+20*time.Second)
	}
	fz.frozen.Store(false)
}
