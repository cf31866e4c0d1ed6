package expr

import (
	"fmt"
	"sync"

	"github.com/defacto-dev/defacto/internal/value"
)

// Root is one of the three variables an expression can read.
type Root uint8

// The roots of expressions.md §1.
const (
	RootEvent Root = iota + 1
	RootEntity
	RootValue
)

func (r Root) String() string {
	switch r {
	case RootEvent:
		return "event"
	case RootEntity:
		return "entity"
	case RootValue:
		return "value"
	}
	return fmt.Sprintf("Root(%d)", uint8(r))
}

// Error is a parse or static-check error. Pos is the 1-based code-point
// position in Src; the caller adds the place (file, YAML path).
type Error struct {
	Pos int
	Msg string
	Src string
}

func (e *Error) Error() string { return fmt.Sprintf("position %d: %s", e.Pos, e.Msg) }

// EvalError is a runtime error. Msg names the operator or function and the
// types involved; Pos is the 1-based code-point position of that operator or
// function in Src.
type EvalError struct {
	Msg string
	Pos int
	Src string
}

func (e *EvalError) Error() string {
	if e.Src == "" {
		return fmt.Sprintf("%s (at position %d)", e.Msg, e.Pos)
	}
	return fmt.Sprintf("%s (at position %d in %q)", e.Msg, e.Pos, e.Src)
}

// Ref is a root reference found in a program, for load-time checks (a root
// the context lacks, properties read by expressions). For event.items.0.id:
// Root=RootEvent, Path=["items","0","id"]. A bare root has an empty Path.
type Ref struct {
	Root Root
	Path []string
	Pos  int
}

// Scope supplies the members of a root (event or entity). Lookups happen on
// every evaluation, so implementations must not allocate.
//
// A Scope may also implement Object() value.Value to give the bare root
// (`event` alone, e.g. in to_string(event)) a value; otherwise it is Null.
type Scope interface {
	Field(name string) (value.Value, bool)
}

// objecter is the optional whole-root view of a Scope.
type objecter interface{ Object() value.Value }

// MapScope is a Scope over a map.
type MapScope map[string]value.Value

// Field returns the member name.
func (m MapScope) Field(name string) (value.Value, bool) {
	v, ok := m[name]
	return v, ok
}

// Object returns the whole map as an Object value.
func (m MapScope) Object() value.Value { return value.Object(m) }

// ObjectScope returns a Scope over the members of an Object value (no
// members for other kinds). It does not allocate: the map is the scope.
func ObjectScope(v value.Value) Scope { return MapScope(v.AsObject()) }

// Env binds the roots for one evaluation. It is read-only during Eval, so
// one Env may be reused (and mutated between calls) by its owner.
type Env struct {
	Event    Scope // nil: the root is absent and every event.* is Null
	Entity   Scope // nil: likewise for entity.*
	Value    value.Value
	HasValue bool  // false: `value` is Null
	Now      int64 // µs since the epoch, read by now() and days_since(); the caller picks the clock
}

var emptyEnv Env

// Program is a parsed, checked and compiled expression. It is immutable and
// safe for concurrent use.
type Program struct {
	src      string
	root     node
	refs     []Ref
	event    bool
	entity   bool
	value    bool
	usesNow  bool
	constant bool
	regexes  *regexCache
}

// Parse parses and statically checks src: syntax, unknown functions (with
// the nearest name as a suggestion), arity, constant regex patterns that do
// not compile and constant date_trunc units that are not allowed. The error
// is an *Error.
func Parse(src string) (*Program, error) {
	if err := checkUTF8(src); err != nil {
		return nil, err
	}
	tree, perr := parse(src)
	if perr != nil {
		return nil, perr
	}
	p := &Program{src: src, regexes: &regexCache{}}
	c := compiler{prog: p, src: src}
	root := c.compile(tree)
	if c.err != nil {
		return nil, c.err
	}
	p.root = root
	p.constant = !p.event && !p.entity && !p.value && !p.usesNow
	return p, nil
}

// MustParse is Parse that panics on error; for tests and fixed expressions.
func MustParse(src string) *Program {
	p, err := Parse(src)
	if err != nil {
		panic(fmt.Sprintf("expr.MustParse(%q): %v", src, err))
	}
	return p
}

// Source returns the expression text.
func (p *Program) Source() string { return p.src }

// Refs returns every root reference in source order. The slice is shared.
func (p *Program) Refs() []Ref { return p.refs }

// Roots reports which roots the program reads.
func (p *Program) Roots() (event, entity, value bool) { return p.event, p.entity, p.value }

// IsConstant reports whether the result depends on nothing: no root and no
// clock (now, days_since).
func (p *Program) IsConstant() bool { return p.constant }

// Eval evaluates the program. A nil env binds nothing (all roots Null, now()
// is the epoch). Errors are *EvalError.
func (p *Program) Eval(env *Env) (value.Value, error) {
	if env == nil {
		env = &emptyEnv
	}
	v, err := p.root.eval(env)
	if err != nil {
		return value.Null, p.wrap(err)
	}
	return v, nil
}

// EvalBool evaluates in boolean context, for guards and conditions: Null is
// false and any type other than Bool is an *EvalError.
func (p *Program) EvalBool(env *Env) (bool, error) {
	if env == nil {
		env = &emptyEnv
	}
	v, err := p.root.eval(env)
	if err != nil {
		return false, p.wrap(err)
	}
	switch v.Kind() {
	case value.KindBool:
		return v.AsBool(), nil
	case value.KindNull:
		return false, nil
	}
	return false, &EvalError{Msg: "condition must be Bool, got " + v.Kind().String(), Pos: 1, Src: p.src}
}

func (p *Program) wrap(err error) error {
	if e, ok := err.(*EvalError); ok {
		e.Src = p.src
	}
	return err
}

// String returns the source, so a Program prints as its expression.
func (p *Program) String() string { return p.src }

// regexCache holds compiled dynamic patterns (patterns that are not
// constants). It is bounded so event data cannot grow it without limit.
type regexCache struct {
	mu sync.RWMutex
	m  map[string]regexEntry
}

const regexCacheSize = 64
