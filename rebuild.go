package defacto

import (
	"sort"
	"strings"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/store"
)

// A full rebuild recomputes entities a group at a time (fullInterpretation):
// the reads of the whole group come first, a few statements each, then every
// entity is recomputed from the loaded data as stageWriter.recompute would
// from its own queries, and the group's writes are batched.

// rebuildGroup is what a full rebuild reads up front for one group of
// active entities.
type rebuildGroup struct {
	events map[string][]store.LedgerRow  // linked live rows by entity, by (timestamp, sequence)
	states map[string]store.StateRecord  // stored working state by entity
	rows   map[string][]store.HistoryRow // current-belief history rows by entity
	// rels holds current-belief relationship rows per relationship type,
	// by source entity.
	rels map[*definition.Relationship]map[string][]store.RelRow
}

// rebuild recomputes the entities of recs in order: merged ones are closed
// at their last merge (lastMerge), active ones recomputed from one group
// read.
func (w *stageWriter) rebuild(recs []store.EntityRecord, lastMerge map[string]store.MergeRecord) error {
	w.bindResolver()
	var active []store.EntityRecord
	for _, r := range recs {
		if r.Status != store.StatusMerged && w.e.defs.Entity(r.Type) != nil && w.e.machines[r.Type] != nil {
			active = append(active, r)
		}
	}
	g, err := w.loadGroup(active)
	if err != nil {
		return err
	}
	var states []store.StateRecord
	for _, r := range recs {
		if r.Status == store.StatusMerged {
			if m, ok := lastMerge[r.ID]; ok {
				if err := w.closeLoser(m); err != nil {
					return err
				}
			}
			continue
		}
		rec, ok, err := w.recomputeLoaded(r.ID, r.Type, g)
		if err != nil {
			return err
		}
		if ok {
			states = append(states, rec)
		}
	}
	if err := w.flush(); err != nil {
		return err
	}
	return w.tx.PutStates(w.ctx, w.e.version, states)
}

// loadGroup reads the working states, events, current history rows and
// current relationship rows of recs (entities of known types).
func (w *stageWriter) loadGroup(recs []store.EntityRecord) (*rebuildGroup, error) {
	g := &rebuildGroup{rows: map[string][]store.HistoryRow{}, rels: map[*definition.Relationship]map[string][]store.RelRow{}}
	if len(recs) == 0 {
		return g, nil
	}
	ids := make([]string, len(recs))
	byType := map[string][]string{}
	for i, r := range recs {
		ids[i] = r.ID
		byType[r.Type] = append(byType[r.Type], r.ID)
	}
	var err error
	if g.states, err = w.tx.States(w.ctx, w.e.version, ids); err != nil {
		return nil, err
	}
	if g.events, err = w.tx.EventsOfEntities(w.ctx, ids, w.hi); err != nil {
		return nil, err
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		ent := w.e.defs.Entity(t)
		got, err := w.tx.CurrentRowsOf(w.ctx, w.e.version, ent, byType[t])
		if err != nil {
			return nil, err
		}
		for id, rows := range got {
			g.rows[id] = rows
		}
		for _, rel := range ent.Relationships {
			if g.rels[rel], err = w.tx.CurrentRelRowsOf(w.ctx, w.e.version, rel, byType[t]); err != nil {
				return nil, err
			}
		}
	}
	return g, nil
}

// recomputeLoaded is recompute from a group's loaded data: history writes
// without supersedes are queued for flush, and the new working state is
// returned (ok false: none) for the caller to store with the group's.
func (w *stageWriter) recomputeLoaded(id, typ string, g *rebuildGroup) (rec store.StateRecord, ok bool, err error) {
	ent := w.e.defs.Entity(typ)
	m := w.e.machines[typ]
	if ent == nil || m == nil {
		return rec, false, nil
	}
	rows := g.events[id]
	evs := make([]*interpret.Event, 0, len(rows))
	for i := range rows {
		if strings.HasPrefix(rows[i].EventType, "_defacto") {
			continue
		}
		ev, err := decodeEvent(&rows[i])
		if err != nil {
			return rec, false, err
		}
		evs = append(evs, ev)
		w.st.processed.add(ev.Seq)
	}
	sortEvents(evs)
	run := m.Recompute(id, evs, w.horizon)
	if run.Err != nil {
		return rec, false, run.Err
	}
	w.failures(run, ent)
	w.st.recomputed[id] = true
	hw := planReplace(id, g.rows[id], historyRows(id, run.Rows, "", store.NoTime), w.now)
	w.st.rowsWritten += len(hw.Insert)
	w.st.superseded += len(hw.Supersede)
	switch {
	case len(hw.Insert) == 0 && len(hw.Supersede) == 0 && len(hw.Close) == 0:
	case len(hw.Supersede) == 0:
		w.queue(ent, hw)
	default:
		if err := w.tx.WriteHistory(w.ctx, w.e.version, ent, hw); err != nil {
			return rec, false, err
		}
	}
	for _, rel := range ent.Relationships {
		rw := planRelReplace(rel, id, g.rels[rel][id], run, w.now)
		if len(rw.Close)+len(rw.Supersede)+len(rw.Insert) == 0 {
			continue
		}
		w.st.rowsWritten += len(rw.Insert)
		w.st.superseded += len(rw.Supersede)
		if err := w.tx.WriteRelationships(w.ctx, w.e.version, rel, rw); err != nil {
			return rec, false, err
		}
	}
	if err := w.pending(id, run, true); err != nil {
		return rec, false, err
	}
	if err := w.recordFailures(id, run, true); err != nil {
		return rec, false, err
	}
	if run.State == nil {
		return rec, false, nil
	}
	prev, had := g.states[id]
	if !had {
		w.st.created[id] = true
	} else {
		w.st.updated[id] = true
	}
	var rev int64
	if had {
		if ps, err := decodeState(prev.Data, id, typ); err == nil {
			rev = ps.Rev
		}
	}
	run.State.Rev = rev
	rec, err = w.stateRecord(id, typ, run.State, m, true)
	if err != nil {
		return rec, false, err
	}
	return rec, true, nil
}

// planRelReplace plans making a recompute's rows of rel the source's current
// belief over its stored rows (history.md §4 Replace, matched by target and
// valid_from).
func planRelReplace(rel *definition.Relationship, id string, stored []store.RelRow, run *interpret.Run, now int64) *store.RelWrite {
	byKey := make(map[store.RelKey]store.RelRow, len(stored))
	for _, s := range stored {
		byKey[store.RelKey{TargetID: s.TargetID, ValidFrom: s.ValidFrom}] = s
	}
	rw := &store.RelWrite{SourceID: id, Now: now}
	for _, r := range run.RelRows {
		if r.Type != rel.Type {
			continue
		}
		nr := toStoreRel(id, r)
		k := store.RelKey{TargetID: nr.TargetID, ValidFrom: nr.ValidFrom}
		s, ok := byKey[k]
		if !ok {
			rw.Insert = append(rw.Insert, nr)
			continue
		}
		delete(byKey, k)
		switch {
		case sameRel(s, nr) && s.ValidTo == nr.ValidTo:
		case sameRel(s, nr) && s.ValidTo == store.NoTime:
			if rw.Close == nil {
				rw.Close = map[store.RelKey]int64{}
			}
			rw.Close[k] = nr.ValidTo
		default:
			rw.Supersede = append(rw.Supersede, k)
			rw.Insert = append(rw.Insert, nr)
		}
	}
	for k := range byKey {
		rw.Supersede = append(rw.Supersede, k)
	}
	sort.Slice(rw.Supersede, func(i, j int) bool {
		a, b := rw.Supersede[i], rw.Supersede[j]
		if a.TargetID != b.TargetID {
			return a.TargetID < b.TargetID
		}
		return a.ValidFrom < b.ValidFrom
	})
	return rw
}
