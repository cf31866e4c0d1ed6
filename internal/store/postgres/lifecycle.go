package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

var _ store.LifecycleTx = (*tx)(nil)

// --- relationships ---

type relKey struct {
	version string
	rel     *definition.Relationship
}

// relSQL is the SQL of one relationship table in one version store.
type relSQL struct {
	table  string
	cols   string
	types  []definition.Type
	insert string // INSERT … SELECT FROM unnest, recorded_at bound last
}

func (t *tx) rel(version string, r *definition.Relationship) (*relSQL, error) {
	if r == nil {
		return nil, errors.New("nil relationship")
	}
	k := relKey{version, r}
	if h, ok := t.s.rels.Load(k); ok {
		return h.(*relSQL), nil
	}
	sc, err := t.vschema(version)
	if err != nil {
		return nil, err
	}
	names, _, err := relColumns(r)
	if err != nil {
		return nil, err
	}
	h := &relSQL{table: sc + "." + quote("rel_"+r.Type+"_history_all"), cols: quoteAll(names, "")}
	arrays := []string{"text[]", "text[]"}
	for _, p := range r.Properties {
		h.types = append(h.types, p.Type)
		arrays = append(arrays, arrayType(p.Type))
	}
	arrays = append(arrays, "timestamptz[]", "timestamptz[]", "bigint[]")
	np := len(h.types)
	// relationship_type is constant; it is bound after the arrays.
	sel := []string{"u.c1", "u.c2", fmt.Sprintf("$%d::text", len(arrays)+1)}
	for i := range np {
		sel = append(sel, fmt.Sprintf("u.c%d", i+3))
	}
	sel = append(sel, fmt.Sprintf("u.c%d", np+3), fmt.Sprintf("u.c%d", np+4), fmt.Sprintf("u.c%d", np+5),
		fmt.Sprintf("$%d::timestamptz", len(arrays)+2))
	alias := make([]string, len(arrays))
	for i := range alias {
		alias[i] = fmt.Sprintf("c%d", i+1)
	}
	h.insert = `INSERT INTO ` + h.table + ` (` + h.cols + `) SELECT ` + strings.Join(sel, ", ") +
		` FROM unnest(` + binds(arrays) + `) AS u(` + strings.Join(alias, ", ") + `)`
	t.s.rels.Store(k, h)
	return h, nil
}

func scanRels(rows pgx.Rows, h *relSQL, f func(store.RelRow)) error {
	defer rows.Close()
	raw := make([]any, len(h.types))
	for rows.Next() {
		var (
			r              store.RelRow
			typ            string
			from, recorded time.Time
			validTo        pgtype.Timestamptz
			seq            pgtype.Int8
		)
		dest := []any{&r.SourceID, &r.TargetID, &typ}
		for i := range raw {
			dest = append(dest, &raw[i])
		}
		dest = append(dest, &from, &validTo, &seq, &recorded)
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
		r.ValidFrom, r.ValidTo, r.EventSeq, r.RecordedAt = from.UnixMicro(), usOf(validTo), seq.Int64, recorded.UnixMicro()
		f(r)
	}
	return rows.Err()
}

// OpenRelRows returns the open current-belief rows of r by source, each
// source's rows by (target, valid_from).
func (t *tx) OpenRelRows(ctx context.Context, version string, r *definition.Relationship, ids []string) (map[string][]store.RelRow, error) {
	out := map[string][]store.RelRow{}
	h, err := t.rel(version, r)
	if err == nil && len(ids) > 0 {
		var rows pgx.Rows
		rows, err = t.query(ctx, `SELECT `+h.cols+` FROM `+h.table+` WHERE "superseded_at" IS NULL AND "valid_to" IS NULL
			AND "source_id" = ANY($1::text[]) ORDER BY "source_id" COLLATE "C", "target_id" COLLATE "C", "valid_from"`, uniq(ids))
		if err == nil {
			err = scanRels(rows, h, func(x store.RelRow) { out[x.SourceID] = append(out[x.SourceID], x) })
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read relationships %s: %w", relName(r), err)
	}
	return out, nil
}

// CurrentRelRows returns every current-belief row of r whose source is id,
// by (target, valid_from).
func (t *tx) CurrentRelRows(ctx context.Context, version string, r *definition.Relationship, id string) ([]store.RelRow, error) {
	var out []store.RelRow
	h, err := t.rel(version, r)
	if err == nil {
		var rows pgx.Rows
		rows, err = t.query(ctx, `SELECT `+h.cols+` FROM `+h.table+` WHERE "superseded_at" IS NULL AND "source_id" = $1
			ORDER BY "target_id" COLLATE "C", "valid_from"`, id)
		if err == nil {
			err = scanRels(rows, h, func(x store.RelRow) { out = append(out, x) })
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read relationships %s of %s: %w", relName(r), id, err)
	}
	return out, nil
}

// WriteRelationships executes one source's plan: supersede, close, insert,
// in one round trip. Keys that match no current-belief row are ignored.
func (t *tx) WriteRelationships(ctx context.Context, version string, r *definition.Relationship, w *store.RelWrite) error {
	fail := func(err error) error {
		return fmt.Errorf("postgres: write relationships %s of %s: %w", relName(r), w.SourceID, err)
	}
	if err := t.writable(); err != nil {
		return fail(err)
	}
	h, err := t.rel(version, r)
	if err != nil {
		return fail(err)
	}
	b := &pgx.Batch{}
	if len(w.Supersede) > 0 {
		targets, from := make([]string, len(w.Supersede)), make([]time.Time, len(w.Supersede))
		for i, k := range w.Supersede {
			targets[i], from[i] = k.TargetID, ts(k.ValidFrom)
		}
		b.Queue(`UPDATE `+h.table+` AS r SET "superseded_at" = $2
			FROM unnest($3::text[], $4::timestamptz[]) AS k(target, vf)
			WHERE r."source_id" = $1 AND r."target_id" = k.target AND r."valid_from" = k.vf AND r."superseded_at" IS NULL`,
			w.SourceID, ts(w.Now), targets, from)
	}
	if len(w.Close) > 0 {
		keys := make([]store.RelKey, 0, len(w.Close))
		for k := range w.Close {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b store.RelKey) int {
			if c := strings.Compare(a.TargetID, b.TargetID); c != 0 {
				return c
			}
			return cmp.Compare(a.ValidFrom, b.ValidFrom)
		})
		targets, from, to := make([]string, len(keys)), make([]time.Time, len(keys)), make([]*time.Time, len(keys))
		for i, k := range keys {
			targets[i], from[i], to[i] = k.TargetID, ts(k.ValidFrom), nullTS(w.Close[k])
		}
		b.Queue(`UPDATE `+h.table+` AS r SET "valid_to" = k.vt
			FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS k(target, vf, vt)
			WHERE r."source_id" = $1 AND r."target_id" = k.target AND r."valid_from" = k.vf AND r."superseded_at" IS NULL`,
			w.SourceID, targets, from, to)
	}
	if len(w.Insert) > 0 {
		n := len(w.Insert)
		srcs, targets := make([]string, n), make([]string, n)
		from, to, seqs := make([]time.Time, n), make([]*time.Time, n), make([]*int64, n)
		props := make([]column, len(h.types))
		for i, ty := range h.types {
			props[i].ty = ty
		}
		for j, x := range w.Insert {
			if len(x.Props) != len(h.types) {
				return fail(fmt.Errorf("row to %s has %d property values, want %d", x.TargetID, len(x.Props), len(h.types)))
			}
			srcs[j] = x.SourceID
			if srcs[j] == "" {
				srcs[j] = w.SourceID
			}
			targets[j] = x.TargetID
			for i, v := range x.Props {
				if err := props[i].add(v); err != nil {
					return fail(fmt.Errorf("row to %s, property %s: %w", x.TargetID, r.Properties[i].Name, err))
				}
			}
			from[j], to[j], seqs[j] = ts(x.ValidFrom), nullTS(x.ValidTo), nullInt(x.EventSeq)
		}
		args := []any{srcs, targets}
		for i := range props {
			args = append(args, props[i].arg())
		}
		args = append(args, from, to, seqs, r.Type, ts(w.Now))
		b.Queue(h.insert, args...)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fail(err)
	}
	return nil
}

func relName(r *definition.Relationship) string {
	if r == nil {
		return "<nil relationship>"
	}
	return r.Type
}

// --- pending relations ---

// AddPending stores pending relations, one row per key hash.
func (t *tx) AddPending(ctx context.Context, version string, ps []store.PendingRelation) error {
	fail := func(err error) error { return fmt.Errorf("postgres: add pending relations: %w", err) }
	sc, err := t.vschema(version)
	if err != nil {
		return fail(err)
	}
	var srcs, types, hashes []string
	var seqs []int64
	for _, p := range ps {
		for _, h := range p.KeyHashes {
			srcs, types, seqs, hashes = append(srcs, p.SourceID), append(types, p.Type), append(seqs, p.EventSeq), append(hashes, h)
		}
	}
	if len(srcs) == 0 {
		return nil
	}
	if _, err := t.exec(ctx, `INSERT INTO `+sc+`."pending_relations" ("source_id", "relationship_type", "event_sequence", "key_hash")
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) ON CONFLICT DO NOTHING`,
		srcs, types, seqs, hashes); err != nil {
		return fail(err)
	}
	return nil
}

// ClearPending deletes every pending relation of sourceID.
func (t *tx) ClearPending(ctx context.Context, version, sourceID string) error {
	sc, err := t.vschema(version)
	if err == nil {
		err = t.later("clear pending relations", `DELETE FROM `+sc+`."pending_relations" WHERE "source_id" = $1`, sourceID)
	}
	if err != nil {
		return fmt.Errorf("postgres: clear pending relations of %s: %w", sourceID, err)
	}
	return nil
}

// PendingSources returns the distinct sources waiting for one of hashes,
// ascending.
func (t *tx) PendingSources(ctx context.Context, version string, hashes []string) ([]string, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	sc, err := t.vschema(version)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending sources: %w", err)
	}
	set, err := t.stringSet(ctx, `SELECT DISTINCT "source_id" FROM `+sc+`."pending_relations" WHERE "key_hash" = ANY($1::text[])`, hashes)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending sources: %w", err)
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// --- interpretation failures ---

// SetFailures records an entity's failed sequences.
func (t *tx) SetFailures(ctx context.Context, version, entityID string, seqs []int64, replace bool) error {
	fail := func(err error) error { return fmt.Errorf("postgres: record failures: %w", err) }
	if err := t.writable(); err != nil {
		return fail(err)
	}
	sc, err := t.vschema(version)
	if err != nil {
		return fail(err)
	}
	b := &pgx.Batch{}
	if replace {
		b.Queue(`DELETE FROM `+sc+`."failed_events" WHERE "entity_id" = $1`, entityID)
	}
	if len(seqs) > 0 {
		b.Queue(`INSERT INTO `+sc+`."failed_events" ("entity_id", "sequence")
			SELECT $1, s FROM unnest($2::bigint[]) AS u(s) ON CONFLICT DO NOTHING`, entityID, uniq(seqs))
	}
	t.tx.laterBatch("record failures of "+entityID, b)
	return nil
}

// CountFailedEvents counts distinct failed live sequences.
func (t *tx) CountFailedEvents(ctx context.Context, version string) (int64, error) {
	sc, err := t.vschema(version)
	if err != nil {
		return 0, fmt.Errorf("postgres: count failed events: %w", err)
	}
	var n int64
	if err := t.queryRow(ctx, `SELECT count(DISTINCT f."sequence") FROM `+sc+`."failed_events" f
		JOIN `+t.n.ledger+` l ON l."sequence" = f."sequence" WHERE `+liveL).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count failed events: %w", err)
	}
	return n, nil
}

// --- builds ---

// tablesLike lists the tables of version store schema (unquoted) whose
// names match pattern and not notPattern (LIKE; "" matches nothing).
func (t *tx) tablesLike(ctx context.Context, version, pattern, notPattern string) ([]string, error) {
	rows, err := t.query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1
		AND tablename LIKE $2 AND tablename NOT LIKE $3 ORDER BY tablename COLLATE "C"`, t.s.ns+"_"+version, pattern, notPattern)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// StoredEntities returns the ids present in the version store's working
// state or current-belief history, with their entity type.
// Entity types never begin with "rel_" (definitions.md §2), so relationship
// tables are told apart by name.
func (t *tx) StoredEntities(ctx context.Context, version string) (map[string]string, error) {
	fail := func(err error) error { return fmt.Errorf("postgres: list stored entities of %s: %w", version, err) }
	sc, err := t.vschema(version)
	if err != nil {
		return nil, fail(err)
	}
	tables, err := t.tablesLike(ctx, version, `%\_history\_all`, `rel\_%`)
	if err != nil {
		return nil, fail(err)
	}
	parts := []string{`SELECT "entity_id", "entity_type" FROM ` + sc + `."entity_state"`}
	for _, tbl := range tables {
		e := strings.TrimSuffix(tbl, "_history_all")
		parts = append(parts, `SELECT DISTINCT `+quote(e+"_id")+`, `+sqlString(e)+`::text FROM `+sc+`.`+quote(tbl)+
			` WHERE "superseded_at" IS NULL`)
	}
	rows, err := t.query(ctx, strings.Join(parts, " UNION "))
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var id, ty string
		if err := rows.Scan(&id, &ty); err != nil {
			return nil, fail(err)
		}
		out[id] = ty
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// RetireEntity supersedes every current-belief row of id at now, its
// outgoing relationship rows included (history.md §4: Retire is Replace
// with nothing), and deletes its working state and merged_ids row. It
// returns the number of rows superseded, entity and relationship rows
// together.
func (t *tx) RetireEntity(ctx context.Context, version string, ent *definition.Entity, id string, now int64) (int, error) {
	fail := func(err error) (int, error) {
		return 0, fmt.Errorf("postgres: retire %s %s in %s: %w", entName(ent), id, version, err)
	}
	if err := t.writable(); err != nil {
		return fail(err)
	}
	h, err := t.history(version, ent)
	if err != nil {
		return fail(err)
	}
	sc := t.s.versionSchema(version)
	b := &pgx.Batch{}
	b.Queue(`UPDATE `+h.table+` SET "superseded_at" = $1 WHERE `+h.id+` = $2 AND "superseded_at" IS NULL`, ts(now), id)
	for _, r := range ent.Relationships {
		b.Queue(`UPDATE `+sc+`.`+quote("rel_"+r.Type+"_history_all")+` SET "superseded_at" = $1
			WHERE "source_id" = $2 AND "superseded_at" IS NULL`, ts(now), id)
	}
	counted := b.Len()
	b.Queue(`DELETE FROM `+sc+`."entity_state" WHERE "entity_id" = $1`, id)
	b.Queue(`DELETE FROM `+sc+`."merged_ids" WHERE "entity_id" = $1`, id)
	br := t.tx.SendBatch(ctx, b)
	defer br.Close()
	total := 0
	for i := range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			return fail(err)
		}
		if i < counted {
			total += int(tag.RowsAffected())
		}
	}
	if err := br.Close(); err != nil {
		return fail(err)
	}
	return total, nil
}

// --- erasure and redaction ---

// DeleteEntity deletes everything a version store holds about id.
func (t *tx) DeleteEntity(ctx context.Context, version string, ent *definition.Entity, id string) (int64, error) {
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("postgres: delete %s %s in %s: %w", entName(ent), id, version, err)
	}
	if err := t.writable(); err != nil {
		return fail(err)
	}
	h, err := t.history(version, ent)
	if err != nil {
		return fail(err)
	}
	sc := t.s.versionSchema(version)
	rels, err := t.tablesLike(ctx, version, `rel\_%\_history\_all`, "")
	if err != nil {
		return fail(err)
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM `+h.table+` WHERE `+h.id+` = $1`, id)
	for _, tbl := range rels {
		b.Queue(`DELETE FROM `+sc+`.`+quote(tbl)+` WHERE "source_id" = $1 OR "target_id" = $1`, id)
	}
	counted := b.Len()
	for _, tbl := range []string{`"merged_ids"`, `"entity_state"`, `"failed_events"`} {
		b.Queue(`DELETE FROM `+sc+`.`+tbl+` WHERE "entity_id" = $1`, id)
	}
	b.Queue(`DELETE FROM `+sc+`."pending_relations" WHERE "source_id" = $1`, id)
	br := t.tx.SendBatch(ctx, b)
	defer br.Close()
	var n int64
	for i := range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			return fail(err)
		}
		if i < counted {
			n += tag.RowsAffected()
		}
	}
	if err := br.Close(); err != nil {
		return fail(err)
	}
	return n, nil
}

// PurgeHistory deletes every history row and outgoing relationship row of
// id, superseded ones included.
func (t *tx) PurgeHistory(ctx context.Context, version string, ent *definition.Entity, id string) error {
	fail := func(err error) error {
		return fmt.Errorf("postgres: purge %s %s in %s: %w", entName(ent), id, version, err)
	}
	if err := t.writable(); err != nil {
		return fail(err)
	}
	h, err := t.history(version, ent)
	if err != nil {
		return fail(err)
	}
	sc := t.s.versionSchema(version)
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM `+h.table+` WHERE `+h.id+` = $1`, id)
	for _, r := range ent.Relationships {
		b.Queue(`DELETE FROM `+sc+`.`+quote("rel_"+r.Type+"_history_all")+` WHERE "source_id" = $1`, id)
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fail(err)
	}
	return nil
}

// erasedIDs renders the erased ids as a JSON array (never null).
func erasedIDs(ids []string) string {
	if ids == nil {
		ids = []string{}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// InsertErasure stores an erasure record and returns its id.
func (t *tx) InsertErasure(ctx context.Context, e *store.Erasure) (int64, error) {
	if err := t.writable(); err != nil {
		return 0, fmt.Errorf("postgres: insert erasure: %w", err)
	}
	var id int64
	if err := t.queryRow(ctx, `INSERT INTO `+t.n.erasures+` (requested_entity_id, entity_type, erased_ids, events_deleted,
			events_scrubbed, identity_keys_deleted, history_rows_deleted, entities_recomputed, erased_at)
		VALUES ($1, $2, $3::text::jsonb, $4, $5, $6, $7, $8, $9) RETURNING erasure_id`,
		e.RequestedEntityID, e.EntityType, erasedIDs(e.ErasedIDs), e.EventsDeleted, e.EventsScrubbed,
		e.IdentityKeysDeleted, e.HistoryRowsDeleted, e.EntitiesRecomputed, ts(e.ErasedAt)).Scan(&id); err != nil {
		return 0, fmt.Errorf("postgres: insert erasure: %w", err)
	}
	return id, nil
}

// UpdateErasure rewrites an erasure record's counts.
func (t *tx) UpdateErasure(ctx context.Context, e *store.Erasure) error {
	if _, err := t.exec(ctx, `UPDATE `+t.n.erasures+` SET erased_ids = $1::text::jsonb, events_deleted = $2,
			events_scrubbed = $3, identity_keys_deleted = $4, history_rows_deleted = $5, entities_recomputed = $6
		WHERE erasure_id = $7`,
		erasedIDs(e.ErasedIDs), e.EventsDeleted, e.EventsScrubbed, e.IdentityKeysDeleted, e.HistoryRowsDeleted,
		e.EntitiesRecomputed, e.ID); err != nil {
		return fmt.Errorf("postgres: update erasure: %w", err)
	}
	return nil
}

// ErasureOf returns the latest erasure listing id, or nil. Like the SQLite
// backend it fills the id, the request, the type, the erased ids and the
// time; counts stay zero.
func (t *tx) ErasureOf(ctx context.Context, id string) (*store.Erasure, error) {
	var (
		e   store.Erasure
		ids []byte
		at  time.Time
	)
	err := t.queryRow(ctx, `SELECT erasure_id, requested_entity_id, entity_type, erased_ids, erased_at
		FROM `+t.n.erasures+` WHERE erased_ids @> jsonb_build_array($1::text)
		ORDER BY erasure_id DESC LIMIT 1`, id).Scan(&e.ID, &e.RequestedEntityID, &e.EntityType, &ids, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: find erasure: %w", err)
	}
	if err := json.Unmarshal(ids, &e.ErasedIDs); err != nil {
		return nil, fmt.Errorf("postgres: find erasure: erased_ids: %w", err)
	}
	e.ErasedAt = at.UnixMicro()
	return &e, nil
}

// VersionNames lists every registered version, by creation time, then
// name.
func (t *tx) VersionNames(ctx context.Context) ([]string, error) {
	rows, err := t.query(ctx, `SELECT version FROM `+t.n.versions+` ORDER BY created_at, version COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list versions: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: list versions: %w", err)
	}
	return out, nil
}
