package identity

import (
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/value"
)

// testSalt is the salt of the spec's test vectors: bytes 00 01 … 1f.
func testSalt() []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = byte(i)
	}
	return s
}

func TestKeyHashAndEntityIDVectors(t *testing.T) { // identity.md §3
	salt := testSalt()
	tests := []struct{ entity, field, value, hash, id string }{
		{"customer", "email", "alice@example.com",
			"260d7f6173d1b6f617cb18699a4a3c0c670086ff2f748bdd72d0b5ae922995fb", "e60ae35b-5100-809d-9511-49fec12da0d1"},
		{"customer", "phone", "+15550001",
			"24fdd1f06818233d515d2445af60e2b41649c20d11b011888520537d0f4571c1", "c47ccdb9-f952-8a48-a497-c3bac5c4ed1f"},
		{"order", "order_id", "o-1001",
			"d0f64c26cb06038849edacb637a1075e6f5ac2856490fe2d1b504f3ec65e6b90", "48cec71c-f80b-87d3-9bf7-6924359daf32"},
	}
	for _, tc := range tests {
		h := KeyHash(salt, tc.entity, tc.field, tc.value)
		if h != tc.hash {
			t.Errorf("KeyHash(%s, %s, %s) = %s, want %s", tc.entity, tc.field, tc.value, h, tc.hash)
		}
		if id := EntityID(salt, h); id != tc.id {
			t.Errorf("EntityID(%s) = %s, want %s", h, id, tc.id)
		}
	}
}

func TestKeyHashSeparatesParts(t *testing.T) {
	salt := testSalt()
	a := KeyHash(salt, "customer", "email", "x")
	for _, h := range []string{
		KeyHash(salt, "customer", "emai", "lx"),
		KeyHash(salt, "customer", "email", "X"),
		KeyHash(salt, "order", "email", "x"),
		KeyHash([]byte("other salt"), "customer", "email", "x"),
	} {
		if h == a {
			t.Errorf("collision with %s", h)
		}
	}
	if long := KeyHash(salt, "customer", "email", strings.Repeat("v", 1000)); len(long) != 64 {
		t.Errorf("hash length %d", len(long))
	}
}

func TestEntityIDLayout(t *testing.T) {
	id := EntityID(testSalt(), "abc")
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		t.Fatalf("layout %s", id)
	}
	if id[14] != '8' || !strings.ContainsRune("89ab", rune(id[19])) {
		t.Errorf("version/variant %s", id)
	}
	if strings.ToLower(id) != id {
		t.Errorf("not lowercase: %s", id)
	}
}

func TestShardHashVectors(t *testing.T) { // scale.md §3
	tests := []struct {
		id       string
		hash     uint32
		of4, of3 uint32
	}{
		{"customer_001", 670421278, 2, 1},
		{"a", 3398926610, 2, 2},
		{"e60ae35b-5100-809d-9511-49fec12da0d1", 308640877, 1, 1},
		{"c47ccdb9-f952-8a48-a497-c3bac5c4ed1f", 1270767710, 2, 2},
		{"48cec71c-f80b-87d3-9bf7-6924359daf32", 1610971472, 0, 2},
	}
	for _, tc := range tests {
		h := ShardHash(tc.id)
		if h != tc.hash || h%4 != tc.of4 || h%3 != tc.of3 {
			t.Errorf("ShardHash(%s) = %d (%d of 4, %d of 3), want %d (%d, %d)", tc.id, h, h%4, h%3, tc.hash, tc.of4, tc.of3)
		}
	}
}

func TestTreatVectors(t *testing.T) { // privacy.md §2
	salt := testSalt()
	const hashed = "hash:0df052ef4a06c80d0332c93c0c068ed4cad2455de455edbb0ba48c7435b5f122"
	tests := []struct {
		treatment string
		in        value.Value
		want      value.Value
	}{
		{"hash", value.String("alice@example.com"), value.String(hashed)},
		{"hash", value.String(hashed), value.String(hashed)}, // already hashed: kept
		{"mask", value.String("alice@example.com"), value.String("a***************m")},
		{"mask", value.String(""), value.String("")},
		{"mask", value.String("a"), value.String("*")},
		{"mask", value.String("ab"), value.String("**")},
		{"mask", value.String("abc"), value.String("a*c")},
		{"mask", value.String("añb"), value.String("a*b")},
		{"mask", value.String("ñéü"), value.String("ñ*ü")},
		{"mask", value.String("日本語です"), value.String("日***す")},
		{"redact", value.String("alice@example.com"), value.String("[REDACTED]")},
		{"redact", value.String(""), value.String("[REDACTED]")},
		{"unknown", value.String("x"), value.String("[REDACTED]")},
	}
	for _, tc := range tests {
		got := Treat(salt, tc.treatment, tc.in)
		if !value.Equal(got, tc.want) || got.Kind() != tc.want.Kind() {
			t.Errorf("Treat(%s, %#v) = %#v, want %#v", tc.treatment, tc.in, got, tc.want)
		}
		// Every treatment is idempotent.
		if again := Treat(salt, tc.treatment, got); !value.Equal(again, got) {
			t.Errorf("Treat(%s) not idempotent: %#v → %#v", tc.treatment, got, again)
		}
	}
	// Non-strings become Null; Null stays Null.
	for _, tr := range []string{"hash", "mask", "redact"} {
		for _, v := range []value.Value{value.Null, value.Int(5), value.Float(1.5), value.True,
			value.DateTime(0), value.Array([]value.Value{value.String("a")}), value.Object(map[string]value.Value{"a": value.String("b")})} {
			if got := Treat(salt, tr, v); !got.IsNull() {
				t.Errorf("Treat(%s, %#v) = %#v, want Null", tr, v, got)
			}
		}
	}
	// A near-hash is hashed.
	if got := Treat(salt, "hash", value.String(strings.ToUpper(hashed))); got.AsString() == strings.ToUpper(hashed) {
		t.Error("upper-case hex must not count as hashed")
	}
}

func field(name, match, normalize string) *definition.IdentityField {
	f := &definition.IdentityField{Name: name, Match: match}
	if normalize != "" {
		f.Normalize = expr.MustParse(normalize)
	}
	return f
}

func TestNormalizeValue(t *testing.T) {
	tests := []struct {
		f     *definition.IdentityField
		in    string
		want  string
		ok    bool
		error string
	}{
		// identity.md §1 example.
		{field("email", definition.MatchCaseInsensitive, "str::trim(value)"), " Alice@Example.COM", "alice@example.com", true, ""},
		{field("email", definition.MatchExact, ""), " Alice@Example.COM", " Alice@Example.COM", true, ""},
		{field("email", "", ""), "Alice", "Alice", true, ""},
		{field("email", definition.MatchCaseInsensitive, ""), "ΣΊΣΥΦΟΣ", "σίσυφοσ", true, ""},
		{field("email", definition.MatchCaseInsensitive, ""), "STRASSE straße", "strasse straße", true, ""},
		// Empty → no key, before and after normalization.
		{field("email", definition.MatchExact, ""), "", "", false, ""},
		{field("email", definition.MatchExact, "str::trim(value)"), "   ", "", false, ""},
		// A Null result → no key; other types and errors fail.
		{field("email", definition.MatchExact, "if value == 'x' then null else value"), "x", "", false, ""},
		{field("email", definition.MatchExact, "len(value)"), "abc", "", false, "normalize must return a string or null, got Int"},
		{field("email", definition.MatchExact, "to_string(len(value) / 0)"), "abc", "", false, "normalize failed"},
	}
	for _, tc := range tests {
		v, ok, err := NormalizeValue(tc.f, tc.in)
		if tc.error != "" {
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.error)
			}
			continue
		}
		if err != nil || ok != tc.ok || v != tc.want {
			t.Errorf("%q: %q %v %v, want %q %v", tc.in, v, ok, err, tc.want, tc.ok)
		}
	}
}
