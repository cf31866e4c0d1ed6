package expr

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/defacto-dev/defacto/internal/value"
)

// function is one entry of the function table (expressions.md §7). Calls
// are resolved against it at compile time; evaluation calls impl directly.
type function struct {
	name     string
	min, max int  // arity; max < 0 means unbounded
	ownNulls bool // impl sees Null arguments; otherwise any Null argument yields Null
	clock    bool // reads Env.Now
	impl     func(n *callNode, env *Env, a, b, c value.Value) (value.Value, error)
}

var functions = map[string]*function{}

func init() {
	for _, f := range []*function{
		{name: "str::to_lowercase", min: 1, max: 1, impl: fnLower},
		{name: "str::to_uppercase", min: 1, max: 1, impl: fnUpper},
		{name: "str::trim", min: 1, max: 1, impl: fnTrim},
		{name: "str::substring", min: 3, max: 3, impl: fnSubstring},
		{name: "starts_with", min: 2, max: 2, impl: fnStartsWith},
		{name: "ends_with", min: 2, max: 2, impl: fnEndsWith},
		{name: "contains", min: 2, max: 2, ownNulls: true, impl: fnContains},
		{name: "replace", min: 3, max: 3, impl: fnReplace},
		{name: "regex_match", min: 2, max: 2, impl: fnRegexMatch},
		{name: "regex_extract", min: 2, max: 2, impl: fnRegexExtract},
		{name: "to_string", min: 1, max: 1, impl: fnToString},
		{name: "len", min: 1, max: 1, impl: fnLen},

		{name: "math::abs", min: 1, max: 1, impl: fnAbs},
		{name: "floor", min: 1, max: 1, impl: fnFloor},
		{name: "ceil", min: 1, max: 1, impl: fnCeil},
		{name: "round", min: 1, max: 1, impl: fnRound},
		{name: "min", min: 2, max: 2, impl: fnMin},
		{name: "max", min: 2, max: 2, impl: fnMax},

		{name: "now", min: 0, max: 0, clock: true, impl: fnNow},
		{name: "days_between", min: 2, max: 2, impl: fnDaysBetween},
		{name: "hours_between", min: 2, max: 2, impl: fnHoursBetween},
		{name: "minutes_between", min: 2, max: 2, impl: fnMinutesBetween},
		{name: "days_since", min: 1, max: 1, clock: true, impl: fnDaysSince},
		{name: "year_of", min: 1, max: 1, impl: fnYearOf},
		{name: "month_of", min: 1, max: 1, impl: fnMonthOf},
		{name: "day_of", min: 1, max: 1, impl: fnDayOf},
		{name: "hour_of", min: 1, max: 1, impl: fnHourOf},
		{name: "minute_of", min: 1, max: 1, impl: fnMinuteOf},
		{name: "day_of_week", min: 1, max: 1, impl: fnDayOfWeek},
		{name: "date_trunc", min: 2, max: 2, impl: fnDateTrunc},
		{name: "parse_datetime", min: 2, max: 2, impl: fnParseDatetime},

		{name: "split", min: 2, max: 2, impl: fnSplit},
		{name: "join", min: 2, max: 2, impl: fnJoin},

		{name: "to_int", min: 1, max: 1, impl: fnToInt},
		{name: "to_float", min: 1, max: 1, impl: fnToFloat},
		{name: "coalesce", min: 1, max: -1, ownNulls: true}, // compiled to coalesceNode
	} {
		functions[f.name] = f
	}
}

// callNode calls a function with up to three arguments. Arguments are passed
// by value so that nothing escapes to the heap.
type callNode struct {
	fn    *function
	args  []node
	pos   int
	re    *regexp.Regexp // constant regex pattern, compiled at Parse
	dtf   dtFormat       // constant parse_datetime format, compiled at Parse
	prog  *Program       // for the dynamic regex cache
	hasRe bool
}

func (n *callNode) eval(env *Env) (value.Value, error) {
	var a [3]value.Value
	for i, arg := range n.args {
		v, err := arg.eval(env)
		if err != nil {
			return value.Null, err
		}
		a[i] = v
	}
	if !n.fn.ownNulls {
		for i := range n.args {
			if a[i].IsNull() {
				return value.Null, nil
			}
		}
	}
	return n.fn.impl(n, env, a[0], a[1], a[2])
}

func (n *callNode) fail(msg string) error { return evalErr(n.pos, n.fn.name+": "+msg) }

func (n *callNode) typeErr(want string, got value.Value) error {
	return n.fail("expected " + want + ", got " + got.Kind().String())
}

func (n *callNode) str(v value.Value) (string, error) {
	if v.Kind() != value.KindString {
		return "", n.typeErr("String", v)
	}
	return v.AsString(), nil
}

func (n *callNode) str2(a, b value.Value) (string, string, error) {
	x, err := n.str(a)
	if err != nil {
		return "", "", err
	}
	y, err := n.str(b)
	return x, y, err
}

func (n *callNode) dt(v value.Value) (int64, error) {
	if v.Kind() != value.KindDateTime {
		return 0, n.typeErr("DateTime", v)
	}
	return v.Micros(), nil
}

// ---- strings ----

func fnLower(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	s, err := n.str(a)
	if err != nil {
		return value.Null, err
	}
	// strings.ToLower maps code point by code point with unicode.ToLower,
	// the simple 1:1 mapping, and returns s itself when nothing changes.
	return value.String(strings.ToLower(s)), nil
}

func fnUpper(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	s, err := n.str(a)
	if err != nil {
		return value.Null, err
	}
	return value.String(strings.ToUpper(s)), nil
}

func fnTrim(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	s, err := n.str(a)
	if err != nil {
		return value.Null, err
	}
	return value.String(strings.TrimSpace(s)), nil // White_Space, via unicode.IsSpace
}

func fnSubstring(n *callNode, _ *Env, a, b, c value.Value) (value.Value, error) {
	s, err := n.str(a)
	if err != nil {
		return value.Null, err
	}
	if b.Kind() != value.KindInt {
		return value.Null, n.typeErr("Int", b)
	}
	if c.Kind() != value.KindInt {
		return value.Null, n.typeErr("Int", c)
	}
	start, length := b.AsInt(), c.AsInt()
	if length < 0 {
		return value.Null, n.fail("length must not be negative, got " + strconv.FormatInt(length, 10))
	}
	if start < 0 {
		start += int64(utf8.RuneCountInString(s))
		if start < 0 {
			start = 0 // decision: a start before the beginning clamps to it
		}
	}
	// Walk code points to byte offsets.
	from := -1
	var i int64
	off := 0
	for off < len(s) {
		if i == start {
			from = off
			break
		}
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
		i++
	}
	if from < 0 {
		return value.String(""), nil
	}
	to := from
	for i = 0; i < length && to < len(s); i++ {
		_, size := utf8.DecodeRuneInString(s[to:])
		to += size
	}
	return value.String(s[from:to]), nil
}

func fnStartsWith(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	s, p, err := n.str2(a, b)
	if err != nil {
		return value.Null, err
	}
	return value.Bool(strings.HasPrefix(s, p)), nil
}

func fnEndsWith(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	s, p, err := n.str2(a, b)
	if err != nil {
		return value.Null, err
	}
	return value.Bool(strings.HasSuffix(s, p)), nil
}

// fnContains handles Null itself: a Null needle is searched for in an array
// but propagates for the string form.
func fnContains(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	switch a.Kind() {
	case value.KindNull:
		return value.Null, nil
	case value.KindString:
		if b.IsNull() {
			return value.Null, nil
		}
		sub, err := n.str(b)
		if err != nil {
			return value.Null, err
		}
		return value.Bool(strings.Contains(a.AsString(), sub)), nil
	case value.KindArray:
		for _, e := range a.AsArray() {
			if value.Equal(e, b) {
				return value.True, nil
			}
		}
		return value.False, nil
	}
	return value.Null, n.typeErr("String or Array", a)
}

func fnReplace(n *callNode, _ *Env, a, b, c value.Value) (value.Value, error) {
	s, from, err := n.str2(a, b)
	if err != nil {
		return value.Null, err
	}
	to, err := n.str(c)
	if err != nil {
		return value.Null, err
	}
	if from == "" {
		return a, nil // decision: an empty pattern changes nothing
	}
	if len(to) > len(from) {
		if k := strings.Count(s, from); k > 0 && (len(to)-len(from)) > (maxStringLen-len(s))/k {
			return value.Null, n.fail(tooLong)
		}
	}
	return value.String(strings.ReplaceAll(s, from, to)), nil
}

// regex returns the compiled pattern: the constant one from Parse, or one
// from the program's bounded cache.
func (n *callNode) regex(p value.Value) (*regexp.Regexp, error) {
	if n.hasRe {
		return n.re, nil
	}
	pat, err := n.str(p)
	if err != nil {
		return nil, err
	}
	re, err := n.prog.regexes.get(pat)
	if err != nil {
		return nil, n.fail("invalid pattern: " + err.Error())
	}
	return re, nil
}

type regexEntry struct {
	re  *regexp.Regexp
	err error
}

func (c *regexCache) get(pattern string) (*regexp.Regexp, error) {
	c.mu.RLock()
	e, ok := c.m[pattern]
	c.mu.RUnlock()
	if ok {
		return e.re, e.err
	}
	re, err := regexp.Compile(pattern)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= regexCacheSize {
		c.m = make(map[string]regexEntry) // crude but bounded: start over
	}
	c.m[strings.Clone(pattern)] = regexEntry{re, err}
	c.mu.Unlock()
	return re, err
}

func fnRegexMatch(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	s, err := n.str(a)
	if err != nil {
		return value.Null, err
	}
	re, err := n.regex(b)
	if err != nil {
		return value.Null, err
	}
	return value.Bool(re.MatchString(s)), nil
}

// fnRegexExtract returns the first match: the whole match when the pattern
// has no groups, else group 1 (Null when it did not participate).
func fnRegexExtract(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	s, err := n.str(a)
	if err != nil {
		return value.Null, err
	}
	re, err := n.regex(b)
	if err != nil {
		return value.Null, err
	}
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return value.Null, nil
	}
	if re.NumSubexp() == 0 {
		return value.String(s[m[0]:m[1]]), nil
	}
	if m[2] < 0 {
		return value.Null, nil
	}
	return value.String(s[m[2]:m[3]]), nil
}

func fnToString(_ *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	if a.Kind() == value.KindString {
		return a, nil
	}
	return value.String(value.ToString(a)), nil
}

func fnLen(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	switch a.Kind() {
	case value.KindString:
		return value.Int(int64(utf8.RuneCountInString(a.AsString()))), nil
	case value.KindArray:
		return value.Int(int64(len(a.AsArray()))), nil
	case value.KindObject:
		return value.Int(int64(len(a.AsObject()))), nil
	}
	return value.Null, n.typeErr("String, Array or Object", a)
}

// ---- math ----

func fnAbs(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	switch a.Kind() {
	case value.KindInt:
		i := a.AsInt()
		if i == math.MinInt64 {
			return value.Null, n.fail("integer overflow")
		}
		if i < 0 {
			i = -i
		}
		return value.Int(i), nil
	case value.KindFloat:
		return value.Float(math.Abs(a.AsFloat())), nil
	}
	return value.Null, n.typeErr("Int or Float", a)
}

func (n *callNode) toIntResult(f float64) (value.Value, error) {
	if f < -9223372036854775808.0 || f >= 9223372036854775808.0 {
		return value.Null, n.fail("result " + value.FormatFloat(f) + " is out of the Int range")
	}
	return value.Int(int64(f)), nil
}

func rounding(n *callNode, a value.Value, fn func(float64) float64) (value.Value, error) {
	switch a.Kind() {
	case value.KindInt:
		return a, nil
	case value.KindFloat:
		return n.toIntResult(fn(a.AsFloat()))
	}
	return value.Null, n.typeErr("Int or Float", a)
}

func fnFloor(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	return rounding(n, a, math.Floor)
}

func fnCeil(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	return rounding(n, a, math.Ceil)
}

// math.Round rounds half away from zero, as specified (2.5 → 3, -2.5 → -3).
func fnRound(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	return rounding(n, a, math.Round)
}

func minMax(n *callNode, a, b value.Value, wantMax bool) (value.Value, error) {
	for _, v := range [2]value.Value{a, b} {
		if k := v.Kind(); k != value.KindInt && k != value.KindFloat {
			return value.Null, n.typeErr("Int or Float", v)
		}
	}
	c, _ := value.Compare(a, b)
	pick := a
	if (c < 0) == wantMax && c != 0 {
		pick = b
	}
	if a.Kind() == value.KindInt && b.Kind() == value.KindInt {
		return pick, nil
	}
	f, _ := pick.Number()
	return value.Float(f), nil
}

func fnMin(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	return minMax(n, a, b, false)
}

func fnMax(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	return minMax(n, a, b, true)
}

// ---- date and time ----

const (
	microsPerMinute = 60_000_000
	microsPerHour   = 3_600_000_000
	microsPerDay    = 86_400_000_000
)

func fnNow(_ *callNode, env *Env, _, _, _ value.Value) (value.Value, error) {
	return value.DateTime(env.Now), nil
}

func between(n *callNode, a, b value.Value, unit int64) (value.Value, error) {
	x, err := n.dt(a)
	if err != nil {
		return value.Null, err
	}
	y, err := n.dt(b)
	if err != nil {
		return value.Null, err
	}
	d, ok := subInt(x, y)
	if !ok || d == math.MinInt64 {
		return value.Null, n.fail("DateTime out of range")
	}
	if d < 0 {
		d = -d
	}
	return value.Int(d / unit), nil
}

func fnDaysBetween(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	return between(n, a, b, microsPerDay)
}

func fnHoursBetween(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	return between(n, a, b, microsPerHour)
}

func fnMinutesBetween(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	return between(n, a, b, microsPerMinute)
}

// fnDaysSince counts whole days from t to now(), truncated toward zero, so
// a future t gives a negative count.
func fnDaysSince(n *callNode, env *Env, a, _, _ value.Value) (value.Value, error) {
	t, err := n.dt(a)
	if err != nil {
		return value.Null, err
	}
	d, ok := subInt(env.Now, t)
	if !ok {
		return value.Null, n.fail("DateTime out of range")
	}
	return value.Int(d / microsPerDay), nil
}

func calendar(n *callNode, a value.Value) (time.Time, error) {
	t, err := n.dt(a)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(t).UTC(), nil
}

func fnYearOf(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	t, err := calendar(n, a)
	return value.Int(int64(t.Year())), err
}

func fnMonthOf(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	t, err := calendar(n, a)
	return value.Int(int64(t.Month())), err
}

func fnDayOf(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	t, err := calendar(n, a)
	return value.Int(int64(t.Day())), err
}

func fnHourOf(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	t, err := calendar(n, a)
	return value.Int(int64(t.Hour())), err
}

func fnMinuteOf(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	t, err := calendar(n, a)
	return value.Int(int64(t.Minute())), err
}

// fnDayOfWeek numbers Monday 0 … Sunday 6 (time.Weekday has Sunday 0).
func fnDayOfWeek(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	t, err := calendar(n, a)
	return value.Int(int64((t.Weekday() + 6) % 7)), err
}

var truncUnits = map[string]bool{"year": true, "month": true, "day": true, "hour": true, "minute": true}

func fnDateTrunc(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	t, err := calendar(n, a)
	if err != nil {
		return value.Null, err
	}
	unit, err := n.str(b)
	if err != nil {
		return value.Null, err
	}
	y, mo, d := t.Date()
	h, mi := t.Hour(), t.Minute()
	switch unit {
	case "year":
		mo, d, h, mi = 1, 1, 0, 0
	case "month":
		d, h, mi = 1, 0, 0
	case "day":
		h, mi = 0, 0
	case "hour":
		mi = 0
	case "minute":
	default:
		return value.Null, n.fail(badUnit(unit))
	}
	return value.DateTime(time.Date(y, mo, d, h, mi, 0, 0, time.UTC).UnixMicro()), nil
}

func badUnit(unit string) string {
	return "unit " + strconv.Quote(unit) + " is not one of year, month, day, hour, minute"
}

func fnParseDatetime(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	s, err := n.str(a)
	if err != nil {
		return value.Null, err
	}
	f := n.dtf
	if f == nil {
		text, err := n.str(b)
		if err != nil {
			return value.Null, err
		}
		if f, err = compileFormat(text); err != nil {
			return value.Null, n.fail(err.Error())
		}
	}
	us, err := f.parse(s)
	if err != nil {
		return value.Null, n.fail(err.Error())
	}
	return value.DateTime(us), nil
}

// ---- arrays ----

func fnSplit(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	s, delim, err := n.str2(a, b)
	if err != nil {
		return value.Null, err
	}
	var parts []string
	if delim == "" {
		if s == "" {
			return value.Array([]value.Value{a}), nil // decision: "" → [""] whatever the delimiter
		}
		parts = strings.Split(s, "") // one element per code point
	} else {
		parts = strings.Split(s, delim)
	}
	out := make([]value.Value, len(parts))
	for i, p := range parts {
		out[i] = value.String(p)
	}
	return value.Array(out), nil
}

func fnJoin(n *callNode, _ *Env, a, b, _ value.Value) (value.Value, error) {
	if a.Kind() != value.KindArray {
		return value.Null, n.typeErr("Array", a)
	}
	delim, err := n.str(b)
	if err != nil {
		return value.Null, err
	}
	var buf []byte
	for i, e := range a.AsArray() {
		if i > 0 {
			buf = append(buf, delim...)
		}
		if !e.IsNull() { // decision: Null elements render as ""
			buf = value.AppendString(buf, e)
		}
		if len(buf) > maxStringLen {
			return value.Null, n.fail(tooLong)
		}
	}
	return value.String(string(buf)), nil
}

// ---- conversion ----

func fnToInt(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	switch a.Kind() {
	case value.KindInt:
		return a, nil
	case value.KindFloat:
		return n.toIntResult(math.Trunc(a.AsFloat()))
	case value.KindBool:
		if a.AsBool() {
			return value.Int(1), nil
		}
		return value.Int(0), nil
	case value.KindString:
		s := a.AsString()
		if !isIntText(s) {
			return value.Null, n.fail("cannot convert " + quoteShort(s) + " to Int")
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return value.Null, n.fail(quoteShort(s) + " is out of the Int range")
		}
		return value.Int(i), nil
	}
	return value.Null, n.typeErr("Int, Float, Bool or String", a)
}

// isIntText accepts an optional sign and decimal digits only.
func isIntText(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isFloatText accepts decimal or exponent form: [+-] (digits [. digits?] |
// . digits) [e [+-] digits]. It rules out inf, nan, hex and underscores,
// which strconv.ParseFloat would accept.
func isFloatText(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func fnToFloat(n *callNode, _ *Env, a, _, _ value.Value) (value.Value, error) {
	switch a.Kind() {
	case value.KindInt:
		return value.Float(float64(a.AsInt())), nil
	case value.KindFloat:
		return a, nil
	case value.KindString:
		s := a.AsString()
		if !isFloatText(s) {
			return value.Null, n.fail("cannot convert " + quoteShort(s) + " to Float")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return value.Null, n.fail(quoteShort(s) + " is out of the Float range")
		}
		return value.Float(f), nil
	}
	return value.Null, n.typeErr("Int, Float or String", a)
}

// quoteShort quotes user data for a message, cut to a readable length.
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		r := []rune(s)
		s = string(r[:37]) + "..."
	}
	return strconv.Quote(s)
}

// coalesceNode evaluates its arguments lazily: the first non-Null wins and
// later arguments are never evaluated.
type coalesceNode struct{ args []node }

func (n *coalesceNode) eval(env *Env) (value.Value, error) {
	for _, a := range n.args {
		v, err := a.eval(env)
		if err != nil || !v.IsNull() {
			return v, err
		}
	}
	return value.Null, nil
}
