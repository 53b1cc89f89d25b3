package dedup

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/wirewatch/wirewatch/pipeline"
)

// Record is one decision as stored in the dedup KV bucket: enough for any
// worker to apply it to its Engine without the item's text.
type Record struct {
	ID      string   `json:"id"`
	Version string   `json:"v"`
	Feed    string   `json:"feed"`
	Time    int64    `json:"t"`    // item time, unix ms
	Seen    int64    `json:"seen"` // wall clock of the decision, unix ms
	DupOf   string   `json:"dup,omitempty"`
	Kind    string   `json:"kind,omitempty"`
	Story   string   `json:"story"`
	Event   string   `json:"event,omitempty"`
	Merged  []string `json:"merged,omitempty"`
	Size    int      `json:"size,omitempty"`
	Update  bool     `json:"update,omitempty"`
	Exact   string   `json:"exact,omitempty"`
	GUIDKey string   `json:"gk,omitempty"`
	// First copies carry their features: shingle count, MinHash signature
	// (2 bytes per value) and story terms (4-byte hash, 4-byte weight).
	Shingles int    `json:"n,omitempty"`
	Sig      []byte `json:"sig,omitempty"`
	Terms    []byte `json:"terms,omitempty"`
}

// newRecord builds the record of decision d for it.
func newRecord(it *pipeline.Item, f *features, d *Decision, now time.Time) *Record {
	r := &Record{
		ID: it.ID, Version: it.Version(), Feed: it.Feed, Time: unixMilli(it.Time()), Seen: now.UnixMilli(),
		DupOf: d.DuplicateOf, Kind: d.DupKind, Story: d.StoryID, Event: d.Event, Merged: d.Merged,
		Size: d.Size, Update: d.Update, Exact: f.exact, GUIDKey: f.guidKey,
	}
	if d.DuplicateOf != "" || d.Update {
		return r
	}
	if f.shingles > 0 {
		r.Shingles = f.shingles
		r.Sig = make([]byte, 2*numHashes)
		for i, v := range f.sig {
			binary.LittleEndian.PutUint16(r.Sig[2*i:], v)
		}
	}
	r.Terms = make([]byte, 8*len(f.terms))
	for i, t := range f.terms {
		binary.LittleEndian.PutUint32(r.Terms[8*i:], t.h)
		binary.LittleEndian.PutUint32(r.Terms[8*i+4:], math.Float32bits(t.w))
	}
	return r
}

// signature decodes Sig.
func (r *Record) signature() (*Signature, bool) {
	if len(r.Sig) != 2*numHashes {
		return nil, false
	}
	var s Signature
	for i := range s {
		s[i] = binary.LittleEndian.Uint16(r.Sig[2*i:])
	}
	return &s, true
}

// terms decodes Terms, dropping malformed values.
func (r *Record) terms() []term {
	n := len(r.Terms) / 8
	out := make([]term, 0, n)
	for i := range n {
		h := binary.LittleEndian.Uint32(r.Terms[8*i:])
		w := math.Float32frombits(binary.LittleEndian.Uint32(r.Terms[8*i+4:]))
		if h == 0 || math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
			continue
		}
		out = append(out, term{h: h, w: w})
	}
	return out
}
