package expr

import (
	"strconv"

	"github.com/defacto-dev/defacto/internal/value"
)

type astKind uint8

const (
	aLit    astKind = iota
	aPath           // root + segments
	aUnary          // op: tMinus, tNot
	aBinary         // op: arithmetic, comparison, and/or
	aIndex          // args[0][args[1]]
	aIf             // args: cond, then, else
	aCall           // name, args
)

// ast is the parsed tree; compile turns it into evaluation nodes.
type ast struct {
	kind   astKind
	op     tokKind
	pos    int // byte offset of the operator, function name, path root or literal
	start  int // byte offset where the node's text begins (for argument errors)
	val    value.Value
	name   string
	root   Root
	path   []string
	args   []*ast
	height int
}

// maxHeight bounds the nesting of the tree. Parsing and evaluation recurse
// over it, and a Go stack overflow is fatal rather than a recoverable panic,
// so pathological input must be rejected at parse time.
const maxHeight = 500

type parser struct {
	lx  lexer
	tok token
	err *Error
}

func (p *parser) advance() {
	if p.err != nil {
		return
	}
	t, err := p.lx.next()
	if err != nil {
		p.err = err
		p.tok = token{kind: tEOF, pos: len(p.lx.src), end: len(p.lx.src)}
		return
	}
	p.tok = t
}

func (p *parser) fail(off int, msg string) {
	if p.err == nil {
		p.err = &Error{Pos: column(p.lx.src, off), Msg: msg, Src: p.lx.src}
	}
}

// describe names the current token for messages: its source text, or "end
// of expression".
func (p *parser) describe() string {
	if p.tok.kind == tEOF {
		return "end of expression"
	}
	text := p.lx.src[p.tok.pos:p.tok.end]
	if len([]rune(text)) > 40 {
		text = string([]rune(text)[:37]) + "..."
	}
	return strconv.Quote(text)
}

func (p *parser) unexpected(expected string) {
	if p.tok.kind == tEOF {
		p.fail(p.tok.pos, "unexpected end of expression; expected "+expected)
		return
	}
	p.fail(p.tok.pos, "unexpected "+p.describe()+"; expected "+expected)
}

func (p *parser) expect(k tokKind, what string) bool {
	if p.tok.kind != k {
		p.unexpected(what)
		return false
	}
	p.advance()
	return true
}

func (p *parser) mk(kind astKind, op tokKind, pos int, args ...*ast) *ast {
	n := &ast{kind: kind, op: op, pos: pos, start: pos, args: args}
	for _, a := range args {
		if a == nil {
			continue
		}
		if a.height >= n.height {
			n.height = a.height + 1
		}
		n.start = min(n.start, a.start)
	}
	if n.height > maxHeight {
		p.fail(pos, "expression is nested too deeply")
	}
	return n
}

func parse(src string) (*ast, *Error) {
	p := &parser{lx: lexer{src: src}}
	p.advance()
	n := p.expr(0)
	if p.err == nil && p.tok.kind != tEOF {
		if isCmp(p.tok.kind) {
			p.fail(p.tok.pos, "unexpected "+p.describe()+"; comparisons are non-associative, use parentheses")
		} else {
			p.unexpected("an operator or end of expression")
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	return n, nil
}

// depth counts recursion through the grammar so that deep nesting stops
// with an error before it can exhaust the stack.
func (p *parser) enter(depth int) bool {
	if depth > maxHeight {
		p.fail(p.tok.pos, "expression is nested too deeply")
		return false
	}
	return p.err == nil
}

func (p *parser) expr(d int) *ast { return p.or(d) }

func (p *parser) or(d int) *ast {
	l := p.and(d)
	for p.err == nil && p.tok.kind == tOr {
		pos := p.tok.pos
		p.advance()
		l = p.mk(aBinary, tOr, pos, l, p.and(d))
	}
	return l
}

func (p *parser) and(d int) *ast {
	l := p.not(d)
	for p.err == nil && p.tok.kind == tAnd {
		pos := p.tok.pos
		p.advance()
		l = p.mk(aBinary, tAnd, pos, l, p.not(d))
	}
	return l
}

func (p *parser) not(d int) *ast {
	if !p.enter(d) {
		return nil
	}
	if p.tok.kind == tNot {
		pos := p.tok.pos
		p.advance()
		return p.mk(aUnary, tNot, pos, p.not(d+1))
	}
	return p.cmp(d)
}

func isCmp(k tokKind) bool { return k >= tEq && k <= tGe }

func (p *parser) cmp(d int) *ast {
	l := p.add(d)
	if p.err == nil && isCmp(p.tok.kind) {
		op, pos := p.tok.kind, p.tok.pos
		p.advance()
		l = p.mk(aBinary, op, pos, l, p.add(d))
		if p.err == nil && isCmp(p.tok.kind) {
			p.fail(p.tok.pos, "unexpected "+p.describe()+"; comparisons are non-associative, use parentheses")
		}
	}
	return l
}

func (p *parser) add(d int) *ast {
	l := p.mul(d)
	for p.err == nil && (p.tok.kind == tPlus || p.tok.kind == tMinus) {
		op, pos := p.tok.kind, p.tok.pos
		p.advance()
		l = p.mk(aBinary, op, pos, l, p.mul(d))
	}
	return l
}

func (p *parser) mul(d int) *ast {
	l := p.unary(d)
	for p.err == nil && (p.tok.kind == tStar || p.tok.kind == tSlash) {
		op, pos := p.tok.kind, p.tok.pos
		p.advance()
		l = p.mk(aBinary, op, pos, l, p.unary(d))
	}
	return l
}

func (p *parser) unary(d int) *ast {
	if !p.enter(d) {
		return nil
	}
	if p.tok.kind == tMinus {
		pos := p.tok.pos
		p.advance()
		return p.mk(aUnary, tMinus, pos, p.unary(d+1))
	}
	return p.power(d)
}

func (p *parser) power(d int) *ast {
	base := p.postfix(d)
	if p.err == nil && p.tok.kind == tPow {
		pos := p.tok.pos
		p.advance()
		return p.mk(aBinary, tPow, pos, base, p.unary(d+1))
	}
	return base
}

func (p *parser) postfix(d int) *ast {
	n := p.primary(d)
	for p.err == nil && p.tok.kind == tLBrack {
		pos := p.tok.pos
		p.advance()
		idx := p.expr(d + 1)
		if !p.expect(tRBrack, `"]"`) {
			return n
		}
		n = p.mk(aIndex, 0, pos, n, idx)
	}
	return n
}

func (p *parser) primary(d int) *ast {
	if !p.enter(d) {
		return nil
	}
	t := p.tok
	switch t.kind {
	case tInt:
		p.advance()
		return &ast{kind: aLit, pos: t.pos, start: t.pos, val: value.Int(t.ival)}
	case tFloat:
		p.advance()
		return &ast{kind: aLit, pos: t.pos, start: t.pos, val: value.Float(t.fval)}
	case tDuration:
		p.advance()
		return &ast{kind: aLit, pos: t.pos, start: t.pos, val: value.Duration(t.ival)}
	case tString:
		p.advance()
		return &ast{kind: aLit, pos: t.pos, start: t.pos, val: value.String(t.text)}
	case tLParen:
		p.advance()
		n := p.expr(d + 1)
		p.expect(tRParen, `")"`)
		if n != nil {
			n.start = t.pos
		}
		return n
	case tKeyword:
		switch t.text {
		case "true":
			p.advance()
			return &ast{kind: aLit, pos: t.pos, start: t.pos, val: value.True}
		case "false":
			p.advance()
			return &ast{kind: aLit, pos: t.pos, start: t.pos, val: value.False}
		case "null":
			p.advance()
			return &ast{kind: aLit, pos: t.pos, start: t.pos}
		case "if":
			p.advance()
			cond := p.expr(d + 1)
			if p.err != nil || !p.expectWord("then") {
				return nil
			}
			then := p.expr(d + 1)
			if p.err != nil || !p.expectWord("else") {
				return nil
			}
			return p.mk(aIf, 0, t.pos, cond, then, p.expr(d+1))
		}
	case tIdent:
		p.advance()
		if p.tok.kind == tLParen || p.tok.kind == tScope {
			return p.call(t, d)
		}
		return p.path(t)
	}
	p.unexpected("an expression")
	return nil
}

func (p *parser) expectWord(w string) bool {
	if p.tok.kind == tKeyword && p.tok.text == w {
		p.advance()
		return true
	}
	p.unexpected(strconv.Quote(w))
	return false
}

func (p *parser) call(name token, d int) *ast {
	n := &ast{kind: aCall, pos: name.pos, start: name.pos, name: name.text}
	if p.tok.kind == tScope {
		p.advance()
		if p.tok.kind != tIdent {
			p.unexpected("a function name after \"::\"")
			return nil
		}
		n.name += "::" + p.tok.text
		p.advance()
	}
	if !p.expect(tLParen, `"("`) {
		return nil
	}
	for p.err == nil && p.tok.kind != tRParen {
		a := p.expr(d + 1)
		if p.err != nil {
			return nil
		}
		n.args = append(n.args, a)
		if a.height >= n.height {
			n.height = a.height + 1
		}
		if p.tok.kind == tComma {
			p.advance()
			continue
		}
		if p.tok.kind != tRParen {
			p.unexpected(`"," or ")"`)
			return nil
		}
	}
	p.expect(tRParen, `")"`)
	return n
}

// path parses root ("." segment)*. The lexer is asked for a segment right
// after each "." so that digits stay a segment and keywords are names.
func (p *parser) path(root token) *ast {
	n := &ast{kind: aPath, pos: root.pos, start: root.pos, name: root.text}
	switch root.text {
	case "event":
		n.root = RootEvent
	case "entity":
		n.root = RootEntity
	case "value":
		n.root = RootValue
	default:
		p.fail(root.pos, "unknown name "+strconv.Quote(root.text)+"; expected event, entity, value or a function call")
		return nil
	}
	for p.err == nil && p.tok.kind == tDot {
		// The current token is the dot and nothing after it has been lexed.
		seg, ok := p.lx.segment()
		if !ok {
			p.lx.skipSpace()
			p.tok = token{kind: tEOF, pos: p.lx.off, end: p.lx.off}
			if p.lx.off < len(p.lx.src) {
				// Re-lex to describe the offending token.
				save := p.lx.off
				if t, err := p.lx.next(); err == nil {
					p.tok = t
				} else {
					p.tok = token{kind: tIdent, pos: save, end: save + 1}
				}
			}
			p.unexpected("a name or index after \".\"")
			return nil
		}
		n.path = append(n.path, seg.text)
		p.advance()
	}
	return n
}
