package defacto

import (
	"context"
	"sort"
	"strconv"

	"github.com/defacto-dev/defacto/internal/identity"
	"github.com/defacto-dev/defacto/internal/store"
)

// resolvable is one live ledger event waiting for the identity stage.
type resolvable struct {
	seq   int64
	time  int64
	keys  []identity.EntityKeys
	row   *store.LedgerRow // set when the row is at hand (this chunk)
	index int              // input position in the current call, -1 otherwise
}

// identityStage resolves every unresolved live event in sequence order
// (identity.md §4): creating entities, linking new keys, merging entities
// one event proves identical. mem holds rows appended in this transaction;
// older unresolved rows are read from the ledger first. It returns the
// automatic merges it executed and the identity cursor it left.
func (e *Engine) identityStage(ctx context.Context, tx store.Tx, mem []resolvable) ([]store.MergeRecord, int64, error) {
	cursor, err := metaInt(ctx, tx, metaIdentityCursor)
	if err != nil {
		return nil, 0, err
	}
	var merges []store.MergeRecord
	for {
		// Older unresolved events (appended without processing) go first.
		limit := 1000
		upto := int64(-1)
		if len(mem) > 0 {
			upto = mem[0].seq
		}
		if upto >= 0 && cursor >= upto-1 {
			break
		}
		rows, err := tx.EventsAfter(ctx, cursor, limit)
		if err != nil {
			return nil, 0, err
		}
		var batch []resolvable
		for i := range rows {
			if upto >= 0 && rows[i].Seq >= upto {
				break
			}
			keys, err := e.keysOf(&rows[i])
			if err != nil {
				return nil, 0, err
			}
			batch = append(batch, resolvable{seq: rows[i].Seq, time: rows[i].Time, keys: keys, row: &rows[i], index: -1})
		}
		if len(batch) == 0 {
			break
		}
		m, err := e.resolveBatch(ctx, tx, batch)
		if err != nil {
			return nil, 0, err
		}
		merges = append(merges, m...)
		cursor = batch[len(batch)-1].seq
		if upto < 0 && len(rows) < limit {
			break
		}
	}
	if len(mem) > 0 {
		m, err := e.resolveBatch(ctx, tx, mem)
		if err != nil {
			return nil, 0, err
		}
		merges = append(merges, m...)
		cursor = mem[len(mem)-1].seq
	}
	return merges, cursor, tx.SetMeta(ctx, metaIdentityCursor, strconv.FormatInt(cursor, 10))
}

// resolver holds one batch's identity writes until they are flushed.
type resolver struct {
	e        *Engine
	tx       store.Tx
	keyOf    map[string]string // key hash → entity id (known keys)
	entities map[string]store.EntityRecord
	newKeys  []store.KeyRecord
	newEnts  []store.EntityRecord
	links    []store.Link
	skipped  int // merge directives skipped on replay
}

func (r *resolver) flush(ctx context.Context) error {
	if err := r.tx.InsertEntities(ctx, r.newEnts); err != nil {
		return err
	}
	if err := r.tx.InsertKeys(ctx, r.newKeys); err != nil {
		return err
	}
	if err := r.tx.InsertLinks(ctx, r.links); err != nil {
		return err
	}
	r.newEnts, r.newKeys, r.links = r.newEnts[:0], r.newKeys[:0], r.links[:0]
	return nil
}

func (r *resolver) entity(ctx context.Context, id string) (store.EntityRecord, error) {
	if rec, ok := r.entities[id]; ok {
		return rec, nil
	}
	got, err := r.tx.Entities(ctx, []string{id})
	if err != nil {
		return store.EntityRecord{}, err
	}
	rec := got[id]
	r.entities[id] = rec
	return rec, nil
}

func (e *Engine) resolveBatch(ctx context.Context, tx store.Tx, batch []resolvable) ([]store.MergeRecord, error) {
	var hashes []string
	for _, ev := range batch {
		for _, ek := range ev.keys {
			for _, k := range ek.Keys {
				hashes = append(hashes, k.Hash)
			}
		}
	}
	known, err := tx.LookupKeys(ctx, hashes)
	if err != nil {
		return nil, err
	}
	r := &resolver{e: e, tx: tx, keyOf: make(map[string]string, len(hashes)), entities: map[string]store.EntityRecord{}}
	for h, k := range known {
		r.keyOf[h] = k.EntityID
	}
	now := e.now()
	var merges []store.MergeRecord
	for _, ev := range batch {
		if ev.row != nil && ev.row.Source == reservedSource {
			if ev.row.EventType != mergeDirectiveType {
				continue
			}
			m, link, err := r.resolveDirective(ctx, ev)
			if err != nil {
				return nil, err
			}
			if m != nil {
				if err := r.merge(ctx, *m); err != nil {
					return nil, err
				}
				merges = append(merges, *m)
			}
			if link != nil {
				r.links = append(r.links, *link)
			}
			continue
		}
		for _, ek := range ev.keys {
			var ids []string
			for _, k := range ek.Keys {
				if id, ok := r.keyOf[k.Hash]; ok && !contains(ids, id) {
					ids = append(ids, id)
				}
			}
			var target string
			switch len(ids) {
			case 0:
				target = identity.EntityID(e.salt, ek.Keys[0].Hash)
				rec := store.EntityRecord{ID: target, Type: ek.Entity, BirthSeq: ev.seq, Status: store.StatusActive, ShardHash: identity.ShardHash(target)}
				r.entities[target] = rec
				r.newEnts = append(r.newEnts, rec)
			case 1:
				target = ids[0]
			default:
				recs := make([]store.EntityRecord, len(ids))
				for i, id := range ids {
					if recs[i], err = r.entity(ctx, id); err != nil {
						return nil, err
					}
				}
				sort.Slice(recs, func(i, j int) bool {
					if recs[i].BirthSeq != recs[j].BirthSeq {
						return recs[i].BirthSeq < recs[j].BirthSeq
					}
					return recs[i].ID < recs[j].ID
				})
				winner := recs[0]
				target = winner.ID
				for _, loser := range recs[1:] {
					m := store.MergeRecord{
						From: loser.ID, Into: winner.ID, EntityType: ek.Entity, Kind: store.MergeAuto,
						MergeSeq: ev.seq, MergedAt: ev.time, RecordedAt: now,
					}
					if err := r.merge(ctx, m); err != nil {
						return nil, err
					}
					merges = append(merges, m)
				}
			}
			for _, k := range ek.Keys {
				if _, ok := r.keyOf[k.Hash]; ok {
					continue
				}
				r.keyOf[k.Hash] = target
				r.newKeys = append(r.newKeys, store.KeyRecord{
					Hash: k.Hash, EntityType: ek.Entity, Field: k.Field, EntityID: target,
					Value: k.Value, HasValue: !k.Sensitive, CreatedSeq: ev.seq,
				})
			}
			r.links = append(r.links, store.Link{
				Seq: ev.seq, EntityType: ek.Entity, EntityID: target, ResolvedID: target,
				ShardHash: identity.ShardHash(target),
			})
		}
	}
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	e.mergesSkipped += r.skipped
	return merges, nil
}

// merge executes one merge (identity.md §5) and updates the batch caches.
func (r *resolver) merge(ctx context.Context, m store.MergeRecord) error {
	// Buffered keys and links must be in the database before the merge
	// repoints them.
	if err := r.flush(ctx); err != nil {
		return err
	}
	winner, err := r.entity(ctx, m.Into)
	if err != nil {
		return err
	}
	loser, err := r.entity(ctx, m.From)
	if err != nil {
		return err
	}
	if err := r.tx.ApplyMerge(ctx, m, winner.ShardHash); err != nil {
		return err
	}
	for h, id := range r.keyOf {
		if id == loser.ID {
			r.keyOf[h] = winner.ID
		}
	}
	loser.Status, loser.MergedInto = store.StatusMerged, winner.ID
	r.entities[loser.ID] = loser
	winner.BirthSeq = min(winner.BirthSeq, loser.BirthSeq)
	r.entities[winner.ID] = winner
	return nil
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
