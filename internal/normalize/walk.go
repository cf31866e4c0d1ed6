package normalize

import "github.com/defacto-dev/defacto/internal/value"

// Walk follows a dot path through v: an Object segment selects the member of
// that key, an Array segment must be a non-negative decimal integer selecting
// that element. Anything else (a missing member, an index out of range or not
// a number, a scalar in the way) yields Null. Keys containing dots cannot be
// addressed (README open question 5).
func Walk(v value.Value, path string) value.Value {
	for {
		seg := path
		rest, more := "", false
		for i := 0; i < len(path); i++ {
			if path[i] == '.' {
				seg, rest, more = path[:i], path[i+1:], true
				break
			}
		}
		switch v.Kind() {
		case value.KindObject:
			m, ok := v.AsObject()[seg]
			if !ok {
				return value.Null
			}
			v = m
		case value.KindArray:
			i, ok := index(seg)
			a := v.AsArray()
			if !ok || i >= len(a) {
				return value.Null
			}
			v = a[i]
		default:
			return value.Null
		}
		if !more {
			return v
		}
		path = rest
	}
}

// index parses a non-negative decimal array index; "+1", "-1", "" and
// numbers too large for an int are not indexes.
func index(s string) (int, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
