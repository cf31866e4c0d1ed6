package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/defacto-dev/defacto/internal/store"
)

// live is the condition for live ledger rows (ingestion.md §8).
const live = `duplicate_of IS NULL AND normalize_error IS NULL`

// liveL is live for alias l.
const liveL = `l.duplicate_of IS NULL AND l.normalize_error IS NULL`

// linkedLedger joins the links e (a FROM item the caller names) to their
// ledger rows l, one primary-key lookup per link. The OFFSET 0 keeps the
// planner from turning the lookup into a join it may drive from the ledger:
// while a namespace's statistics lag behind its growth, it takes the live
// part of the ledger (the partial index on event_id) for nearly empty and
// scanned all of it for each entity read (measured: 1–17 ms per call at
// 1–2k events, growing with the ledger, instead of 0.1 ms).
func linkedLedger(ledger string) string {
	return ` CROSS JOIN LATERAL (SELECT * FROM ` + ledger + ` x WHERE x."sequence" = e."sequence" OFFSET 0) l`
}

const ledgerCols = `"sequence", event_id, source, event_type, "timestamp", data, data_types, raw, hints,
	duplicate_of, normalize_error, redacted, ingested_at`

// identityCols is ledgerCols without data_types and raw, which the identity
// stage never reads (EventsAfter), and without data except on merge
// directives (source "_defacto"): the stage reads the hints of the others.
const identityCols = `"sequence", event_id, source, event_type, "timestamp",
	CASE WHEN source = '_defacto' THEN data ELSE NULL END, NULL, NULL, hints,
	duplicate_of, normalize_error, redacted, ingested_at`

// ledgerColsOf is ledgerCols qualified by alias l.
const ledgerColsOf = `l."sequence", l.event_id, l.source, l.event_type, l."timestamp", l.data, l.data_types,
	l.raw, l.hints, l.duplicate_of, l.normalize_error, l.redacted, l.ingested_at`

func scanLedger(rows pgx.Rows) ([]store.LedgerRow, error) {
	defer rows.Close()
	var out []store.LedgerRow
	for rows.Next() {
		var (
			r        store.LedgerRow
			at, ing  time.Time
			dup      pgtype.Int8
			normErr  pgtype.Text
			data     []byte
			dataType []byte
		)
		if err := rows.Scan(&r.Seq, &r.EventID, &r.Source, &r.EventType, &at, &data, &dataType, &r.Raw, &r.Hints,
			&dup, &normErr, &r.Redacted, &ing); err != nil {
			return nil, err
		}
		r.Time, r.IngestedAt = at.UnixMicro(), ing.UnixMicro()
		r.Data, r.DataTypes = data, dataType
		r.DuplicateOf, r.NormalizeError = dup.Int64, normErr.String
		out = append(out, r)
	}
	return out, rows.Err()
}

// stringSet runs query, whose $1 is a text[] of ids, and returns its first
// column as a set.
func (t *tx) stringSet(ctx context.Context, query string, ids []string, args ...any) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, query, append([]any{uniq(ids)}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// KnownEventIDs answers both questions in one statement, so one round
// trip.
func (t *tx) KnownEventIDs(ctx context.Context, ids []string) (liveIDs, erasedIDs map[string]bool, err error) {
	liveIDs, erasedIDs = make(map[string]bool, len(ids)), map[string]bool{}
	if len(ids) == 0 {
		return liveIDs, erasedIDs, nil
	}
	rows, err := t.query(ctx, `SELECT event_id, false FROM `+t.n.ledger+` WHERE `+live+` AND event_id = ANY($1::text[])
		UNION ALL SELECT event_id, true FROM `+t.n.erasedEvents+` WHERE event_id = ANY($1::text[])`, uniq(ids))
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: look up event ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id       string
			isErased bool
		)
		if err := rows.Scan(&id, &isErased); err != nil {
			return nil, nil, fmt.Errorf("postgres: look up event ids: %w", err)
		}
		if isErased {
			erasedIDs[id] = true
		} else {
			liveIDs[id] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("postgres: look up event ids: %w", err)
	}
	return liveIDs, erasedIDs, nil
}

// ledgerColNames are the columns of ledgerCols, for COPY.
var ledgerColNames = []string{"sequence", "event_id", "source", "event_type", "timestamp", "data", "data_types", "raw",
	"hints", "duplicate_of", "normalize_error", "redacted", "ingested_at"}

// Append inserts rows in order and sets each row's Seq. It draws len(rows)
// values from the ledger's identity sequence, assigns them ascending in
// input order and inserts every row with one statement (COPY from
// copyRows rows on, see copyIn). The append lock,
// held to commit, makes sequences become visible in order (scale.md §2); a
// rolled-back transaction leaves a gap, as sequences are never reused.
func (t *tx) Append(ctx context.Context, rows []store.LedgerRow) error {
	if len(rows) == 0 {
		return nil
	}
	fail := func(err error) error { return fmt.Errorf("postgres: append %d ledger rows: %w", len(rows), err) }
	if err := t.writable(); err != nil {
		return fail(err)
	}
	res, err := t.query(ctx, `SELECT nextval($1::regclass) FROM generate_series(1, $2)`, t.n.ledgerSeq, len(rows))
	if err != nil {
		return fail(err)
	}
	seqs, err := pgx.CollectRows(res, pgx.RowTo[int64])
	if err != nil {
		return fail(err)
	}
	if len(seqs) != len(rows) {
		return fail(fmt.Errorf("drew %d sequences for %d rows", len(seqs), len(rows)))
	}
	slices.Sort(seqs)
	n := len(rows)
	var (
		ids, sources, types = make([]string, n), make([]string, n), make([]string, n)
		times, ingested     = make([]time.Time, n), make([]time.Time, n)
		data                = make([]string, n)
		dataTypes, raw      = make([]*string, n), make([]*string, n)
		hints, normErrs     = make([]*string, n), make([]*string, n)
		dups                = make([]*int64, n)
		redacted            = make([]bool, n)
	)
	for i := range rows {
		r := &rows[i]
		ids[i], sources[i], types[i] = r.EventID, r.Source, r.EventType
		times[i], ingested[i] = ts(r.Time), ts(r.IngestedAt)
		data[i], dataTypes[i], raw[i], hints[i] = jsonData(r.Data), jsonText(r.DataTypes), jsonText(r.Raw), jsonText(r.Hints)
		dups[i], normErrs[i], redacted[i] = nullInt(r.DuplicateOf), nullText(r.NormalizeError), r.Redacted
	}
	// COPY writes the identity column as given, as OVERRIDING SYSTEM VALUE
	// does.
	err = t.copyIn(ctx, fmt.Sprintf("append %d ledger rows", len(rows)), t.s.ns, "ledger", ledgerColNames, n,
		func(i int) ([]any, error) {
			return []any{seqs[i], ids[i], sources[i], types[i], times[i], data[i], dataTypes[i], raw[i], hints[i],
				dups[i], normErrs[i], redacted[i], ingested[i]}, nil
		}, `INSERT INTO `+t.n.ledger+` (`+ledgerCols+`) OVERRIDING SYSTEM VALUE
		SELECT s, e, src, ty, tm, d::jsonb, dt::jsonb, rw::jsonb, h::jsonb, dup, ne, red, ing
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::bigint[], $11::text[], $12::boolean[], $13::timestamptz[])
			AS u(s, e, src, ty, tm, d, dt, rw, h, dup, ne, red, ing)`,
		seqs, ids, sources, types, times, data, dataTypes, raw, hints, dups, normErrs, redacted, ingested)
	if err != nil {
		return fail(err)
	}
	for i := range rows {
		rows[i].Seq = seqs[i]
	}
	return nil
}

// LedgerHead returns the highest sequence in the ledger, 0 when empty.
func (t *tx) LedgerHead(ctx context.Context) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, `SELECT coalesce(max("sequence"), 0) FROM `+t.n.ledger).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: read ledger head: %w", err)
	}
	return n, nil
}

// CountLive counts live events of source; "" means every source but
// "_defacto", or every source when all is set.
func (t *tx) CountLive(ctx context.Context, source string, all bool) (int64, error) {
	var (
		n   int64
		row pgx.Row
	)
	switch {
	case source != "":
		row = t.queryRow(ctx, `SELECT count(*) FROM `+t.n.ledger+` WHERE `+live+` AND source = $1`, source)
	case all:
		row = t.queryRow(ctx, `SELECT count(*) FROM `+t.n.ledger+` WHERE `+live)
	default:
		row = t.queryRow(ctx, `SELECT count(*) FROM `+t.n.ledger+` WHERE `+live+` AND source <> '_defacto'`)
	}
	if err := row.Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count live events: %w", err)
	}
	return n, nil
}

// Events returns the live rows among seqs, ascending.
func (t *tx) Events(ctx context.Context, seqs []int64) ([]store.LedgerRow, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	rows, err := t.query(ctx, `SELECT `+ledgerCols+` FROM `+t.n.ledger+` WHERE `+live+
		` AND "sequence" = ANY($1::bigint[]) ORDER BY "sequence"`, uniq(seqs))
	if err != nil {
		return nil, fmt.Errorf("postgres: read events: %w", err)
	}
	out, err := scanLedger(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: read events: %w", err)
	}
	return out, nil
}

// EventsAfter returns up to limit live rows with sequence > after, without
// DataTypes and Raw (see store.Tx).
func (t *tx) EventsAfter(ctx context.Context, after int64, limit int) ([]store.LedgerRow, error) {
	rows, err := t.query(ctx, `SELECT `+identityCols+` FROM `+t.n.ledger+` WHERE "sequence" > $1 AND `+live+
		` ORDER BY "sequence" LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read events after %d: %w", after, err)
	}
	out, err := scanLedger(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: read events after %d: %w", after, err)
	}
	return out, nil
}

// EntityEvents returns the live rows linked to entityID with sequence <=
// maxSeq, by (timestamp, sequence).
func (t *tx) EntityEvents(ctx context.Context, entityID string, maxSeq int64) ([]store.LedgerRow, error) {
	rows, err := t.query(ctx, `SELECT `+ledgerColsOf+` FROM `+t.n.links+` e`+linkedLedger(t.n.ledger)+`
		WHERE e.entity_id = $1 AND e."sequence" <= $2 AND `+liveL+`
		ORDER BY l."timestamp", l."sequence"`, entityID, maxSeq)
	if err != nil {
		return nil, fmt.Errorf("postgres: read events of entity %s: %w", entityID, err)
	}
	out, err := scanLedger(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: read events of entity %s: %w", entityID, err)
	}
	return out, nil
}

// ResolvedEvents returns the live rows whose link was first resolved to one
// of ids, with sequence < beforeSeq, by (timestamp, sequence); a row linked
// through several of ids appears once.
func (t *tx) ResolvedEvents(ctx context.Context, ids []string, beforeSeq int64) ([]store.LedgerRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := t.query(ctx, `SELECT `+ledgerColsOf+` FROM (SELECT DISTINCT "sequence" FROM `+t.n.links+`
			WHERE resolved_entity_id = ANY($1::text[]) AND "sequence" < $2) e`+linkedLedger(t.n.ledger)+`
		WHERE `+liveL+`
		ORDER BY l."timestamp", l."sequence"`, uniq(ids), beforeSeq)
	if err != nil {
		return nil, fmt.Errorf("postgres: read events resolved to %d entities: %w", len(ids), err)
	}
	out, err := scanLedger(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: read events resolved to %d entities: %w", len(ids), err)
	}
	return out, nil
}

// AllEvents returns up to limit ledger rows, live or not, with sequence >
// after, ascending.
func (t *tx) AllEvents(ctx context.Context, after int64, limit int) ([]store.LedgerRow, error) {
	rows, err := t.query(ctx, `SELECT `+ledgerCols+` FROM `+t.n.ledger+` WHERE "sequence" > $1 ORDER BY "sequence" LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read all events after %d: %w", after, err)
	}
	out, err := scanLedger(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: read all events after %d: %w", after, err)
	}
	return out, nil
}

// PendingCounts returns the live events above identityCursor (unresolved)
// and the live linked events in (cursor, identityCursor] (resolved, not yet
// interpreted).
func (t *tx) PendingCounts(ctx context.Context, cursor, identityCursor int64) (unresolved, resolved int64, err error) {
	if err := t.queryRow(ctx, `SELECT
			(SELECT count(*) FROM `+t.n.ledger+` WHERE "sequence" > $2 AND `+live+`),
			(SELECT count(*) FROM `+t.n.ledger+` l WHERE l."sequence" > $1 AND l."sequence" <= $2 AND `+liveL+`
				AND EXISTS (SELECT 1 FROM `+t.n.links+` e WHERE e."sequence" = l."sequence"))`,
		cursor, identityCursor).Scan(&unresolved, &resolved); err != nil {
		return 0, 0, fmt.Errorf("postgres: count pending events: %w", err)
	}
	return unresolved, resolved, nil
}

// LedgerStats counts live and duplicate ledger rows.
func (t *tx) LedgerStats(ctx context.Context) (live, duplicates int64, err error) {
	if err := t.queryRow(ctx, `SELECT
			count(*) FILTER (WHERE duplicate_of IS NULL AND normalize_error IS NULL),
			count(*) FILTER (WHERE duplicate_of IS NOT NULL)
		FROM `+t.n.ledger).Scan(&live, &duplicates); err != nil {
		return 0, 0, fmt.Errorf("postgres: ledger stats: %w", err)
	}
	return live, duplicates, nil
}

// LedgerSources lists the sources that have ledger rows, ascending.
func (t *tx) LedgerSources(ctx context.Context) ([]string, error) {
	rows, err := t.query(ctx, `SELECT DISTINCT source COLLATE "C" AS s FROM `+t.n.ledger+` ORDER BY s`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list ledger sources: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: list ledger sources: %w", err)
	}
	return out, nil
}

// UpdateNormalized rewrites the normalized columns of ledger row row.Seq.
func (t *tx) UpdateNormalized(ctx context.Context, row store.LedgerRow) error {
	tag, err := t.exec(ctx, `UPDATE `+t.n.ledger+` SET event_id = $1, event_type = $2, "timestamp" = $3,
			data = $4::text::jsonb, data_types = $5::text::jsonb, hints = $6::text::jsonb, duplicate_of = $7,
			normalize_error = $8
		WHERE "sequence" = $9`,
		row.EventID, row.EventType, ts(row.Time), jsonData(row.Data), jsonText(row.DataTypes), jsonText(row.Hints),
		nullInt(row.DuplicateOf), nullText(row.NormalizeError), row.Seq)
	if err != nil {
		return fmt.Errorf("postgres: update normalized columns of event %d: %w", row.Seq, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("postgres: update normalized columns of event %d: no such ledger row", row.Seq)
	}
	return nil
}

// UpdatePayload rewrites a row's payload columns and marks it redacted.
func (t *tx) UpdatePayload(ctx context.Context, row store.LedgerRow) error {
	if _, err := t.exec(ctx, `UPDATE `+t.n.ledger+` SET data = $1::text::jsonb, data_types = $2::text::jsonb,
			raw = $3::text::jsonb, hints = $4::text::jsonb, redacted = true
		WHERE "sequence" = $5`,
		jsonData(row.Data), jsonText(row.DataTypes), jsonText(row.Raw), jsonText(row.Hints), row.Seq); err != nil {
		return fmt.Errorf("postgres: update payload of %d: %w", row.Seq, err)
	}
	return nil
}

// DeleteEvents deletes ledger rows with their links and lists their event
// ids as erased by erasureID.
func (t *tx) DeleteEvents(ctx context.Context, seqs []int64, erasureID int64) error {
	if len(seqs) == 0 {
		return nil
	}
	if err := t.writable(); err != nil {
		return fmt.Errorf("postgres: delete events: %w", err)
	}
	s := uniq(seqs)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO `+t.n.erasedEvents+` (event_id, erasure_id)
		SELECT DISTINCT event_id, $2::bigint FROM `+t.n.ledger+` WHERE "sequence" = ANY($1::bigint[])
		ON CONFLICT DO NOTHING`, s, erasureID)
	b.Queue(`DELETE FROM `+t.n.links+` WHERE "sequence" = ANY($1::bigint[])`, s)
	b.Queue(`DELETE FROM `+t.n.ledger+` WHERE "sequence" = ANY($1::bigint[])`, s)
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: delete events: %w", err)
	}
	return nil
}
