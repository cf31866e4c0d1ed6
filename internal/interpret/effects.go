package interpret

import (
	"math"
	"strings"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/value"
)

// effLoc is the definition path of part of an effect, e.g.
// entities.c.states.s.when.e.effects[1].set.condition. The effect's own path
// ends at its list item, so the kind key is inserted unless already there.
func effLoc(eff *definition.Effect, part string) string {
	loc := eff.Path
	if k := string(eff.Kind); !strings.HasSuffix(loc, "."+k) {
		loc += "." + k
	}
	if part != "" {
		loc += "." + part
	}
	return loc
}

// runEffect runs one effect at instant now (§6). The current event, if any,
// is in r.evScope.
func (r *Run) runEffect(eff *definition.Effect, now int64) *failure {
	if eff.Condition != nil {
		ok, err := eff.Condition.EvalBool(&r.env)
		if err != nil {
			return &failure{field: eff.Property, loc: effLoc(eff, "condition"), msg: "condition: " + err.Error()}
		}
		if !ok {
			return nil
		}
	}
	switch eff.Kind {
	case definition.EffectCreate:
		r.create(now)
		return nil
	case definition.EffectTransition:
		st := r.State
		if st == nil {
			return &failure{loc: effLoc(eff, ""), msg: "transition to " + eff.To + ": the entity does not exist"}
		}
		if st.State != eff.To {
			st.State = eff.To
			st.StateEnteredTime = now
		}
		return nil
	case definition.EffectSet:
		return r.set(eff)
	case definition.EffectIncrement:
		return r.increment(eff)
	case definition.EffectRelate:
		return r.relate(eff)
	}
	return &failure{loc: effLoc(eff, ""), msg: "unknown effect kind " + string(eff.Kind)}
}

// create makes the entity exist in its starting state with property defaults;
// computed properties stay Null until they are computed.
func (r *Run) create(now int64) {
	if r.State != nil {
		return
	}
	ent := r.m.ent
	st := &State{
		EntityID:         r.id,
		EntityType:       ent.Name,
		State:            ent.Starts,
		Props:            make([]value.Value, r.m.nprops),
		CreatedTime:      now,
		StateEnteredTime: now,
		LastEventTime:    now,
		Fired:            map[string]int64{},
	}
	for i, p := range ent.Properties {
		if p.Compute == nil {
			st.Props[i] = p.Default
		}
	}
	r.State = st
}

func (r *Run) property(eff *definition.Effect) (*definition.Property, *failure) {
	if r.State == nil {
		return nil, &failure{field: eff.Property, loc: effLoc(eff, ""), msg: string(eff.Kind) + " " + eff.Property + ": the entity does not exist"}
	}
	p := r.m.ent.Property(eff.Property)
	if p == nil {
		return nil, &failure{field: eff.Property, loc: effLoc(eff, ""), msg: "unknown property " + eff.Property}
	}
	return p, nil
}

func (r *Run) set(eff *definition.Effect) *failure {
	p, f := r.property(eff)
	if f != nil {
		return f
	}
	v, part, err := r.source(&eff.Source)
	if err != nil {
		return &failure{field: p.Name, loc: effLoc(eff, part), msg: "set " + p.Name + ": " + err.Error()}
	}
	v, msg := convert(p, v)
	if msg != "" {
		return &failure{field: p.Name, loc: effLoc(eff, part), msg: msg}
	}
	if props := r.State.Props; !value.Equal(props[p.Index], v) {
		props[p.Index] = v
		r.writers[p.Index] = eff
	}
	return nil
}

// source produces the value of a set effect or relate property; part names
// the key it came from, for failure locations.
func (r *Run) source(vs *definition.ValueSource) (v value.Value, part string, err error) {
	switch {
	case vs.FromRoot != 0:
		var sc expr.Scope = &r.entScope
		if vs.FromRoot == expr.RootEvent {
			sc = &r.evScope
		}
		return walk(sc, vs.FromPath), "from", nil
	case vs.HasValue:
		return vs.Value, "value", nil
	case vs.Compute != nil:
		v, err = vs.Compute.Eval(&r.env)
		return v, "compute", err
	}
	return value.Null, "", nil
}

// walk resolves a from path below its root: objects by member, arrays by
// non-negative index segments; anything else is Null (expressions.md §5).
func walk(sc expr.Scope, path []string) value.Value {
	if len(path) == 0 {
		return value.Null
	}
	v, _ := sc.Field(path[0])
	for _, seg := range path[1:] {
		switch v.Kind() {
		case value.KindObject:
			v = v.AsObject()[seg]
		case value.KindArray:
			i, ok := index(seg)
			a := v.AsArray()
			if !ok || i >= len(a) {
				return value.Null
			}
			v = a[i]
		default:
			return value.Null
		}
	}
	return v
}

// index parses a non-negative decimal path segment.
func index(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > (math.MaxInt32-9)/10 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func (r *Run) increment(eff *definition.Effect) *failure {
	p, f := r.property(eff)
	if f != nil {
		return f
	}
	loc := effLoc(eff, "")
	props := r.State.Props
	cur := props[p.Index]
	by := eff.By
	if by.IsNull() {
		by = value.Int(1)
	}
	var nv value.Value
	switch p.Type {
	case definition.TypeInteger:
		var base int64 // Null counts as 0 (decision)
		switch cur.Kind() {
		case value.KindNull:
		case value.KindInt:
			base = cur.AsInt()
		default:
			return &failure{field: p.Name, loc: loc, msg: "increment " + p.Name + ": current value is " + cur.Kind().String()}
		}
		step, ok := integral(by)
		if !ok {
			return &failure{field: p.Name, loc: loc, msg: "increment " + p.Name + ": step must be an integer, got " + by.Kind().String()}
		}
		sum := base + step
		if (step > 0 && sum < base) || (step < 0 && sum > base) {
			return &failure{field: p.Name, loc: loc, msg: "increment " + p.Name + ": integer overflow"}
		}
		nv = value.Int(sum)
	case definition.TypeNumber:
		var base float64
		if !cur.IsNull() {
			x, ok := cur.Number()
			if !ok {
				return &failure{field: p.Name, loc: loc, msg: "increment " + p.Name + ": current value is " + cur.Kind().String()}
			}
			base = x
		}
		step, ok := by.Number()
		if !ok {
			return &failure{field: p.Name, loc: loc, msg: "increment " + p.Name + ": step must be a number, got " + by.Kind().String()}
		}
		sum := base + step
		if math.IsInf(sum, 0) || math.IsNaN(sum) {
			return &failure{field: p.Name, loc: loc, msg: "increment " + p.Name + ": result is not finite"}
		}
		nv = value.Float(sum)
	default:
		return &failure{field: p.Name, loc: loc, msg: "increment " + p.Name + ": property of type " + string(p.Type) + " is not numeric"}
	}
	if !value.Equal(cur, nv) || cur.Kind() != nv.Kind() {
		props[p.Index] = nv
		r.writers[p.Index] = eff
	}
	return nil
}

// integral returns an Int, or a Float with zero fraction inside the Int
// range, as int64.
func integral(v value.Value) (int64, bool) {
	switch v.Kind() {
	case value.KindInt:
		return v.AsInt(), true
	case value.KindFloat:
		f := v.AsFloat()
		if f == math.Trunc(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0 {
			return int64(f), true
		}
	}
	return 0, false
}

// minDateTime is 0001-01-01T00:00:00Z, the earliest DateTime.
var minDateTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// maxDateTime is the last microsecond of 9999.
var maxDateTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() - 1

// convert converts v into property p's type (interpretation.md §6). It returns
// a message naming the property, its type and the value type when it cannot.
// Values of sensitive properties never appear in messages.
func convert(p *definition.Property, v value.Value) (value.Value, string) {
	k := v.Kind()
	if k == value.KindNull {
		return v, ""
	}
	why := ""
	switch p.Type {
	case definition.TypeString:
		if k == value.KindString {
			return v, ""
		}
	case definition.TypeInteger:
		switch k {
		case value.KindInt:
			return v, ""
		case value.KindFloat:
			if i, ok := integral(v); ok {
				return value.Int(i), ""
			}
			why = " (not an integer in range)"
		}
	case definition.TypeNumber:
		switch k {
		case value.KindFloat:
			return v, ""
		case value.KindInt:
			return value.Float(float64(v.AsInt())), ""
		}
	case definition.TypeBoolean:
		if k == value.KindBool {
			return v, ""
		}
	case definition.TypeDateTime:
		switch k {
		case value.KindDateTime:
			return v, ""
		case value.KindString:
			us, err := value.ParseTime(v.AsString())
			if err == nil && us >= minDateTime && us <= maxDateTime {
				return value.DateTime(us), ""
			}
			why = " (not an RFC 3339 time with offset)"
		}
	}
	shown := ""
	if p.Sensitive == "" && k != value.KindArray && k != value.KindObject {
		shown = " " + quoted(v)
	}
	return value.Null, "cannot assign " + k.String() + shown + " to property " + p.Name +
		" of type " + string(p.Type) + why
}

func quoted(v value.Value) string {
	if v.Kind() == value.KindString {
		return "\"" + v.AsString() + "\""
	}
	return value.ToString(v)
}

// violation checks v against p's constraints (E5: allowed by expression
// equality, min/max inclusive) and describes the first violation; the
// message starts with owner + " " + p.Name.
func violation(p *definition.Property, v value.Value, owner string) string {
	if v.IsNull() || len(p.Allowed) == 0 && p.Min == nil && p.Max == nil {
		return ""
	}
	what := owner + " " + p.Name
	show := func() string {
		if p.Sensitive != "" {
			return "value"
		}
		return "value " + quoted(v)
	}
	if len(p.Allowed) > 0 {
		found := false
		for _, a := range p.Allowed {
			if value.Equal(a, v) {
				found = true
				break
			}
		}
		if !found {
			var b strings.Builder
			for i, a := range p.Allowed {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(quoted(a))
			}
			return what + ": " + show() + " is not allowed (allowed: " + b.String() + ")"
		}
	}
	if p.Min != nil {
		if c, err := value.Compare(v, value.Float(*p.Min)); err == nil && c < 0 {
			return what + ": " + show() + " is below the minimum " + value.FormatFloat(*p.Min)
		}
	}
	if p.Max != nil {
		if c, err := value.Compare(v, value.Float(*p.Max)); err == nil && c > 0 {
			return what + ": " + show() + " is above the maximum " + value.FormatFloat(*p.Max)
		}
	}
	return ""
}
