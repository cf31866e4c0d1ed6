package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DecodeJSON decodes JSON text into generic values with numbers as
// json.Number (objects map[string]any, arrays []any).
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

// ToJSON converts any Go value (a result struct, a slice of them, rows) to
// the generic JSON form the runner compares: it is marshalled with
// encoding/json and decoded with DecodeJSON.
func ToJSON(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return DecodeJSON(data)
}

// ToJSONObject is ToJSON for values that must be objects.
func ToJSONObject(v any) (map[string]any, error) {
	g, err := ToJSON(v)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, nil
	}
	m, ok := g.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a JSON object, got %T", g)
	}
	return m, nil
}

// ToJSONObjects is ToJSON for values that must be arrays of objects.
func ToJSONObjects(v any) ([]map[string]any, error) {
	g, err := ToJSON(v)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return []map[string]any{}, nil
	}
	arr, ok := g.([]any)
	if !ok {
		return nil, fmt.Errorf("expected a JSON array, got %T", g)
	}
	out := make([]map[string]any, len(arr))
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("element %d: expected a JSON object, got %T", i, e)
		}
		out[i] = m
	}
	return out, nil
}

// resolveAlias follows YAML alias nodes.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// NodeToJSON writes a YAML node as exact JSON text: integers verbatim (in
// decimal), floats as written when that is valid JSON, strings escaped,
// mappings as objects in document order.
func NodeToJSON(n *yaml.Node) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, n); err != nil {
		return nil, err
	}
	return json.RawMessage(buf.Bytes()), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	n = resolveAlias(n)
	if n == nil {
		buf.WriteString("null")
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			buf.WriteString("null")
			return nil
		}
		return writeJSON(buf, n.Content[0])
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolveAlias(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: mapping keys must be scalars", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, k.Value)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		s, err := scalarJSON(n)
		if err != nil {
			return err
		}
		buf.WriteString(s)
		return nil
	}
	return fmt.Errorf("line %d: unsupported YAML node kind %v", n.Line, n.Kind)
}

func writeJSONString(buf *bytes.Buffer, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	buf.Write(bytes.TrimRight(b.Bytes(), "\n"))
}

// scalarJSON renders one scalar as JSON text.
func scalarJSON(n *yaml.Node) (string, error) {
	switch n.ShortTag() {
	case "!!null":
		return "null", nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return "", fmt.Errorf("line %d: %v", n.Line, err)
		}
		return strconv.FormatBool(b), nil
	case "!!int":
		num, err := yamlInt(n.Value)
		if err != nil {
			return "", fmt.Errorf("line %d: %v", n.Line, err)
		}
		return num, nil
	case "!!float":
		num, err := yamlFloat(n.Value)
		if err != nil {
			return "", fmt.Errorf("line %d: %v", n.Line, err)
		}
		return num, nil
	case "!!str", "!!timestamp", "!!binary":
		var b bytes.Buffer
		writeJSONString(&b, n.Value)
		return b.String(), nil
	}
	return "", fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, n.Tag)
}

// yamlInt renders a YAML integer in decimal, exactly.
func yamlInt(text string) (string, error) {
	t := strings.ReplaceAll(text, "_", "")
	if isJSONNumber(t) {
		return t, nil
	}
	neg := false
	switch {
	case strings.HasPrefix(t, "-"):
		neg, t = true, t[1:]
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(t, "0x"), strings.HasPrefix(t, "0X"):
		base, t = 16, t[2:]
	case strings.HasPrefix(t, "0o"), strings.HasPrefix(t, "0O"):
		base, t = 8, t[2:]
	case strings.HasPrefix(t, "0b"), strings.HasPrefix(t, "0B"):
		base, t = 2, t[2:]
	case len(t) > 1 && t[0] == '0':
		base, t = 8, t[1:] // YAML 1.1 octal
	}
	var z big.Int
	if _, ok := z.SetString(t, base); !ok {
		return "", fmt.Errorf("invalid integer %q", text)
	}
	if neg {
		z.Neg(&z)
	}
	return z.String(), nil
}

// yamlFloat renders a YAML float as written when that is valid JSON, else
// as the shortest decimal of its value.
func yamlFloat(text string) (string, error) {
	if isJSONNumber(text) {
		return text, nil
	}
	t := strings.ReplaceAll(strings.TrimPrefix(text, "+"), "_", "")
	if isJSONNumber(t) {
		return t, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return "", fmt.Errorf("float %q cannot be written as JSON", text)
	}
	if strings.ContainsAny(strings.ToLower(t), "in") { // inf, nan
		return "", fmt.Errorf("float %q cannot be written as JSON", text)
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// isJSONNumber reports whether s is a JSON number literal.
func isJSONNumber(s string) bool {
	i := 0
	n := len(s)
	if i < n && s[i] == '-' {
		i++
	}
	if i >= n {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < n && s[i] == '.' {
		i++
		start := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == n
}

// NodeValue converts a YAML node to the runner's generic form: nil, bool,
// json.Number, string, []any and map[string]any — the same shapes
// DecodeJSON produces, so expected and actual values compare alike.
func NodeValue(n *yaml.Node) (any, error) {
	raw, err := NodeToJSON(n)
	if err != nil {
		return nil, err
	}
	return DecodeJSON(raw)
}

// NodeYAML re-encodes a YAML node as YAML text.
func NodeYAML(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
