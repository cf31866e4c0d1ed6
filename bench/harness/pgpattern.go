package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgPattern is the write pattern (pattern.go) of a PostgreSQL floor: per
// chunk, history rows COPYed as planned (open when their successor comes
// later), the closes as one UPDATE and the working states as one upsert,
// both over unnest arrays, the statement shapes the engine sends.
type pgPattern struct {
	// hist maps a history table to its planned rows by chunk, its closes
	// and their UPDATE.
	hist   map[*pgTable]*pgHist
	state  *pgTable
	states [][][]any // per chunk
	upsert string
}

type pgHist struct {
	chunks map[int][][]any
	closes [][][]any // per chunk: (valid_to, id, valid_from)
	update string
	// rows counts the rows inserted, analyzed those at the last ANALYZE.
	rows, analyzed int
}

// planPGPattern plans the pattern over tables (main tables in schema ns).
func planPGPattern(ns string, tables []*pgTable, nchunks int) *pgPattern {
	snap := &Snapshot{Chunks: nchunks}
	of := map[*Table]*pgTable{}
	for _, t := range tables {
		schema := t.src[0]
		if schema == ns {
			schema = "main"
		}
		tt := &Table{Schema: schema, Name: t.src[1], Cols: t.cols}
		for c := 0; c < nchunks; c++ {
			for _, r := range t.chunks[c] {
				tt.Rows = append(tt.Rows, r)
				tt.Chunk = append(tt.Chunk, c)
			}
		}
		snap.Tables = append(snap.Tables, tt)
		of[tt] = t
	}
	plan := planPattern(snap)
	p := &pgPattern{hist: map[*pgTable]*pgHist{}}
	for tt, rows := range plan.rows {
		t := of[tt]
		h := &pgHist{chunks: map[int][][]any{}, closes: plan.closes[tt]}
		for i, r := range rows {
			h.chunks[tt.Chunk[i]] = append(h.chunks[tt.Chunk[i]], r)
		}
		h.update = `UPDATE ` + t.dst.Sanitize() + ` AS h SET "valid_to" = k.vt
			FROM unnest($1::timestamptz[], $2::text[], $3::timestamptz[]) AS k(vt, id, vf)
			WHERE h.` + quoteIdent(t.cols[0]) + ` = k.id AND h."valid_from" = k.vf AND h."superseded_at" IS NULL`
		p.hist[t] = h
	}
	if plan.state != nil {
		p.state, p.states = of[plan.state], plan.states
		n := len(p.state.cols)
		cols, args, sel, names := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		set := make([]string, 0, n)
		for i, c := range p.state.cols {
			cols[i], names[i], sel[i] = quoteIdent(c), fmt.Sprintf("c%d", i), fmt.Sprintf("c%d", i)
			args[i] = fmt.Sprintf("$%d::%s[]", i+1, p.state.types[i])
			if ty := p.state.types[i]; ty == "json" || ty == "jsonb" {
				// Read as text (readPGTable), cast back here.
				args[i], sel[i] = fmt.Sprintf("$%d::text[]", i+1), fmt.Sprintf("c%d::%s", i, ty)
			}
			if i > 0 {
				set = append(set, cols[i]+` = excluded.`+cols[i])
			}
		}
		p.upsert = `INSERT INTO ` + p.state.dst.Sanitize() + ` (` + strings.Join(cols, ", ") + `) SELECT ` +
			strings.Join(sel, ", ") + ` FROM unnest(` + strings.Join(args, ", ") + `) AS u(` + strings.Join(names, ", ") +
			`) ON CONFLICT (` + cols[0] + `) DO UPDATE SET ` + strings.Join(set, ", ")
	}
	return p
}

// write makes chunk c's writes to table t in tx, timing them into by.
func (p *pgPattern) write(ctx context.Context, tx pgx.Tx, t *pgTable, c int, by map[string]time.Duration) error {
	t0 := time.Now()
	switch h := p.hist[t]; {
	case t == p.state:
		rows := p.states[c]
		if len(rows) == 0 {
			return nil
		}
		cols := make([]any, len(t.cols))
		for j := range cols {
			col := make([]any, len(rows))
			for i, r := range rows {
				col[i] = r[j]
			}
			cols[j] = col
		}
		if _, err := tx.Exec(ctx, p.upsert, cols...); err != nil {
			return fmt.Errorf("upsert states: %w", err)
		}
		by[t.src[1]+" (upserts)"] += time.Since(t0)
	case h != nil:
		// The table grows from empty. Without statistics the planner drives
		// each close from a scan of every current row, so the floor keeps
		// them as the engine does (postgres/stats.go: at 200 rows, then
		// every threefold growth), and pays for the ANALYZE.
		if h.rows >= max(200, 3*h.analyzed) {
			if _, err := tx.Exec(ctx, `ANALYZE `+t.dst.Sanitize()); err != nil {
				return err
			}
			h.analyzed = h.rows
		}
		if cl := h.closes[c]; len(cl) > 0 {
			vt, id, vf := make([]any, len(cl)), make([]any, len(cl)), make([]any, len(cl))
			for i, r := range cl {
				vt[i], id[i], vf[i] = r[0], r[1], r[2]
			}
			tag, err := tx.Exec(ctx, h.update, vt, id, vf)
			if err != nil {
				return fmt.Errorf("close rows: %w", err)
			}
			if tag.RowsAffected() != int64(len(cl)) {
				return fmt.Errorf("close rows of %s, chunk %d: %d of %d matched", t.dst.Sanitize(), c, tag.RowsAffected(), len(cl))
			}
			by[t.src[1]+" (closes)"] += time.Since(t0)
			t0 = time.Now()
		}
		if rows := h.chunks[c]; len(rows) > 0 {
			if _, err := tx.CopyFrom(ctx, t.dst, t.cols, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.dst.Sanitize(), err)
			}
			h.rows += len(rows)
			by[t.src[1]] += time.Since(t0)
		}
	default:
		if rows := t.chunks[c]; len(rows) > 0 {
			if _, err := tx.CopyFrom(ctx, t.dst, t.cols, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.dst.Sanitize(), err)
			}
			by[t.src[1]] += time.Since(t0)
		}
	}
	return nil
}

// pgSameStores checks that the pattern floor ended with the plain floor's
// rows: every table of schema a holds the same rows (compared as jsonb, since
// json has no equality) as the table of that name in schema b.
func pgSameStores(ctx context.Context, url, a, b string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, a)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		ta, tb := pgx.Identifier{a, n}.Sanitize(), pgx.Identifier{b, n}.Sanitize()
		var diff int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM (
			(SELECT to_jsonb(x) FROM `+ta+` x EXCEPT ALL SELECT to_jsonb(y) FROM `+tb+` y) UNION ALL
			(SELECT to_jsonb(y) FROM `+tb+` y EXCEPT ALL SELECT to_jsonb(x) FROM `+ta+` x)) d`).Scan(&diff); err != nil {
			return err
		}
		if diff != 0 {
			return fmt.Errorf("%s and %s differ in %d rows", ta, tb, diff)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no tables in %s", a)
	}
	return nil
}
