package expr

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/defacto-dev/defacto/internal/value"
)

// compiler turns the AST into evaluation nodes, collects refs and runs the
// static checks that need resolved names and constant arguments.
type compiler struct {
	prog *Program
	src  string
	err  *Error
}

func (c *compiler) fail(off int, msg string) {
	if c.err == nil {
		c.err = &Error{Pos: column(c.src, off), Msg: msg, Src: c.src}
	}
}

func checkUTF8(src string) *Error {
	if utf8.ValidString(src) {
		return nil
	}
	for i, r := range src {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(src[i:]); n == 1 {
				return &Error{Pos: column(src, i), Msg: "invalid UTF-8 in expression", Src: src}
			}
		}
	}
	return &Error{Pos: 1, Msg: "invalid UTF-8 in expression", Src: src}
}

func isConst(n node) (value.Value, bool) {
	if k, ok := n.(*constNode); ok {
		return k.v, true
	}
	return value.Null, false
}

// fold replaces a node whose inputs are all constants by its value, when
// evaluating it succeeds. A failing constant (1 / 0) is kept so that the
// error surfaces at run time, where the spec puts it: inside a lazy
// coalesce argument or a short-circuited branch it must not fail at all.
func fold(n node, inputs ...node) node {
	for _, in := range inputs {
		if _, ok := isConst(in); !ok {
			return n
		}
	}
	v, err := n.eval(&emptyEnv)
	if err != nil {
		return n
	}
	return &constNode{v: v}
}

func (c *compiler) compile(a *ast) node {
	if c.err != nil || a == nil {
		return &constNode{}
	}
	pos := column(c.src, a.pos)
	switch a.kind {
	case aLit:
		return &constNode{v: a.val}
	case aPath:
		return c.path(a, pos)
	case aUnary:
		x := c.compile(a.args[0])
		if a.op == tNot {
			return fold(&notNode{x: x, pos: pos}, x)
		}
		return fold(&negNode{x: x, pos: pos}, x)
	case aBinary:
		l, r := c.compile(a.args[0]), c.compile(a.args[1])
		var n node
		switch a.op {
		case tAnd:
			// Short-circuit: a constant false/null left side decides alone.
			if v, ok := isConst(l); ok && (v.Kind() == value.KindNull || v.Kind() == value.KindBool && !v.AsBool()) {
				return &constNode{v: value.False}
			}
			n = &andNode{l: l, r: r, pos: pos}
		case tOr:
			if v, ok := isConst(l); ok && v.Kind() == value.KindBool && v.AsBool() {
				return &constNode{v: value.True}
			}
			n = &orNode{l: l, r: r, pos: pos}
		case tEq, tNe:
			n = &eqNode{l: l, r: r, ne: a.op == tNe}
		case tLt, tLe, tGt, tGe:
			n = &ordNode{l: l, r: r, op: a.op, pos: pos}
		default:
			n = &arithNode{l: l, r: r, op: a.op, pos: pos}
		}
		return fold(n, l, r)
	case aIndex:
		x, i := c.compile(a.args[0]), c.compile(a.args[1])
		return fold(&indexNode{x: x, i: i, pos: pos}, x, i)
	case aIf:
		cond, then, els := c.compile(a.args[0]), c.compile(a.args[1]), c.compile(a.args[2])
		if v, ok := isConst(cond); ok {
			switch v.Kind() {
			case value.KindBool:
				if v.AsBool() {
					return then
				}
				return els
			case value.KindNull:
				return els
			}
		}
		return &ifNode{cond: cond, then: then, els: els, pos: pos}
	case aCall:
		return c.call(a, pos)
	}
	c.fail(a.pos, "internal error: unknown node")
	return &constNode{}
}

func (c *compiler) path(a *ast, pos int) node {
	p := c.prog
	c.prog.refs = append(c.prog.refs, Ref{Root: a.root, Path: a.path, Pos: pos})
	segs := make([]segment, len(a.path))
	for i, s := range a.path {
		segs[i] = newSegment(s)
	}
	var scope func(*Env) Scope
	switch a.root {
	case RootEvent:
		p.event = true
		scope = eventScope
	case RootEntity:
		p.entity = true
		scope = entityScope
	default:
		p.value = true
		return &valueNode{rest: segs}
	}
	switch len(segs) {
	case 0:
		return &rootNode{scope: scope}
	case 1:
		return &fieldNode{scope: scope, name: a.path[0]}
	}
	return &pathNode{scope: scope, first: a.path[0], rest: segs[1:]}
}

func (c *compiler) call(a *ast, pos int) node {
	fn, ok := functions[a.name]
	if !ok {
		msg := "unknown function " + strconv.Quote(a.name)
		if s := suggest(a.name); s != "" {
			msg += "; did you mean " + strconv.Quote(s) + "?"
		}
		c.fail(a.pos, msg)
		return &constNode{}
	}
	if len(a.args) < fn.min || (fn.max >= 0 && len(a.args) > fn.max) {
		c.fail(a.pos, arityMsg(fn, len(a.args)))
		return &constNode{}
	}
	if fn.clock {
		c.prog.usesNow = true
	}
	args := make([]node, len(a.args))
	for i, x := range a.args {
		args[i] = c.compile(x)
	}
	if fn.name == "coalesce" {
		// Drop leading constant Nulls; a leading constant non-Null decides.
		for len(args) > 1 {
			v, ok := isConst(args[0])
			if !ok || !v.IsNull() {
				break
			}
			args = args[1:]
		}
		if v, ok := isConst(args[0]); ok && !v.IsNull() || len(args) == 1 {
			return args[0]
		}
		return &coalesceNode{args: args}
	}
	n := &callNode{fn: fn, args: args, pos: pos, prog: c.prog}
	switch fn.name {
	case "regex_match", "regex_extract":
		if v, ok := isConst(args[1]); ok && v.Kind() == value.KindString {
			re, err := regexp.Compile(v.AsString())
			if err != nil {
				c.fail(a.args[1].start, fn.name+": invalid pattern: "+err.Error())
				return n
			}
			n.re, n.hasRe = re, true
		}
	case "date_trunc":
		if v, ok := isConst(args[1]); ok && v.Kind() == value.KindString && !truncUnits[v.AsString()] {
			c.fail(a.args[1].start, "date_trunc: "+badUnit(v.AsString()))
			return n
		}
	case "parse_datetime":
		// A constant format is compiled once; an invalid one is reported
		// when the function runs, as the spec makes it a runtime error.
		if v, ok := isConst(args[1]); ok && v.Kind() == value.KindString {
			if f, err := compileFormat(v.AsString()); err == nil {
				n.dtf = f
			}
		}
	}
	if fn.clock {
		return n
	}
	return fold(n, args...)
}

func arityMsg(fn *function, got int) string {
	var want string
	switch {
	case fn.max < 0:
		want = "at least " + plural(fn.min)
	case fn.min == fn.max:
		want = plural(fn.min)
	default:
		want = strconv.Itoa(fn.min) + " to " + plural(fn.max)
	}
	return fn.name + " expects " + want + ", got " + strconv.Itoa(got)
}

func plural(n int) string {
	if n == 1 {
		return "1 argument"
	}
	return strconv.Itoa(n) + " arguments"
}

// suggest returns the known function nearest to name, or "" when nothing is
// close. A bare name that matches the tail of a namespaced one (trim →
// str::trim, abs → math::abs) is always suggested.
func suggest(name string) string {
	names := make([]string, 0, len(functions))
	for k := range functions {
		names = append(names, k)
	}
	sort.Strings(names)
	tail := name
	if i := strings.LastIndex(name, "::"); i >= 0 {
		tail = name[i+2:]
	}
	for _, k := range names {
		if strings.HasSuffix(k, "::"+tail) || k == tail {
			return k
		}
	}
	best, bestD := "", 1<<30
	for _, k := range names {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= 2 || bestD*3 <= len(name) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
