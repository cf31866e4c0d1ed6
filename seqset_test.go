package defacto

import "testing"

func TestSeqSet(t *testing.T) {
	var s, o seqSet
	for _, x := range []int64{500, 70, 500, 63, 64, 1000, 0} {
		s.add(x)
	}
	if s.len() != 6 {
		t.Fatalf("len %d, want 6", s.len())
	}
	for _, x := range []int64{1000, 1001, 5} {
		o.add(x)
	}
	s.union(&o)
	if s.len() != 8 {
		t.Fatalf("after union len %d, want 8", s.len())
	}
}
