package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ServerConfig configures the embedded NATS server.
type ServerConfig struct {
	// Name is the server name; it must be unique within a cluster.
	// Default "wirewatch".
	Name string
	// DataDir holds JetStream's files. Required: nothing is kept in memory
	// only, so a restart loses nothing.
	DataDir string
	// Listen is an optional "host:port" client listener so other processes
	// (wirewatch subscribe, the nats CLI) can attach. Empty means
	// in-process connections only. Port 0 picks a free port.
	Listen string
	// MaxStore and MaxMemory bound JetStream's file and memory storage in
	// bytes. Defaults: 1 GiB and 64 MiB.
	MaxStore  int64
	MaxMemory int64
	// Cluster, when set, joins a NATS cluster: ClusterListen is this node's
	// route listener ("host:port"), Routes the other nodes' route URLs.
	ClusterName   string
	ClusterListen string
	Routes        []string
	// Log receives the server's notices and errors; nil discards them.
	Log *slog.Logger
}

// Server is an embedded nats-server with JetStream enabled.
// Shutdown stops it; it is safe for concurrent use.
type Server struct {
	ns   *server.Server
	cfg  ServerConfig
	lock *os.File // the data dir lock, released at Shutdown
	id   string   // the data dir's identity while locked (Identity)
}

// StartServer starts an embedded NATS server with JetStream and waits until
// it accepts connections. The server runs until Shutdown; ctx bounds only
// the start.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("embedded nats: data dir is required")
	}
	if cfg.Name == "" {
		cfg.Name = "wirewatch"
	}
	if cfg.MaxStore == 0 {
		cfg.MaxStore = 1 << 30
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = 64 << 20
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv, err := startServer(ctx, cfg)
	if err == nil && cfg.ClusterListen == "" {
		srv, err = fitMaxStore(ctx, srv, cfg)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	srv.lock = lock
	srv.id = dataDirIdentity(cfg, lock != nil)
	return srv, nil
}

func startServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	opts := &server.Options{
		ServerName:         cfg.Name,
		JetStream:          true,
		StoreDir:           cfg.DataDir,
		JetStreamMaxStore:  cfg.MaxStore,
		JetStreamMaxMemory: cfg.MaxMemory,
		DontListen:         cfg.Listen == "",
		NoSigs:             true,
		MaxPayload:         8 << 20,
	}
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: listen %q: %w", cfg.Listen, err)
		}
		opts.Host, opts.Port = host, port
		if port == 0 {
			opts.Port = server.RANDOM_PORT
		} else if ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port))); err != nil {
			// nats-server would log this and then never become ready:
			// say it at once, naming the setting.
			return nil, fmt.Errorf("embedded nats: client listener %s (nats.listen, --listen): %w", cfg.Listen, err)
		} else {
			ln.Close()
		}
	}
	if cfg.ClusterListen != "" {
		host, port, err := splitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: cluster listen %q: %w", cfg.ClusterListen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: host, Port: port}
		for _, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("embedded nats: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if cfg.Log != nil {
		ns.SetLoggerV2(serverLogger{cfg.Log}, false, false, false)
	}
	ns.Start()
	deadline := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if !ns.ReadyForConnections(deadline) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after %s (data dir %s; the server's errors are logged above)", deadline, cfg.DataDir)
	}
	return &Server{ns: ns, cfg: cfg}, nil
}

// fitMaxStore shrinks the streams' MaxBytes into a lowered max_store.
// nats-server reserves each stream's MaxBytes against max_store; after a
// restart with a smaller max_store it recovers the streams with their old
// limits and then refuses every stream create and update, a shrinking one
// included, while they reserve more than max_store: Setup failed and
// wirewatch could not start. So the server is restarted with max_store
// raised to what the streams reserve, every bounded file stream's MaxBytes
// is scaled down so that together they reserve 80% of the real max_store
// (what Setup's shares give), and the server is restarted with the real
// max_store. Setup then sets each stream's exact share. A single server
// only: a cluster's reservations are the meta leader's business.
func fitMaxStore(ctx context.Context, srv *Server, cfg ServerConfig) (*Server, error) {
	_, reserved, err := srv.ns.JetStreamReservedResources()
	if err != nil || reserved <= cfg.MaxStore {
		return srv, nil
	}
	if cfg.Log != nil {
		cfg.Log.Warn("embedded nats: the streams reserve more than nats.max_store (lowered?); shrinking their limits",
			"reserved", reserved, "max_store", cfg.MaxStore)
	}
	srv.ns.Shutdown()
	srv.ns.WaitForShutdown()
	raised := cfg
	raised.MaxStore = reserved
	if srv, err = startServer(ctx, raised); err != nil {
		return nil, err
	}
	if err := shrinkStreams(ctx, srv, reserved, cfg.MaxStore/10*8); err != nil {
		srv.ns.Shutdown()
		srv.ns.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: the streams reserve %d bytes, more than nats.max_store %d, and shrinking them failed: %w (raise nats.max_store)",
			reserved, cfg.MaxStore, err)
	}
	srv.ns.Shutdown()
	srv.ns.WaitForShutdown()
	return startServer(ctx, cfg)
}

// shrinkStreams scales every file stream's MaxBytes by target/reserved.
func shrinkStreams(ctx context.Context, srv *Server, reserved, target int64) error {
	nc, err := srv.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	names := js.StreamNames(ctx)
	var all []string
	for n := range names.Name() {
		all = append(all, n)
	}
	if err := names.Err(); err != nil {
		return err
	}
	for _, name := range all {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return err
		}
		sc := st.CachedInfo().Config
		if sc.MaxBytes <= 0 || sc.Storage != jetstream.FileStorage {
			continue
		}
		sc.MaxBytes = max(int64(float64(sc.MaxBytes)*(float64(target)/float64(reserved))), 1)
		if _, err := js.UpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
	}
	return nil
}

// Connect opens a client connection: in-process when the server has no
// listener, else over loopback. The caller closes it.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.Name("wirewatch"), nats.MaxReconnects(-1)}, opts...)
	if s.cfg.Listen == "" {
		opts = append(opts, nats.InProcessServer(s.ns))
		return nats.Connect("", opts...)
	}
	return nats.Connect(s.ns.ClientURL(), opts...)
}

// ClientURL is the URL other processes use to attach, or "" when the
// server has no listener.
func (s *Server) ClientURL() string {
	if s.cfg.Listen == "" {
		return ""
	}
	return s.ns.ClientURL()
}

// ClusterURL is this node's route URL, or "" when not clustered.
func (s *Server) ClusterURL() string {
	if s.cfg.ClusterListen == "" {
		return ""
	}
	addr := s.ns.ClusterAddr()
	if addr == nil {
		return ""
	}
	return "nats://" + addr.String()
}

// Shutdown stops the server and waits until it has stopped. JetStream
// state is flushed to the data dir.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	if s.lock != nil {
		s.lock.Close()
	}
}

func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// serverLogger adapts slog to nats-server's Logger.
type serverLogger struct{ log *slog.Logger }

func (l serverLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLogger) Debugf(format string, v ...any)  {}
func (l serverLogger) Tracef(format string, v ...any)  {}
