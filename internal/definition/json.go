package definition

import (
	"encoding/json"
	"errors"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// JSON input is read by a JSON parser of its own rather than as YAML. JSON is
// nearly a subset of YAML, but not quite: a YAML reader folds U+0085, U+2028
// and U+2029 inside quoted strings and rejects DEL and C1 controls, all of
// which JCS writes raw. Canonical JSON must reload byte for byte, so input
// that parses as JSON is taken as JSON; anything else is YAML. The parser
// builds the same yaml.Node tree, with positions, so the loader is shared.

var errNotJSON = errors.New("not JSON")

// jsonMaxDepth bounds nesting; definitions are a dozen levels deep.
const jsonMaxDepth = 512

type jsonParser struct {
	data      []byte
	off       int
	line      int
	lineStart int
}

// parseJSON returns the document's root node, or errNotJSON when data is
// not exactly one JSON object or array (so the caller falls back to YAML).
func parseJSON(data []byte) (*yaml.Node, error) {
	p := &jsonParser{data: data, line: 1}
	p.space()
	if p.off >= len(data) || (data[p.off] != '{' && data[p.off] != '[') {
		return nil, errNotJSON
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.off != len(data) {
		return nil, errNotJSON
	}
	return n, nil
}

func (p *jsonParser) space() {
	for p.off < len(p.data) {
		switch p.data[p.off] {
		case '\n':
			p.line++
			p.lineStart = p.off + 1
		case ' ', '\t', '\r':
		default:
			return
		}
		p.off++
	}
}

// node starts a node at the current position (columns count code points,
// like yaml.v3's).
func (p *jsonParser) node(kind yaml.Kind, tag string) *yaml.Node {
	col := utf8.RuneCount(p.data[p.lineStart:p.off]) + 1
	return &yaml.Node{Kind: kind, Tag: tag, Line: p.line, Column: col}
}

func (p *jsonParser) value(depth int) (*yaml.Node, error) {
	if depth > jsonMaxDepth || p.off >= len(p.data) {
		return nil, errNotJSON
	}
	switch c := p.data[p.off]; {
	case c == '{':
		n := p.node(yaml.MappingNode, "!!map")
		n.Style = yaml.FlowStyle
		p.off++
		p.space()
		if p.off < len(p.data) && p.data[p.off] == '}' {
			p.off++
			return n, nil
		}
		for {
			p.space()
			if p.off >= len(p.data) || p.data[p.off] != '"' {
				return nil, errNotJSON
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.space()
			if p.off >= len(p.data) || p.data[p.off] != ':' {
				return nil, errNotJSON
			}
			p.off++
			p.space()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, k, v)
			p.space()
			if p.off >= len(p.data) {
				return nil, errNotJSON
			}
			if p.data[p.off] == '}' {
				p.off++
				return n, nil
			}
			if p.data[p.off] != ',' {
				return nil, errNotJSON
			}
			p.off++
		}
	case c == '[':
		n := p.node(yaml.SequenceNode, "!!seq")
		n.Style = yaml.FlowStyle
		p.off++
		p.space()
		if p.off < len(p.data) && p.data[p.off] == ']' {
			p.off++
			return n, nil
		}
		for {
			p.space()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
			p.space()
			if p.off >= len(p.data) {
				return nil, errNotJSON
			}
			if p.data[p.off] == ']' {
				p.off++
				return n, nil
			}
			if p.data[p.off] != ',' {
				return nil, errNotJSON
			}
			p.off++
		}
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	for _, lit := range []struct{ text, tag string }{{"true", "!!bool"}, {"false", "!!bool"}, {"null", "!!null"}} {
		if len(p.data)-p.off >= len(lit.text) && string(p.data[p.off:p.off+len(lit.text)]) == lit.text {
			n := p.node(yaml.ScalarNode, lit.tag)
			n.Value = lit.text
			p.off += len(lit.text)
			return n, nil
		}
	}
	return nil, errNotJSON
}

// str reads a JSON string; encoding/json decodes its escapes.
func (p *jsonParser) str() (*yaml.Node, error) {
	n := p.node(yaml.ScalarNode, "!!str")
	n.Style = yaml.DoubleQuotedStyle
	start := p.off
	p.off++
	for p.off < len(p.data) {
		switch c := p.data[p.off]; {
		case c == '\\':
			p.off += 2
			continue
		case c == '"':
			p.off++
			var s string
			if err := json.Unmarshal(p.data[start:p.off], &s); err != nil {
				return nil, errNotJSON
			}
			n.Value = s
			return n, nil
		case c < 0x20:
			return nil, errNotJSON
		}
		p.off++
	}
	return nil, errNotJSON
}

// number reads a JSON number. Integers keep the !!int tag (exact, and the
// loader turns those beyond int64 into floats); the rest are !!float.
func (p *jsonParser) number() (*yaml.Node, error) {
	n := p.node(yaml.ScalarNode, "!!int")
	start := p.off
	digits := func() int {
		s := p.off
		for p.off < len(p.data) && p.data[p.off] >= '0' && p.data[p.off] <= '9' {
			p.off++
		}
		return p.off - s
	}
	if p.data[p.off] == '-' {
		p.off++
	}
	first := p.off
	if digits() == 0 || (p.data[first] == '0' && p.off-first > 1) {
		return nil, errNotJSON
	}
	if p.off < len(p.data) && p.data[p.off] == '.' {
		p.off++
		n.Tag = "!!float"
		if digits() == 0 {
			return nil, errNotJSON
		}
	}
	if p.off < len(p.data) && (p.data[p.off] == 'e' || p.data[p.off] == 'E') {
		p.off++
		n.Tag = "!!float"
		if p.off < len(p.data) && (p.data[p.off] == '+' || p.data[p.off] == '-') {
			p.off++
		}
		if digits() == 0 {
			return nil, errNotJSON
		}
	}
	n.Value = string(p.data[start:p.off])
	return n, nil
}
