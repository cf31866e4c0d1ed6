package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
)

// Batched reads of a full rebuild: the per-entity reads EntityEvents,
// CurrentRows and CurrentRelRows for a group of entities, one statement over
// an array of ids.

// EventsOfEntities returns, per id, the live rows linked to it with sequence
// <= maxSeq, by (timestamp, sequence), without Raw and Hints.
func (t *tx) EventsOfEntities(ctx context.Context, ids []string, _ bool, maxSeq int64) (map[string][]store.LedgerRow, error) {
	out := make(map[string][]store.LedgerRow, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	fail := func(err error) error {
		return fmt.Errorf("postgres: read events of %d entities: %w", len(ids), err)
	}
	rows, err := t.query(ctx, `SELECT e.entity_id, l."sequence", l.event_id, l.source, l.event_type, l."timestamp",
			l.data, l.data_types, l.duplicate_of, l.normalize_error, l.redacted, l.ingested_at FROM `+t.n.links+` e`+
		linkedLedger(t.n.ledger)+`
		WHERE e.entity_id = ANY($1::text[]) AND e."sequence" <= $2 AND `+liveL+`
		ORDER BY l."timestamp", l."sequence"`, uniq(ids), maxSeq)
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id       string
			r        store.LedgerRow
			at, ing  time.Time
			dup      pgtype.Int8
			normErr  pgtype.Text
			data     []byte
			dataType []byte
		)
		if err := rows.Scan(&id, &r.Seq, &r.EventID, &r.Source, &r.EventType, &at, &data, &dataType,
			&dup, &normErr, &r.Redacted, &ing); err != nil {
			return nil, fail(err)
		}
		r.Time, r.IngestedAt = at.UnixMicro(), ing.UnixMicro()
		r.Data, r.DataTypes = data, dataType
		r.DuplicateOf, r.NormalizeError = dup.Int64, normErr.String
		out[id] = append(out[id], r)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// CurrentRowsOf returns, per id, every current-belief row by valid_from.
func (t *tx) CurrentRowsOf(ctx context.Context, version string, ent *definition.Entity, ids []string, _ bool) (map[string][]store.HistoryRow, error) {
	out := make(map[string][]store.HistoryRow, len(ids))
	h, err := t.history(version, ent)
	if err == nil && len(ids) > 0 {
		var rows pgx.Rows
		rows, err = t.query(ctx, h.selRows+h.id+` = ANY($1::text[]) ORDER BY "valid_from"`, uniq(ids))
		if err == nil {
			err = scanHistory(rows, h, func(r store.HistoryRow) { out[r.EntityID] = append(out[r.EntityID], r) })
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read rows of %d %s in %s: %w", len(ids), entName(ent), version, err)
	}
	return out, nil
}

// CurrentRelRowsOf returns, per source id, every current-belief row of r by
// (target, valid_from).
func (t *tx) CurrentRelRowsOf(ctx context.Context, version string, r *definition.Relationship, ids []string, _ bool) (map[string][]store.RelRow, error) {
	out := make(map[string][]store.RelRow, len(ids))
	h, err := t.rel(version, r)
	if err == nil && len(ids) > 0 {
		var rows pgx.Rows
		rows, err = t.query(ctx, `SELECT `+h.cols+` FROM `+h.table+` WHERE "superseded_at" IS NULL
			AND "source_id" = ANY($1::text[]) ORDER BY "target_id" COLLATE "C", "valid_from"`, uniq(ids))
		if err == nil {
			err = scanRels(rows, h, func(x store.RelRow) { out[x.SourceID] = append(out[x.SourceID], x) })
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read relationships %s of %d sources: %w", relName(r), len(ids), err)
	}
	return out, nil
}

// ClearPendingOf deletes every pending relation of ids.
func (t *tx) ClearPendingOf(ctx context.Context, version string, ids []string) error {
	return t.deleteOf(ctx, version, "pending_relations", "source_id", ids)
}

// ClearFailuresOf deletes the recorded failed events of ids.
func (t *tx) ClearFailuresOf(ctx context.Context, version string, ids []string) error {
	return t.deleteOf(ctx, version, "failed_events", "entity_id", ids)
}

// deleteOf deletes the rows of a version store table whose col is one of
// ids, in one statement.
func (t *tx) deleteOf(ctx context.Context, version, table, col string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := t.writable()
	var sc string
	if err == nil {
		sc, err = t.vschema(version)
	}
	if err == nil {
		_, err = t.exec(ctx, `DELETE FROM `+sc+`."`+table+`" WHERE "`+col+`" = ANY($1::text[])`, uniq(ids))
	}
	if err != nil {
		return fmt.Errorf("postgres: clear %s of %d entities: %w", table, len(ids), err)
	}
	return nil
}
