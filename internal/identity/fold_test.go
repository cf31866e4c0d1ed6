package identity

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

func TestFoldVectors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"alice@example.com", "alice@example.com"},
		{"Alice@Example.COM", "alice@example.com"},
		{"ÀÉÎÕÜ", "àéîõü"},
		{"ſ", "s"},      // U+017F LATIN SMALL LETTER LONG S: C → s (ToLower keeps it)
		{"ς", "σ"},      // final sigma: C → σ
		{"ϐ", "β"},      // U+03D0 GREEK BETA SYMBOL
		{"µ", "μ"},      // U+00B5 MICRO SIGN → U+03BC
		{"\u1FBE", "ι"}, // GREEK PROSGEGRAMMENI
		{"\u0345", "ι"}, // COMBINING GREEK YPOGEGRAMMENI
		{"\u212A", "k"}, // KELVIN SIGN
		{"\u212B", "å"}, // ANGSTROM SIGN
		{"ẞ", "ß"},      // U+1E9E: S → ß (F would give "ss")
		{"ß", "ß"},      // no C/S folding (F only)
		{"İ", "İ"},      // U+0130: T/F only, so unchanged (ToLower gives "i")
		{"ı", "ı"},      // U+0131: no folding
		{"ǅ", "ǆ"},      // title case
		{"Ꭰ", "Ꭰ"},      // Cherokee upper case is the fold target
		{"ꭰ", "Ꭰ"},      // U+AB70 CHEROKEE SMALL LETTER A → U+13A0
		{"ᏸ", "Ᏸ"},      // U+13F8 → U+13F0
		{"𐐀", "𐐨"},      // DESERET (outside the BMP)
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"},
		{"\xff", "\uFFFD"}, // invalid UTF-8 becomes U+FFFD
	}
	for _, tc := range tests {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// ASCII without upper case is returned as is, without copying.
	s := "already-folded@example.com"
	if got := Fold(s); got != s {
		t.Error(got)
	}
}

// TestFoldMatchesCaseFolding compares FoldRune with every C and S line of the
// Unicode Character Database's CaseFolding.txt, when a copy of the Unicode
// version Go was built with is installed (Debian: unicode-data).
func TestFoldMatchesCaseFolding(t *testing.T) {
	const path = "/usr/share/unicode/CaseFolding.txt"
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("%s not installed (apt-get install unicode-data)", path)
	}
	defer f.Close()
	want := map[rune]rune{}
	sc := bufio.NewScanner(f)
	version := ""
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# CaseFolding-") {
			version = strings.TrimSuffix(strings.TrimPrefix(line, "# CaseFolding-"), ".txt")
		}
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, "; ")
		if len(parts) < 3 || (parts[1] != "C" && parts[1] != "S") {
			continue
		}
		from, err1 := strconv.ParseUint(parts[0], 16, 32)
		to, err2 := strconv.ParseUint(parts[2], 16, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad line %q", line)
		}
		want[rune(from)] = rune(to)
	}
	if version != unicode.Version {
		t.Skipf("%s is Unicode %s, Go's tables are %s", path, version, unicode.Version)
	}
	if len(want) < 1000 {
		t.Fatalf("only %d C/S entries read", len(want))
	}
	bad := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		w, ok := want[r]
		if !ok {
			w = r
		}
		if got := FoldRune(r); got != w {
			if bad++; bad <= 20 {
				t.Errorf("FoldRune(%U) = %U, want %U", r, got, w)
			}
		}
	}
}
