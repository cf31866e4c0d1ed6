package identity

import (
	"unicode/utf8"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// Redacted is the result of the redact treatment.
const Redacted = "[REDACTED]"

// Treat applies a privacy treatment (privacy.md §2) to a value: redact gives
// "[REDACTED]"; mask keeps the first and last code point of a string of
// three or more with an asterisk for each code point between, and turns
// shorter strings into as many asterisks; hash gives "hash:" and the hex
// HMAC-SHA-256(salt, "redact" 0x00 s), keeping a value that already has that
// form. Null stays Null and every other non-string becomes Null, so typed
// properties stay valid. All three are idempotent. An unknown treatment
// redacts: failing safe beats leaking.
func Treat(salt []byte, treatment string, v value.Value) value.Value {
	if v.Kind() != value.KindString {
		return value.Null
	}
	s := v.AsString()
	switch treatment {
	case definition.TreatmentMask:
		return value.String(mask(s))
	case definition.TreatmentHash:
		if isHashed(s) {
			return v
		}
		m := newMAC(salt)
		m.buf = append(m.buf, "redact\x00"...)
		m.buf = append(m.buf, s...)
		return value.String("hash:" + m.hexDigest())
	}
	return value.String(Redacted)
}

func mask(s string) string {
	n := utf8.RuneCountInString(s)
	if n <= 2 {
		return "**"[:n]
	}
	first, fl := utf8.DecodeRuneInString(s)
	last, ll := utf8.DecodeLastRuneInString(s)
	b := make([]byte, 0, fl+n-2+ll)
	b = utf8.AppendRune(b, first)
	for i := 0; i < n-2; i++ {
		b = append(b, '*')
	}
	b = utf8.AppendRune(b, last)
	return string(b)
}

// isHashed reports whether s matches ^hash:[0-9a-f]{64}$.
func isHashed(s string) bool {
	if len(s) != 5+64 || s[:5] != "hash:" {
		return false
	}
	for i := 5; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
