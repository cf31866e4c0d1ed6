package value

import (
	"math"
	"strconv"
	"time"
)

// FormatFloat renders f in the layout of ECMAScript Number.prototype.toString:
// the shortest digits that round-trip, plain decimal when the decimal exponent
// n (value = 0.d1d2… × 10^n) satisfies -6 < n ≤ 21, exponent form otherwise
// (1e21 → "1e+21", 1e-7 → "1e-7", 0.000001 → "0.000001"). RFC 8785 uses the
// same layout, so JCS numbers and to_string agree. -0 renders as "0".
func FormatFloat(f float64) string {
	var buf [32]byte
	return string(AppendFloat(buf[:0], f))
}

// AppendFloat appends FormatFloat(f) to b.
func AppendFloat(b []byte, f float64) []byte {
	switch {
	case f == 0:
		return append(b, '0')
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// Shortest round-trip digits in scientific form: d[.ddd]e±XX.
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	var digits [24]byte
	k := 0
	i := 0
	for ; i < len(e) && e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[k] = e[i]
			k++
		}
	}
	exp, _ := strconv.Atoi(string(e[i+1:]))
	n := exp + 1
	d := digits[:k]
	switch {
	case k <= n && n <= 21:
		b = append(b, d...)
		for j := 0; j < n-k; j++ {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, d[:n]...)
		b = append(b, '.')
		b = append(b, d[n:]...)
	case -6 < n && n <= 0:
		b = append(b, '0', '.')
		for j := 0; j < -n; j++ {
			b = append(b, '0')
		}
		b = append(b, d...)
	default:
		b = append(b, d[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, d[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}

// FormatTime renders an instant in the canonical text of ingestion.md §3:
// YYYY-MM-DDTHH:MM:SS+00:00, with ".fff" when the microseconds are a non-zero
// multiple of 1000 and ".ffffff" otherwise.
func FormatTime(micros int64) string {
	var buf [40]byte
	return string(AppendTime(buf[:0], micros))
}

// AppendTime appends FormatTime(micros) to b.
func AppendTime(b []byte, micros int64) []byte {
	t := time.UnixMicro(micros).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		// Outside the supported range; still render something unambiguous.
		b = strconv.AppendInt(b, int64(y), 10)
	} else {
		b = append4(b, y)
	}
	b = append(b, '-')
	b = append2(b, int(mo))
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	us := int(micros % 1e6)
	if us < 0 {
		us += 1e6
	}
	if us != 0 {
		b = append(b, '.')
		if us%1000 == 0 {
			b = append(b, byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10))
		} else {
			b = append(b, byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
				byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10))
		}
	}
	return append(b, "+00:00"...)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// ParseTime parses an RFC 3339 instant (the canonical text among others) into
// UTC microseconds, truncating finer digits toward the past.
func ParseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixMicro(), nil
}

// appendSeconds appends a microsecond span as exact decimal seconds with no
// trailing zeros: 5400000000 → "5400", 500000 → "0.5", -1 → "-0.000001".
func appendSeconds(b []byte, micros int64) []byte {
	u := uint64(micros)
	if micros < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/1e6, 10)
	if frac := u % 1e6; frac != 0 {
		var f [7]byte
		f[0] = '.'
		for i := 6; i >= 1; i-- {
			f[i] = byte('0' + frac%10)
			frac /= 10
		}
		end := 7
		for f[end-1] == '0' {
			end--
		}
		b = append(b, f[:end]...)
	}
	return b
}

// ToString renders v by the rules of the to_string function (expressions.md
// §7.1): String as is, Int in decimal, Float in ECMAScript layout, Bool as
// true/false, DateTime in canonical text, Duration in seconds with an "s"
// unit ("5400s", "0.5s"), Array and Object as canonical JSON. Null renders as
// "null"; callers that want Null to propagate check it first.
func ToString(v Value) string {
	switch v.k {
	case KindString:
		return v.AsString()
	case KindNull:
		return "null"
	case KindBool:
		if v.AsBool() {
			return "true"
		}
		return "false"
	case KindInt:
		return strconv.FormatInt(v.AsInt(), 10)
	}
	var buf [64]byte
	return string(AppendString(buf[:0], v))
}

// AppendString appends ToString(v) to b.
func AppendString(b []byte, v Value) []byte {
	switch v.k {
	case KindNull:
		return append(b, "null"...)
	case KindBool:
		if v.AsBool() {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case KindInt:
		return strconv.AppendInt(b, v.AsInt(), 10)
	case KindFloat:
		return AppendFloat(b, v.AsFloat())
	case KindString:
		return append(b, v.AsString()...)
	case KindDateTime:
		return AppendTime(b, v.Micros())
	case KindDuration:
		return append(appendSeconds(b, v.Micros()), 's')
	}
	return appendJCS(b, v)
}
