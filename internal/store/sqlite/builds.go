package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
)

// CountLinks counts the links whose entity_id is id.
func (t *tx) CountLinks(ctx context.Context, id string) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, `SELECT count(*) FROM event_entities WHERE entity_id = ?`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count links of %s: %w", id, err)
	}
	return n, nil
}

// AllEntities returns every entity_ids row, ascending by id.
func (t *tx) AllEntities(ctx context.Context) ([]store.EntityRecord, error) {
	rows, err := t.query(ctx, `SELECT `+entityCols+` FROM entity_ids ORDER BY entity_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list entities: %w", err)
	}
	defer rows.Close()
	var out []store.EntityRecord
	for rows.Next() {
		var (
			e     store.EntityRecord
			into  sql.NullString
			shard int64
		)
		if err := rows.Scan(&e.ID, &e.Type, &e.BirthSeq, &e.Status, &into, &shard); err != nil {
			return nil, fmt.Errorf("sqlite: list entities: %w", err)
		}
		e.MergedInto, e.ShardHash = into.String, uint32(shard)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list entities: %w", err)
	}
	return out, nil
}

// historyTables lists the entity types that have a history table in the
// version store behind schema sc. Entity types never begin with "rel_"
// (definitions.md §2), so relationship tables are told apart by name.
func (t *tx) historyTables(ctx context.Context, sc string) ([]string, error) {
	names, err := t.tablesLike(ctx, sc, false)
	for i, n := range names {
		names[i] = strings.TrimSuffix(n, "_history_all")
	}
	return names, err
}

// tablesLike lists the history tables of the version store behind sc:
// relationship tables (rel_<t>_history_all) when rel is set, entity tables
// otherwise, by name.
func (t *tx) tablesLike(ctx context.Context, sc string, rel bool) ([]string, error) {
	not := "NOT "
	if rel {
		not = ""
	}
	rows, err := t.query(ctx, `SELECT name FROM `+sc+`.sqlite_schema
		WHERE type = 'table' AND name LIKE '%\_history\_all' ESCAPE '\' AND name `+not+`LIKE 'rel\_%' ESCAPE '\'
		ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// StoredEntities returns the ids present in the version store's working
// state or current-belief history, with their entity type.
func (t *tx) StoredEntities(ctx context.Context, version string) (map[string]string, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	fail := func(err error) error { return fmt.Errorf("sqlite: list stored entities of %s: %w", version, err) }
	sc, err := t.schema(ctx, version, false)
	if err != nil {
		return nil, fail(err)
	}
	types, err := t.historyTables(ctx, sc)
	if err != nil {
		return nil, fail(err)
	}
	// One query per table, united here: each history query reads the ids
	// in order from the "current" index (a DISTINCT without a sort), where
	// a UNION would scan every history row and sort the ids in a temporary
	// B-tree, five times slower on a large store.
	out := make(map[string]string)
	read := func(q, typ string) error {
		rows, err := t.query(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		var id, ty string
		dest := []any{&id, &ty} // a history query's type is typ
		if typ != "" {
			dest, ty = dest[:1], typ
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			out[id] = ty
		}
		return rows.Err()
	}
	if err := read(`SELECT "entity_id", "entity_type" FROM `+sc+`."entity_state"`, ""); err != nil {
		return nil, fail(err)
	}
	for _, e := range types {
		q := `SELECT DISTINCT ` + quote(e+"_id") + ` FROM ` + sc + `.` + quote(e+"_history_all") + ` WHERE "superseded_at" IS NULL`
		if err := read(q, e); err != nil {
			return nil, fail(err)
		}
	}
	return out, nil
}

// RetireEntity supersedes every current-belief row of id at now, its
// outgoing relationship rows included (history.md §4: Retire is Replace
// with nothing), and deletes its working state and merged_ids row. It
// returns the number of rows superseded, entity and relationship rows
// together.
func (t *tx) RetireEntity(ctx context.Context, version string, ent *definition.Entity, id string, now int64) (int, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return 0, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	fail := func(err error) error {
		return fmt.Errorf("sqlite: retire %s %s in %s: %w", entName(ent), id, version, err)
	}
	h, err := t.history(ctx, version, ent, true)
	if err != nil {
		return 0, fail(err)
	}
	sc := quote(version)
	total := 0
	count := func(res sql.Result, err error) error {
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		total += int(n)
		return err
	}
	if err := count(t.exec(ctx, `UPDATE `+h.table+` SET "superseded_at" = ?
		WHERE `+h.id+` = ? AND "superseded_at" IS NULL`, now, id)); err != nil {
		return 0, fail(err)
	}
	for _, r := range ent.Relationships {
		if err := count(t.exec(ctx, `UPDATE `+sc+`.`+quote("rel_"+r.Type+"_history_all")+` SET "superseded_at" = ?
			WHERE "source_id" = ? AND "superseded_at" IS NULL`, now, id)); err != nil {
			return 0, fail(err)
		}
	}
	if _, err := t.exec(ctx, `DELETE FROM `+sc+`."entity_state" WHERE "entity_id" = ?`, id); err != nil {
		return 0, fail(err)
	}
	if _, err := t.exec(ctx, `DELETE FROM `+sc+`."merged_ids" WHERE "entity_id" = ?`, id); err != nil {
		return 0, fail(err)
	}
	return total, nil
}

// PendingCounts returns the live events above identityCursor (unresolved)
// and the live linked events in (cursor, identityCursor] (resolved, not yet
// interpreted).
func (t *tx) PendingCounts(ctx context.Context, cursor, identityCursor int64) (unresolved, resolved int64, err error) {
	if err := t.queryRow(ctx, `SELECT count(*) FROM ledger WHERE "sequence" > ? AND `+live, identityCursor).Scan(&unresolved); err != nil {
		return 0, 0, fmt.Errorf("sqlite: count pending events: %w", err)
	}
	if err := t.queryRow(ctx, `SELECT count(*) FROM ledger l
		WHERE l."sequence" > ? AND l."sequence" <= ? AND l.duplicate_of IS NULL AND l.normalize_error IS NULL
		AND EXISTS (SELECT 1 FROM event_entities e WHERE e."sequence" = l."sequence")`,
		cursor, identityCursor).Scan(&resolved); err != nil {
		return 0, 0, fmt.Errorf("sqlite: count pending events: %w", err)
	}
	return unresolved, resolved, nil
}

// LedgerStats counts live and duplicate ledger rows.
func (t *tx) LedgerStats(ctx context.Context) (live, duplicates int64, err error) {
	if err := t.queryRow(ctx, `SELECT
			coalesce(sum(duplicate_of IS NULL AND normalize_error IS NULL), 0),
			coalesce(sum(duplicate_of IS NOT NULL), 0)
		FROM ledger`).Scan(&live, &duplicates); err != nil {
		return 0, 0, fmt.Errorf("sqlite: ledger stats: %w", err)
	}
	return live, duplicates, nil
}

// LedgerSources lists the sources that have ledger rows, ascending.
func (t *tx) LedgerSources(ctx context.Context) ([]string, error) {
	rows, err := t.query(ctx, `SELECT DISTINCT source FROM ledger ORDER BY source`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list ledger sources: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: list ledger sources: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list ledger sources: %w", err)
	}
	return out, nil
}

// ResetIdentity deletes every row of identity, entity_ids, event_entities
// and merge_log (identity.md §7).
func (t *tx) ResetIdentity(ctx context.Context) error {
	for _, tbl := range []string{"identity", "entity_ids", "event_entities", "merge_log"} {
		if _, err := t.exec(ctx, `DELETE FROM `+quote(tbl)); err != nil {
			return fmt.Errorf("sqlite: reset identity: %s: %w", tbl, err)
		}
	}
	return nil
}

// UpdateNormalized rewrites the normalized columns of ledger row row.Seq.
func (t *tx) UpdateNormalized(ctx context.Context, row store.LedgerRow) error {
	data := string(row.Data)
	if row.Data == nil {
		data = "null"
	}
	res, err := t.exec(ctx, `UPDATE ledger SET event_id = ?, event_type = ?, "timestamp" = ?, data = ?,
			data_types = ?, hints = ?, duplicate_of = ?, normalize_error = ?
		WHERE "sequence" = ?`,
		row.EventID, row.EventType, row.Time, data, jsonText(row.DataTypes), jsonText(row.Hints),
		nullInt(row.DuplicateOf), nullText(row.NormalizeError), row.Seq)
	if err != nil {
		return fmt.Errorf("sqlite: update normalized columns of event %d: %w", row.Seq, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: update normalized columns of event %d: %w", row.Seq, err)
	} else if n != 1 {
		return fmt.Errorf("sqlite: update normalized columns of event %d: no such ledger row", row.Seq)
	}
	return nil
}

// DueStates returns up to limit working states of active entities whose
// next_deadline <= asOf and whose (next_deadline, entity_id) follows after,
// by (next_deadline, entity_id). The row-value bound and the upper bound
// are both ranges of the deadline index (next_deadline, entity_id), so the
// read seeks to after and walks the index in order: its cost is the
// entities returned, not the entities before them.
func (t *tx) DueStates(ctx context.Context, version string, asOf int64, after store.DueKey, limit int) ([]store.StateRecord, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	fail := func(err error) error { return fmt.Errorf("sqlite: read due states of %s: %w", version, err) }
	sc, err := t.schema(ctx, version, false)
	if err != nil {
		return nil, fail(err)
	}
	const cols = `SELECT "entity_id", "entity_type", "shard_hash", "status", "data", "next_deadline" FROM `
	var rows *sql.Rows
	if after.Deadline == store.NoTime {
		rows, err = t.query(ctx, cols+sc+`."entity_state"
			WHERE "next_deadline" IS NOT NULL AND "next_deadline" <= ? AND "status" = 'active'
			ORDER BY "next_deadline", "entity_id" LIMIT ?`, asOf, limit)
	} else {
		rows, err = t.query(ctx, cols+sc+`."entity_state"
			WHERE "next_deadline" IS NOT NULL AND "next_deadline" <= ? AND ("next_deadline", "entity_id") > (?, ?)
				AND "status" = 'active'
			ORDER BY "next_deadline", "entity_id" LIMIT ?`, asOf, after.Deadline, after.EntityID, limit)
	}
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	var out []store.StateRecord
	for rows.Next() {
		var (
			s        store.StateRecord
			shard    int64
			data     string
			deadline sql.NullInt64
		)
		if err := rows.Scan(&s.EntityID, &s.EntityType, &shard, &s.Status, &data, &deadline); err != nil {
			return nil, fail(err)
		}
		s.ShardHash, s.Data, s.NextDeadline = uint32(shard), []byte(data), timeOf(deadline)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// AllEvents returns up to limit ledger rows, live or not, with sequence >
// after, ascending.
func (t *tx) AllEvents(ctx context.Context, after int64, limit int) ([]store.LedgerRow, error) {
	rows, err := t.query(ctx, `SELECT `+ledgerCols+` FROM ledger WHERE "sequence" > ? ORDER BY "sequence" LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read all events after %d: %w", after, err)
	}
	out, err := scanLedger(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read all events after %d: %w", after, err)
	}
	return out, nil
}
