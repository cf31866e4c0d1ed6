package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
)

// storeFormatVersion is the layout version of version stores this code
// writes, kept in the store's own store_meta table.
const storeFormatVersion = 1

// EnsureVersionStore creates the version store of name for set, or checks
// an existing one: every statement is CREATE … IF NOT EXISTS, so calling it
// again is a no-op. A version's definitions never change, so an existing
// store made for other definitions (a stale file left beside the main file)
// is refused rather than mixed.
func (t *tx) EnsureVersionStore(ctx context.Context, name string, set *definition.Set) error {
	fail := func(err error) error { return fmt.Errorf("sqlite: ensure version store %s: %w", name, err) }
	if t.readOnly {
		return fail(errors.New("read-only transaction"))
	}
	if set == nil {
		return fail(errors.New("nil definition set"))
	}
	t, err := t.on(ctx, name, true)
	if err != nil {
		return fail(err)
	}
	sc, err := t.schema(ctx, name, true)
	if err != nil {
		return fail(err)
	}
	if _, err := t.tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+sc+`.store_meta (
		"key" TEXT NOT NULL PRIMARY KEY, "value" TEXT NOT NULL) STRICT`); err != nil {
		return fail(err)
	}
	meta := map[string]string{}
	rows, err := t.tx.QueryContext(ctx, `SELECT "key", "value" FROM `+sc+`.store_meta`)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return fail(err)
		}
		meta[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if f, ok := meta["format_version"]; ok {
		if n, err := strconv.Atoi(f); err != nil || n > storeFormatVersion {
			return fail(fmt.Errorf("%w: %s has store format %s, newer than this build of defacto supports (%d)",
				store.ErrForeign, t.s.storePath(name), f, storeFormatVersion))
		}
	}
	if h, ok := meta["content_hash"]; ok && h != set.ContentHash {
		return fail(fmt.Errorf("%w: %s was made for definitions %q, not %q; remove the file to rebuild it",
			store.ErrForeign, t.s.storePath(name), h, set.ContentHash))
	}
	ddl, err := versionStoreDDL(sc, set)
	if err != nil {
		return fail(err)
	}
	for _, q := range ddl {
		if _, err := t.tx.ExecContext(ctx, q); err != nil {
			return fail(err)
		}
	}
	for k, v := range map[string]string{
		"format_version": strconv.Itoa(storeFormatVersion),
		"content_hash":   set.ContentHash,
	} {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO `+sc+`.store_meta ("key", "value") VALUES (?, ?)
			ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"`, k, v); err != nil {
			return fail(err)
		}
	}
	return nil
}

// sqlType is the STRICT column type of a property type (history.md §1).
func sqlType(ty definition.Type, col string) (string, error) {
	switch ty {
	case definition.TypeString:
		return "TEXT", nil
	case definition.TypeInteger, definition.TypeDateTime:
		return "INTEGER", nil
	case definition.TypeNumber:
		return "REAL", nil
	case definition.TypeBoolean:
		return "INTEGER CHECK (" + col + " IN (0, 1))", nil
	}
	return "", fmt.Errorf("unknown property type %q", ty)
}

// indexName applies the 63-byte rule of history.md §2: a longer name
// becomes its first 54 bytes, "_" and 8 hex characters of its SHA-256.
func indexName(name string) string {
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:54] + "_" + hex.EncodeToString(sum[:4])
}

// sqlString renders s as an SQL string literal. Only view definitions use
// it, for the entity type names the relationships view reports: a view
// cannot take bound parameters.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// historyColumns lists the columns of <e>_history_all in table order,
// superseded_at excluded, with their SQL types.
func historyColumns(e *definition.Entity) (names, types []string, err error) {
	names = []string{e.Name + "_id", e.Name + "_state"}
	types = []string{"TEXT NOT NULL", "TEXT NOT NULL"}
	for _, p := range e.Properties {
		ty, err := sqlType(p.Type, quote(p.Name))
		if err != nil {
			return nil, nil, fmt.Errorf("entity %s property %s: %w", e.Name, p.Name, err)
		}
		names, types = append(names, p.Name), append(types, ty)
	}
	names = append(names, "valid_from", "valid_to", "merged_into", "last_event_time", "state_entered_time",
		"created_time", "event_sequence", "recorded_at")
	types = append(types, "INTEGER NOT NULL", "INTEGER", "TEXT", "INTEGER", "INTEGER NOT NULL",
		"INTEGER NOT NULL", "INTEGER", "INTEGER NOT NULL")
	return names, types, nil
}

func quoteAll(names []string, prefix string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = prefix + quote(n)
	}
	return strings.Join(q, ", ")
}

// createTable creates a history table: names and types, then superseded_at.
func createTable(sc, table string, names, types []string) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + sc + "." + quote(table) + " (\n")
	for i, n := range names {
		b.WriteString("\t" + quote(n) + " " + types[i] + ",\n")
	}
	b.WriteString("\t\"superseded_at\" INTEGER\n) STRICT")
	return b.String()
}

func createIndex(sc, table, suffix string, unique bool, cols []string, where string) string {
	u := ""
	if unique {
		u = "UNIQUE "
	}
	q := "CREATE " + u + "INDEX IF NOT EXISTS " + sc + "." + quote(indexName(table+"_"+suffix)) +
		" ON " + quote(table) + " (" + quoteAll(cols, "") + ")"
	if where != "" {
		q += " WHERE " + where
	}
	return q
}

// relDecl is one declared relationship type with its declaring entity.
type relDecl struct {
	source string
	rel    *definition.Relationship
}

// versionStoreDDL returns the statements creating the store of set in
// schema sc, base tables before the views that read them.
func versionStoreDDL(sc string, set *definition.Set) ([]string, error) {
	var ddl []string
	ddl = append(ddl,
		`CREATE TABLE IF NOT EXISTS `+sc+`."merged_ids" (
	"entity_id" TEXT NOT NULL PRIMARY KEY,
	"entity_type" TEXT NOT NULL,
	"merged_into" TEXT NOT NULL,
	"canonical_id" TEXT NOT NULL,
	"merged_at" INTEGER NOT NULL
) STRICT`,
		createIndex(sc, "merged_ids", "canonical_id", false, []string{"canonical_id"}, ""),
		`CREATE TABLE IF NOT EXISTS `+sc+`."entity_state" (
	"entity_id" TEXT NOT NULL PRIMARY KEY,
	"entity_type" TEXT NOT NULL,
	"shard_hash" INTEGER NOT NULL,
	"status" TEXT NOT NULL,
	"data" TEXT NOT NULL,
	"next_deadline" INTEGER
) STRICT, WITHOUT ROWID`,
		// The spec's (shard_hash, next_deadline) serves sharded Postgres; a
		// SQLite namespace is never sharded and shard_hash is a per-entity
		// hash, so the deadline leads here and DueStates reads the index in
		// order instead of scanning and sorting every pending deadline.
		createIndex(sc, "entity_state", "next_deadline", false, []string{"next_deadline", "entity_id"}, `"next_deadline" IS NOT NULL`),
		`CREATE TABLE IF NOT EXISTS `+sc+`."pending_relations" (
	"source_id" TEXT NOT NULL,
	"relationship_type" TEXT NOT NULL,
	"event_sequence" INTEGER NOT NULL,
	"key_hash" TEXT NOT NULL,
	PRIMARY KEY ("source_id", "relationship_type", "event_sequence", "key_hash")
) STRICT, WITHOUT ROWID`,
		createIndex(sc, "pending_relations", "key_hash", false, []string{"key_hash"}, ""),
		// Internal: events whose interpretation failed for an entity and has
		// not succeeded since (BuildStatus.failed_events, D14).
		`CREATE TABLE IF NOT EXISTS `+sc+`."failed_events" (
	"entity_id" TEXT NOT NULL,
	"sequence" INTEGER NOT NULL,
	PRIMARY KEY ("entity_id", "sequence")
) STRICT, WITHOUT ROWID`,
	)

	var rels []relDecl
	for _, e := range set.Entities {
		names, types, err := historyColumns(e)
		if err != nil {
			return nil, err
		}
		tbl, id := e.Name+"_history_all", e.Name+"_id"
		ddl = append(ddl,
			createTable(sc, tbl, names, types),
			createIndex(sc, tbl, "current", true, []string{id, "valid_from"}, `"superseded_at" IS NULL`),
			// No index of open rows (history.md §2 lists one): OpenRows
			// finds an entity's open row as the last current-belief row
			// of the unique index above, and the open index cost a write
			// to one more randomly placed page for every history change
			// (a fifth of a tick's writes). Stores made before drop it.
			`DROP INDEX IF EXISTS `+sc+`.`+quote(indexName(tbl+"_open")),
			createIndex(sc, tbl, "valid_from", false, []string{"valid_from"}, ""),
			createIndex(sc, tbl, "merged_into", false, []string{"merged_into"}, `"merged_into" IS NOT NULL`),
			`CREATE VIEW IF NOT EXISTS `+sc+`.`+quote(e.Name+"_history")+` AS SELECT `+quoteAll(names, "")+
				` FROM `+quote(tbl)+` WHERE "superseded_at" IS NULL AND "merged_into" IS NULL`,
		)
		for _, r := range e.Relationships {
			rels = append(rels, relDecl{source: e.Name, rel: r})
		}
	}
	slices.SortFunc(rels, func(a, b relDecl) int { return strings.Compare(a.rel.Type, b.rel.Type) })

	var union []string
	for i, d := range rels {
		r := d.rel
		if i > 0 && rels[i-1].rel.Type == r.Type {
			return nil, fmt.Errorf("relationship type %s declared by both %s and %s", r.Type, rels[i-1].source, d.source)
		}
		names := []string{"source_id", "target_id", "relationship_type"}
		types := []string{"TEXT NOT NULL", "TEXT NOT NULL", "TEXT NOT NULL"}
		var props []string
		for _, p := range r.Properties {
			ty, err := sqlType(p.Type, quote(p.Name))
			if err != nil {
				return nil, fmt.Errorf("relationship %s property %s: %w", r.Type, p.Name, err)
			}
			names, types, props = append(names, p.Name), append(types, ty), append(props, p.Name)
		}
		names = append(names, "valid_from", "valid_to", "event_sequence", "recorded_at")
		types = append(types, "INTEGER NOT NULL", "INTEGER", "INTEGER", "INTEGER NOT NULL")
		tbl, view := "rel_"+r.Type+"_history_all", "rel_"+r.Type+"_history"
		propCols := ""
		if len(props) > 0 {
			propCols = quoteAll(props, "r.") + ", "
		}
		ddl = append(ddl,
			createTable(sc, tbl, names, types),
			createIndex(sc, tbl, "current", true, []string{"source_id", "target_id", "valid_from"}, `"superseded_at" IS NULL`),
			createIndex(sc, tbl, "source_open", false, []string{"source_id"}, `"superseded_at" IS NULL AND "valid_to" IS NULL`),
			createIndex(sc, tbl, "target_open", false, []string{"target_id"}, `"superseded_at" IS NULL AND "valid_to" IS NULL`),
			`CREATE VIEW IF NOT EXISTS `+sc+`.`+quote(view)+` AS SELECT r."source_id",
	coalesce(m."canonical_id", r."target_id") AS "target_id", r."target_id" AS "original_target_id",
	r."relationship_type", `+propCols+`r."valid_from", r."valid_to", r."event_sequence", r."recorded_at"
FROM `+quote(tbl)+` AS r LEFT JOIN "merged_ids" AS m ON m."entity_id" = r."target_id"
WHERE r."superseded_at" IS NULL
	AND NOT EXISTS (SELECT 1 FROM "merged_ids" AS s WHERE s."entity_id" = r."source_id")`,
		)
		union = append(union, `SELECT "source_id", `+sqlString(d.source)+` AS "source_type", "relationship_type",
	"target_id", `+sqlString(r.Target)+` AS "target_type", "original_target_id", "valid_from", "valid_to"
FROM `+quote(view))
	}
	if len(union) == 0 {
		union = []string{`SELECT CAST(NULL AS TEXT) AS "source_id", CAST(NULL AS TEXT) AS "source_type",
	CAST(NULL AS TEXT) AS "relationship_type", CAST(NULL AS TEXT) AS "target_id",
	CAST(NULL AS TEXT) AS "target_type", CAST(NULL AS TEXT) AS "original_target_id",
	CAST(NULL AS INTEGER) AS "valid_from", CAST(NULL AS INTEGER) AS "valid_to"
WHERE 0`}
	}
	ddl = append(ddl, `CREATE VIEW IF NOT EXISTS `+sc+`."relationships" AS `+strings.Join(union, "\nUNION ALL\n"))
	return ddl, nil
}
