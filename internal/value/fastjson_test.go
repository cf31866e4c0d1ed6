package value

import (
	"bytes"
	"maps"
	"testing"
)

// sameDecoded reports whether a and b are the same value with the same
// kinds all the way down (EncodeTagged tags floats, datetimes, durations).
func sameDecoded(a, b Value) bool {
	da, ta := EncodeTagged(a)
	db, tb := EncodeTagged(b)
	return bytes.Equal(da, db) && maps.Equal(ta, tb)
}

func checkFast(t *testing.T, doc string) {
	t.Helper()
	fast, ok := fastFromJSON([]byte(doc))
	slow, err := slowFromJSON([]byte(doc))
	if !ok {
		return // the slow path decides
	}
	if err != nil {
		t.Fatalf("%q: fast path accepted what encoding/json rejects (%v)", doc, err)
	}
	if !sameDecoded(fast, slow) {
		t.Fatalf("%q: fast %v, slow %v", doc, fast, slow)
	}
}

func TestFastFromJSON(t *testing.T) {
	accepted := []string{
		`{"email":"a@b.c","mrr":199,"plan":"enterprise"}`, ` [1, -0, 0, 3.0, 3e0, 1.5, -2.5e-3, 1E2] `,
		`{"a":{"b":[true,false,null,{}]},"c":[]}`, `"héllo ✓"`, `12345678901234567890`, `123456789012345678`,
		`-9223372036854775808`, `9223372036854775808`, `{"a":1,"a":2}`, `1e400`, `0.1`, `{"x":"\u00e9"}`,
	}
	for _, doc := range accepted {
		checkFast(t, doc)
	}
	if _, ok := fastFromJSON([]byte(`{"a":1,"a":2}`)); !ok {
		t.Error("repeated member: fast path refused")
	}
	for _, doc := range []string{`{"x":"a\"b"}`, "\"\xff\"", `01`, `1.`, `-`, `1e`, `[1,]`, `{"a":1,}`, `{"a" 1}`,
		`tru`, `1 2`, `{"a":1}x`, "\"a\tb\"", `{`, `[`, `""`, `1e400`} {
		checkFast(t, doc)
	}
	for _, doc := range []string{`{"x":"a\"b"}`, "\"\xff\"", `01`, `1 2`, "\"a\tb\""} {
		if _, ok := fastFromJSON([]byte(doc)); ok {
			t.Errorf("%q: fast path accepted it", doc)
		}
	}
}

func FuzzFastFromJSON(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.c","mrr":199}`, `[1.5,-0,1e3,"x",null,true]`, `{"a":{"b":[]}}`, `-12.5E+3`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkFast(t, string(data)) })
}
