package defacto

import "math/bits"

// seqSet is a set of ledger sequences. Sequences are dense, so a bitmap
// over the covered range costs one bit per sequence: a call that processes
// ten million events keeps about a megabyte, not a map entry per event.
type seqSet struct {
	base  int64 // first sequence of words[0], a multiple of 64
	words []uint64
	n     int
}

func (s *seqSet) add(seq int64) {
	if seq < 0 {
		return
	}
	if len(s.words) == 0 {
		s.base = seq &^ 63
	}
	if seq < s.base {
		// Grow to the left, keeping base a multiple of 64.
		nb := seq &^ 63
		shift := int((s.base - nb) >> 6)
		grown := make([]uint64, shift+len(s.words))
		copy(grown[shift:], s.words)
		s.words, s.base = grown, nb
	}
	w := int((seq - s.base) >> 6)
	if w >= len(s.words) {
		grown := make([]uint64, max(w+1, 2*len(s.words)))
		copy(grown, s.words)
		s.words = grown
	}
	bit := uint64(1) << (uint(seq) & 63)
	if s.words[w]&bit == 0 {
		s.words[w] |= bit
		s.n++
	}
}

// union adds every member of o.
func (s *seqSet) union(o *seqSet) {
	for w, x := range o.words {
		for x != 0 {
			b := bits.TrailingZeros64(x)
			s.add(o.base + int64(w)<<6 + int64(b))
			x &= x - 1
		}
	}
}

func (s *seqSet) len() int { return s.n }
