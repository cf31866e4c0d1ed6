package expr

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/value"
)

var (
	I  = value.Int
	F  = value.Float
	S  = value.String
	B  = value.Bool
	N  = value.Null
	DU = value.Duration
)

func A(vs ...value.Value) value.Value { return value.Array(vs) }

func O(kv ...any) value.Value {
	m := map[string]value.Value{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(value.Value)
	}
	return value.Object(m)
}

func ts(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func DT(s string) value.Value { return value.DateTime(ts(s)) }

const (
	sec  = int64(1_000_000)
	hour = 3600 * sec
	day  = 24 * hour
)

// same is Equal plus identical kinds at every level: tests must tell 3 from 3.0.
func same(a, b value.Value) bool {
	if a.Kind() != b.Kind() || !value.Equal(a, b) {
		return false
	}
	switch a.Kind() {
	case value.KindArray:
		for i, e := range a.AsArray() {
			if !same(e, b.AsArray()[i]) {
				return false
			}
		}
	case value.KindObject:
		for k, e := range a.AsObject() {
			if !same(e, b.AsObject()[k]) {
				return false
			}
		}
	}
	return true
}

type evalCase struct {
	src  string
	want value.Value
	err  string // substring of the runtime error; empty: success expected
}

func testEnv() *Env {
	return &Env{
		Event: MapScope{
			"n":     I(5),
			"s":     S("Héllo, World"),
			"items": A(S("a"), S("b"), N, I(2)),
			"csv":   S("a,,b"),
			"obj":   O("k", S("v"), "n", O("deep", I(1))),
			"f":     F(2.5),
			"t":     DT("2024-01-15T10:30:45.123456Z"),
			"d":     DU(90 * 60 * sec),
			"plan":  S("pro"),
			"email": S("bo@x.io"),
			"if":    S("keyword member"),
			"zero":  I(0),
			"big":   I(math.MaxInt64),
			"small": I(math.MinInt64),
			"pat":   S("[0-9]+"),
			"bad":   S("("),
			"yes":   B(true),
		},
		Entity:   MapScope{"plan": S("free"), "mrr": I(100), "state": S("active")},
		Value:    S(" Alice@Example.COM "),
		HasValue: true,
		Now:      ts("2024-02-01T00:00:00Z"),
	}
}

func runCases(t *testing.T, env *Env, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		p, err := Parse(c.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.src, err)
			continue
		}
		got, err := p.Eval(env)
		if c.err != "" {
			var ee *EvalError
			if err == nil || !errors.As(err, &ee) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s = %#v, %v; want error containing %q", c.src, got, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: unexpected error %v", c.src, err)
			continue
		}
		if !same(got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.src, got, c.want)
		}
	}
}

func TestLiteralsAndLexing(t *testing.T) {
	runCases(t, testEnv(), []evalCase{
		{"42", I(42), ""},
		{"007", I(7), ""},
		{"9223372036854775807", I(math.MaxInt64), ""},
		{"3.0", F(3), ""},
		{"1.5e3", F(1500), ""},
		{"1e3", F(1000), ""},
		{"2E-1", F(0.2), ""},
		{"1e-999", F(0), ""},
		{"30d", DU(30 * day), ""},
		{"36h", DU(36 * hour), ""},
		{"15m", DU(15 * 60 * sec), ""},
		{"5s", DU(5 * sec), ""},
		{"0s", DU(0), ""},
		{`'it\'s'`, S("it's"), ""},
		{`"say \"hi\""`, S(`say "hi"`), ""},
		{`'a\\b\n\r\t'`, S("a\\b\n\r\t"), ""},
		{`'\u00e9\u00C9'`, S("éÉ"), ""},
		{`'\ud83d\ude00'`, S("😀"), ""},
		{"'raw\nnewline'", S("raw\nnewline"), ""},
		{`"single ' inside"`, S("single ' inside"), ""},
		{"true", B(true), ""},
		{"false", B(false), ""},
		{"null", N, ""},
		// Unicode White_Space separates tokens.
		{"1\u00a0+\u20032\u3000*\t3\n", I(7), ""},
		{"\u2028event.n\u2029", I(5), ""},
	})
}

func TestPaths(t *testing.T) {
	runCases(t, testEnv(), []evalCase{
		{"event.n", I(5), ""},
		{"event.missing", N, ""},
		{"event.obj.n.deep", I(1), ""},
		{"event.obj.k.z", N, ""},
		{"event.items.1", S("b"), ""},
		{"event.items.01", S("b"), ""},
		{"event.items.9", N, ""},
		{"event.items.99999999999999999999999", N, ""},
		{"event.items.x", N, ""},
		{"event.obj.0", N, ""},
		{"event.n.x", N, ""},
		{"event.if", S("keyword member"), ""}, // keywords are names after "."
		{"event . plan", S("pro"), ""},
		{"entity.plan", S("free"), ""},
		{"entity.mrr", I(100), ""},
		{"value", S(" Alice@Example.COM "), ""},
		{"value.x", N, ""},
		{"len(event)", I(17), ""},
		{"entity.obj.n", N, ""},
	})
	// Absent roots: every reference is Null.
	runCases(t, &Env{}, []evalCase{
		{"event.n", N, ""},
		{"entity.a.b.c", N, ""},
		{"value", N, ""},
		{"event", N, ""},
	})
	runCases(t, &Env{Event: ObjectScope(O("a", O("b", A(I(1), I(2)))))}, []evalCase{
		{"event.a.b.1", I(2), ""},
		{"event.a.b[-1]", I(2), ""},
		{"to_string(event)", S(`{"a":{"b":[1,2]}}`), ""},
	})
	runCases(t, &Env{Event: ObjectScope(I(3))}, []evalCase{{"event.a", N, ""}})
}

func TestIndexing(t *testing.T) {
	runCases(t, testEnv(), []evalCase{
		{"event.items[0]", S("a"), ""},
		{"event.items[-1]", I(2), ""},
		{"event.items[-4]", S("a"), ""},
		{"event.items[-5]", N, ""},
		{"event.items[4]", N, ""},
		{"event.items[2]", N, ""},
		{"event.s[0]", S("H"), ""},
		{"event.s[1]", S("é"), ""},
		{"event.s[-1]", S("d"), ""},
		{"event.s[12]", N, ""},
		{"event.s[-13]", N, ""},
		{"event.obj['k']", S("v"), ""},
		{"event.obj['nope']", N, ""},
		{"event.obj['n']['deep']", I(1), ""},
		{"event.missing[0]", N, ""},
		{"event.items[null]", N, ""},
		{"'abc'[1]", S("b"), ""},
		{"split('a,b', ',')[1]", S("b"), ""},
		{"event.items[1.0]", N, "cannot index Array with Float"},
		{"event.obj[0]", N, "cannot index Object with Int"},
		{"event.s['a']", N, "cannot index String with String"},
		{"event.n[0]", N, "cannot index Int with Int"},
	})
}

func TestPrecedence(t *testing.T) {
	runCases(t, testEnv(), []evalCase{
		{"1 + 2 * 3", I(7), ""},
		{"(1 + 2) * 3", I(9), ""},
		{"10 - 4 - 3", I(3), ""},
		{"100 / 10 / 5", I(2), ""},
		{"-2 ** 2", I(-4), ""},
		{"(-2) ** 2", I(4), ""},
		{"2 ** 3 ** 2", I(512), ""},
		{"2 ** -1", F(0.5), ""},
		{"2 ** - - 2", I(4), ""},
		{"- - 3", I(3), ""},
		{"-3 * 2", I(-6), ""},
		{"2 * -3", I(-6), ""},
		{"not 1 == 2", B(true), ""},
		{"not event.n == 4", B(true), ""},
		{"! false", B(true), ""},
		{"!false && !(1 > 2)", B(true), ""},
		{"not not true", B(true), ""},
		{"true or false and false", B(true), ""},
		{"(true or false) and false", B(false), ""},
		{"false and true or true", B(true), ""},
		{"1 + 2 == 3 and 2 < 3", B(true), ""},
		{"if true then 1 else 2 + 10", I(1), ""},
		{"if false then 1 else 2 + 10", I(12), ""},
		{"if event.n > 10 then 'big' else if event.n > 3 then 'mid' else 'small'", S("mid"), ""},
		{"(if true then 1 else 2) + 10", I(11), ""},
		{"1 + if true then 1 else 2", I(2), ""},
		{"1 + if false then 1 else 2 + 3", I(6), ""},
		{"event.items[1 + 1 - 1]", S("b"), ""},
	})
}

func TestOperators(t *testing.T) {
	t0 := "2024-01-15T10:00:00Z"
	runCases(t, testEnv(), []evalCase{
		// Int op Int
		{"7 / 2", I(3), ""},
		{"-7 / 2", I(-3), ""},
		{"7 / -2", I(-3), ""},
		{"7 / 0", N, "division by zero"},
		{"event.small / -1", N, "integer overflow in '/'"},
		{"event.big + 1", N, "integer overflow in '+'"},
		{"event.small - 1", N, "integer overflow in '-'"},
		{"event.big * 2", N, "integer overflow in '*'"},
		{"event.small * -1", N, "integer overflow in '*'"},
		{"-event.small", N, "integer overflow in unary '-'"},
		{"event.big - event.big", I(0), ""},
		{"2 ** 62", I(1 << 62), ""},
		{"2 ** 63", N, "integer overflow in '**'"},
		{"(-2) ** 63", I(math.MinInt64), ""},
		{"3 ** 40", N, "integer overflow"},
		{"0 ** 0", I(1), ""},
		{"0 ** 5", I(0), ""},
		{"1 ** 9223372036854775807", I(1), ""},
		{"(-1) ** 9223372036854775807", I(-1), ""},
		{"2 ** 10", I(1024), ""},
		{"2 ** -2", F(0.25), ""},
		{"0 ** -1", N, "not a finite number"},
		// mixed and Float
		{"7 / 2.0", F(3.5), ""},
		{"1 + 0.5", F(1.5), ""},
		{"0.5 * 4", F(2), ""},
		{"1.5 - 2", F(-0.5), ""},
		{"1.0 / 0", N, "division by zero"},
		{"1 / 0.0", N, "division by zero"},
		{"4 ** 0.5", F(2), ""},
		{"2.0 ** 2", F(4), ""},
		{"(-8.0) ** 0.5", N, "not a finite number"},
		{"1e308 * 10", N, "not a finite number"},
		{"1e308 + 1e308", N, "not a finite number"},
		{"-event.f", F(-2.5), ""},
		// strings
		{"'a' + 'b'", S("ab"), ""},
		{"event.s + '!'", S("Héllo, World!"), ""},
		{"'a' + 1", N, "cannot apply '+' to String and Int"},
		{"1 + 'a'", N, "cannot apply '+' to Int and String"},
		{"'a' * 2", N, "cannot apply '*' to String and Int"},
		{"'a' - 'a'", N, "cannot apply '-' to String and String"},
		{"-'a'", N, "cannot apply unary '-' to String"},
		{"true + 1", N, "cannot apply '+' to Bool and Int"},
		// DateTime and Duration
		{"event.t + 1h", DT("2024-01-15T11:30:45.123456Z"), ""},
		{"1h + event.t", DT("2024-01-15T11:30:45.123456Z"), ""},
		{"event.t - 1d", DT("2024-01-14T10:30:45.123456Z"), ""},
		{"1d - event.t", N, "cannot apply '-' to Duration and DateTime"},
		{"event.t - parse_datetime('2024-01-15', '%Y-%m-%d')", DU(10*hour + 30*60*sec + 45*sec + 123456), ""},
		{"parse_datetime('2024-01-15', '%Y-%m-%d') - event.t", DU(-(10*hour + 30*60*sec + 45*sec + 123456)), ""},
		{"event.t + event.t", N, "cannot apply '+' to DateTime and DateTime"},
		{"event.t + 1", N, "cannot apply '+' to DateTime and Int"},
		{"parse_datetime('9999-12-31', '%Y-%m-%d') + 1d", N, "DateTime out of range"},
		{"parse_datetime('0001-01-01', '%Y-%m-%d') - 1s", N, "DateTime out of range"},
		{"1h + 30m", DU(90 * 60 * sec), ""},
		{"1h - 2h", DU(-hour), ""},
		{"-1h", DU(-hour), ""},
		{"1h * 2", DU(2 * hour), ""},
		{"2 * 1h", DU(2 * hour), ""},
		{"1s * 0.5", DU(500_000), ""},
		{"0.5 * 1s", DU(500_000), ""},
		{"1s * 0.0000001", DU(0), ""},
		{"-1s * 0.0000015", DU(-1), ""}, // truncated toward zero
		{"1h / 2", DU(30 * 60 * sec), ""},
		{"1s / 3", DU(333_333), ""},
		{"1s / 0.5", DU(2 * sec), ""},
		{"1h / 0", N, "division by zero"},
		{"1h / 0.0", N, "division by zero"},
		{"1h / 30m", F(2), ""},
		{"1h / 0s", N, "division by zero"},
		{"2 / 1h", N, "cannot apply '/' to Int and Duration"},
		{"1h * 1h", N, "cannot apply '*' to Duration and Duration"},
		{"1h + 1", N, "cannot apply '+' to Duration and Int"},
		{"106751991d * 2", N, "Duration overflow"},
		{"1h * 1e300", N, "Duration overflow"},
		{"1h ** 2", N, "cannot apply '**' to Duration and Int"},
		// Null propagation
		{"event.missing + 1", N, ""},
		{"1 - null", N, ""},
		{"null * 'a'", N, ""},
		{"null / 0", N, ""},
		{"-null", N, ""},
		{"null ** 2", N, ""},
		{"event.t + null", N, ""},
		// Equality
		{"null == null", B(true), ""},
		{"null != null", B(false), ""},
		{"event.missing == null", B(true), ""},
		{"1 == null", B(false), ""},
		{"'1' != 1", B(true), ""},
		{"1 == 1.0", B(true), ""},
		{"1 != 1.5", B(true), ""},
		{"'é' == 'é'", B(true), ""},
		{"true == true", B(true), ""},
		{"1h == 60m", B(true), ""},
		{"1h == 3600", B(false), ""},
		{"event.items == split('a,b', ',')", B(false), ""},
		{"split('a,b', ',') == split('a-b', '-')", B(true), ""},
		{"event.obj == event.obj", B(true), ""},
		{"event.t == event.t", B(true), ""},
		// Ordering
		{"1 < 2", B(true), ""},
		{"2 <= 2", B(true), ""},
		{"3 > 2.5", B(true), ""},
		{"2.5 >= 3", B(false), ""},
		{"'a' < 'b'", B(true), ""},
		{"'é' > 'z'", B(true), ""},
		{"event.t > parse_datetime('" + t0[:10] + "', '%Y-%m-%d')", B(true), ""},
		{"1h < 2h", B(true), ""},
		{"-1h < 0s", B(true), ""},
		{"event.missing > 1", N, ""},
		{"null < null", N, ""},
		{"1 <= null", N, ""},
		{"'a' < 1", N, "cannot compare String with Int"},
		{"true < false", N, "cannot compare Bool with Bool"},
		{"event.t < 1h", N, "cannot compare DateTime with Duration"},
		{"event.items < event.items", N, "cannot compare Array with Array"},
		{"event.big > 9.2e18", B(true), ""},
		{"event.big == 9223372036854775807.0", B(false), ""},
	})
}

func TestBooleanLogic(t *testing.T) {
	runCases(t, testEnv(), []evalCase{
		{"true and true", B(true), ""},
		{"true and false", B(false), ""},
		{"true and null", B(false), ""},
		{"null and true", B(false), ""},
		{"null or true", B(true), ""},
		{"null or null", B(false), ""},
		{"false || false", B(false), ""},
		{"true && true", B(true), ""},
		{"not null", B(true), ""},
		{"not event.missing", B(true), ""},
		{"! event.yes", B(false), ""},
		{"false and 1 / 0 > 0", B(false), ""},
		{"true or 1 / 0 > 0", B(true), ""},
		{"event.missing != null and event.missing > 5", B(false), ""},
		{"event.n != null and event.n > 4", B(true), ""},
		{"false and 5", B(false), ""},
		{"true and 5", N, "'and': expected Bool, got Int"},
		{"5 and true", N, "'and': expected Bool, got Int"},
		{"event.n and true", N, "'and': expected Bool, got Int"},
		{"false or 'x'", N, "'or': expected Bool, got String"},
		{"event.s or true", N, "'or': expected Bool, got String"},
		{"not 1", N, "'not': expected Bool, got Int"},
		{"not event.n", N, "'not': expected Bool, got Int"},
		{"if event.missing then 'y' else 'n'", S("n"), ""},
		{"if null then 1 else 2", I(2), ""},
		{"if event.n then 1 else 2", N, "'if' condition: expected Bool, got Int"},
		{"if 'x' then 1 else 2", N, "'if' condition: expected Bool, got String"},
		{"if true then 1 else 1 / 0", I(1), ""},
		{"if false then 1 / 0 else 2", I(2), ""},
		{"if event.yes then event.n else 1 / 0", I(5), ""},
	})
}

func TestStringFunctions(t *testing.T) {
	runCases(t, testEnv(), []evalCase{
		{"str::to_lowercase(event.s)", S("héllo, world"), ""},
		{"str::to_lowercase('ÀÉÎ İ')", S("àéî i"), ""}, // simple mapping: İ → i, not i + U+0307
		{"str::to_uppercase('straße')", S("STRAßE"), ""},
		{"str::to_uppercase('ǆ')", S("Ǆ"), ""},
		{"str::to_lowercase(null)", N, ""},
		{"str::to_lowercase(1)", N, "str::to_lowercase: expected String, got Int"},
		{"str::to_uppercase(true)", N, "str::to_uppercase: expected String, got Bool"},
		{"str::trim(' \t pad me \n')", S("pad me"), ""},
		{"str::trim('\u00a0\u2003x\u3000')", S("x"), ""},
		{"str::trim('')", S(""), ""},
		{"str::trim(event.n)", N, "str::trim: expected String, got Int"},
		{"str::trim(null)", N, ""},
		{"str::substring(event.s, 1, 4)", S("éllo"), ""},
		{"str::substring(event.s, -5, 3)", S("Wor"), ""},
		{"str::substring(event.s, 20, 2)", S(""), ""},
		{"str::substring(event.s, 12, 2)", S(""), ""},
		{"str::substring(event.s, 7, 100)", S("World"), ""},
		{"str::substring(event.s, 0, 0)", S(""), ""},
		{"str::substring(event.s, -100, 2)", S("Hé"), ""},
		{"str::substring(event.s, 0, -1)", N, "str::substring: length must not be negative"},
		{"str::substring(event.s, 0.5, 1)", N, "str::substring: expected Int, got Float"},
		{"str::substring(event.s, 0, '1')", N, "str::substring: expected Int, got String"},
		{"str::substring(1, 0, 1)", N, "str::substring: expected String, got Int"},
		{"str::substring(event.s, null, -1)", N, ""},
		{"str::substring(null, 0, 1)", N, ""},
		{"starts_with(event.s, 'Hé')", B(true), ""},
		{"starts_with(event.s, '')", B(true), ""},
		{"starts_with(event.s, 'World')", B(false), ""},
		{"ends_with(event.s, 'World')", B(true), ""},
		{"ends_with(event.s, null)", N, ""},
		{"ends_with(event.s, 1)", N, "ends_with: expected String, got Int"},
		{"contains(event.s, '')", B(true), ""},
		{"contains('', '')", B(true), ""},
		{"contains(event.s, 'lo, W')", B(true), ""},
		{"contains(event.s, 'x')", B(false), ""},
		{"contains(event.s, null)", N, ""},
		{"contains(event.s, 1)", N, "contains: expected String, got Int"},
		{"contains(event.items, 'b')", B(true), ""},
		{"contains(event.items, null)", B(true), ""},
		{"contains(event.items, 2.0)", B(true), ""},
		{"contains(event.items, 'z')", B(false), ""},
		{"contains(split('a,b', ','), null)", B(false), ""},
		{"contains(null, 'a')", N, ""},
		{"contains(null, null)", N, ""},
		{"contains(5, 'a')", N, "contains: expected String or Array, got Int"},
		{"contains(event.obj, 'k')", N, "contains: expected String or Array, got Object"},
		{"replace('a-b-c', '-', '+')", S("a+b+c"), ""},
		{"replace('aaa', 'aa', 'b')", S("ba"), ""},
		{"replace('abc', '', 'x')", S("abc"), ""},
		{"replace('abc', 'z', 'x')", S("abc"), ""},
		{"replace('héhé', 'é', '')", S("hh"), ""},
		{"replace('abc', 'b', null)", N, ""},
		{"replace('abc', 'b', 1)", N, "replace: expected String, got Int"},
		{"regex_match('order-123', '[0-9]+')", B(true), ""},
		{"regex_match('order-123', '^[0-9]+$')", B(false), ""},
		{"regex_match('order-123', event.pat)", B(true), ""},
		{"regex_match('abc', event.bad)", N, "regex_match: invalid pattern"},
		{"regex_match('abc', null)", N, ""},
		{"regex_match('abc', 1)", N, "regex_match: expected String, got Int"},
		{"regex_match(1, 'a')", N, "regex_match: expected String, got Int"},
		{"regex_extract('order-123', '[0-9]+')", S("123"), ""},
		{"regex_extract('id=42;x', 'id=([0-9]+)')", S("42"), ""},
		{"regex_extract('abc', '[0-9]+')", N, ""},
		{"regex_extract('ab', 'a(x)?b')", N, ""},
		{"regex_extract('axb', 'a(x)?b')", S("x"), ""},
		{"regex_extract('k=v', '(k)=(v)')", S("k"), ""},
		{"regex_extract('k=v', '(?:k)=v')", S("k=v"), ""},
		{"regex_extract('ünï', '.n.')", S("ünï"), ""},
		{"regex_extract('x', event.bad)", N, "regex_extract: invalid pattern"},
		{"to_string(3.0)", S("3"), ""},
		{"to_string(0.1)", S("0.1"), ""},
		{"to_string(1e21)", S("1e+21"), ""},
		{"to_string(123456789.0)", S("123456789"), ""},
		{"to_string(1e-7)", S("1e-7"), ""},
		{"to_string(0.000001)", S("0.000001"), ""},
		{"to_string(-12)", S("-12"), ""},
		{"to_string(true)", S("true"), ""},
		{"to_string('s')", S("s"), ""},
		{"to_string(null)", N, ""},
		{"to_string(event.t)", S("2024-01-15T10:30:45.123456+00:00"), ""},
		{"to_string(1h + 30m)", S("5400s"), ""},
		{"to_string(500000 * 1s / 1000000)", S("0.5s"), ""},
		{"to_string(-1s / 1000000)", S("-0.000001s"), ""},
		{"to_string(2 ** -1)", S("0.5"), ""},
		{"to_string(event.items)", S(`["a","b",null,2]`), ""},
		{"to_string(event.obj)", S(`{"k":"v","n":{"deep":1}}`), ""},
		{"len(event.s)", I(12), ""},
		{"len('')", I(0), ""},
		{"len(event.items)", I(4), ""},
		{"len(event.obj)", I(2), ""},
		{"len(null)", N, ""},
		{"len(5)", N, "len: expected String, Array or Object, got Int"},
	})
}

func TestMathFunctions(t *testing.T) {
	runCases(t, testEnv(), []evalCase{
		{"math::abs(-5)", I(5), ""},
		{"math::abs(5)", I(5), ""},
		{"math::abs(-2.5)", F(2.5), ""},
		{"math::abs(event.small)", N, "math::abs: integer overflow"},
		{"math::abs(null)", N, ""},
		{"math::abs('1')", N, "math::abs: expected Int or Float, got String"},
		{"floor(2.7)", I(2), ""},
		{"floor(-2.1)", I(-3), ""},
		{"floor(7)", I(7), ""},
		{"ceil(2.1)", I(3), ""},
		{"ceil(-2.7)", I(-2), ""},
		{"round(2.5)", I(3), ""},
		{"round(-2.5)", I(-3), ""},
		{"round(2.4999)", I(2), ""},
		{"round(0.49999999999999994)", I(0), ""},
		{"round(-0.4)", I(0), ""},
		{"round(3)", I(3), ""},
		{"floor(1e300)", N, "floor: result 1e+300 is out of the Int range"},
		{"ceil(-1e19)", N, "ceil: result -10000000000000000000 is out of the Int range"},
		{"round(9.3e18)", N, "out of the Int range"},
		{"floor(-9223372036854775808.0)", I(math.MinInt64), ""},
		{"floor(null)", N, ""},
		{"floor('2')", N, "floor: expected Int or Float, got String"},
		{"min(3, 2.5)", F(2.5), ""},
		{"max(2, 7)", I(7), ""},
		{"min(2, 7)", I(2), ""},
		{"max(2, 2.0)", F(2), ""},
		{"max(-1.5, -2)", F(-1.5), ""},
		{"min(event.big, 9.3e18)", F(9223372036854775807), ""},
		{"min(1, null)", N, ""},
		{"min('a', 1)", N, "min: expected Int or Float, got String"},
		{"max(1, 1h)", N, "max: expected Int or Float, got Duration"},
	})
}

func TestDateFunctions(t *testing.T) {
	env := testEnv()
	runCases(t, env, []evalCase{
		{"now()", DT("2024-02-01T00:00:00Z"), ""},
		{"to_string(now())", S("2024-02-01T00:00:00+00:00"), ""},
		{"year_of(event.t)", I(2024), ""},
		{"month_of(event.t)", I(1), ""},
		{"day_of(event.t)", I(15), ""},
		{"hour_of(event.t)", I(10), ""},
		{"minute_of(event.t)", I(30), ""},
		{"day_of_week(event.t)", I(0), ""}, // a Monday
		{"day_of_week(parse_datetime('2024-05-19', '%Y-%m-%d'))", I(6), ""},
		{"year_of(null)", N, ""},
		{"year_of('2024')", N, "year_of: expected DateTime, got String"},
		{"day_of_week(1)", N, "day_of_week: expected DateTime, got Int"},
		{"days_between(event.t, event.t + 3d + 5h)", I(3), ""},
		{"days_between(event.t + 3d + 5h, event.t)", I(3), ""},
		{"days_between(event.t, event.t + 23h)", I(0), ""},
		{"hours_between(event.t, event.t - 3d - 5h - 59m)", I(77), ""},
		{"minutes_between(event.t, event.t + 90s)", I(1), ""},
		{"days_between(event.t, null)", N, ""},
		{"days_between(event.t, 1)", N, "days_between: expected DateTime, got Int"},
		{"days_since(event.t)", I(16), ""},
		{"days_since(now() + 1d)", I(-1), ""},
		{"days_since(now() + 36h)", I(-1), ""},
		{"days_since(now() - 47h)", I(1), ""},
		{"days_since(null)", N, ""},
		{"days_since(1h)", N, "days_since: expected DateTime, got Duration"},
		{"date_trunc(event.t, 'year')", DT("2024-01-01T00:00:00Z"), ""},
		{"date_trunc(event.t, 'month')", DT("2024-01-01T00:00:00Z"), ""},
		{"date_trunc(event.t, 'day')", DT("2024-01-15T00:00:00Z"), ""},
		{"date_trunc(event.t, 'hour')", DT("2024-01-15T10:00:00Z"), ""},
		{"date_trunc(event.t, 'minute')", DT("2024-01-15T10:30:00Z"), ""},
		{"date_trunc(event.t, event.plan)", N, `date_trunc: unit "pro" is not one of year, month, day, hour, minute`},
		{"date_trunc(event.t, null)", N, ""},
		{"date_trunc(event.t, 1)", N, "date_trunc: expected String, got Int"},
		{"date_trunc('x', 'day')", N, "date_trunc: expected DateTime, got String"},
		{"to_string(date_trunc(parse_datetime('2024-05-17 13:45', '%Y-%m-%d %H:%M'), 'day') + 36h)", S("2024-05-18T12:00:00+00:00"), ""},
	})
	// Eval reads Env.Now, whatever clock the caller chose.
	env.Now = ts("2024-01-20T12:00:00Z")
	runCases(t, env, []evalCase{{"days_since(event.t)", I(5), ""}, {"now()", DT("2024-01-20T12:00:00Z"), ""}})
}

func TestParseDatetime(t *testing.T) {
	runCases(t, testEnv(), []evalCase{
		{"parse_datetime('2024-05-17', '%Y-%m-%d')", DT("2024-05-17T00:00:00Z"), ""},
		{"parse_datetime('2024-5-7', '%Y-%m-%d')", DT("2024-05-07T00:00:00Z"), ""},
		{"parse_datetime('20240517134530', '%Y%m%d%H%M%S')", DT("2024-05-17T13:45:30Z"), ""},
		{"parse_datetime('2024-05-17T13:45:30.5+02:00', '%Y-%m-%dT%H:%M:%S.%f%z')", DT("2024-05-17T11:45:30.5Z"), ""},
		{"parse_datetime('2024-05-17T13:45:30Z', '%Y-%m-%dT%H:%M:%S%z')", DT("2024-05-17T13:45:30Z"), ""},
		{"parse_datetime('2024-05-17 13:45 -0530', '%Y-%m-%d %H:%M %z')", DT("2024-05-17T19:15:00Z"), ""},
		{"parse_datetime('2024-05-17 13:45:30.123456789', '%Y-%m-%d %H:%M:%S.%f')", DT("2024-05-17T13:45:30.123456Z"), ""},
		{"parse_datetime('2024-05-17 13:45:30.000001', '%Y-%m-%d %H:%M:%S.%f')", DT("2024-05-17T13:45:30.000001Z"), ""},
		{"parse_datetime('17 May 2024', '%d %b %Y')", DT("2024-05-17T00:00:00Z"), ""},
		{"parse_datetime('17 sep 2024', '%d %b %Y')", DT("2024-09-17T00:00:00Z"), ""},
		{"parse_datetime('17 September 2024', '%d %B %Y')", DT("2024-09-17T00:00:00Z"), ""},
		{"parse_datetime('Fri, 17 May 2024', '%a, %d %b %Y')", DT("2024-05-17T00:00:00Z"), ""},
		{"parse_datetime('Friday 17.05.2024', '%A %d.%m.%Y')", DT("2024-05-17T00:00:00Z"), ""},
		{"parse_datetime('2024-01-01 01:30 PM', '%Y-%m-%d %I:%M %p')", DT("2024-01-01T13:30:00Z"), ""},
		{"parse_datetime('2024-01-01 12:15 am', '%Y-%m-%d %I:%M %p')", DT("2024-01-01T00:15:00Z"), ""},
		{"parse_datetime('2024-01-01 12:15 PM', '%Y-%m-%d %I:%M %p')", DT("2024-01-01T12:15:00Z"), ""},
		{"parse_datetime('2024-060', '%Y-%j')", DT("2024-02-29T00:00:00Z"), ""},
		{"parse_datetime('2023-365', '%Y-%j')", DT("2023-12-31T00:00:00Z"), ""},
		{"parse_datetime('24-01-02', '%y-%m-%d')", DT("2024-01-02T00:00:00Z"), ""},
		{"parse_datetime('69-01-02', '%y-%m-%d')", DT("1969-01-02T00:00:00Z"), ""},
		{"parse_datetime('100% 2024', '100%% %Y')", DT("2024-01-01T00:00:00Z"), ""},
		{"parse_datetime('13:45', '%H:%M')", DT("1900-01-01T13:45:00Z"), ""},
		{"parse_datetime(null, '%Y')", N, ""},
		{"parse_datetime('2024', null)", N, ""},
		{"parse_datetime('2024-05-17x', '%Y-%m-%d')", N, "unexpected trailing text"},
		{"parse_datetime('2024/05/17', '%Y-%m-%d')", N, "does not match the format"},
		{"parse_datetime('2024-13-01', '%Y-%m-%d')", N, "month 13 out of range"},
		{"parse_datetime('2023-02-29', '%Y-%m-%d')", N, "day 29 out of range"},
		{"parse_datetime('2024-01-01 24:00', '%Y-%m-%d %H:%M')", N, "out of range"},
		{"parse_datetime('2024-01-01 13:00 PM', '%Y-%m-%d %I:%M %p')", N, "hour 13 out of range"},
		{"parse_datetime('2023-366', '%Y-%j')", N, "day of year 366 out of range"},
		{"parse_datetime('2024-02-01 060', '%Y-%m-%d %j')", N, "contradicts"},
		{"parse_datetime('0000-01-01', '%Y-%m-%d')", N, "year 0 out of range"},
		{"parse_datetime('0001-01-01 00:00+01:00', '%Y-%m-%d %H:%M%z')", N, "out of the DateTime range"},
		{"parse_datetime('2024-01-01 00:00+25:00', '%Y-%m-%d %H:%M%z')", N, "UTC offset"},
		{"parse_datetime('2024', '%Q')", N, `parse_datetime: unsupported directive "%Q"`},
		{"parse_datetime('2024', '%')", N, "lone '%'"},
		{"parse_datetime('2024', event.plan)", N, `does not match the format: expected "pro" at character 1`},
		{"parse_datetime(2024, '%Y')", N, "parse_datetime: expected String, got Int"},
		{"parse_datetime('Mai 2024', '%b %Y')", N, "expected a month name"},
	})
}

func TestArrayAndConversionFunctions(t *testing.T) {
	runCases(t, testEnv(), []evalCase{
		{"split(event.csv, ',')", A(S("a"), S(""), S("b")), ""},
		{"split('abc', '')", A(S("a"), S("b"), S("c")), ""},
		{"split('hé', '')", A(S("h"), S("é")), ""},
		{"split('', ',')", A(S("")), ""},
		{"split('', '')", A(S("")), ""},
		{"split('abc', ',')", A(S("abc")), ""},
		{"split('a::b', '::')", A(S("a"), S("b")), ""},
		{"split(null, ',')", N, ""},
		{"split('a', 1)", N, "split: expected String, got Int"},
		{"len(split(event.csv, ','))", I(3), ""},
		{"split(event.csv, ',')[5]", N, ""},
		{"join(split('abc', ''), '.')", S("a.b.c"), ""},
		{"join(event.items, '-')", S("a-b--2"), ""},
		{"join(split('a', ','), '-')", S("a"), ""},
		{"join(event.obj.n.nope, '-')", N, ""},
		{"join(event.items, null)", N, ""},
		{"join('abc', '-')", N, "join: expected Array, got String"},
		{"join(event.items, 0)", N, "join: expected String, got Int"},
		{"to_int('42')", I(42), ""},
		{"to_int('+42')", I(42), ""},
		{"to_int('-0')", I(0), ""},
		{"to_int('1.5')", N, `to_int: cannot convert "1.5" to Int`},
		{"to_int(' 5')", N, "cannot convert"},
		{"to_int('')", N, "cannot convert"},
		{"to_int('9223372036854775808')", N, "out of the Int range"},
		{"to_int(-3.7)", I(-3), ""},
		{"to_int(3.99)", I(3), ""},
		{"to_int(1e19)", N, "out of the Int range"},
		{"to_int(true)", I(1), ""},
		{"to_int(false)", I(0), ""},
		{"to_int(7)", I(7), ""},
		{"to_int(null)", N, ""},
		{"to_int(now())", N, "to_int: expected Int, Float, Bool or String, got DateTime"},
		{"to_float('1e3')", F(1000), ""},
		{"to_float('.5')", F(0.5), ""},
		{"to_float('5.')", F(5), ""},
		{"to_float('-2.5E-3')", F(-0.0025), ""},
		{"to_float('+1')", F(1), ""},
		{"to_float(3)", F(3), ""},
		{"to_float(2.5)", F(2.5), ""},
		{"to_float('inf')", N, `to_float: cannot convert "inf" to Float`},
		{"to_float('nan')", N, "cannot convert"},
		{"to_float('Infinity')", N, "cannot convert"},
		{"to_float('0x10')", N, "cannot convert"},
		{"to_float('1_000')", N, "cannot convert"},
		{"to_float('.')", N, "cannot convert"},
		{"to_float('1e')", N, "cannot convert"},
		{"to_float('1e999')", N, "out of the Float range"},
		{"to_float(true)", N, "to_float: expected Int, Float or String, got Bool"},
		{"to_float(null)", N, ""},
		{"coalesce(event.missing, event.n, 0)", I(5), ""},
		{"coalesce(event.n, 1 / 0)", I(5), ""},
		{"coalesce(event.missing, 1 / 0)", N, "division by zero"},
		{"coalesce(null)", N, ""},
		{"coalesce(null, null, 3)", I(3), ""},
		{"coalesce(event.missing)", N, ""},
		{"coalesce(event.missing, event.nope)", N, ""},
		{"coalesce(event.nick, split(event.email, '@')[0])", S("bo"), ""},
	})
}

// The expressions of conformance scenarios 060, 061 and 062, with the
// values their expectations require.
func TestConformance060(t *testing.T) {
	env := &Env{
		Event: MapScope{
			"key": S("P-1"), "s": S("Héllo, World"), "items": A(S("a"), S("b"), N, I(2)),
			"csv": S("a,,b"), "obj": O("k", S("v"), "n", O("deep", I(1))),
			"timestamp": DT("2024-01-15T10:00:00Z"),
		},
		Entity: MapScope{},
		Now:    ts("2024-01-15T10:00:00Z"), // during interpretation now() is the event time
	}
	runCases(t, env, []evalCase{
		{"str::to_lowercase(event.s)", S("héllo, world"), ""},
		{"str::to_uppercase('straße')", S("STRAßE"), ""},
		{"str::trim(' \t pad me \n')", S("pad me"), ""},
		{"str::substring(event.s, 1, 4)", S("éllo"), ""},
		{"str::substring(event.s, -5, 3)", S("Wor"), ""},
		{"str::substring(event.s, 20, 2)", S(""), ""},
		{"str::substring(event.s, 7, 100)", S("World"), ""},
		{"starts_with(event.s, 'Hé')", B(true), ""},
		{"ends_with(event.s, 'World')", B(true), ""},
		{"contains(event.s, '')", B(true), ""},
		{"contains(event.items, 'b')", B(true), ""},
		{"contains(event.items, null)", B(true), ""},
		{"contains(event.items, 2.0)", B(true), ""},
		{"replace('a-b-c', '-', '+')", S("a+b+c"), ""},
		{"replace('aaa', 'aa', 'b')", S("ba"), ""},
		{"replace('abc', '', 'x')", S("abc"), ""},
		{"regex_match('order-123', '[0-9]+')", B(true), ""},
		{"regex_match('order-123', '^[0-9]+$')", B(false), ""},
		{"regex_extract('order-123', '[0-9]+')", S("123"), ""},
		{"regex_extract('id=42;x', 'id=([0-9]+)')", S("42"), ""},
		{"regex_extract('abc', '[0-9]+')", N, ""},
		{"len(event.s)", I(12), ""},
		{"len(event.items)", I(4), ""},
		{"len(event.obj)", I(2), ""},
		{"len(split(event.csv, ','))", I(3), ""},
		{"split(event.csv, ',')[1]", S(""), ""},
		{"split(event.csv, ',')[-1]", S("b"), ""},
		{"split(event.csv, ',')[5]", N, ""},
		{"join(split('abc', ''), '.')", S("a.b.c"), ""},
		{"join(event.items, '-')", S("a-b--2"), ""},
		{"event.s[0]", S("H"), ""},
		{"event.s[-1]", S("d"), ""},
		{"event.obj['k']", S("v"), ""},
		{"event.obj.n.deep", I(1), ""},
		{"event.items.1", S("b"), ""},
		{"event.obj.k.z", N, ""},
		{"event.s + '!'", S("Héllo, World!"), ""},
		{"to_string(now())", S("2024-01-15T10:00:00+00:00"), ""},
	})
}

func TestConformance061(t *testing.T) {
	env := &Env{Event: MapScope{"key": S("P-1"), "n": I(5), "missing": N}, Entity: MapScope{}, Now: ts("2024-01-15T10:00:00Z")}
	runCases(t, env, []evalCase{
		{"7 / 2", I(3), ""},
		{"-7 / 2", I(-3), ""},
		{"7 / 2.0", F(3.5), ""},
		{"2 ** 10", I(1024), ""},
		{"2 ** -1", F(0.5), ""},
		{"-2 ** 2", I(-4), ""},
		{"2 ** 3 ** 2", I(512), ""},
		{"1 + 2 * 3", I(7), ""},
		{"math::abs(-5)", I(5), ""},
		{"floor(2.7)", I(2), ""},
		{"ceil(2.1)", I(3), ""},
		{"round(2.5)", I(3), ""},
		{"round(-2.5)", I(-3), ""},
		{"min(3, 2.5)", F(2.5), ""},
		{"max(2, 7)", I(7), ""},
		{"to_int('42')", I(42), ""},
		{"to_int(-3.7)", I(-3), ""},
		{"to_int(true)", I(1), ""},
		{"to_float('1e3')", F(1000), ""},
		{"to_float('.5')", F(0.5), ""},
		{"to_string(3.0)", S("3"), ""},
		{"to_string(0.1)", S("0.1"), ""},
		{"to_string(1e21)", S("1e+21"), ""},
		{"to_string(123456789.0)", S("123456789"), ""},
		{"to_string(true)", S("true"), ""},
		{"to_string(-12)", S("-12"), ""},
		{"coalesce(event.missing, event.n, 0)", I(5), ""},
		{"coalesce(event.n, 1 / 0)", I(5), ""},
		{"event.missing + 1", N, ""},
		{"null == null", B(true), ""},
		{"'1' != 1", B(true), ""},
		{"1 == 1.0", B(true), ""},
		{"not event.missing", B(true), ""},
		{"not event.n == 4", B(true), ""},
		{"event.missing != null and event.missing > 5", B(false), ""},
		{"false and 1 / 0 > 0", B(false), ""},
		{"true or 1 / 0 > 0", B(true), ""},
		{"!false && !(1 > 2)", B(true), ""},
		{"if event.missing then 'y' else 'n'", S("n"), ""},
		{"if event.n > 10 then 'big' else if event.n > 3 then 'mid' else 'small'", S("mid"), ""},
		{"event.missing > 1", N, ""},
	})
}

func TestConformance062(t *testing.T) {
	clock := ts("2024-02-01T00:00:00Z")
	fromJSON := func(s string) Scope {
		v, err := value.FromJSON([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return ObjectScope(v)
	}
	cases := []struct {
		env *Env
		evalCase
	}{
		{&Env{Now: clock}, evalCase{"1 + 2 * 3", I(7), ""}},
		{&Env{Now: clock, Event: fromJSON(`{"name":"ann"}`)}, evalCase{"str::to_uppercase(event.name) + '!'", S("ANN!"), ""}},
		{&Env{Now: clock, Event: fromJSON(`{"amount":20}`), Entity: fromJSON(`{"plan":"pro"}`)},
			evalCase{"entity.plan == 'pro' and event.amount > 10", B(true), ""}},
		{&Env{Now: clock, Event: fromJSON(`{"email":"bo@x.io"}`)}, evalCase{"coalesce(event.nick, split(event.email, '@')[0])", S("bo"), ""}},
		{&Env{Now: clock}, evalCase{"to_string(2 ** -1)", S("0.5"), ""}},
		{&Env{Now: clock}, evalCase{"to_string(1h + 30m)", S("5400s"), ""}},
		{&Env{Now: clock}, evalCase{"to_string(date_trunc(parse_datetime('2024-05-17 13:45', '%Y-%m-%d %H:%M'), 'day') + 36h)", S("2024-05-18T12:00:00+00:00"), ""}},
		{&Env{Now: clock}, evalCase{"day_of_week(parse_datetime('2024-05-19', '%Y-%m-%d'))", I(6), ""}},
		{&Env{Now: clock, Value: S(" Alice@Example.COM "), HasValue: true}, evalCase{"str::to_lowercase(str::trim(value))", S("alice@example.com"), ""}},
		{&Env{Now: clock}, evalCase{"to_string(now())", S("2024-02-01T00:00:00+00:00"), ""}},
		{&Env{Now: clock, Event: fromJSON(`{"email":"bo@x.io"}`)}, evalCase{"event.timestamp", N, ""}},
		{&Env{Now: clock, Event: fromJSON(`{"x":3.0}`)}, evalCase{"event.x / 2", I(1), ""}},
		{&Env{Now: clock, Event: fromJSON(`{"x":3.5}`)}, evalCase{"event.x / 2", F(1.75), ""}},
		{&Env{Now: clock}, evalCase{"1 / 0", N, "division by zero"}},
		{&Env{Now: clock}, evalCase{"'a' < 1", N, "cannot compare"}},
	}
	for _, c := range cases {
		runCases(t, c.env, []evalCase{c.evalCase})
	}
	for _, src := range []string{"1 < 2 < 3", "nope(1)"} {
		_, err := Parse(src)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want *Error", src, err)
		}
	}
	if _, err := Parse("nope(1)"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown function error %v does not name it", err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		src string
		pos int
		msg string
	}{
		{"", 1, "unexpected end of expression; expected an expression"},
		{"1 +", 4, "unexpected end of expression; expected an expression"},
		{"1 + * 2", 5, `unexpected "*"; expected an expression`},
		{"(1 + 2", 7, `unexpected end of expression; expected ")"`},
		{"1 2", 3, `unexpected "2"; expected an operator or end of expression`},
		{"1 < 2 < 3", 7, `unexpected "<"; comparisons are non-associative`},
		{"1 == 2 != 3", 8, "non-associative"},
		{"a.b", 1, `unknown name "a"`},
		{"event.", 7, `unexpected end of expression; expected a name or index after "."`},
		{"event.'x'", 7, `unexpected "'x'"; expected a name or index after "."`},
		{"event.items.-1", 13, `unexpected "-"`},
		{"nope(1)", 1, `unknown function "nope"; did you mean "now"?`},
		{"trim(event.s)", 1, `did you mean "str::trim"?`},
		{"str::lower(event.s)", 1, `unknown function "str::lower"`},
		{"str::to_lowercas(event.s)", 1, `did you mean "str::to_lowercase"?`},
		{"xyzzyplugh(1)", 1, `unknown function "xyzzyplugh"`},
		{"str::trim()", 1, "str::trim expects 1 argument, got 0"},
		{"str::trim(1, 2)", 1, "str::trim expects 1 argument, got 2"},
		{"str::substring('a', 1)", 1, "str::substring expects 3 arguments, got 2"},
		{"now(1)", 1, "now expects 0 arguments, got 1"},
		{"coalesce()", 1, "coalesce expects at least 1 argument, got 0"},
		{"1 + min(1)", 5, "min expects 2 arguments, got 1"},
		{"regex_match('a', '(')", 18, "regex_match: invalid pattern"},
		{"regex_extract('a', '[' + 'a')", 20, "regex_extract: invalid pattern"},
		{"date_trunc(now(), 'week')", 19, `date_trunc: unit "week" is not one of`},
		{"9223372036854775808", 1, "integer literal 9223372036854775808 is out of range"},
		{"-9223372036854775808", 2, "out of range"},
		{"1e999", 1, "float literal 1e999 is out of range"},
		{"99999999999999999999d", 1, "duration literal 99999999999999999999d is out of range"},
		{"106751992d", 1, "duration literal 106751992d is out of range"},
		{"'abc", 1, "unterminated string"},
		{"'ab\\", 1, "unterminated string"},
		{`'a\qb'`, 3, `invalid escape "\q"`},
		{`'\u12'`, 2, `invalid \u escape`},
		{`'\ud800'`, 2, "unpaired surrogate"},
		{`'\udc00'`, 2, "unpaired surrogate"},
		{"1 = 1", 3, `unexpected "="; did you mean "=="?`},
		{"a & b", 3, `did you mean "&&"?`},
		{"true | false", 6, `did you mean "||"?`},
		{"str:trim(1)", 4, `did you mean "::"?`},
		{"é + 1", 1, `unexpected character 'é'`},
		{"1 + é", 5, `unexpected character 'é'`},
		{"'é' + é", 7, `unexpected character 'é'`},
		{"if true then 1", 15, `unexpected end of expression; expected "else"`},
		{"if true 1 else 2", 9, `expected "then"`},
		{"f(,)", 3, `unexpected ","; expected an expression`},
		{"f(1)", 1, `unknown function "f"`},
		{"len(,)", 5, `unexpected ","; expected an expression`},
		{"len(1,,)", 7, `unexpected ","`},
		{"len(1 2)", 7, `unexpected "2"; expected "," or ")"`},
		{"event.items[0", 14, `expected "]"`},
		{"str::(1)", 6, `expected a function name after "::"`},
		{"1.", 2, `unexpected "."`},
		{"1 + 2 )", 7, `unexpected ")"`},
		{"1..2", 2, `unexpected "."`},
		{"event.2d", 8, `unexpected "d"`},
		{"not", 4, "unexpected end of expression"},
		{"1 + not true", 5, `unexpected "not"; expected an expression`},
		{"true and", 9, "unexpected end of expression"},
		{"1 + 'a\xffb'", 7, "invalid UTF-8"},
		{"[1]", 1, `unexpected "["`},
		{"then", 1, `unexpected "then"`},
		{"30days", 4, `unexpected "ays"`},
		{"1.5h", 4, `unexpected "h"`},
		{"2 ** ", 6, "unexpected end of expression"},
		{"event.a.b.c +", 14, "unexpected end"},
		{"'this is a rather long string literal that goes on' ++", 54, `unexpected "+"`},
		{"x == 'this is a very long string literal that goes on and on'", 1, `unknown name "x"`},
		{"1 + 'this is a very long string literal that goes on and on' 2", 62, `unexpected "2"`},
		{"1 'this is a very long string literal that goes on and on'", 3, `unexpected "'this is a very long string literal t..."`},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want *Error", c.src, err)
			continue
		}
		if pe.Pos != c.pos || !strings.Contains(pe.Msg, c.msg) || pe.Src != c.src {
			t.Errorf("Parse(%q) = position %d: %s; want position %d: ...%s...", c.src, pe.Pos, pe.Msg, c.pos, c.msg)
		}
		if !strings.HasPrefix(err.Error(), "position ") {
			t.Errorf("Error() = %q", err.Error())
		}
	}
}

func TestDeepNesting(t *testing.T) {
	for _, src := range []string{
		strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000),
		strings.Repeat("-", 100000) + "1",
		strings.Repeat("not ", 100000) + "true",
		strings.Repeat("1 + ", 100000) + "1",
		strings.Repeat("2 ** ", 100000) + "1",
		strings.Repeat("len(", 100000) + "'a'" + strings.Repeat(")", 100000),
		strings.Repeat("if true then 1 else ", 100000) + "1",
		"event.a" + strings.Repeat("[0]", 100000),
	} {
		_, err := Parse(src)
		if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
			t.Errorf("Parse(%.20q...) = %v, want nesting error", src, err)
		}
	}
	// The limit is 500 levels.
	if _, err := Parse(strings.Repeat("(", 499) + "1" + strings.Repeat(")", 499)); err != nil {
		t.Errorf("499 levels: %v", err)
	}
	if _, err := Parse(strings.Repeat("(", 501) + "1" + strings.Repeat(")", 501)); err == nil {
		t.Error("501 levels accepted")
	}
	// Reasonable nesting is fine.
	src := strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200) + strings.Repeat(" + 1", 200)
	if v, err := MustParse(src).Eval(nil); err != nil || v.AsInt() != 201 {
		t.Errorf("moderate nesting = %v, %v", v, err)
	}
}

func TestProgramMetadata(t *testing.T) {
	p := MustParse("event.items.0.id != entity.plan and str::trim(value) == 'x' or event.if.then > 1 and entity")
	want := []Ref{
		{RootEvent, []string{"items", "0", "id"}, 1},
		{RootEntity, []string{"plan"}, 21},
		{RootValue, nil, 47},
		{RootEvent, []string{"if", "then"}, 64},
		{RootEntity, nil, 86},
	}
	got := p.Refs()
	if len(got) != len(want) {
		t.Fatalf("Refs = %+v", got)
	}
	for i := range want {
		if got[i].Root != want[i].Root || got[i].Pos != want[i].Pos || strings.Join(got[i].Path, ".") != strings.Join(want[i].Path, ".") {
			t.Errorf("Refs[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if ev, en, va := p.Roots(); !ev || !en || !va {
		t.Errorf("Roots = %v %v %v", ev, en, va)
	}
	if p.IsConstant() || p.Source() == "" || p.String() != p.Source() {
		t.Error("metadata")
	}
	for src, want := range map[string]bool{
		"1 + 2":                 true,
		"'a' + str::trim(' b')": true,
		"now()":                 false,
		"days_since(now())":     false,
		"event.x":               false,
		"false and event.x":     false, // roots are syntactic
		"1 / 0":                 true,
	} {
		if got := MustParse(src).IsConstant(); got != want {
			t.Errorf("IsConstant(%q) = %v", src, got)
		}
	}
	if ev, en, va := MustParse("str::trim(value)").Roots(); ev || en || !va {
		t.Errorf("Roots(value) = %v %v %v", ev, en, va)
	}
	if r := MustParse("1 + 1").Refs(); len(r) != 0 {
		t.Errorf("Refs = %v", r)
	}
	// Positions count code points, not bytes.
	if r := MustParse("'éé' + event.x").Refs(); r[0].Pos != 8 {
		t.Errorf("code-point position = %d", r[0].Pos)
	}
}

func TestEvalBool(t *testing.T) {
	env := testEnv()
	cases := []struct {
		src  string
		want bool
		err  string
	}{
		{"event.plan != entity.plan and entity.mrr > 0", true, ""},
		{"event.missing", false, ""},
		{"event.missing > 1", false, ""},
		{"event.n > 1", true, ""},
		{"event.n", false, "condition must be Bool, got Int"},
		{"event.s", false, "condition must be Bool, got String"},
		{"1 / 0 > 1", false, "division by zero"},
	}
	for _, c := range cases {
		got, err := MustParse(c.src).EvalBool(env)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("EvalBool(%q) = %v, %v; want error %q", c.src, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("EvalBool(%q) = %v, %v", c.src, got, err)
		}
	}
	if b, err := MustParse("true").EvalBool(nil); !b || err != nil {
		t.Error("EvalBool(nil env)")
	}
}

func TestEvalErrorFormat(t *testing.T) {
	_, err := MustParse("str::trim(event.n)").Eval(testEnv())
	var ee *EvalError
	if !errors.As(err, &ee) {
		t.Fatalf("error %T", err)
	}
	if ee.Msg != "str::trim: expected String, got Int" || ee.Pos != 1 || ee.Src != "str::trim(event.n)" {
		t.Errorf("EvalError = %+v", ee)
	}
	if got := ee.Error(); got != `str::trim: expected String, got Int (at position 1 in "str::trim(event.n)")` {
		t.Errorf("Error() = %s", got)
	}
	_, err = MustParse("'é' + 1 / 0").Eval(nil)
	if !errors.As(err, &ee) || ee.Pos != 9 || ee.Msg != "division by zero" {
		t.Errorf("EvalError = %+v", err)
	}
}

// Constant folding must not move runtime errors to parse time.
func TestFoldingKeepsRuntimeErrors(t *testing.T) {
	for _, src := range []string{"1 / 0", "'a' + 1", "to_int('x')", "parse_datetime('x', '%Q')", "if 1 then 2 else 3", "1 and true"} {
		p, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if _, err := p.Eval(nil); err == nil {
			t.Errorf("Eval(%q) succeeded", src)
		}
	}
}

func TestDynamicRegexCache(t *testing.T) {
	p := MustParse("regex_match(event.s, event.p)")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				pat := "^x" + strings.Repeat("y", (g*200+i)%100)
				env := &Env{Event: MapScope{"s": S("xyy"), "p": S(pat)}}
				v, err := p.Eval(env)
				want := (g*200+i)%100 <= 2
				if err != nil || v.AsBool() != want {
					t.Errorf("regex %q: %v, %v", pat, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	p.regexes.mu.Lock()
	n := len(p.regexes.m)
	p.regexes.mu.Unlock()
	if n > regexCacheSize {
		t.Errorf("cache grew to %d", n)
	}
}

func TestConcurrentEval(t *testing.T) {
	p := MustParse("event.plan != entity.plan and entity.mrr > 0")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := testEnv()
			for range 1000 {
				if ok, err := p.EvalBool(env); !ok || err != nil {
					t.Error("concurrent eval")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestZeroAllocs(t *testing.T) {
	env := testEnv()
	for _, src := range []string{
		"event.plan != entity.plan and entity.mrr > 0",
		"entity.mrr * 12",
		"entity.mrr * 1.5 + event.f",
		"str::trim(value)",
		"str::to_lowercase(event.email)",
		"if event.n > 3 then event.obj.n.deep else 0",
		"coalesce(event.missing, event.n) + 1",
		"event.items[-1] == 2 or contains(event.items, 'b')",
		"event.t + 1d > now()",
		"days_since(event.t)",
		"starts_with(event.s, 'Hé') and len(event.s) > 3",
		"regex_match(event.s, 'W.r')",
	} {
		p := MustParse(src)
		if _, err := p.Eval(env); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = p.Eval(env) }); n != 0 {
			t.Errorf("%s: %v allocs per eval", src, n)
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse did not panic")
		}
	}()
	MustParse("1 +")
}

func TestFunctionCount(t *testing.T) {
	// 36 functions (expressions.md §7); contains and len have two forms each.
	if len(functions) != 36 {
		t.Errorf("%d functions", len(functions))
	}
}

func TestStringSizeCap(t *testing.T) {
	big := "replace('aaaaaaaaaaaaaaaa', 'a', 'aaaaaaaaaaaaaaaa')"
	src := big
	for range 6 {
		src = "replace(" + src + ", 'a', 'aaaaaaaaaaaaaaaa')"
	}
	p, err := Parse(src) // folding must not try to build 16^8 bytes
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Eval(nil); err == nil || !strings.Contains(err.Error(), "longer than 16 MiB") {
		t.Errorf("Eval = %v", err)
	}
	nine := S(strings.Repeat("x", 9<<20))
	env := &Env{Event: MapScope{"s": nine, "a": A(nine, nine)}}
	if _, err := MustParse("event.s + event.s").Eval(env); err == nil || !strings.Contains(err.Error(), "longer than 16 MiB") {
		t.Errorf("concat = %v", err)
	}
	if _, err := MustParse("join(event.a, '')").Eval(env); err == nil || !strings.Contains(err.Error(), "longer than 16 MiB") {
		t.Errorf("join = %v", err)
	}
}
