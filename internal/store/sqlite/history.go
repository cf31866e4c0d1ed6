package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// --- working state ---

// States returns the entity_state rows among ids.
func (t *tx) States(ctx context.Context, version string, ids []string) (map[string]store.StateRecord, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	sc, err := t.schema(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read working state of %s: %w", version, err)
	}
	out := make(map[string]store.StateRecord, len(ids))
	err = inChunks(uniq(ids), inChunk, func(c []string) error {
		rows, err := t.query(ctx, `SELECT "entity_id", "entity_type", "shard_hash", "status", "data", "next_deadline"
			FROM `+sc+`."entity_state" WHERE "entity_id" IN (`+params(len(c))+`)`, anys(c)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				s        store.StateRecord
				shard    int64
				data     string
				deadline sql.NullInt64
			)
			if err := rows.Scan(&s.EntityID, &s.EntityType, &shard, &s.Status, &data, &deadline); err != nil {
				return err
			}
			s.ShardHash, s.Data, s.NextDeadline = uint32(shard), []byte(data), timeOf(deadline)
			out[s.EntityID] = s
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read working state of %s: %w", version, err)
	}
	return out, nil
}

// PutStates inserts or overwrites working state rows with multi-row upserts.
// The write is queued on the version-store side (side.go: later).
func (t *tx) PutStates(ctx context.Context, version string, states []store.StateRecord) error {
	if len(states) == 0 {
		return nil
	}
	return t.later(ctx, version, func(t *tx, ctx context.Context) error { return t.putStates(ctx, version, states) })
}

func (t *tx) putStates(ctx context.Context, version string, states []store.StateRecord) error {
	sc, err := t.writeTo(ctx, version)
	if err != nil {
		return fmt.Errorf("sqlite: write working state of %s: %w", version, err)
	}
	err = insertRows(ctx, t, `INSERT INTO `+sc+`."entity_state"
			("entity_id", "entity_type", "shard_hash", "status", "data", "next_deadline")`, `
			ON CONFLICT ("entity_id") DO UPDATE SET "entity_type" = excluded."entity_type",
				"shard_hash" = excluded."shard_hash", "status" = excluded."status",
				"data" = excluded."data", "next_deadline" = excluded."next_deadline"`,
		6, states, func(args []any, s store.StateRecord) ([]any, error) {
			data := string(s.Data)
			if s.Data == nil {
				data = "null"
			}
			return append(args, s.EntityID, s.EntityType, int64(s.ShardHash), s.Status, data, nullTime(s.NextDeadline)), nil
		})
	if err != nil {
		return fmt.Errorf("sqlite: write working state of %s: %w", version, err)
	}
	return nil
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
	table   string // schema-qualified <e>_history_all
	id      string // quoted <e>_id
	cols    string // every column but superseded_at, in table order
	ncols   int
	types   []definition.Type // property types, by property index
	selRows string            // SELECT cols FROM table WHERE superseded_at IS NULL AND
}

func (s *Store) histSQLFor(version string, ent *definition.Entity) (*histSQL, error) {
	k := histKey{version, ent}
	if h, ok := s.hist.Load(k); ok {
		return h.(*histSQL), nil
	}
	names, _, err := historyColumns(ent)
	if err != nil {
		return nil, err
	}
	h := &histSQL{
		table: quote(version) + "." + quote(ent.Name+"_history_all"),
		id:    quote(ent.Name + "_id"),
		cols:  quoteAll(names, ""),
		ncols: len(names),
	}
	for _, p := range ent.Properties {
		h.types = append(h.types, p.Type)
	}
	h.selRows = `SELECT ` + h.cols + ` FROM ` + h.table + ` WHERE "superseded_at" IS NULL AND `
	s.hist.Store(k, h)
	return h, nil
}

// history resolves the version store and SQL for ent.
func (t *tx) history(ctx context.Context, version string, ent *definition.Entity, write bool) (*histSQL, error) {
	if ent == nil {
		return nil, errors.New("nil entity")
	}
	var err error
	if write {
		_, err = t.writeTo(ctx, version)
	} else {
		_, err = t.schema(ctx, version, false)
	}
	if err != nil {
		return nil, err
	}
	return t.s.histSQLFor(version, ent)
}

// scanHistory reads rows of h's columns and hands each to f. When keep is
// set, rows whose entity id it rejects are skipped before their properties
// are decoded (range reads). The scan buffers are reused across rows.
func scanHistory(rows *sql.Rows, h *histSQL, keep func(id string) bool, f func(store.HistoryRow)) error {
	defer rows.Close()
	np := len(h.types)
	raw := make([]any, np)
	var (
		r                       store.HistoryRow
		validTo, lastEvent, seq sql.NullInt64
		mergedInto              sql.NullString
	)
	dest := make([]any, 0, h.ncols)
	dest = append(dest, &r.EntityID, &r.State)
	for i := range raw {
		dest = append(dest, &raw[i])
	}
	dest = append(dest, &r.ValidFrom, &validTo, &mergedInto, &lastEvent, &r.StateEnteredTime, &r.CreatedTime,
		&seq, &r.RecordedAt)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if keep != nil && !keep(r.EntityID) {
			continue
		}
		row := r
		row.Props = make([]value.Value, np)
		for i, x := range raw {
			v, err := fromSQL(x, h.types[i])
			if err != nil {
				return fmt.Errorf("row of %s at %d, property %d: %w", r.EntityID, r.ValidFrom, i, err)
			}
			row.Props[i] = v
		}
		row.ValidTo, row.MergedInto, row.LastEventTime, row.EventSeq = timeOf(validTo), mergedInto.String, timeOf(lastEvent), seq.Int64
		f(row)
	}
	return rows.Err()
}

// OpenRows returns the current-belief open row of each of ids that has one.
func (t *tx) OpenRows(ctx context.Context, version string, ent *definition.Entity, ids []string) (map[string]store.HistoryRow, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	h, err := t.history(ctx, version, ent, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read open rows of %s in %s: %w", entName(ent), version, err)
	}
	out := make(map[string]store.HistoryRow, len(ids))
	// An entity's open row is its current-belief row with the latest
	// valid_from, if that row is not closed: one seek of the unique
	// (id, valid_from) index per id (no index of open rows is kept; see
	// versionStoreDDL).
	err = inChunks(uniq(ids), inChunk, func(c []string) error {
		rows, err := t.query(ctx, h.selRows+`"valid_to" IS NULL AND rowid IN (SELECT (SELECT x.rowid FROM `+h.table+` AS x
			WHERE x.`+h.id+` = v.column1 AND x."superseded_at" IS NULL ORDER BY x."valid_from" DESC LIMIT 1)
			FROM (VALUES `+rowParams(len(c), 1)+`) AS v)`, anys(c)...)
		if err != nil {
			return err
		}
		return scanHistory(rows, h, nil, func(r store.HistoryRow) { out[r.EntityID] = r })
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read open rows of %s in %s: %w", entName(ent), version, err)
	}
	return out, nil
}

// CurrentRows returns every current-belief row of id by valid_from.
func (t *tx) CurrentRows(ctx context.Context, version string, ent *definition.Entity, id string) ([]store.HistoryRow, error) {
	t, err := t.on(ctx, version, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: version store %s: %w", version, err)
	}
	h, err := t.history(ctx, version, ent, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read rows of %s %s in %s: %w", entName(ent), id, version, err)
	}
	rows, err := t.query(ctx, h.selRows+h.id+` = ? ORDER BY "valid_from"`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read rows of %s %s in %s: %w", entName(ent), id, version, err)
	}
	var out []store.HistoryRow
	if err := scanHistory(rows, h, nil, func(r store.HistoryRow) { out = append(out, r) }); err != nil {
		return nil, fmt.Errorf("sqlite: read rows of %s %s in %s: %w", entName(ent), id, version, err)
	}
	return out, nil
}

// WriteHistory executes one entity's plan; see WriteHistories.
func (t *tx) WriteHistory(ctx context.Context, version string, ent *definition.Entity, w *store.HistoryWrite) error {
	return t.WriteHistories(ctx, version, ent, []*store.HistoryWrite{w})
}

// WriteHistories executes several entities' plans (history.md §4) in the
// order supersede, close, insert, so the unique index on (id, valid_from)
// over current belief never sees two rows at once. Closes and inserts of
// all entities go out as multi-row statements. Each supersede and close must
// hit exactly one current-belief row; anything else means a plan was made
// from other rows than the stored ones, and the transaction must not commit.
//
// The writes are queued on the version-store side (side.go: later): a
// failed check fails the transaction at its next wait for the side.
func (t *tx) WriteHistories(ctx context.Context, version string, ent *definition.Entity, ws []*store.HistoryWrite) error {
	if len(ws) == 0 {
		return nil
	}
	return t.later(ctx, version, func(t *tx, ctx context.Context) error { return t.writeHistories(ctx, version, ent, ws) })
}

func (t *tx) writeHistories(ctx context.Context, version string, ent *definition.Entity, ws []*store.HistoryWrite) error {
	fail := func(id string, err error) error {
		return fmt.Errorf("sqlite: write history of %s %s in %s: %w", entName(ent), id, version, err)
	}
	h, err := t.history(ctx, version, ent, true)
	if err != nil {
		return fail(ws[0].EntityID, err)
	}
	for _, w := range ws {
		for _, vf := range w.Supersede {
			res, err := t.exec(ctx, `UPDATE `+h.table+` SET "superseded_at" = ?
				WHERE `+h.id+` = ? AND "valid_from" = ? AND "superseded_at" IS NULL`, w.Now, w.EntityID, vf)
			if err := exactlyOne(res, err, "supersede", vf); err != nil {
				return fail(w.EntityID, err)
			}
		}
	}
	type closeRow struct {
		id     string
		vf, to int64
	}
	var closes []closeRow
	for _, w := range ws {
		vfs := make([]int64, 0, len(w.Close))
		for vf := range w.Close {
			vfs = append(vfs, vf)
		}
		slices.Sort(vfs)
		for _, vf := range vfs {
			closes = append(closes, closeRow{w.EntityID, vf, w.Close[vf]})
		}
	}
	err = pow2Chunks(closes, maxParams/3, func(c []closeRow) error {
		args := make([]any, 0, len(c)*3)
		for _, r := range c {
			args = append(args, r.id, r.vf, nullTime(r.to))
		}
		res, err := t.exec(ctx, `UPDATE `+h.table+` AS h SET "valid_to" = v.column3 FROM (VALUES `+rowParams(len(c), 3)+`) AS v
			WHERE h.`+h.id+` = v.column1 AND h."valid_from" = v.column2 AND h."superseded_at" IS NULL`, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n != int64(len(c)) {
			return fmt.Errorf("close: %d of %d rows have no current-belief row at their valid_from", int64(len(c))-n, len(c))
		}
		return nil
	})
	if err != nil {
		return fail(ws[0].EntityID, err)
	}
	var rows []store.HistoryRow
	for _, w := range ws {
		for _, r := range w.Insert {
			if r.EntityID == "" {
				r.EntityID = w.EntityID
			}
			r.RecordedAt = w.Now // transaction time is the write's
			rows = append(rows, r)
		}
	}
	err = insertRows(ctx, t, `INSERT INTO `+h.table+` (`+h.cols+`)`, "", h.ncols, rows, func(args []any, r store.HistoryRow) ([]any, error) {
		if len(r.Props) != len(h.types) {
			return nil, fmt.Errorf("row of %s at valid_from %d has %d property values, want %d", r.EntityID, r.ValidFrom, len(r.Props), len(h.types))
		}
		args = append(args, r.EntityID, r.State)
		for j, v := range r.Props {
			x, err := toSQL(v, h.types[j])
			if err != nil {
				return nil, fmt.Errorf("row of %s at valid_from %d, property %s: %w", r.EntityID, r.ValidFrom, ent.Properties[j].Name, err)
			}
			args = append(args, x)
		}
		return append(args, r.ValidFrom, nullTime(r.ValidTo), nullText(r.MergedInto), nullTime(r.LastEventTime),
			r.StateEnteredTime, r.CreatedTime, nullInt(r.EventSeq), r.RecordedAt), nil
	})
	if err != nil {
		return fail(ws[0].EntityID, err)
	}
	return nil
}

// exactlyOne checks that a write touched one row.
func exactlyOne(res sql.Result, err error, what string, vf int64) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%s: no current-belief row at valid_from %d", what, vf)
	}
	return nil
}

// InsertMergedID records that m.EntityID closed into m.MergedInto and
// repoints every entity whose canonical id was m.EntityID (history.md §4).
// Replaying it is a no-op.
func (t *tx) InsertMergedID(ctx context.Context, version string, m store.MergedID) error {
	return t.later(ctx, version, func(t *tx, ctx context.Context) error { return t.insertMergedID(ctx, version, m) })
}

func (t *tx) insertMergedID(ctx context.Context, version string, m store.MergedID) error {
	fail := func(err error) error {
		return fmt.Errorf("sqlite: record merged id %s in %s: %w", m.EntityID, version, err)
	}
	sc, err := t.writeTo(ctx, version)
	if err != nil {
		return fail(err)
	}
	canonical := m.CanonicalID
	if canonical == "" {
		canonical = m.MergedInto
	}
	if _, err := t.exec(ctx, `INSERT INTO `+sc+`."merged_ids"
		("entity_id", "entity_type", "merged_into", "canonical_id", "merged_at") VALUES (?, ?, ?, ?, ?)
		ON CONFLICT ("entity_id") DO UPDATE SET "entity_type" = excluded."entity_type",
			"merged_into" = excluded."merged_into", "canonical_id" = excluded."canonical_id",
			"merged_at" = excluded."merged_at"`,
		m.EntityID, m.EntityType, m.MergedInto, canonical, m.MergedAt); err != nil {
		return fail(err)
	}
	if _, err := t.exec(ctx, `UPDATE `+sc+`."merged_ids" SET "canonical_id" = ? WHERE "canonical_id" = ?`,
		canonical, m.EntityID); err != nil {
		return fail(err)
	}
	return nil
}

func entName(e *definition.Entity) string {
	if e == nil {
		return "<nil entity>"
	}
	return e.Name
}

// toSQL converts a property value to its column representation
// (history.md §1): integer → int64, number → float64, boolean → 0/1,
// datetime → µs, string → text. An integral Float is accepted for an integer
// property and an Int for a number; anything else is an error, never a
// silent change of type.
func toSQL(v value.Value, ty definition.Type) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	k := v.Kind()
	switch ty {
	case definition.TypeString:
		if k == value.KindString {
			return v.AsString(), nil
		}
	case definition.TypeInteger:
		switch k {
		case value.KindInt:
			return v.AsInt(), nil
		case value.KindFloat:
			f := v.AsFloat()
			if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
				return int64(f), nil
			}
		}
	case definition.TypeNumber:
		switch k {
		case value.KindFloat:
			return v.AsFloat(), nil
		case value.KindInt:
			return float64(v.AsInt()), nil
		}
	case definition.TypeBoolean:
		if k == value.KindBool {
			return boolInt(v.AsBool()), nil
		}
	case definition.TypeDateTime:
		if k == value.KindDateTime {
			return v.Micros(), nil
		}
	default:
		return nil, fmt.Errorf("unknown property type %q", ty)
	}
	return nil, fmt.Errorf("cannot store a %s value in a %s property", k, ty)
}

// fromSQL converts a scanned column back to the value kind of ty, so an
// integer is an Int and a datetime a DateTime after a restart.
func fromSQL(x any, ty definition.Type) (value.Value, error) {
	if x == nil {
		return value.Null, nil
	}
	switch ty {
	case definition.TypeString:
		switch s := x.(type) {
		case string:
			return value.String(s), nil
		case []byte:
			return value.String(string(s)), nil
		}
	case definition.TypeInteger:
		if i, ok := x.(int64); ok {
			return value.Int(i), nil
		}
	case definition.TypeNumber:
		switch f := x.(type) {
		case float64:
			return value.Float(f), nil
		case int64:
			return value.Float(float64(f)), nil
		}
	case definition.TypeBoolean:
		if i, ok := x.(int64); ok {
			return value.Bool(i != 0), nil
		}
	case definition.TypeDateTime:
		if i, ok := x.(int64); ok {
			return value.DateTime(i), nil
		}
	default:
		return value.Null, fmt.Errorf("unknown property type %q", ty)
	}
	return value.Null, fmt.Errorf("stored %T does not fit a %s property", x, ty)
}
