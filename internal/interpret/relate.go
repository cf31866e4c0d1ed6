package interpret

import (
	"fmt"
	"slices"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// fact is a relationship fact produced by a relate effect, applied to the
// relationship rows once its event succeeds and the entity exists.
type fact struct {
	rel      *definition.Relationship
	targetID string
	props    []value.Value
}

// openRel points at an open relationship row: a stored one (base) or one of
// this run's RelRows.
type openRel struct {
	base bool
	idx  int
}

func (r *Run) relRow(o openRel) *RelRow {
	if o.base {
		return &r.baseRels[o.idx]
	}
	return &r.RelRows[o.idx]
}

// relate evaluates a relate effect (§6, identity.md §8, D13): relationship
// properties are evaluated, converted and constrained first, then the target
// is resolved. It never touches the working state.
func (r *Run) relate(eff *definition.Effect) *failure {
	rl := eff.Relate
	ev := r.evScope.ev
	if rl == nil || ev == nil {
		return &failure{loc: effLoc(eff, ""), msg: "relate needs an event"}
	}
	rel := r.m.relationship(rl.Type)
	if rel == nil {
		return &failure{loc: effLoc(eff, ""), msg: "unknown relationship type " + rl.Type}
	}
	props := make([]value.Value, len(rel.Properties))
	for i, p := range rel.Properties {
		props[i] = p.Default
	}
	for _, rp := range rl.Properties {
		i := slices.IndexFunc(rel.Properties, func(p *definition.Property) bool { return p.Name == rp.Name })
		loc := effLoc(eff, "properties."+rp.Name)
		if i < 0 {
			return &failure{field: rp.Name, loc: loc, msg: "relationship " + rel.Type + " has no property " + rp.Name}
		}
		p := rel.Properties[i]
		v, part, err := r.source(&rp.Source)
		if err != nil {
			return &failure{field: p.Name, loc: loc + "." + part, msg: "relationship " + rel.Type + " property " + p.Name + ": " + err.Error()}
		}
		v, msg := convert(p, v)
		if msg != "" {
			return &failure{field: p.Name, loc: loc, msg: "relationship " + rel.Type + ": " + msg}
		}
		props[i] = v
	}
	for i, p := range rel.Properties {
		if msg := violation(p, props[i], "relationship "+rel.Type+" property"); msg != "" {
			return &failure{field: p.Name, loc: effLoc(eff, "properties."+p.Name), msg: msg}
		}
	}
	if r.m.res == nil {
		r.Err = fmt.Errorf("interpret: relate %s of %s: no resolver", rel.Type, r.id)
		return nil
	}
	target, keys, ok, err := r.m.res.ResolveRelate(ev, rl)
	if err != nil {
		r.Err = fmt.Errorf("interpret: relate %s of %s (event %d): %w", rel.Type, r.id, ev.Seq, err)
		return nil
	}
	if !ok {
		r.pend = append(r.pend, Pending{Type: rel.Type, EventSeq: ev.Seq, KeyHashes: keys})
		return nil
	}
	r.facts = append(r.facts, fact{rel: rel, targetID: target, props: props})
	return nil
}

// commitFacts turns the facts and pending relates of a successful application
// at instant t into relationship rows (§7): has_one/belongs_to keep one open
// row per type, has_many/many_to_many one per target; a fact equal to the open
// row changes nothing, a different one closes it at t and opens a new one.
func (r *Run) commitFacts(t, seq int64) {
	r.Pending = append(r.Pending, r.pend...)
	for i := range r.facts {
		f := &r.facts[i]
		single := f.rel.Cardinality == definition.HasOne || f.rel.Cardinality == definition.BelongsTo
		k := slices.IndexFunc(r.open, func(o openRel) bool {
			row := r.relRow(o)
			return row.Type == f.rel.Type && (single || row.TargetID == f.targetID)
		})
		if k < 0 {
			r.openRow(f, t, seq)
			continue
		}
		o := r.open[k]
		row := r.relRow(o)
		sameTarget := row.TargetID == f.targetID
		if sameTarget && propsEqual(row.Props, f.props) {
			continue
		}
		switch {
		case row.ValidFrom != t:
			// Close the open row at t, then open the new one.
			if o.base {
				c := *row
				c.Open, c.ValidTo = false, t
				r.RelClose = append(r.RelClose, c)
			} else {
				row.Open, row.ValidTo = false, t
			}
			r.open = slices.Delete(r.open, k, k+1)
		case !o.base && sameTarget:
			// Opened at this instant by this run: the final fact wins.
			row.Props, row.EventSeq = f.props, seq
			continue
		case !o.base:
			// Opened at this instant by this run for another target: dropped.
			r.dropRelRow(k)
		default:
			// A stored row at this very instant: superseded (RelClose with
			// ValidTo == ValidFrom); a new row with the same key may replace it.
			c := *row
			c.Open, c.ValidTo = false, t
			r.RelClose = append(r.RelClose, c)
			r.open = slices.Delete(r.open, k, k+1)
		}
		r.openRow(f, t, seq)
	}
	r.facts = r.facts[:0]
	r.pend = r.pend[:0]
}

func (r *Run) openRow(f *fact, t, seq int64) {
	r.RelRows = append(r.RelRows, RelRow{
		Type: f.rel.Type, TargetID: f.targetID, Props: f.props,
		ValidFrom: t, Open: true, EventSeq: seq,
	})
	r.open = append(r.open, openRel{idx: len(r.RelRows) - 1})
}

// dropRelRow removes the run's open row referenced by r.open[k], keeping the
// other references valid.
func (r *Run) dropRelRow(k int) {
	idx := r.open[k].idx
	r.RelRows = slices.Delete(r.RelRows, idx, idx+1)
	r.open = slices.Delete(r.open, k, k+1)
	for j := range r.open {
		if !r.open[j].base && r.open[j].idx > idx {
			r.open[j].idx--
		}
	}
}
