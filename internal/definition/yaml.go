package definition

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/defacto-dev/defacto/internal/value"
)

// Limits that keep hostile documents (alias bombs, self-referencing aliases,
// absurd nesting) from exhausting memory or the stack. Real definition sets
// stay orders of magnitude below them.
const (
	maxVisits = 1_000_000
	maxDepth  = 64
)

// pos is a place in a definition file.
type pos struct {
	file      string
	line, col int
}

// entry is one member of a YAML mapping after alias and merge-key expansion.
type entry struct {
	key  string
	k, v *yaml.Node
}

// parseDoc parses one YAML document. It returns nil for an empty document.
func (l *loader) parseDoc(data []byte) *yaml.Node {
	if n, err := parseJSON(data); err == nil {
		return n
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&doc)
	if err == io.EOF {
		return nil
	}
	if err == nil {
		// One document per input; a second one is most likely a stray "---".
		var second yaml.Node
		if dec.Decode(&second) == nil {
			l.add(Problem{Severity: SeverityError, Kind: KindStructure, File: l.file,
				Line: second.Line, Column: second.Column,
				Message: "expected one YAML document, found several (a stray \"---\"?)"})
			return nil
		}
	}
	if err != nil {
		line, col := 0, 0
		msg := err.Error()
		// yaml.v3 reports "yaml: line N: message"; lift N into the position.
		if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
			if i := strings.IndexByte(rest, ':'); i > 0 {
				if n, err := strconv.Atoi(rest[:i]); err == nil {
					line, col = n, 1
					msg = strings.TrimSpace(rest[i+1:])
				}
			}
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		l.add(Problem{Severity: SeverityError, Kind: KindSyntax,
			Message: "invalid YAML: " + msg, File: l.file, Line: line, Column: col})
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if l.isNull(root) {
		return nil
	}
	return root
}

// resolve follows aliases and charges the visit budget. It returns nil once
// the budget is exhausted (the problem is reported once).
func (l *loader) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > maxDepth {
			l.visits = maxVisits // cannot happen with parsed YAML; fail loudly
			break
		}
		n = n.Alias
	}
	l.visits++
	if l.visits > maxVisits {
		if !l.exhausted {
			l.exhausted = true
			l.add(Problem{Severity: SeverityError, Kind: KindStructure, File: l.file,
				Message: "document too large: aliases expand to more than a million nodes"})
		}
		return nil
	}
	return n
}

// isNull reports whether n is absent or a YAML null.
func (l *loader) isNull(n *yaml.Node) bool {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i <= maxDepth; i++ {
		n = n.Alias
	}
	return n == nil || n.Kind == yaml.AliasNode || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names the YAML kind of n for messages ("a list", "a number").
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return describe(n.Alias)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		case "!!str", "!!timestamp":
			return "a string"
		}
		return "a value tagged " + n.Tag
	}
	return "a YAML document"
}

// at returns the position of n in the current file.
func (l *loader) at(n *yaml.Node) pos {
	if n == nil {
		return pos{file: l.file}
	}
	return pos{file: l.file, line: n.Line, col: n.Column}
}

// mark records where the element at path is written: its value node and,
// when it is a mapping member, its key node. Name problems point at the key.
func (l *loader) mark(path string, k, v *yaml.Node) {
	if v != nil {
		if _, ok := l.pos[path]; !ok {
			l.pos[path] = l.at(v)
		}
	}
	if k != nil {
		if _, ok := l.keyPos[path]; !ok {
			l.keyPos[path] = l.at(k)
		}
	}
}

// problem records a problem at path. The position is that of the nearest
// recorded element on the path (a defaulted member points at its owner).
func (l *loader) problem(sev, kind, path, msg string, exprPos int, atKey bool) {
	if kind == KindMissing && l.misspelled[path] {
		// The member is there under a misspelled key, already reported.
		return
	}
	p := Problem{Severity: sev, Kind: kind, Path: path, Message: msg, Name: defName(path), ExprPos: exprPos}
	var where pos
	found := false
	for q := path; ; {
		// The element itself is located by its value (or key, for name
		// problems); a missing element by the key of its nearest owner.
		if atKey || q != path {
			if w, ok := l.keyPos[q]; ok {
				where, found = w, true
			}
		}
		if !found {
			if w, ok := l.pos[q]; ok {
				where, found = w, true
			}
		}
		if found || q == "" {
			break
		}
		q = parentPath(q)
	}
	if !found {
		where = pos{file: l.file}
	}
	p.File, p.Line, p.Column = where.file, where.line, where.col
	l.add(p)
}

func (l *loader) errorf(kind, path, format string, args ...any) {
	l.problem(SeverityError, kind, path, fmt.Sprintf(format, args...), 0, false)
}

// keyErrorf reports a problem with the name of the element at path (its key).
func (l *loader) keyErrorf(kind, path, format string, args ...any) {
	l.problem(SeverityError, kind, path, fmt.Sprintf(format, args...), 0, true)
}

func (l *loader) warnf(kind, path, format string, args ...any) {
	l.problem(SeverityWarning, kind, path, fmt.Sprintf(format, args...), 0, false)
}

func (l *loader) keyWarnf(kind, path, format string, args ...any) {
	l.problem(SeverityWarning, kind, path, fmt.Sprintf(format, args...), 0, true)
}

// parentPath strips the last ".seg" or "[i]" of a YAML path.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// defName extracts the definition name from a path: entities.<name>...
func defName(p string) string {
	_, rest, ok := strings.Cut(p, ".")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ".")
	return name
}

// join builds a child path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// mapping returns the members of a mapping node, expanding aliases and merge
// keys (<<) and reporting duplicate keys. what names the expected content
// for the message when n is not a mapping; ok is false then.
func (l *loader) mapping(n *yaml.Node, path string) ([]entry, bool) {
	n = l.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		l.problemAt(n, KindStructure, path, "expected a mapping, got "+describe(n))
		return nil, false
	}
	var out []entry
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := l.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			return nil, false
		}
		if k.Kind != yaml.ScalarNode {
			l.problemAt(k, KindStructure, path, "mapping keys must be plain names, got "+describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.problemAt(k, KindDuplicateKey, join(path, k.Value),
				fmt.Sprintf("duplicate key %q (first at line %d, column %d)", k.Value, first.Line, first.Column))
			continue
		}
		seen[k.Value] = k
		out = append(out, entry{key: k.Value, k: k, v: v})
	}
	// Merge keys add the members of the merged mappings that the mapping does
	// not define itself; earlier merged mappings win over later ones.
	for _, m := range merges {
		var sources []*yaml.Node
		if mr := l.resolve(m); mr != nil && mr.Kind == yaml.SequenceNode {
			sources = mr.Content
		} else {
			sources = []*yaml.Node{m}
		}
		for _, s := range sources {
			if l.depth >= maxDepth {
				l.errorf(KindStructure, path, "merge keys nested too deeply")
				return out, true
			}
			l.depth++
			members, ok := l.mapping(s, path)
			l.depth--
			if !ok {
				continue
			}
			for _, e := range members {
				if _, dup := seen[e.key]; dup {
					continue
				}
				seen[e.key] = e.k
				out = append(out, e)
			}
		}
	}
	return out, true
}

// problemAt reports a problem located at node n rather than at a path.
func (l *loader) problemAt(n *yaml.Node, kind, path, msg string) {
	w := l.at(n)
	l.add(Problem{Severity: SeverityError, Kind: kind, Path: path, Message: msg,
		Name: defName(path), File: w.file, Line: w.line, Column: w.col})
}

// orderedMapping reads a member whose order matters (identity, properties,
// mappings, schema fields). Besides a mapping it accepts a list of
// single-key mappings, the form the canonical JSON uses because JSON objects
// are unordered.
func (l *loader) orderedMapping(n *yaml.Node, path string) ([]entry, bool) {
	r := l.resolve(n)
	if r == nil {
		return nil, false
	}
	if r.Kind != yaml.SequenceNode {
		return l.mapping(r, path)
	}
	var out []entry
	seen := map[string]*yaml.Node{}
	for i, item := range r.Content {
		members, ok := l.mapping(item, index(path, i))
		if !ok {
			continue
		}
		if len(members) != 1 {
			l.errorf(KindStructure, index(path, i), "each item of an ordered list must be a mapping with exactly one key, got %d keys", len(members))
			continue
		}
		e := members[0]
		if first, dup := seen[e.key]; dup {
			l.problemAt(e.k, KindDuplicateKey, join(path, e.key),
				fmt.Sprintf("duplicate key %q (first at line %d, column %d)", e.key, first.Line, first.Column))
			continue
		}
		seen[e.key] = e.k
		out = append(out, e)
	}
	return out, true
}

// fields reads a mapping with a fixed set of keys. Unknown keys are reported
// with the nearest known key; the known ones are returned by name and their
// positions recorded.
func (l *loader) fields(n *yaml.Node, path string, known ...string) (map[string]entry, bool) {
	members, ok := l.mapping(n, path)
	if !ok {
		return nil, false
	}
	out := make(map[string]entry, len(members))
	for _, e := range members {
		p := join(path, e.key)
		if !contains(known, e.key) {
			l.problemAt(e.k, KindUnknownKey, p, fmt.Sprintf("unknown key %q%s", e.key, didYouMeanOr(e.key, known)))
			if c := suggest(e.key, known); c != "" {
				l.misspelled[join(path, c)] = true
			}
			continue
		}
		l.mark(p, e.k, l.resolveQuiet(e.v))
		out[e.key] = e
	}
	return out, true
}

// didYouMeanOr suggests the nearest key, or lists the valid keys when none
// is near.
func didYouMeanOr(s string, known []string) string {
	if c := suggest(s, known); c != "" {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	if len(known) == 0 {
		return ""
	}
	return "; expected " + quoteList(known)
}

// resolveQuiet follows aliases without charging the budget (for positions).
func (l *loader) resolveQuiet(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i <= maxDepth; i++ {
		n = n.Alias
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// list returns the items of a sequence node.
func (l *loader) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = l.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		l.problemAt(n, KindStructure, path, "expected a list, got "+describe(n))
		return nil, false
	}
	for i, item := range n.Content {
		l.mark(index(path, i), nil, l.resolveQuiet(item))
	}
	return n.Content, true
}

// str reads a string scalar. Numbers and booleans are rejected: a name or a
// path written as 14 is almost always a mistake, and the format says strings.
func (l *loader) str(n *yaml.Node, path string) (string, bool) {
	n = l.resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			return n.Value, true
		}
	}
	l.problemAt(n, KindStructure, path, "expected a string, got "+describe(n))
	return "", false
}

// nonEmptyStr reads a string that must not be empty.
func (l *loader) nonEmptyStr(n *yaml.Node, path string) (string, bool) {
	s, ok := l.str(n, path)
	if ok && s == "" {
		l.errorf(KindMissing, path, "must not be empty")
		return "", false
	}
	return s, ok
}

// exprText reads the source of an expression. Any non-null scalar is
// accepted: `guard: true` and `compute: 42` are expressions too.
func (l *loader) exprText(n *yaml.Node, path string) (string, bool) {
	n = l.resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		l.errorf(KindStructure, path, "expected an expression (a string), got %s", describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		l.errorf(KindMissing, path, "the expression must not be empty")
		return "", false
	}
	return n.Value, true
}

// boolean reads a YAML boolean.
func (l *loader) boolean(n *yaml.Node, path string) (bool, bool) {
	n = l.resolve(n)
	if n == nil {
		return false, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	l.errorf(KindStructure, path, "expected true or false, got %s", describe(n))
	return false, false
}

// literal reads a scalar literal: Null, Bool, Int, Float or String.
// Integers beyond the Int range become Float (the canonical JSON writes
// large numbers as integers, so this keeps round trips lossless); NaN and
// infinities are rejected.
func (l *loader) literal(n *yaml.Node, path string) (value.Value, bool) {
	n = l.resolve(n)
	if n == nil {
		return value.Null, false
	}
	if n.Kind != yaml.ScalarNode {
		l.errorf(KindStructure, path, "expected a literal value, got %s", describe(n))
		return value.Null, false
	}
	switch n.ShortTag() {
	case "!!null":
		return value.Null, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			break
		}
		return value.Bool(b), true
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return value.Int(i), true
		}
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return value.Float(f), true
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil && !math.IsInf(f, 0) {
			return value.Float(f), true
		}
		l.errorf(KindType, path, "number %s is out of range", n.Value)
		return value.Null, false
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			break
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			l.errorf(KindType, path, "number %s is not finite", n.Value)
			return value.Null, false
		}
		return value.Float(f), true
	case "!!str", "!!timestamp":
		return value.String(strings.Clone(n.Value)), true
	}
	l.errorf(KindStructure, path, "expected a literal value, got %s", describe(n))
	return value.Null, false
}

// number reads an Int or Float literal.
func (l *loader) number(n *yaml.Node, path string) (value.Value, bool) {
	v, ok := l.literal(n, path)
	if !ok {
		return v, false
	}
	switch v.Kind() {
	case value.KindInt, value.KindFloat:
		return v, true
	}
	l.errorf(KindType, path, "expected a number, got %s", describe(l.resolveQuiet(n)))
	return value.Null, false
}

// add records a problem, keeping the error count current.
func (l *loader) add(p Problem) {
	if p.Severity == SeverityError {
		l.nerr++
	}
	l.probs = append(l.probs, p)
}
