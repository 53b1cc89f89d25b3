package tag

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// BenchmarkTag tags the seed articles (2-7 KB, about 3 KB on average) with
// the summit rules over the gazetteer, one at a time on one goroutine.
func BenchmarkTag(b *testing.B) {
	tg := summitTagger(b)
	files, _ := filepath.Glob("testdata/seeds/*.txt")
	var items []*pipeline.Item
	size := 0
	for _, f := range files {
		it := seedItem(b, f)
		items = append(items, it)
		size += len(it.Title) + len(it.Text)
	}
	b.SetBytes(int64(size / len(items)))
	b.ReportAllocs()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		it := items[n%len(items)]
		n++
		tg.Tag(it)
	}
	// On a shared machine wall time overstates the cost; the process's CPU
	// time (user+sys, GC included) is what one core spends.
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64(n)/cpu.Seconds(), "items/cpu-s")
}

// BenchmarkLoadCold parses the gazetteer and the summit rules and compiles
// a Tagger with nothing cached: the cost at start-up.
func BenchmarkLoadCold(b *testing.B) {
	data, err := os.ReadFile("../../testdata/rules/summit.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() { reportCPU(b, cpu0) }()
	for b.Loop() {
		foldCache.Lock()
		clear(foldCache.m)
		foldCache.Unlock()
		g, err := ParseGazetteer("gazetteer.tsv", gazetteerData)
		if err != nil {
			b.Fatal(err)
		}
		s, err := ParseRules("summit.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		r, err := Merge(g, s)
		if err != nil {
			b.Fatal(err)
		}
		New(r)
	}
}

// BenchmarkReload is what a rule reload costs: Load (gazetteer already
// parsed, its names already folded) and New.
func BenchmarkReload(b *testing.B) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() { reportCPU(b, cpu0) }()
	for b.Loop() {
		r, err := Load("../../testdata/rules/summit.yaml")
		if err != nil {
			b.Fatal(err)
		}
		New(r)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process CPU time per operation since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}
