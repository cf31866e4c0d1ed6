package definition

import (
	"regexp"
	"slices"
	"strings"
	"time"

	// Timezones must load the same on every machine, including minimal
	// containers without /usr/share/zoneinfo.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"

	"github.com/defacto-dev/defacto/internal/value"
)

var (
	timestampUnits = []string{UnitSeconds, UnitMillis, UnitMicros, UnitNanos}
	unknownEvents  = []string{"fail", "ignore"}
)

// Unknown-event policies of a source (definitions.md §4).
const (
	UnknownEventsFail   = "fail"
	UnknownEventsIgnore = "ignore"
)

func (l *loader) decodeSource(name string, n *yaml.Node, path string) *Source {
	l.checkName(name, nameOther, "source", "", path)
	if l.isNull(n) {
		l.errorf(KindMissing, path, "source %q is empty: it needs event_type, timestamp and events", name)
		return nil
	}
	f, ok := l.fields(n, path, "event_type", "timestamp", "timezone", "timestamp_unit", "event_id", "unknown_events", "events")
	if !ok {
		return nil
	}
	s := &Source{Name: name, Timezone: "UTC", Location: time.UTC, TimestampUnit: UnitSeconds, UnknownEvents: UnknownEventsFail}
	for _, k := range []string{"event_type", "timestamp"} {
		kp := join(path, k)
		en, ok := f[k]
		if !ok || l.isNull(en.v) {
			l.errorf(KindMissing, kp, "source %q needs %s: the path of the raw record's %s", name, k, strings.ReplaceAll(k, "_", " "))
			continue
		}
		if v, ok := l.nonEmptyStr(en.v, kp); ok {
			if k == "event_type" {
				s.EventType = v
			} else {
				s.Timestamp = v
			}
		}
	}
	if en, ok := f["timezone"]; ok && !l.isNull(en.v) {
		tp := join(path, "timezone")
		if tz, ok := l.nonEmptyStr(en.v, tp); ok {
			// "Local" would make results depend on the machine.
			loc, err := time.LoadLocation(tz)
			if err != nil || tz == "Local" {
				l.errorf(KindTimezone, tp, "unknown timezone %q: use an IANA name such as UTC or Europe/Berlin", tz)
			} else {
				s.Timezone, s.Location = tz, loc
			}
		}
	}
	if en, ok := f["timestamp_unit"]; ok && !l.isNull(en.v) {
		up := join(path, "timestamp_unit")
		if u, ok := l.str(en.v, up); ok {
			if contains(timestampUnits, u) {
				s.TimestampUnit = u
			} else {
				l.errorf(KindInvalidValue, up, "timestamp_unit %q is not allowed; expected one of s, ms, us, ns%s", u, didYouMean(u, timestampUnits))
			}
		}
	}
	if en, ok := f["event_id"]; ok && !l.isNull(en.v) {
		s.EventID = l.fieldList(en.v, join(path, "event_id"), "event_id path")
	}
	if en, ok := f["unknown_events"]; ok && !l.isNull(en.v) {
		up := join(path, "unknown_events")
		if u, ok := l.str(en.v, up); ok {
			if contains(unknownEvents, u) {
				s.UnknownEvents = u
			} else {
				l.errorf(KindInvalidValue, up, "unknown_events %q is not allowed; expected fail or ignore%s", u, didYouMean(u, unknownEvents))
			}
		}
	}
	ep := join(path, "events")
	en, ok := f["events"]
	if !ok || l.isNull(en.v) {
		l.errorf(KindMissing, ep, "source %q needs events: at least one event config", name)
		return s
	}
	members, ok := l.mapping(en.v, ep)
	if !ok {
		return s
	}
	if len(members) == 0 {
		l.errorf(KindMissing, ep, "source %q needs at least one event config", name)
	}
	rawTypes := map[string]string{}
	for _, m := range members {
		evp := join(ep, m.key)
		l.mark(evp, m.k, l.resolveQuiet(m.v))
		l.checkName(m.key, nameOther, "event type", "", evp)
		ev := l.decodeSourceEvent(s, m.key, m.v, evp)
		if ev == nil {
			continue
		}
		if other, dup := rawTypes[ev.RawType]; dup {
			l.errorf(KindDuplicate, join(evp, "raw_type"), "raw_type %q is also the raw type of event %q of source %q; raw types must be unique in a source", ev.RawType, other, name)
			continue
		}
		rawTypes[ev.RawType] = m.key
		l.evPaths[ev] = evp
		s.Events = append(s.Events, ev)
	}
	// Event configs are looked up by name and raw type; name order makes a
	// freshly loaded set equal to one reloaded from canonical form.
	slices.SortFunc(s.Events, func(a, b *SourceEvent) int { return strings.Compare(a.Name, b.Name) })
	return s
}

func (l *loader) decodeSourceEvent(s *Source, name string, n *yaml.Node, path string) *SourceEvent {
	ev := &SourceEvent{Name: name, RawType: name}
	if l.isNull(n) {
		l.errorf(KindMissing, join(path, "hints"), "event %q needs hints: which entities its fields identify", name)
		return ev
	}
	f, ok := l.fields(n, path, "raw_type", "mappings", "hints")
	if !ok {
		return nil
	}
	if en, ok := f["raw_type"]; ok && !l.isNull(en.v) {
		if rt, ok := l.nonEmptyStr(en.v, join(path, "raw_type")); ok {
			ev.RawType = rt
		}
	}
	n0 := l.errs()
	if en, ok := f["mappings"]; ok && !l.isNull(en.v) {
		mp := join(path, "mappings")
		members, _ := l.orderedMapping(en.v, mp)
		for _, m := range members {
			fp := join(mp, m.key)
			l.mark(fp, m.k, l.resolveQuiet(m.v))
			l.checkName(m.key, nameOther, "mapping output field", "", fp)
			if mm := l.decodeMapping(s, m.key, m.v, fp); mm != nil {
				l.mapPaths[mm] = fp
				ev.Mappings = append(ev.Mappings, mm)
			}
		}
	}
	if l.errs() > n0 || l.misspelled[join(path, "mappings")] {
		l.evBroken[ev] = true
	}
	hp := join(path, "hints")
	en, ok := f["hints"]
	if !ok || l.isNull(en.v) {
		l.errorf(KindMissing, hp, "event %q needs hints: entity type → the fields that identify it", name)
		return ev
	}
	members, ok := l.mapping(en.v, hp)
	if !ok {
		return ev
	}
	if len(members) == 0 {
		l.errorf(KindMissing, hp, "hints of event %q must name at least one entity type", name)
		return ev
	}
	outputs := make([]string, 0, len(ev.Mappings))
	for _, mm := range ev.Mappings {
		outputs = append(outputs, mm.Field)
	}
	sortedOutputs := slices.Sorted(slices.Values(outputs))
	mappingsOK := !l.evBroken[ev]
	for _, m := range members {
		fp := join(hp, m.key)
		l.mark(fp, m.k, l.resolveQuiet(m.v))
		fields := l.fieldList(m.v, fp, "hint field")
		for i, fld := range fields {
			if mappingsOK && !contains(outputs, fld) {
				l.errorf(KindUnknownField, index(fp, i), "hint field %q is not a mapping output of event %q%s", fld, name, didYouMean(fld, sortedOutputs))
			}
		}
		if fields != nil {
			ev.Hints = append(ev.Hints, &Hint{Entity: m.key, Fields: fields})
		}
	}
	slices.SortFunc(ev.Hints, func(a, b *Hint) int { return strings.Compare(a.Entity, b.Entity) })
	return ev
}

var mappingKeys = []string{"from", "compute", "type", "default"}

func (l *loader) decodeMapping(s *Source, field string, n *yaml.Node, path string) *Mapping {
	m := &Mapping{Field: field, From: field}
	r := l.resolve(n)
	if r == nil || l.isNull(r) {
		return m // reads the raw member named like the output field
	}
	if r.Kind == yaml.ScalarNode {
		if from, ok := l.nonEmptyStr(r, path); ok {
			m.From = from
		}
		return m
	}
	f, ok := l.fields(r, path, mappingKeys...)
	if !ok {
		return nil
	}
	from, hasFrom := f["from"]
	comp, hasCompute := f["compute"]
	if hasFrom && hasCompute {
		l.errorf(KindConflict, join(path, "compute"), "mapping %q has both from and compute; use one", field)
	}
	if hasFrom && !l.isNull(from.v) {
		if v, ok := l.nonEmptyStr(from.v, join(path, "from")); ok {
			m.From = v
		}
	}
	if hasCompute && !hasFrom {
		if l.isNull(comp.v) {
			l.errorf(KindMissing, join(path, "compute"), "compute must be an expression")
		} else {
			m.From = ""
			m.Compute = l.compile(comp.v, join(path, "compute"), exprSite{ctx: ctxMapping})
		}
	}
	typeOK := true
	if en, ok := f["type"]; ok && !l.isNull(en.v) {
		if t, ok := l.str(en.v, join(path, "type")); ok {
			if contains(types, t) {
				m.Type = Type(t)
			} else {
				typeOK = false
				l.errorf(KindInvalidValue, join(path, "type"), "mapping %q has unknown type %q; expected one of %s%s", field, t, strings.Join(types, ", "), didYouMean(t, types))
			}
		} else {
			typeOK = false
		}
	}
	if en, ok := f["default"]; ok {
		dp := join(path, "default")
		v, ok := l.literal(en.v, dp)
		if ok && !v.IsNull() && typeOK {
			if m.Type != "" {
				cv, err := coerce(m.Type, v, s.Location, s.TimestampUnit)
				if err != nil {
					l.errorf(KindType, dp, "default %s of mapping %q cannot be converted to %s: %s", literalText(v), field, m.Type, err)
					return m
				}
				v = cv
			} else if v.Kind() == value.KindFloat {
				// Untyped, a default is what a raw JSON value would be: an
				// integral number is an Int (D16), as the canonical form,
				// which writes 3.0 as 3, reads it back.
				if i, ok := floatToInt(v.AsFloat()); ok {
					v = value.Int(i)
				}
			}
			m.Default, m.HasDefault = v, true
		}
	}
	return m
}

func (l *loader) decodeSchema(name string, n *yaml.Node, path string) *Schema {
	l.checkName(name, nameOther, "event type", "", path)
	sc := &Schema{EventType: name}
	if l.isNull(n) {
		return sc
	}
	f, ok := l.fields(n, path, "fields")
	if !ok {
		return nil
	}
	en, ok := f["fields"]
	if !ok || l.isNull(en.v) {
		return sc
	}
	fp := join(path, "fields")
	members, _ := l.orderedMapping(en.v, fp)
	for _, m := range members {
		p := join(fp, m.key)
		l.mark(p, m.k, l.resolveQuiet(m.v))
		l.checkName(m.key, nameOther, "schema field", "", p)
		if sf := l.decodeSchemaField(m.key, m.v, p); sf != nil {
			sc.Fields = append(sc.Fields, sf)
		}
	}
	return sc
}

func (l *loader) decodeSchemaField(name string, n *yaml.Node, path string) *SchemaField {
	if l.isNull(n) {
		l.errorf(KindMissing, join(path, "type"), "schema field %q needs a type (one of %s)", name, strings.Join(types, ", "))
		return nil
	}
	f, ok := l.fields(n, path, "type", "required", "allowed", "min", "max", "min_length", "regex")
	if !ok {
		return nil
	}
	sf := &SchemaField{Name: name}
	typeOK := false
	if en, ok := f["type"]; ok && !l.isNull(en.v) {
		if t, ok := l.str(en.v, join(path, "type")); ok {
			if contains(types, t) {
				sf.Type, typeOK = Type(t), true
			} else {
				l.errorf(KindInvalidValue, join(path, "type"), "schema field %q has unknown type %q; expected one of %s%s", name, t, strings.Join(types, ", "), didYouMean(t, types))
			}
		}
	} else {
		l.errorf(KindMissing, join(path, "type"), "schema field %q needs a type (one of %s)", name, strings.Join(types, ", "))
	}
	if en, ok := f["required"]; ok && !l.isNull(en.v) {
		sf.Required, _ = l.boolean(en.v, join(path, "required"))
	}
	if en, ok := f["allowed"]; ok {
		ap := join(path, "allowed")
		items, ok := l.list(en.v, ap)
		if ok && len(items) == 0 {
			l.errorf(KindMissing, ap, "allowed must list at least one value")
		}
		for i, item := range items {
			v, ok := l.literal(item, index(ap, i))
			if !ok || !typeOK {
				continue
			}
			cv, ok := compatible(sf.Type, v)
			if !ok || v.IsNull() {
				l.errorf(KindType, index(ap, i), "allowed value %s is not compatible with type %s", literalText(v), sf.Type)
				continue
			}
			if slices.ContainsFunc(sf.Allowed, func(x value.Value) bool { return value.Equal(x, cv) }) {
				l.errorf(KindDuplicate, index(ap, i), "allowed value %s is listed twice", literalText(v))
				continue
			}
			sf.Allowed = append(sf.Allowed, cv)
		}
	}
	numeric := sf.Type == TypeInteger || sf.Type == TypeNumber
	for _, k := range []string{"min", "max"} {
		en, ok := f[k]
		if !ok {
			continue
		}
		v, ok := l.number(en.v, join(path, k))
		if !ok {
			continue
		}
		if typeOK && !numeric {
			l.errorf(KindType, join(path, k), "%s is only allowed on integer and number fields; %q is %s", k, name, sf.Type)
			continue
		}
		x, _ := v.Number()
		if k == "min" {
			sf.Min = &x
		} else {
			sf.Max = &x
		}
	}
	if sf.Min != nil && sf.Max != nil && *sf.Min > *sf.Max {
		l.errorf(KindConstraint, join(path, "min"), "min %s is greater than max %s", value.FormatFloat(*sf.Min), value.FormatFloat(*sf.Max))
	}
	if en, ok := f["min_length"]; ok {
		mp := join(path, "min_length")
		if v, ok := l.literal(en.v, mp); ok {
			switch {
			case v.Kind() != value.KindInt || v.AsInt() < 0:
				l.errorf(KindType, mp, "min_length must be an integer ≥ 0, got %s", literalText(v))
			case typeOK && sf.Type != TypeString:
				l.errorf(KindType, mp, "min_length is only allowed on string fields; %q is %s", name, sf.Type)
			default:
				n := int(min(v.AsInt(), int64(1<<31-1)))
				sf.MinLength = &n
			}
		}
	}
	if en, ok := f["regex"]; ok && !l.isNull(en.v) {
		rp := join(path, "regex")
		if src, ok := l.str(en.v, rp); ok {
			re, err := regexp.Compile(src)
			switch {
			case err != nil:
				l.errorf(KindRegex, rp, "regex %q does not compile: %s", src, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			case typeOK && sf.Type != TypeString:
				l.errorf(KindType, rp, "regex is only allowed on string fields; %q is %s", name, sf.Type)
			default:
				sf.Regex = re
			}
		}
	}
	return sf
}
