package expr

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tKeyword // and or not if then else true false null
	tInt
	tFloat
	tDuration
	tString
	tPow    // **
	tStar   // *
	tSlash  // /
	tPlus   // +
	tMinus  // -
	tEq     // ==
	tNe     // !=
	tLt     // <
	tLe     // <=
	tGt     // >
	tGe     // >=
	tAnd    // and &&
	tOr     // or ||
	tNot    // not !
	tLParen // (
	tRParen // )
	tLBrack // [
	tRBrack // ]
	tComma  // ,
	tDot    // .
	tScope  // ::
)

// token is one lexeme. pos and end are byte offsets into the source; errors
// convert them to code-point positions.
type token struct {
	kind tokKind
	pos  int
	end  int
	text string // identifier or keyword name, decoded string literal
	ival int64  // Int literal, Duration literal (µs)
	fval float64
}

var keywords = map[string]tokKind{
	"and": tAnd, "or": tOr, "not": tNot,
	"if": tKeyword, "then": tKeyword, "else": tKeyword,
	"true": tKeyword, "false": tKeyword, "null": tKeyword,
}

// lexer is pulled by the parser one token at a time, because whether digits
// after a "." form a path segment or a float depends on the grammar context.
type lexer struct {
	src string
	off int
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipSpace skips any Unicode White_Space (unicode.IsSpace is exactly that property).
func (l *lexer) skipSpace() {
	for l.off < len(l.src) {
		c := l.src[l.off]
		if c < utf8.RuneSelf {
			if c == ' ' || (c >= '\t' && c <= '\r') {
				l.off++
				continue
			}
			return
		}
		r, n := utf8.DecodeRuneInString(l.src[l.off:])
		if !unicode.IsSpace(r) {
			return
		}
		l.off += n
	}
}

// next lexes the next token.
func (l *lexer) next() (token, *Error) {
	l.skipSpace()
	start := l.off
	if start >= len(l.src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := l.src[start]
	tok := func(k tokKind, n int) (token, *Error) {
		l.off += n
		return token{kind: k, pos: start, end: l.off}, nil
	}
	peek := func(i int) byte {
		if start+i < len(l.src) {
			return l.src[start+i]
		}
		return 0
	}
	switch {
	case isIdentStart(c):
		i := start + 1
		for i < len(l.src) && isIdentChar(l.src[i]) {
			i++
		}
		l.off = i
		word := l.src[start:i]
		if k, ok := keywords[word]; ok {
			return token{kind: k, pos: start, end: i, text: word}, nil
		}
		return token{kind: tIdent, pos: start, end: i, text: word}, nil
	case isDigit(c):
		return l.number()
	case c == '\'' || c == '"':
		return l.str()
	}
	switch c {
	case '*':
		if peek(1) == '*' {
			return tok(tPow, 2)
		}
		return tok(tStar, 1)
	case '/':
		return tok(tSlash, 1)
	case '+':
		return tok(tPlus, 1)
	case '-':
		return tok(tMinus, 1)
	case '=':
		if peek(1) == '=' {
			return tok(tEq, 2)
		}
		return token{}, l.errAt(start, `unexpected "="; did you mean "=="?`)
	case '!':
		if peek(1) == '=' {
			return tok(tNe, 2)
		}
		return tok(tNot, 1)
	case '<':
		if peek(1) == '=' {
			return tok(tLe, 2)
		}
		return tok(tLt, 1)
	case '>':
		if peek(1) == '=' {
			return tok(tGe, 2)
		}
		return tok(tGt, 1)
	case '&':
		if peek(1) == '&' {
			return tok(tAnd, 2)
		}
		return token{}, l.errAt(start, `unexpected "&"; did you mean "&&"?`)
	case '|':
		if peek(1) == '|' {
			return tok(tOr, 2)
		}
		return token{}, l.errAt(start, `unexpected "|"; did you mean "||"?`)
	case '(':
		return tok(tLParen, 1)
	case ')':
		return tok(tRParen, 1)
	case '[':
		return tok(tLBrack, 1)
	case ']':
		return tok(tRBrack, 1)
	case ',':
		return tok(tComma, 1)
	case '.':
		return tok(tDot, 1)
	case ':':
		if peek(1) == ':' {
			return tok(tScope, 2)
		}
		return token{}, l.errAt(start, `unexpected ":"; did you mean "::"?`)
	}
	r, _ := utf8.DecodeRuneInString(l.src[start:])
	return token{}, l.errAt(start, "unexpected character "+strconv.QuoteRune(r))
}

// Duration units in microseconds.
var unitMicros = [256]int64{'d': 86_400_000_000, 'h': 3_600_000_000, 'm': 60_000_000, 's': 1_000_000}

// number lexes a float, duration or integer literal, in that order of
// preference after the digits: a fraction or exponent makes a float, a unit
// letter a duration (durations are tried before integers), else an integer.
func (l *lexer) number() (token, *Error) {
	start := l.off
	i := start
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	digitsEnd := i
	isFloat := false
	if i+1 < len(l.src) && l.src[i] == '.' && isDigit(l.src[i+1]) {
		isFloat = true
		i++
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
	}
	if i < len(l.src) && (l.src[i] == 'e' || l.src[i] == 'E') {
		j := i + 1
		if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
			j++
		}
		if j < len(l.src) && isDigit(l.src[j]) {
			isFloat = true
			for j < len(l.src) && isDigit(l.src[j]) {
				j++
			}
			i = j
		}
	}
	if isFloat {
		text := l.src[start:i]
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			return token{}, l.errAt(start, "float literal "+text+" is out of range")
		}
		l.off = i
		return token{kind: tFloat, pos: start, end: i, fval: f}, nil
	}
	digits := l.src[start:digitsEnd]
	if digitsEnd < len(l.src) {
		if unit := unitMicros[l.src[digitsEnd]]; unit != 0 {
			n, err := strconv.ParseInt(digits, 10, 64)
			if err != nil || n > math.MaxInt64/unit {
				return token{}, l.errAt(start, "duration literal "+l.src[start:digitsEnd+1]+" is out of range")
			}
			l.off = digitsEnd + 1
			return token{kind: tDuration, pos: start, end: l.off, ival: n * unit}, nil
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return token{}, l.errAt(start, "integer literal "+digits+" is out of range (signed 64-bit)")
	}
	l.off = digitsEnd
	return token{kind: tInt, pos: start, end: digitsEnd, ival: n}, nil
}

// segment lexes a path segment after ".": an identifier, a keyword or
// digits. Digits never form a float here (event.items.0.id).
func (l *lexer) segment() (token, bool) {
	l.skipSpace()
	start := l.off
	if start >= len(l.src) {
		return token{}, false
	}
	i := start
	switch c := l.src[start]; {
	case isIdentStart(c):
		for i < len(l.src) && isIdentChar(l.src[i]) {
			i++
		}
	case isDigit(c):
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
	default:
		return token{}, false
	}
	l.off = i
	return token{kind: tIdent, pos: start, end: i, text: l.src[start:i]}, true
}

// str lexes a quoted string with the escapes \\ \' \" \n \r \t \uXXXX. Raw
// newlines are allowed. A \u escape of a UTF-16 surrogate pair combines into
// one code point; a lone surrogate is an error (it cannot be UTF-8).
func (l *lexer) str() (token, *Error) {
	start := l.off
	quote := l.src[start]
	i := start + 1
	// Fast path: no escapes, the literal is a substring of the source.
	if j := strings.IndexByte(l.src[i:], quote); j >= 0 && strings.IndexByte(l.src[i:i+j], '\\') < 0 {
		l.off = i + j + 1
		return token{kind: tString, pos: start, end: l.off, text: l.src[i : i+j]}, nil
	}
	var b strings.Builder
	for {
		if i >= len(l.src) {
			return token{}, l.errAt(start, "unterminated string")
		}
		c := l.src[i]
		switch {
		case c == quote:
			l.off = i + 1
			return token{kind: tString, pos: start, end: l.off, text: b.String()}, nil
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(l.src) {
			return token{}, l.errAt(start, "unterminated string")
		}
		switch e := l.src[i+1]; e {
		case '\\', '\'', '"':
			b.WriteByte(e)
			i += 2
		case 'n':
			b.WriteByte('\n')
			i += 2
		case 'r':
			b.WriteByte('\r')
			i += 2
		case 't':
			b.WriteByte('\t')
			i += 2
		case 'u':
			r, ok := hex4(l.src, i+2)
			if !ok {
				return token{}, l.errAt(i, `invalid \u escape; expected four hex digits`)
			}
			n := 6
			if r >= 0xD800 && r < 0xDC00 {
				lo, ok := rune(0), false
				if i+7 < len(l.src) && l.src[i+6] == '\\' && l.src[i+7] == 'u' {
					lo, ok = hex4(l.src, i+8)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return token{}, l.errAt(i, `invalid \u escape: unpaired surrogate`)
				}
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				n = 12
			} else if r >= 0xDC00 && r <= 0xDFFF {
				return token{}, l.errAt(i, `invalid \u escape: unpaired surrogate`)
			}
			b.WriteRune(r)
			i += n
		default:
			r, _ := utf8.DecodeRuneInString(l.src[i+1:])
			return token{}, l.errAt(i, `invalid escape "\`+string(r)+`" in string; allowed: \\ \' \" \n \r \t \uXXXX`)
		}
	}
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (l *lexer) errAt(off int, msg string) *Error {
	return &Error{Pos: column(l.src, off), Msg: msg, Src: l.src}
}

// column converts a byte offset to the 1-based code-point position.
func column(src string, off int) int {
	if off > len(src) {
		off = len(src)
	}
	return utf8.RuneCountInString(src[:off]) + 1
}
