package expr

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/defacto-dev/defacto/internal/value"
)

// node is one compiled operation. Values are returned by value and errors
// only on failure, so evaluating scalars allocates nothing.
type node interface {
	eval(env *Env) (value.Value, error)
}

func evalErr(pos int, msg string) error { return &EvalError{Msg: msg, Pos: pos} }

var opNames = [...]string{
	tPow: "**", tStar: "*", tSlash: "/", tPlus: "+", tMinus: "-",
	tEq: "==", tNe: "!=", tLt: "<", tLe: "<=", tGt: ">", tGe: ">=",
	tAnd: "and", tOr: "or", tNot: "not",
}

// ---- constants and paths ----

type constNode struct{ v value.Value }

func (n *constNode) eval(*Env) (value.Value, error) { return n.v, nil }

// segment is one path step after the root. idx is the array index the name
// denotes, or -1 when it is not a non-negative integer.
type segment struct {
	name string
	idx  int
}

func newSegment(s string) segment {
	idx := -1
	if s != "" && isDigit(s[0]) {
		if i, err := strconv.Atoi(s); err == nil {
			idx = i
		}
	}
	return segment{name: s, idx: idx}
}

// walk applies path steps (expressions.md §5): Object member, Array element
// by non-negative integer segment, anything else Null. It never errors.
func walk(v value.Value, segs []segment) value.Value {
	for _, s := range segs {
		switch v.Kind() {
		case value.KindObject:
			m, ok := v.AsObject()[s.name]
			if !ok {
				return value.Null
			}
			v = m
		case value.KindArray:
			a := v.AsArray()
			if s.idx < 0 || s.idx >= len(a) {
				return value.Null
			}
			v = a[s.idx]
		default:
			return value.Null
		}
	}
	return v
}

// fieldNode reads root.name, the common case, without a walk.
type fieldNode struct {
	scope func(*Env) Scope
	name  string
}

func (n *fieldNode) eval(env *Env) (value.Value, error) {
	if s := n.scope(env); s != nil {
		v, _ := s.Field(n.name)
		return v, nil
	}
	return value.Null, nil
}

type pathNode struct {
	scope func(*Env) Scope
	first string
	rest  []segment
}

func (n *pathNode) eval(env *Env) (value.Value, error) {
	s := n.scope(env)
	if s == nil {
		return value.Null, nil
	}
	v, ok := s.Field(n.first)
	if !ok {
		return value.Null, nil
	}
	return walk(v, n.rest), nil
}

func eventScope(env *Env) Scope  { return env.Event }
func entityScope(env *Env) Scope { return env.Entity }

// rootNode is a bare event or entity.
type rootNode struct{ scope func(*Env) Scope }

func (n *rootNode) eval(env *Env) (value.Value, error) {
	if o, ok := n.scope(env).(objecter); ok {
		return o.Object(), nil
	}
	return value.Null, nil
}

// valueNode reads the value root, optionally walking into it.
type valueNode struct{ rest []segment }

func (n *valueNode) eval(env *Env) (value.Value, error) {
	if !env.HasValue {
		return value.Null, nil
	}
	return walk(env.Value, n.rest), nil
}

// ---- boolean operators ----

// truth applies boolean context: Bool as is, Null false, others an error.
func truth(v value.Value, pos int, what string) (bool, error) {
	switch v.Kind() {
	case value.KindBool:
		return v.AsBool(), nil
	case value.KindNull:
		return false, nil
	}
	return false, evalErr(pos, what+": expected Bool, got "+v.Kind().String())
}

type andNode struct {
	l, r node
	pos  int
}

func (n *andNode) eval(env *Env) (value.Value, error) {
	a, err := n.l.eval(env)
	if err != nil {
		return value.Null, err
	}
	if t, err := truth(a, n.pos, "'and'"); err != nil || !t {
		return value.False, err
	}
	b, err := n.r.eval(env)
	if err != nil {
		return value.Null, err
	}
	t, err := truth(b, n.pos, "'and'")
	return value.Bool(t), err
}

type orNode struct {
	l, r node
	pos  int
}

func (n *orNode) eval(env *Env) (value.Value, error) {
	a, err := n.l.eval(env)
	if err != nil {
		return value.Null, err
	}
	if t, err := truth(a, n.pos, "'or'"); err != nil || t {
		return value.Bool(t), err
	}
	b, err := n.r.eval(env)
	if err != nil {
		return value.Null, err
	}
	t, err := truth(b, n.pos, "'or'")
	return value.Bool(t), err
}

type notNode struct {
	x   node
	pos int
}

func (n *notNode) eval(env *Env) (value.Value, error) {
	a, err := n.x.eval(env)
	if err != nil {
		return value.Null, err
	}
	t, err := truth(a, n.pos, "'not'")
	return value.Bool(!t), err
}

type ifNode struct {
	cond, then, els node
	pos             int
}

func (n *ifNode) eval(env *Env) (value.Value, error) {
	c, err := n.cond.eval(env)
	if err != nil {
		return value.Null, err
	}
	t, err := truth(c, n.pos, "'if' condition")
	if err != nil {
		return value.Null, err
	}
	if t {
		return n.then.eval(env)
	}
	return n.els.eval(env)
}

// ---- comparison ----

type eqNode struct {
	l, r node
	ne   bool
}

func (n *eqNode) eval(env *Env) (value.Value, error) {
	a, err := n.l.eval(env)
	if err != nil {
		return value.Null, err
	}
	b, err := n.r.eval(env)
	if err != nil {
		return value.Null, err
	}
	return value.Bool(value.Equal(a, b) != n.ne), nil
}

type ordNode struct {
	l, r node
	op   tokKind
	pos  int
}

func (n *ordNode) eval(env *Env) (value.Value, error) {
	a, err := n.l.eval(env)
	if err != nil {
		return value.Null, err
	}
	b, err := n.r.eval(env)
	if err != nil {
		return value.Null, err
	}
	if a.IsNull() || b.IsNull() {
		return value.Null, nil
	}
	var c int
	// Int/Int is the hot path of guards like entity.mrr > 0.
	if a.Kind() == value.KindInt && b.Kind() == value.KindInt {
		x, y := a.AsInt(), b.AsInt()
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	} else if c, err = value.Compare(a, b); err != nil {
		return value.Null, evalErr(n.pos, err.Error())
	}
	switch n.op {
	case tLt:
		return value.Bool(c < 0), nil
	case tLe:
		return value.Bool(c <= 0), nil
	case tGt:
		return value.Bool(c > 0), nil
	}
	return value.Bool(c >= 0), nil
}

// ---- arithmetic ----

type arithNode struct {
	l, r node
	op   tokKind
	pos  int
}

func (n *arithNode) eval(env *Env) (value.Value, error) {
	a, err := n.l.eval(env)
	if err != nil {
		return value.Null, err
	}
	b, err := n.r.eval(env)
	if err != nil {
		return value.Null, err
	}
	return arith(n.op, n.pos, a, b)
}

// maxStringLen caps strings built by evaluation. Nested replace or
// concatenation can grow a string exponentially in the expression size, and
// constant folding would run that at Parse; an error beats running out of
// memory.
const maxStringLen = 16 << 20

const tooLong = "string result longer than 16 MiB"

// The DateTime range of expressions.md §4: 0001-01-01 to 9999-12-31, in µs.
const (
	minDateTime = -62135596800000000
	maxDateTime = 253402300799999999
)

func cannotApply(op tokKind, pos int, a, b value.Value) error {
	return evalErr(pos, "cannot apply '"+opNames[op]+"' to "+a.Kind().String()+" and "+b.Kind().String())
}

func overflow(op tokKind, pos int, what string) error {
	return evalErr(pos, what+" overflow in '"+opNames[op]+"'")
}

// arith implements the table of expressions.md §6.
func arith(op tokKind, pos int, a, b value.Value) (value.Value, error) {
	ka, kb := a.Kind(), b.Kind()
	if ka == value.KindNull || kb == value.KindNull {
		return value.Null, nil
	}
	switch {
	case ka == value.KindInt && kb == value.KindInt:
		return intArith(op, pos, a.AsInt(), b.AsInt())
	case (ka == value.KindInt || ka == value.KindFloat) && (kb == value.KindInt || kb == value.KindFloat):
		x, _ := a.Number()
		y, _ := b.Number()
		return floatArith(op, pos, x, y)
	case ka == value.KindString && kb == value.KindString && op == tPlus:
		if len(a.AsString())+len(b.AsString()) > maxStringLen {
			return value.Null, evalErr(pos, tooLong)
		}
		return value.String(a.AsString() + b.AsString()), nil
	case ka == value.KindDateTime && kb == value.KindDuration && (op == tPlus || op == tMinus),
		ka == value.KindDuration && kb == value.KindDateTime && op == tPlus:
		t, d := a.Micros(), b.Micros()
		if ka == value.KindDuration {
			t, d = d, t
		}
		var r int64
		var ok bool
		if op == tPlus {
			r, ok = addInt(t, d)
		} else {
			r, ok = subInt(t, d)
		}
		if !ok || r < minDateTime || r > maxDateTime {
			return value.Null, evalErr(pos, "DateTime out of range in '"+opNames[op]+"'")
		}
		return value.DateTime(r), nil
	case ka == value.KindDateTime && kb == value.KindDateTime && op == tMinus:
		r, ok := subInt(a.Micros(), b.Micros())
		if !ok {
			return value.Null, overflow(op, pos, "Duration")
		}
		return value.Duration(r), nil
	case ka == value.KindDuration && kb == value.KindDuration:
		x, y := a.Micros(), b.Micros()
		var r int64
		ok := true
		switch op {
		case tPlus:
			r, ok = addInt(x, y)
		case tMinus:
			r, ok = subInt(x, y)
		case tSlash:
			if y == 0 {
				return value.Null, evalErr(pos, "division by zero")
			}
			return value.Float(float64(x) / float64(y)), nil
		default:
			return value.Null, cannotApply(op, pos, a, b)
		}
		if !ok {
			return value.Null, overflow(op, pos, "Duration")
		}
		return value.Duration(r), nil
	case ka == value.KindDuration && (kb == value.KindInt || kb == value.KindFloat) && (op == tStar || op == tSlash),
		(ka == value.KindInt || ka == value.KindFloat) && kb == value.KindDuration && op == tStar:
		d, k := a, b
		if ka != value.KindDuration {
			d, k = b, a
		}
		return scaleDuration(op, pos, d.Micros(), k)
	}
	return value.Null, cannotApply(op, pos, a, b)
}

func intArith(op tokKind, pos int, x, y int64) (value.Value, error) {
	var r int64
	ok := true
	switch op {
	case tPlus:
		r, ok = addInt(x, y)
	case tMinus:
		r, ok = subInt(x, y)
	case tStar:
		r, ok = mulInt(x, y)
	case tSlash:
		if y == 0 {
			return value.Null, evalErr(pos, "division by zero")
		}
		if x == math.MinInt64 && y == -1 {
			return value.Null, overflow(op, pos, "integer")
		}
		r = x / y // Go truncates toward zero, as specified
	case tPow:
		if y < 0 {
			return floatArith(op, pos, float64(x), float64(y))
		}
		r, ok = powInt(x, y)
	}
	if !ok {
		return value.Null, overflow(op, pos, "integer")
	}
	return value.Int(r), nil
}

func floatArith(op tokKind, pos int, x, y float64) (value.Value, error) {
	var r float64
	switch op {
	case tPlus:
		r = x + y
	case tMinus:
		r = x - y
	case tStar:
		r = x * y
	case tSlash:
		if y == 0 {
			return value.Null, evalErr(pos, "division by zero")
		}
		r = x / y
	case tPow:
		r = math.Pow(x, y)
	}
	return finite(op, pos, r)
}

func finite(op tokKind, pos int, r float64) (value.Value, error) {
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return value.Null, evalErr(pos, "'"+opNames[op]+"': result is not a finite number")
	}
	return value.Float(r), nil
}

// scaleDuration multiplies or divides a Duration by a number, truncating to
// whole microseconds toward zero.
func scaleDuration(op tokKind, pos int, d int64, k value.Value) (value.Value, error) {
	if k.Kind() == value.KindInt {
		y := k.AsInt()
		if op == tStar {
			r, ok := mulInt(d, y)
			if !ok {
				return value.Null, overflow(op, pos, "Duration")
			}
			return value.Duration(r), nil
		}
		if y == 0 {
			return value.Null, evalErr(pos, "division by zero")
		}
		if d == math.MinInt64 && y == -1 {
			return value.Null, overflow(op, pos, "Duration")
		}
		return value.Duration(d / y), nil
	}
	y := k.AsFloat()
	var r float64
	if op == tStar {
		r = float64(d) * y
	} else {
		if y == 0 {
			return value.Null, evalErr(pos, "division by zero")
		}
		r = float64(d) / y
	}
	r = math.Trunc(r)
	if math.IsNaN(r) || r < -9223372036854775808.0 || r >= 9223372036854775808.0 {
		return value.Null, overflow(op, pos, "Duration")
	}
	return value.Duration(int64(r)), nil
}

func addInt(x, y int64) (int64, bool) {
	r := x + y
	return r, (x^r)&(y^r) >= 0
}

func subInt(x, y int64) (int64, bool) {
	r := x - y
	return r, (x^y)&(x^r) >= 0
}

func mulInt(x, y int64) (int64, bool) {
	if x == 0 || y == 0 {
		return 0, true
	}
	r := x * y
	if (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) || r/y != x {
		return 0, false
	}
	return r, true
}

// powInt is exponentiation by squaring with overflow checks; y >= 0.
func powInt(x, y int64) (int64, bool) {
	switch x {
	case 0:
		if y == 0 {
			return 1, true
		}
		return 0, true
	case 1:
		return 1, true
	case -1:
		if y%2 == 0 {
			return 1, true
		}
		return -1, true
	}
	r := int64(1)
	ok := true
	for {
		if y&1 == 1 {
			if r, ok = mulInt(r, x); !ok {
				return 0, false
			}
		}
		y >>= 1
		if y == 0 {
			return r, true
		}
		// |x| >= 2 and bits remain, so an overflowing square overflows the result.
		if x, ok = mulInt(x, x); !ok {
			return 0, false
		}
	}
}

type negNode struct {
	x   node
	pos int
}

func (n *negNode) eval(env *Env) (value.Value, error) {
	a, err := n.x.eval(env)
	if err != nil {
		return value.Null, err
	}
	return negate(n.pos, a)
}

func negate(pos int, a value.Value) (value.Value, error) {
	switch a.Kind() {
	case value.KindNull:
		return value.Null, nil
	case value.KindInt:
		if a.AsInt() == math.MinInt64 {
			return value.Null, evalErr(pos, "integer overflow in unary '-'")
		}
		return value.Int(-a.AsInt()), nil
	case value.KindFloat:
		return value.Float(-a.AsFloat()), nil
	case value.KindDuration:
		if a.Micros() == math.MinInt64 {
			return value.Null, evalErr(pos, "Duration overflow in unary '-'")
		}
		return value.Duration(-a.Micros()), nil
	}
	return value.Null, evalErr(pos, "cannot apply unary '-' to "+a.Kind().String())
}

// ---- indexing ----

type indexNode struct {
	x, i node
	pos  int
}

func (n *indexNode) eval(env *Env) (value.Value, error) {
	x, err := n.x.eval(env)
	if err != nil {
		return value.Null, err
	}
	i, err := n.i.eval(env)
	if err != nil {
		return value.Null, err
	}
	return index(n.pos, x, i)
}

// index implements x[i] of expressions.md §5.
func index(pos int, x, i value.Value) (value.Value, error) {
	if x.IsNull() || i.IsNull() {
		return value.Null, nil
	}
	switch {
	case x.Kind() == value.KindArray && i.Kind() == value.KindInt:
		a := x.AsArray()
		k := i.AsInt()
		if k < 0 {
			k += int64(len(a))
		}
		if k < 0 || k >= int64(len(a)) {
			return value.Null, nil
		}
		return a[k], nil
	case x.Kind() == value.KindString && i.Kind() == value.KindInt:
		return codePointAt(x.AsString(), i.AsInt()), nil
	case x.Kind() == value.KindObject && i.Kind() == value.KindString:
		v, ok := x.AsObject()[i.AsString()]
		if !ok {
			return value.Null, nil
		}
		return v, nil
	}
	return value.Null, evalErr(pos, "cannot index "+x.Kind().String()+" with "+i.Kind().String())
}

// codePointAt returns the k-th code point of s as a String (negative k
// counts from the end), or Null when out of range.
func codePointAt(s string, k int64) value.Value {
	if k < 0 {
		k += int64(utf8.RuneCountInString(s))
		if k < 0 {
			return value.Null
		}
	}
	var n int64
	for off := 0; off < len(s); {
		_, size := utf8.DecodeRuneInString(s[off:])
		if n == k {
			return value.String(s[off : off+size])
		}
		n++
		off += size
	}
	return value.Null
}
