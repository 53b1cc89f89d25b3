package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a dead letter (see Stage) and of a dead letter sent back to
// its stage by 'wirewatch dlq replay'.
const (
	// HeaderStage names the stage that gave up.
	HeaderStage = "Wirewatch-Stage"
	// HeaderSubject is the subject the message was consumed from.
	HeaderSubject = "Wirewatch-Subject"
	// HeaderError is the last error, at most 1 KiB of it.
	HeaderError = "Wirewatch-Error"
	// HeaderAttempts is how often the stage tried.
	HeaderAttempts = "Wirewatch-Attempts"
	// HeaderStreamSeq is the message's sequence in its original stream.
	HeaderStreamSeq = "Wirewatch-Stream-Seq"
	// HeaderReplayFor marks a dead letter republished to its original
	// subject for another try: only the stage it names handles it. Every
	// other consumer of the subject (the other sinks on items.tagged)
	// handled the item the first time, so it acks the message unhandled
	// and counts it as outcome "skipped".
	HeaderReplayFor = "Wirewatch-Replay-For"
)

// Output is one message a stage publishes for one input item.
type Output struct {
	Subject string
	// MsgID is the Nats-Msg-Id: the stream drops a repeat inside its
	// duplicate window, which makes a redelivery after a crash harmless.
	MsgID  string
	Data   []byte
	Header nats.Header
}

// Handler decides what a stage publishes for one input item. The runner
// decodes the message, calls Handle, publishes every Output with its MsgID
// and acks only after all publishes succeeded. An error makes the runner
// retry the message later; an error wrapped with Permanent makes it
// dead-letter the message at once. A message may be delivered again after
// a crash, so Handle must be idempotent: same input, same outputs, same
// MsgIDs.
type Handler interface {
	Handle(ctx context.Context, it *Item) ([]Output, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, it *Item) ([]Output, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, it *Item) ([]Output, error) { return f(ctx, it) }

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix (a poison message).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// StageConfig configures a stage's durable consumer.
type StageConfig struct {
	// Name is the durable consumer name, shared by every process running
	// the stage, so they split the work instead of repeating it.
	Name   string
	Stream string
	// Subjects filters the stream; empty means all of it.
	Subjects []string
	// Batch is how many messages one worker pulls at a time. Default 64.
	Batch int
	// AckWait is how long the server waits for an ack before redelivering
	// to another worker. Default 30s.
	AckWait time.Duration
	// MaxDeliver is how many attempts a message gets before it goes to the
	// dead-letter subject. Default 10.
	MaxDeliver int
	// BackOff lists the delays between attempts (the last one repeats).
	// Default 1s, 5s, 30s, 2m, 10m.
	BackOff []time.Duration
	// DeadLetter is the subject for messages given up on; empty disables
	// dead-lettering (the message is terminated and logged).
	DeadLetter string
	// HandleTimeout is the longest one Handle call may take (a sink's
	// write timeout, lock wait included); the handler's context ends
	// after it. 0: AckWait, for handlers that are fast or bound
	// themselves. When set, a worker pulls no more than
	// AckWait/(2×HandleTimeout) messages at a time (at least one): a
	// message waits in the buffer behind the slow ones before it, with its
	// ack deadline running since delivery. NewStage takes it from a
	// handler with a HandleTimeout method when the config has none.
	HandleTimeout time.Duration
}

func (c StageConfig) withDefaults() StageConfig {
	if c.Batch <= 0 {
		c.Batch = 64
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 10
	}
	if len(c.BackOff) == 0 {
		c.BackOff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}
	}
	if c.HandleTimeout > 0 {
		c.Batch = max(1, min(c.Batch, int(c.AckWait/(2*c.HandleTimeout))))
	}
	return c
}

// handleTimeout is what the handler's context allows one call.
func (c StageConfig) handleTimeout() time.Duration { return cmp.Or(c.HandleTimeout, c.AckWait) }

// Consumer returns the durable consumer configuration of the stage.
func (c StageConfig) Consumer() jetstream.ConsumerConfig {
	c = c.withDefaults()
	cc := jetstream.ConsumerConfig{
		Durable:       c.Name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxAckPending: 4 * c.Batch,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	switch len(c.Subjects) {
	case 0:
	case 1:
		cc.FilterSubject = c.Subjects[0]
	default:
		cc.FilterSubjects = c.Subjects
	}
	return cc
}

// Stage runs a Handler as a durable JetStream pull consumer. One Stage is
// one worker that handles messages in order; run several Stages with the
// same Name (in one process, made with Worker, or in many) to share the
// load.
//
// A stage logs the health of its destination, not each failed attempt:
// one Warn "stage failing" once three attempts in a row failed with a
// retryable error, one Info "stage recovered" at the next success, with
// down_for and failures (failed attempts meanwhile), and the gauge
// wirewatch_stage_failing is 1 in between. Each retry is logged at Debug
// and counted as outcome "retry"; a dead letter is logged at Error. A
// Permanent error (a bad item), an item the handler left alone
// (NotAttempted) and an attempt cut off by shutdown leave the state as
// it is.
type Stage struct {
	js      jetstream.JetStream
	cfg     StageConfig
	h       Handler
	log     *slog.Logger
	metrics *Metrics
	health  *health
}

// NewStage returns a stage; Run starts it. metrics may be nil. log is
// scoped with the stage's name; give it more context (a sink's redacted
// address) with log.With.
func NewStage(js jetstream.JetStream, cfg StageConfig, h Handler, metrics *Metrics, log *slog.Logger) *Stage {
	if ht, ok := h.(interface{ HandleTimeout() time.Duration }); ok && cfg.HandleTimeout == 0 {
		cfg.HandleTimeout = ht.HandleTimeout()
	}
	cfg = cfg.withDefaults()
	log = log.With("stage", cfg.Name)
	return &Stage{js: js, cfg: cfg, h: h, log: log, metrics: metrics, health: newHealth(cfg.Name, metrics, log)}
}

// Worker returns one more worker of s: the same consumer, handler,
// metrics and logger, and the same health, so the workers of a stage in
// one process log its failing and recovered lines once and set one
// gauge. Run each with its own goroutine.
func (s *Stage) Worker() *Stage {
	w := *s
	return &w
}

// Pull request lifetime and heartbeat of every stage (see Run).
const (
	pullExpiry    = 10 * time.Second
	pullHeartbeat = 2 * time.Second
)

// ShutdownGrace is how long a stage keeps handling the messages in hand
// after it is told to stop. Fast stages finish their buffer well within
// it; a sink whose destination hangs is cut off, and its messages are
// redelivered (handlers are idempotent), so a stop takes seconds, not
// one timeout per buffered message.
const ShutdownGrace = 5 * time.Second

// PublishTimeout is how long a publish waits for the server's ack before
// it counts as failed and is retried. An ack takes milliseconds; one that
// never comes was lost with a failing node, and the retry (idempotent by
// Nats-Msg-Id, or by compare-and-set for the dedup log) goes to the new
// stream leader. Give jetstream.New WithPublishAsyncTimeout(PublishTimeout).
const PublishTimeout = 10 * time.Second

// Run consumes until ctx ends, then finishes the message in hand and
// returns nil. It returns an error only when the consumer cannot be set up.
func (s *Stage) Run(ctx context.Context) error {
	var cons jetstream.Consumer
	err := Retry(ctx, func(ctx context.Context) error {
		var err error
		cons, err = s.js.CreateOrUpdateConsumer(ctx, s.cfg.Stream, s.cfg.Consumer())
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("stage %s: consumer on %s: %w", s.cfg.Name, s.cfg.Stream, err)
	}
	// A pull iterator keeps up to Batch messages buffered. When ctx ends
	// it is drained: pulling stops at once, and the messages already
	// buffered are still handled and acked rather than left to be
	// redelivered after AckWait. Pull requests expire after pullExpiry with
	// a heartbeat every pullHeartbeat: when a node fails and the consumer's
	// leader moves, the lost request is noticed after two missed heartbeats
	// and pulled again from the new leader (nats.go's defaults, 30s and
	// 15s, stall a stage for 30s after a failover).
	pull := func() (jetstream.MessagesContext, error) {
		it, err := cons.Messages(jetstream.PullMaxMessages(s.cfg.Batch),
			jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat))
		if err != nil {
			return nil, fmt.Errorf("stage %s: pull from %s: %w", s.cfg.Name, s.cfg.Stream, err)
		}
		return it, nil
	}
	it, err := pull()
	if err != nil {
		return err
	}
	// it is replaced when the server ends it (see below); the drain at
	// the end of ctx, from another goroutine, takes the current one.
	var itMu sync.Mutex
	current := func() jetstream.MessagesContext {
		itMu.Lock()
		defer itMu.Unlock()
		return it
	}
	stop := context.AfterFunc(ctx, func() { current().Drain() })
	defer stop()
	defer func() { current().Stop() }()
	grace, endGrace := context.WithCancelCause(context.WithoutCancel(ctx))
	defer endGrace(errShutdown)
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(ShutdownGrace, func() { endGrace(errShutdown) }) })
	defer stopGrace()
	// Outputs are published asynchronously: while the server confirms one
	// message's outputs, the next message is handled. A second goroutine,
	// owned here, waits for the confirmations in order and acks each input
	// only once all its outputs are stored. The channel bounds how many
	// messages are in flight.
	flights := make(chan *flight, s.cfg.Batch)
	var acker sync.WaitGroup
	acker.Go(func() {
		for f := range flights {
			s.finish(f)
		}
	})
	defer func() {
		close(flights)
		acker.Wait()
	}()
	// The server starts a message's ack deadline when it delivers it, into
	// the iterator's buffer; its handling starts when its turn comes. The
	// iterator has at most Batch messages buffered or requested, so the
	// n-th message taken was delivered after the (n-Batch)-th was taken:
	// taken holds those times, oldest overwritten (see keepAlive).
	taken := make([]time.Time, max(s.cfg.Batch, 1))
	started := time.Now()
	for i := range taken {
		taken[i] = started
	}
	for n := 0; ; n++ {
		msg, err := current().Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The iterator ends by itself when the connection is closed
			// for good (nats.go gives up reconnecting, say on expired
			// credentials), which stops the stage with an error, and on a
			// terminal pull status from the server, after which it pulls
			// again: returning quietly would leave the daemon running
			// without the stage.
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				if errors.Is(err, jetstream.ErrConnectionClosed) || s.js.Conn().IsClosed() {
					return fmt.Errorf("stage %s: %w", s.cfg.Name, err)
				}
				s.log.Warn("pull ended by the server, pulling again", "err", err)
				sleep(ctx, time.Second)
				next, err := pull()
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				itMu.Lock()
				old := it
				it = next
				itMu.Unlock()
				old.Stop()
				if ctx.Err() != nil {
					next.Drain()
				}
				continue
			}
			if errors.Is(err, jetstream.ErrConsumerDeleted) {
				return fmt.Errorf("stage %s: %w", s.cfg.Name, err)
			}
			// Heartbeats missed, consumer deleted or leader moving: the
			// iterator recovers by itself; say so and go on. A missed
			// heartbeat alone is Info: a busy machine (GC, a loaded
			// core) misses one now and then, and a connection really lost
			// is logged by the connection's own handlers.
			switch {
			case errors.Is(err, nats.ErrNoResponders):
				s.log.Debug("pull interrupted", "err", err)
			case errors.Is(err, jetstream.ErrNoHeartbeat):
				s.log.Info("pull interrupted", "err", err)
			default:
				s.log.Warn("pull interrupted", "err", err)
			}
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		// When ctx ends, work in hand and buffered messages still finish
		// (and are acked, which saves a redelivery after restart) for up
		// to ShutdownGrace. After that a destination that hangs must not
		// hold the process: the handler's context ends, and what is still
		// buffered is handed back at once (nak) for the next run or
		// another worker.
		if grace.Err() != nil {
			if err := msg.Nak(); err != nil {
				s.log.Debug("nak at shutdown failed", "err", err)
			}
			continue
		}
		now := time.Now()
		slot := &taken[n%len(taken)]
		alive := s.keepAlive(msg, now.Sub(*slot))
		*slot = now
		hctx, cancel := context.WithTimeout(grace, s.cfg.handleTimeout())
		f := s.begin(hctx, msg, alive)
		cancel()
		if f != nil {
			flights <- f
		}
	}
}

// keepAlive keeps the server from delivering msg again while it is in
// hand: a slow handler (a sink whose database waits on a lock) would
// otherwise see the messages behind it in the buffer pass their ack
// deadline and come back, to be handled twice and to use up attempts
// that were never made. waited bounds how long msg may have been
// buffered already: from that and every AckWait/3 after, until stop, it
// tells the server the message is in progress, which restarts its
// deadline. A fast stage, whose messages wait less, sends nothing.
func (s *Stage) keepAlive(msg jetstream.Msg, waited time.Duration) *keepAlive {
	every := s.cfg.AckWait / 3
	k := &keepAlive{}
	progress := func() {
		if err := msg.InProgress(); err != nil {
			s.log.Debug("in-progress ack failed", "err", err)
		}
	}
	if waited >= every {
		progress()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.t = time.AfterFunc(every, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.done {
			return
		}
		progress()
		k.t.Reset(every)
	})
	return k
}

// keepAlive is the timer of Stage.keepAlive.
type keepAlive struct {
	mu   sync.Mutex
	t    *time.Timer
	done bool
}

// stop ends the keep-alive: call it before msg is acked or nakked.
func (k *keepAlive) stop() {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.done = true
	k.t.Stop()
}

// errShutdown ends the handlers' contexts ShutdownGrace after Run was
// told to stop: an attempt it cuts off says nothing about the stage's
// health.
var errShutdown = errors.New("stage stopped")

// flight is a handled message whose outputs are being stored.
type flight struct {
	msg       jetstream.Msg
	outs      []Output
	futures   []jetstream.PubAckFuture
	start     time.Time
	delivered uint64
	log       *slog.Logger
	seq       uint64 // of the attempt, for the stage's health
	untried   bool   // the handler left the item alone (NotAttempted)
	alive     *keepAlive
}

// begin decodes and handles msg and starts publishing its outputs. It
// returns nil when the message was already settled (retry or dead letter).
func (s *Stage) begin(ctx context.Context, msg jetstream.Msg, alive *keepAlive) *flight {
	f := &flight{msg: msg, start: time.Now(), delivered: 1, log: s.log, alive: alive}
	if md, err := msg.Metadata(); err == nil {
		f.delivered = md.NumDelivered
	}
	if to := msg.Headers().Get(HeaderReplayFor); to != "" {
		if to != s.cfg.Name {
			alive.stop()
			s.skip(msg, to)
			return nil
		}
		ctx = WithReplay(ctx)
	}
	it, err := Unmarshal(msg.Data())
	if err != nil {
		alive.stop()
		s.giveUp(ctx, msg, Permanent(err), f.delivered)
		return nil
	}
	f.log = s.log.With("item", it.ID, "feed", it.Feed)
	var untried atomic.Bool
	f.seq = s.health.begin()
	f.outs, err = s.h.Handle(context.WithValue(ctx, attemptKey{}, &untried), it)
	f.untried = untried.Load()
	if err == nil {
		f.futures, err = s.publishAsync(f.outs)
	}
	if err != nil {
		s.retry(ctx, f, err, errors.Is(context.Cause(ctx), errShutdown))
		return nil
	}
	return f
}

type attemptKey struct{}

// NotAttempted tells the stage running the Handler that the item in hand
// was left alone on purpose, without trying the destination (a sink whose
// filter does not want it). The message is acked as handled, but its
// success says nothing about the destination's health: it does not end
// a failing state (see Stage). Outside a stage it does nothing.
func NotAttempted(ctx context.Context) {
	if a, ok := ctx.Value(attemptKey{}).(*atomic.Bool); ok {
		a.Store(true)
	}
}

// skip acks a dead letter replayed for another stage without handling
// it: this stage handled the item the first time.
func (s *Stage) skip(msg jetstream.Msg, to string) {
	if err := msg.Ack(); err != nil {
		s.log.Warn("ack failed", "err", err)
	}
	s.metrics.observe(s.cfg.Name, "skipped", time.Now())
	s.log.Debug("skipped a replay for another stage", "replay_for", to, "subject", msg.Subject())
}

type replayKey struct{}

// Replayed reports whether the message a Handler is called for is a dead
// letter sent back to this stage by 'wirewatch dlq replay' (header
// HeaderReplayFor). A handler that drops what it has seen before may need
// to handle such an item again: the first time, its outputs were never
// stored.
func Replayed(ctx context.Context) bool {
	v, _ := ctx.Value(replayKey{}).(bool)
	return v
}

// WithReplay returns ctx marked as the handling of a replayed dead letter
// (see Replayed). The stage runner marks the contexts it hands to Handle;
// tests of handlers use it too.
func WithReplay(ctx context.Context) context.Context {
	return context.WithValue(ctx, replayKey{}, true)
}

// finish waits until the server stored every output of f, then acks it.
func (s *Stage) finish(f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AckWait)
	defer cancel()
	for i, fut := range f.futures {
		var err error
		select {
		case <-fut.Ok():
		case err = <-fut.Err():
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.retry(rctx, f, fmt.Errorf("publish %s: %w", f.outs[i].Subject, err), false)
			rcancel()
			return
		}
	}
	if !f.untried {
		s.health.succeeded(f.seq)
	}
	f.alive.stop()
	if err := f.msg.Ack(); err != nil {
		// The outputs are published with MsgIDs: a redelivery is harmless.
		f.log.Warn("ack failed", "err", err)
	}
	s.metrics.observe(s.cfg.Name, "ok", f.start)
	f.log.Debug("handled", "outputs", len(f.outs))
}

// retry naks f's message with the backoff of its attempt, or dead-letters
// it when the error is permanent or the attempts are used up. A
// retryable error counts against the stage's health, unless shutdown cut
// the attempt off.
func (s *Stage) retry(ctx context.Context, f *flight, err error, cutOff bool) {
	f.alive.stop()
	permanent := IsPermanent(err)
	if !permanent && !cutOff {
		s.health.failed(f.seq, f.log, err, f.delivered)
	}
	if permanent || int(f.delivered) >= s.cfg.MaxDeliver {
		s.giveUp(ctx, f.msg, err, f.delivered)
		return
	}
	delay := s.cfg.BackOff[min(int(f.delivered)-1, len(s.cfg.BackOff)-1)]
	// The stage's failing line says that its destination is down; one
	// line per item and attempt would flood the log.
	f.log.Debug("handle failed, will retry", "err", err, "attempt", f.delivered, "retry_in", delay)
	s.metrics.observe(s.cfg.Name, "retry", f.start)
	if nerr := f.msg.NakWithDelay(delay); nerr != nil {
		f.log.Warn("nak failed", "err", nerr)
	}
}

// publishAsync starts publishing outs in order; the futures report each.
func (s *Stage) publishAsync(outs []Output) ([]jetstream.PubAckFuture, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(outs))
	for _, o := range outs {
		m := &nats.Msg{Subject: o.Subject, Data: o.Data, Header: o.Header}
		var opts []jetstream.PublishOpt
		if o.MsgID != "" {
			opts = append(opts, jetstream.WithMsgID(o.MsgID))
		}
		f, err := s.js.PublishMsgAsync(m, opts...)
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", o.Subject, err)
		}
		futures = append(futures, f)
	}
	return futures, nil
}

// giveUp sends msg to the dead-letter subject with the reason in headers
// and terminates it, so it is never silently lost.
func (s *Stage) giveUp(ctx context.Context, msg jetstream.Msg, cause error, delivered uint64) {
	if s.cfg.DeadLetter != "" {
		dl := &nats.Msg{Subject: s.cfg.DeadLetter, Data: msg.Data(), Header: nats.Header{}}
		dl.Header.Set(HeaderStage, s.cfg.Name)
		dl.Header.Set(HeaderSubject, msg.Subject())
		dl.Header.Set(HeaderError, truncate(cause.Error(), 1024))
		dl.Header.Set(HeaderAttempts, fmt.Sprint(delivered))
		if md, err := msg.Metadata(); err == nil {
			dl.Header.Set(HeaderStreamSeq, fmt.Sprint(md.Sequence.Stream))
			dl.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s.%s.%d", s.cfg.Name, md.Stream, md.Sequence.Stream))
		}
		if _, err := s.js.PublishMsg(ctx, dl); err != nil {
			// Not terminated: the server redelivers and we try again.
			s.log.Error("dead-letter publish failed, will retry", "err", err, "cause", cause, "subject", msg.Subject())
			_ = msg.NakWithDelay(s.cfg.BackOff[0])
			return
		}
	}
	s.metrics.observe(s.cfg.Name, "dead", time.Now())
	s.log.Error("giving up on message", "err", cause, "attempts", delivered, "subject", msg.Subject(), "dead_letter", s.cfg.DeadLetter)
	if err := msg.TermWithReason(truncate(cause.Error(), 200)); err != nil {
		s.log.Warn("term failed", "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
