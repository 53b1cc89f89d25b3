package dedup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wirewatch/wirewatch/pipeline"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// natsEnv is an embedded server with the wirewatch streams.
type natsEnv struct {
	srv  *pipeline.Server
	js   jetstream.JetStream
	subj pipeline.Subjects
}

func startNATS(t *testing.T, dir string) *natsEnv {
	t.Helper()
	srv, err := pipeline.StartServer(t.Context(), pipeline.ServerConfig{DataDir: dir})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	env := &natsEnv{srv: srv, subj: pipeline.MustSubjects("")}
	env.js = connect(t, srv)
	if err := pipeline.Setup(t.Context(), env.js, env.subj, pipeline.StreamConfig{}); err != nil {
		t.Fatalf("setup streams: %v", err)
	}
	return env
}

// connect opens a connection of its own, as a separate process would.
func connect(t *testing.T, srv *pipeline.Server) jetstream.JetStream {
	t.Helper()
	nc, err := srv.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

// corpus builds deterministic test articles: nStories unrelated stories of
// random words, each reported by several feeds as an exact copy, a
// truncated copy with a footer, or the original; plus unrelated singles.
type corpusItem struct {
	it    pipeline.Item
	group int // items with one group are copies of one text
}

var vocab = func() []string {
	r := rand.New(rand.NewPCG(7, 7))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	words := make([]string, 5000)
	for i := range words {
		n := 4 + r.IntN(6)
		b := make([]byte, n)
		for j := range b {
			b[j] = letters[r.IntN(len(letters))]
		}
		words[i] = string(b)
	}
	return words
}()

func randomText(r *rand.Rand, paras, words int) string {
	var ps []string
	for range paras {
		ws := make([]string, words)
		for i := range ws {
			ws[i] = vocab[r.IntN(len(vocab))]
		}
		ps = append(ps, strings.Join(ws, " ")+".")
	}
	return strings.Join(ps, "\n\n")
}

func makeCorpus(groups, copies int, seed uint64) []corpusItem {
	r := rand.New(rand.NewPCG(seed, 1))
	base := time.Date(2026, 8, 15, 12, 0, 0, 0, time.UTC)
	var out []corpusItem
	for g := range groups {
		text := randomText(r, 6, 50)
		title := randomText(r, 1, 8)
		for c := range copies {
			feed := fmt.Sprintf("feed%d", c)
			body := text
			switch c % 3 {
			case 1: // truncated, with a related-links footer
				paras := strings.Split(text, "\n\n")
				body = strings.Join(paras[:4], "\n\n") + "\n\nRelated: more news\nOther headline here\nAnd another one"
			case 2: // a new headline and a byline
				title = randomText(r, 1, 7)
				body = "By A. Reporter\n\n" + text
			}
			ts := base.Add(time.Duration(g)*time.Minute + time.Duration(c)*time.Second)
			it := pipeline.Item{
				ID: testID(feed, fmt.Sprint(g)), Feed: feed, GUID: fmt.Sprintf("g%d-%d", g, c),
				URL:   fmt.Sprintf("https://%s.example/%d", feed, g),
				Title: title, Text: body, Published: ts, Fetched: ts, ContentHash: testHash(body),
			}
			out = append(out, corpusItem{it: it, group: g})
		}
	}
	return out
}

// runStages runs one stage per handler on the dedup durable until ctx
// ends; the returned func stops them and waits.
func runStages(t *testing.T, env *natsEnv, handlers ...pipeline.Handler) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i, h := range handlers {
		js := connect(t, env.srv)
		st := pipeline.NewStage(js, pipeline.StageConfig{
			Name: "dedup", Stream: env.subj.StreamParsed(), Subjects: []string{env.subj.AllParsed()},
			DeadLetter: env.subj.DeadLetter("dedup"), Batch: 8, BackOff: []time.Duration{20 * time.Millisecond},
		}, h, nil, discardLog().With("worker", i))
		wg.Go(func() {
			if err := st.Run(ctx); err != nil {
				t.Errorf("stage %d: %v", i, err)
			}
		})
	}
	return func() { cancel(); wg.Wait() }
}

// collect waits until the deduped stream holds want items and returns
// them, keyed by item ID, with the subject kind ("unique"/"duplicate").
func collect(t *testing.T, env *natsEnv, want int) map[string]collected {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := env.js.Stream(ctx, env.subj.StreamDeduped())
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		if s.CachedInfo().State.Msgs >= uint64(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deduped stream holds %d items after 60s, want %d", s.CachedInfo().State.Msgs, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cons, err := env.js.OrderedConsumer(ctx, env.subj.StreamDeduped(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	got := map[string]collected{}
	for len(got) < want {
		batch, err := cons.Fetch(want, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			it, err := pipeline.Unmarshal(msg.Data())
			if err != nil {
				t.Fatalf("output: %v", err)
			}
			kind := "unique"
			if strings.Contains(msg.Subject(), ".duplicate.") {
				kind = "duplicate"
			}
			if _, dup := got[it.ID]; dup {
				t.Errorf("item %s published twice on the deduped stream", it.ID)
			}
			got[it.ID] = collected{it: it, subject: kind}
		}
		if n == 0 {
			break
		}
	}
	return got
}

type collected struct {
	it      *pipeline.Item
	subject string
}

func newDedup(t *testing.T, env *natsEnv, js jetstream.JetStream, cfg Config) *Dedup {
	t.Helper()
	d, err := New(t.Context(), js, env.subj, cfg, discardLog())
	if err != nil {
		t.Fatalf("dedup.New: %v", err)
	}
	return d
}

func publish(t *testing.T, env *natsEnv, items []corpusItem) {
	t.Helper()
	pub := pipeline.NewPublisher(env.js, env.subj)
	for _, ci := range items {
		if err := pub.Publish(t.Context(), ci.it.Feed, []pipeline.Item{ci.it}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

// checkGroups checks the invariants: every group has exactly one first
// copy, every other member points at it, and all share one story.
func checkGroups(t *testing.T, items []corpusItem, got map[string]collected) map[int]string {
	t.Helper()
	firsts := map[int][]string{}
	stories := map[int]map[string]bool{}
	for _, ci := range items {
		c, ok := got[ci.it.ID]
		if !ok {
			t.Errorf("item %s (group %d) missing from the output", ci.it.ID, ci.group)
			continue
		}
		if (c.it.DuplicateOf == "") != (c.subject == "unique") {
			t.Errorf("item %s on %s subject with duplicate_of %q", ci.it.ID, c.subject, c.it.DuplicateOf)
		}
		if c.it.DuplicateOf == "" {
			firsts[ci.group] = append(firsts[ci.group], ci.it.ID)
		}
		if stories[ci.group] == nil {
			stories[ci.group] = map[string]bool{}
		}
		stories[ci.group][c.it.StoryID] = true
	}
	first := map[int]string{}
	for g, ids := range firsts {
		if len(ids) != 1 {
			t.Errorf("group %d has %d first copies %v, want 1", g, len(ids), ids)
		}
		first[g] = ids[0]
	}
	for _, ci := range items {
		c := got[ci.it.ID]
		if c.it != nil && c.it.DuplicateOf != "" && c.it.DuplicateOf != first[ci.group] {
			t.Errorf("item %s: duplicate_of %s, want the group's first copy %s", ci.it.ID, c.it.DuplicateOf, first[ci.group])
		}
	}
	for g, s := range stories {
		if len(s) != 1 {
			t.Errorf("group %d split over %d stories", g, len(s))
		}
	}
	return first
}

// TestTwoWorkers runs two dedup workers, each with its own connection and
// its own Dedup (as two processes would), on one durable, and checks that
// the result has the invariants of a single worker.
func TestTwoWorkers(t *testing.T) {
	env := startNATS(t, t.TempDir())
	items := makeCorpus(40, 5, 1)
	// Interleave the groups' copies so that both workers see copies of
	// one group at once.
	r := rand.New(rand.NewPCG(3, 3))
	r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	d1 := newDedup(t, env, connect(t, env.srv), Config{})
	d2 := newDedup(t, env, connect(t, env.srv), Config{})
	stop := runStages(t, env, d1, d2)
	defer stop()
	publish(t, env, items)
	got := collect(t, env, len(items))
	checkGroups(t, items, got)
	kinds := map[string]int{}
	for _, c := range got {
		kinds[c.it.DupKind]++
	}
	t.Logf("two workers: %d items, first copies %d, exact %d, syndicated %d", len(got), kinds[""], kinds["exact"], kinds["syndicated"])
	if kinds[""] != 40 {
		t.Errorf("first copies = %d, want 40", kinds[""])
	}
	// Once caught up, both workers hold the same state.
	stop()
	for i, d := range []*Dedup{d1, d2} {
		d.mu.Lock()
		err := d.catchUp(t.Context())
		d.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if st := d.Stats(); st.Items != len(items) || st.Stories != 40 {
			t.Errorf("worker %d holds %d items in %d stories, want %d in 40", i+1, st.Items, st.Stories, len(items))
		}
	}
}

// TestRestart checks that decisions survive a server and worker restart
// on the same data dir: copies of items seen before the restart are still
// copies of them and join their stories; a re-poll is dropped.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	items := makeCorpus(10, 4, 2)
	var before, after []corpusItem
	for _, ci := range items {
		if strings.HasSuffix(ci.it.Feed, "0") || strings.HasSuffix(ci.it.Feed, "1") {
			before = append(before, ci)
		} else {
			after = append(after, ci)
		}
	}

	env := startNATS(t, dir)
	d := newDedup(t, env, env.js, Config{})
	stop := runStages(t, env, d)
	publish(t, env, before)
	first := collect(t, env, len(before))
	stop()
	env.srv.Shutdown()

	env = startNATS(t, dir)
	// A clock a day and a half later: re-polls are no longer taken for
	// redeliveries.
	later := func() time.Time { return time.Now().Add(36 * time.Hour) }
	d = newDedup(t, env, env.js, Config{Now: later})
	if st := d.Stats(); st.Items != len(before) {
		t.Fatalf("after restart the state holds %d items, want %d", st.Items, len(before))
	}
	// Re-poll of an item from before: no output.
	outs, err := d.Handle(t.Context(), &before[0].it)
	if err != nil || len(outs) != 0 {
		t.Errorf("re-poll after restart: %d outputs, err %v; want none", len(outs), err)
	}
	stop = runStages(t, env, d)
	defer stop()
	publish(t, env, after)
	got := collect(t, env, len(items))
	fg := checkGroups(t, items, got)
	for g, id := range fg {
		if first[id].it == nil {
			t.Errorf("group %d: first copy %s was not published before the restart", g, id)
		}
	}
}

// TestHandleIdempotent checks that a redelivered message gets the same
// outputs (same MsgIDs) and an edit is an update keeping its story.
func TestHandleIdempotent(t *testing.T) {
	env := startNATS(t, t.TempDir())
	d := newDedup(t, env, env.js, Config{})
	items := makeCorpus(2, 2, 3)
	ctx := t.Context()
	first, err := d.Handle(ctx, &items[0].it)
	if err != nil {
		t.Fatal(err)
	}
	again, err := d.Handle(ctx, &items[0].it)
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "redelivery", again, first)
	var ev StoryEvent
	if len(first) != 2 || json.Unmarshal(first[1].Data, &ev) != nil || ev.Event != EventCreated {
		t.Fatalf("first delivery outputs %d, story event %+v; want item + created", len(first), ev)
	}
	edited := items[0].it
	edited.Title = "An edited headline"
	outs, err := d.Handle(ctx, &edited)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 {
		t.Fatalf("update: %d outputs, want 1 (no story event)", len(outs))
	}
	up, err := pipeline.Unmarshal(outs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if !up.Update || up.StoryID != ev.StoryID || up.DuplicateOf != "" || outs[0].Subject != env.subj.Unique(edited.Feed) {
		t.Errorf("update = %+v on %s; want update=true, story %s, unique", up, outs[0].Subject, ev.StoryID)
	}
}

// TestExpiredState checks that a worker starting after every record has
// expired (bucket TTL) still gets its compare-and-set through: the
// stream's last sequence then names a message that no longer exists.
func TestExpiredState(t *testing.T) {
	env := startNATS(t, t.TempDir())
	cfg := Config{Window: time.Second, KeepIDs: time.Second}
	d1 := newDedup(t, env, env.js, cfg)
	items := makeCorpus(2, 1, 5)
	if _, err := d1.Handle(t.Context(), &items[0].it); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		kv, err := env.js.KeyValue(t.Context(), env.subj.Bucket("dedup"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Values() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record did not expire: %d values", st.Values())
		}
		time.Sleep(200 * time.Millisecond)
	}
	d2 := newDedup(t, env, connect(t, env.srv), cfg)
	if st := d2.Stats(); st.Items != 0 {
		t.Fatalf("new worker loaded %d items from an expired bucket, want 0", st.Items)
	}
	outs, err := d2.Handle(t.Context(), &items[1].it)
	if err != nil || len(outs) == 0 {
		t.Fatalf("Handle after expiry: %d outputs, err %v", len(outs), err)
	}
	// The first worker, behind by one record, catches up and goes on.
	items[0].it.Title = "edited"
	if _, err := d1.Handle(t.Context(), &items[0].it); err != nil {
		t.Fatalf("first worker after the second wrote: %v", err)
	}
}

// TestMetrics: each kind of decision and story event is counted once, and
// the gauges report what the engine holds.
func TestMetrics(t *testing.T) {
	env := startNATS(t, t.TempDir())
	now := time.Date(2026, 8, 15, 13, 0, 0, 0, time.UTC)
	d := newDedup(t, env, env.js, Config{Now: func() time.Time { return now }})
	items := makeCorpus(1, 3, 4)
	exact := items[0].it
	exact.ID, exact.Feed = testID("other", "0"), "other"
	edited := items[0].it
	edited.Title = "An edited headline"
	handle := func(it *pipeline.Item) {
		t.Helper()
		if _, err := d.Handle(t.Context(), it); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range []*pipeline.Item{&items[0].it, &items[0].it, &items[1].it, &items[2].it, &exact, &edited} {
		handle(it)
	}
	now = now.Add(48 * time.Hour) // past the redelivery window: the same version again is a re-poll
	handle(&edited)

	m := d.metrics
	for kind, want := range map[string]float64{
		decisionFirst: 1, decisionRedelivery: 1, decisionSyndicated: 2, decisionExact: 1,
		decisionUpdate: 1, decisionRepoll: 1,
	} {
		if got := metricValue(t, m.decisions.WithLabelValues(kind)); got != want {
			t.Errorf("decisions{%s} = %v, want %v", kind, got, want)
		}
	}
	for ev, want := range map[string]float64{EventCreated: 1, EventGrew: 3, EventMerged: 0} {
		if got := metricValue(t, m.events.WithLabelValues(ev)); got != want {
			t.Errorf("story_events{%s} = %v, want %v", ev, got, want)
		}
	}
	cs := d.Collectors()
	if got := metricValue(t, cs[len(cs)-2]); got != 4 {
		t.Errorf("items_held = %v, want 4", got)
	}
	if got := metricValue(t, cs[len(cs)-1]); got != 1 {
		t.Errorf("stories_held = %v, want 1", got)
	}
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Errorf("register: %v", err)
		}
	}
}

// metricValue reads the value of a collector holding one counter or gauge.
func metricValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge: %v", &m)
	return 0
}

// TestCatchUpFailsWhenLogUnreachable checks that reading the decision log
// ends with an error when its consumer cannot be recreated, instead of
// retrying forever: nats.go's ordered consumer does by default, ignoring
// every context, and a dedup stage stuck there once kept its daemon from
// stopping (TestClusterNodeFailure, 7 minutes). A closed connection is
// the failure that never heals.
func TestCatchUpFailsWhenLogUnreachable(t *testing.T) {
	env := startNATS(t, t.TempDir())
	nc, err := env.srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	d := newDedup(t, env, js, Config{})
	nc.Close()
	done := make(chan error, 1)
	go func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		done <- d.catchUp(t.Context())
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("catchUp on a closed connection returned nil")
		}
		t.Logf("catchUp: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("catchUp still retrying after 60s on a closed connection")
	}
}

// TestCatchUpSkipsRecordWithoutStory: a record without a story in the
// bucket (dedup never writes one: another program's, or a corrupted one)
// is skipped like an unreadable one. Applied, it made the item an update
// of story "" (found by FuzzApplyRecord).
func TestCatchUpSkipsRecordWithoutStory(t *testing.T) {
	env := startNATS(t, t.TempDir())
	newDedup(t, env, env.js, Config{}) // creates the bucket
	it := makeCorpus(1, 1, 7)[0].it
	kv, err := env.js.KeyValue(t.Context(), env.subj.Bucket("dedup"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(Record{ID: it.ID})
	if _, err := kv.Put(t.Context(), "it."+pipeline.Token(it.ID), rec); err != nil {
		t.Fatal(err)
	}
	d := newDedup(t, env, connect(t, env.srv), Config{})
	outs, err := d.Handle(t.Context(), &it)
	if err != nil {
		t.Fatal(err)
	}
	var ev StoryEvent
	if len(outs) != 2 || json.Unmarshal(outs[1].Data, &ev) != nil || ev.Event != EventCreated || ev.StoryID == "" {
		t.Errorf("item with a storyless record in the bucket: %d outputs, story event %+v; want item + created", len(outs), ev)
	}
}

// sameOutputs checks that got are the outputs of the first delivery, want:
// same subjects and message IDs, in order.
func sameOutputs(t *testing.T, what string, got, want []pipeline.Output) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d (those of the first delivery)", what, len(got), len(want))
	}
	for i := range want {
		if got[i].Subject != want[i].Subject || got[i].MsgID != want[i].MsgID {
			t.Errorf("%s: output %d = %s %s, want %s %s", what, i, got[i].Subject, got[i].MsgID, want[i].Subject, want[i].MsgID)
		}
	}
}
