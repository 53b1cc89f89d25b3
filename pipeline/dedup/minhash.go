package dedup

import (
	"math"
	"slices"
)

// Signature sizes. 128 MinHash values of 16 bits (256 bytes) estimate
// Jaccard similarity with a standard error of at most 0.045; the low 16
// bits collide by chance in 1/65536 of slots, a negligible bias. The first
// 64 values, in 32 bands of 2 rows, make the LSH keys: a pair with
// Jaccard 0.3 becomes a candidate with probability 0.95, one with 0.5
// with probability 0.9999, while unrelated texts (Jaccard ~0.01) collide
// in 0.3% of pairs; verification then decides on all 128 values.
const (
	numHashes = 128
	bandRows  = 2
	numBands  = 32
)

// shingleK is the number of words in a shingle.
const shingleK = 5

// Signature is the MinHash signature of a text's set of word shingles.
type Signature [numHashes]uint16

// wordHash hashes a word with FNV-1a: stable across processes, unlike
// maphash, because signatures are shared through NATS.
func wordHash(w string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(w); i++ {
		h ^= uint64(w[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// permA and permB are the coefficients of the numHashes hash functions
// h_i(x) = hi16(a_i*x + b_i), derived deterministically so that every
// process computes the same signatures.
var permA, permB [numHashes]uint64

func init() {
	s := uint64(0x9e3779b97f4a7c15)
	for i := range numHashes {
		s += 0x9e3779b97f4a7c15
		permA[i] = mix64(s) | 1
		s += 0x9e3779b97f4a7c15
		permB[i] = mix64(s)
	}
}

// shingles returns the distinct hashes of the k-word shingles of words
// (one shingle of all words when there are fewer than k), reusing buf.
func shingles(words []string, buf []uint64) []uint64 {
	buf = buf[:0]
	if len(words) == 0 {
		return buf
	}
	// The last k word hashes, in a ring: no slice of all of them.
	var ring [shingleK]uint64
	k := min(shingleK, len(words))
	for i, w := range words {
		ring[i%shingleK] = wordHash(w)
		if i+1 < k {
			continue
		}
		start := i + 1 - k
		h := uint64(0)
		for j := range k {
			h = mix64(h ^ ring[(start+j)%shingleK] + uint64(j))
		}
		buf = append(buf, h)
	}
	slices.Sort(buf)
	return slices.Compact(buf)
}

// minhash computes the signature of a shingle set.
func minhash(sh []uint64) Signature {
	var sig Signature
	for i := range sig {
		sig[i] = math.MaxUint16
	}
	if len(sh) == 0 {
		return sig
	}
	// Four hash functions at a time over all shingles: their minima and
	// coefficients stay in registers, and the four independent chains of
	// multiply-add-min overlap in the pipeline: 1.47× faster than one
	// function at a time (BenchmarkMinhash; eight at a time spill
	// registers and are slower), which is itself about twice as fast as
	// one shingle at a time over all functions.
	for i := 0; i < numHashes; i += 4 {
		a0, a1, a2, a3 := permA[i], permA[i+1], permA[i+2], permA[i+3]
		b0, b1, b2, b3 := permB[i], permB[i+1], permB[i+2], permB[i+3]
		m0, m1, m2, m3 := uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64)
		for _, h := range sh {
			m0 = min(m0, a0*h+b0)
			m1 = min(m1, a1*h+b1)
			m2 = min(m2, a2*h+b2)
			m3 = min(m3, a3*h+b3)
		}
		sig[i], sig[i+1], sig[i+2], sig[i+3] = uint16(m0>>48), uint16(m1>>48), uint16(m2>>48), uint16(m3>>48)
	}
	return sig
}

// bandKey is the LSH key of band b of sig.
func (sig *Signature) bandKey(b int) uint32 {
	h := uint64(b+1) * 0x9e3779b97f4a7c15
	for r := range bandRows {
		h = mix64(h ^ uint64(sig[b*bandRows+r]))
	}
	return uint32(h) | 1 // never 0: 0 marks an empty slot
}

// jaccard estimates the Jaccard similarity of the two shingle sets.
func (sig *Signature) jaccard(o *Signature) float64 {
	n := 0
	for i := range sig {
		if sig[i] == o[i] {
			n++
		}
	}
	return float64(n) / numHashes
}

// overlap turns a Jaccard estimate and the set sizes into an estimate of
// the containment of the smaller set in the larger: |A∩B| / min(|A|,|B|).
func overlap(j float64, na, nb int) float64 {
	if na == 0 || nb == 0 {
		return 0
	}
	inter := j * float64(na+nb) / (1 + j)
	return min(1, inter/float64(min(na, nb)))
}
