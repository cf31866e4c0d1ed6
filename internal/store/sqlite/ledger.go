package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/defacto-dev/defacto/internal/store"
)

// live is the condition for live ledger rows (ingestion.md §8).
const live = `duplicate_of IS NULL AND normalize_error IS NULL`

const ledgerCols = `"sequence", event_id, source, event_type, "timestamp", data, data_types, raw, hints,
	duplicate_of, normalize_error, redacted, ingested_at`

// identityCols is ledgerCols without data_types and raw, which the identity
// stage never reads (EventsAfter), and without data except on merge
// directives (source "_defacto"): the stage reads the hints of the others.
const identityCols = `"sequence", event_id, source, event_type, "timestamp",
	CASE WHEN source = '_defacto' THEN data ELSE '' END, NULL, NULL, hints,
	duplicate_of, normalize_error, redacted, ingested_at`

// ledgerColsOf is ledgerCols qualified by alias l.
const ledgerColsOf = `l."sequence", l.event_id, l.source, l.event_type, l."timestamp", l.data, l.data_types,
	l.raw, l.hints, l.duplicate_of, l.normalize_error, l.redacted, l.ingested_at`

func scanLedger(rows *sql.Rows) ([]store.LedgerRow, error) {
	defer rows.Close()
	var out []store.LedgerRow
	for rows.Next() {
		var (
			r                     store.LedgerRow
			data                  string
			types, raw, hints, ne sql.NullString
			dup                   sql.NullInt64
			redacted              int64
		)
		if err := rows.Scan(&r.Seq, &r.EventID, &r.Source, &r.EventType, &r.Time, &data, &types, &raw, &hints,
			&dup, &ne, &redacted, &r.IngestedAt); err != nil {
			return nil, err
		}
		if data != "" { // "" only where the query left data out (identityCols)
			r.Data = []byte(data)
		}
		r.DataTypes, r.Raw, r.Hints = bytesOf(types), bytesOf(raw), bytesOf(hints)
		r.DuplicateOf, r.NormalizeError, r.Redacted = dup.Int64, ne.String, redacted == 1
		out = append(out, r)
	}
	return out, rows.Err()
}

// idSet runs query (which must end in "IN (" and take one chunk of ids)
// over ids in chunks and returns the first column of every row as a set.
func (t *tx) idSet(ctx context.Context, query string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	err := inChunks(uniq(ids), inChunk, func(c []string) error {
		rows, err := t.query(ctx, query+params(len(c))+`)`, anys(c)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out[id] = true
		}
		return rows.Err()
	})
	return out, err
}

// liveEventIDs returns which of ids are live ledger rows; absent ids are
// missing from the map.
func (t *tx) liveEventIDs(ctx context.Context, ids []string) (map[string]bool, error) {
	m, err := t.idSet(ctx, `SELECT event_id FROM ledger WHERE `+live+` AND event_id IN (`, ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: look up live event ids: %w", err)
	}
	return m, nil
}

// erasedEventIDs returns which of ids were erased.
func (t *tx) erasedEventIDs(ctx context.Context, ids []string) (map[string]bool, error) {
	m, err := t.idSet(ctx, `SELECT event_id FROM erased_events WHERE event_id IN (`, ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: look up erased event ids: %w", err)
	}
	return m, nil
}

// KnownEventIDs asks the two questions one after the other: SQLite has no
// round trips to save.
func (t *tx) KnownEventIDs(ctx context.Context, ids []string) (liveIDs, erasedIDs map[string]bool, err error) {
	if liveIDs, err = t.liveEventIDs(ctx, ids); err != nil {
		return nil, nil, err
	}
	if erasedIDs, err = t.erasedEventIDs(ctx, ids); err != nil {
		return nil, nil, err
	}
	return liveIDs, erasedIDs, nil
}

// Append inserts rows in order through one prepared statement and sets each
// row's Seq.
func (t *tx) Append(ctx context.Context, rows []store.LedgerRow) error {
	if len(rows) == 0 {
		return nil
	}
	st, err := t.stmt(ctx, `INSERT INTO ledger (event_id, source, event_type, "timestamp", data, data_types, raw,
		hints, duplicate_of, normalize_error, redacted, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: append ledger rows: %w", err)
	}
	for i := range rows {
		r := &rows[i]
		data := string(r.Data)
		if r.Data == nil {
			data = "null"
		}
		res, err := st.ExecContext(ctx, r.EventID, r.Source, r.EventType, r.Time, data, jsonText(r.DataTypes),
			jsonText(r.Raw), jsonText(r.Hints), nullInt(r.DuplicateOf), nullText(r.NormalizeError),
			boolInt(r.Redacted), r.IngestedAt)
		if err != nil {
			return fmt.Errorf("sqlite: append ledger rows: event %s: %w", r.EventID, err)
		}
		if r.Seq, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("sqlite: append ledger rows: %w", err)
		}
	}
	return nil
}

// LedgerHead returns the highest sequence in the ledger, 0 when empty.
func (t *tx) LedgerHead(ctx context.Context) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, `SELECT coalesce(max("sequence"), 0) FROM ledger`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: read ledger head: %w", err)
	}
	return n, nil
}

// CountLive counts live events of source; "" means every source but
// "_defacto", or every source when all is set.
func (t *tx) CountLive(ctx context.Context, source string, all bool) (int64, error) {
	var (
		n   int64
		row *sql.Row
	)
	switch {
	case source != "":
		row = t.queryRow(ctx, `SELECT count(*) FROM ledger WHERE `+live+` AND source = ?`, source)
	case all:
		row = t.queryRow(ctx, `SELECT count(*) FROM ledger WHERE `+live)
	default:
		row = t.queryRow(ctx, `SELECT count(*) FROM ledger WHERE `+live+` AND source <> '_defacto'`)
	}
	if err := row.Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count live events: %w", err)
	}
	return n, nil
}

// Events returns the live rows among seqs, ascending.
func (t *tx) Events(ctx context.Context, seqs []int64) ([]store.LedgerRow, error) {
	sorted := uniq(seqs)
	slices.Sort(sorted)
	var out []store.LedgerRow
	err := inChunks(sorted, inChunk, func(c []int64) error {
		rows, err := t.query(ctx, `SELECT `+ledgerCols+` FROM ledger WHERE `+live+
			` AND "sequence" IN (`+params(len(c))+`) ORDER BY "sequence"`, anys(c)...)
		if err != nil {
			return err
		}
		rs, err := scanLedger(rows)
		out = append(out, rs...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read events: %w", err)
	}
	return out, nil
}

// EventsAfter returns up to limit live rows with sequence > after, without
// DataTypes and Raw (see store.Tx).
func (t *tx) EventsAfter(ctx context.Context, after int64, limit int) ([]store.LedgerRow, error) {
	rows, err := t.query(ctx, `SELECT `+identityCols+` FROM ledger WHERE "sequence" > ? AND `+live+
		` ORDER BY "sequence" LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read events after %d: %w", after, err)
	}
	out, err := scanLedger(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read events after %d: %w", after, err)
	}
	return out, nil
}

// EntityEvents returns the live rows linked to entityID with sequence <=
// maxSeq, by (timestamp, sequence).
func (t *tx) EntityEvents(ctx context.Context, entityID string, maxSeq int64) ([]store.LedgerRow, error) {
	rows, err := t.query(ctx, `SELECT `+ledgerColsOf+` FROM event_entities e
		JOIN ledger l ON l."sequence" = e."sequence"
		WHERE e.entity_id = ? AND e."sequence" <= ? AND l.duplicate_of IS NULL AND l.normalize_error IS NULL
		ORDER BY l."timestamp", l."sequence"`, entityID, maxSeq)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read events of entity %s: %w", entityID, err)
	}
	out, err := scanLedger(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read events of entity %s: %w", entityID, err)
	}
	return out, nil
}

// ResolvedEvents returns the live rows whose link was first resolved to one
// of ids, with sequence < beforeSeq, by (timestamp, sequence); a row linked
// through several of ids appears once.
func (t *tx) ResolvedEvents(ctx context.Context, ids []string, beforeSeq int64) ([]store.LedgerRow, error) {
	var out []store.LedgerRow
	seen := make(map[int64]bool)
	err := inChunks(uniq(ids), inChunk/2, func(c []string) error {
		rows, err := t.query(ctx, ownersOf(len(c))+`SELECT `+ledgerColsOf+` FROM ledger l
			WHERE l."sequence" IN (SELECT "sequence" FROM event_entities
				WHERE entity_id IN (SELECT id FROM owner) AND resolved_entity_id IN (`+params(len(c))+`) AND "sequence" < ?)
			AND l.duplicate_of IS NULL AND l.normalize_error IS NULL
			ORDER BY l."timestamp", l."sequence"`, append(append(anys(c), anys(c)...), beforeSeq)...)
		if err != nil {
			return err
		}
		rs, err := scanLedger(rows)
		for _, r := range rs {
			if !seen[r.Seq] {
				seen[r.Seq] = true
				out = append(out, r)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read events resolved to %d entities: %w", len(ids), err)
	}
	if len(ids) > inChunk {
		slices.SortFunc(out, func(a, b store.LedgerRow) int {
			if a.Time != b.Time {
				return cmp.Compare(a.Time, b.Time)
			}
			return cmp.Compare(a.Seq, b.Seq)
		})
	}
	return out, nil
}
