package defacto

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/defacto-dev/defacto/internal/normalize"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// Reserved names of merge directives (identity.md §6).
const mergeDirectiveType = "_defacto_merge"

// MergeResult describes one explicit merge.
type MergeResult struct {
	EntityType        string         `json:"entity_type"`
	FromEntityID      string         `json:"from_entity_id"`
	IntoEntityID      string         `json:"into_entity_id"`
	MergeSequence     int64          `json:"merge_sequence"`
	EventsReassigned  int64          `json:"events_reassigned"`
	IdentityKeysMoved int64          `json:"identity_keys_moved"`
	EntitiesRebuilt   int            `json:"entities_rebuilt"`
	Failures          []EventFailure `json:"failures"`
	Build             *BuildResult   `json:"build"`
}

// directive is the data of a merge directive.
type directive struct {
	From     string   `json:"from_entity_id"`
	Into     string   `json:"into_entity_id"`
	Reason   string   `json:"reason"`
	FromKeys []string `json:"from_keys"`
	IntoKeys []string `json:"into_keys"`
}

// Merge merges entity from into entity into (the caller's direction is
// kept). Both must be active entities of one type. The merge is recorded in
// the ledger as a directive, so it survives every rebuild.
func (e *Engine) Merge(ctx context.Context, from, into, reason string) (*MergeResult, error) {
	unlock, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if from == into {
		return nil, errorf(ErrValidation, "cannot merge entity '%s' into itself", from)
	}
	var typ string
	err = e.st.Read(ctx, func(tx store.Tx) error {
		recs, err := tx.Entities(ctx, []string{from, into})
		if err != nil {
			return err
		}
		for _, id := range []string{from, into} {
			rec, ok := recs[id]
			if !ok {
				return errorf(ErrNotFound, "unknown entity id '%s'", id)
			}
			if rec.Status == store.StatusMerged {
				c, err := canonical(ctx, tx, id)
				if err != nil {
					return err
				}
				return errorf(ErrNotFound, "entity '%s' was already merged into '%s'", id, c)
			}
		}
		if recs[from].Type != recs[into].Type {
			return errorf(ErrValidation, "cannot merge %s '%s' into %s '%s': entities of different types",
				recs[from].Type, from, recs[into].Type, into)
		}
		typ = recs[from].Type
		return nil
	})
	if err != nil {
		return nil, wrapOp("merge", err)
	}
	build, err := e.autoBuild(ctx)
	if err != nil {
		return nil, err
	}
	res := &MergeResult{EntityType: typ, FromEntityID: from, IntoEntityID: into, Failures: []EventFailure{}, Build: build}
	stats := newRunStats()
	err = e.write(ctx, "merge", func(tx store.Tx) error {
		d := directive{From: from, Into: into, Reason: reason}
		for _, side := range []struct {
			id   string
			keys *[]string
		}{{from, &d.FromKeys}, {into, &d.IntoKeys}} {
			ks, err := tx.EntityKeys(ctx, side.id)
			if err != nil {
				return err
			}
			*side.keys = orderedKeyHashes(e, typ, ks)
		}
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		data, err := value.FromJSON(raw)
		if err != nil {
			return err
		}
		now := e.now()
		enc, _ := value.EncodeTagged(data)
		row := store.LedgerRow{
			EventID: normalize.EventID(reservedSource, mergeDirectiveType, now, data), Source: reservedSource,
			EventType: mergeDirectiveType, Time: now, Data: enc, Raw: raw, Hints: []byte("{}"), IngestedAt: now,
		}
		rows := []store.LedgerRow{row}
		if err := tx.Append(ctx, rows); err != nil {
			return err
		}
		res.MergeSequence = rows[0].Seq
		before, err := tx.EntityKeys(ctx, from)
		if err != nil {
			return err
		}
		res.IdentityKeysMoved = int64(len(before))
		if res.EventsReassigned, err = tx.CountLinks(ctx, from); err != nil {
			return err
		}
		mem := []resolvable{{seq: rows[0].Seq, time: now, row: &rows[0], index: -1}}
		return e.process(ctx, tx, mem, stats, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	stats.commitPending()
	res.EntitiesRebuilt = len(stats.recomputed)
	for _, f := range stats.failures {
		f.Index = -1
		res.Failures = append(res.Failures, f)
	}
	e.deadLetters(res.Failures)
	return res, nil
}

// orderedKeyHashes lists an entity's key hashes in identity-field order,
// then creation order.
func orderedKeyHashes(e *Engine, typ string, ks []store.KeyRecord) []string {
	out := make([]string, 0, len(ks))
	ent := e.act().defs.Entity(typ)
	used := make([]bool, len(ks))
	if ent != nil {
		for _, f := range ent.Identity {
			for i, k := range ks {
				if !used[i] && k.Field == f.Name {
					out = append(out, k.Hash)
					used[i] = true
				}
			}
		}
	}
	for i, k := range ks {
		if !used[i] {
			out = append(out, k.Hash)
		}
	}
	return out
}

// resolveDirective executes a merge directive inside the identity stage:
// each side is the entity currently holding the first of its stored keys
// that is still known (identity.md §6).
func (r *resolver) resolveDirective(ctx context.Context, ev resolvable) (*store.MergeRecord, *store.Link, error) {
	if ev.row == nil {
		return nil, nil, fmt.Errorf("merge directive %d: row not loaded", ev.seq)
	}
	var d directive
	if err := json.Unmarshal(ev.row.Data, &d); err != nil {
		return nil, nil, fmt.Errorf("merge directive %d: %w", ev.seq, err)
	}
	side := func(keys []string) (string, error) {
		var unknown []string
		for _, k := range keys {
			if _, ok := r.keyOf[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			got, err := r.tx.LookupKeys(ctx, unknown)
			if err != nil {
				return "", err
			}
			for h, k := range got {
				r.keyOf[h] = k.EntityID
			}
		}
		for _, k := range keys {
			if id, ok := r.keyOf[k]; ok {
				return id, nil
			}
		}
		return "", nil
	}
	from, err := side(d.FromKeys)
	if err != nil {
		return nil, nil, err
	}
	into, err := side(d.IntoKeys)
	if err != nil {
		return nil, nil, err
	}
	var link *store.Link
	if into != "" {
		rec, err := r.entity(ctx, into)
		if err != nil {
			return nil, nil, err
		}
		link = &store.Link{Seq: ev.seq, EntityType: rec.Type, EntityID: into, ResolvedID: into, ShardHash: rec.ShardHash}
	}
	if from == "" || into == "" || from == into {
		r.skipped++
		return nil, link, nil
	}
	fr, err := r.entity(ctx, from)
	if err != nil {
		return nil, nil, err
	}
	ir, err := r.entity(ctx, into)
	if err != nil {
		return nil, nil, err
	}
	if fr.Status != store.StatusActive || ir.Status != store.StatusActive || fr.Type != ir.Type {
		r.skipped++
		return nil, link, nil
	}
	m := &store.MergeRecord{
		From: from, Into: into, EntityType: fr.Type, Kind: store.MergeExplicit, Reason: d.Reason,
		MergeSeq: ev.seq, MergedAt: ev.time, RecordedAt: r.e.now(),
	}
	return m, link, nil
}
