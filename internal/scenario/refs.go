package scenario

import (
	"fmt"
	"regexp"
	"strings"
)

// Ref kinds (README §5).
const (
	RefBy     = "by"     // <type> by <field> <value>
	RefHandle = "handle" // $name
	RefID     = "id"     // id <literal>
)

// Ref is a parsed entity reference.
type Ref struct {
	Kind  string
	Text  string // as written
	Type  string // RefBy
	Field string // RefBy
	Value string // RefBy: the probe value; RefID: the literal id
	Name  string // RefHandle: the handle name without $
}

func (r Ref) String() string { return r.Text }

// ParseRef parses a ref. With defs, a by ref must name a declared entity type
// and one of its identity fields.
func ParseRef(s string, defs *Defs) (Ref, error) {
	r := Ref{Text: s}
	switch {
	case strings.HasPrefix(s, "$"):
		r.Kind, r.Name = RefHandle, s[1:]
		if !handleNameRE.MatchString(r.Name) {
			return r, fmt.Errorf("invalid handle %q", s)
		}
		return r, nil
	case strings.HasPrefix(s, "id "):
		r.Kind, r.Value = RefID, s[len("id "):]
		if r.Value == "" {
			return r, fmt.Errorf("empty id in ref %q", s)
		}
		return r, nil
	}
	parts := strings.SplitN(s, " ", 4)
	if len(parts) < 4 || parts[1] != "by" || parts[0] == "" || parts[2] == "" || parts[3] == "" {
		return r, fmt.Errorf("not a ref: %q (want '<type> by <field> <value>', '$handle' or 'id <literal>')", s)
	}
	r.Kind, r.Type, r.Field, r.Value = RefBy, parts[0], parts[2], parts[3]
	if defs != nil {
		e := defs.Entities[r.Type]
		if e == nil {
			return r, fmt.Errorf("ref %q: %q is not a declared entity type", s, r.Type)
		}
		if !e.HasIdentity(r.Field) {
			return r, fmt.Errorf("ref %q: %q is not an identity field of %s (have %s)", s, r.Field, r.Type, strings.Join(e.Identity, ", "))
		}
	}
	return r, nil
}

var handleTokenRE = regexp.MustCompile(`\$[A-Za-z_][A-Za-z0-9_]*`)

// Substitute replaces every $name token of s whose handle is bound.
func Substitute(s string, handles map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return handleTokenRE.ReplaceAllStringFunc(s, func(tok string) string {
		if v, ok := handles[tok[1:]]; ok {
			return v
		}
		return tok
	})
}
