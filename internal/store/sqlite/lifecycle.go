package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

var _ store.LifecycleTx = (*tx)(nil)

// relSQL is the SQL of one relationship table in one version store.
type relSQL struct {
	table string
	cols  string
	ncols int
	types []definition.Type
}

func (t *tx) rel(ctx context.Context, version string, r *definition.Relationship, write bool) (*relSQL, error) {
	var sc string
	var err error
	if write {
		sc, err = t.writeTo(ctx, version)
	} else {
		sc, err = t.schema(ctx, version, false)
	}
	if err != nil {
		return nil, err
	}
	names := []string{"source_id", "target_id", "relationship_type"}
	h := &relSQL{table: sc + "." + quote("rel_"+r.Type+"_history_all")}
	for _, p := range r.Properties {
		names = append(names, p.Name)
		h.types = append(h.types, p.Type)
	}
	names = append(names, "valid_from", "valid_to", "event_sequence", "recorded_at")
	h.cols, h.ncols = quoteAll(names, ""), len(names)
	return h, nil
}

func scanRels(rows *sql.Rows, h *relSQL, f func(store.RelRow)) error {
	defer rows.Close()
	raw := make([]any, len(h.types))
	for rows.Next() {
		var (
			r            store.RelRow
			typ          string
			validTo, seq sql.NullInt64
		)
		dest := []any{&r.SourceID, &r.TargetID, &typ}
		for i := range raw {
			dest = append(dest, &raw[i])
		}
		dest = append(dest, &r.ValidFrom, &validTo, &seq, &r.RecordedAt)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		r.Props = make([]value.Value, len(raw))
		for i, x := range raw {
			v, err := fromSQL(x, h.types[i])
			if err != nil {
				return err
			}
			r.Props[i] = v
		}
		r.ValidTo, r.EventSeq = timeOf(validTo), seq.Int64
		f(r)
	}
	return rows.Err()
}

// OpenRelRows returns the open current-belief rows of r by source.
func (t *tx) OpenRelRows(ctx context.Context, version string, r *definition.Relationship, ids []string) (map[string][]store.RelRow, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	h, err := t.rel(ctx, version, r, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read relationships %s: %w", r.Type, err)
	}
	out := map[string][]store.RelRow{}
	err = inChunks(uniq(ids), inChunk, func(c []string) error {
		rows, err := t.query(ctx, `SELECT `+h.cols+` FROM `+h.table+` WHERE "superseded_at" IS NULL AND "valid_to" IS NULL
			AND "source_id" IN (`+params(len(c))+`) ORDER BY "source_id", "target_id", "valid_from"`, anys(c)...)
		if err != nil {
			return err
		}
		return scanRels(rows, h, func(x store.RelRow) { out[x.SourceID] = append(out[x.SourceID], x) })
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read relationships %s: %w", r.Type, err)
	}
	return out, nil
}

// CurrentRelRows returns every current-belief row of r whose source is id.
func (t *tx) CurrentRelRows(ctx context.Context, version string, r *definition.Relationship, id string) ([]store.RelRow, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	h, err := t.rel(ctx, version, r, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read relationships %s of %s: %w", r.Type, id, err)
	}
	rows, err := t.query(ctx, `SELECT `+h.cols+` FROM `+h.table+` WHERE "superseded_at" IS NULL AND "source_id" = ?
		ORDER BY "target_id", "valid_from"`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read relationships %s of %s: %w", r.Type, id, err)
	}
	var out []store.RelRow
	if err := scanRels(rows, h, func(x store.RelRow) { out = append(out, x) }); err != nil {
		return nil, fmt.Errorf("sqlite: read relationships %s of %s: %w", r.Type, id, err)
	}
	return out, nil
}

// WriteRelationships executes one source's plan: supersede, close, insert.
func (t *tx) WriteRelationships(ctx context.Context, version string, r *definition.Relationship, w *store.RelWrite) error {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	fail := func(err error) error {
		return fmt.Errorf("sqlite: write relationships %s of %s: %w", r.Type, w.SourceID, err)
	}
	h, err := t.rel(ctx, version, r, true)
	if err != nil {
		return fail(err)
	}
	for _, k := range w.Supersede {
		if _, err := t.exec(ctx, `UPDATE `+h.table+` SET "superseded_at" = ? WHERE "source_id" = ? AND "target_id" = ?
			AND "valid_from" = ? AND "superseded_at" IS NULL`, w.Now, w.SourceID, k.TargetID, k.ValidFrom); err != nil {
			return fail(err)
		}
	}
	for k, to := range w.Close {
		if _, err := t.exec(ctx, `UPDATE `+h.table+` SET "valid_to" = ? WHERE "source_id" = ? AND "target_id" = ?
			AND "valid_from" = ? AND "superseded_at" IS NULL`, nullTime(to), w.SourceID, k.TargetID, k.ValidFrom); err != nil {
			return fail(err)
		}
	}
	err = insertRows(ctx, t, `INSERT INTO `+h.table+` (`+h.cols+`)`, "", h.ncols, w.Insert, func(args []any, x store.RelRow) ([]any, error) {
		if len(x.Props) != len(h.types) {
			return nil, fmt.Errorf("row to %s has %d property values, want %d", x.TargetID, len(x.Props), len(h.types))
		}
		src := x.SourceID
		if src == "" {
			src = w.SourceID
		}
		args = append(args, src, x.TargetID, r.Type)
		for i, v := range x.Props {
			y, err := toSQL(v, h.types[i])
			if err != nil {
				return nil, err
			}
			args = append(args, y)
		}
		return append(args, x.ValidFrom, nullTime(x.ValidTo), nullInt(x.EventSeq), w.Now), nil
	})
	if err != nil {
		return fail(err)
	}
	return nil
}

// AddPending stores pending relations, one row per key hash.
func (t *tx) AddPending(ctx context.Context, version string, ps []store.PendingRelation) error {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	sc, err := t.writeTo(ctx, version)
	if err != nil {
		return fmt.Errorf("sqlite: add pending relations: %w", err)
	}
	for _, p := range ps {
		for _, h := range p.KeyHashes {
			if _, err := t.exec(ctx, `INSERT INTO `+sc+`."pending_relations" ("source_id", "relationship_type",
				"event_sequence", "key_hash") VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				p.SourceID, p.Type, p.EventSeq, h); err != nil {
				return fmt.Errorf("sqlite: add pending relations: %w", err)
			}
		}
	}
	return nil
}

// ClearPending deletes every pending relation of sourceID.
func (t *tx) ClearPending(ctx context.Context, version, sourceID string) error {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	sc, err := t.writeTo(ctx, version)
	if err == nil {
		_, err = t.exec(ctx, `DELETE FROM `+sc+`."pending_relations" WHERE "source_id" = ?`, sourceID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: clear pending relations of %s: %w", sourceID, err)
	}
	return nil
}

// PendingSources returns the distinct sources waiting for one of hashes.
func (t *tx) PendingSources(ctx context.Context, version string, hashes []string) ([]string, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	if len(hashes) == 0 {
		return nil, nil
	}
	sc, err := t.schema(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending sources: %w", err)
	}
	set, err := t.idSet(ctx, `SELECT DISTINCT "source_id" FROM `+sc+`."pending_relations" WHERE "key_hash" IN (`, hashes)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending sources: %w", err)
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// ResolvedAt returns the entity a link was first resolved to.
func (t *tx) ResolvedAt(ctx context.Context, seq int64, entityType string) (string, error) {
	var id string
	err := t.queryRow(ctx, `SELECT resolved_entity_id FROM event_entities WHERE "sequence" = ? AND entity_type = ?`,
		seq, entityType).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: resolved entity of %d: %w", seq, err)
	}
	return id, nil
}

// KeysCreatedInRange returns key hashes created by events in (lo, hi].
func (t *tx) KeysCreatedInRange(ctx context.Context, lo, hi int64) ([]string, error) {
	rows, err := t.query(ctx, `SELECT key_hash FROM identity WHERE created_seq > ? AND created_seq <= ?`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("sqlite: keys created in range: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("sqlite: keys created in range: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SetFailures records an entity's failed sequences.
func (t *tx) SetFailures(ctx context.Context, version, entityID string, seqs []int64, replace bool) error {
	seqs = slices.Clone(seqs)
	return t.later(ctx, version, func(t *tx, ctx context.Context) error { return t.setFailures(ctx, version, entityID, seqs, replace) })
}

func (t *tx) setFailures(ctx context.Context, version, entityID string, seqs []int64, replace bool) error {
	sc, err := t.writeTo(ctx, version)
	if err != nil {
		return fmt.Errorf("sqlite: record failures: %w", err)
	}
	if replace {
		if _, err := t.exec(ctx, `DELETE FROM `+sc+`."failed_events" WHERE "entity_id" = ?`, entityID); err != nil {
			return fmt.Errorf("sqlite: record failures: %w", err)
		}
	}
	for _, s := range seqs {
		if _, err := t.exec(ctx, `INSERT INTO `+sc+`."failed_events" ("entity_id", "sequence") VALUES (?, ?)
			ON CONFLICT DO NOTHING`, entityID, s); err != nil {
			return fmt.Errorf("sqlite: record failures: %w", err)
		}
	}
	return nil
}

// CountFailedEvents counts distinct failed live sequences.
func (t *tx) CountFailedEvents(ctx context.Context, version string) (int64, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return 0, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	sc, err := t.schema(ctx, version, false)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count failed events: %w", err)
	}
	var n int64
	if err := t.queryRow(ctx, `SELECT count(DISTINCT f."sequence") FROM `+sc+`."failed_events" f
		JOIN ledger l ON l."sequence" = f."sequence" WHERE l.`+strings.ReplaceAll(live, " AND ", " AND l.")).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count failed events: %w", err)
	}
	return n, nil
}

// LinksOf returns all links of every row linked to one of ids.
func (t *tx) LinksOf(ctx context.Context, ids []string) (map[int64][]store.Link, error) {
	out := map[int64][]store.Link{}
	err := chunked(uniq(ids), inChunk/3, func(c []string) error {
		args := append(append(anys(c), anys(c)...), anys(c)...)
		rows, err := t.query(ctx, ownersOf(len(c))+`SELECT e."sequence", e.entity_type, e.entity_id, e.resolved_entity_id, e.shard_hash
			FROM event_entities e WHERE e."sequence" IN (SELECT "sequence" FROM event_entities
			WHERE entity_id IN (SELECT id FROM owner)
				AND (entity_id IN (`+params(len(c))+`) OR resolved_entity_id IN (`+params(len(c))+`)))`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l store.Link
			var shard int64
			if err := rows.Scan(&l.Seq, &l.EntityType, &l.EntityID, &l.ResolvedID, &shard); err != nil {
				return err
			}
			l.ShardHash = uint32(shard)
			if !slices.ContainsFunc(out[l.Seq], func(x store.Link) bool { return x.EntityType == l.EntityType }) {
				out[l.Seq] = append(out[l.Seq], l)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read links: %w", err)
	}
	return out, nil
}

// DeleteEvents deletes ledger rows with their links and lists their event
// ids as erased.
func (t *tx) DeleteEvents(ctx context.Context, seqs []int64, erasureID int64) error {
	err := chunked(uniq(seqs), inChunk, func(c []int64) error {
		if _, err := t.exec(ctx, `INSERT INTO erased_events (event_id, erasure_id)
			SELECT event_id, ? FROM ledger WHERE "sequence" IN (`+params(len(c))+`) ON CONFLICT DO NOTHING`,
			append([]any{erasureID}, anys(c)...)...); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM event_entities WHERE "sequence" IN (`+params(len(c))+`)`, anys(c)...); err != nil {
			return err
		}
		_, err := t.exec(ctx, `DELETE FROM ledger WHERE "sequence" IN (`+params(len(c))+`)`, anys(c)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete events: %w", err)
	}
	return nil
}

// UpdatePayload rewrites a row's payload columns and marks it redacted.
func (t *tx) UpdatePayload(ctx context.Context, row store.LedgerRow) error {
	data := string(row.Data)
	if row.Data == nil {
		data = "null"
	}
	if _, err := t.exec(ctx, `UPDATE ledger SET data = ?, data_types = ?, raw = ?, hints = ?, redacted = 1
		WHERE "sequence" = ?`, data, jsonText(row.DataTypes), jsonText(row.Raw), jsonText(row.Hints), row.Seq); err != nil {
		return fmt.Errorf("sqlite: update payload of %d: %w", row.Seq, err)
	}
	return nil
}

// DeleteLinks deletes the links of rows seqs pointing at ids.
func (t *tx) DeleteLinks(ctx context.Context, seqs []int64, ids []string) error {
	for _, s := range uniq(seqs) {
		err := chunked(uniq(ids), inChunk/2, func(c []string) error {
			_, err := t.exec(ctx, `DELETE FROM event_entities WHERE "sequence" = ? AND (entity_id IN (`+params(len(c))+`)
				OR resolved_entity_id IN (`+params(len(c))+`))`, append(append([]any{s}, anys(c)...), anys(c)...)...)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: delete links: %w", err)
		}
	}
	return nil
}

// DeleteIdentity deletes identity, entity_ids and merge-log rows of ids.
func (t *tx) DeleteIdentity(ctx context.Context, ids []string) (keys, merges int64, err error) {
	err = chunked(uniq(ids), inChunk/2, func(c []string) error {
		res, err := t.exec(ctx, `DELETE FROM identity WHERE entity_id IN (`+params(len(c))+`)`, anys(c)...)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		keys += n
		if _, err := t.exec(ctx, `DELETE FROM entity_ids WHERE entity_id IN (`+params(len(c))+`)`, anys(c)...); err != nil {
			return err
		}
		res, err = t.exec(ctx, `DELETE FROM merge_log WHERE from_entity_id IN (`+params(len(c))+`)
			OR into_entity_id IN (`+params(len(c))+`)`, append(anys(c), anys(c)...)...)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		merges += n
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: delete identity: %w", err)
	}
	return keys, merges, nil
}

// DeleteEntity deletes everything a version store holds about id.
func (t *tx) DeleteEntity(ctx context.Context, version string, ent *definition.Entity, id string) (int64, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return 0, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("sqlite: delete %s %s in %s: %w", entName(ent), id, version, err)
	}
	h, err := t.history(ctx, version, ent, true)
	if err != nil {
		return fail(err)
	}
	sc, _ := t.writeTo(ctx, version)
	var n int64
	res, err := t.exec(ctx, `DELETE FROM `+h.table+` WHERE `+h.id+` = ?`, id)
	if err != nil {
		return fail(err)
	}
	c, _ := res.RowsAffected()
	n += c
	tables, err := t.tablesLike(ctx, sc, true)
	if err != nil {
		return fail(err)
	}
	for _, tbl := range tables {
		res, err := t.exec(ctx, `DELETE FROM `+sc+`.`+quote(tbl)+` WHERE "source_id" = ? OR "target_id" = ?`, id, id)
		if err != nil {
			return fail(err)
		}
		c, _ := res.RowsAffected()
		n += c
	}
	for _, q := range []string{
		`DELETE FROM ` + sc + `."merged_ids" WHERE "entity_id" = ?`,
		`DELETE FROM ` + sc + `."entity_state" WHERE "entity_id" = ?`,
		`DELETE FROM ` + sc + `."pending_relations" WHERE "source_id" = ?`,
		`DELETE FROM ` + sc + `."failed_events" WHERE "entity_id" = ?`,
	} {
		if _, err := t.exec(ctx, q, id); err != nil {
			return fail(err)
		}
	}
	return n, nil
}

// PurgeHistory deletes every history row and outgoing relationship row of
// id, superseded ones included.
func (t *tx) PurgeHistory(ctx context.Context, version string, ent *definition.Entity, id string) error {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	fail := func(err error) error {
		return fmt.Errorf("sqlite: purge %s %s in %s: %w", entName(ent), id, version, err)
	}
	h, err := t.history(ctx, version, ent, true)
	if err != nil {
		return fail(err)
	}
	if _, err := t.exec(ctx, `DELETE FROM `+h.table+` WHERE `+h.id+` = ?`, id); err != nil {
		return fail(err)
	}
	sc, _ := t.writeTo(ctx, version)
	for _, r := range ent.Relationships {
		if _, err := t.exec(ctx, `DELETE FROM `+sc+`.`+quote("rel_"+r.Type+"_history_all")+` WHERE "source_id" = ?`, id); err != nil {
			return fail(err)
		}
	}
	return nil
}

// InsertErasure stores an erasure record.
func (t *tx) InsertErasure(ctx context.Context, e *store.Erasure) (int64, error) {
	ids, _ := json.Marshal(e.ErasedIDs)
	res, err := t.exec(ctx, `INSERT INTO erasures (requested_entity_id, entity_type, erased_ids, events_deleted,
		events_scrubbed, identity_keys_deleted, history_rows_deleted, entities_recomputed, erased_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.RequestedEntityID, e.EntityType, string(ids), e.EventsDeleted,
		e.EventsScrubbed, e.IdentityKeysDeleted, e.HistoryRowsDeleted, e.EntitiesRecomputed, e.ErasedAt)
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert erasure: %w", err)
	}
	return res.LastInsertId()
}

// UpdateErasure rewrites an erasure record's counts.
func (t *tx) UpdateErasure(ctx context.Context, e *store.Erasure) error {
	ids, _ := json.Marshal(e.ErasedIDs)
	if _, err := t.exec(ctx, `UPDATE erasures SET erased_ids = ?, events_deleted = ?, events_scrubbed = ?,
		identity_keys_deleted = ?, history_rows_deleted = ?, entities_recomputed = ? WHERE erasure_id = ?`,
		string(ids), e.EventsDeleted, e.EventsScrubbed, e.IdentityKeysDeleted, e.HistoryRowsDeleted,
		e.EntitiesRecomputed, e.ID); err != nil {
		return fmt.Errorf("sqlite: update erasure: %w", err)
	}
	return nil
}

// ErasureOf returns the latest erasure listing id, or nil.
func (t *tx) ErasureOf(ctx context.Context, id string) (*store.Erasure, error) {
	rows, err := t.query(ctx, `SELECT erasure_id, requested_entity_id, entity_type, erased_ids, erased_at
		FROM erasures WHERE EXISTS (SELECT 1 FROM json_each(erasures.erased_ids) j WHERE j.value = ?)
		ORDER BY erasure_id DESC LIMIT 1`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find erasure: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var e store.Erasure
	var ids string
	if err := rows.Scan(&e.ID, &e.RequestedEntityID, &e.EntityType, &ids, &e.ErasedAt); err != nil {
		return nil, fmt.Errorf("sqlite: find erasure: %w", err)
	}
	_ = json.Unmarshal([]byte(ids), &e.ErasedIDs)
	return &e, nil
}

// VersionNames lists every registered version.
func (t *tx) VersionNames(ctx context.Context) ([]string, error) {
	vs, err := t.Versions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out, nil
}
