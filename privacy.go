package defacto

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/identity"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// EraseResult describes one erasure. It holds no personal data.
type EraseResult struct {
	EntityID            string   `json:"entity_id"`
	EntityType          string   `json:"entity_type"`
	ErasureID           int64    `json:"erasure_id"`
	EntitiesErased      int      `json:"entities_erased"`
	ErasedIDs           []string `json:"erased_ids"`
	EventsDeleted       int64    `json:"events_deleted"`
	EventsScrubbed      int64    `json:"events_scrubbed"`
	IdentityKeysDeleted int64    `json:"identity_keys_deleted"`
	MergeLogRowsDeleted int64    `json:"merge_log_rows_deleted"`
	HistoryRowsDeleted  int64    `json:"history_rows_deleted"`
	EntitiesRecomputed  int      `json:"entities_recomputed"`
}

// RedactResult describes one redaction.
type RedactResult struct {
	EntityID           string `json:"entity_id"`
	EventsRedacted     int64  `json:"events_redacted"`
	FieldsTreated      int64  `json:"fields_treated"`
	EntitiesRecomputed int    `json:"entities_recomputed"`
}

// Erase removes everything that is or was the same entity as id: the whole
// merge chain in both directions (GDPR erasure, privacy.md §3). Events that
// belong only to the chain are deleted and their ids remembered, so a
// redelivery is skipped; events shared with other entities are scrubbed of
// the chain's identity and sensitive fields. An erasure record without
// personal data is kept. On SQLite the freed pages are overwritten and the
// WAL truncated before Erase returns.
func (e *Engine) Erase(ctx context.Context, id string) (*EraseResult, error) {
	unlock, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	res := &EraseResult{EntityID: id}
	err = e.write(ctx, "erase", func(tx store.Tx) error {
		if err := e.catchUpIdentity(ctx, tx); err != nil {
			return err
		}
		comp, typ, err := e.component(ctx, tx, id)
		if err != nil {
			return err
		}
		ent := e.act().defs.Entity(typ)
		res.EntityType, res.ErasedIDs, res.EntitiesErased = typ, comp, len(comp)
		rec := &store.Erasure{RequestedEntityID: id, EntityType: typ, ErasedIDs: comp, ErasedAt: e.now()}
		if rec.ID, err = tx.InsertErasure(ctx, rec); err != nil {
			return err
		}
		res.ErasureID = rec.ID

		in := make(map[string]bool, len(comp))
		for _, c := range comp {
			in[c] = true
		}
		links, err := tx.LinksOf(ctx, comp)
		if err != nil {
			return err
		}
		var deleteSeqs, shared []int64
		for seq, ls := range links {
			only := true
			for _, l := range ls {
				if !in[l.EntityID] && !in[l.ResolvedID] {
					only = false
				}
			}
			if only {
				deleteSeqs = append(deleteSeqs, seq)
			} else {
				shared = append(shared, seq)
			}
		}
		sort.Slice(shared, func(i, j int) bool { return shared[i] < shared[j] })
		// Scrub shared rows and collect the other entities they feed.
		follow := map[string]string{}
		rows, err := tx.Events(ctx, shared)
		if err != nil {
			return err
		}
		for i := range rows {
			row := rows[i]
			if err := e.scrubForErase(&row, ent); err != nil {
				return err
			}
			if err := tx.UpdatePayload(ctx, row); err != nil {
				return err
			}
			for _, l := range links[row.Seq] {
				if !in[l.EntityID] && !in[l.ResolvedID] {
					follow[l.EntityID] = l.EntityType
				}
			}
		}
		if err := tx.DeleteLinks(ctx, shared, comp); err != nil {
			return err
		}
		res.EventsScrubbed = int64(len(rows))
		if err := tx.DeleteEvents(ctx, deleteSeqs, rec.ID); err != nil {
			return err
		}
		res.EventsDeleted = int64(len(deleteSeqs))
		if res.IdentityKeysDeleted, res.MergeLogRowsDeleted, err = tx.DeleteIdentity(ctx, comp); err != nil {
			return err
		}
		if ent != nil {
			for _, c := range comp {
				n, err := tx.DeleteEntity(ctx, e.act().version, ent, c)
				if err != nil {
					return err
				}
				res.HistoryRowsDeleted += n
			}
		}
		n, err := e.purgeRecompute(ctx, tx, follow)
		if err != nil {
			return err
		}
		res.EntitiesRecomputed = n
		gone := make(map[string]string, len(comp)+len(follow))
		for _, c := range comp {
			gone[c] = typ
		}
		for id, t := range follow {
			gone[id] = t
		}
		elsewhere, err := e.forgetElsewhere(ctx, tx, gone)
		if err != nil {
			return err
		}
		res.HistoryRowsDeleted += elsewhere
		rec.EventsDeleted, rec.EventsScrubbed = res.EventsDeleted, res.EventsScrubbed
		rec.IdentityKeysDeleted, rec.HistoryRowsDeleted = res.IdentityKeysDeleted, res.HistoryRowsDeleted
		rec.EntitiesRecomputed = int64(n)
		return tx.UpdateErasure(ctx, rec)
	})
	if err != nil {
		return nil, err
	}
	if err := e.st.AfterErase(ctx); err != nil {
		return nil, storageErr("erase: secure delete", err)
	}
	e.log.Info("erase", "erasure_id", res.ErasureID, "entities", res.EntitiesErased, "events_deleted", res.EventsDeleted)
	return res, nil
}

// catchUpIdentity resolves every unresolved event, so events carrying an
// entity's keys are linked before erasure or redaction looks at links.
func (e *Engine) catchUpIdentity(ctx context.Context, tx store.Tx) error {
	head, err := tx.LedgerHead(ctx)
	if err != nil {
		return err
	}
	_, err = e.identityStageUpTo(ctx, tx, head)
	return err
}

// component returns id and every id connected to it through the merge log,
// in either direction, sorted; and their entity type.
func (e *Engine) component(ctx context.Context, tx store.Tx, id string) ([]string, string, error) {
	merges, err := tx.MergeComponent(ctx, id)
	if err != nil {
		return nil, "", err
	}
	set := map[string]bool{id: true}
	typ := ""
	for _, m := range merges {
		set[m.From], set[m.Into] = true, true
		typ = m.EntityType
	}
	recs, err := tx.Entities(ctx, []string{id})
	if err != nil {
		return nil, "", err
	}
	if r, ok := recs[id]; ok {
		typ = r.Type
	} else if len(merges) == 0 {
		if er, err := tx.ErasureOf(ctx, id); err != nil {
			return nil, "", err
		} else if er != nil {
			return nil, "", errorf(ErrNotFound, "entity '%s' was erased at %s (erasure %d)", id, value.FormatTime(er.ErasedAt), er.ID)
		}
		return nil, "", errorf(ErrNotFound, "unknown entity id '%s'", id)
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, typ, nil
}

// scrubForErase removes from a shared row the erased type's hint fields and
// feeding fields (data and raw) and its hints entry.
func (e *Engine) scrubForErase(row *store.LedgerRow, ent *definition.Entity) error {
	if ent == nil {
		return nil
	}
	fields := map[string]bool{}
	var paths []string
	src := e.act().defs.Source(row.Source)
	var cfg *definition.SourceEvent
	if src != nil {
		cfg = src.Event(row.EventType)
	}
	if cfg != nil {
		for _, h := range cfg.Hints {
			if h.Entity != ent.Name {
				continue
			}
			for _, f := range h.Fields {
				fields[f] = true
				for _, m := range cfg.Mappings {
					if m.Field == f {
						paths = append(paths, definition.RawPaths(m)...)
					}
				}
			}
		}
	}
	for _, f := range ent.Feeds {
		if f.EventType == row.EventType {
			fields[f.Field] = true
			paths = append(paths, f.RawPaths[row.Source]...)
		}
	}
	return rewritePayload(row, func(field string, v value.Value) (value.Value, edit) {
		if fields[field] {
			return value.Null, remove
		}
		return v, keep
	}, func(v value.Value) value.Value {
		for _, p := range paths {
			v = deletePath(v, p)
		}
		return v
	}, ent.Name)
}

// edit says what rewritePayload does with one data member.
type edit int

const (
	keep edit = iota
	replace
	remove
)

// rewritePayload rewrites a ledger row's data member by member, its raw
// record through raw, and drops dropHints's hints entry ("" keeps hints).
func rewritePayload(row *store.LedgerRow, data func(string, value.Value) (value.Value, edit), raw func(value.Value) value.Value, dropHints string) error {
	var types map[string]string
	if len(row.DataTypes) > 0 {
		if err := json.Unmarshal(row.DataTypes, &types); err != nil {
			return err
		}
	}
	d, err := value.DecodeTagged(row.Data, types)
	if err != nil {
		return err
	}
	obj := map[string]value.Value{}
	for k, v := range d.AsObject() {
		switch nv, what := data(k, v); what {
		case remove:
		case replace:
			obj[k] = nv
		default:
			obj[k] = v
		}
	}
	enc, tags := value.EncodeTagged(value.Object(obj))
	row.Data, row.DataTypes = enc, nil
	if len(tags) > 0 {
		if row.DataTypes, err = json.Marshal(tags); err != nil {
			return err
		}
	}
	if len(row.Raw) > 0 {
		rv, err := value.FromJSON(row.Raw)
		if err == nil {
			row.Raw = value.CanonicalJSON(raw(rv))
		}
	}
	if dropHints != "" && len(row.Hints) > 0 {
		var h map[string]json.RawMessage
		if err := json.Unmarshal(row.Hints, &h); err == nil {
			delete(h, dropHints)
			if row.Hints, err = json.Marshal(h); err != nil {
				return err
			}
		}
	}
	return nil
}

// deletePath removes the member at a dot path (array elements become null,
// so other indexes keep their meaning).
func deletePath(v value.Value, path string) value.Value {
	return editPath(v, strings.Split(path, "."), func(value.Value) (value.Value, bool) { return value.Null, false })
}

// editPath rewrites the value at segs; f returns the replacement and
// whether to keep the member (false deletes an object member).
func editPath(v value.Value, segs []string, f func(value.Value) (value.Value, bool)) value.Value {
	if len(segs) == 0 {
		nv, _ := f(v)
		return nv
	}
	switch v.Kind() {
	case value.KindObject:
		old := v.AsObject()
		cur, ok := old[segs[0]]
		if !ok {
			return v
		}
		m := make(map[string]value.Value, len(old))
		for k, x := range old {
			m[k] = x
		}
		if len(segs) == 1 {
			nv, keep := f(cur)
			if keep {
				m[segs[0]] = nv
			} else {
				delete(m, segs[0])
			}
		} else {
			m[segs[0]] = editPath(cur, segs[1:], f)
		}
		return value.Object(m)
	case value.KindArray:
		i, err := strconv.Atoi(segs[0])
		a := v.AsArray()
		if err != nil || i < 0 || i >= len(a) {
			return v
		}
		c := append([]value.Value(nil), a...)
		if len(segs) == 1 {
			nv, _ := f(c[i])
			c[i] = nv
		} else {
			c[i] = editPath(c[i], segs[1:], f)
		}
		return value.Array(c)
	}
	return v
}

// purgeRecompute rebuilds entities from the (changed) ledger after deleting
// all their history rows, superseded ones included (history.md §4 Purge).
func (e *Engine) purgeRecompute(ctx context.Context, tx store.Tx, ids map[string]string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	bs, err := e.buildState(ctx, tx)
	if err != nil {
		return 0, err
	}
	idc, err := metaInt(ctx, tx, metaIdentityCursor)
	if err != nil {
		return 0, err
	}
	w := &stageWriter{e: e, tx: tx, ctx: ctx, st: newRunStats().pending, horizon: bs.TickHorizon, hi: min(idc, bs.Cursor), now: e.now()}
	if w.hi == 0 {
		w.hi = math.MaxInt64
	}
	order := make([]string, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	sort.Strings(order)
	n := 0
	for _, id := range order {
		ent := e.act().defs.Entity(ids[id])
		if ent == nil {
			continue
		}
		if err := tx.PurgeHistory(ctx, e.act().version, ent, id); err != nil {
			return 0, err
		}
		if err := w.recompute(id, ids[id]); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// Redact replaces the sensitive values of an entity with their treatments
// (hash, mask or redact) in the ledger's raw and normalized payloads and in
// history, keeping the entity and its transitions (privacy.md §4). A
// merged-away id redacts its canonical entity.
func (e *Engine) Redact(ctx context.Context, id string) (*RedactResult, error) {
	unlock, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	res := &RedactResult{}
	err = e.write(ctx, "redact", func(tx store.Tx) error {
		if err := e.catchUpIdentity(ctx, tx); err != nil {
			return err
		}
		cid, err := canonical(ctx, tx, id)
		if err != nil {
			return err
		}
		if cid == "" {
			if er, err := tx.ErasureOf(ctx, id); err != nil {
				return err
			} else if er != nil {
				return errorf(ErrNotFound, "entity '%s' was erased at %s", id, value.FormatTime(er.ErasedAt))
			}
			return errorf(ErrNotFound, "unknown entity id '%s'", id)
		}
		res.EntityID = cid
		recs, err := tx.Entities(ctx, []string{cid})
		if err != nil {
			return err
		}
		ent := e.act().defs.Entity(recs[cid].Type)
		if ent == nil {
			return errorf(ErrNotFound, "entity '%s' has type '%s', not in the active definitions", cid, recs[cid].Type)
		}
		links, err := tx.LinksOf(ctx, []string{cid})
		if err != nil {
			return err
		}
		seqs := make([]int64, 0, len(links))
		for s := range links {
			seqs = append(seqs, s)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		rows, err := tx.Events(ctx, seqs)
		if err != nil {
			return err
		}
		follow := map[string]string{cid: ent.Name}
		for i := range rows {
			row := rows[i]
			treated, err := e.treatRow(&row, ent)
			if err != nil {
				return err
			}
			if treated == 0 {
				continue
			}
			res.EventsRedacted++
			res.FieldsTreated += int64(treated)
			if err := tx.UpdatePayload(ctx, row); err != nil {
				return err
			}
			for _, l := range links[row.Seq] {
				follow[l.EntityID] = l.EntityType
			}
		}
		if res.EntitiesRecomputed, err = e.purgeRecompute(ctx, tx, follow); err != nil {
			return err
		}
		_, err = e.forgetElsewhere(ctx, tx, follow)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := e.st.AfterErase(ctx); err != nil {
		return nil, storageErr("redact: secure delete", err)
	}
	return res, nil
}

// treatRow applies the entity's feeding-field treatments to one row and
// returns how many fields changed (a field counts once per event).
func (e *Engine) treatRow(row *store.LedgerRow, ent *definition.Entity) (int, error) {
	type feed struct {
		treatment string
		paths     []string
	}
	feeds := map[string]feed{}
	for _, f := range ent.Feeds {
		if f.EventType == row.EventType {
			feeds[f.Field] = feed{f.Treatment, f.RawPaths[row.Source]}
		}
	}
	if len(feeds) == 0 {
		return 0, nil
	}
	changed := map[string]bool{}
	before := *row
	err := rewritePayload(row, func(field string, v value.Value) (value.Value, edit) {
		f, ok := feeds[field]
		if !ok {
			return v, keep
		}
		nv := identity.Treat(e.salt, f.treatment, v)
		if !sameValue(nv, v) {
			changed[field] = true
		}
		return nv, replace
	}, func(raw value.Value) value.Value {
		for field, f := range feeds {
			for _, p := range f.paths {
				raw = editPath(raw, strings.Split(p, "."), func(old value.Value) (value.Value, bool) {
					nv := identity.Treat(e.salt, f.treatment, old)
					if !sameValue(nv, old) {
						changed[field] = true
					}
					return nv, true
				})
			}
		}
		return raw
	}, "")
	if err != nil {
		return 0, err
	}
	if len(changed) == 0 {
		*row = before
	}
	return len(changed), nil
}

// forgetElsewhere deletes the rows of ids (id → entity type) from every
// version store other than the active one and marks those versions dirty:
// an erasure or a redaction must leave no copy of the removed values in a
// version that is not active (its history, working state and relationship
// rows were computed from the payloads as they were). Recomputing there
// would need that version's machines; instead its next activation sees the
// dirty flag and rebuilds it in full from the scrubbed ledger, which
// recreates the rows of the entities that still exist (decision; privacy.md
// speaks of one store). Versions that were never activated have no store
// and are skipped. It returns the number of rows deleted.
func (e *Engine) forgetElsewhere(ctx context.Context, tx store.Tx, ids map[string]string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	versions, err := tx.Versions(ctx)
	if err != nil {
		return 0, err
	}
	order := make([]string, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	sort.Strings(order)
	var n int64
	for _, v := range versions {
		if v.Name == e.act().version {
			continue
		}
		var states []*store.BuildState
		for shard := range e.totalShards() {
			bs, err := tx.BuildState(ctx, v.Name, shard)
			if err != nil {
				return 0, err
			}
			if bs != nil {
				states = append(states, bs)
			}
		}
		if len(states) == 0 {
			continue
		}
		set, res, err := definition.LoadBytes(v.Definitions, v.Name+".json")
		if err := definitionsErr(res, err); err != nil {
			return 0, fmt.Errorf("version %s: %w", v.Name, err)
		}
		for _, id := range order {
			ent := set.Entity(ids[id])
			if ent == nil {
				continue
			}
			k, err := tx.DeleteEntity(ctx, v.Name, ent, id)
			if err != nil {
				return 0, err
			}
			n += k
		}
		for _, bs := range states {
			bs.Dirty = true
			if err := tx.PutBuildState(ctx, bs); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}
