package normalize

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// Supported instants: 0001-01-01T00:00:00Z through 9999-12-31T23:59:59.999999Z.
const (
	minMicros int64 = -62135596800 * 1e6
	maxMicros int64 = 253402300800*1e6 - 1

	// maxEpochSeconds is the largest magnitude, in seconds, a numeric
	// timestamp may have (ingestion.md §3): beyond it the number is far more
	// likely to be in a finer unit than to mean a date after the year 5138.
	maxEpochSeconds = 1e11
)

// errTimestampForm is the spec's wording for a value that is neither an ISO
// 8601 string nor an epoch number.
const errTimestampForm = "timestamp must be an ISO 8601 string or an epoch number"

// ParseTimestamp converts a raw timestamp value to UTC microseconds since the
// Unix epoch by the rules of ingestion.md §3.
//
// Strings are YYYY-MM-DD, optionally followed by T, t or a space and
// HH:MM[:SS[.f…]] (1–9 fraction digits) and an offset Z, z, ±HH:MM, ±HHMM or
// ±HH. Without an offset the wall time is read in loc (nil means UTC): a time
// in a DST gap moves forward by the gap, an ambiguous time takes the earlier
// instant; a bare date is midnight in loc. Numbers are epoch values in unit
// ("s" when empty, "ms", "us", "ns"), fractions allowed; a float is read by
// its shortest decimal representation, so 1705312800.1 is exactly .1 s. A
// number beyond 1e11 seconds in magnitude is an error rather than a guess
// about its unit. Digits finer than a microsecond are truncated toward the
// past. A DateTime passes through (useful to Go callers handing time.Time
// values in). Numeric strings and every other kind are errors.
func ParseTimestamp(v value.Value, loc *time.Location, unit string) (int64, error) {
	switch v.Kind() {
	case value.KindString:
		return parseTimeString(v.AsString(), loc)
	case value.KindInt:
		return epochInt(v.AsInt(), unit)
	case value.KindFloat:
		return epochFloat(v.AsFloat(), unit)
	case value.KindDateTime:
		us := v.Micros()
		if us < minMicros || us > maxMicros {
			return 0, fmt.Errorf("timestamp %s outside the years 0001-9999", value.FormatTime(us))
		}
		return us, nil
	}
	return 0, fmt.Errorf("%s, got %s", errTimestampForm, v.Kind())
}

// unitsPerSecond returns how many units make one second, or 0 for an unknown unit.
func unitsPerSecond(unit string) int64 {
	switch unit {
	case "", definition.UnitSeconds:
		return 1
	case definition.UnitMillis:
		return 1e3
	case definition.UnitMicros:
		return 1e6
	case definition.UnitNanos:
		return 1e9
	}
	return 0
}

func unitName(unit string) string {
	if unit == "" {
		return definition.UnitSeconds
	}
	return unit
}

func outOfRange(text, unit string) error {
	return fmt.Errorf("timestamp %s out of range for unit '%s' (is it in a finer unit?)", text, unitName(unit))
}

func epochInt(n int64, unit string) (int64, error) {
	per := unitsPerSecond(unit)
	if per == 0 {
		return 0, fmt.Errorf("unknown timestamp unit '%s'", unit)
	}
	// 1e11 s in ns exceeds the int64 range, so only the coarser units can
	// hold a number that is too large for them.
	if per < 1e9 {
		if limit := int64(maxEpochSeconds) * per; n > limit || n < -limit {
			return 0, outOfRange(strconv.FormatInt(n, 10), unit)
		}
	}
	var us int64
	switch per {
	case 1:
		us = n * 1e6
	case 1e3:
		us = n * 1e3
	case 1e6:
		us = n
	default:
		us = floorDiv(n, 1000)
	}
	return checkRange(us, strconv.FormatInt(n, 10), unit)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func checkRange(us int64, text, unit string) (int64, error) {
	if us < minMicros || us > maxMicros {
		return 0, fmt.Errorf("timestamp %s out of range for unit '%s' (years 0001-9999)", text, unitName(unit))
	}
	return us, nil
}

func epochFloat(f float64, unit string) (int64, error) {
	per := unitsPerSecond(unit)
	if per == 0 {
		return 0, fmt.Errorf("unknown timestamp unit '%s'", unit)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s, got a non-finite number", errTimestampForm)
	}
	text := value.FormatFloat(f)
	if math.Abs(f)/float64(per) > maxEpochSeconds {
		return 0, outOfRange(text, unit)
	}
	// Work on the shortest decimal digits of f, exactly: multiplying the
	// binary value by 1e6 would turn 1705312800.1 into …099999 µs.
	digits := strconv.AppendFloat(nil, math.Abs(f), 'e', -1, 64)
	// digits: d[.ddd]e±XX
	var mant []byte
	i := 0
	for ; i < len(digits) && digits[i] != 'e'; i++ {
		if digits[i] != '.' {
			mant = append(mant, digits[i])
		}
	}
	exp, _ := strconv.Atoi(string(digits[i+1:]))
	// value = 0.mant × 10^(exp+1); in µs multiply by 10^shift.
	shift := 6
	switch per {
	case 1e3:
		shift = 3
	case 1e6:
		shift = 0
	case 1e9:
		shift = -3
	}
	point := exp + 1 + shift // number of mantissa digits before the decimal point
	var whole int64
	frac := false
	for j, d := range mant {
		if j < point {
			whole = whole*10 + int64(d-'0')
		} else if d != '0' {
			frac = true
		}
	}
	for j := len(mant); j < point; j++ {
		whole *= 10
	}
	us := whole
	if f < 0 {
		us = -whole
		if frac {
			us-- // truncation toward the past
		}
	}
	return checkRange(us, text, unit)
}

// parseTimeString parses the string forms of ingestion.md §3.
func parseTimeString(s string, loc *time.Location) (int64, error) {
	bad := func(why string) error {
		if why == "" {
			return fmt.Errorf("%s, got %s", errTimestampForm, quote(s))
		}
		return fmt.Errorf("%s, got %s: %s", errTimestampForm, quote(s), why)
	}
	p := 0
	num := func(n int) (int, bool) {
		if p+n > len(s) {
			return 0, false
		}
		v := 0
		for i := 0; i < n; i++ {
			c := s[p+i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		p += n
		return v, true
	}
	lit := func(c byte) bool {
		if p < len(s) && s[p] == c {
			p++
			return true
		}
		return false
	}
	year, ok := num(4)
	if !ok || !lit('-') {
		return 0, bad("")
	}
	month, ok := num(2)
	if !ok || !lit('-') {
		return 0, bad("")
	}
	day, ok := num(2)
	if !ok {
		return 0, bad("")
	}
	if year < 1 {
		return 0, bad("year outside 0001-9999")
	}
	if month < 1 || month > 12 {
		return 0, bad("month out of range")
	}
	if day < 1 || day > daysIn(year, month) {
		return 0, bad("day out of range")
	}
	var hour, minute, sec, micros int
	hasOffset := false
	offset := 0 // seconds east of UTC
	if p < len(s) {
		if c := s[p]; c != 'T' && c != 't' && c != ' ' {
			return 0, bad("")
		}
		p++
		if hour, ok = num(2); !ok || !lit(':') {
			return 0, bad("")
		}
		if minute, ok = num(2); !ok {
			return 0, bad("")
		}
		if lit(':') {
			if sec, ok = num(2); !ok {
				return 0, bad("")
			}
			if lit('.') {
				start := p
				for p < len(s) && s[p] >= '0' && s[p] <= '9' {
					if p-start < 6 {
						micros = micros*10 + int(s[p]-'0')
					}
					p++
				}
				n := p - start
				if n < 1 || n > 9 {
					return 0, bad("1 to 9 fraction digits")
				}
				for ; n < 6; n++ {
					micros *= 10
				}
			}
		}
		if hour > 23 || minute > 59 || sec > 59 {
			return 0, bad("time of day out of range")
		}
		if p < len(s) {
			hasOffset = true
			switch s[p] {
			case 'Z', 'z':
				p++
			case '+', '-':
				sign := 1
				if s[p] == '-' {
					sign = -1
				}
				p++
				oh, ok := num(2)
				if !ok {
					return 0, bad("")
				}
				om := 0
				if p < len(s) {
					lit(':')
					if om, ok = num(2); !ok {
						return 0, bad("")
					}
				}
				if oh > 23 || om > 59 {
					return 0, bad("offset out of range")
				}
				offset = sign * (oh*3600 + om*60)
			default:
				return 0, bad("")
			}
			if p != len(s) {
				return 0, bad("")
			}
		}
	}
	wall := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	var utc int64
	if hasOffset {
		utc = wall - int64(offset)
	} else {
		utc = wallToUTC(wall, loc)
	}
	us := utc*1e6 + int64(micros)
	if us < minMicros || us > maxMicros {
		return 0, fmt.Errorf("timestamp %s is outside the years 0001-9999 in UTC", quote(s))
	}
	return us, nil
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y ≥ 0 here
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// zonePeriod is one interval of constant UTC offset of a location.
type zonePeriod struct {
	offset     int64 // seconds east of UTC
	start, end int64 // [start, end) in Unix seconds; math.MinInt64/MaxInt64 when unbounded
}

func periodAt(sec int64, loc *time.Location) zonePeriod {
	t := time.Unix(sec, 0).In(loc)
	_, off := t.Zone()
	s, e := t.ZoneBounds()
	p := zonePeriod{offset: int64(off), start: math.MinInt64, end: math.MaxInt64}
	if !s.IsZero() {
		p.start = s.Unix()
	}
	if !e.IsZero() {
		p.end = e.Unix()
	}
	return p
}

// wallToUTC converts a wall-clock time of loc (seconds since the epoch as if
// it were UTC) to Unix seconds. A wall time that occurs twice takes the
// earlier instant; one that never occurs (a DST gap) is shifted forward by
// the gap, i.e. read with the offset in force before the transition. Both
// rules are spelled out here because time.Date leaves them unspecified.
func wallToUTC(wall int64, loc *time.Location) int64 {
	if loc == nil || loc == time.UTC {
		return wall
	}
	guess := periodAt(wall, loc)
	cur := periodAt(wall-guess.offset, loc)
	periods := make([]zonePeriod, 0, 3)
	if cur.start != math.MinInt64 {
		periods = append(periods, periodAt(cur.start-1, loc))
	}
	periods = append(periods, cur)
	if cur.end != math.MaxInt64 {
		periods = append(periods, periodAt(cur.end, loc))
	}
	best, found := int64(0), false
	for _, p := range periods {
		if u := wall - p.offset; u >= p.start && u < p.end && (!found || u < best) {
			best, found = u, true
		}
	}
	if found {
		return best
	}
	// A gap: the wall time falls after the end of one period (read with its
	// offset) and before the start of the next (read with the next offset).
	for i := 0; i+1 < len(periods); i++ {
		a, b := periods[i], periods[i+1]
		if wall-a.offset >= a.end && wall-b.offset < b.start {
			return wall - a.offset
		}
	}
	return wall - cur.offset
}

// quote renders a string for a message, shortened when long.
func quote(s string) string {
	if c := clip(s); len(c) != len(s) {
		return strconv.Quote(c[:len(c)-len("…")]) + "…"
	}
	return strconv.Quote(s)
}

// clip shortens s to about 64 bytes, on a UTF-8 boundary, marking the cut.
func clip(s string) string {
	const maxLen = 64
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
