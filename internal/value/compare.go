package value

import (
	"fmt"
	"math"
	"strings"
)

// Equal implements expression equality (expressions.md §6). It never fails:
// Null equals Null, Int and Float compare numerically (exactly, without
// rounding the Int through float64), arrays and objects compare deeply, and
// values of different types are unequal.
func Equal(a, b Value) bool {
	if a.k != b.k {
		switch {
		case a.k == KindInt && b.k == KindFloat:
			return cmpIntFloat(a.AsInt(), b.AsFloat()) == 0
		case a.k == KindFloat && b.k == KindInt:
			return cmpIntFloat(b.AsInt(), a.AsFloat()) == 0
		}
		return false
	}
	switch a.k {
	case KindNull:
		return true
	case KindBool, KindInt, KindDateTime, KindDuration:
		return a.n == b.n
	case KindFloat:
		return a.AsFloat() == b.AsFloat() // -0 == 0
	case KindString:
		return a.AsString() == b.AsString()
	case KindArray:
		x, y := a.AsArray(), b.AsArray()
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case KindObject:
		x, y := a.AsObject(), b.AsObject()
		if len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !Equal(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// Compare orders two values (expressions.md §6): numbers numerically, strings
// by code point (UTF-8 byte order is code-point order), DateTime and Duration
// by time. Null is the caller's business (ordering with Null yields Null), so
// here it is just another incomparable type.
func Compare(a, b Value) (int, error) {
	switch {
	case a.k == KindInt && b.k == KindInt:
		return cmpInt(a.AsInt(), b.AsInt()), nil
	case a.k == KindFloat && b.k == KindFloat:
		return cmpFloat(a.AsFloat(), b.AsFloat()), nil
	case a.k == KindInt && b.k == KindFloat:
		return cmpIntFloat(a.AsInt(), b.AsFloat()), nil
	case a.k == KindFloat && b.k == KindInt:
		return -cmpIntFloat(b.AsInt(), a.AsFloat()), nil
	case a.k != b.k:
	case a.k == KindString:
		return strings.Compare(a.AsString(), b.AsString()), nil
	case a.k == KindDateTime, a.k == KindDuration:
		return cmpInt(a.Micros(), b.Micros()), nil
	}
	return 0, &CompareError{A: a.k, B: b.k}
}

// CompareError reports an ordering between types that have none.
type CompareError struct{ A, B Kind }

func (e *CompareError) Error() string {
	return fmt.Sprintf("cannot compare %s with %s", e.A, e.B)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpIntFloat compares i with f exactly. Converting i to float64 would round
// integers beyond 2^53 and make distinct values compare equal.
func cmpIntFloat(i int64, f float64) int {
	switch {
	case math.IsNaN(f):
		return 1 // cannot happen for valid values; keep a total order anyway
	case f < -9223372036854775808.0:
		return 1
	case f >= 9223372036854775808.0:
		return -1
	}
	t := math.Trunc(f)
	if c := cmpInt(i, int64(t)); c != 0 {
		return c
	}
	// Integral parts are equal: the fraction decides.
	switch fr := f - t; {
	case fr > 0:
		return -1
	case fr < 0:
		return 1
	}
	return 0
}
