package dedup

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// minhashRef is the definition the signatures must keep (they are shared
// through NATS, so every version must compute the same values): for each
// hash function, the top 16 bits of the least a_i*h+b_i over the shingles.
func minhashRef(sh []uint64) Signature {
	var sig Signature
	for i := range sig {
		sig[i] = math.MaxUint16
		if len(sh) == 0 {
			continue
		}
		m := uint64(math.MaxUint64)
		for _, h := range sh {
			m = min(m, permA[i]*h+permB[i])
		}
		sig[i] = uint16(m >> 48)
	}
	return sig
}

func TestMinhashMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{0, 1, 2, 3, 5, 17, 400} {
		sh := make([]uint64, n)
		for i := range sh {
			sh[i] = r.Uint64()
		}
		if got, want := minhash(sh), minhashRef(sh); got != want {
			t.Errorf("%d shingles: signature differs from the definition", n)
		}
	}
}

// BenchmarkMinhash: one signature of 450 shingles (a ~3 KB text).
func BenchmarkMinhash(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	sh := make([]uint64, 450)
	for i := range sh {
		sh[i] = r.Uint64()
	}
	b.Run("unrolled", func(b *testing.B) {
		for b.Loop() {
			minhash(sh)
		}
	})
	b.Run("definition", func(b *testing.B) {
		for b.Loop() {
			minhashRef(sh)
		}
	})
}

// shinglesRef is the definition of the shingle hashes (shared through
// NATS in signatures, so fixed).
func shinglesRef(words []string) []uint64 {
	if len(words) == 0 {
		return nil
	}
	wh := make([]uint64, len(words))
	for i, w := range words {
		wh[i] = wordHash(w)
	}
	k := min(shingleK, len(wh))
	var out []uint64
	for i := 0; i+k <= len(wh); i++ {
		h := uint64(0)
		for j := range k {
			h = mix64(h ^ wh[i+j] + uint64(j))
		}
		out = append(out, h)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestShinglesMatchDefinition(t *testing.T) {
	words := strings.Fields("the quick brown fox jumps over the lazy dog and the quick brown fox jumps again")
	for n := 0; n <= len(words); n++ {
		got, want := shingles(words[:n], make([]uint64, 3)), shinglesRef(words[:n])
		if !slices.Equal(got, want) {
			t.Errorf("%d words: got %v, want %v", n, got, want)
		}
	}
}
