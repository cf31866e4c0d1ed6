package value

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FromJSON decodes one JSON document. Numbers follow D16: a number whose value
// is integral and inside the Int range is an Int however it is written (3,
// 3.0, 3e0), decided on the decimal text so large integers stay exact; any
// other number is a Float and must be finite. Trailing data is an error.
func FromJSON(data []byte) (Value, error) {
	if v, ok := fastFromJSON(data); ok {
		return v, nil
	}
	return slowFromJSON(data)
}

// slowFromJSON is FromJSON through encoding/json, for every document the
// fast path does not take.
func slowFromJSON(data []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return Null, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Null, errors.New("invalid JSON: trailing data after the value")
	}
	return fromDecoded(x)
}

// fromDecoded converts the output of a UseNumber decoder, reporting numbers
// that do not fit a finite float.
func fromDecoded(x any) (Value, error) {
	switch t := x.(type) {
	case nil:
		return Null, nil
	case bool:
		return Bool(t), nil
	case string:
		return String(t), nil
	case json.Number:
		return ParseNumber(string(t))
	case []any:
		a := make([]Value, len(t))
		for i, e := range t {
			v, err := fromDecoded(e)
			if err != nil {
				return Null, err
			}
			a[i] = v
		}
		return Array(a), nil
	case map[string]any:
		m := make(map[string]Value, len(t))
		for k, e := range t {
			v, err := fromDecoded(e)
			if err != nil {
				return Null, err
			}
			m[k] = v
		}
		return Object(m), nil
	}
	return FromAny(x), nil
}

// ParseNumber converts JSON number text with the D16 rule: integral values in
// the Int range become Int exactly (decided on the digits, never through a
// float64), everything else a finite Float.
func ParseNumber(s string) (Value, error) {
	neg, intPart, frac, exp, ok := splitNumber(s)
	if !ok {
		return Null, fmt.Errorf("invalid number %q", s)
	}
	// value = 0.(intPart frac) scaled: digits × 10^(exp - len(frac)).
	digits := strings.TrimLeft(intPart+frac, "0")
	scale := exp - int64(len(frac))
	trimmed := strings.TrimRight(digits, "0")
	scale += int64(len(digits) - len(trimmed))
	digits = trimmed
	if digits == "" {
		return Int(0), nil
	}
	if scale >= 0 && int64(len(digits))+scale <= 19 {
		u, err := strconv.ParseUint(digits, 10, 64)
		if err == nil {
			for i := int64(0); i < scale; i++ {
				u *= 10 // cannot overflow: at most 19 digits in total
			}
			switch {
			case !neg && u <= math.MaxInt64:
				return Int(int64(u)), nil
			case neg && u <= 1<<63:
				return Int(int64(-u)), nil
			}
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return Null, fmt.Errorf("number %s is out of range", s)
	}
	return Float(f), nil
}

// splitNumber checks JSON number syntax and splits it. The exponent is
// clamped so absurd exponents cannot overflow the arithmetic above.
func splitNumber(s string) (neg bool, intPart, frac string, exp int64, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart = s[start:i]
	if intPart == "" || (len(intPart) > 1 && intPart[0] == '0') {
		return
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac = s[start:i]
		if frac == "" {
			return
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp < 1e12 {
				exp = exp*10 + int64(s[i]-'0')
			}
			i++
		}
		if start == i {
			return
		}
		if eneg {
			exp = -exp
		}
	}
	return neg, intPart, frac, exp, i == len(s)
}

// FromAny converts a Go value: the output of encoding/json (with or without
// UseNumber), Go integers and floats, time.Time (DateTime), time.Duration,
// Values, []Value and map[string]Value. Floats follow D16 like JSON numbers;
// a non-finite float or an invalid json.Number becomes Null. Other types go
// through encoding/json.
func FromAny(x any) Value {
	switch t := x.(type) {
	case nil:
		return Null
	case Value:
		return t
	case bool:
		return Bool(t)
	case string:
		return String(t)
	case json.Number:
		v, err := ParseNumber(string(t))
		if err != nil {
			return Null
		}
		return v
	case float64:
		return fromFloat(t)
	case float32:
		return fromFloat(float64(t))
	case int:
		return Int(int64(t))
	case int8:
		return Int(int64(t))
	case int16:
		return Int(int64(t))
	case int32:
		return Int(int64(t))
	case int64:
		return Int(t)
	case uint:
		return fromUint(uint64(t))
	case uint8:
		return Int(int64(t))
	case uint16:
		return Int(int64(t))
	case uint32:
		return Int(int64(t))
	case uint64:
		return fromUint(t)
	case time.Time:
		return Time(t)
	case time.Duration:
		return Duration(t.Microseconds())
	case []any:
		a := make([]Value, len(t))
		for i, e := range t {
			a[i] = FromAny(e)
		}
		return Array(a)
	case []Value:
		return Array(t)
	case map[string]any:
		m := make(map[string]Value, len(t))
		for k, e := range t {
			m[k] = FromAny(e)
		}
		return Object(m)
	case map[string]Value:
		return Object(t)
	case []string:
		a := make([]Value, len(t))
		for i, e := range t {
			a[i] = String(e)
		}
		return Array(a)
	}
	if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return Null
	}
	data, err := json.Marshal(x)
	if err != nil {
		return Null
	}
	v, err := FromJSON(data)
	if err != nil {
		return Null
	}
	return v
}

func fromFloat(f float64) Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Null
	}
	if f == math.Trunc(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0 {
		return Int(int64(f))
	}
	return Float(f)
}

func fromUint(u uint64) Value {
	if u <= math.MaxInt64 {
		return Int(int64(u))
	}
	return Float(float64(u))
}

// ToAny converts v for JSON output: Int → int64, Float → float64, DateTime →
// canonical text, Duration → seconds (int64 when whole, else float64), Array
// → []any, Object → map[string]any.
func (v Value) ToAny() any {
	switch v.k {
	case KindBool:
		return v.AsBool()
	case KindInt:
		return v.AsInt()
	case KindFloat:
		return v.AsFloat()
	case KindString:
		return v.AsString()
	case KindDateTime:
		return FormatTime(v.Micros())
	case KindDuration:
		if us := v.Micros(); us%1e6 == 0 {
			return us / 1e6
		}
		return float64(v.Micros()) / 1e6
	case KindArray:
		a := v.AsArray()
		out := make([]any, len(a))
		for i, e := range a {
			out[i] = e.ToAny()
		}
		return out
	case KindObject:
		m := v.AsObject()
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k] = e.ToAny()
		}
		return out
	}
	return nil
}

// MarshalJSON renders v as canonical JSON (the ToAny rendering, with sorted
// keys and exact integers).
func (v Value) MarshalJSON() ([]byte, error) {
	return appendJCS(nil, v), nil
}

// UnmarshalJSON decodes with FromJSON's rules.
func (v *Value) UnmarshalJSON(data []byte) error {
	x, err := FromJSON(data)
	if err != nil {
		return err
	}
	*v = x
	return nil
}

// CanonicalJSON renders v as RFC 8785 (JCS) canonical JSON, except that Int
// values are written as exact integers. DateTime is its canonical text and
// Duration its seconds. Floats use the ECMAScript layout, so an integral Float
// renders like an integer (3.0 → 3): use EncodeTagged to keep the type.
func CanonicalJSON(v Value) []byte {
	return appendJCS(nil, v)
}

func appendJCS(b []byte, v Value) []byte {
	switch v.k {
	case KindNull:
		return append(b, "null"...)
	case KindBool, KindInt:
		return AppendString(b, v)
	case KindFloat:
		f := v.AsFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...) // unreachable for valid values
		}
		return AppendFloat(b, f)
	case KindString:
		return appendJSONString(b, v.AsString())
	case KindDateTime:
		b = append(b, '"')
		b = AppendTime(b, v.Micros())
		return append(b, '"')
	case KindDuration:
		if us := v.Micros(); us%1e6 == 0 {
			return strconv.AppendInt(b, us/1e6, 10)
		}
		return AppendFloat(b, float64(v.Micros())/1e6)
	case KindArray:
		b = append(b, '[')
		for i, e := range v.AsArray() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJCS(b, e)
		}
		return append(b, ']')
	case KindObject:
		m := v.AsObject()
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, CompareUTF16)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJCS(b, m[k])
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

// appendJSONString writes s as RFC 8785 requires: only '"', '\\' and control
// characters are escaped (the short forms where JSON has them, else \u00xx);
// invalid UTF-8 becomes U+FFFD so the output is always valid JSON.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c >= 0x20:
				b = append(b, c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// CompareUTF16 orders strings by their UTF-16 code units, the member order
// RFC 8785 prescribes. It differs from byte order only when a supplementary
// character (a surrogate pair, 0xD800–0xDBFF first) meets U+E000–U+FFFF.
func CompareUTF16(a, b string) int {
	a0, b0 := a, b
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := utf16First(ra), utf16First(rb)
			if ua != ub {
				return cmpInt(int64(ua), int64(ub))
			}
			return cmpInt(int64(ra), int64(rb)) // same high surrogate
		}
		a, b = a[na:], b[nb:]
	}
	if c := cmpInt(int64(len(a)), int64(len(b))); c != 0 {
		return c
	}
	// Invalid UTF-8 decodes to U+FFFD whatever the bytes: order such
	// strings by their bytes, so that sorting (JCS keys) is deterministic.
	return strings.Compare(a0, b0)
}

func utf16First(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}

// Ledger typing (ingestion.md §7).

// EncodeTagged renders v as plain JCS JSON plus the JSON Pointers of the
// values JSON cannot type: a Float with an integral value ("float", it would
// otherwise decode as Int), DateTime ("datetime", stored as canonical text)
// and Duration ("duration", stored as seconds). types is nil when empty.
func EncodeTagged(v Value) (data []byte, types map[string]string) {
	var walk func(v Value, ptr []byte)
	walk = func(v Value, ptr []byte) {
		switch v.k {
		case KindFloat:
			if f := v.AsFloat(); f == math.Trunc(f) {
				types = setTag(types, ptr, "float")
			}
		case KindDateTime:
			types = setTag(types, ptr, "datetime")
		case KindDuration:
			types = setTag(types, ptr, "duration")
		case KindArray:
			for i, e := range v.AsArray() {
				walk(e, strconv.AppendInt(append(ptr, '/'), int64(i), 10))
			}
		case KindObject:
			for k, e := range v.AsObject() {
				walk(e, appendPointerToken(append(ptr, '/'), k))
			}
		}
	}
	// Children extend their parent's pointer in one buffer: each append
	// writes past the parent's length only, and setTag copies.
	walk(v, make([]byte, 0, 64))
	return appendJCS(nil, v), types
}

func setTag(m map[string]string, ptr []byte, tag string) map[string]string {
	if m == nil {
		m = make(map[string]string)
	}
	m[string(ptr)] = tag
	return m
}

// appendPointerToken escapes a member name for RFC 6901: "~" → "~0", "/" → "~1".
func appendPointerToken(b []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		switch k[i] {
		case '~':
			b = append(b, '~', '0')
		case '/':
			b = append(b, '~', '1')
		default:
			b = append(b, k[i])
		}
	}
	return b
}

// DecodeTagged is the inverse of EncodeTagged: it decodes data with the D16
// number rule and then applies each tag at its JSON Pointer.
func DecodeTagged(data []byte, types map[string]string) (Value, error) {
	v, err := FromJSON(data)
	if err != nil {
		return Null, err
	}
	for ptr, tag := range types {
		if err := applyTag(&v, ptr, tag); err != nil {
			return Null, fmt.Errorf("data_types %q: %w", ptr, err)
		}
	}
	return v, nil
}

// applyTag rewrites the value at ptr in place. The containers were just
// decoded by DecodeTagged, so nobody else shares them.
func applyTag(root *Value, ptr, tag string) error {
	var toks []string
	if ptr != "" {
		if ptr[0] != '/' {
			return errors.New("invalid JSON Pointer")
		}
		toks = strings.Split(ptr[1:], "/")
		for i, tok := range toks {
			toks[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		}
	}
	nv, err := storeAt(*root, toks, tag)
	if err != nil {
		return err
	}
	*root = nv
	return nil
}

func storeAt(v Value, toks []string, tag string) (Value, error) {
	if len(toks) == 0 {
		return convertTagged(v, tag)
	}
	switch v.k {
	case KindObject:
		m := v.AsObject()
		e, ok := m[toks[0]]
		if !ok {
			return Null, errors.New("no such member")
		}
		nv, err := storeAt(e, toks[1:], tag)
		if err != nil {
			return Null, err
		}
		m[toks[0]] = nv
		return v, nil
	case KindArray:
		a := v.AsArray()
		i, err := strconv.Atoi(toks[0])
		if err != nil || i < 0 || i >= len(a) || (len(toks[0]) > 1 && toks[0][0] == '0') {
			return Null, errors.New("no such element")
		}
		nv, err := storeAt(a[i], toks[1:], tag)
		if err != nil {
			return Null, err
		}
		a[i] = nv
		return v, nil
	}
	return Null, errors.New("path leads into a scalar")
}

func convertTagged(v Value, tag string) (Value, error) {
	switch tag {
	case "float":
		if f, ok := v.Number(); ok {
			return Float(f), nil
		}
	case "datetime":
		if v.k == KindString {
			us, err := ParseTime(v.AsString())
			if err != nil {
				return Null, err
			}
			return DateTime(us), nil
		}
	case "duration":
		switch v.k {
		case KindInt:
			s := v.AsInt()
			if s > math.MaxInt64/1_000_000 || s < math.MinInt64/1_000_000 {
				return Null, errors.New("duration out of range")
			}
			return Duration(s * 1e6), nil
		case KindFloat:
			us := math.Round(v.AsFloat() * 1e6)
			if us >= 9223372036854775808.0 || us < -9223372036854775808.0 {
				return Null, errors.New("duration out of range")
			}
			return Duration(int64(us)), nil
		}
	default:
		return Null, fmt.Errorf("unknown type tag %q", tag)
	}
	return Null, fmt.Errorf("tag %q does not apply to %s", tag, v.k)
}
