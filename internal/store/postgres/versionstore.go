package postgres

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
// writes, kept in the store's own store_meta table. 2: no index of open
// history rows (a store of format 1 loses it when next ensured).
const storeFormatVersion = 2

// EnsureVersionStore creates the version store of name for set, or checks
// an existing one. A store already complete for set (its store_meta names
// this format and set's content hash, written last) is left alone, so
// opening does not take DDL locks that would block queries. A version's
// definitions never change, so a store made for other definitions (a schema
// left behind by an earlier namespace of the same name) is refused rather
// than mixed.
//
// No advisory lock is taken here: the transaction already holds the writer
// locks every creator of a version store holds (see the package comment),
// and taking ddl after them would invert scale.md §2's lock order.
func (t *tx) EnsureVersionStore(ctx context.Context, name string, set *definition.Set) error {
	fail := func(err error) error { return fmt.Errorf("postgres: ensure version store %s: %w", name, err) }
	if err := t.writable(); err != nil {
		return fail(err)
	}
	if set == nil {
		return fail(errors.New("nil definition set"))
	}
	sc, err := t.vschema(name)
	if err != nil {
		return fail(err)
	}
	var exists bool
	if err := t.queryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, sc+`."store_meta"`).Scan(&exists); err != nil {
		return fail(err)
	}
	if exists {
		meta := map[string]string{}
		rows, err := t.query(ctx, `SELECT "key", "value" FROM `+sc+`."store_meta"`)
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
		f, hasFormat := meta["format_version"]
		if hasFormat {
			if n, err := strconv.Atoi(f); err != nil || n > storeFormatVersion {
				return fail(fmt.Errorf("%w: schema %s has store format %s, newer than this build of defacto supports (%d)",
					store.ErrForeign, sc, f, storeFormatVersion))
			}
		}
		h, hasHash := meta["content_hash"]
		if hasHash && h != set.ContentHash {
			return fail(fmt.Errorf("%w: schema %s was made for definitions %q, not %q; drop it to rebuild it",
				store.ErrForeign, sc, h, set.ContentHash))
		}
		if hasHash && f == strconv.Itoa(storeFormatVersion) {
			return nil
		}
	}
	ddl, err := versionStoreDDL(sc, set)
	if err != nil {
		return fail(err)
	}
	ddl = append([]string{
		`CREATE SCHEMA IF NOT EXISTS ` + sc,
		`CREATE TABLE IF NOT EXISTS ` + sc + `."store_meta" ("key" text PRIMARY KEY, "value" text NOT NULL)`,
	}, ddl...)
	// No arguments: pgx sends the script with the simple protocol, in one
	// round trip, inside this transaction.
	if _, err := t.exec(ctx, strings.Join(ddl, ";\n")); err != nil {
		return fail(err)
	}
	if _, err := t.exec(ctx, `INSERT INTO `+sc+`."store_meta" ("key", "value")
		VALUES ('format_version', $1), ('content_hash', $2)
		ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"`, strconv.Itoa(storeFormatVersion), set.ContentHash); err != nil {
		return fail(err)
	}
	t.newStore = true // its tables need statistics too (stats.go)
	t.s.log.Info("created version store", "version", name, "schema", sc)
	return nil
}

// sqlType is the column type of a property type (history.md §1).
func sqlType(ty definition.Type) (string, error) {
	switch ty {
	case definition.TypeString:
		return "text", nil
	case definition.TypeInteger:
		return "bigint", nil
	case definition.TypeNumber:
		return "double precision", nil
	case definition.TypeBoolean:
		return "boolean", nil
	case definition.TypeDateTime:
		return "timestamptz", nil
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
// it, for the entity type names the relationships view reports.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// historyColumns lists the columns of <e>_history_all in table order,
// superseded_at excluded, with their SQL types.
func historyColumns(e *definition.Entity) (names, types []string, err error) {
	names = []string{e.Name + "_id", e.Name + "_state"}
	types = []string{"text NOT NULL", "text NOT NULL"}
	for _, p := range e.Properties {
		ty, err := sqlType(p.Type)
		if err != nil {
			return nil, nil, fmt.Errorf("entity %s property %s: %w", e.Name, p.Name, err)
		}
		names, types = append(names, p.Name), append(types, ty)
	}
	names = append(names, "valid_from", "valid_to", "merged_into", "last_event_time", "state_entered_time",
		"created_time", "event_sequence", "recorded_at")
	types = append(types, "timestamptz NOT NULL", "timestamptz", "text", "timestamptz", "timestamptz NOT NULL",
		"timestamptz NOT NULL", "bigint", "timestamptz NOT NULL")
	return names, types, nil
}

// relColumns lists the columns of rel_<t>_history_all in table order,
// superseded_at excluded.
func relColumns(r *definition.Relationship) (names, types []string, err error) {
	names = []string{"source_id", "target_id", "relationship_type"}
	types = []string{"text NOT NULL", "text NOT NULL", "text NOT NULL"}
	for _, p := range r.Properties {
		ty, err := sqlType(p.Type)
		if err != nil {
			return nil, nil, fmt.Errorf("relationship %s property %s: %w", r.Type, p.Name, err)
		}
		names, types = append(names, p.Name), append(types, ty)
	}
	names = append(names, "valid_from", "valid_to", "event_sequence", "recorded_at")
	types = append(types, "timestamptz NOT NULL", "timestamptz", "bigint", "timestamptz NOT NULL")
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
	b.WriteString("\t\"superseded_at\" timestamptz\n)")
	return b.String()
}

func createIndex(sc, table, suffix string, unique bool, cols []string, where string) string {
	u := ""
	if unique {
		u = "UNIQUE "
	}
	q := "CREATE " + u + "INDEX IF NOT EXISTS " + quote(indexName(table+"_"+suffix)) +
		" ON " + sc + "." + quote(table) + " (" + quoteAll(cols, "") + ")"
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
// schema sc, base tables before the views that read them. Views name every
// relation schema-qualified, so they do not depend on search_path.
func versionStoreDDL(sc string, set *definition.Set) ([]string, error) {
	ddl := []string{
		`CREATE TABLE IF NOT EXISTS ` + sc + `."merged_ids" (
	"entity_id" text PRIMARY KEY,
	"entity_type" text NOT NULL,
	"merged_into" text NOT NULL,
	"canonical_id" text NOT NULL,
	"merged_at" timestamptz NOT NULL
)`,
		createIndex(sc, "merged_ids", "canonical_id", false, []string{"canonical_id"}, ""),
		`CREATE TABLE IF NOT EXISTS ` + sc + `."entity_state" (
	"entity_id" text PRIMARY KEY,
	"entity_type" text NOT NULL,
	"shard_hash" bigint NOT NULL,
	"status" text NOT NULL,
	"data" json NOT NULL,
	"next_deadline" timestamptz
)`,
		// The deadline leads, so DueStates reads the index in (deadline, id)
		// order; a sharded Store filters its shard on the way, which keeps
		// 1/total_shards of the entries.
		createIndex(sc, "entity_state", "next_deadline", false, []string{"next_deadline", "entity_id"}, `"next_deadline" IS NOT NULL`),
		`CREATE TABLE IF NOT EXISTS ` + sc + `."pending_relations" (
	"source_id" text NOT NULL,
	"relationship_type" text NOT NULL,
	"event_sequence" bigint NOT NULL,
	"key_hash" text NOT NULL,
	PRIMARY KEY ("source_id", "relationship_type", "event_sequence", "key_hash")
)`,
		createIndex(sc, "pending_relations", "key_hash", false, []string{"key_hash"}, ""),
		// Internal: events whose interpretation failed for an entity and has
		// not succeeded since (BuildStatus.failed_events, D14).
		`CREATE TABLE IF NOT EXISTS ` + sc + `."failed_events" (
	"entity_id" text NOT NULL,
	"sequence" bigint NOT NULL,
	PRIMARY KEY ("entity_id", "sequence")
)`,
	}

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
			// No index of open rows (as on SQLite; docs/design.md):
			// OpenRows reads an entity's last current-belief row from the
			// unique index above. Stores of format 1 drop theirs.
			`DROP INDEX IF EXISTS `+sc+`.`+quote(indexName(tbl+"_open")),
			createIndex(sc, tbl, "valid_from", false, []string{"valid_from"}, ""),
			createIndex(sc, tbl, "merged_into", false, []string{"merged_into"}, `"merged_into" IS NOT NULL`),
			`CREATE OR REPLACE VIEW `+sc+`.`+quote(e.Name+"_history")+` AS SELECT `+quoteAll(names, "")+
				` FROM `+sc+`.`+quote(tbl)+` WHERE "superseded_at" IS NULL AND "merged_into" IS NULL`,
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
		names, types, err := relColumns(r)
		if err != nil {
			return nil, err
		}
		var props []string
		for _, p := range r.Properties {
			props = append(props, p.Name)
		}
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
			`CREATE OR REPLACE VIEW `+sc+`.`+quote(view)+` AS SELECT r."source_id",
	coalesce(m."canonical_id", r."target_id") AS "target_id", r."target_id" AS "original_target_id",
	r."relationship_type", `+propCols+`r."valid_from", r."valid_to", r."event_sequence", r."recorded_at"
FROM `+sc+`.`+quote(tbl)+` AS r LEFT JOIN `+sc+`."merged_ids" AS m ON m."entity_id" = r."target_id"
WHERE r."superseded_at" IS NULL
	AND NOT EXISTS (SELECT 1 FROM `+sc+`."merged_ids" AS s WHERE s."entity_id" = r."source_id")`,
		)
		union = append(union, `SELECT "source_id", `+sqlString(d.source)+`::text AS "source_type", "relationship_type",
	"target_id", `+sqlString(r.Target)+`::text AS "target_type", "original_target_id", "valid_from", "valid_to"
FROM `+sc+`.`+quote(view))
	}
	if len(union) == 0 {
		union = []string{`SELECT NULL::text AS "source_id", NULL::text AS "source_type",
	NULL::text AS "relationship_type", NULL::text AS "target_id",
	NULL::text AS "target_type", NULL::text AS "original_target_id",
	NULL::timestamptz AS "valid_from", NULL::timestamptz AS "valid_to"
WHERE false`}
	}
	ddl = append(ddl, `CREATE OR REPLACE VIEW `+sc+`."relationships" AS `+strings.Join(union, "\nUNION ALL\n"))
	return ddl, nil
}
