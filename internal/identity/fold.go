package identity

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fold applies Unicode simple case folding (CaseFolding.txt statuses C and
// S) to every code point of s.
//
// strings.ToLower is not the same thing: it lower-cases U+0130 (İ) to "i"
// although İ has no C or S folding, leaves U+017F (ſ), U+03C2 (ς) and
// U+1FBE alone although they fold to s, σ and ι, and lower-cases Cherokee,
// whose letters fold to the upper-case forms. unicode.SimpleFold only walks
// the orbit of equivalent code points without naming the fold target; the
// target is derived below and checked against CaseFolding.txt in the tests.
func Fold(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return foldFrom(s, i)
		}
		if 'A' <= c && c <= 'Z' {
			return foldFrom(s, i)
		}
	}
	return s
}

// foldFrom folds s, whose first i bytes are already folded ASCII.
func foldFrom(s string, i int) string {
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		b.WriteRune(FoldRune(r))
	}
	return b.String()
}

// FoldRune returns the simple case folding of r.
//
// Go's orbits (unicode.SimpleFold) are the equivalence classes of C and S
// foldings, so a code point alone in its orbit folds to itself. For the
// others the target is the lower case of the upper case (ſ → S → s, ς → Σ →
// σ, µ → Μ → μ), except Cherokee, which CaseFolding.txt folds to upper case
// for stability since lower-case Cherokee was encoded later.
func FoldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if unicode.SimpleFold(r) == r {
		return r
	}
	if (r >= 0x13A0 && r <= 0x13FD) || (r >= 0xAB70 && r <= 0xABBF) {
		return unicode.ToUpper(r)
	}
	return unicode.ToLower(unicode.ToUpper(r))
}
