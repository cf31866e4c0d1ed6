package definition

import (
	"slices"
	"strings"

	"github.com/defacto-dev/defacto/internal/expr"
)

// feedKey is a (normalized event type, field) pair.
type feedKey struct{ event, field string }

var treatmentRank = map[string]int{TreatmentMask: 1, TreatmentHash: 2, TreatmentRedact: 3}

// computeFeeds derives every entity's Feeds (privacy.md §1). A property's
// feeding fields are the event fields its set effects read, plus those of
// every property they (or its compute) read, transitively. Time-rule sets
// count too: they can only copy other properties, and leaving such a copy
// out would let sensitive data survive an erase.
func (s *Set) computeFeeds() {
	for _, e := range s.Entities {
		e.Feeds = s.feedsOf(e)
	}
}

func (s *Set) feedsOf(e *Entity) []*Feed {
	outputs := func(t string) []string {
		var out []string
		for _, src := range s.Sources {
			if ev := src.Event(t); ev != nil {
				for _, m := range ev.Mappings {
					out = append(out, m.Field)
				}
			}
		}
		return out
	}
	// direct[p]: event fields read by sets on p; deps[p]: properties read.
	direct := map[string]map[feedKey]bool{}
	deps := map[string]map[string]bool{}
	add := func(p string, k feedKey) {
		if direct[p] == nil {
			direct[p] = map[feedKey]bool{}
		}
		direct[p][k] = true
	}
	dep := func(p, q string) {
		if deps[p] == nil {
			deps[p] = map[string]bool{}
		}
		deps[p][q] = true
	}
	readProgram := func(p, event string, prog *expr.Program) {
		if prog == nil {
			return
		}
		for _, ref := range prog.Refs() {
			switch {
			case ref.Root == expr.RootEvent && event != "":
				if len(ref.Path) == 0 {
					for _, f := range outputs(event) {
						add(p, feedKey{event, f})
					}
				} else {
					add(p, feedKey{event, ref.Path[0]})
				}
			case ref.Root == expr.RootEntity:
				if len(ref.Path) == 0 {
					for _, q := range e.Properties {
						dep(p, q.Name)
					}
				} else {
					dep(p, ref.Path[0])
				}
			}
		}
	}
	sets := func(event string, effects []*Effect) {
		for _, ef := range effects {
			if ef.Kind != EffectSet {
				continue
			}
			switch vs := ef.Source; {
			case vs.FromRoot == expr.RootEvent && event != "":
				add(ef.Property, feedKey{event, vs.FromPath[0]})
			case vs.FromRoot == expr.RootEntity:
				dep(ef.Property, vs.FromPath[0])
			case vs.Compute != nil:
				readProgram(ef.Property, event, vs.Compute)
			}
		}
	}
	for _, st := range e.States {
		for _, h := range st.When {
			sets(h.EventType, h.Effects)
		}
		for _, tr := range st.After {
			sets("", tr.Effects)
		}
	}
	for _, h := range e.Always {
		sets(h.EventType, h.Effects)
	}
	for _, p := range e.Properties {
		readProgram(p.Name, "", p.Compute)
	}
	// Close over dependencies (a fixpoint: sets may copy properties in cycles).
	for changed := true; changed; {
		changed = false
		for p, qs := range deps {
			for q := range qs {
				for k := range direct[q] {
					if !direct[p][k] {
						add(p, k)
						changed = true
					}
				}
			}
		}
	}

	treat := map[feedKey]string{}
	strongest := func(k feedKey, t string) {
		if treatmentRank[t] > treatmentRank[treat[k]] {
			treat[k] = t
		}
	}
	for _, p := range e.Properties {
		if p.Sensitive == "" {
			continue
		}
		for k := range direct[p.Name] {
			strongest(k, p.Treatment)
		}
	}
	for _, id := range e.Identity {
		p := e.Property(id.Name)
		if !id.Sensitive || p == nil {
			continue
		}
		for _, src := range s.Sources {
			for _, ev := range src.Events {
				for _, h := range ev.Hints {
					if h.Entity == e.Name && slices.Contains(h.Fields, id.Name) {
						strongest(feedKey{ev.Name, id.Name}, p.Treatment)
					}
				}
			}
		}
	}

	var out []*Feed
	for k, t := range treat {
		f := &Feed{EventType: k.event, Field: k.field, Treatment: t}
		for _, src := range s.Sources {
			ev := src.Event(k.event)
			if ev == nil {
				continue
			}
			for _, m := range ev.Mappings {
				if m.Field != k.field {
					continue
				}
				paths := rawPaths(m)
				if len(paths) > 0 {
					if f.RawPaths == nil {
						f.RawPaths = map[string][]string{}
					}
					f.RawPaths[src.Name] = paths
				}
			}
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *Feed) int {
		if c := strings.Compare(a.EventType, b.EventType); c != 0 {
			return c
		}
		return strings.Compare(a.Field, b.Field)
	})
	return out
}

// rawPaths lists the raw dot paths a mapping reads.
func rawPaths(m *Mapping) []string {
	if m.Compute == nil {
		return []string{m.From}
	}
	var out []string
	for _, ref := range m.Compute.Refs() {
		if ref.Root != expr.RootEvent || len(ref.Path) == 0 {
			continue
		}
		p := strings.Join(ref.Path, ".")
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// RawPaths lists the raw dot paths a mapping reads: its from path, or the
// event.* references of its compute expression.
func RawPaths(m *Mapping) []string { return rawPaths(m) }
