package definition

import (
	"fmt"
	"slices"
	"strings"

	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/value"
)

// dump renders the model as text for comparisons in tests. States, handlers
// and source events are sorted by name: their order carries no meaning.
func dump(s *Set) string {
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	src := func(p *expr.Program) string {
		if p == nil {
			return "-"
		}
		return strings.TrimSpace(p.Source())
	}
	val := func(v value.Value) string { return v.GoString() }
	num := func(f *float64) string {
		if f == nil {
			return "-"
		}
		return value.FormatFloat(*f)
	}
	vsrc := func(vs ValueSource) string {
		return fmt.Sprintf("from=%d:%v:%q value=%v/%s compute=%s", vs.FromRoot, vs.FromPath, vs.FromText, vs.HasValue, val(vs.Value), src(vs.Compute))
	}
	var effects func(int, []*Effect)
	effects = func(ind int, es []*Effect) {
		for _, ef := range es {
			w(ind, "effect %s cond=%s to=%q prop=%q by=%s src=%s path=%s", ef.Kind, src(ef.Condition), ef.To, ef.Property, val(ef.By), vsrc(ef.Source), ef.Path)
			if r := ef.Relate; r != nil {
				w(ind+1, "relate %s %s hints=%v", r.Type, r.Target, r.Hints)
				for _, p := range r.Properties {
					w(ind+2, "prop %s %s", p.Name, vsrc(p.Source))
				}
			}
		}
	}
	handlers := func(ind int, hs []*Handler) {
		hs = slices.Clone(hs)
		slices.SortFunc(hs, func(a, b *Handler) int { return strings.Compare(a.EventType, b.EventType) })
		for _, h := range hs {
			w(ind, "handler %s guard=%s creates=%v path=%s", h.EventType, src(h.Guard), h.Creates, h.Path)
			effects(ind+1, h.Effects)
		}
	}
	prop := func(ind int, p *Property) {
		w(ind, "property %s #%d %s default=%s allowed=%v min=%s max=%s compute=%s sensitive=%q treatment=%q",
			p.Name, p.Index, p.Type, val(p.Default), p.Allowed, num(p.Min), num(p.Max), src(p.Compute), p.Sensitive, p.Treatment)
	}
	for _, e := range s.Entities {
		w(0, "entity %s starts=%s", e.Name, e.Starts)
		for _, f := range e.Identity {
			w(1, "identity %s %s %s sensitive=%v", f.Name, f.Match, src(f.Normalize), f.Sensitive)
		}
		for _, p := range e.Properties {
			prop(1, p)
		}
		for _, p := range e.ComputeOrder {
			w(1, "compute-order %s", p.Name)
		}
		for _, f := range e.Feeds {
			w(1, "feed %s.%s %s %v", f.EventType, f.Field, f.Treatment, f.RawPaths)
		}
		states := slices.Clone(e.States)
		slices.SortFunc(states, func(a, b *State) int { return strings.Compare(a.Name, b.Name) })
		for _, st := range states {
			w(1, "state %s", st.Name)
			handlers(2, st.When)
			for _, tr := range st.After {
				w(2, "after #%d %s %d path=%s", tr.Index, tr.Type, tr.Threshold, tr.Path)
				effects(3, tr.Effects)
			}
		}
		for _, r := range e.Relationships {
			w(1, "relationship %s %s %s", r.Type, r.Target, r.Cardinality)
			for _, p := range r.Properties {
				prop(2, p)
			}
		}
		w(1, "always")
		handlers(2, e.Always)
	}
	for _, so := range s.Sources {
		w(0, "source %s type=%s ts=%s tz=%s(%v) unit=%s id=%v unknown=%s", so.Name, so.EventType, so.Timestamp, so.Timezone, so.Location, so.TimestampUnit, so.EventID, so.UnknownEvents)
		for _, ev := range so.Events {
			w(1, "event %s raw=%q", ev.Name, ev.RawType)
			for _, m := range ev.Mappings {
				w(2, "mapping %s from=%q compute=%s type=%q default=%v/%s", m.Field, m.From, src(m.Compute), m.Type, m.HasDefault, val(m.Default))
			}
			for _, h := range ev.Hints {
				w(2, "hint %s %v", h.Entity, h.Fields)
			}
		}
	}
	for _, sc := range s.Schemas {
		w(0, "schema %s", sc.EventType)
		for _, f := range sc.Fields {
			ml := "-"
			if f.MinLength != nil {
				ml = fmt.Sprint(*f.MinLength)
			}
			w(1, "field %s %s required=%v allowed=%v min=%s max=%s min_length=%s regex=%v", f.Name, f.Type, f.Required, f.Allowed, num(f.Min), num(f.Max), ml, f.Regex)
		}
	}
	return b.String()
}
