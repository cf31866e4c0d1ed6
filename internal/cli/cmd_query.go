package cli

import (
	"context"
	"flag"
	"strings"

	"github.com/defacto-dev/defacto"
)

// queryFlags are the filters shared by the row commands.
type queryFlags struct {
	where   stringList
	limit   int
	columns string
}

func (q *queryFlags) register(fs *flag.FlagSet) {
	fs.Var(&q.where, "where", "keep rows where `COL=VAL` (also !=, <, <=, >, >=); repeatable, all must hold")
	fs.IntVar(&q.limit, "limit", 0, "at most `N` rows (0: all)")
	fs.StringVar(&q.columns, "columns", "", "comma-separated `COLS` to print, or \"all\" (default: every column, but the table format shows ids, states, properties and validity only)")
}

// check reports malformed filters before anything is opened.
func (q *queryFlags) check() error {
	for _, w := range q.where {
		if _, _, _, err := parseWhere(w); err != nil {
			return err
		}
	}
	if q.limit < 0 {
		return usageErrorf("--limit must not be negative, got %d", q.limit)
	}
	return nil
}

// apply adds the filters to a query.
func (q *queryFlags) apply(query *defacto.Query) (*defacto.Query, error) {
	for _, w := range q.where {
		col, op, val, err := parseWhere(w)
		if err != nil {
			return nil, err
		}
		query = query.Where(col, op, val)
	}
	if q.limit > 0 {
		query = query.Limit(q.limit)
	}
	if q.columns != "" && q.columns != "all" {
		var cols []string
		for _, c := range strings.Split(q.columns, ",") {
			if c = strings.TrimSpace(c); c != "" {
				cols = append(cols, c)
			}
		}
		query = query.Select(cols...)
	}
	return query, nil
}

// bookkeeping columns hidden from the default table format: they are in
// every JSON, JSON Lines and CSV row.
var bookkeeping = map[string]bool{
	"last_event_time": true, "state_entered_time": true, "created_time": true,
	"event_sequence": true, "recorded_at": true,
}

// compact narrows a query for the table format when no --columns was given,
// so the common case fits a terminal.
func (q *queryFlags) compact(query *defacto.Query, o *Options, resolve bool) (*defacto.Query, error) {
	if o.Output != "table" || q.columns != "" {
		return query, nil
	}
	probe, err := query.Limit(1).Execute(context.Background())
	if err != nil {
		return nil, err
	}
	var cols []string
	for _, c := range probe.Columns() {
		if bookkeeping[c] || (c == "merged_into" && !resolve) {
			continue
		}
		cols = append(cols, c)
	}
	return query.Select(cols...), nil
}

// parseWhere splits COL<op>VAL; the value is text, converted by the engine
// to the column's type.
func parseWhere(s string) (col, op, val string, err error) {
	i := strings.IndexAny(s, "=!<>")
	if i <= 0 {
		return "", "", "", usageErrorf("invalid --where %q: use COL=VAL (or !=, <, <=, >, >=)", s)
	}
	col, rest := strings.TrimSpace(s[:i]), s[i:]
	for _, candidate := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if v, ok := strings.CutPrefix(rest, candidate); ok {
			return col, candidate, v, nil
		}
	}
	return "", "", "", usageErrorf("invalid --where %q: use COL=VAL (or !=, <, <=, >, >=)", s)
}

// queryCmd is `table` and `history`.
type queryCmd struct {
	kind    string // "table" or "history"
	entity  string
	resolve bool
	asOf    string
	q       queryFlags
}

func (c *queryCmd) Flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.resolve, "resolve-merges", false, "add canonical_id and include entities merged into live ones")
	if c.kind == "history" {
		fs.StringVar(&c.asOf, "as-of", "", "only the rows valid at `INSTANT` (RFC 3339, no offset = UTC, or a date)")
	}
	c.q.register(fs)
}

func (c *queryCmd) Args(args []string) error {
	if err := wantArgs(args, "ENTITY"); err != nil {
		return err
	}
	c.entity = args[0]
	return c.q.check()
}

func (c *queryCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		var query *defacto.Query
		if c.kind == "table" {
			query = eng.Table(c.entity)
		} else {
			query = eng.History(c.entity)
		}
		if c.asOf != "" {
			query = query.AsOf(c.asOf)
		}
		if c.resolve {
			query = query.ResolveMerges()
		}
		query, err := c.q.apply(query)
		if err != nil {
			return err
		}
		if query, err = c.q.compact(query, o, c.resolve); err != nil {
			return err
		}
		rows, err := query.Execute(ctx)
		if err != nil {
			return err
		}
		warnStale(ctx, o, eng)
		return o.printRows(rows)
	})
}

// relationshipsCmd lists the rows of a relationship type.
type relationshipsCmd struct {
	relType string
	of      string
	history bool
	q       queryFlags
}

func (c *relationshipsCmd) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.of, "of", "", "only relationships whose source is `ENTITY_ID`")
	fs.BoolVar(&c.history, "history", false, "every current-belief row, closed ones included")
	c.q.register(fs)
}

func (c *relationshipsCmd) Args(args []string) error {
	if err := wantArgs(args, "TYPE"); err != nil {
		return err
	}
	c.relType = args[0]
	return c.q.check()
}

func (c *relationshipsCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		query := eng.Relationships(c.relType)
		if c.history {
			query = query.History()
		}
		if c.of != "" {
			query = query.Where("source_id", "=", c.of)
		}
		query, err := c.q.apply(query)
		if err != nil {
			return err
		}
		rows, err := query.Execute(ctx)
		if err != nil {
			return err
		}
		warnStale(ctx, o, eng)
		return o.printRows(rows)
	})
}
