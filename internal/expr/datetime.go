package expr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dtFormat is a compiled parse_datetime format: literals and directives.
type dtFormat []dtItem

type dtItem struct {
	dir byte   // directive letter, 0 for a literal
	lit string // literal text
}

const dtDirectives = "YmdHMSfzbBaAjypI"

// compileFormat splits a strftime-subset format (expressions.md §7.3) into
// items; an unknown directive is an error.
func compileFormat(f string) (dtFormat, error) {
	var out dtFormat
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, dtItem{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			lit.WriteByte(f[i])
			continue
		}
		if i+1 >= len(f) {
			return nil, errors.New("format ends with a lone '%'")
		}
		i++
		switch d := f[i]; {
		case d == '%':
			lit.WriteByte('%')
		case strings.IndexByte(dtDirectives, d) >= 0:
			flush()
			out = append(out, dtItem{dir: d})
		default:
			return nil, fmt.Errorf("unsupported directive %q in format", "%"+string(d))
		}
	}
	flush()
	return out, nil
}

var (
	monthNames = [...]string{"january", "february", "march", "april", "may", "june", "july", "august",
		"september", "october", "november", "december"}
	dayNames = [...]string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
)

// parse reads s under the format. Missing date fields default to
// 1900-01-01 (as strptime does) and missing time fields to 0; without %z the
// text is UTC. Day-of-week names are checked for spelling only, as strptime
// does. Any mismatch or trailing text is an error.
func (f dtFormat) parse(s string) (int64, error) {
	year, month, day := 1900, 1, 1
	hour, minute, sec, micros := 0, 0, 0, 0
	yday, hour12, pm := -1, -1, -1
	offset := 0
	haveMonth, haveDay := false, false
	pos := 0
	mismatch := func(what string) error {
		return fmt.Errorf("%s does not match the format: expected %s at character %d", quoteShort(s), what, runeIndex(s, pos)+1)
	}
	num := func(minW, maxW int, what string) (int, error) {
		i := pos
		for i < len(s) && i-pos < maxW && isDigit(s[i]) {
			i++
		}
		if i-pos < minW {
			return 0, mismatch(what)
		}
		n, _ := strconv.Atoi(s[pos:i])
		pos = i
		return n, nil
	}
	word := func(names []string, abbrev bool, what string) (int, error) {
		for i, name := range names {
			if abbrev {
				name = name[:3]
			}
			if len(s)-pos >= len(name) && strings.EqualFold(s[pos:pos+len(name)], name) {
				pos += len(name)
				return i, nil
			}
		}
		return 0, mismatch(what)
	}
	var err error
	for _, it := range f {
		if it.dir == 0 {
			if !strings.HasPrefix(s[pos:], it.lit) {
				return 0, mismatch(strconv.Quote(it.lit))
			}
			pos += len(it.lit)
			continue
		}
		switch it.dir {
		case 'Y':
			year, err = num(4, 4, "a 4-digit year")
		case 'y':
			year, err = num(2, 2, "a 2-digit year")
			if year < 69 { // POSIX pivot: 69–99 → 1900s, 00–68 → 2000s
				year += 2000
			} else {
				year += 1900
			}
		case 'm':
			month, err = num(1, 2, "a month number")
			haveMonth = true
		case 'd':
			day, err = num(1, 2, "a day of the month")
			haveDay = true
		case 'H':
			hour, err = num(1, 2, "an hour")
		case 'I':
			hour12, err = num(1, 2, "an hour (01-12)")
		case 'M':
			minute, err = num(1, 2, "a minute")
		case 'S':
			sec, err = num(1, 2, "a second")
		case 'j':
			yday, err = num(1, 3, "a day of the year")
		case 'f':
			start := pos
			if _, err = num(1, 9, "fractional seconds"); err == nil {
				digits := s[start:pos] + "00000"
				micros, _ = strconv.Atoi(digits[:6]) // truncated to µs
			}
		case 'b', 'B':
			var m int
			m, err = word(monthNames[:], it.dir == 'b', "a month name")
			month = m + 1
			haveMonth = true
		case 'a', 'A':
			_, err = word(dayNames[:], it.dir == 'a', "a weekday name")
		case 'p':
			switch {
			case len(s)-pos >= 2 && strings.EqualFold(s[pos:pos+2], "am"):
				pm = 0
			case len(s)-pos >= 2 && strings.EqualFold(s[pos:pos+2], "pm"):
				pm = 1
			default:
				return 0, mismatch("AM or PM")
			}
			pos += 2
		case 'z':
			offset, err = parseOffset(s, &pos)
			if err != nil {
				err = mismatch("a UTC offset (Z, ±HH:MM or ±HHMM)")
			}
		}
		if err != nil {
			return 0, err
		}
	}
	if pos != len(s) {
		return 0, fmt.Errorf("%s does not match the format: unexpected trailing text %s", quoteShort(s), quoteShort(s[pos:]))
	}
	if hour12 >= 0 {
		if hour12 < 1 || hour12 > 12 {
			return 0, fmt.Errorf("hour %d out of range 1-12 for %%I", hour12)
		}
		hour = hour12 % 12
		if pm == 1 {
			hour += 12
		}
	}
	if year < 1 || year > 9999 {
		return 0, fmt.Errorf("year %d out of range 0001-9999", year)
	}
	if month < 1 || month > 12 {
		return 0, fmt.Errorf("month %d out of range 1-12", month)
	}
	if dim := daysIn(year, time.Month(month)); day < 1 || day > dim {
		return 0, fmt.Errorf("day %d out of range for %d-%02d", day, year, month)
	}
	if hour > 23 || minute > 59 || sec > 59 {
		return 0, fmt.Errorf("time %02d:%02d:%02d out of range", hour, minute, sec)
	}
	if yday >= 0 {
		if n := daysInYear(year); yday < 1 || yday > n {
			return 0, fmt.Errorf("day of year %d out of range 1-%d", yday, n)
		}
		t := time.Date(year, 1, yday, 0, 0, 0, 0, time.UTC)
		if (haveMonth && int(t.Month()) != month) || (haveDay && t.Day() != day) {
			return 0, fmt.Errorf("day of year %d contradicts the month and day", yday)
		}
		month, day = int(t.Month()), t.Day()
	}
	us := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC).UnixMicro() + int64(micros) - int64(offset)*60_000_000
	if us < minDateTime || us > maxDateTime {
		return 0, errors.New("result out of the DateTime range")
	}
	return us, nil
}

// parseOffset reads Z, ±HH:MM or ±HHMM and returns minutes east of UTC.
func parseOffset(s string, pos *int) (int, error) {
	p := *pos
	if p < len(s) && s[p] == 'Z' {
		*pos = p + 1
		return 0, nil
	}
	if p >= len(s) || (s[p] != '+' && s[p] != '-') {
		return 0, errors.New("bad offset")
	}
	sign := 1
	if s[p] == '-' {
		sign = -1
	}
	p++
	two := func() (int, bool) {
		if p+2 > len(s) || !isDigit(s[p]) || !isDigit(s[p+1]) {
			return 0, false
		}
		v := int(s[p]-'0')*10 + int(s[p+1]-'0')
		p += 2
		return v, true
	}
	h, ok := two()
	if !ok {
		return 0, errors.New("bad offset")
	}
	if p < len(s) && s[p] == ':' {
		p++
	}
	m, ok := two()
	if !ok || h > 23 || m > 59 {
		return 0, errors.New("bad offset")
	}
	*pos = p
	return sign * (h*60 + m), nil
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func daysInYear(year int) int {
	if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 366
	}
	return 365
}

func runeIndex(s string, off int) int {
	n := 0
	for i := range s {
		if i >= off {
			break
		}
		n++
	}
	return n
}
