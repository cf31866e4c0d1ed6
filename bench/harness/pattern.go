package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The write-pattern floor.
//
// The plain floor inserts every final row once. The engine cannot: a chunk
// interprets the events it holds, so an entity touched by events in k
// chunks has its working state written k times and each of its history rows
// inserted open and closed in place when its successor arrives in a later
// chunk (history.md §4: "an open row is closed in place only together with
// its successor's insertion"). The pattern floor adds those writes in raw
// SQL, with no engine logic around them: per chunk, the single-row UPDATE
// that closes each row whose successor is inserted in this chunk, and an
// upsert of the final working-state row of every entity the chunk's events
// are linked to. Its rows are the plain floor's, so Process / pattern floor
// is how close the engine comes to the least any implementation of the
// spec's one-transaction-per-chunk rule must write. It is a lower bound:
// rows superseded later (late events, merges) are inserted already
// superseded, and intermediate working states are the final one wrapped
// with their chunk number (varyStates).

// pattern is what the pattern floor changes in a snapshot's tables.
type pattern struct {
	// rows replaces the rows of each history table: a current row whose
	// successor comes in a later chunk is inserted open.
	rows map[*Table][][]any
	// closes holds, per history table and chunk, the arguments of the
	// close UPDATE (valid_to, id, valid_from) of rows closed in that chunk.
	closes map[*Table][][][]any
	// state is the entity_state table; states holds, per chunk, the rows
	// of the entities linked in that chunk, each upserted once.
	state  *Table
	states [][][]any
}

// colIndex returns the position of the column named name in t, or -1.
func (t *Table) colIndex(name string) int { return slices.Index(t.Cols, name) }

// planPattern derives the pattern writes from a snapshot.
func planPattern(s *Snapshot) *pattern {
	p := &pattern{rows: map[*Table][][]any{}, closes: map[*Table][][][]any{}}
	var links *Table
	for _, t := range s.Tables {
		switch {
		case t.Schema == "main" && t.Name == "event_entities":
			links = t
		case t.Name == "entity_state":
			p.state = t
		case strings.HasSuffix(t.Name, "_history_all"):
			p.planHistory(t, s.Chunks)
		}
	}
	if p.state == nil || links == nil {
		return p
	}
	byID := map[string][]any{}
	sid := p.state.colIndex("entity_id")
	for _, r := range p.state.Rows {
		if id, ok := r[sid].(string); ok {
			byID[id] = r
		}
	}
	lid := links.colIndex("entity_id")
	p.states = make([][][]any, s.Chunks)
	seen := make([]map[string]bool, s.Chunks)
	written := map[string]bool{}
	for i, r := range links.Rows {
		c := links.Chunk[i]
		id, _ := r[lid].(string)
		st, ok := byID[id]
		if !ok {
			continue
		}
		if seen[c] == nil {
			seen[c] = map[string]bool{}
		}
		if !seen[c][id] {
			seen[c][id], written[id] = true, true
			p.states[c] = append(p.states[c], st)
		}
	}
	// A merged-away entity's links now name its winner: its state is
	// written where the plain floor writes it.
	for i, r := range p.state.Rows {
		if id, _ := r[sid].(string); !written[id] {
			c := p.state.Chunk[i]
			p.states[c] = append(p.states[c], r)
		}
	}
	p.varyStates(sid)
	return p
}

// varyStates makes every upsert of a state but the entity's last one write
// a document of its own (the final document wrapped with the chunk number),
// as the engine's intermediate states differ from each other. Upserting the
// final row every time would cost a page write only once: SQLite leaves a
// page clean when an update rewrites a cell with identical bytes.
func (p *pattern) varyStates(sid int) {
	data := p.state.colIndex("data")
	if data < 0 {
		return
	}
	last := map[string]int{} // entity id → last chunk that upserts it
	for c, rows := range p.states {
		for _, r := range rows {
			id, _ := r[sid].(string)
			last[id] = c
		}
	}
	for c, rows := range p.states {
		for i, r := range rows {
			id, _ := r[sid].(string)
			if last[id] == c {
				continue
			}
			var doc string
			switch d := r[data].(type) {
			case string:
				doc = d
			case []byte:
				doc = string(d)
			default:
				continue
			}
			v := slices.Clone(r)
			v[data] = fmt.Sprintf(`{"chunk":%d,"state":%s}`, c, doc)
			rows[i] = v
		}
	}
}

// planHistory splits each entity's current rows of t into open inserts and
// later closes.
func (p *pattern) planHistory(t *Table, chunks int) {
	const id = 0 // the entity id leads every history table
	vf, vt, sup := t.colIndex("valid_from"), t.colIndex("valid_to"), t.colIndex("superseded_at")
	if vf < 0 || vt < 0 || sup < 0 {
		return
	}
	rows := make([][]any, len(t.Rows))
	copy(rows, t.Rows)
	byEntity := map[string][]int{}
	for i, r := range t.Rows {
		if r[sup] != nil {
			continue
		}
		e, _ := r[id].(string)
		byEntity[e] = append(byEntity[e], i)
	}
	closes := make([][][]any, chunks)
	for _, idx := range byEntity {
		slices.SortFunc(idx, func(a, b int) int { return compareInstants(t.Rows[a][vf], t.Rows[b][vf]) })
		for k := 0; k+1 < len(idx); k++ {
			cur, next := idx[k], idx[k+1]
			if t.Chunk[next] <= t.Chunk[cur] || t.Rows[cur][vt] == nil {
				continue
			}
			open := slices.Clone(t.Rows[cur])
			open[vt] = nil
			rows[cur] = open
			c := t.Chunk[next]
			closes[c] = append(closes[c], []any{t.Rows[cur][vt], t.Rows[cur][id], t.Rows[cur][vf]})
		}
	}
	p.rows[t] = rows
	p.closes[t] = closes
}

// compareInstants orders two valid_from values as SQLite (µs integers) or
// pgx (time.Time) return them.
func compareInstants(a, b any) int {
	if x, ok := a.(time.Time); ok {
		y, _ := b.(time.Time)
		return x.Compare(y)
	}
	x, _ := a.(int64)
	y, _ := b.(int64)
	return cmp.Compare(x, y)
}
