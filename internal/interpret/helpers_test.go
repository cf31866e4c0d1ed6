package interpret

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/value"
)

// This file builds definition models by hand, so the package's tests do not
// depend on the YAML loader.

func ts(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func prog(src string) *expr.Program {
	p, err := expr.Parse(src)
	if err != nil {
		panic(fmt.Sprintf("parse %q: %v", src, err))
	}
	return p
}

func fptr(f float64) *float64 { return &f }

type propOpt func(*definition.Property)

func def(v value.Value) propOpt  { return func(p *definition.Property) { p.Default = v } }
func compute(src string) propOpt { return func(p *definition.Property) { p.Compute = prog(src) } }
func minmax(lo, hi float64) propOpt {
	return func(p *definition.Property) { p.Min, p.Max = fptr(lo), fptr(hi) }
}
func allowed(vs ...string) propOpt {
	return func(p *definition.Property) {
		for _, v := range vs {
			p.Allowed = append(p.Allowed, value.String(v))
		}
	}
}

func prop(name string, typ definition.Type, opts ...propOpt) *definition.Property {
	p := &definition.Property{Name: name, Type: typ}
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(event, guard string, effs ...*definition.Effect) *definition.Handler {
	h := &definition.Handler{EventType: event, Effects: effs}
	if guard != "" {
		h.Guard = prog(guard)
	}
	for _, e := range effs {
		if e.Kind == definition.EffectCreate {
			h.Creates = true
		}
	}
	return h
}

func create() *definition.Effect { return &definition.Effect{Kind: definition.EffectCreate} }

func transition(to string) *definition.Effect {
	return &definition.Effect{Kind: definition.EffectTransition, To: to}
}

func fromRef(ref string) definition.ValueSource {
	parts := strings.Split(ref, ".")
	root := expr.RootEvent
	if parts[0] == "entity" {
		root = expr.RootEntity
	}
	return definition.ValueSource{FromRoot: root, FromPath: parts[1:], FromText: ref}
}

func setFrom(p, ref string) *definition.Effect {
	return &definition.Effect{Kind: definition.EffectSet, Property: p, Source: fromRef(ref)}
}

func setValue(p string, v value.Value) *definition.Effect {
	return &definition.Effect{Kind: definition.EffectSet, Property: p, Source: definition.ValueSource{Value: v, HasValue: true}}
}

func setCompute(p, src string) *definition.Effect {
	return &definition.Effect{Kind: definition.EffectSet, Property: p, Source: definition.ValueSource{Compute: prog(src)}}
}

func incr(p string, by value.Value) *definition.Effect {
	if by.IsNull() {
		by = value.Int(1)
	}
	return &definition.Effect{Kind: definition.EffectIncrement, Property: p, By: by}
}

func when(cond string, e *definition.Effect) *definition.Effect {
	e.Condition = prog(cond)
	return e
}

func relate(typ, target string, hints []string, props ...definition.RelateProperty) *definition.Effect {
	return &definition.Effect{Kind: definition.EffectRelate, Relate: &definition.Relate{
		Type: typ, Target: target, Hints: hints, Properties: props,
	}}
}

func relProp(name, ref string) definition.RelateProperty {
	return definition.RelateProperty{Name: name, Source: fromRef(ref)}
}

func rule(typ string, threshold time.Duration, effs ...*definition.Effect) *definition.TimeRule {
	return &definition.TimeRule{Type: typ, Threshold: threshold.Microseconds(), Effects: effs}
}

type stateDef struct {
	name  string
	when  []*definition.Handler
	after []*definition.TimeRule
}

func state(name string, hs ...*definition.Handler) stateDef { return stateDef{name: name, when: hs} }

func (s stateDef) rules(rs ...*definition.TimeRule) stateDef {
	s.after = rs
	return s
}

type entityDef struct {
	name   string
	starts string
	props  []*definition.Property
	states []stateDef
	always []*definition.Handler
	rels   []*definition.Relationship
}

// build indexes the entity inside a Set and fills the YAML paths the loader
// would: handlers, effects, time rules; computed properties in definition
// order (tests declare them in dependency order).
func (d entityDef) build() *definition.Entity {
	e := &definition.Entity{Name: d.name, Starts: d.starts, Properties: d.props, Always: d.always, Relationships: d.rels}
	base := "entities." + d.name
	paths := func(h *definition.Handler, at string) {
		h.Path = at
		for i, eff := range h.Effects {
			eff.Path = fmt.Sprintf("%s.effects[%d]", at, i)
		}
	}
	for _, s := range d.states {
		st := &definition.State{Name: s.name, When: s.when, After: s.after}
		for _, h := range s.when {
			paths(h, base+".states."+s.name+".when."+h.EventType)
		}
		for i, r := range s.after {
			r.Index = i
			r.Path = fmt.Sprintf("%s.states.%s.after[%d]", base, s.name, i)
			for j, eff := range r.Effects {
				eff.Path = fmt.Sprintf("%s.effects[%d]", r.Path, j)
			}
		}
		e.States = append(e.States, st)
	}
	for _, h := range d.always {
		paths(h, base+".always."+h.EventType)
	}
	for _, p := range d.props {
		if p.Compute != nil {
			e.ComputeOrder = append(e.ComputeOrder, p)
		}
	}
	(&definition.Set{Entities: []*definition.Entity{e}}).Index()
	return e
}

func machine(d entityDef, r Resolver) *Machine {
	e := d.build()
	rels := map[string]*definition.Relationship{}
	for _, rl := range e.Relationships {
		rels[rl.Type] = rl
	}
	return NewMachine(e, rels, r)
}

// ev builds an event; data is alternating names and values (Go values go
// through value.FromAny).
func ev(seq int64, typ, at string, data ...any) *Event {
	m := map[string]value.Value{}
	for i := 0; i+1 < len(data); i += 2 {
		v, ok := data[i+1].(value.Value)
		if !ok {
			v = value.FromAny(data[i+1])
		}
		m[data[i].(string)] = v
	}
	return &Event{Seq: seq, ID: fmt.Sprintf("ev%d", seq), Source: "app", Type: typ, Time: ts(at), Data: m}
}

// prop returns the current value of property name.
func (r *Run) prop(name string) value.Value {
	p := r.m.ent.Property(name)
	if p == nil {
		panic("no property " + name)
	}
	return r.State.Props[p.Index]
}

func (r *Run) rowProp(i int, name string) value.Value {
	return r.Rows[i].Props[r.m.ent.Property(name).Index]
}

func eq(t *testing.T, what string, got, want value.Value) {
	t.Helper()
	if !value.Equal(got, want) || got.Kind() != want.Kind() {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func noFailures(t *testing.T, r *Run) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("run error: %v", r.Err)
	}
	for _, f := range r.Failures {
		t.Errorf("unexpected failure: %+v", f)
	}
}

// fakeResolver resolves relate targets by the first hint field present in
// known; unknown values become pending with a fake key hash.
type fakeResolver struct {
	known map[string]string // hint value → target id
	err   error
}

func (f *fakeResolver) ResolveRelate(ev *Event, r *definition.Relate) (string, []string, bool, error) {
	if f.err != nil {
		return "", nil, false, f.err
	}
	var hashes []string
	for _, h := range r.Hints {
		v := ev.Data[h]
		if v.IsNull() {
			continue
		}
		if id, ok := f.known[v.AsString()]; ok {
			return id, nil, true, nil
		}
		hashes = append(hashes, "hash:"+h+":"+v.AsString())
	}
	return "", hashes, false, nil
}

// Common values.
var (
	vNull = value.Null
	vI    = value.Int
	vF    = value.Float
	vS    = value.String
	vB    = value.Bool
)
