package defacto

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// Column types of query results.
const (
	ColString   = "string"
	ColInteger  = "integer"
	ColNumber   = "number"
	ColBoolean  = "boolean"
	ColDateTime = "datetime"
)

// Column is one result column.
type Column struct {
	Name string
	Type string // ColString, ColInteger, ColNumber, ColBoolean, ColDateTime
}

type queryKind int

const (
	kindTable queryKind = iota
	kindHistory
	kindRelationships
)

type whereClause struct {
	col, op string
	val     any
}

type orderClause struct {
	col  string
	desc bool
}

// Query is a lazy, read-only query builder. Nothing runs before Execute or
// Count; mistakes (unknown columns, bad operators) surface there as
// ErrQuery errors listing what is valid.
type Query struct {
	e          *Engine
	kind       queryKind
	name       string
	wheres     []whereClause
	sel        []string
	order      []orderClause
	limit      int
	offset     int
	asOf       any
	resolve    bool
	relHistory bool
}

// Table queries the current state of entity type: one open row per live
// entity.
func (e *Engine) Table(entity string) *Query { return &Query{e: e, kind: kindTable, name: entity} }

// History queries the full SCD2 history (current belief) of entity type.
func (e *Engine) History(entity string) *Query {
	return &Query{e: e, kind: kindHistory, name: entity}
}

// Relationships queries the open rows of relationship type relType.
func (e *Engine) Relationships(relType string) *Query {
	return &Query{e: e, kind: kindRelationships, name: relType}
}

func (q *Query) clone() *Query {
	c := *q
	c.wheres = append([]whereClause(nil), q.wheres...)
	c.sel = append([]string(nil), q.sel...)
	c.order = append([]orderClause(nil), q.order...)
	return &c
}

// Where filters rows: op is one of =, !=, <, <=, >, >=, in, not in, is null,
// is not null, like. Values are bound parameters converted to the column's
// type; text is parsed as that type ("10" for a number, "true" for a
// boolean, an RFC 3339 instant or a date for a datetime), as a command line
// or a URL gives every value as text.
func (q *Query) Where(column, op string, v any) *Query {
	c := q.clone()
	c.wheres = append(c.wheres, whereClause{column, strings.ToLower(strings.TrimSpace(op)), v})
	return c
}

// Select restricts the result to columns, in that order.
func (q *Query) Select(columns ...string) *Query {
	c := q.clone()
	c.sel = append([]string(nil), columns...)
	return c
}

// OrderBy adds a sort key (default: id, then valid_from).
func (q *Query) OrderBy(column string, desc bool) *Query {
	c := q.clone()
	c.order = append(c.order, orderClause{column, desc})
	return c
}

// Limit caps the number of rows.
func (q *Query) Limit(n int) *Query { c := q.clone(); c.limit = n; return c }

// Offset skips rows.
func (q *Query) Offset(n int) *Query { c := q.clone(); c.offset = n; return c }

// AsOf restricts rows to those valid at t: valid_from <= t < valid_to.
// t is a time.Time, RFC 3339 text (no offset means UTC) or a date (its
// start, UTC). On Table it means the same as on History.
func (q *Query) AsOf(t any) *Query { c := q.clone(); c.asOf = t; return c }

// ResolveMerges adds canonical_id and brings back entities merged into
// live ones, with their rows labelled merged_into.
func (q *Query) ResolveMerges() *Query { c := q.clone(); c.resolve = true; return c }

// History makes a Relationships query return every current-belief row,
// closed ones included.
func (q *Query) History() *Query { c := q.clone(); c.relHistory = true; return c }

// compiled is a query ready to run.
type compiled struct {
	version string // the version store the SQL reads
	sql     string
	args    []any
	cols    []Column
}

// SQL returns the statement and bound arguments Execute would run.
func (q *Query) SQL() (string, []any, error) {
	c, err := q.compile()
	if err != nil {
		return "", nil, err
	}
	return c.sql, c.args, nil
}

// entityColumns lists the columns of an entity's history view.
func entityColumns(ent *definition.Entity) []Column {
	cols := []Column{{ent.Name + "_id", ColString}, {ent.Name + "_state", ColString}}
	for _, p := range ent.Properties {
		cols = append(cols, Column{p.Name, string(p.Type)})
	}
	return append(cols,
		Column{"valid_from", ColDateTime}, Column{"valid_to", ColDateTime}, Column{"merged_into", ColString},
		Column{"last_event_time", ColDateTime}, Column{"state_entered_time", ColDateTime},
		Column{"created_time", ColDateTime}, Column{"event_sequence", ColInteger}, Column{"recorded_at", ColDateTime},
	)
}

func relColumns(r *definition.Relationship) []Column {
	cols := []Column{{"source_id", ColString}, {"target_id", ColString}, {"original_target_id", ColString}, {"relationship_type", ColString}}
	for _, p := range r.Properties {
		cols = append(cols, Column{p.Name, string(p.Type)})
	}
	return append(cols, Column{"valid_from", ColDateTime}, Column{"valid_to", ColDateTime},
		Column{"event_sequence", ColInteger}, Column{"recorded_at", ColDateTime})
}

func (q *Query) compile() (*compiled, error) {
	if q.e == nil {
		return nil, errorf(ErrQuery, "query has no engine")
	}
	d := q.e.st.Dialect()
	a := q.e.act() // one version for the whole compilation, whatever Activate does meanwhile
	ver := a.version
	var cols []Column
	var from, idCol string
	var conds []string
	var args []any
	bind := func(v any) string {
		args = append(args, v)
		return d.Placeholder(len(args))
	}
	switch q.kind {
	case kindRelationships:
		r := a.rels[q.name]
		if r == nil {
			return nil, errorf(ErrNotFound, "unknown relationship type '%s'%s", q.name, suggestion(q.name, keys(a.rels)))
		}
		if q.resolve {
			return nil, errorf(ErrQuery, "ResolveMerges applies to entity queries only")
		}
		cols = relColumns(r)
		from = d.Table(ver, "rel_"+r.Type+"_history")
		idCol = "source_id"
		if !q.relHistory && q.asOf == nil {
			conds = append(conds, "valid_to IS NULL")
		}
	default:
		ent := a.defs.Entity(q.name)
		if ent == nil {
			names := make([]string, len(a.defs.Entities))
			for i, x := range a.defs.Entities {
				names[i] = x.Name
			}
			return nil, errorf(ErrNotFound, "unknown entity type '%s'%s", q.name, suggestion(q.name, names))
		}
		cols = entityColumns(ent)
		idCol = ent.Name + "_id"
		if q.resolve {
			list := make([]string, len(cols))
			for i, c := range cols {
				list[i] = "h." + d.Quote(c.Name)
			}
			cond := "h.merged_into IS NULL"
			if q.kind == kindTable && q.asOf == nil {
				cond += " AND h.valid_to IS NULL"
			}
			from = fmt.Sprintf("(SELECT %s, COALESCE(m.%s, h.%s) AS %s FROM %s h LEFT JOIN %s m ON m.%s = h.%s WHERE h.%s IS NULL AND ((%s) OR m.%s IS NOT NULL)) AS resolved",
				strings.Join(list, ", "), d.Quote("canonical_id"), d.Quote(idCol), d.Quote("canonical_id"),
				d.Table(ver, ent.Name+"_history_all"), d.Table(ver, "merged_ids"), d.Quote("entity_id"), d.Quote(idCol),
				d.Quote("superseded_at"), cond, d.Quote("entity_id"))
			cols = append(cols, Column{"canonical_id", ColString})
		} else {
			from = d.Table(ver, ent.Name+"_history")
			if q.kind == kindTable && q.asOf == nil {
				conds = append(conds, "valid_to IS NULL")
			}
		}
	}
	byName := make(map[string]Column, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		byName[c.Name] = c
		names[i] = c.Name
	}
	var problems []string
	colRef := func(name string) (Column, bool) {
		c, ok := byName[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown column '%s'%s; available: %s", name, suggestion(name, names), strings.Join(names, ", ")))
		}
		return c, ok
	}
	if q.asOf != nil {
		t, err := parseInstant(q.asOf)
		if err != nil {
			return nil, err
		}
		p1, p2 := bind(instantArg(d, t)), bind(instantArg(d, t))
		conds = append(conds, fmt.Sprintf("valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)", p1, p2))
	}
	for _, w := range q.wheres {
		c, ok := colRef(w.col)
		if !ok {
			continue
		}
		qc := d.Quote(c.Name)
		switch w.op {
		case "is null", "is not null":
			conds = append(conds, qc+" "+strings.ToUpper(w.op))
		case "=", "!=", "<", "<=", ">", ">=", "like":
			v, err := convertArg(d, c, w.val)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			op := w.op
			if op == "!=" {
				op = "<>"
			}
			conds = append(conds, fmt.Sprintf("%s %s %s", qc, strings.ToUpper(op), bind(v)))
		case "in", "not in":
			list, ok := asList(w.val)
			if !ok {
				problems = append(problems, fmt.Sprintf("operator '%s' on '%s' needs a list value", w.op, c.Name))
				continue
			}
			if len(list) == 0 {
				if w.op == "in" {
					conds = append(conds, "1 = 0")
				}
				continue
			}
			ps := make([]string, len(list))
			for i, x := range list {
				v, err := convertArg(d, c, x)
				if err != nil {
					problems = append(problems, err.Error())
					continue
				}
				ps[i] = bind(v)
			}
			conds = append(conds, fmt.Sprintf("%s %s (%s)", qc, strings.ToUpper(w.op), strings.Join(ps, ", ")))
		default:
			problems = append(problems, fmt.Sprintf("unknown operator '%s'; use =, !=, <, <=, >, >=, in, not in, is null, is not null or like", w.op))
		}
	}
	outCols := cols
	if len(q.sel) > 0 {
		outCols = nil
		for _, s := range q.sel {
			if c, ok := colRef(s); ok {
				outCols = append(outCols, c)
			}
		}
	}
	var order []string
	for _, o := range q.order {
		if c, ok := colRef(o.col); ok {
			dir := "ASC"
			if o.desc {
				dir = "DESC"
			}
			order = append(order, d.Quote(c.Name)+" "+dir)
		}
	}
	if len(problems) > 0 {
		return nil, errorf(ErrQuery, "%s", strings.Join(problems, "\n"))
	}
	if len(order) == 0 {
		order = []string{d.Quote(idCol), d.Quote("valid_from")}
		if q.kind == kindRelationships {
			order = []string{d.Quote("source_id"), d.Quote("target_id"), d.Quote("valid_from")}
		}
	}
	list := make([]string, len(outCols))
	for i, c := range outCols {
		list[i] = d.Quote(c.Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s FROM %s", strings.Join(list, ", "), from)
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	b.WriteString(" ORDER BY " + strings.Join(order, ", "))
	if q.limit > 0 {
		fmt.Fprintf(&b, " LIMIT %d", q.limit)
	}
	if q.offset > 0 {
		if q.limit <= 0 {
			b.WriteString(" LIMIT 9223372036854775807") // SQLite needs a LIMIT before OFFSET
		}
		fmt.Fprintf(&b, " OFFSET %d", q.offset)
	}
	return &compiled{version: ver, sql: b.String(), args: args, cols: outCols}, nil
}

func instantArg(d store.Dialect, t int64) any {
	if d.InstantsAsMicros() {
		return t
	}
	return time.UnixMicro(t).UTC()
}

func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, x := range l {
			out[i] = x
		}
		return out, true
	case []int:
		out := make([]any, len(l))
		for i, x := range l {
			out[i] = x
		}
		return out, true
	case []int64:
		out := make([]any, len(l))
		for i, x := range l {
			out[i] = x
		}
		return out, true
	case []float64:
		out := make([]any, len(l))
		for i, x := range l {
			out[i] = x
		}
		return out, true
	}
	return nil, false
}

// convertArg converts a filter value to the column's storage type.
func convertArg(d store.Dialect, c Column, v any) (any, error) {
	bad := func() error {
		return fmt.Errorf("column '%s' is %s; cannot compare with %T %v", c.Name, c.Type, v, v)
	}
	switch c.Type {
	case ColDateTime:
		t, err := parseInstant(v)
		if err != nil {
			return nil, fmt.Errorf("column '%s': %v", c.Name, err)
		}
		return instantArg(d, t), nil
	case ColBoolean:
		b, ok := v.(bool)
		if s, isText := v.(string); isText {
			var err error
			b, err = strconv.ParseBool(strings.TrimSpace(s))
			ok = err == nil
		}
		if !ok {
			return nil, bad()
		}
		if d.InstantsAsMicros() {
			if b {
				return int64(1), nil
			}
			return int64(0), nil
		}
		return b, nil
	case ColInteger, ColNumber:
		if s, ok := v.(string); ok {
			s = strings.TrimSpace(s)
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f, nil
			}
			return nil, bad()
		}
		x := value.FromAny(v)
		switch x.Kind() {
		case value.KindInt:
			return x.AsInt(), nil
		case value.KindFloat:
			return x.AsFloat(), nil
		}
		return nil, bad()
	default:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, bad()
	}
}

// Execute runs the query.
func (q *Query) Execute(ctx context.Context) (*Rows, error) {
	if q.e.isClosed() {
		return nil, ErrClosed
	}
	c, err := q.compile()
	if err != nil {
		return nil, err
	}
	rs, err := q.e.st.Query(ctx, c.version, c.sql, c.args...)
	if err != nil {
		return nil, storageErr("query", err)
	}
	defer rs.Close()
	out := &Rows{cols: c.cols}
	instants := q.e.st.Dialect().InstantsAsMicros()
	for rs.Next() {
		raw := make([]any, len(c.cols))
		ptrs := make([]any, len(c.cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, storageErr("query: scan", err)
		}
		for i, col := range c.cols {
			raw[i] = typed(col.Type, raw[i], instants)
		}
		out.data = append(out.data, raw)
	}
	if err := rs.Err(); err != nil {
		return nil, storageErr("query", err)
	}
	return out, nil
}

// Count returns the number of rows the query yields.
func (q *Query) Count(ctx context.Context) (int64, error) {
	rows, err := q.Execute(ctx)
	if err != nil {
		return 0, err
	}
	return int64(rows.Len()), nil
}

// typed converts a driver value to the column's Go type.
func typed(t string, v any, micros bool) any {
	if v == nil {
		return nil
	}
	switch t {
	case ColDateTime:
		switch x := v.(type) {
		case int64:
			if micros {
				return time.UnixMicro(x).UTC()
			}
		case time.Time:
			return x.UTC()
		}
	case ColBoolean:
		switch x := v.(type) {
		case int64:
			return x != 0
		case bool:
			return x
		}
	case ColNumber:
		switch x := v.(type) {
		case int64:
			return float64(x)
		case float64:
			return x
		}
	case ColInteger:
		switch x := v.(type) {
		case int64:
			return x
		case float64:
			return int64(x)
		}
	case ColString:
		switch x := v.(type) {
		case []byte:
			return string(x)
		case string:
			return x
		}
	}
	return v
}

func keys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func suggestion(name string, names []string) string {
	if s := nearest(name, names); s != "" {
		return fmt.Sprintf("; did you mean '%s'?", s)
	}
	return ""
}
