package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
)

// Batched reads of a full rebuild: the per-entity reads EntityEvents,
// CurrentRows and CurrentRelRows for a group of entities, one statement per
// chunk of ids.

// EventsOfEntities returns, per id, the live rows linked to it with sequence
// <= maxSeq, by (timestamp, sequence).
func (t *tx) EventsOfEntities(ctx context.Context, ids []string, maxSeq int64) (map[string][]store.LedgerRow, error) {
	out := make(map[string][]store.LedgerRow, len(ids))
	err := chunked(uniq(ids), inChunk, func(c []string) error {
		rows, err := t.query(ctx, `SELECT e.entity_id, `+ledgerColsOf+` FROM event_entities e
			JOIN ledger l ON l."sequence" = e."sequence"
			WHERE e.entity_id IN (`+params(len(c))+`) AND e."sequence" <= ?
			AND l.duplicate_of IS NULL AND l.normalize_error IS NULL
			ORDER BY l."timestamp", l."sequence"`, append(anys(c), maxSeq)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id                    string
				r                     store.LedgerRow
				data                  string
				types, raw, hints, ne sql.NullString
				dup                   sql.NullInt64
				redacted              int64
			)
			if err := rows.Scan(&id, &r.Seq, &r.EventID, &r.Source, &r.EventType, &r.Time, &data, &types, &raw, &hints,
				&dup, &ne, &redacted, &r.IngestedAt); err != nil {
				return err
			}
			r.Data = []byte(data)
			r.DataTypes, r.Raw, r.Hints = bytesOf(types), bytesOf(raw), bytesOf(hints)
			r.DuplicateOf, r.NormalizeError, r.Redacted = dup.Int64, ne.String, redacted == 1
			out[id] = append(out[id], r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read events of %d entities: %w", len(ids), err)
	}
	return out, nil
}

// CurrentRowsOf returns, per id, every current-belief row by valid_from.
func (t *tx) CurrentRowsOf(ctx context.Context, version string, ent *definition.Entity, ids []string) (map[string][]store.HistoryRow, error) {
	h, err := t.history(ctx, version, ent, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read rows of %d %s in %s: %w", len(ids), entName(ent), version, err)
	}
	out := make(map[string][]store.HistoryRow, len(ids))
	err = chunked(uniq(ids), inChunk, func(c []string) error {
		rows, err := t.query(ctx, h.selRows+h.id+` IN (`+params(len(c))+`) ORDER BY "valid_from"`, anys(c)...)
		if err != nil {
			return err
		}
		return scanHistory(rows, h, func(r store.HistoryRow) { out[r.EntityID] = append(out[r.EntityID], r) })
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read rows of %d %s in %s: %w", len(ids), entName(ent), version, err)
	}
	return out, nil
}

// CurrentRelRowsOf returns, per source id, every current-belief row of r by
// (target, valid_from).
func (t *tx) CurrentRelRowsOf(ctx context.Context, version string, r *definition.Relationship, ids []string) (map[string][]store.RelRow, error) {
	h, err := t.rel(ctx, version, r, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read relationships %s of %d sources: %w", r.Type, len(ids), err)
	}
	out := make(map[string][]store.RelRow, len(ids))
	err = chunked(uniq(ids), inChunk, func(c []string) error {
		rows, err := t.query(ctx, `SELECT `+h.cols+` FROM `+h.table+` WHERE "superseded_at" IS NULL
			AND "source_id" IN (`+params(len(c))+`) ORDER BY "target_id", "valid_from"`, anys(c)...)
		if err != nil {
			return err
		}
		return scanRels(rows, h, func(x store.RelRow) { out[x.SourceID] = append(out[x.SourceID], x) })
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read relationships %s of %d sources: %w", r.Type, len(ids), err)
	}
	return out, nil
}
