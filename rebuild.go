package defacto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/store"
)

// A full rebuild recomputes entities a group at a time (fullInterpretation):
// the reads of the whole group come first, a few statements each, then every
// entity is recomputed from the loaded data as stageWriter.recompute would
// from its own queries, and the group's writes are batched. On SQLite the
// reads of the next group run beside the writes of this one (prefetch).

// rebuildGroupSize is how many entities a rebuild reads, recomputes and
// writes together: it bounds the events held in memory at once.
const rebuildGroupSize = 1000

// rebuildGroup is what a full rebuild reads up front for one group of
// active entities.
type rebuildGroup struct {
	// events holds the decoded interpretable events by entity, by (time,
	// sequence); evErr a decoding failure, reported when the entity's turn
	// comes, as the per-entity read reports it.
	events map[string][]*interpret.Event
	evErr  map[string]error
	stored map[string]storedState        // stored working state, for entities that have one
	rows   map[string][]store.HistoryRow // current-belief history rows by entity
	// rels holds current-belief relationship rows per relationship type,
	// by source entity.
	rels map[*definition.Relationship]map[string][]store.RelRow
	// consecutive says the group is a run of consecutive entity ids (a
	// full rebuild's), which the batched reads may scan as one range.
	consecutive bool
	// cleared is set when the pending relations and failed events of the
	// group's entities were deleted up front (one statement per group
	// instead of two per entity), so a recompute only adds its own.
	cleared bool
}

// rebuild recomputes the entities of recs in order: merged ones are closed
// at their last merge (lastMerge), active ones recomputed from one group
// read, or from pre, when the group was read ahead (prefetch). consecutive
// says recs are a run of consecutive entity ids (see rebuildGroup).
func (w *stageWriter) rebuild(recs []store.EntityRecord, lastMerge map[string]store.MergeRecord, pre *rebuildGroup, consecutive bool) error {
	w.bindResolver()
	active := activeOf(w.e, recs)
	g := pre
	if g == nil {
		var err error
		if g, err = w.loadGroup(active, consecutive); err != nil {
			return err
		}
	}
	if err := w.clearGroup(g, active); err != nil {
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
	return w.tx.PutStates(w.ctx, w.e.act().version, states)
}

// activeOf returns the entities of recs that a rebuild recomputes: not
// merged, of a type with a machine.
func activeOf(e *Engine, recs []store.EntityRecord) []store.EntityRecord {
	var active []store.EntityRecord
	for _, r := range recs {
		if r.Status != store.StatusMerged && e.act().defs.Entity(r.Type) != nil && e.act().machines[r.Type] != nil {
			active = append(active, r)
		}
	}
	return active
}

// loadGroup reads the working states, events, current history rows and
// current relationship rows of recs (entities of known types).
func (w *stageWriter) loadGroup(recs []store.EntityRecord, consecutive bool) (*rebuildGroup, error) {
	g := &rebuildGroup{consecutive: consecutive}
	if err := readGroupEvents(w.ctx, w.tx, recs, w.hi, g); err != nil {
		return nil, err
	}
	if err := readGroupRows(w.ctx, w.tx, w.e, recs, g); err != nil {
		return nil, err
	}
	return g, nil
}

// readGroupEvents reads and decodes the events of recs with sequence <= hi
// into g. Decoding happens here rather than per entity so that a prefetch
// does it off the writing goroutine.
func readGroupEvents(ctx context.Context, tx store.Tx, recs []store.EntityRecord, hi int64, g *rebuildGroup) error {
	g.events = map[string][]*interpret.Event{}
	if len(recs) == 0 {
		return nil
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	rows, err := tx.EventsOfEntities(ctx, ids, g.consecutive, hi)
	if err != nil {
		return err
	}
	for id, rs := range rows {
		evs, err := interpretable(rs)
		if err != nil {
			if g.evErr == nil {
				g.evErr = map[string]error{}
			}
			g.evErr[id] = err
		}
		g.events[id] = evs
	}
	return nil
}

// readGroupRows reads the stored revs, current history rows and current
// relationship rows of recs into g.
func readGroupRows(ctx context.Context, tx store.Tx, e *Engine, recs []store.EntityRecord, g *rebuildGroup) error {
	g.rows = map[string][]store.HistoryRow{}
	g.rels = map[*definition.Relationship]map[string][]store.RelRow{}
	g.stored = map[string]storedState{}
	if len(recs) == 0 {
		return nil
	}
	ids := make([]string, len(recs))
	byType := map[string][]string{}
	for i, r := range recs {
		ids[i] = r.ID
		byType[r.Type] = append(byType[r.Type], r.ID)
	}
	states, err := tx.States(ctx, e.act().version, ids)
	if err != nil {
		return err
	}
	for id, st := range states {
		g.stored[id] = storedState{rev: storedRev(st.Data, id, st.EntityType), rec: st}
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		ent := e.act().defs.Entity(t)
		got, err := tx.CurrentRowsOf(ctx, e.act().version, ent, byType[t], g.consecutive)
		if err != nil {
			return err
		}
		for id, rows := range got {
			g.rows[id] = rows
		}
		for _, rel := range ent.Relationships {
			if g.rels[rel], err = tx.CurrentRelRowsOf(ctx, e.act().version, rel, byType[t], g.consecutive); err != nil {
				return err
			}
		}
	}
	return nil
}

// prefetch reads one rebuild group beside the writing goroutine: the events
// (read and decoded) and the stored rows (states, history, relationships),
// each on a read transaction of its own, so the reads of group i+1 overlap
// the interpretation and writes of group i on a second core.
//
// It is started inside the write transaction of group i, after that
// transaction's Tx.Undisturbed check, so both read snapshots begin after the
// check. The result is used by group i+1 only if that transaction's check
// says no other connection committed in between; then the snapshots show
// the ledger, links and group i+1's stored rows as the write transaction
// sees them: the build itself changes none of those between the two checks
// (groups are disjoint: a group's writes touch only its own entities'
// rows). Otherwise the group is read again inside the transaction. Stores
// that cannot tell (Postgres) never report undisturbed, so nothing is read
// ahead there.
type prefetch struct {
	done chan struct{}
	g    *rebuildGroup
	err  error
}

// readers are the two read paths of a prefetch, one per goroutine: a
// session each when the store has them (store.SessionReader), so every
// group's events are read on the connection whose cache holds the ledger
// pages the previous groups read, and the stored rows on another. The
// events session holds one snapshot until refresh: the build writes no
// ledger or link row, so while no other connection commits, every group's
// events are the same in the snapshot as in the write transaction.
type readers struct {
	events, rows func(ctx context.Context, f func(store.Tx) error) error
	// refresh makes the next reads see the latest commit; called when
	// another connection committed.
	refresh func()
	close   func()
}

// newReaders opens the prefetch's read paths.
func (e *Engine) newReaders(ctx context.Context) *readers {
	plain := &readers{events: e.st.Read, rows: e.st.Read, refresh: func() {}, close: func() {}}
	sr, ok := e.st.(store.SessionReader)
	if !ok {
		return plain
	}
	ev, err := sr.ReadSession(ctx, true)
	if err != nil {
		return plain
	}
	rs, err := sr.ReadSession(ctx, false)
	if err != nil {
		_ = ev.Close()
		return plain
	}
	return &readers{
		events:  ev.Read,
		rows:    rs.Read,
		refresh: func() { _ = ev.Refresh(); _ = rs.Refresh() },
		close:   func() { _ = ev.Close(); _ = rs.Close() },
	}
}

// readAhead starts reading recs (active entities of one full-rebuild
// group, so consecutive ids) on two goroutines.
func (e *Engine) readAhead(ctx context.Context, rd *readers, recs []store.EntityRecord, hi int64) *prefetch {
	p := &prefetch{done: make(chan struct{}), g: &rebuildGroup{consecutive: true}}
	var evErr error
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		evErr = rd.events(ctx, func(tx store.Tx) error { return readGroupEvents(ctx, tx, recs, hi, p.g) })
	}()
	go func() {
		defer close(p.done)
		err := rd.rows(ctx, func(tx store.Tx) error { return readGroupRows(ctx, tx, e, recs, p.g) })
		<-evDone
		p.err = errors.Join(err, evErr)
	}()
	return p
}

// wait waits for the reads to end; a nil prefetch has none.
func (p *prefetch) wait() {
	if p != nil {
		<-p.done
	}
}

// result waits for the reads and returns the group, nil when there is no
// prefetch or it failed (the writer then reads the group itself, and meets
// any lasting error there).
func (p *prefetch) result() *rebuildGroup {
	if p == nil {
		return nil
	}
	<-p.done
	if p.err != nil {
		return nil
	}
	return p.g
}

// clearGroup deletes the pending relations and failed events of recs, as
// the recompute of each would (a recompute re-derives both).
func (w *stageWriter) clearGroup(g *rebuildGroup, recs []store.EntityRecord) error {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	if err := w.tx.ClearPendingOf(w.ctx, w.e.act().version, ids); err != nil {
		return err
	}
	if err := w.tx.ClearFailuresOf(w.ctx, w.e.act().version, ids); err != nil {
		return err
	}
	g.cleared = true
	return nil
}

// recomputeLoaded is recompute from a group's loaded data: history writes
// are queued for flush, and the new working state is returned (ok false:
// none) for the caller to store with the group's.
func (w *stageWriter) recomputeLoaded(id, typ string, g *rebuildGroup) (rec store.StateRecord, ok bool, err error) {
	ent := w.e.act().defs.Entity(typ)
	m := w.e.act().machines[typ]
	if ent == nil || m == nil {
		return rec, false, nil
	}
	if err := g.evErr[id]; err != nil {
		return rec, false, err
	}
	evs := g.events[id]
	for _, ev := range evs {
		w.st.processed.add(ev.Seq)
	}
	run := m.Recompute(id, evs, w.horizon)
	if run.Err != nil {
		return rec, false, run.Err
	}
	w.failures(run, ent)
	w.st.recomputed[id] = true
	hw := planReplace(id, g.rows[id], historyRows(id, run.Rows, "", store.NoTime), w.now)
	changed := len(hw.Insert)+len(hw.Supersede)+len(hw.Close) > 0
	w.st.rowsWritten += len(hw.Insert)
	w.st.superseded += len(hw.Supersede)
	if changed {
		w.queue(ent, hw)
	}
	for _, rel := range ent.Relationships {
		rw := planRelReplace(rel, id, g.rels[rel][id], run, w.now)
		if len(rw.Close)+len(rw.Supersede)+len(rw.Insert) == 0 {
			continue
		}
		changed = true
		w.st.rowsWritten += len(rw.Insert)
		w.st.superseded += len(rw.Supersede)
		if err := w.tx.WriteRelationships(w.ctx, w.e.act().version, rel, rw); err != nil {
			return rec, false, err
		}
	}
	if err := w.pending(id, run, !g.cleared); err != nil {
		return rec, false, err
	}
	if err := w.recordFailures(id, run, !g.cleared); err != nil {
		return rec, false, err
	}
	if run.State == nil {
		return rec, false, nil
	}
	prev, had := g.stored[id]
	if !had {
		w.st.created[id] = true
	} else {
		w.st.updated[id] = true
	}
	// rev counts committed changes of the entity's rows (interpretation.md
	// §1), so a recompute that reproduces the stored rows keeps it, and a
	// state that comes out byte for byte as stored is not rewritten: a full
	// rebuild of unchanged definitions writes almost nothing.
	run.State.Rev = prev.rev
	rec = w.stateRecord(id, typ, run.State, m, changed || !had)
	if had && !changed && prev.rec.Status == rec.Status && prev.rec.NextDeadline == rec.NextDeadline &&
		bytes.Equal(prev.rec.Data, rec.Data) {
		return rec, false, nil
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

// storedRev returns the rev of a stored working state, 0 when it does not
// decode. encodeState writes rev as the last member of a JSON object, so
// the number is read from the tail without decoding the document (which
// costs as much as interpreting the entity's events); any other shape
// takes the full decode.
// storedState is an entity's stored working state and its rev.
type storedState struct {
	rev int64
	rec store.StateRecord
}

func storedRev(data []byte, id, typ string) int64 {
	const key = `,"rev":`
	if n := len(data); n > 0 && data[n-1] == '}' {
		if i := bytes.LastIndex(data, []byte(key)); i >= 0 {
			if rev, err := strconv.ParseInt(string(data[i+len(key):n-1]), 10, 64); err == nil && json.Valid(data) {
				return rev
			}
		}
	}
	ps, err := decodeState(data, id, typ)
	if err != nil {
		return 0
	}
	return ps.Rev
}
