package defacto

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/identity"
	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// runStats accumulates what interpretation did during one call. Counts of a
// chunk become final only when its transaction commits.
type runStats struct {
	processed   seqSet
	created     map[string]bool
	updated     map[string]bool
	recomputed  map[string]bool
	late        int
	retired     int // entities a full rebuild retired
	rowsWritten int
	superseded  int
	failures    []EventFailure
	merges      []Merge

	pending *runStats // the open chunk's counts
}

func newRunStats() *runStats {
	s := &runStats{created: map[string]bool{}, updated: map[string]bool{}, recomputed: map[string]bool{}}
	s.pending = &runStats{created: map[string]bool{}, updated: map[string]bool{}, recomputed: map[string]bool{}}
	return s
}

func (s *runStats) commitPending() {
	p := s.pending
	s.processed.union(&p.processed)
	for k := range p.created {
		s.created[k] = true
	}
	for k := range p.updated {
		s.updated[k] = true
	}
	for k := range p.recomputed {
		s.recomputed[k] = true
	}
	s.late += p.late
	s.rowsWritten += p.rowsWritten
	s.superseded += p.superseded
	s.failures = append(s.failures, p.failures...)
	s.merges = append(s.merges, p.merges...)
	s.discardPending()
}

func (s *runStats) discardPending() {
	s.pending = &runStats{created: map[string]bool{}, updated: map[string]bool{}, recomputed: map[string]bool{}}
}

// addMerges records automatic merges (explicit ones are reported by Merge).
func (s *runStats) addMerges(ms []store.MergeRecord) {
	for _, m := range ms {
		if m.Kind == store.MergeAuto {
			s.merges = append(s.merges, Merge{EntityType: m.EntityType, FromEntityID: m.From, IntoEntityID: m.Into, MergeSequence: m.MergeSeq})
		}
	}
}

func (s *runStats) updatedOnly() int {
	n := 0
	for id := range s.updated {
		if !s.created[id] {
			n++
		}
	}
	return n
}

func (s *runStats) fill(res *IngestResult) {
	res.EventsProcessed = s.processed.len()
	res.EntitiesCreated = len(s.created)
	res.EntitiesUpdated = s.updatedOnly()
	res.EntitiesRecomputed = len(s.recomputed)
	res.LateArrivals = s.late
	res.MergesDetected = len(s.merges)
	res.Merges = append(res.Merges, s.merges...)
	for _, f := range s.failures {
		if f.Stage == StageInterpret {
			res.InterpretationFailures++
		}
	}
	res.Failures = append(res.Failures, s.failures...)
	sortFailures(res.Failures)
}

// sortFailures orders failures by input position, then sequence (failures
// not tied to a record last).
func sortFailures(fs []EventFailure) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if (a.Index < 0) != (b.Index < 0) {
			return a.Index >= 0
		}
		if a.Index != b.Index {
			return a.Index < b.Index
		}
		return a.Sequence < b.Sequence
	})
}

// process runs the identity stage and then this shard's interpretation
// stage inside tx (ingestion.md §9).
// cache, when set, carries working states between the chunks of one
// ingest call (statecache.go).
func (e *Engine) process(ctx context.Context, tx store.Tx, mem []resolvable, stats *runStats, timing *Timing, cache *stateCache) error {
	t0 := time.Now()
	merges, idc, err := e.identityStage(ctx, tx, mem)
	if err != nil {
		return err
	}
	stats.pending.addMerges(merges)
	t1 := time.Now()
	if timing != nil {
		timing.Identity += t1.Sub(t0).Seconds()
	}
	index := make(map[int64]int, len(mem))
	rows := make(map[int64]*store.LedgerRow, len(mem))
	for _, r := range mem {
		index[r.seq] = r.index
		rows[r.seq] = r.row
	}
	err = e.interpretStage(ctx, tx, idc, rows, index, stats.pending, cache, false)
	if timing != nil {
		timing.Interpret += time.Since(t1).Seconds()
	}
	return err
}

// interpretStage covers (cursor, identity cursor] for the active version
// (interpretation.md §2) and moves the cursor. idc is the identity cursor
// when the caller just set it in tx, else negative (read it). closingTick
// says a build's closing tick follows: moving the cursor then also marks
// that tick pending in the build state, until finishBuild clears it.
func (e *Engine) interpretStage(ctx context.Context, tx store.Tx, idc int64, mem map[int64]*store.LedgerRow, index map[int64]int, st *runStats, cache *stateCache, closingTick bool) error {
	bs, err := tx.BuildState(ctx, e.act().version, e.cfg.ShardID)
	if err != nil {
		return err
	}
	if bs == nil {
		return fmt.Errorf("version %s has no build state", e.act().version)
	}
	hi := idc
	if hi < 0 {
		if hi, err = metaInt(ctx, tx, metaIdentityCursor); err != nil {
			return err
		}
	}
	lo := bs.Cursor
	if hi <= lo {
		return nil
	}
	w := &stageWriter{e: e, tx: tx, ctx: ctx, st: st, horizon: bs.TickHorizon, hi: hi, index: index, now: e.now(), cache: cache}
	for lo < hi {
		// Sub-ranges bound memory on large builds.
		sub := hi
		if sub-lo > 5000 {
			sub = lo + 5000
		}
		w.hi = sub
		if err := w.run(lo, sub, mem); err != nil {
			return err
		}
		lo = sub
	}
	bs.Cursor = hi
	bs.TickPending = bs.TickPending || closingTick
	return tx.PutBuildState(ctx, bs)
}

// stageWriter interprets one range of one version and writes the result.
type stageWriter struct {
	e       *Engine
	tx      store.Tx
	ctx     context.Context
	st      *runStats
	horizon int64
	hi      int64
	index   map[int64]int
	now     int64
	cache   *stateCache // nil outside ingest calls and incremental builds

	// queued holds incremental history writes per entity type until flush,
	// so a chunk's closes and inserts go out as a few multi-row statements.
	queued map[*definition.Entity][]*store.HistoryWrite
}

// queue holds one entity's incremental write until flush.
func (w *stageWriter) queue(ent *definition.Entity, hw *store.HistoryWrite) {
	if w.queued == nil {
		w.queued = map[*definition.Entity][]*store.HistoryWrite{}
	}
	w.queued[ent] = append(w.queued[ent], hw)
}

// flush writes every queued history write.
func (w *stageWriter) flush() error {
	for ent, ws := range w.queued {
		if err := w.tx.WriteHistories(w.ctx, w.e.act().version, ent, ws); err != nil {
			return err
		}
	}
	w.queued = nil
	return nil
}

func (w *stageWriter) run(lo, hi int64, mem map[int64]*store.LedgerRow) error {
	ctx, tx := w.ctx, w.tx
	w.bindResolver()
	merges, err := tx.MergesInRange(ctx, lo, hi)
	if err != nil {
		return err
	}
	recompute := map[string]string{} // id → entity type
	closed := map[string]bool{}
	// Each owner acts on its side of a merge (scale.md §3).
	for _, m := range merges {
		w.cache.drop(m.From)
		w.cache.drop(m.Into)
		if w.e.owns(m.From) {
			if err := w.closeLoser(m); err != nil {
				return err
			}
		}
		closed[m.From] = true
		delete(recompute, m.From)
		if w.e.owns(m.Into) {
			recompute[m.Into] = m.EntityType
		}
	}
	if len(w.e.act().rels) > 0 {
		hashes, err := tx.KeysCreatedInRange(ctx, lo, hi)
		if err != nil {
			return err
		}
		srcs, err := tx.PendingSources(ctx, w.e.act().version, hashes)
		if err != nil {
			return err
		}
		if len(srcs) > 0 {
			got, err := tx.Entities(ctx, srcs)
			if err != nil {
				return err
			}
			for _, id := range srcs {
				if r, ok := got[id]; ok && r.Status == store.StatusActive && !closed[id] && w.e.owns(id) {
					recompute[id] = r.Type
				}
			}
		}
	}
	links, err := tx.LinksInRange(ctx, lo, hi)
	if err != nil {
		return err
	}
	type work struct {
		typ  string
		seqs []int64
	}
	byEntity := map[string]*work{}
	var ids []string
	var need []int64
	for _, l := range links {
		if strings.HasPrefix(l.EntityType, "_") {
			continue
		}
		wk := byEntity[l.EntityID]
		if wk == nil {
			wk = &work{typ: l.EntityType}
			byEntity[l.EntityID] = wk
			ids = append(ids, l.EntityID)
		}
		wk.seqs = append(wk.seqs, l.Seq)
		if mem[l.Seq] == nil {
			need = append(need, l.Seq)
		}
	}
	sort.Strings(ids)
	events := make(map[int64]*interpret.Event, len(links))
	if len(need) > 0 {
		rows, err := tx.Events(ctx, need)
		if err != nil {
			return err
		}
		for i := range rows {
			ev, err := decodeEvent(&rows[i])
			if err != nil {
				return err
			}
			events[rows[i].Seq] = ev
		}
	}
	for seq, row := range mem {
		if row == nil || seq <= lo || seq > hi {
			continue
		}
		ev, err := decodeEvent(row)
		if err != nil {
			return err
		}
		events[seq] = ev
	}
	// Entities in the cache need neither their state nor their open row.
	load := ids
	if w.cache != nil {
		load = make([]string, 0, len(ids))
		for _, id := range ids {
			if _, ok := w.cache.get(id); !ok {
				load = append(load, id)
			}
		}
	}
	states, err := tx.States(ctx, w.e.act().version, load)
	if err != nil {
		return err
	}
	// Birth sequences matter only for entities without working state
	// (ghosts that saw events before this range).
	var stateless []string
	for _, id := range load {
		if _, ok := states[id]; !ok {
			stateless = append(stateless, id)
		}
	}
	recs, err := tx.Entities(ctx, stateless)
	if err != nil {
		return err
	}
	// Open rows, per entity type.
	byType := map[string][]string{}
	for _, id := range load {
		t := byEntity[id].typ
		byType[t] = append(byType[t], id)
	}
	open := map[string]store.HistoryRow{}
	for t, tids := range byType {
		ent := w.e.act().defs.Entity(t)
		if ent == nil {
			continue
		}
		rows, err := tx.OpenRows(ctx, w.e.act().version, ent, tids)
		if err != nil {
			return err
		}
		for id, r := range rows {
			open[id] = r
		}
	}
	rels := map[string][]interpret.RelRow{}
	relTypes := byType
	if len(load) < len(ids) {
		relTypes = map[string][]string{}
		for _, id := range ids {
			t := byEntity[id].typ
			relTypes[t] = append(relTypes[t], id)
		}
	}
	for t, tids := range relTypes {
		ent := w.e.act().defs.Entity(t)
		if ent == nil {
			continue
		}
		got, err := w.loadRels(ent, tids)
		if err != nil {
			return err
		}
		for id, r := range got {
			rels[id] = r
		}
	}
	var newStates []store.StateRecord
	for _, id := range ids {
		wk := byEntity[id]
		if _, ok := recompute[id]; ok || closed[id] {
			w.cache.drop(id)
			continue
		}
		ent := w.e.act().defs.Entity(wk.typ)
		m := w.e.act().machines[wk.typ]
		if ent == nil || m == nil {
			continue
		}
		evs := make([]*interpret.Event, 0, len(wk.seqs))
		for _, s := range wk.seqs {
			if ev := events[s]; ev != nil && !strings.HasPrefix(ev.Type, "_defacto") {
				evs = append(evs, ev)
			}
		}
		if len(evs) == 0 {
			continue
		}
		sortEvents(evs)
		var (
			state    *interpret.State
			hasState bool
			base     store.HistoryRow
			hasBase  bool
		)
		if ce, ok := w.cache.get(id); ok {
			state, hasState, base, hasBase = ce.state, true, ce.open, ce.hasOpen
		} else {
			var srec store.StateRecord
			if srec, hasState = states[id]; hasState {
				if srec.Status == store.StatusMerged {
					continue
				}
				if state, err = decodeState(srec.Data, id, wk.typ); err != nil {
					return err
				}
			}
			base, hasBase = open[id]
		}
		if !hasState && recs[id].BirthSeq != 0 && recs[id].BirthSeq <= lo {
			recompute[id] = wk.typ // events seen while a ghost
			continue
		}
		if state != nil {
			mark := max(state.LastAppliedTime, state.LastFiredTime)
			late := 0
			for _, ev := range evs {
				if ev.Time < mark {
					late++
				}
			}
			if late > 0 {
				w.st.late += late
				recompute[id] = wk.typ
				w.cache.drop(id)
				continue
			}
		}
		if hasBase && evs[0].Time == base.ValidFrom {
			// The open row's instant changes again: its predecessor decides
			// whether a row survives there, so rebuild the entity.
			recompute[id] = wk.typ
			w.cache.drop(id)
			continue
		}
		var basePtr *interpret.Row
		if hasBase {
			r := toInterpRow(base)
			basePtr = &r
		}
		run := m.Start(id, state, basePtr, rels[id])
		for _, ev := range evs {
			run.Apply(ev)
			w.st.processed.add(ev.Seq)
		}
		if w.horizon != store.NoTime {
			run.Advance(w.horizon)
		}
		if run.Err != nil {
			return run.Err
		}
		w.failures(run, ent)
		if run.State == nil {
			continue
		}
		last, err := w.writeIncremental(ent, id, run, base, hasBase)
		if err != nil {
			return err
		}
		if err := w.writeRelsIncremental(ent, id, run); err != nil {
			return err
		}
		if err := w.pending(id, run, false); err != nil {
			return err
		}
		if err := w.recordFailures(id, run, false); err != nil {
			return err
		}
		newStates = append(newStates, w.stateRecord(id, wk.typ, run.State, m, hasState && run.Changed))
		if last != nil {
			w.cache.put(id, run.State, *last, true)
		} else {
			w.cache.put(id, run.State, base, hasBase)
		}
		if run.Created {
			w.st.created[id] = true
		} else if run.Changed {
			w.st.updated[id] = true
		}
	}
	// The recomputed entities are not among those interpreted above, so
	// they may go first: their reads then come before this chunk's writes,
	// which a store that queues writes (SQLite) would otherwise have to
	// finish before answering.
	redo := make([]store.EntityRecord, 0, len(recompute))
	for id, typ := range recompute {
		redo = append(redo, store.EntityRecord{ID: id, Type: typ, Status: store.StatusActive})
	}
	sort.Slice(redo, func(i, j int) bool { return redo[i].ID < redo[j].ID })
	if err := w.recomputeAll(redo); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	return tx.PutStates(ctx, w.e.act().version, newStates)
}

func sortEvents(evs []*interpret.Event) {
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].Time != evs[j].Time {
			return evs[i].Time < evs[j].Time
		}
		return evs[i].Seq < evs[j].Seq
	})
}

// failures converts a run's failures into results.
func (w *stageWriter) failures(run *interpret.Run, ent *definition.Entity) {
	for _, f := range run.Failures {
		idx := -1
		if f.EventSeq != 0 {
			if i, ok := w.index[f.EventSeq]; ok {
				idx = i
			}
		}
		w.st.failures = append(w.st.failures, EventFailure{
			Stage: StageInterpret, Index: idx, Sequence: f.EventSeq, EventID: f.EventID,
			Source: f.Source, EventType: f.EventType, EntityType: ent.Name, EntityID: run.EntityID(),
			Field: f.Field, Location: f.Location, Message: f.Message, Recoverable: f.EventSeq != 0,
		})
	}
}

// writeIncremental appends a run's new rows after the stored open row and
// returns the new open row (nil: no rows).
func (w *stageWriter) writeIncremental(ent *definition.Entity, id string, run *interpret.Run, base store.HistoryRow, hasBase bool) (*store.HistoryRow, error) {
	if len(run.Rows) == 0 {
		return nil, nil
	}
	hw := &store.HistoryWrite{EntityID: id, Now: w.now}
	if hasBase {
		hw.Close = map[int64]int64{base.ValidFrom: run.Rows[0].ValidFrom}
	}
	hw.Insert = historyRows(id, run.Rows, "", store.NoTime)
	w.st.rowsWritten += len(hw.Insert)
	w.queue(ent, hw)
	return &hw.Insert[len(hw.Insert)-1], nil
}

// historyRows turns interpreted rows into stored rows, chaining valid_to;
// the last row closes at closeAt (NoTime: open).
func historyRows(id string, rows []interpret.Row, mergedInto string, closeAt int64) []store.HistoryRow {
	out := make([]store.HistoryRow, len(rows))
	for i, r := range rows {
		h := store.HistoryRow{
			EntityID: id, State: r.State, Props: r.Props, ValidFrom: r.ValidFrom, ValidTo: store.NoTime,
			MergedInto: mergedInto, LastEventTime: r.LastEventTime, StateEnteredTime: r.StateEnteredTime,
			CreatedTime: r.CreatedTime, EventSeq: r.EventSeq,
		}
		if i+1 < len(rows) {
			h.ValidTo = rows[i+1].ValidFrom
		} else {
			h.ValidTo = closeAt
		}
		out[i] = h
	}
	return out
}

func toInterpRow(h store.HistoryRow) interpret.Row {
	return interpret.Row{
		State: h.State, Props: h.Props, ValidFrom: h.ValidFrom, LastEventTime: h.LastEventTime,
		StateEnteredTime: h.StateEnteredTime, CreatedTime: h.CreatedTime, EventSeq: h.EventSeq,
	}
}

// replace makes rows the entity's current belief (history.md §4 Replace).
func (w *stageWriter) replace(ent *definition.Entity, id string, rows []store.HistoryRow) error {
	stored, err := w.tx.CurrentRows(w.ctx, w.e.act().version, ent, id)
	if err != nil {
		return err
	}
	hw := planReplace(id, stored, rows, w.now)
	w.st.rowsWritten += len(hw.Insert)
	w.st.superseded += len(hw.Supersede)
	if len(hw.Insert) == 0 && len(hw.Supersede) == 0 && len(hw.Close) == 0 {
		return nil
	}
	return w.tx.WriteHistory(w.ctx, w.e.act().version, ent, hw)
}

func planReplace(id string, stored, rows []store.HistoryRow, now int64) *store.HistoryWrite {
	hw := &store.HistoryWrite{EntityID: id, Now: now}
	byVF := make(map[int64]store.HistoryRow, len(stored))
	for _, s := range stored {
		byVF[s.ValidFrom] = s
	}
	for _, r := range rows {
		s, ok := byVF[r.ValidFrom]
		if !ok {
			hw.Insert = append(hw.Insert, r)
			continue
		}
		delete(byVF, r.ValidFrom)
		switch {
		case sameRow(s, r) && s.ValidTo == r.ValidTo:
		case sameRow(s, r) && s.ValidTo == store.NoTime:
			if hw.Close == nil {
				hw.Close = map[int64]int64{}
			}
			hw.Close[r.ValidFrom] = r.ValidTo
		default:
			hw.Supersede = append(hw.Supersede, s.ValidFrom)
			hw.Insert = append(hw.Insert, r)
		}
	}
	for vf := range byVF {
		hw.Supersede = append(hw.Supersede, vf)
	}
	sort.Slice(hw.Supersede, func(i, j int) bool { return hw.Supersede[i] < hw.Supersede[j] })
	return hw
}

// sameRow compares everything but valid_to and the transaction times.
func sameRow(a, b store.HistoryRow) bool {
	if a.State != b.State || a.MergedInto != b.MergedInto || a.LastEventTime != b.LastEventTime ||
		a.StateEnteredTime != b.StateEnteredTime || a.CreatedTime != b.CreatedTime || a.EventSeq != b.EventSeq ||
		len(a.Props) != len(b.Props) {
		return false
	}
	for i := range a.Props {
		if !sameValue(a.Props[i], b.Props[i]) {
			return false
		}
	}
	return true
}

// sameValue is equality that also keeps types apart (1 and 1.0 differ in a
// typed column's history).
func sameValue(a, b value.Value) bool {
	return a.Kind() == b.Kind() && value.Equal(a, b)
}

// bindResolver points relate resolution at this stage's transaction.
func (w *stageWriter) bindResolver() {
	w.e.act().relres.ctx, w.e.act().relres.tx = w.ctx, w.tx
}

// recompute rebuilds one entity from all its linked events (§4).
func (w *stageWriter) recompute(id, typ string) error {
	return w.recomputeAll([]store.EntityRecord{{ID: id, Type: typ, Status: store.StatusActive}})
}

// recomputeAll rebuilds active entities from all their linked events, as
// a full rebuild does (rebuild.go): a group of rebuildGroupSize at a time,
// each group's reads and writes a few statements, not a few per entity.
// On PostgreSQL every statement is a round trip, and an ingest recomputes an
// entity for each late arrival and each merge.
func (w *stageWriter) recomputeAll(recs []store.EntityRecord) error {
	for _, r := range recs {
		w.cache.drop(r.ID)
	}
	for part := range slices.Chunk(recs, rebuildGroupSize) {
		if err := w.rebuild(part, nil, nil, false); err != nil {
			return err
		}
	}
	return nil
}

// closeLoser closes a merged-away entity at its merge (§9).
func (w *stageWriter) closeLoser(mg store.MergeRecord) error {
	w.bindResolver()
	w.cache.drop(mg.From)
	ent := w.e.act().defs.Entity(mg.EntityType)
	m := w.e.act().machines[mg.EntityType]
	if ent == nil || m == nil {
		return nil
	}
	comp := []string{mg.From}
	absorbed, err := w.tx.MergeComponent(w.ctx, mg.From)
	if err != nil {
		return err
	}
	// Entities absorbed into the loser before this merge, transitively.
	for changed := true; changed; {
		changed = false
		for _, a := range absorbed {
			if a.MergeSeq < mg.MergeSeq && contains(comp, a.Into) && !contains(comp, a.From) {
				comp = append(comp, a.From)
				changed = true
			}
		}
	}
	rows, err := w.tx.ResolvedEvents(w.ctx, comp, mg.MergeSeq)
	if err != nil {
		return err
	}
	evs, err := interpretable(rows)
	if err != nil {
		return err
	}
	run := m.Recompute(mg.From, evs, mg.MergedAt)
	if run.Err != nil {
		return run.Err
	}
	closeAt := mg.MergedAt
	if n := len(run.Rows); n > 0 && run.Rows[n-1].ValidFrom > closeAt {
		closeAt = run.Rows[n-1].ValidFrom
	}
	if err := w.replace(ent, mg.From, historyRows(mg.From, run.Rows, mg.Into, closeAt)); err != nil {
		return err
	}
	w.st.recomputed[mg.From] = true
	if run.State != nil {
		rec := w.stateRecord(mg.From, mg.EntityType, run.State, m, true)
		rec.Status = store.StatusMerged
		rec.NextDeadline = store.NoTime
		if err := w.tx.PutStates(w.ctx, w.e.act().version, []store.StateRecord{rec}); err != nil {
			return err
		}
	}
	if len(run.Rows) == 0 {
		return nil
	}
	return w.tx.InsertMergedID(w.ctx, w.e.act().version, store.MergedID{
		EntityID: mg.From, EntityType: mg.EntityType, MergedInto: mg.Into, CanonicalID: mg.Into, MergedAt: mg.MergedAt,
	})
}

func (w *stageWriter) stateRecord(id, typ string, s *interpret.State, m *interpret.Machine, changed bool) store.StateRecord {
	if changed {
		s.Rev++
	}
	rec := store.StateRecord{
		EntityID: id, EntityType: typ, ShardHash: identity.ShardHash(id), Status: store.StatusActive,
		Data: encodeState(s), NextDeadline: store.NoTime,
	}
	if d, ok := m.NextDeadline(s); ok {
		rec.NextDeadline = d
	}
	return rec
}

// stateDoc is the stored form of a working state: properties keep their
// types through value tags.
type stateDoc struct {
	State            string            `json:"state"`
	Props            json.RawMessage   `json:"props"`
	PropTypes        map[string]string `json:"prop_types,omitempty"`
	CreatedTime      int64             `json:"created_time"`
	StateEnteredTime int64             `json:"state_entered_time"`
	LastEventTime    int64             `json:"last_event_time"`
	LastAppliedTime  int64             `json:"last_applied_time"`
	LastAppliedSeq   int64             `json:"last_applied_seq"`
	LastFiredTime    int64             `json:"last_fired_time"`
	Fired            map[string]int64  `json:"fired,omitempty"`
	Rev              int64             `json:"rev"`
}

// encodeState writes s as the bytes json.Marshal gives for its stateDoc,
// which stores hold: a rebuild compares stored and new documents byte for
// byte. It is written out by hand because it runs once per changed entity
// per chunk, where reflection cost as much as interpreting the events
// (TestEncodeStateMatchesJSONMarshal and FuzzEncodeState check it against
// json.Marshal).
func encodeState(s *interpret.State) []byte {
	props, types := value.EncodeTagged(value.Array(s.Props))
	b := make([]byte, 0, 320+len(props)+48*(len(types)+len(s.Fired)))
	b = append(b, `{"state":`...)
	b = appendJSONString(b, s.State)
	b = append(b, `,"props":`...)
	// EncodeTagged writes canonical, compact JSON; json.Marshal would copy
	// it escaping <, >, & and U+2028/2029, which appear only in strings.
	if bytes.ContainsAny(props, "<>&\u2028\u2029") {
		var buf bytes.Buffer
		json.HTMLEscape(&buf, props)
		props = buf.Bytes()
	}
	b = append(b, props...)
	if len(types) > 0 {
		b = append(b, `,"prop_types":{`...)
		for i, k := range slices.Sorted(maps.Keys(types)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, types[k])
		}
		b = append(b, '}')
	}
	for _, f := range [...]struct {
		name string
		v    int64
	}{
		{`,"created_time":`, s.CreatedTime}, {`,"state_entered_time":`, s.StateEnteredTime},
		{`,"last_event_time":`, s.LastEventTime}, {`,"last_applied_time":`, s.LastAppliedTime},
		{`,"last_applied_seq":`, s.LastAppliedSeq}, {`,"last_fired_time":`, s.LastFiredTime},
	} {
		b = strconv.AppendInt(append(b, f.name...), f.v, 10)
	}
	if len(s.Fired) > 0 {
		b = append(b, `,"fired":{`...)
		for i, k := range slices.Sorted(maps.Keys(s.Fired)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = strconv.AppendInt(append(b, ':'), s.Fired[k], 10)
		}
		b = append(b, '}')
	}
	b = strconv.AppendInt(append(b, `,"rev":`...), s.Rev, 10)
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes a string: plain
// printable ASCII directly, anything else through json.Marshal (which
// escapes quotes, backslashes, control and HTML characters, and replaces
// invalid UTF-8).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func decodeState(data []byte, id, typ string) (*interpret.State, error) {
	var d stateDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("entity %s: working state: %w", id, err)
	}
	props, err := value.DecodeTagged(d.Props, d.PropTypes)
	if err != nil {
		return nil, fmt.Errorf("entity %s: working state properties: %w", id, err)
	}
	return &interpret.State{
		EntityID: id, EntityType: typ, State: d.State, Props: props.AsArray(),
		CreatedTime: d.CreatedTime, StateEnteredTime: d.StateEnteredTime, LastEventTime: d.LastEventTime,
		LastAppliedTime: d.LastAppliedTime, LastAppliedSeq: d.LastAppliedSeq, LastFiredTime: d.LastFiredTime,
		Fired: d.Fired, Rev: d.Rev,
	}, nil
}

// interpretable decodes the ledger rows that interpretation applies (merge
// directives left out), sorted by (timestamp, sequence).
func interpretable(rows []store.LedgerRow) ([]*interpret.Event, error) {
	evs := make([]*interpret.Event, 0, len(rows))
	for i := range rows {
		if strings.HasPrefix(rows[i].EventType, "_defacto") {
			continue
		}
		ev, err := decodeEvent(&rows[i])
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	sortEvents(evs)
	return evs, nil
}

// decodeEvent turns a ledger row into an interpretation event.
func decodeEvent(row *store.LedgerRow) (*interpret.Event, error) {
	var types map[string]string
	if len(row.DataTypes) > 0 {
		if err := json.Unmarshal(row.DataTypes, &types); err != nil {
			return nil, fmt.Errorf("ledger row %d: data_types: %w", row.Seq, err)
		}
	}
	data, err := value.DecodeTagged(row.Data, types)
	if err != nil {
		return nil, fmt.Errorf("ledger row %d: data: %w", row.Seq, err)
	}
	return &interpret.Event{
		Seq: row.Seq, ID: row.EventID, Source: row.Source, Type: row.EventType, Time: row.Time,
		Data: data.AsObject(),
	}, nil
}
