package pipeline

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestStageSkipsReplayForOtherStage runs two sinks on items.tagged and
// sends them an ordinary item and dead letters replayed for one or the
// other (header Wirewatch-Replay-For): each replay reaches only the stage
// it names, with Replayed(ctx) set, and the other acks it unhandled and
// counts it as skipped.
func TestStageSkipsReplayForOtherStage(t *testing.T) {
	js, subj := startStreams(t)
	ctx := t.Context()
	metrics := NewMetrics(prometheus.NewRegistry())
	var mu sync.Mutex
	handled := map[string][]string{} // stage -> item IDs, "+r" when Replayed
	sink := func(name string) *Stage {
		cfg := SinkConfig(subj, name)
		return NewStage(js, cfg, HandlerFunc(func(ctx context.Context, it *Item) ([]Output, error) {
			mu.Lock()
			defer mu.Unlock()
			id := it.ID
			if Replayed(ctx) {
				id += "+r"
			}
			handled[cfg.Name] = append(handled[cfg.Name], id)
			return nil, nil
		}), metrics, discard())
	}
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, st := range []*Stage{sink("a"), sink("b")} {
		wg.Go(func() {
			if err := st.Run(sctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	publish := func(id, replayFor string) {
		t.Helper()
		it := Item{ID: id, Feed: "f", Title: id}
		data, err := it.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m := &nats.Msg{Subject: subj.Tagged(), Data: data, Header: nats.Header{}}
		if replayFor != "" {
			m.Header.Set(HeaderReplayFor, replayFor)
		}
		if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	publish("new", "")
	publish("for-a", "sink-a")
	publish("for-b", "sink-b")
	publish("for-gone", "sink-gone") // a stage that no longer runs: nobody handles it
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	refs := []ConsumerRef{{subj.StreamTagged(), "sink-a"}, {subj.StreamTagged(), "sink-b"}}
	if err := WaitIdle(wctx, js, refs, 0); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()

	want := map[string][]string{"sink-a": {"new", "for-a+r"}, "sink-b": {"new", "for-b+r"}}
	for stage, ids := range want {
		if got := handled[stage]; !slices.Equal(got, ids) {
			t.Errorf("%s handled %q, want %q", stage, got, ids)
		}
	}
	for stage, n := range map[string]float64{"sink-a": 2, "sink-b": 2} {
		var m dto.Metric
		if err := metrics.handled.WithLabelValues(stage, "skipped").Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != n {
			t.Errorf("%s: wirewatch_stage_messages_total{outcome=skipped} = %v, want %v", stage, got, n)
		}
	}
}
