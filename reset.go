package defacto

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/defacto-dev/defacto/internal/identity"
	"github.com/defacto-dev/defacto/internal/normalize"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// identityReset recomputes every live row's hints from its data with the
// current identity configuration, forgets all identity, and starts the
// identity cursor over (identity.md §7). Ids derive from keys, so entities
// whose first key did not change keep their ids.
func (e *Engine) identityReset(ctx context.Context, _ bool) error {
	return e.write(ctx, "identity reset", func(tx store.Tx) error {
		var after int64
		for {
			rows, err := tx.AllEvents(ctx, after, 1000)
			if err != nil {
				return err
			}
			for i := range rows {
				row := rows[i]
				after = row.Seq
				if row.Source == reservedSource || row.Redacted || row.DuplicateOf != 0 || row.NormalizeError != "" {
					continue
				}
				hints, err := e.rehint(&row)
				if err != nil {
					return err
				}
				if sameJSON(hints, row.Hints) {
					continue
				}
				row.Hints = hints
				if err := tx.UpdateNormalized(ctx, row); err != nil {
					return err
				}
			}
			if len(rows) < 1000 {
				break
			}
		}
		if err := tx.ResetIdentity(ctx); err != nil {
			return err
		}
		ie, _, err := epochs(ctx, tx)
		if err != nil {
			return err
		}
		for k, v := range map[string]string{
			metaIdentityCursor: "0", metaIdentityEpoch: strconv.FormatInt(ie+1, 10), metaIdentityRecord: e.act().defs.IdentityHash,
		} {
			if err := tx.SetMeta(ctx, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// rehint extracts a stored row's identity keys again from its data.
func (e *Engine) rehint(row *store.LedgerRow) ([]byte, error) {
	src := e.act().defs.Source(row.Source)
	if src == nil {
		return []byte("{}"), nil
	}
	cfg := src.Event(row.EventType)
	if cfg == nil {
		return []byte("{}"), nil
	}
	var types map[string]string
	if len(row.DataTypes) > 0 {
		if err := json.Unmarshal(row.DataTypes, &types); err != nil {
			return nil, err
		}
	}
	data, err := value.DecodeTagged(row.Data, types)
	if err != nil {
		return nil, err
	}
	ev := &normalize.Event{Source: row.Source, Type: row.EventType, Time: row.Time, Data: data, ID: row.EventID, Config: cfg}
	keys, f := identity.Extract(e.act().defs, e.salt, ev)
	if f != nil {
		keys = nil // a hint that no longer extracts links nothing
	}
	r, err := ledgerRow(ev, keys, nil, 0)
	if err != nil {
		return nil, err
	}
	return r.Hints, nil
}

// renormalize re-runs normalization on every user ledger row (builds.md §3).
func (e *Engine) renormalize(ctx context.Context, res *BuildResult, stats *runStats) error {
	changed := false
	seen := map[string]int64{}
	err := e.write(ctx, "re-normalize", func(tx store.Tx) error {
		// Park every row outside the unique event-id index first, so rows
		// may trade ids in any order.
		var after int64
		var all []store.LedgerRow
		for {
			rows, err := tx.AllEvents(ctx, after, 1000)
			if err != nil {
				return err
			}
			all = append(all, rows...)
			if len(rows) < 1000 {
				break
			}
			after = rows[len(rows)-1].Seq
		}
		for _, row := range all {
			if row.Source == reservedSource {
				continue
			}
			parked := row
			parked.DuplicateOf = -1
			if err := tx.UpdateNormalized(ctx, parked); err != nil {
				return err
			}
		}
		for _, row := range all {
			if row.Source == reservedSource {
				continue
			}
			orig := row
			src := e.act().defs.Source(row.Source)
			row.NormalizeError = ""
			if src == nil {
				row.NormalizeError = "source '" + row.Source + "' is no longer defined"
			} else if raw, err := value.FromJSON(row.Raw); err != nil {
				row.NormalizeError = "raw record: " + err.Error()
			} else if ev, ign, f := e.act().norm.Normalize(src, raw, row.IngestedAt, false); f != nil {
				row.NormalizeError = f.Message
			} else if ign {
				row.NormalizeError = "unknown event type ignored by source '" + row.Source + "'"
			} else {
				keys, f := identity.Extract(e.act().defs, e.salt, ev)
				if f != nil {
					keys = nil
				}
				nr, err := ledgerRow(ev, keys, row.Raw, row.IngestedAt)
				if err != nil {
					return err
				}
				row.EventID, row.EventType, row.Time, row.Data, row.DataTypes = nr.EventID, nr.EventType, nr.Time, nr.Data, nr.DataTypes
				if !row.Redacted {
					row.Hints = nr.Hints
				}
			}
			if row.NormalizeError != "" {
				res.Failures = append(res.Failures, EventFailure{Stage: StageNormalize, Index: -1, Sequence: row.Seq,
					EventID: orig.EventID, Source: row.Source, EventType: orig.EventType, Message: row.NormalizeError})
			}
			row.DuplicateOf = 0
			if row.NormalizeError == "" {
				if first, ok := seen[row.EventID]; ok {
					row.DuplicateOf = first
				} else {
					seen[row.EventID] = row.Seq
				}
			}
			if !sameJSON(row.Hints, orig.Hints) || row.DuplicateOf != orig.DuplicateOf || row.NormalizeError != orig.NormalizeError {
				changed = true
			}
			if err := tx.UpdateNormalized(ctx, row); err != nil {
				return err
			}
			res.EventsRenormalized++
		}
		_, ne, err := epochs(ctx, tx)
		if err != nil {
			return err
		}
		rec, _ := json.Marshal(e.act().defs.SourceHashes)
		if err := tx.SetMeta(ctx, metaNormalizationRec, string(rec)); err != nil {
			return err
		}
		if err := tx.SetMeta(ctx, metaNormalizationEpoch, strconv.FormatInt(ne+1, 10)); err != nil {
			return err
		}
		idRec, _, err := tx.Meta(ctx, metaIdentityRecord)
		if err != nil {
			return err
		}
		if idRec != e.act().defs.IdentityHash {
			changed = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if changed {
		res.IdentityReset = true
		return e.identityReset(ctx, false)
	}
	return nil
}

// sameJSON compares two JSON documents by value: backends may store JSON
// with other key order or spacing (Postgres jsonb).
func sameJSON(a, b []byte) bool {
	if string(a) == string(b) {
		return true
	}
	va, err1 := value.FromJSON(a)
	vb, err2 := value.FromJSON(b)
	return err1 == nil && err2 == nil && string(value.CanonicalJSON(va)) == string(value.CanonicalJSON(vb))
}
