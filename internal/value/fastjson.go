package value

import "unicode/utf8"

// fastFromJSON parses the common shape of stored JSON (ledger data, working
// state) straight into a Value: strings without escapes, valid UTF-8, the
// full number grammar, any nesting. It reports ok=false for anything else
// (escapes, control characters, invalid UTF-8 or syntax, trailing data), and
// FromJSON then takes the encoding/json path, so both give the same Value
// for every input: the fast path only accepts documents on which the two
// cannot differ. It exists because decoding through map[string]any and
// json.Number first was most of the cost of re-reading events in a full
// rebuild.
func fastFromJSON(data []byte) (Value, bool) {
	p := fastParser{b: data}
	v, ok := p.value(0)
	if !ok {
		return Null, false
	}
	p.space()
	return v, p.i == len(p.b)
}

type fastParser struct {
	b []byte
	i int
}

// maxFastDepth bounds recursion; deeper documents take the slow path.
const maxFastDepth = 64

func (p *fastParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) value(depth int) (Value, bool) {
	p.space()
	if p.i >= len(p.b) || depth > maxFastDepth {
		return Null, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.str()
		if !ok {
			return Null, false
		}
		return String(s), true
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return Bool(true), p.literal("true")
	case c == 'f':
		return Bool(false), p.literal("false")
	case c == 'n':
		return Null, p.literal("null")
	}
	return Null, false
}

func (p *fastParser) literal(lit string) bool {
	if len(p.b)-p.i < len(lit) || string(p.b[p.i:p.i+len(lit)]) != lit {
		return false
	}
	p.i += len(lit)
	return true
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (p *fastParser) str() (string, bool) {
	start := p.i + 1
	ascii := true
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := p.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			p.i = j + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

func (p *fastParser) object(depth int) (Value, bool) {
	p.i++ // {
	m := make(map[string]Value)
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return Object(m), true
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return Null, false
		}
		k, ok := p.str()
		if !ok {
			return Null, false
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return Null, false
		}
		p.i++
		v, ok := p.value(depth + 1)
		if !ok {
			return Null, false
		}
		m[k] = v // a repeated member: the last wins, as in encoding/json
		end, ok := p.next('}')
		if !ok {
			return Null, false
		}
		if end {
			return Object(m), true
		}
	}
}

// next consumes what follows a member or element: a comma (end false) or
// the closing byte (end true); ok is false for anything else.
func (p *fastParser) next(closing byte) (end, ok bool) {
	p.space()
	if p.i >= len(p.b) {
		return false, false
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return false, true
	case closing:
		p.i++
		return true, true
	}
	return false, false
}

func (p *fastParser) array(depth int) (Value, bool) {
	p.i++ // [
	var a []Value
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return Array(a), true
	}
	for {
		v, ok := p.value(depth + 1)
		if !ok {
			return Null, false
		}
		a = append(a, v)
		end, ok := p.next(']')
		if !ok {
			return Null, false
		}
		if end {
			return Array(a), true
		}
	}
}

// number scans the JSON number grammar. Integers of up to 18 digits are
// exact Ints (what ParseNumber gives them) without a string; every other
// number goes through ParseNumber on its text, like the slow path's
// json.Number.
func (p *fastParser) number() (Value, bool) {
	start := p.i
	j := p.i
	neg := false
	if p.b[j] == '-' {
		neg = true
		j++
	}
	digits := func() int {
		k := j
		for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
			j++
		}
		return j - k
	}
	intStart := j
	n := digits()
	if n == 0 || (n > 1 && p.b[intStart] == '0') {
		return Null, false
	}
	integral := true
	if j < len(p.b) && p.b[j] == '.' {
		j++
		if digits() == 0 {
			return Null, false
		}
		integral = false
	}
	if j < len(p.b) && (p.b[j] == 'e' || p.b[j] == 'E') {
		j++
		if j < len(p.b) && (p.b[j] == '+' || p.b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return Null, false
		}
		integral = false
	}
	p.i = j
	if integral && n <= 18 {
		var u int64
		for _, c := range p.b[intStart:j] {
			u = u*10 + int64(c-'0')
		}
		if neg {
			u = -u
		}
		return Int(u), true
	}
	v, err := ParseNumber(string(p.b[start:j]))
	return v, err == nil
}
