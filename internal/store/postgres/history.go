package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// --- working state ---

const stateCols = `"entity_id", "entity_type", "shard_hash", "status", "data", "next_deadline"`

func scanStates(rows pgx.Rows, f func(store.StateRecord)) error {
	defer rows.Close()
	for rows.Next() {
		var (
			s        store.StateRecord
			shard    int64
			deadline pgtype.Timestamptz
		)
		if err := rows.Scan(&s.EntityID, &s.EntityType, &shard, &s.Status, &s.Data, &deadline); err != nil {
			return err
		}
		s.ShardHash, s.NextDeadline = uint32(shard), usOf(deadline)
		f(s)
	}
	return rows.Err()
}

// States returns the entity_state rows among ids.
func (t *tx) States(ctx context.Context, version string, ids []string) (map[string]store.StateRecord, error) {
	out := make(map[string]store.StateRecord, len(ids))
	sc, err := t.vschema(version)
	if err == nil && len(ids) > 0 {
		var rows pgx.Rows
		rows, err = t.query(ctx, `SELECT `+stateCols+` FROM `+sc+`."entity_state" WHERE "entity_id" = ANY($1::text[])`, uniq(ids))
		if err == nil {
			err = scanStates(rows, func(s store.StateRecord) { out[s.EntityID] = s })
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read working state of %s: %w", version, err)
	}
	return out, nil
}

// PutStates inserts or overwrites working state rows with one upsert; of
// several records for one entity the last wins.
func (t *tx) PutStates(ctx context.Context, version string, states []store.StateRecord) error {
	if len(states) == 0 {
		return nil
	}
	fail := func(err error) error { return fmt.Errorf("postgres: write working state of %s: %w", version, err) }
	sc, err := t.vschema(version)
	if err != nil {
		return fail(err)
	}
	last := make(map[string]int, len(states))
	for i, s := range states {
		last[s.EntityID] = i
	}
	n := len(last)
	ids, types, statuses, data := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	shards, deadlines := make([]int64, 0, n), make([]*time.Time, 0, n)
	for i, s := range states {
		if last[s.EntityID] != i {
			continue
		}
		ids, types, statuses = append(ids, s.EntityID), append(types, s.EntityType), append(statuses, s.Status)
		data, shards, deadlines = append(data, jsonData(s.Data)), append(shards, int64(s.ShardHash)), append(deadlines, nullTS(s.NextDeadline))
	}
	if err := t.later("write working state", `INSERT INTO `+sc+`."entity_state" (`+stateCols+`)
		SELECT i, ty, sh, st, d::json, nd
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[]) AS u(i, ty, sh, st, d, nd)
		ON CONFLICT ("entity_id") DO UPDATE SET "entity_type" = excluded."entity_type",
			"shard_hash" = excluded."shard_hash", "status" = excluded."status",
			"data" = excluded."data", "next_deadline" = excluded."next_deadline"`,
		ids, types, shards, statuses, data, deadlines); err != nil {
		return fail(err)
	}
	return nil
}

// DueStates returns up to limit working states of active entities whose
// next_deadline <= asOf and whose (next_deadline, entity_id) follows after,
// by (next_deadline, entity_id), reading the deadline index in order. Ids
// compare in "C" (byte) order, which the index's collation need not be, so
// after bounds the deadline range and filters the ids of its instant. A
// sharded Store returns only its own shard's entities: ticking is owned
// work (scale.md §3).
func (t *tx) DueStates(ctx context.Context, version string, asOf int64, after store.DueKey, limit int) ([]store.StateRecord, error) {
	fail := func(err error) error { return fmt.Errorf("postgres: read due states of %s: %w", version, err) }
	sc, err := t.vschema(version)
	if err != nil {
		return nil, fail(err)
	}
	cond, args := "", []any{ts(asOf), limit}
	if after.Deadline != store.NoTime {
		cond = ` AND "next_deadline" >= $3 AND ("next_deadline" > $3 OR "entity_id" COLLATE "C" > $4)`
		args = append(args, ts(after.Deadline), after.EntityID)
	}
	rows, err := t.query(ctx, `SELECT `+stateCols+` FROM `+sc+`."entity_state"
		WHERE "next_deadline" IS NOT NULL AND "next_deadline" <= $1 AND "status" = 'active'`+cond+t.shardCond(`"shard_hash"`)+`
		ORDER BY "next_deadline", "entity_id" COLLATE "C" LIMIT $2`, args...)
	if err != nil {
		return nil, fail(err)
	}
	var out []store.StateRecord
	if err := scanStates(rows, func(s store.StateRecord) { out = append(out, s) }); err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// --- typed columns ---

// column accumulates one column of a batched insert as a typed array, so
// NULLs and types survive binding.
type column struct {
	ty definition.Type
	s  []*string
	i  []*int64
	f  []*float64
	b  []*bool
	t  []*time.Time
}

// arrayType is the SQL array type a column binds as.
func arrayType(ty definition.Type) string {
	t, _ := sqlType(ty)
	return t + "[]"
}

// add appends v converted to the column type (history.md §1): an integral
// Float is accepted for an integer property and an Int for a number;
// anything else is an error, never a silent change of type.
func (c *column) add(v value.Value) error {
	null := v.IsNull()
	k := v.Kind()
	bad := func() error { return fmt.Errorf("cannot store a %s value in a %s property", k, c.ty) }
	switch c.ty {
	case definition.TypeString:
		if null {
			c.s = append(c.s, nil)
			return nil
		}
		if k != value.KindString {
			return bad()
		}
		s := v.AsString()
		c.s = append(c.s, &s)
	case definition.TypeInteger:
		if null {
			c.i = append(c.i, nil)
			return nil
		}
		var i int64
		switch k {
		case value.KindInt:
			i = v.AsInt()
		case value.KindFloat:
			f := v.AsFloat()
			if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
				return bad()
			}
			i = int64(f)
		default:
			return bad()
		}
		c.i = append(c.i, &i)
	case definition.TypeNumber:
		if null {
			c.f = append(c.f, nil)
			return nil
		}
		var f float64
		switch k {
		case value.KindFloat:
			f = v.AsFloat()
		case value.KindInt:
			f = float64(v.AsInt())
		default:
			return bad()
		}
		c.f = append(c.f, &f)
	case definition.TypeBoolean:
		if null {
			c.b = append(c.b, nil)
			return nil
		}
		if k != value.KindBool {
			return bad()
		}
		b := v.AsBool()
		c.b = append(c.b, &b)
	case definition.TypeDateTime:
		if null {
			c.t = append(c.t, nil)
			return nil
		}
		if k != value.KindDateTime {
			return bad()
		}
		tm := ts(v.Micros())
		c.t = append(c.t, &tm)
	default:
		return fmt.Errorf("unknown property type %q", c.ty)
	}
	return nil
}

// arg returns the accumulated array as a bind argument.
func (c *column) arg() any {
	switch c.ty {
	case definition.TypeString:
		return c.s
	case definition.TypeInteger:
		return c.i
	case definition.TypeNumber:
		return c.f
	case definition.TypeBoolean:
		return c.b
	default:
		return c.t
	}
}

// fromSQL converts a scanned column back to the value kind of ty, so an
// integer is an Int and a datetime a DateTime after a restart.
func fromSQL(x any, ty definition.Type) (value.Value, error) {
	if x == nil {
		return value.Null, nil
	}
	switch ty {
	case definition.TypeString:
		if s, ok := x.(string); ok {
			return value.String(s), nil
		}
	case definition.TypeInteger:
		if i, ok := x.(int64); ok {
			return value.Int(i), nil
		}
	case definition.TypeNumber:
		if f, ok := x.(float64); ok {
			return value.Float(f), nil
		}
	case definition.TypeBoolean:
		if b, ok := x.(bool); ok {
			return value.Bool(b), nil
		}
	case definition.TypeDateTime:
		if tm, ok := x.(time.Time); ok {
			return value.DateTime(tm.UnixMicro()), nil
		}
	default:
		return value.Null, fmt.Errorf("unknown property type %q", ty)
	}
	return value.Null, fmt.Errorf("stored %T does not fit a %s property", x, ty)
}

// --- history ---

// histKey identifies the SQL of one entity type in one version store. A
// version's definitions never change, so the entity pointer and the version
// name fix the statements.
type histKey struct {
	version string
	ent     *definition.Entity
}

// histSQL is the per entity type SQL of a version store.
type histSQL struct {
	table   string   // schema-qualified <e>_history_all
	id      string   // quoted <e>_id
	cols    string   // every column but superseded_at, in table order
	names   []string // the same columns unquoted, for COPY
	types   []definition.Type
	selRows string // SELECT cols FROM table WHERE superseded_at IS NULL AND
	insert  string // INSERT … SELECT * FROM unnest($1 … $n), one array per column
}

func (s *Store) histSQLFor(version string, ent *definition.Entity) (*histSQL, error) {
	k := histKey{version, ent}
	if h, ok := s.hist.Load(k); ok {
		return h.(*histSQL), nil
	}
	if !versionRule.MatchString(version) {
		return nil, fmt.Errorf("invalid version name %q (want %s)", version, versionRule)
	}
	names, _, err := historyColumns(ent)
	if err != nil {
		return nil, err
	}
	h := &histSQL{
		table: s.versionSchema(version) + "." + quote(ent.Name+"_history_all"),
		id:    quote(ent.Name + "_id"),
		cols:  quoteAll(names, ""),
		names: names,
	}
	arrays := []string{"text[]", "text[]"}
	for _, p := range ent.Properties {
		h.types = append(h.types, p.Type)
		arrays = append(arrays, arrayType(p.Type))
	}
	arrays = append(arrays, "timestamptz[]", "timestamptz[]", "text[]", "timestamptz[]", "timestamptz[]",
		"timestamptz[]", "bigint[]", "timestamptz[]")
	h.selRows = `SELECT ` + h.cols + ` FROM ` + h.table + ` WHERE "superseded_at" IS NULL AND `
	h.insert = `INSERT INTO ` + h.table + ` (` + h.cols + `) SELECT * FROM unnest(` + binds(arrays) + `)`
	s.hist.Store(k, h)
	return h, nil
}

// binds returns "$1::t1, $2::t2, …" for types.
func binds(types []string) string {
	var b strings.Builder
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s", i+1, t)
	}
	return b.String()
}

// history resolves the SQL for ent in version.
func (t *tx) history(version string, ent *definition.Entity) (*histSQL, error) {
	if ent == nil {
		return nil, errors.New("nil entity")
	}
	return t.s.histSQLFor(version, ent)
}

// scanHistory reads rows of h's columns.
func scanHistory(rows pgx.Rows, h *histSQL, f func(store.HistoryRow)) error {
	defer rows.Close()
	np := len(h.types)
	raw := make([]any, np)
	for rows.Next() {
		var (
			r                                store.HistoryRow
			from, entered, created, recorded time.Time
			validTo, lastEvent               pgtype.Timestamptz
			mergedInto                       pgtype.Text
			seq                              pgtype.Int8
		)
		dest := make([]any, 0, np+10)
		dest = append(dest, &r.EntityID, &r.State)
		for i := range raw {
			dest = append(dest, &raw[i])
		}
		dest = append(dest, &from, &validTo, &mergedInto, &lastEvent, &entered, &created, &seq, &recorded)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		r.Props = make([]value.Value, np)
		for i, x := range raw {
			v, err := fromSQL(x, h.types[i])
			if err != nil {
				return fmt.Errorf("row of %s at %d, property %d: %w", r.EntityID, from.UnixMicro(), i, err)
			}
			r.Props[i] = v
		}
		r.ValidFrom, r.ValidTo, r.MergedInto, r.LastEventTime = from.UnixMicro(), usOf(validTo), mergedInto.String, usOf(lastEvent)
		r.StateEnteredTime, r.CreatedTime, r.EventSeq, r.RecordedAt = entered.UnixMicro(), created.UnixMicro(), seq.Int64, recorded.UnixMicro()
		f(r)
	}
	return rows.Err()
}

// OpenRows returns the current-belief open row of each of ids that has one.
func (t *tx) OpenRows(ctx context.Context, version string, ent *definition.Entity, ids []string) (map[string]store.HistoryRow, error) {
	out := make(map[string]store.HistoryRow, len(ids))
	h, err := t.history(version, ent)
	if err == nil && len(ids) > 0 {
		var rows pgx.Rows
		// An entity's open row is its last current-belief row by
		// valid_from, if not closed: one backward probe of the unique
		// (id, valid_from) index per id.
		rows, err = t.query(ctx, `SELECT o.* FROM unnest($1::text[]) AS k(id) CROSS JOIN LATERAL (SELECT `+h.cols+`
			FROM `+h.table+` WHERE `+h.id+` = k.id AND "superseded_at" IS NULL ORDER BY "valid_from" DESC LIMIT 1) AS o
			WHERE o."valid_to" IS NULL`, uniq(ids))
		if err == nil {
			err = scanHistory(rows, h, func(r store.HistoryRow) { out[r.EntityID] = r })
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read open rows of %s in %s: %w", entName(ent), version, err)
	}
	return out, nil
}

// CurrentRows returns every current-belief row of id by valid_from.
func (t *tx) CurrentRows(ctx context.Context, version string, ent *definition.Entity, id string) ([]store.HistoryRow, error) {
	var out []store.HistoryRow
	h, err := t.history(version, ent)
	if err == nil {
		var rows pgx.Rows
		rows, err = t.query(ctx, h.selRows+h.id+` = $1 ORDER BY "valid_from"`, id)
		if err == nil {
			err = scanHistory(rows, h, func(r store.HistoryRow) { out = append(out, r) })
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read rows of %s %s in %s: %w", entName(ent), id, version, err)
	}
	return out, nil
}

// WriteHistory executes one entity's plan; see WriteHistories.
func (t *tx) WriteHistory(ctx context.Context, version string, ent *definition.Entity, w *store.HistoryWrite) error {
	return t.WriteHistories(ctx, version, ent, []*store.HistoryWrite{w})
}

// histKeyRow identifies one current-belief row by entity and valid_from.
type histKeyRow struct {
	id string
	vf int64
}

// WriteHistories executes several entities' plans (history.md §4) in the
// order supersede, close, insert, so the unique index on (id, valid_from)
// over current belief never sees two rows at once. Each step is one
// statement over arrays for every entity, and the three travel in one
// round trip. Each supersede and close must hit exactly one current-belief
// row; anything else means a plan was made from other rows than the stored
// ones, and the transaction must not commit.
func (t *tx) WriteHistories(ctx context.Context, version string, ent *definition.Entity, ws []*store.HistoryWrite) error {
	if len(ws) == 0 {
		return nil
	}
	fail := func(id string, err error) error {
		return fmt.Errorf("postgres: write history of %s %s in %s: %w", entName(ent), id, version, err)
	}
	if err := t.writable(); err != nil {
		return fail(ws[0].EntityID, err)
	}
	h, err := t.history(version, ent)
	if err != nil {
		return fail(ws[0].EntityID, err)
	}
	var (
		sups, closes    []histKeyRow
		supNow, closeTo []*time.Time
		seen            = map[histKeyRow]bool{}
		inserts         int
	)
	for _, w := range ws {
		now := ts(w.Now)
		for _, vf := range w.Supersede {
			k := histKeyRow{w.EntityID, vf}
			if !seen[k] {
				seen[k] = true
				sups, supNow = append(sups, k), append(supNow, &now)
			}
		}
		vfs := make([]int64, 0, len(w.Close))
		for vf := range w.Close {
			vfs = append(vfs, vf)
		}
		slices.Sort(vfs)
		for _, vf := range vfs {
			closes, closeTo = append(closes, histKeyRow{w.EntityID, vf}), append(closeTo, nullTS(w.Close[vf]))
		}
		inserts += len(w.Insert)
	}
	// Each supersede and close is checked against the rows it returns when
	// the batch is sent, which is with the transaction's next statement
	// that needs an answer (pipeline.go).
	check := func(what string, want []histKeyRow) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			hit := map[histKeyRow]int{}
			var (
				id string
				vf time.Time
			)
			_, err := pgx.ForEachRow(rows, []any{&id, &vf}, func() error {
				hit[histKeyRow{id, vf.UnixMicro()}]++
				return nil
			})
			if err != nil {
				return fail(ws[0].EntityID, err)
			}
			for _, k := range want {
				if hit[k] != 1 {
					return fail(k.id, fmt.Errorf("%s: no current-belief row at valid_from %d", what, k.vf))
				}
			}
			return nil
		}
	}
	b := &pgx.Batch{}
	if len(sups) > 0 {
		ids, from := keyArrays(sups)
		b.Queue(`UPDATE `+h.table+` AS h SET "superseded_at" = k.now
			FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS k(id, vf, now)
			WHERE h.`+h.id+` = k.id AND h."valid_from" = k.vf AND h."superseded_at" IS NULL
			RETURNING h.`+h.id+`, h."valid_from"`, ids, from, supNow).Query(check("supersede", sups))
	}
	if len(closes) > 0 {
		ids, from := keyArrays(closes)
		b.Queue(`UPDATE `+h.table+` AS h SET "valid_to" = k.vt
			FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS k(id, vf, vt)
			WHERE h.`+h.id+` = k.id AND h."valid_from" = k.vf AND h."superseded_at" IS NULL
			RETURNING h.`+h.id+`, h."valid_from"`, ids, from, closeTo).Query(check("close", closes))
	}
	if inserts == 0 {
		t.tx.laterBatch("", b)
		return nil
	}
	args, err := historyArgs(h, ent, ws, inserts)
	if err != nil {
		return fail(ws[0].EntityID, err)
	}
	if inserts < copyRows {
		b.Queue(h.insert, args...)
		t.tx.laterBatch("", b)
		return nil
	}
	// The supersedes and closes are sent before the COPY: an inserted row
	// may take the place of a superseded one in the unique index of
	// current belief.
	t.tx.laterBatch("", b)
	if err := t.copyIn(ctx, "insert history rows", t.s.ns+"_"+version, ent.Name+"_history_all", h.names, inserts,
		func(i int) ([]any, error) { return rowOf(args, i) }, h.insert, args...); err != nil {
		return fail(ws[0].EntityID, err)
	}
	return nil
}

// rowOf returns row i of the column arrays of historyArgs, for COPY.
func rowOf(cols []any, i int) ([]any, error) {
	row := make([]any, len(cols))
	for j, c := range cols {
		switch a := c.(type) {
		case []string:
			row[j] = a[i]
		case []*string:
			row[j] = a[i]
		case []*int64:
			row[j] = a[i]
		case []*float64:
			row[j] = a[i]
		case []*bool:
			row[j] = a[i]
		case []time.Time:
			row[j] = a[i]
		case []*time.Time:
			row[j] = a[i]
		default:
			return nil, fmt.Errorf("history column %d: unexpected array %T", j, c)
		}
	}
	return row, nil
}

func keyArrays(ks []histKeyRow) ([]string, []time.Time) {
	ids, from := make([]string, len(ks)), make([]time.Time, len(ks))
	for i, k := range ks {
		ids[i], from[i] = k.id, ts(k.vf)
	}
	return ids, from
}

// historyArgs builds the column arrays of every write's Insert rows for
// h.insert; recorded_at is each write's Now.
func historyArgs(h *histSQL, ent *definition.Entity, ws []*store.HistoryWrite, n int) ([]any, error) {
	ids, states, merged := make([]string, 0, n), make([]string, 0, n), make([]*string, 0, n)
	from, to, lastEvent := make([]time.Time, 0, n), make([]*time.Time, 0, n), make([]*time.Time, 0, n)
	entered, created, seqs := make([]time.Time, 0, n), make([]time.Time, 0, n), make([]*int64, 0, n)
	recorded := make([]time.Time, 0, n)
	props := make([]column, len(h.types))
	for i, ty := range h.types {
		props[i].ty = ty
	}
	for _, w := range ws {
		for _, r := range w.Insert {
			id := r.EntityID
			if id == "" {
				id = w.EntityID
			}
			if len(r.Props) != len(h.types) {
				return nil, fmt.Errorf("row of %s at valid_from %d has %d property values, want %d", id, r.ValidFrom, len(r.Props), len(h.types))
			}
			for i, v := range r.Props {
				if err := props[i].add(v); err != nil {
					return nil, fmt.Errorf("row of %s at valid_from %d, property %s: %w", id, r.ValidFrom, ent.Properties[i].Name, err)
				}
			}
			ids, states, merged = append(ids, id), append(states, r.State), append(merged, nullText(r.MergedInto))
			from, to, lastEvent = append(from, ts(r.ValidFrom)), append(to, nullTS(r.ValidTo)), append(lastEvent, nullTS(r.LastEventTime))
			entered, created, seqs = append(entered, ts(r.StateEnteredTime)), append(created, ts(r.CreatedTime)), append(seqs, nullInt(r.EventSeq))
			recorded = append(recorded, ts(w.Now))
		}
	}
	args := []any{ids, states}
	for i := range props {
		args = append(args, props[i].arg())
	}
	return append(args, from, to, merged, lastEvent, entered, created, seqs, recorded), nil
}

// InsertMergedID records that m.EntityID closed into m.MergedInto and
// repoints every entity whose canonical id was m.EntityID (history.md §4).
// Replaying it is a no-op.
func (t *tx) InsertMergedID(ctx context.Context, version string, m store.MergedID) error {
	fail := func(err error) error {
		return fmt.Errorf("postgres: record merged id %s in %s: %w", m.EntityID, version, err)
	}
	if err := t.writable(); err != nil {
		return fail(err)
	}
	sc, err := t.vschema(version)
	if err != nil {
		return fail(err)
	}
	canonical := m.CanonicalID
	if canonical == "" {
		canonical = m.MergedInto
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO `+sc+`."merged_ids" ("entity_id", "entity_type", "merged_into", "canonical_id", "merged_at")
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT ("entity_id") DO UPDATE SET "entity_type" = excluded."entity_type",
			"merged_into" = excluded."merged_into", "canonical_id" = excluded."canonical_id",
			"merged_at" = excluded."merged_at"`,
		m.EntityID, m.EntityType, m.MergedInto, canonical, ts(m.MergedAt))
	b.Queue(`UPDATE `+sc+`."merged_ids" SET "canonical_id" = $1 WHERE "canonical_id" = $2`, canonical, m.EntityID)
	t.tx.laterBatch(fmt.Sprintf("record merged id %s in %s", m.EntityID, version), b)
	return nil
}

func entName(e *definition.Entity) string {
	if e == nil {
		return "<nil entity>"
	}
	return e.Name
}
