package dedup

// lshIndex is an open-addressing multimap from band keys to document refs
// (1-based indexes into Engine.docs): 8 bytes per entry, a quarter of what
// a Go map of slices costs, which keeps memory per item low. Entries are
// never deleted; the engine rebuilds the index when it evicts.
type lshIndex struct {
	keys []uint32 // 0 marks an empty slot
	refs []uint32
	used int
}

func newLSH(capacity int) lshIndex {
	n := 1024
	for 3*n < 4*capacity {
		n *= 2
	}
	return lshIndex{keys: make([]uint32, n), refs: make([]uint32, n)}
}

// add inserts (key, ref); key must not be 0.
func (x *lshIndex) add(key, ref uint32) {
	if 4*(x.used+1) > 3*len(x.keys) {
		x.grow()
	}
	mask := uint32(len(x.keys) - 1)
	for i := key * 0x9e3779b1 & mask; ; i = (i + 1) & mask {
		if x.keys[i] == 0 {
			x.keys[i], x.refs[i] = key, ref
			x.used++
			return
		}
	}
}

// each calls fn for every ref stored under key.
func (x *lshIndex) each(key uint32, fn func(ref uint32)) {
	mask := uint32(len(x.keys) - 1)
	for i := key * 0x9e3779b1 & mask; x.keys[i] != 0; i = (i + 1) & mask {
		if x.keys[i] == key {
			fn(x.refs[i])
		}
	}
}

func (x *lshIndex) grow() {
	old := *x
	*x = lshIndex{keys: make([]uint32, 2*len(old.keys)), refs: make([]uint32, 2*len(old.keys))}
	for i, k := range old.keys {
		if k != 0 {
			x.add(k, old.refs[i])
		}
	}
}
