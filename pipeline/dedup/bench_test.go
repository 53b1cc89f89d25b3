package dedup

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wirewatch/wirewatch/pipeline"
)

// benchItems makes n news-like items of about 3 KB: words drawn from a
// Zipf distribution over a 20,000-word vocabulary (so document
// frequencies look like real text; 1 word in 40 is a number, as in ECB+
// news text, so items have event details), one item every 10 s, 1 in 10 a copy
// of an earlier one with a new headline and a footer.
func benchItems(n int) []*pipeline.Item {
	r := rand.New(rand.NewPCG(42, 42))
	z := rand.NewZipf(r, 1.1, 2, 19999)
	vocab := make([]string, 20000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%x", i*2654435761%1000003)
	}
	numbers := make([]string, 100)
	for i := range numbers {
		numbers[i] = fmt.Sprint(i)
	}
	words := func(k int) string {
		ws := make([]string, k)
		for i := range ws {
			ws[i] = vocab[z.Uint64()]
			if r.IntN(40) == 0 {
				// Numbers, as in real text ("23 pirates"): event details.
				ws[i] = numbers[r.IntN(len(numbers))]
			}
		}
		return strings.Join(ws, " ")
	}
	base := time.Date(2026, 8, 15, 0, 0, 0, 0, time.UTC)
	items := make([]*pipeline.Item, n)
	for i := range items {
		ts := base.Add(time.Duration(i) * 10 * time.Second)
		var text string
		if i > 10 && i%10 == 0 {
			text = items[r.IntN(i)].Text + "\n\nRelated\nSome other headline\nAnd one more"
		} else {
			paras := make([]string, 6)
			for p := range paras {
				paras[p] = words(70) + "."
			}
			text = strings.Join(paras, "\n\n")
		}
		feed := fmt.Sprintf("feed%d", i%50)
		items[i] = &pipeline.Item{
			ID: testID(feed, fmt.Sprint(i)), Feed: feed, Title: words(9), Text: text,
			Published: ts, Fetched: ts, ContentHash: testHash(text),
		}
	}
	return items
}

// BenchmarkProcess measures the decision logic alone (features, decide,
// apply) on one goroutine, with the window filling up as items arrive.
// items/s is reported; ns/op is per item.
func BenchmarkProcess(b *testing.B) {
	items := benchItems(20000)
	e := NewEngine(Config{})
	var bytes int
	for _, it := range items {
		bytes += len(it.Text)
	}
	b.ReportMetric(float64(bytes)/float64(len(items)), "text_bytes/item")
	i := 0
	for b.Loop() {
		it := items[i%len(items)]
		if i >= len(items) {
			// A fresh identity, later in time, for each lap.
			cp := *it
			lap := i / len(items)
			cp.ID = fmt.Sprintf("%s.%d", it.ID, lap)
			cp.Published = it.Published.Add(time.Duration(lap) * 20000 * 10 * time.Second)
			cp.Fetched = cp.Published
			it = &cp
		}
		e.Process(it)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkMemoryPerItem reports the heap the engine holds per item in
// the window: 20,000 items of ~3 KB (55 h at one item per 10 s, all
// inside the 72 h window), measured with runtime.ReadMemStats after GC.
func BenchmarkMemoryPerItem(b *testing.B) {
	items := benchItems(20000)
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := NewEngine(Config{})
		for _, it := range items {
			e.Process(it)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := e.Stats()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(st.Items), "heap_bytes/item")
		b.ReportMetric(float64(st.Items), "items_held")
		runtime.KeepAlive(e)
	}
}

// BenchmarkHandle measures the whole handler on an embedded NATS server:
// features, decision and the compare-and-set write of the record to the
// KV bucket (the runner's publish of the outputs is not included).
func BenchmarkHandle(b *testing.B) {
	items := benchItems(5000)
	js := benchJetStream(b)
	d, err := New(b.Context(), js, pipeline.MustSubjects(""), Config{}, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		it := items[i%len(items)]
		if i >= len(items) {
			cp := *it
			cp.ID = fmt.Sprintf("%s.%d", it.ID, i/len(items))
			it = &cp
		}
		if _, err := d.Handle(b.Context(), it); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkStartup measures how fast a new worker replays the decision
// log (the KV bucket) into its engine at start: 20,000 records written by
// one worker, then New on the same bucket, once per op. records/s is
// reported.
func BenchmarkStartup(b *testing.B) {
	const n = 20000
	items := benchItems(n)
	js := benchJetStream(b)
	subj := pipeline.MustSubjects("")
	w, err := New(b.Context(), js, subj, Config{}, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	for _, it := range items {
		if _, err := w.Handle(b.Context(), it); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		d, err := New(b.Context(), js, subj, Config{}, discardLog())
		if err != nil {
			b.Fatal(err)
		}
		if got := d.eng.Stats().Items; got != n {
			b.Fatalf("replayed %d items, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}

// benchJetStream starts an embedded JetStream server for the benchmark
// and returns a JetStream context on an in-process connection; both stop
// with the benchmark.
func benchJetStream(b *testing.B) jetstream.JetStream {
	b.Helper()
	srv, err := pipeline.StartServer(b.Context(), pipeline.ServerConfig{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return js
}
