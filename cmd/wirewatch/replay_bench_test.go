package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkReplay replays a directory of generated feeds (feeds × 5 items
// of ~1.5 KB, every item distinct) through the whole pipeline and reports
// items/s. Run with: go test ./cmd/wirewatch -run XXX -bench Replay -benchtime 1x
func BenchmarkReplay(b *testing.B) {
	for _, feeds := range []int{100, 1000} {
		b.Run(fmt.Sprintf("feeds=%d", feeds), func(b *testing.B) {
			dir := b.TempDir()
			for f := range feeds {
				var items []rssItem
				for i := range 5 {
					items = append(items, rssItem{
						guid:  fmt.Sprintf("f%d-i%d", f, i),
						title: fmt.Sprintf("Report %d from desk %d", i, f),
						text:  filler(f*5+i) + filler(f*5+i+1<<20) + filler(f*5+i+2<<20) + filler(f*5+i+3<<20),
						date:  fmt.Sprintf("Mon, %02d Sep 2025 %02d:%02d:00 GMT", 1+f%28, i, f%60),
					})
				}
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("feed%05d.xml", f)), []byte(rss(items...)), 0o644)
			}
			for b.Loop() {
				var out, errb bytes.Buffer
				err := run(b.Context(), []string{"replay", "--feeds", dir, "--rules", "../../testdata/rules/summit.yaml", "--log-level", "error"},
					stdio{out: &out, err: &errb, getenv: env(nil)})
				if err != nil {
					b.Fatalf("replay: %v\n%s", err, errb.String())
				}
			}
			b.ReportMetric(float64(feeds*5*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
