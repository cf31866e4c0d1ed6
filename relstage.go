package defacto

import (
	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/store"
)

// loadRels reads the open relationship rows of the given sources for every
// relationship type their entity declares.
func (w *stageWriter) loadRels(ent *definition.Entity, ids []string) (map[string][]interpret.RelRow, error) {
	if len(ent.Relationships) == 0 || len(ids) == 0 {
		return nil, nil
	}
	out := map[string][]interpret.RelRow{}
	for _, rel := range ent.Relationships {
		got, err := w.tx.OpenRelRows(w.ctx, w.e.act().version, rel, ids)
		if err != nil {
			return nil, err
		}
		for id, rows := range got {
			for _, r := range rows {
				out[id] = append(out[id], interpret.RelRow{
					Type: rel.Type, TargetID: r.TargetID, Props: r.Props, ValidFrom: r.ValidFrom,
					ValidTo: r.ValidTo, Open: r.ValidTo == store.NoTime, EventSeq: r.EventSeq,
				})
			}
		}
	}
	return out, nil
}

func toStoreRel(id string, r interpret.RelRow) store.RelRow {
	vt := r.ValidTo
	if r.Open {
		vt = store.NoTime
	}
	return store.RelRow{SourceID: id, TargetID: r.TargetID, Props: r.Props, ValidFrom: r.ValidFrom, ValidTo: vt, EventSeq: r.EventSeq}
}

// writeRelsIncremental stores the relationship rows a run produced after
// the stored open ones: closes in place, same-instant replacements
// supersede, new rows are inserted.
func (w *stageWriter) writeRelsIncremental(ent *definition.Entity, id string, run *interpret.Run) error {
	if len(run.RelRows) == 0 && len(run.RelClose) == 0 {
		return nil
	}
	for _, rel := range ent.Relationships {
		rw := &store.RelWrite{SourceID: id, Now: w.now}
		for _, c := range run.RelClose {
			if c.Type != rel.Type {
				continue
			}
			k := store.RelKey{TargetID: c.TargetID, ValidFrom: c.ValidFrom}
			if c.ValidTo == c.ValidFrom {
				rw.Supersede = append(rw.Supersede, k)
				continue
			}
			if rw.Close == nil {
				rw.Close = map[store.RelKey]int64{}
			}
			rw.Close[k] = c.ValidTo
		}
		for _, r := range run.RelRows {
			if r.Type == rel.Type {
				rw.Insert = append(rw.Insert, toStoreRel(id, r))
			}
		}
		if len(rw.Close)+len(rw.Supersede)+len(rw.Insert) == 0 {
			continue
		}
		w.st.rowsWritten += len(rw.Insert)
		w.st.superseded += len(rw.Supersede)
		if err := w.tx.WriteRelationships(w.ctx, w.e.act().version, rel, rw); err != nil {
			return err
		}
	}
	return nil
}

func sameRel(a, b store.RelRow) bool {
	if a.EventSeq != b.EventSeq || len(a.Props) != len(b.Props) {
		return false
	}
	for i := range a.Props {
		if !sameValue(a.Props[i], b.Props[i]) {
			return false
		}
	}
	return true
}

// pending stores a run's pending relations (replace: a recompute re-derives
// all of them).
func (w *stageWriter) pending(id string, run *interpret.Run, replace bool) error {
	if replace {
		if err := w.tx.ClearPending(w.ctx, w.e.act().version, id); err != nil {
			return err
		}
	}
	if len(run.Pending) == 0 {
		return nil
	}
	ps := make([]store.PendingRelation, len(run.Pending))
	for i, p := range run.Pending {
		ps[i] = store.PendingRelation{SourceID: id, Type: p.Type, EventSeq: p.EventSeq, KeyHashes: p.KeyHashes}
	}
	return w.tx.AddPending(w.ctx, w.e.act().version, ps)
}

// recordFailures tracks which events failed for an entity, so BuildStatus
// can count them (D14).
func (w *stageWriter) recordFailures(id string, run *interpret.Run, replace bool) error {
	var seqs []int64
	for _, f := range run.Failures {
		if f.EventSeq != 0 {
			seqs = append(seqs, f.EventSeq)
		}
	}
	if len(seqs) == 0 && !replace {
		return nil
	}
	return w.tx.SetFailures(w.ctx, w.e.act().version, id, seqs, replace)
}
