package definition

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/defacto-dev/defacto/internal/value"
)

// types lists the five value types in the order messages name them.
var types = []string{string(TypeString), string(TypeInteger), string(TypeNumber), string(TypeBoolean), string(TypeDateTime)}

// µs per unit of time-rule thresholds and timestamp units.
const (
	usSecond = int64(1_000_000)
	usMinute = 60 * usSecond
	usHour   = 60 * usMinute
	usDay    = 24 * usHour
)

// Instant range: years 0001–9999 (expressions.md §4).
var (
	minInstant = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxInstant = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

// literalText renders a literal for messages: strings quoted, others as JSON.
func literalText(v value.Value) string {
	if v.Kind() == value.KindString {
		return strconv.Quote(v.AsString())
	}
	return string(value.CanonicalJSON(v))
}

// compatible converts a literal to type t under the literal-compatibility
// rule of definitions.md §3.2: string ← string, integer ← integer, number ←
// integer or float, boolean ← boolean, datetime ← RFC 3339 string with
// offset, null ← any. An integral float counts as an integer because JSON
// has one number type (D16) and the canonical form writes 3.0 as 3.
func compatible(t Type, v value.Value) (value.Value, bool) {
	switch v.Kind() {
	case value.KindNull:
		return v, true
	case value.KindString:
		switch t {
		case TypeString:
			return v, true
		case TypeDateTime:
			if us, err := parseRFC3339(v.AsString()); err == nil {
				return value.DateTime(us), true
			}
		}
	case value.KindInt:
		switch t {
		case TypeInteger:
			return v, true
		case TypeNumber:
			return value.Float(float64(v.AsInt())), true
		}
	case value.KindFloat:
		switch t {
		case TypeNumber:
			return v, true
		case TypeInteger:
			if i, ok := floatToInt(v.AsFloat()); ok {
				return value.Int(i), true
			}
		}
	case value.KindBool:
		if t == TypeBoolean {
			return v, true
		}
	}
	return value.Null, false
}

// floatToInt converts an integral float inside the Int range.
func floatToInt(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -9.223372036854775808e18 || f >= 9.223372036854775808e18 {
		return 0, false
	}
	return int64(f), true
}

// rfc3339RE requires the offset the literal rule asks for.
var rfc3339RE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)

// parseRFC3339 parses an RFC 3339 instant with offset into µs, truncating
// finer digits toward the past, within years 0001–9999.
func parseRFC3339(s string) (int64, error) {
	if !rfc3339RE.MatchString(s) {
		return 0, errors.New("not an RFC 3339 instant with offset")
	}
	t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
	if err != nil {
		return 0, err
	}
	return inRange(t)
}

func inRange(t time.Time) (int64, error) {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 && t.Before(time.Unix(0, 0)) {
		// UnixMicro truncates toward zero; instants truncate toward the past.
		us--
	}
	if us < minInstant || us > maxInstant {
		return 0, errors.New("outside years 0001–9999")
	}
	return us, nil
}

// coerce converts a mapping default to the mapping's type by the coercion
// rules of ingestion.md §4, so that a default behaves exactly like a raw
// value of that type. loc and unit are the source's timezone and unit.
func coerce(t Type, v value.Value, loc *time.Location, unit string) (value.Value, error) {
	if v.IsNull() {
		return v, nil
	}
	switch t {
	case TypeString:
		switch v.Kind() {
		case value.KindString, value.KindInt, value.KindFloat, value.KindBool:
			return value.String(value.ToString(v)), nil
		}
	case TypeInteger:
		switch v.Kind() {
		case value.KindInt:
			return v, nil
		case value.KindFloat:
			if i, ok := floatToInt(v.AsFloat()); ok {
				return value.Int(i), nil
			}
		case value.KindString:
			s := v.AsString()
			if integerRE.MatchString(s) {
				if i, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), 10, 64); err == nil {
					return value.Int(i), nil
				}
			}
		}
	case TypeNumber:
		switch v.Kind() {
		case value.KindFloat:
			return v, nil
		case value.KindInt:
			return value.Float(float64(v.AsInt())), nil
		case value.KindString:
			s := v.AsString()
			if numberRE.MatchString(s) {
				if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
					return value.Float(f), nil
				}
			}
		}
	case TypeBoolean:
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
			switch strings.ToLower(v.AsString()) {
			case "true", "yes", "1":
				return value.True, nil
			case "false", "no", "0":
				return value.False, nil
			}
		}
	case TypeDateTime:
		us, err := parseTimestamp(v, loc, unit)
		if err != nil {
			return value.Null, err
		}
		return value.DateTime(us), nil
	}
	return value.Null, fmt.Errorf("cannot be converted to %s", t)
}

var (
	integerRE = regexp.MustCompile(`^[+-]?[0-9]+$`)
	numberRE  = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
	// tsRE is the timestamp text of ingestion.md §3: date, optional time,
	// optional offset.
	tsRE = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$`)
)

// parseTimestamp converts a String or a number to µs by the timestamp rules
// of ingestion.md §3 (used for datetime mapping defaults).
func parseTimestamp(v value.Value, loc *time.Location, unit string) (int64, error) {
	switch v.Kind() {
	case value.KindInt, value.KindFloat:
		us, err := epoch(v, unit)
		if err == nil && (us < minInstant || us > maxInstant) {
			return 0, errors.New("timestamp outside years 0001–9999")
		}
		return us, err
	case value.KindString:
	default:
		return 0, errors.New("timestamp must be an ISO 8601 string or an epoch number")
	}
	m := tsRE.FindStringSubmatch(v.AsString())
	if m == nil {
		return 0, errors.New("timestamp must be an ISO 8601 string or an epoch number")
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	year, month, day := atoi(m[1]), atoi(m[2]), atoi(m[3])
	hour, minute, sec, nsec := 0, 0, 0, 0
	if m[4] != "" {
		hour, minute = atoi(m[4]), atoi(m[5])
		if m[6] != "" {
			sec = atoi(m[6])
		}
		if m[7] != "" {
			nsec = atoi((m[7] + "000000000")[:9])
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return 0, errors.New("timestamp has an invalid date or time")
	}
	if m[8] != "" && m[4] == "" {
		return 0, errors.New("a date without time cannot carry an offset")
	}
	var t time.Time
	if off := m[8]; off != "" {
		secs := 0
		if off != "Z" && off != "z" {
			sign := 1
			if off[0] == '-' {
				sign = -1
			}
			digits := strings.ReplaceAll(off[1:], ":", "")
			h, mm := atoi(digits[:2]), 0
			if len(digits) == 4 {
				mm = atoi(digits[2:])
			}
			if h > 23 || mm > 59 {
				return 0, errors.New("timestamp has an invalid offset")
			}
			secs = sign * (h*3600 + mm*60)
		}
		t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.FixedZone("", secs))
	} else {
		t = localTime(year, month, day, hour, minute, sec, nsec, loc)
	}
	return inRange(t)
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// localTime resolves a wall-clock time in loc: a time in a DST gap shifts
// forward by the gap, an ambiguous time takes the earlier instant
// (ingestion.md §3).
func localTime(year, month, day, hour, minute, sec, nsec int, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	wall := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	offAt := func(t time.Time) int { _, o := t.In(loc).Zone(); return o }
	before := offAt(wall.Add(-26 * time.Hour))
	after := offAt(wall.Add(26 * time.Hour))
	var candidates []time.Time
	for _, o := range []int{before, after} {
		t := wall.Add(-time.Duration(o) * time.Second)
		if offAt(t) == o {
			candidates = append(candidates, t)
		}
	}
	if len(candidates) == 0 {
		// A gap: read with the offset in force before it, which lands the
		// instant after the gap by exactly its length.
		return wall.Add(-time.Duration(before) * time.Second)
	}
	earliest := candidates[0]
	for _, c := range candidates[1:] {
		if c.Before(earliest) {
			earliest = c
		}
	}
	return earliest
}

// epoch converts a number in unit to µs, rejecting values that are clearly
// in a finer unit (more than 1e11 seconds).
func epoch(v value.Value, unit string) (int64, error) {
	perUnit := map[string]float64{UnitSeconds: 1e6, UnitMillis: 1e3, UnitMicros: 1, UnitNanos: 1e-3}[unit]
	if perUnit == 0 {
		perUnit = 1e6
	}
	var us float64
	switch v.Kind() {
	case value.KindInt:
		i := v.AsInt()
		secs := float64(i) * perUnit / 1e6
		if math.Abs(secs) > 1e11 {
			return 0, fmt.Errorf("timestamp %d out of range for unit '%s' (is it in a finer unit?)", i, unitOr(unit))
		}
		switch unit {
		case UnitMicros:
			return i, nil
		case UnitMillis:
			return i * 1000, nil
		case UnitNanos:
			return floorDiv(i, 1000), nil
		}
		return i * 1_000_000, nil
	default:
		f := v.AsFloat()
		if math.Abs(f*perUnit/1e6) > 1e11 {
			return 0, fmt.Errorf("timestamp %s out of range for unit '%s' (is it in a finer unit?)", value.FormatFloat(f), unitOr(unit))
		}
		us = math.Floor(f * perUnit)
	}
	return int64(us), nil
}

func unitOr(u string) string {
	if u == "" {
		return UnitSeconds
	}
	return u
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// parseThreshold parses a time-rule threshold: `<digits><unit>` with unit d,
// h, m or s, surrounding white space trimmed, greater than zero and within a
// signed 64-bit count of microseconds.
func parseThreshold(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if len(t) < 2 {
		return 0, fmt.Errorf("threshold %q must be digits followed by a unit d, h, m or s (e.g. 14d)", s)
	}
	digits, unit := t[:len(t)-1], t[len(t)-1]
	per := map[byte]int64{'d': usDay, 'h': usHour, 'm': usMinute, 's': usSecond}[unit]
	if per == 0 || strings.TrimLeft(digits, "0123456789") != "" || digits == "" {
		return 0, fmt.Errorf("threshold %q must be digits followed by a unit d, h, m or s (e.g. 14d)", s)
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > uint64(math.MaxInt64/per) {
		return 0, fmt.Errorf("threshold %q is too large: it must fit a signed 64-bit count of microseconds", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("threshold %q must be greater than zero", s)
	}
	return int64(n) * per, nil
}
