package defacto

import (
	"context"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/identity"
	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// relateResolver finds relate targets through identity (identity.md §8). It
// reads through the transaction of the running stage, which the engine's
// write lock makes the only one.
type relateResolver struct {
	e   *Engine
	ctx context.Context
	tx  store.Tx
}

// ResolveRelate extracts the target's keys from the event, looks them up in
// order and returns the current entity of the first known key. It never
// creates keys or entities.
func (r *relateResolver) ResolveRelate(ev *interpret.Event, rel *definition.Relate) (string, []string, bool, error) {
	target := r.e.act().defs.Entity(rel.Target)
	if target == nil {
		return "", nil, false, nil
	}
	var hashes []string
	for _, f := range rel.Hints {
		field := target.IdentityField(f)
		if field == nil {
			continue
		}
		v, ok := ev.Data[f]
		if !ok || v.IsNull() {
			continue
		}
		var s string
		switch v.Kind() {
		case value.KindString:
			s = v.AsString()
		case value.KindInt, value.KindFloat:
			s = value.ToString(v)
		default:
			continue
		}
		norm, ok, err := identity.NormalizeValue(field, s)
		if err != nil || !ok {
			continue
		}
		hashes = append(hashes, identity.KeyHash(r.e.salt, rel.Target, f, norm))
	}
	if len(hashes) == 0 || r.tx == nil {
		return "", hashes, false, nil
	}
	got, err := r.tx.LookupKeys(r.ctx, hashes)
	if err != nil {
		return "", nil, false, err
	}
	for _, h := range hashes {
		if k, ok := got[h]; ok {
			id, err := r.asOf(k, rel.Target, ev.Seq)
			return id, hashes, true, err
		}
	}
	return "", hashes, false, nil
}

// asOf returns the entity a key identified when event seq was applied: the
// entity the key was created for, followed through the merges that happened
// at or before seq. Streaming sees exactly that; a rebuild, which sees the
// final identity, must not resolve to a later merge winner, or the stored
// target (original_target_id) would differ between the two.
func (r *relateResolver) asOf(k store.KeyRecord, typ string, seq int64) (string, error) {
	origin, err := r.tx.ResolvedAt(r.ctx, k.CreatedSeq, typ)
	if err != nil || origin == "" || origin == k.EntityID {
		if origin == "" {
			origin = k.EntityID
		}
		return origin, err
	}
	merges, err := r.tx.MergeComponent(r.ctx, origin)
	if err != nil {
		return "", err
	}
	next := make(map[string]store.MergeRecord, len(merges))
	for _, m := range merges {
		next[m.From] = m
	}
	id := origin
	for range len(merges) + 1 {
		m, ok := next[id]
		if !ok || m.MergeSeq > seq {
			break
		}
		id = m.Into
	}
	return id, nil
}
