package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/defacto-dev/defacto/internal/store"
)

const keyCols = `key_hash, entity_type, field, entity_id, "value", created_seq`

func scanKeys(rows *sql.Rows, f func(store.KeyRecord)) error {
	defer rows.Close()
	for rows.Next() {
		var (
			k store.KeyRecord
			v sql.NullString
		)
		if err := rows.Scan(&k.Hash, &k.EntityType, &k.Field, &k.EntityID, &v, &k.CreatedSeq); err != nil {
			return err
		}
		k.Value, k.HasValue = v.String, v.Valid
		f(k)
	}
	return rows.Err()
}

// LookupKeys maps each known key hash among hashes to its identity row.
func (t *tx) LookupKeys(ctx context.Context, hashes []string) (map[string]store.KeyRecord, error) {
	out := make(map[string]store.KeyRecord, len(hashes))
	err := inChunks(uniq(hashes), inChunk, func(c []string) error {
		rows, err := t.query(ctx, `SELECT `+keyCols+` FROM identity WHERE key_hash IN (`+params(len(c))+`)`, anys(c)...)
		if err != nil {
			return err
		}
		return scanKeys(rows, func(k store.KeyRecord) { out[k.Hash] = k })
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: look up identity keys: %w", err)
	}
	return out, nil
}

// InsertKeys inserts new identity rows with multi-row INSERTs.
func (t *tx) InsertKeys(ctx context.Context, keys []store.KeyRecord) error {
	err := insertRows(ctx, t, `INSERT INTO identity (`+keyCols+`)`, "", 6, keys, func(args []any, k store.KeyRecord) ([]any, error) {
		var v any
		if k.HasValue {
			v = k.Value
		}
		return append(args, k.Hash, k.EntityType, k.Field, k.EntityID, v, k.CreatedSeq), nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert identity keys: %w", err)
	}
	return nil
}

// EntityKeys returns the identity rows pointing to entityID in creation
// order.
func (t *tx) EntityKeys(ctx context.Context, entityID string) ([]store.KeyRecord, error) {
	rows, err := t.query(ctx, `SELECT `+keyCols+` FROM identity WHERE entity_id = ? ORDER BY created_seq, rowid`, entityID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read keys of entity %s: %w", entityID, err)
	}
	var out []store.KeyRecord
	if err := scanKeys(rows, func(k store.KeyRecord) { out = append(out, k) }); err != nil {
		return nil, fmt.Errorf("sqlite: read keys of entity %s: %w", entityID, err)
	}
	return out, nil
}

const entityCols = `entity_id, entity_type, birth_seq, status, merged_into, shard_hash`

// Entities returns the entity_ids rows among ids.
func (t *tx) Entities(ctx context.Context, ids []string) (map[string]store.EntityRecord, error) {
	out := make(map[string]store.EntityRecord, len(ids))
	err := inChunks(uniq(ids), inChunk, func(c []string) error {
		rows, err := t.query(ctx, `SELECT `+entityCols+` FROM entity_ids WHERE entity_id IN (`+params(len(c))+`)`, anys(c)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e     store.EntityRecord
				into  sql.NullString
				shard int64
			)
			if err := rows.Scan(&e.ID, &e.Type, &e.BirthSeq, &e.Status, &into, &shard); err != nil {
				return err
			}
			e.MergedInto, e.ShardHash = into.String, uint32(shard)
			out[e.ID] = e
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read entities: %w", err)
	}
	return out, nil
}

func (t *tx) InsertEntities(ctx context.Context, es []store.EntityRecord) error {
	err := insertRows(ctx, t, `INSERT INTO entity_ids (`+entityCols+`)`, "", 6, es, func(args []any, e store.EntityRecord) ([]any, error) {
		status := e.Status
		if status == "" {
			status = store.StatusActive
		}
		return append(args, e.ID, e.Type, e.BirthSeq, status, nullText(e.MergedInto), int64(e.ShardHash)), nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert %d entities: %w", len(es), err)
	}
	return nil
}

const linkCols = `"sequence", entity_type, entity_id, resolved_entity_id, shard_hash`

// ownersOf returns a WITH clause defining owner(id): the n ids bound first
// and every entity their merged_into chains lead to. A link's entity_id is
// always on the chain of its resolved_entity_id (a merge moves the loser's
// links to the winner and records the winner as the loser's merged_into),
// so the links first resolved to some ids are among the links whose
// entity_id is an owner: reads by first owner go through the entity_id
// index, and event_entities keeps no index of resolved_entity_id.
func ownersOf(n int) string {
	return `WITH RECURSIVE owner(id) AS (VALUES ` + rowParams(n, 1) + `
		UNION SELECT x.merged_into FROM entity_ids x JOIN owner ON x.entity_id = owner.id WHERE x.merged_into IS NOT NULL)
		`
}

// InsertLinks inserts event_entities rows with multi-row INSERTs.
func (t *tx) InsertLinks(ctx context.Context, links []store.Link) error {
	err := insertRows(ctx, t, `INSERT INTO event_entities (`+linkCols+`)`, "", 5, links, func(args []any, l store.Link) ([]any, error) {
		resolved := l.ResolvedID
		if resolved == "" {
			resolved = l.EntityID
		}
		return append(args, l.Seq, l.EntityType, l.EntityID, resolved, int64(l.ShardHash)), nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert links: %w", err)
	}
	return nil
}

// LinksInRange returns links with lo < sequence <= hi by sequence, then
// entity type. SQLite namespaces are never sharded, so every link matches.
func (t *tx) LinksInRange(ctx context.Context, lo, hi int64) ([]store.Link, error) {
	rows, err := t.query(ctx, `SELECT `+linkCols+` FROM event_entities
		WHERE "sequence" > ? AND "sequence" <= ? ORDER BY "sequence", entity_type`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read links in (%d, %d]: %w", lo, hi, err)
	}
	defer rows.Close()
	var out []store.Link
	for rows.Next() {
		var (
			l     store.Link
			shard int64
		)
		if err := rows.Scan(&l.Seq, &l.EntityType, &l.EntityID, &l.ResolvedID, &shard); err != nil {
			return nil, fmt.Errorf("sqlite: read links in (%d, %d]: %w", lo, hi, err)
		}
		l.ShardHash = uint32(shard)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read links in (%d, %d]: %w", lo, hi, err)
	}
	return out, nil
}

// ApplyMerge executes identity.md §5 for m.From into m.Into: both must be
// known and From must still be active.
func (t *tx) ApplyMerge(ctx context.Context, m store.MergeRecord, winnerShard uint32) error {
	fail := func(err error) error {
		return fmt.Errorf("sqlite: merge %s into %s: %w", m.From, m.Into, err)
	}
	if m.From == m.Into {
		return fail(errors.New("an entity cannot merge into itself"))
	}
	// 3 first, as the guard: the loser must be an active entity.
	res, err := t.exec(ctx, `UPDATE entity_ids SET status = 'merged', merged_into = ?
		WHERE entity_id = ? AND status = 'active'`, m.Into, m.From)
	if err != nil {
		return fail(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fail(err)
	} else if n != 1 {
		return fail(errors.New("the loser is not an active entity"))
	}
	res, err = t.exec(ctx, `UPDATE entity_ids
		SET birth_seq = min(birth_seq, (SELECT birth_seq FROM entity_ids WHERE entity_id = ?))
		WHERE entity_id = ? AND status = 'active'`, m.From, m.Into)
	if err != nil {
		return fail(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fail(err)
	} else if n != 1 {
		return fail(errors.New("the winner is not an active entity"))
	}
	// 1. Identity rows, inherited ones included.
	if _, err := t.exec(ctx, `UPDATE identity SET entity_id = ? WHERE entity_id = ?`, m.Into, m.From); err != nil {
		return fail(err)
	}
	// 2. Links keep resolved_entity_id.
	if _, err := t.exec(ctx, `UPDATE event_entities SET entity_id = ?, shard_hash = ? WHERE entity_id = ?`,
		m.Into, int64(winnerShard), m.From); err != nil {
		return fail(err)
	}
	// 4. Merge log.
	kind := m.Kind
	if kind == "" {
		kind = store.MergeAuto
	}
	if _, err := t.exec(ctx, `INSERT INTO merge_log (`+mergeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		m.From, m.Into, m.EntityType, kind, nullText(m.Reason), m.MergeSeq, m.MergedAt, m.RecordedAt); err != nil {
		return fail(err)
	}
	return nil
}

const mergeCols = `from_entity_id, into_entity_id, entity_type, kind, reason, merge_seq, merged_at, recorded_at`

func scanMerges(rows *sql.Rows) ([]store.MergeRecord, error) {
	defer rows.Close()
	var out []store.MergeRecord
	for rows.Next() {
		var (
			m      store.MergeRecord
			reason sql.NullString
		)
		if err := rows.Scan(&m.From, &m.Into, &m.EntityType, &m.Kind, &reason, &m.MergeSeq, &m.MergedAt, &m.RecordedAt); err != nil {
			return nil, err
		}
		m.Reason = reason.String
		out = append(out, m)
	}
	return out, rows.Err()
}

// MergesInRange returns merge-log rows with lo < merge_seq <= hi in the
// order they were executed.
func (t *tx) MergesInRange(ctx context.Context, lo, hi int64) ([]store.MergeRecord, error) {
	rows, err := t.query(ctx, `SELECT `+mergeCols+` FROM merge_log
		WHERE merge_seq > ? AND merge_seq <= ? ORDER BY merge_seq, rowid`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read merges in (%d, %d]: %w", lo, hi, err)
	}
	out, err := scanMerges(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read merges in (%d, %d]: %w", lo, hi, err)
	}
	return out, nil
}

// MergeComponent returns the merge-log rows connected to id through the log
// in either direction, transitively, in execution order.
func (t *tx) MergeComponent(ctx context.Context, id string) ([]store.MergeRecord, error) {
	rows, err := t.query(ctx, `WITH RECURSIVE comp(id) AS (
			SELECT ?
			UNION SELECT m.into_entity_id FROM merge_log m JOIN comp c ON m.from_entity_id = c.id
			UNION SELECT m.from_entity_id FROM merge_log m JOIN comp c ON m.into_entity_id = c.id
		)
		SELECT `+mergeCols+` FROM merge_log WHERE from_entity_id IN (SELECT id FROM comp)
		ORDER BY merge_seq, rowid`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read merge component of %s: %w", id, err)
	}
	out, err := scanMerges(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read merge component of %s: %w", id, err)
	}
	return out, nil
}
