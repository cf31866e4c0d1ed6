package value

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func obj(kv ...any) Value {
	m := map[string]Value{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(Value)
	}
	return Object(m)
}

func arr(vs ...Value) Value { return Array(vs) }

func TestKindString(t *testing.T) {
	want := []string{"Null", "Bool", "Int", "Float", "String", "DateTime", "Duration", "Array", "Object"}
	for k, w := range want {
		if got := Kind(k).String(); got != w {
			t.Errorf("Kind(%d) = %q, want %q", k, got, w)
		}
	}
}

func TestAccessors(t *testing.T) {
	var zero Value
	if !zero.IsNull() || zero.Kind() != KindNull {
		t.Fatal("zero Value is not Null")
	}
	if v := String("héllo"); v.AsString() != "héllo" || v.Kind() != KindString {
		t.Error("String round trip")
	}
	if v := Int(math.MinInt64); v.AsInt() != math.MinInt64 {
		t.Error("Int round trip")
	}
	if v := Float(-0.5); v.AsFloat() != -0.5 {
		t.Error("Float round trip")
	}
	if !Bool(true).AsBool() || Bool(false).AsBool() || Int(1).AsBool() {
		t.Error("AsBool")
	}
	tm := time.Date(2024, 1, 15, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	if v := Time(tm); v.Micros() != tm.UnixMicro() || !v.AsTime().Equal(tm.Truncate(time.Microsecond)) || v.AsTime().Location() != time.UTC {
		t.Error("Time round trip")
	}
	// Before the epoch, truncation goes toward the past.
	if v := Time(time.Unix(-1, 999_999_999)); v.Micros() != -1 {
		t.Errorf("pre-epoch truncation: %d", v.Micros())
	}
	if a := Array(nil).AsArray(); len(a) != 0 {
		t.Error("empty array")
	}
	if m := Object(nil).AsObject(); len(m) != 0 {
		t.Error("empty object")
	}
	if n, ok := Int(3).Number(); !ok || n != 3 {
		t.Error("Number Int")
	}
	if _, ok := String("3").Number(); ok {
		t.Error("Number String")
	}
}

func TestScalarsDoNotAllocate(t *testing.T) {
	s := "some text"
	n := testing.AllocsPerRun(100, func() {
		vs := [...]Value{Null, Bool(true), Int(3), Float(2.5), String(s), DateTime(1), Duration(2)}
		for _, v := range vs {
			if !Equal(v, v) {
				t.Fatal("not equal to itself")
			}
			_, _ = v.Number()
			_ = v.AsString()
		}
	})
	if n != 0 {
		t.Errorf("allocations: %v", n)
	}
}

func TestEqual(t *testing.T) {
	vals := []Value{
		Null, Bool(true), Bool(false), Int(1), Float(1.0), Float(1.5), String("1"), String("a"),
		DateTime(1), Duration(1), arr(Int(1)), arr(Float(1)), obj("a", Int(1)), obj("a", Float(1)), arr(), obj(),
	}
	// Groups of mutually equal values; everything else is unequal.
	group := []int{0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 9, 10, 10, 11, 12}
	for i, a := range vals {
		for j, b := range vals {
			want := group[i] == group[j]
			if got := Equal(a, b); got != want {
				t.Errorf("Equal(%#v, %#v) = %v, want %v", a, b, got, want)
			}
		}
	}
	cases := []struct {
		a, b Value
		want bool
	}{
		{Int(1 << 53), Float(1 << 53), true},
		{Int(1<<53 + 1), Float(1 << 53), false}, // float64(Int) would round to equal
		{Int(math.MaxInt64), Float(9223372036854775807.0), false},
		{Int(math.MinInt64), Float(-9223372036854775808.0), true},
		{Float(0), Float(math.Copysign(0, -1)), true},
		{Int(0), Float(math.Copysign(0, -1)), true},
		{String("é"), String("é"), true},
		{arr(Int(1), String("x")), arr(Float(1), String("x")), true},
		{arr(Int(1)), arr(Int(1), Int(2)), false},
		{obj("a", Null), obj("b", Null), false},
		{obj("a", obj("b", arr(Int(2)))), obj("a", obj("b", arr(Float(2)))), true},
		{DateTime(5), Duration(5), false},
		{String("1"), Int(1), false},
	}
	for _, c := range cases {
		if got := Equal(c.a, c.b); got != c.want {
			t.Errorf("Equal(%#v, %#v) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := Equal(c.b, c.a); got != c.want {
			t.Errorf("Equal(%#v, %#v) = %v, want %v (swapped)", c.b, c.a, got, c.want)
		}
	}
}

func TestCompare(t *testing.T) {
	cases := []struct {
		a, b Value
		want int
	}{
		{Int(1), Int(2), -1},
		{Int(2), Float(1.5), 1},
		{Float(1.5), Int(2), -1},
		{Int(2), Float(2), 0},
		{Int(1<<53 + 1), Float(1 << 53), 1},
		{Int(-3), Float(-2.5), -1},
		{Int(-2), Float(-2.5), 1},
		{Int(math.MaxInt64), Float(1e19), -1},
		{Int(math.MinInt64), Float(-1e19), 1},
		{Float(-1), Float(1), -1},
		{String("a"), String("b"), -1},
		{String("é"), String("z"), 1}, // code point order
		{String("\uFFFF"), String("😀"), -1},
		{String(""), String(""), 0},
		{DateTime(10), DateTime(5), 1},
		{Duration(-10), Duration(5), -1},
	}
	for _, c := range cases {
		got, err := Compare(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("Compare(%#v, %#v) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
	}
	bad := []struct {
		a, b Value
		msg  string
	}{
		{String("a"), Int(1), "cannot compare String with Int"},
		{Bool(true), Bool(false), "cannot compare Bool with Bool"},
		{DateTime(1), Duration(1), "cannot compare DateTime with Duration"},
		{arr(), arr(), "cannot compare Array with Array"},
		{obj(), Int(1), "cannot compare Object with Int"},
		{Null, Int(1), "cannot compare Null with Int"},
	}
	for _, c := range bad {
		_, err := Compare(c.a, c.b)
		if err == nil || err.Error() != c.msg {
			t.Errorf("Compare(%#v, %#v) error = %v, want %q", c.a, c.b, err, c.msg)
		}
	}
}

func TestFromJSON(t *testing.T) {
	cases := []struct {
		in   string
		want Value
	}{
		{`null`, Null},
		{`true`, Bool(true)},
		{`3`, Int(3)},
		{`3.0`, Int(3)},
		{`3e0`, Int(3)},
		{`30E-1`, Int(3)},
		{`-0`, Int(0)},
		{`-0.0`, Int(0)},
		{`0e99999999999999999999`, Int(0)},
		{`1705312800123456789`, Int(1705312800123456789)},
		{`1705312800123456789.000`, Int(1705312800123456789)},
		{`9223372036854775807`, Int(math.MaxInt64)},
		{`-9223372036854775808`, Int(math.MinInt64)},
		{`9223372036854775808`, Float(9223372036854775808)},
		{`1e19`, Float(1e19)},
		{`12345678901234567.0`, Int(12345678901234567)},
		{`3.5`, Float(3.5)},
		{`1e-400`, Float(0)},
		{`0.1`, Float(0.1)},
		{`"héllo"`, String("héllo")},
		{`[1, 2.5, "x", null]`, arr(Int(1), Float(2.5), String("x"), Null)},
		{` {"a": {"b": [true]}} `, obj("a", obj("b", arr(Bool(true))))},
	}
	for _, c := range cases {
		got, err := FromJSON([]byte(c.in))
		if err != nil {
			t.Errorf("FromJSON(%s): %v", c.in, err)
			continue
		}
		if got.Kind() != c.want.Kind() || !Equal(got, c.want) {
			t.Errorf("FromJSON(%s) = %#v, want %#v", c.in, got, c.want)
		}
	}
	for _, in := range []string{``, `{`, `1 2`, `1e400`, `-1e400`, `01`, `[1,]`, `nul`} {
		if v, err := FromJSON([]byte(in)); err == nil {
			t.Errorf("FromJSON(%q) = %#v, want error", in, v)
		}
	}
}

func TestFromAnyToAny(t *testing.T) {
	var x any
	if err := json.Unmarshal([]byte(`{"a":[1,2.5,"s",null,true],"b":3.0}`), &x); err != nil {
		t.Fatal(err)
	}
	v := FromAny(x)
	want := obj("a", arr(Int(1), Float(2.5), String("s"), Null, Bool(true)), "b", Int(3))
	if !Equal(v, want) || v.AsObject()["b"].Kind() != KindInt {
		t.Errorf("FromAny = %#v", v)
	}
	tm := time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)
	if got := FromAny(tm); got.Kind() != KindDateTime || got.Micros() != tm.UnixMicro() {
		t.Errorf("FromAny(time) = %#v", got)
	}
	if got := FromAny(uint64(math.MaxUint64)); got.Kind() != KindFloat {
		t.Errorf("FromAny(MaxUint64) = %#v", got)
	}
	if got := FromAny(math.NaN()); !got.IsNull() {
		t.Errorf("FromAny(NaN) = %#v", got)
	}
	if got := FromAny(struct{ A int }{7}); !Equal(got, obj("A", Int(7))) {
		t.Errorf("FromAny(struct) = %#v", got)
	}

	full := obj(
		"i", Int(1705312800123456789), "f", Float(2.5), "s", String("x"), "b", Bool(false), "n", Null,
		"t", DateTime(1705312800250000), "d", Duration(5_400_000_000), "h", Duration(500_000),
		"a", arr(Int(1)),
	)
	gotAny := full.ToAny()
	wantAny := map[string]any{
		"i": int64(1705312800123456789), "f": 2.5, "s": "x", "b": false, "n": nil,
		"t": "2024-01-15T10:00:00.250+00:00", "d": int64(5400), "h": 0.5, "a": []any{int64(1)},
	}
	if !reflect.DeepEqual(gotAny, wantAny) {
		t.Errorf("ToAny = %#v\nwant %#v", gotAny, wantAny)
	}
	out, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"a":[1],"b":false,"d":5400,"f":2.5,"h":0.5,"i":1705312800123456789,"n":null,"s":"x","t":"2024-01-15T10:00:00.250+00:00"}`
	if string(out) != wantJSON {
		t.Errorf("json.Marshal = %s\nwant %s", out, wantJSON)
	}
	var back Value
	if err := json.Unmarshal(out, &back); err != nil || back.AsObject()["i"].AsInt() != 1705312800123456789 {
		t.Errorf("UnmarshalJSON = %#v, %v", back, err)
	}
}

func TestFormatFloat(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{3.0, "3"},
		{0.1, "0.1"},
		{123456789.0, "123456789"},
		{1e21, "1e+21"},
		{1e20, "100000000000000000000"},
		{123e18, "123000000000000000000"},
		{1e-7, "1e-7"},
		{1.5e-7, "1.5e-7"},
		{1e-6, "0.000001"},
		{0.00001234, "0.00001234"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.Copysign(0, -1), "0"},
		{0, "0"},
		{-1.5, "-1.5"},
		{0.5, "0.5"},
		{4.35, "4.35"},
		{333333333.33333329, "333333333.3333333"},
		{1e23, "1e+23"},
		{-1e-7, "-1e-7"},
		{9007199254740993, "9007199254740992"},
		{1.2345e21, "1.2345e+21"},
	}
	for _, c := range cases {
		if got := FormatFloat(c.f); got != c.want {
			t.Errorf("FormatFloat(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	base := time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC).UnixMicro()
	cases := []struct {
		us   int64
		want string
	}{
		{base, "2024-01-15T10:00:00+00:00"},
		{base + 250_000, "2024-01-15T10:00:00.250+00:00"},
		{base + 250, "2024-01-15T10:00:00.000250+00:00"},
		{base + 123456, "2024-01-15T10:00:00.123456+00:00"},
		{base + 1000, "2024-01-15T10:00:00.001+00:00"},
		{0, "1970-01-01T00:00:00+00:00"},
		{-1, "1969-12-31T23:59:59.999999+00:00"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), "0001-01-01T00:00:00+00:00"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro(), "9999-12-31T23:59:59.999999+00:00"},
	}
	for _, c := range cases {
		got := FormatTime(c.us)
		if got != c.want {
			t.Errorf("FormatTime(%d) = %q, want %q", c.us, got, c.want)
		}
		back, err := ParseTime(got)
		if err != nil || back != c.us {
			t.Errorf("ParseTime(%q) = %d, %v", got, back, err)
		}
	}
}

func TestToString(t *testing.T) {
	cases := []struct {
		v    Value
		want string
	}{
		{String("x"), "x"},
		{Int(-12), "-12"},
		{Float(3), "3"},
		{Float(0.1), "0.1"},
		{Bool(true), "true"},
		{DateTime(time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC).UnixMicro()), "2024-01-15T10:00:00+00:00"},
		{Duration(5_400_000_000), "5400s"},
		{Duration(500_000), "0.5s"},
		{Duration(-1), "-0.000001s"},
		{Duration(0), "0s"},
		{Duration(math.MinInt64), "-9223372036854.775808s"},
		{arr(Int(1), Float(2.5), String("a\"b"), Null), `[1,2.5,"a\"b",null]`},
		{obj("b", Int(1), "a", arr()), `{"a":[],"b":1}`},
		{Null, "null"},
	}
	for _, c := range cases {
		if got := ToString(c.v); got != c.want {
			t.Errorf("ToString(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	// RFC 8785 §3.2.3: members sorted by UTF-16 code units.
	in := `{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",` +
		`"\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`
	v, err := FromJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got := string(CanonicalJSON(v))
	want := "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\"," +
		"\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"
	if got != want {
		t.Errorf("CanonicalJSON =\n%s\nwant\n%s", got, want)
	}
	// RFC 8785 §3.2.2.2 string escaping and exact integers.
	v = obj("s", String("\u0000\b\f\n\r\t\"\\</script>\u2028\x1f"), "i", Int(math.MaxInt64), "f", Float(1e-7), "g", Float(1e21))
	got = string(CanonicalJSON(v))
	want = `{"f":1e-7,"g":1e+21,"i":9223372036854775807,"s":"\u0000\b\f\n\r\t\"\\</script>` + "\u2028" + `\u001f"}`
	if got != want {
		t.Errorf("CanonicalJSON =\n%s\nwant\n%s", got, want)
	}
	if got := string(CanonicalJSON(String("a\xffb"))); got != "\"a\uFFFDb\"" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

// The event id test vector of ingestion.md §6 exercises JCS end to end.
func TestEventIDVector(t *testing.T) {
	data := obj("email", String("alice@example.com"), "plan", Null)
	text := "app\nsignup\n2024-01-01T10:00:00+00:00\n" + string(CanonicalJSON(data))
	sum := sha256.Sum256([]byte(text))
	if got := hex.EncodeToString(sum[:]); got != "6375fea7779fd3d2eddc6720741188848eed705ea78d62998eb961f3845a013f" {
		t.Errorf("event id = %s", got)
	}
	raw := obj("txn.id", String("T-77"))
	sum = sha256.Sum256([]byte("billing\npayment_received\n" + string(CanonicalJSON(raw))))
	if got := hex.EncodeToString(sum[:]); got != "c4a373e1373e107f1c627af7a0a4c185f2a3ce3bcb1d743be194c386d0f702a6" {
		t.Errorf("event id with event_id fields = %s", got)
	}
}

func TestCompareUTF16(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"a", "b", -1},
		{"a", "ab", -1},
		{"", "", 0},
		{"😀", "\ufb33", -1}, // surrogate 0xD83D < 0xFB33, although U+1F600 > U+FB33
		{"\ufb33", "😀", 1},
		{"😀", "😁", -1},
		{"\u00f6", "\u20ac", -1},
		// Both decode to U+FFFD: their bytes decide, so JCS member order
		// does not depend on map iteration.
		{"\xf4", "\xff", -1},
		{"\xff", "\xf4", 1},
		{"x\xff", "x\xff", 0},
	}
	for _, c := range cases {
		if got := CompareUTF16(c.a, c.b); got != c.want {
			t.Errorf("CompareUTF16(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestTagged(t *testing.T) {
	v := obj(
		"total", Float(3.0), "rate", Float(2.5), "count", Int(1705312800123456789),
		"at", DateTime(1705312800000250), "span", Duration(5_400_000_000), "half", Duration(-500_000),
		"lines", arr(Float(1), Int(1), obj("a/b~c", Float(7))),
		"name", String("x"), "none", Null,
	)
	data, types := EncodeTagged(v)
	wantTypes := map[string]string{
		"/total": "float", "/at": "datetime", "/span": "duration", "/half": "duration",
		"/lines/0": "float", "/lines/2/a~1b~0c": "float",
	}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("types = %v\nwant %v", types, wantTypes)
	}
	const wantData = `{"at":"2024-01-15T10:00:00.000250+00:00","count":1705312800123456789,"half":-0.5,"lines":[1,1,{"a/b~c":7}],"name":"x","none":null,"rate":2.5,"span":5400,"total":3}`
	if string(data) != wantData {
		t.Errorf("data = %s\nwant %s", data, wantData)
	}
	back, err := DecodeTagged(data, types)
	if err != nil {
		t.Fatal(err)
	}
	if !deepSame(back, v) {
		t.Errorf("DecodeTagged = %#v\nwant %#v", back, v)
	}

	// Scalars at the root, and nothing to tag.
	for _, v := range []Value{Float(2), DateTime(0), Duration(1), Int(4), String("s"), Null} {
		data, types := EncodeTagged(v)
		back, err := DecodeTagged(data, types)
		if err != nil || !deepSame(back, v) {
			t.Errorf("root %#v: got %#v, %v", v, back, err)
		}
	}
	if _, types := EncodeTagged(obj("a", Int(1))); types != nil {
		t.Errorf("types = %v, want nil", types)
	}
	for _, bad := range []map[string]string{{"/x": "float"}, {"/a": "datetime"}, {"/a": "weird"}, {"a": "float"}, {"/a/0": "float"}} {
		if _, err := DecodeTagged([]byte(`{"a":1}`), bad); err == nil {
			t.Errorf("DecodeTagged with %v: want error", bad)
		}
	}
}

// deepSame is Equal plus identical kinds all the way down.
func deepSame(a, b Value) bool {
	if a.Kind() != b.Kind() || !Equal(a, b) {
		return false
	}
	switch a.Kind() {
	case KindArray:
		for i, e := range a.AsArray() {
			if !deepSame(e, b.AsArray()[i]) {
				return false
			}
		}
	case KindObject:
		for k, e := range a.AsObject() {
			if !deepSame(e, b.AsObject()[k]) {
				return false
			}
		}
	}
	return true
}

func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{`null`, `3.0`, `1705312800123456789`, `{"a":[1,2.5,"x"]}`, `1e400`, `"\ud800"`, `-0`, `[{"\u20ac":1e-7}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := FromJSON(data)
		if err != nil {
			return
		}
		// Canonical output must be valid JSON that decodes to an equal value
		// (integral Floats come back as Int, which Equal accepts).
		out := CanonicalJSON(v)
		back, err := FromJSON(out)
		if err != nil {
			t.Fatalf("CanonicalJSON output %q does not decode: %v", out, err)
		}
		if !Equal(v, back) && !strings.Contains(string(data), `\u`) && !strings.ContainsRune(string(data), '\uFFFD') {
			t.Fatalf("round trip changed %s: %#v → %#v", data, v, back)
		}
		data2, types := EncodeTagged(v)
		back2, err := DecodeTagged(data2, types)
		if err != nil || !deepSame(v, back2) && !Equal(v, back2) {
			t.Fatalf("tagged round trip: %v", err)
		}
	})
}
