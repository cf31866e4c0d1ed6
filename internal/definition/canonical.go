package definition

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/value"
)

// The canonical form (definitions.md §7) is the in-memory JSON shape with
// every shorthand expanded, every default written out and empty optional
// members left out, serialized as JCS.
//
// JSON objects are unordered and JCS sorts their members, but the order of
// identity fields (entity ids), entity and relationship properties (column
// order, computed ties), mappings and schema fields (which failure is
// reported first) matters. The canonical form therefore writes these five
// members as lists of single-key objects, [{"email": {…}}, {"phone": {…}}],
// a form the loader accepts everywhere a mapping is accepted for them. The
// order of states, handlers, source events and hints carries no meaning and
// is not kept.

// CanonicalJSON returns the canonical JCS serialization of s (the same bytes
// as s.Canonical). LoadCanonical reads it back into an equal set.
func (s *Set) CanonicalJSON() []byte { return s.Canonical }

// seal derives the canonical form and every hash from the model.
func (s *Set) seal() {
	entities := map[string]value.Value{}
	identities := map[string]value.Value{}
	for _, e := range s.Entities {
		entities[e.Name] = canonEntity(e)
		identities[e.Name] = canonIdentity(e)
	}
	sources := map[string]value.Value{}
	s.SourceHashes = make(map[string]string, len(s.Sources))
	for _, src := range s.Sources {
		c := canonSource(src)
		sources[src.Name] = c
		s.SourceHashes[src.Name] = hash(value.CanonicalJSON(c))
	}
	schemas := map[string]value.Value{}
	for _, sc := range s.Schemas {
		schemas[sc.EventType] = canonSchema(sc)
	}
	top := map[string]value.Value{}
	putObj(top, kindEntities, entities)
	putObj(top, kindSources, sources)
	putObj(top, kindSchemas, schemas)
	s.Canonical = value.CanonicalJSON(value.Object(top))
	s.ContentHash = hash(s.Canonical)
	s.EntitiesHash = hash(value.CanonicalJSON(value.Object(entities)))
	s.IdentityHash = hash(value.CanonicalJSON(value.Object(identities)))
}

func hash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func str(s string) value.Value { return value.String(s) }

func putObj(m map[string]value.Value, k string, o map[string]value.Value) {
	if len(o) > 0 {
		m[k] = value.Object(o)
	}
}

func putList(m map[string]value.Value, k string, l []value.Value) {
	if len(l) > 0 {
		m[k] = value.Array(l)
	}
}

func putExpr(m map[string]value.Value, k string, p *expr.Program) {
	if p != nil {
		m[k] = str(strings.TrimSpace(p.Source()))
	}
}

func putNum(m map[string]value.Value, k string, f *float64) {
	if f != nil {
		if i, ok := floatToInt(*f); ok {
			m[k] = value.Int(i)
		} else {
			m[k] = value.Float(*f)
		}
	}
}

// single is one item of an ordered list: {name: body}.
func single(name string, body value.Value) value.Value {
	return value.Object(map[string]value.Value{name: body})
}

func canonIdentity(e *Entity) value.Value {
	out := make([]value.Value, 0, len(e.Identity))
	for _, f := range e.Identity {
		m := map[string]value.Value{"match": str(f.Match)}
		putExpr(m, "normalize", f.Normalize)
		out = append(out, single(f.Name, value.Object(m)))
	}
	return value.Array(out)
}

func canonEntity(e *Entity) value.Value {
	m := map[string]value.Value{
		"starts":   str(e.Starts),
		"identity": canonIdentity(e),
	}
	var props []value.Value
	for _, p := range e.Properties {
		props = append(props, single(p.Name, canonProperty(p)))
	}
	putList(m, "properties", props)
	states := map[string]value.Value{}
	for _, st := range e.States {
		sm := map[string]value.Value{}
		putObj(sm, "when", canonHandlers(st.When))
		var after []value.Value
		for _, tr := range st.After {
			after = append(after, value.Object(map[string]value.Value{
				"type":      str(tr.Type),
				"threshold": str(formatThreshold(tr.Threshold)),
				"effects":   canonEffects(tr.Effects),
			}))
		}
		putList(sm, "after", after)
		states[st.Name] = value.Object(sm)
	}
	m["states"] = value.Object(states)
	var rels []value.Value
	for _, r := range e.Relationships {
		rm := map[string]value.Value{
			"type":        str(r.Type),
			"target":      str(r.Target),
			"cardinality": str(r.Cardinality),
		}
		var rp []value.Value
		for _, p := range r.Properties {
			rp = append(rp, single(p.Name, canonProperty(p)))
		}
		putList(rm, "properties", rp)
		rels = append(rels, value.Object(rm))
	}
	putList(m, "relationships", rels)
	putObj(m, "always", canonHandlers(e.Always))
	return value.Object(m)
}

func canonProperty(p *Property) value.Value {
	m := map[string]value.Value{"type": str(string(p.Type))}
	if !p.Default.IsNull() {
		m["default"] = p.Default
	}
	putList(m, "allowed", p.Allowed)
	putNum(m, "min", p.Min)
	putNum(m, "max", p.Max)
	putExpr(m, "compute", p.Compute)
	if p.Sensitive != "" {
		if p.Sensitive == "true" {
			m["sensitive"] = value.True
		} else {
			m["sensitive"] = str(p.Sensitive)
		}
		m["treatment"] = str(p.Treatment)
	}
	return value.Object(m)
}

func canonHandlers(hs []*Handler) map[string]value.Value {
	out := map[string]value.Value{}
	for _, h := range hs {
		m := map[string]value.Value{"effects": canonEffects(h.Effects)}
		putExpr(m, "guard", h.Guard)
		out[h.EventType] = value.Object(m)
	}
	return out
}

func canonEffects(effects []*Effect) value.Value {
	out := make([]value.Value, 0, len(effects))
	for _, ef := range effects {
		body := map[string]value.Value{}
		putExpr(body, "condition", ef.Condition)
		switch ef.Kind {
		case EffectTransition:
			body["to"] = str(ef.To)
		case EffectSet:
			body["property"] = str(ef.Property)
			putSource(body, ef.Source)
		case EffectIncrement:
			body["property"] = str(ef.Property)
			body["by"] = ef.By
		case EffectRelate:
			r := ef.Relate
			body["type"] = str(r.Type)
			body["target"] = str(r.Target)
			if len(r.Hints) > 0 {
				body["hints"] = value.Object(map[string]value.Value{r.Target: strList(r.Hints)})
			}
			props := map[string]value.Value{}
			for _, rp := range r.Properties {
				pm := map[string]value.Value{}
				putSource(pm, rp.Source)
				props[rp.Name] = value.Object(pm)
			}
			putObj(body, "properties", props)
		}
		out = append(out, single(string(ef.Kind), value.Object(body)))
	}
	return value.Array(out)
}

func putSource(m map[string]value.Value, vs ValueSource) {
	switch {
	case vs.FromText != "":
		m["from"] = str(vs.FromText)
	case vs.HasValue:
		m["value"] = vs.Value // an explicit null stays: it sets the property to null
	case vs.Compute != nil:
		putExpr(m, "compute", vs.Compute)
	}
}

func strList(ss []string) value.Value {
	out := make([]value.Value, len(ss))
	for i, s := range ss {
		out[i] = str(s)
	}
	return value.Array(out)
}

// formatThreshold writes a threshold in its largest exact unit, so that 14d
// and 336h hash alike.
func formatThreshold(us int64) string {
	for _, u := range []struct {
		per  int64
		unit string
	}{{usDay, "d"}, {usHour, "h"}, {usMinute, "m"}} {
		if us%u.per == 0 {
			return strconv.FormatInt(us/u.per, 10) + u.unit
		}
	}
	return strconv.FormatInt(us/usSecond, 10) + "s"
}

func canonSource(s *Source) value.Value {
	m := map[string]value.Value{
		"event_type":     str(s.EventType),
		"timestamp":      str(s.Timestamp),
		"timezone":       str(s.Timezone),
		"timestamp_unit": str(s.TimestampUnit),
		"unknown_events": str(s.UnknownEvents),
	}
	if len(s.EventID) > 0 {
		m["event_id"] = strList(s.EventID)
	}
	events := map[string]value.Value{}
	for _, ev := range s.Events {
		em := map[string]value.Value{"raw_type": str(ev.RawType)}
		var mappings []value.Value
		for _, mp := range ev.Mappings {
			mm := map[string]value.Value{}
			if mp.Compute != nil {
				putExpr(mm, "compute", mp.Compute)
			} else {
				mm["from"] = str(mp.From)
			}
			if mp.Type != "" {
				mm["type"] = str(string(mp.Type))
			}
			if mp.HasDefault {
				mm["default"] = mp.Default
			}
			mappings = append(mappings, single(mp.Field, value.Object(mm)))
		}
		putList(em, "mappings", mappings)
		hints := map[string]value.Value{}
		for _, h := range ev.Hints {
			hints[h.Entity] = strList(h.Fields)
		}
		putObj(em, "hints", hints)
		events[ev.Name] = value.Object(em)
	}
	m["events"] = value.Object(events)
	return value.Object(m)
}

func canonSchema(sc *Schema) value.Value {
	var fields []value.Value
	for _, f := range sc.Fields {
		m := map[string]value.Value{"type": str(string(f.Type)), "required": value.Bool(f.Required)}
		putList(m, "allowed", f.Allowed)
		putNum(m, "min", f.Min)
		putNum(m, "max", f.Max)
		if f.MinLength != nil {
			m["min_length"] = value.Int(int64(*f.MinLength))
		}
		if f.Regex != nil {
			m["regex"] = str(f.Regex.String())
		}
		fields = append(fields, single(f.Name, value.Object(m)))
	}
	m := map[string]value.Value{}
	putList(m, "fields", fields)
	return value.Object(m)
}
