package normalize

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// Coerce converts a value to a mapping's declared type by the table of
// ingestion.md §4. Null stays Null (defaults are the caller's business). loc
// and unit are the source's timezone and timestamp unit, used for datetime
// targets. The error reads "cannot convert <Kind> <value> to <type>", with a
// cause appended where one helps.
func Coerce(v value.Value, t definition.Type, loc *time.Location, unit string) (value.Value, error) {
	if v.IsNull() {
		return v, nil
	}
	switch t {
	case "":
		return v, nil
	case definition.TypeString:
		switch v.Kind() {
		case value.KindString:
			return v, nil
		case value.KindArray, value.KindObject:
			return value.Null, convErr(v, t, "")
		}
		// Int decimal, Float as to_string, Bool true/false, DateTime
		// canonical text; Duration, which no raw record holds but a compute
		// can produce, also as to_string ("5400s").
		return value.String(value.ToString(v)), nil
	case definition.TypeInteger:
		switch v.Kind() {
		case value.KindInt:
			return v, nil
		case value.KindFloat:
			f := v.AsFloat()
			if f != math.Trunc(f) {
				return value.Null, convErr(v, t, "it has a fraction")
			}
			if f < -9223372036854775808.0 || f >= 9223372036854775808.0 {
				return value.Null, convErr(v, t, "out of range")
			}
			return value.Int(int64(f)), nil
		case value.KindString:
			s := v.AsString()
			if !isInteger(s) {
				return value.Null, convErr(v, t, "")
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return value.Null, convErr(v, t, "out of range")
			}
			return value.Int(n), nil
		}
	case definition.TypeNumber:
		switch v.Kind() {
		case value.KindFloat:
			return v, nil
		case value.KindInt:
			return value.Float(float64(v.AsInt())), nil
		case value.KindString:
			s := v.AsString()
			if !isDecimal(s) {
				return value.Null, convErr(v, t, "")
			}
			// The syntax is checked, so the only error left is ErrRange:
			// overflow (±Inf) fails, underflow to zero is a number.
			f, _ := strconv.ParseFloat(s, 64)
			if math.IsInf(f, 0) {
				return value.Null, convErr(v, t, "not finite")
			}
			return value.Float(f), nil
		}
	case definition.TypeBoolean:
		switch v.Kind() {
		case value.KindBool:
			return v, nil
		case value.KindInt:
			switch v.AsInt() {
			case 0:
				return value.False, nil
			case 1:
				return value.True, nil
			}
		case value.KindString:
			switch s := v.AsString(); {
			case asciiEqualFold(s, "true"), asciiEqualFold(s, "yes"), s == "1":
				return value.True, nil
			case asciiEqualFold(s, "false"), asciiEqualFold(s, "no"), s == "0":
				return value.False, nil
			}
		}
	case definition.TypeDateTime:
		switch v.Kind() {
		case value.KindDateTime:
			return v, nil
		case value.KindString, value.KindInt, value.KindFloat:
			us, err := ParseTimestamp(v, loc, unit)
			if err != nil {
				return value.Null, convErr(v, t, err.Error())
			}
			return value.DateTime(us), nil
		}
	default:
		return value.Null, fmt.Errorf("unknown type '%s'", t)
	}
	return value.Null, convErr(v, t, "")
}

func convErr(v value.Value, t definition.Type, why string) error {
	var text string
	switch v.Kind() {
	case value.KindString:
		text = quote(v.AsString())
	default:
		text = clip(value.ToString(v))
	}
	if why != "" {
		return fmt.Errorf("cannot convert %s %s to %s: %s", v.Kind(), text, t, why)
	}
	return fmt.Errorf("cannot convert %s %s to %s", v.Kind(), text, t)
}

// isInteger reports whether s matches ^[+-]?[0-9]+$.
func isInteger(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isDecimal reports whether s is a plain decimal or exponent number:
// ^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$. It keeps out what
// strconv.ParseFloat would also accept (inf, nan, hex floats, underscores).
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	intDigits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		intDigits++
	}
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			fracDigits++
		}
	}
	if intDigits == 0 && fracDigits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		expDigits := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			expDigits++
		}
		if expDigits == 0 {
			return false
		}
	}
	return i == len(s)
}

// asciiEqualFold compares s with a lower-case ASCII word, ignoring ASCII
// case only: strings.EqualFold would let "ſ" (long s) match "s".
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
