package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/defacto-dev/defacto/internal/store"
)

const keyCols = `key_hash, entity_type, field, entity_id, "value", created_seq`

func scanKeys(rows pgx.Rows, f func(store.KeyRecord)) error {
	defer rows.Close()
	for rows.Next() {
		var (
			k store.KeyRecord
			v pgtype.Text
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
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT `+keyCols+` FROM `+t.n.identity+` WHERE key_hash = ANY($1::text[])`, uniq(hashes))
	if err == nil {
		err = scanKeys(rows, func(k store.KeyRecord) { out[k.Hash] = k })
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: look up identity keys: %w", err)
	}
	return out, nil
}

// InsertKeys inserts new identity rows with one statement.
func (t *tx) InsertKeys(ctx context.Context, keys []store.KeyRecord) error {
	if len(keys) == 0 {
		return nil
	}
	n := len(keys)
	hashes, types, fields, ids := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	values, seqs := make([]*string, n), make([]int64, n)
	for i, k := range keys {
		hashes[i], types[i], fields[i], ids[i], seqs[i] = k.Hash, k.EntityType, k.Field, k.EntityID, k.CreatedSeq
		if k.HasValue {
			values[i] = &k.Value
		}
	}
	if err := t.later("insert identity keys", `INSERT INTO `+t.n.identity+` (`+keyCols+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])`,
		hashes, types, fields, ids, values, seqs); err != nil {
		return fmt.Errorf("postgres: insert identity keys: %w", err)
	}
	return nil
}

// EntityKeys returns the identity rows pointing to entityID by created_seq;
// keys created by one event come in key hash order (PostgreSQL keeps no
// insertion order).
func (t *tx) EntityKeys(ctx context.Context, entityID string) ([]store.KeyRecord, error) {
	rows, err := t.query(ctx, `SELECT `+keyCols+` FROM `+t.n.identity+` WHERE entity_id = $1 ORDER BY created_seq, key_hash`, entityID)
	var out []store.KeyRecord
	if err == nil {
		err = scanKeys(rows, func(k store.KeyRecord) { out = append(out, k) })
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read keys of entity %s: %w", entityID, err)
	}
	return out, nil
}

const entityCols = `entity_id, entity_type, birth_seq, status, merged_into, shard_hash`

func scanEntities(rows pgx.Rows, f func(store.EntityRecord)) error {
	defer rows.Close()
	for rows.Next() {
		var (
			e     store.EntityRecord
			into  pgtype.Text
			shard int64
		)
		if err := rows.Scan(&e.ID, &e.Type, &e.BirthSeq, &e.Status, &into, &shard); err != nil {
			return err
		}
		e.MergedInto, e.ShardHash = into.String, uint32(shard)
		f(e)
	}
	return rows.Err()
}

// Entities returns the entity_ids rows among ids.
func (t *tx) Entities(ctx context.Context, ids []string) (map[string]store.EntityRecord, error) {
	out := make(map[string]store.EntityRecord, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT `+entityCols+` FROM `+t.n.entityIDs+` WHERE entity_id = ANY($1::text[])`, uniq(ids))
	if err == nil {
		err = scanEntities(rows, func(e store.EntityRecord) { out[e.ID] = e })
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read entities: %w", err)
	}
	return out, nil
}

// AllEntities returns every entity_ids row, ascending by id (byte order).
func (t *tx) AllEntities(ctx context.Context) ([]store.EntityRecord, error) {
	rows, err := t.query(ctx, `SELECT `+entityCols+` FROM `+t.n.entityIDs+` ORDER BY entity_id COLLATE "C"`)
	var out []store.EntityRecord
	if err == nil {
		err = scanEntities(rows, func(e store.EntityRecord) { out = append(out, e) })
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: list entities: %w", err)
	}
	return out, nil
}

// InsertEntities inserts entity_ids rows with one statement.
func (t *tx) InsertEntities(ctx context.Context, es []store.EntityRecord) error {
	if len(es) == 0 {
		return nil
	}
	n := len(es)
	ids, types, statuses, merged := make([]string, n), make([]string, n), make([]string, n), make([]*string, n)
	births, shards := make([]int64, n), make([]int64, n)
	for i, e := range es {
		ids[i], types[i], births[i], shards[i] = e.ID, e.Type, e.BirthSeq, int64(e.ShardHash)
		statuses[i] = e.Status
		if statuses[i] == "" {
			statuses[i] = store.StatusActive
		}
		merged[i] = nullText(e.MergedInto) // a copy: the caller may reuse es before the pipe sends
	}
	if err := t.later("insert entities", `INSERT INTO `+t.n.entityIDs+` (`+entityCols+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])`,
		ids, types, births, statuses, merged, shards); err != nil {
		return fmt.Errorf("postgres: insert %d entities: %w", n, err)
	}
	return nil
}

const linkCols = `"sequence", entity_type, entity_id, resolved_entity_id, shard_hash`

// InsertLinks inserts event_entities rows with one statement.
func (t *tx) InsertLinks(ctx context.Context, links []store.Link) error {
	if len(links) == 0 {
		return nil
	}
	n := len(links)
	seqs, shards := make([]int64, n), make([]int64, n)
	types, ids, resolved := make([]string, n), make([]string, n), make([]string, n)
	for i, l := range links {
		seqs[i], types[i], ids[i], shards[i] = l.Seq, l.EntityType, l.EntityID, int64(l.ShardHash)
		resolved[i] = l.ResolvedID
		if resolved[i] == "" {
			resolved[i] = l.EntityID
		}
	}
	if err := t.later("insert links", `INSERT INTO `+t.n.links+` (`+linkCols+`)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[])`,
		seqs, types, ids, resolved, shards); err != nil {
		return fmt.Errorf("postgres: insert links: %w", err)
	}
	return nil
}

func scanLinks(rows pgx.Rows, f func(store.Link)) error {
	defer rows.Close()
	for rows.Next() {
		var (
			l     store.Link
			shard int64
		)
		if err := rows.Scan(&l.Seq, &l.EntityType, &l.EntityID, &l.ResolvedID, &shard); err != nil {
			return err
		}
		l.ShardHash = uint32(shard)
		f(l)
	}
	return rows.Err()
}

// CountLinks counts the links whose entity_id is id.
func (t *tx) CountLinks(ctx context.Context, id string) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, `SELECT count(*) FROM `+t.n.links+` WHERE entity_id = $1`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count links of %s: %w", id, err)
	}
	return n, nil
}

// ResolvedAt returns the resolved_entity_id of the link of event seq to
// entityType, "" when there is none.
func (t *tx) ResolvedAt(ctx context.Context, seq int64, entityType string) (string, error) {
	var id string
	err := t.queryRow(ctx, `SELECT resolved_entity_id FROM `+t.n.links+` WHERE "sequence" = $1 AND entity_type = $2`,
		seq, entityType).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgres: resolved entity of %d: %w", seq, err)
	}
	return id, nil
}

// LinksInRange returns links with lo < sequence <= hi by sequence, then
// entity type; a sharded Store returns only its own shard's links
// (shard_hash mod total_shards = shard_id).
func (t *tx) LinksInRange(ctx context.Context, lo, hi int64) ([]store.Link, error) {
	rows, err := t.query(ctx, `SELECT `+linkCols+` FROM `+t.n.links+`
		WHERE "sequence" > $1 AND "sequence" <= $2`+t.shardCond("shard_hash")+`
		ORDER BY "sequence", entity_type COLLATE "C"`, lo, hi)
	var out []store.Link
	if err == nil {
		err = scanLinks(rows, func(l store.Link) { out = append(out, l) })
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read links in (%d, %d]: %w", lo, hi, err)
	}
	return out, nil
}

// ApplyMerge executes identity.md §5 for m.From into m.Into: both must be
// known and active. The guards run first, so a refused merge changes
// nothing.
func (t *tx) ApplyMerge(ctx context.Context, m store.MergeRecord, winnerShard uint32) error {
	fail := func(err error) error {
		return fmt.Errorf("postgres: merge %s into %s: %w", m.From, m.Into, err)
	}
	if m.From == m.Into {
		return fail(errors.New("an entity cannot merge into itself"))
	}
	if err := t.writable(); err != nil {
		return fail(err)
	}
	// The two guards in one round trip: the loser and the winner must both
	// be active entities. FOR UPDATE keeps them so until the writes below.
	var loser, winner bool
	if err := t.queryRow(ctx, `SELECT
			coalesce(bool_or(entity_id = $1), false), coalesce(bool_or(entity_id = $2), false)
		FROM (SELECT entity_id FROM `+t.n.entityIDs+` WHERE entity_id IN ($1, $2) AND status = 'active' FOR UPDATE) a`,
		m.From, m.Into).Scan(&loser, &winner); err != nil {
		return fail(err)
	}
	if !loser {
		return fail(errors.New("the loser is not an active entity"))
	}
	if !winner {
		return fail(errors.New("the winner is not an active entity"))
	}
	kind := m.Kind
	if kind == "" {
		kind = store.MergeAuto
	}
	b := &pgx.Batch{}
	// 3. The winner inherits the earlier birth, then the loser is marked.
	b.Queue(`UPDATE `+t.n.entityIDs+`
		SET birth_seq = least(birth_seq, (SELECT birth_seq FROM `+t.n.entityIDs+` WHERE entity_id = $1))
		WHERE entity_id = $2`, m.From, m.Into)
	b.Queue(`UPDATE `+t.n.entityIDs+` SET status = 'merged', merged_into = $1 WHERE entity_id = $2`, m.Into, m.From)
	// 1. Identity rows, inherited ones included.
	b.Queue(`UPDATE `+t.n.identity+` SET entity_id = $1 WHERE entity_id = $2`, m.Into, m.From)
	// 2. Links keep resolved_entity_id.
	b.Queue(`UPDATE `+t.n.links+` SET entity_id = $1, shard_hash = $2 WHERE entity_id = $3`, m.Into, int64(winnerShard), m.From)
	// 4. Merge log.
	b.Queue(`INSERT INTO `+t.n.mergeLog+` (`+mergeCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		m.From, m.Into, m.EntityType, kind, nullText(m.Reason), m.MergeSeq, ts(m.MergedAt), ts(m.RecordedAt))
	// The guards above were answered; the writes travel with the next
	// statement (pipeline.go).
	t.tx.laterBatch(fmt.Sprintf("merge %s into %s", m.From, m.Into), b)
	return nil
}

const mergeCols = `from_entity_id, into_entity_id, entity_type, kind, reason, merge_seq, merged_at, recorded_at`

// mergeOrder orders merge-log rows (alias m) in execution order without an
// insertion counter: by merge_seq, then as identity.md §4 executes the
// merges of one event: entity types ascending, losers by ascending birth_seq
// (kept on the loser's entity_ids row), then id.
const mergeOrder = `ORDER BY m.merge_seq, m.entity_type COLLATE "C",
	(SELECT x.birth_seq FROM %s x WHERE x.entity_id = m.from_entity_id), m.from_entity_id COLLATE "C"`

func scanMerges(rows pgx.Rows) ([]store.MergeRecord, error) {
	defer rows.Close()
	var out []store.MergeRecord
	for rows.Next() {
		var (
			m        store.MergeRecord
			reason   pgtype.Text
			at, recd time.Time
		)
		if err := rows.Scan(&m.From, &m.Into, &m.EntityType, &m.Kind, &reason, &m.MergeSeq, &at, &recd); err != nil {
			return nil, err
		}
		m.Reason, m.MergedAt, m.RecordedAt = reason.String, at.UnixMicro(), recd.UnixMicro()
		out = append(out, m)
	}
	return out, rows.Err()
}

// MergesInRange returns merge-log rows with lo < merge_seq <= hi in the
// order they were executed.
func (t *tx) MergesInRange(ctx context.Context, lo, hi int64) ([]store.MergeRecord, error) {
	rows, err := t.query(ctx, `SELECT `+mergeCols+` FROM `+t.n.mergeLog+` m
		WHERE m.merge_seq > $1 AND m.merge_seq <= $2 `+fmt.Sprintf(mergeOrder, t.n.entityIDs), lo, hi)
	if err != nil {
		return nil, fmt.Errorf("postgres: read merges in (%d, %d]: %w", lo, hi, err)
	}
	out, err := scanMerges(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: read merges in (%d, %d]: %w", lo, hi, err)
	}
	return out, nil
}

// MergeComponent returns the merge-log rows connected to id through the log
// in either direction, transitively, in execution order.
func (t *tx) MergeComponent(ctx context.Context, id string) ([]store.MergeRecord, error) {
	rows, err := t.query(ctx, `WITH RECURSIVE comp(id) AS (
			SELECT $1::text
			UNION
			SELECT CASE WHEN g.from_entity_id = c.id THEN g.into_entity_id ELSE g.from_entity_id END
			FROM `+t.n.mergeLog+` g JOIN comp c ON g.from_entity_id = c.id OR g.into_entity_id = c.id
		)
		SELECT `+mergeCols+` FROM `+t.n.mergeLog+` m WHERE m.from_entity_id IN (SELECT id FROM comp) `+
		fmt.Sprintf(mergeOrder, t.n.entityIDs), id)
	if err != nil {
		return nil, fmt.Errorf("postgres: read merge component of %s: %w", id, err)
	}
	out, err := scanMerges(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: read merge component of %s: %w", id, err)
	}
	return out, nil
}

// KeysCreatedInRange returns key hashes created by events in (lo, hi].
func (t *tx) KeysCreatedInRange(ctx context.Context, lo, hi int64) ([]string, error) {
	rows, err := t.query(ctx, `SELECT key_hash FROM `+t.n.identity+` WHERE created_seq > $1 AND created_seq <= $2`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("postgres: keys created in range: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: keys created in range: %w", err)
	}
	return out, nil
}

// ResetIdentity deletes every row of identity, entity_ids, event_entities
// and merge_log (identity.md §7). DELETE rather than TRUNCATE: TRUNCATE's
// exclusive lock would block readers until commit.
func (t *tx) ResetIdentity(ctx context.Context) error {
	if err := t.writable(); err != nil {
		return fmt.Errorf("postgres: reset identity: %w", err)
	}
	b := &pgx.Batch{}
	for _, tbl := range []string{t.n.identity, t.n.entityIDs, t.n.links, t.n.mergeLog} {
		b.Queue(`DELETE FROM ` + tbl)
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: reset identity: %w", err)
	}
	return nil
}

// LinksOf returns all links of every row linked (by entity_id or
// resolved_entity_id) to one of ids.
func (t *tx) LinksOf(ctx context.Context, ids []string) (map[int64][]store.Link, error) {
	out := map[int64][]store.Link{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT `+linkCols+` FROM `+t.n.links+` WHERE "sequence" IN (
			SELECT "sequence" FROM `+t.n.links+` WHERE entity_id = ANY($1::text[])
			UNION SELECT "sequence" FROM `+t.n.links+` WHERE resolved_entity_id = ANY($1::text[]))
		ORDER BY "sequence", entity_type COLLATE "C"`, uniq(ids))
	if err == nil {
		err = scanLinks(rows, func(l store.Link) { out[l.Seq] = append(out[l.Seq], l) })
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read links: %w", err)
	}
	return out, nil
}

// DeleteLinks deletes the links of rows seqs pointing (by entity_id or
// resolved_entity_id) at ids.
func (t *tx) DeleteLinks(ctx context.Context, seqs []int64, ids []string) error {
	if len(seqs) == 0 || len(ids) == 0 {
		return nil
	}
	if _, err := t.exec(ctx, `DELETE FROM `+t.n.links+` WHERE "sequence" = ANY($1::bigint[])
		AND (entity_id = ANY($2::text[]) OR resolved_entity_id = ANY($2::text[]))`, uniq(seqs), uniq(ids)); err != nil {
		return fmt.Errorf("postgres: delete links: %w", err)
	}
	return nil
}

// DeleteIdentity deletes identity, entity_ids and merge-log rows of ids.
func (t *tx) DeleteIdentity(ctx context.Context, ids []string) (keys, merges int64, err error) {
	if len(ids) == 0 {
		return 0, 0, nil
	}
	if err := t.writable(); err != nil {
		return 0, 0, fmt.Errorf("postgres: delete identity: %w", err)
	}
	u := uniq(ids)
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM `+t.n.identity+` WHERE entity_id = ANY($1::text[])`, u)
	b.Queue(`DELETE FROM `+t.n.entityIDs+` WHERE entity_id = ANY($1::text[])`, u)
	b.Queue(`DELETE FROM `+t.n.mergeLog+` WHERE from_entity_id = ANY($1::text[]) OR into_entity_id = ANY($1::text[])`, u)
	br := t.tx.SendBatch(ctx, b)
	defer br.Close()
	tag, err := br.Exec()
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: delete identity: %w", err)
	}
	keys = tag.RowsAffected()
	if _, err := br.Exec(); err != nil {
		return 0, 0, fmt.Errorf("postgres: delete identity: %w", err)
	}
	if tag, err = br.Exec(); err != nil {
		return 0, 0, fmt.Errorf("postgres: delete identity: %w", err)
	}
	merges = tag.RowsAffected()
	if err := br.Close(); err != nil {
		return 0, 0, fmt.Errorf("postgres: delete identity: %w", err)
	}
	return keys, merges, nil
}
