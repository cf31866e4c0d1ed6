package defacto

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
)

// Graph queries (history.md §8). The graph's edges are the open
// current-belief rows of the relationships view, directed source → target,
// with canonical targets; its nodes are the live entities (open rows of
// every <e>_history). Local queries (Neighbors, Traverse, Path, Related,
// Similar, degree centrality) compile to SQL through the store's Dialect;
// whole-graph iterations (ConnectedComponents, PageRank) load the edge list
// once and run in memory.

// Neighbor is one row of Neighbors.
type Neighbor struct {
	EntityID         string `json:"entity_id"`
	EntityType       string `json:"entity_type"`
	RelationshipType string `json:"relationship_type"`
	// Direction is "out" (an edge from the queried entity) or "in" (an edge
	// to it).
	Direction string `json:"direction"`
}

// TraverseNode is one entity reached by Traverse, at its least depth.
type TraverseNode struct {
	EntityID   string `json:"entity_id"`
	EntityType string `json:"entity_type"`
	Depth      int    `json:"depth"`
}

// ComponentMember places one entity in its weakly connected component.
type ComponentMember struct {
	EntityID   string `json:"entity_id"`
	EntityType string `json:"entity_type"`
	// ComponentID is the smallest entity id of the component.
	ComponentID string `json:"component_id"`
}

// ScoredEntity is one row of Centrality or Similar.
type ScoredEntity struct {
	EntityID   string  `json:"entity_id"`
	EntityType string  `json:"entity_type"`
	Score      float64 `json:"score"`
}

// Graph directions of Neighbors.
const (
	DirectionOut  = "out"
	DirectionIn   = "in"
	DirectionBoth = "both"
)

// Centrality algorithms.
const (
	CentralityDegree   = "degree"
	CentralityPageRank = "pagerank"
)

// Graph defaults and PageRank parameters (history.md §8).
const (
	defaultPathDepth  = 20
	defaultSimilarTop = 10
	pageRankDamping   = 0.85
	pageRankEpsilon   = 1e-9
	pageRankMaxRounds = 100
)

// sqlBuilder collects bound arguments while a statement is assembled; every
// placeholder is used once, in increasing order, so the statement binds the
// same way on every backend.
type sqlBuilder struct {
	d    store.Dialect
	args []any
}

func (b *sqlBuilder) bind(v any) string {
	b.args = append(b.args, v)
	return b.d.Placeholder(len(b.args))
}

func (b *sqlBuilder) q(name string) string { return b.d.Quote(name) }

// expand replaces each {name} in tmpl by the quoted identifier name.
// Internal CTE names and aliases stay bare lower-case words.
func (b *sqlBuilder) expand(tmpl string) string {
	var out strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			break
		}
		out.WriteString(tmpl[:i])
		out.WriteString(b.q(tmpl[i+1 : i+j]))
		tmpl = tmpl[i+j+1:]
	}
	out.WriteString(tmpl)
	return out.String()
}

// relRef is the relationships view of the engine's version.
func (e *Engine) relRef() string { return e.st.Dialect().Table(e.act().version, "relationships") }

// graphRelType checks that relType is a declared relationship type.
func (e *Engine) graphRelType(relType string) (*definition.Relationship, error) {
	r := e.act().rels[relType]
	if r == nil {
		names := keys(e.act().rels)
		avail := "none are declared"
		if len(names) > 0 {
			avail = "declared: " + strings.Join(names, ", ")
		}
		return nil, errorf(ErrValidation, "unknown relationship type '%s'%s; %s", relType, suggestion(relType, names), avail)
	}
	return r, nil
}

// graphQuery runs a compiled graph statement and hands each row to scan.
func (e *Engine) graphQuery(ctx context.Context, op, query string, args []any, scan func(*sql.Rows) error) error {
	rs, err := e.st.Query(ctx, e.act().version, query, args...)
	if err != nil {
		return storageErr(op, err)
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs); err != nil {
			return storageErr(op+": scan", err)
		}
	}
	if err := rs.Err(); err != nil {
		return storageErr(op, err)
	}
	return nil
}

// nodesSQL selects (id, entity type) of the live entities of every type,
// restricted to ids when ids is not nil.
func (e *Engine) nodesSQL(b *sqlBuilder, ids []string) string {
	parts := make([]string, 0, len(e.act().defs.Entities))
	for _, ent := range e.act().defs.Entities {
		idCol := b.q(ent.Name + "_id")
		s := "SELECT " + idCol + " AS id, CAST(" + b.bind(ent.Name) + " AS TEXT) AS ty FROM " +
			b.d.Table(e.act().version, ent.Name+"_history") + b.expand(" WHERE {valid_to} IS NULL")
		if ids != nil {
			ps := make([]string, len(ids))
			for i, id := range ids {
				ps[i] = b.bind(id)
			}
			s += fmt.Sprintf(" AND %s IN (%s)", idCol, strings.Join(ps, ", "))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " UNION ALL ")
}

// entityTypes returns the entity type of each of ids that is a live entity
// of the engine's version; the others are absent.
func (e *Engine) entityTypes(ctx context.Context, ids ...string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(e.act().defs.Entities) == 0 || len(ids) == 0 {
		return out, nil
	}
	b := &sqlBuilder{d: e.st.Dialect()}
	q := e.nodesSQL(b, ids)
	err := e.graphQuery(ctx, "graph: entity lookup", q, b.args, func(rs *sql.Rows) error {
		var id, ty string
		if err := rs.Scan(&id, &ty); err != nil {
			return err
		}
		out[id] = ty
		return nil
	})
	return out, err
}

// requireEntities returns the types of ids, or ErrNotFound naming the first
// id that is not a live entity (with its survivor when it was merged away).
func (e *Engine) requireEntities(ctx context.Context, ids ...string) (map[string]string, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	types, err := e.entityTypes(ctx, ids...)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, ok := types[id]; ok {
			continue
		}
		b := &sqlBuilder{d: e.st.Dialect()}
		q := b.expand("SELECT {canonical_id} FROM ") + b.d.Table(e.act().version, "merged_ids") + b.expand(" WHERE {entity_id} = ") + b.bind(id)
		var canon string
		if err := e.graphQuery(ctx, "graph: entity lookup", q, b.args, func(rs *sql.Rows) error { return rs.Scan(&canon) }); err != nil {
			return nil, err
		}
		if canon != "" {
			return nil, errorf(ErrNotFound, "entity '%s' was merged into '%s'; query the surviving id", id, canon)
		}
		return nil, errorf(ErrNotFound, "unknown entity id '%s'", id)
	}
	return types, nil
}

// Neighbors returns the entities joined to id by an open relationship:
// direction "out" (edges from id), "in" (edges to id) or "both" (the
// default, also for ""). Rows come outbound first, then inbound, each by
// relationship type and id. ErrValidation for another direction, ErrNotFound
// when id is not a live entity.
func (e *Engine) Neighbors(ctx context.Context, id, direction string) ([]Neighbor, error) {
	dir := direction
	if dir == "" {
		dir = DirectionBoth
	}
	if dir != DirectionOut && dir != DirectionIn && dir != DirectionBoth {
		return nil, errorf(ErrValidation, "unknown direction '%s'; use out, in or both", direction)
	}
	if _, err := e.requireEntities(ctx, id); err != nil {
		return nil, err
	}
	b := &sqlBuilder{d: e.st.Dialect()}
	rel := e.relRef()
	var parts []string
	if dir != DirectionIn {
		parts = append(parts, b.expand("SELECT {target_id} AS entity_id, {target_type} AS entity_type, {relationship_type} AS relationship_type, CAST('out' AS TEXT) AS direction, 0 AS k FROM ")+
			rel+b.expand(" WHERE {valid_to} IS NULL AND {source_id} = ")+b.bind(id))
	}
	if dir != DirectionOut {
		parts = append(parts, b.expand("SELECT {source_id} AS entity_id, {source_type} AS entity_type, {relationship_type} AS relationship_type, CAST('in' AS TEXT) AS direction, 1 AS k FROM ")+
			rel+b.expand(" WHERE {valid_to} IS NULL AND {target_id} = ")+b.bind(id))
	}
	q := strings.Join(parts, " UNION ") + " ORDER BY k, relationship_type, entity_id"
	out := []Neighbor{}
	err := e.graphQuery(ctx, "graph: neighbors", q, b.args, func(rs *sql.Rows) error {
		var n Neighbor
		var k int64
		if err := rs.Scan(&n.EntityID, &n.EntityType, &n.RelationshipType, &n.Direction, &k); err != nil {
			return err
		}
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Byte order whatever the database collation.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Direction != b.Direction {
			return a.Direction == DirectionOut
		}
		if a.RelationshipType != b.RelationshipType {
			return a.RelationshipType < b.RelationshipType
		}
		return a.EntityID < b.EntityID
	})
	return out, nil
}

// edgesCTE is the body of a CTE e(a, a_type, b, b_type): the distinct open
// edges of relType (every type when ""), from a to b, plus the
// reversed edges when undirected.
func (e *Engine) edgesCTE(b *sqlBuilder, relType string, undirected bool) string {
	one := func(from, to string) string {
		s := b.expand("SELECT DISTINCT {"+from+"_id} AS a, {"+from+"_type} AS a_type, {"+to+"_id} AS b, {"+to+"_type} AS b_type FROM ") +
			e.relRef() + b.expand(" WHERE {valid_to} IS NULL")
		if relType != "" {
			s += b.expand(" AND {relationship_type} = ") + b.bind(relType)
		}
		return s
	}
	s := one("source", "target")
	if undirected {
		s += " UNION " + one("target", "source")
	}
	return s
}

// Traverse walks breadth-first from id over open relationships of relType,
// following edge direction when directed, both ways otherwise, up to depth
// steps. Each entity reached appears once, at its least depth, the start at
// depth 0; rows are ordered by depth and id. ErrValidation for an
// undeclared relType or a negative depth; ErrNotFound when id is not a live
// entity.
func (e *Engine) Traverse(ctx context.Context, id, relType string, depth int, directed bool) ([]TraverseNode, error) {
	if _, err := e.graphRelType(relType); err != nil {
		return nil, err
	}
	if depth < 0 {
		return nil, errorf(ErrValidation, "traverse depth must be >= 0, got %d", depth)
	}
	types, err := e.requireEntities(ctx, id)
	if err != nil {
		return nil, err
	}
	b := &sqlBuilder{d: e.st.Dialect()}
	edges := e.edgesCTE(b, relType, !directed)
	q := fmt.Sprintf(`WITH RECURSIVE e(a, a_type, b, b_type) AS (%s),
w(id, ty, d) AS (SELECT CAST(%s AS TEXT), CAST(%s AS TEXT), 0
  UNION SELECT e.b, e.b_type, w.d + 1 FROM w JOIN e ON e.a = w.id WHERE w.d < %s)
SELECT id, MIN(ty), MIN(d) AS dmin FROM w GROUP BY id ORDER BY dmin, id`,
		edges, b.bind(id), b.bind(types[id]), b.bind(depth))
	out := []TraverseNode{}
	err = e.graphQuery(ctx, "graph: traverse", q, b.args, func(rs *sql.Rows) error {
		var n TraverseNode
		var d int64
		if err := rs.Scan(&n.EntityID, &n.EntityType, &d); err != nil {
			return err
		}
		n.Depth = int(d)
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Depth != out[j].Depth {
			return out[i].Depth < out[j].Depth
		}
		return out[i].EntityID < out[j].EntityID
	})
	return out, nil
}

// Path returns a shortest undirected path from a to b over open
// relationships of every type, as entity ids from a to b: [a] when a == b,
// empty when b is not reachable within maxDepth edges (0 means 20). Of
// several shortest paths it returns the lexicographically smallest id
// sequence. ErrValidation for a negative maxDepth; ErrNotFound when a or b
// is not a live entity.
func (e *Engine) Path(ctx context.Context, a, b string, maxDepth int) ([]string, error) {
	if maxDepth < 0 {
		return nil, errorf(ErrValidation, "path max depth must be >= 0, got %d", maxDepth)
	}
	if maxDepth == 0 {
		maxDepth = defaultPathDepth
	}
	if _, err := e.requireEntities(ctx, a, b); err != nil {
		return nil, err
	}
	if a == b {
		return []string{a}, nil
	}
	// dist(id, d) holds each entity's distance to b (BFS from b over
	// undirected edges, at most maxDepth). The statement returns the steps
	// x → y of every shortest path from a: y one closer to b than x.
	sb := &sqlBuilder{d: e.st.Dialect()}
	edges := e.edgesCTE(sb, "", true)
	q := fmt.Sprintf(`WITH RECURSIVE e(a, a_type, b, b_type) AS (%s),
w(id, d) AS (SELECT CAST(%s AS TEXT), 0
  UNION SELECT e.b, w.d + 1 FROM w JOIN e ON e.a = w.id WHERE w.d < %s),
dist(id, d) AS (SELECT id, MIN(d) FROM w GROUP BY id)
SELECT x.id, y.id FROM dist x JOIN e ON e.a = x.id JOIN dist y ON y.id = e.b AND y.d = x.d - 1
WHERE x.d <= (SELECT d FROM dist WHERE id = %s)
ORDER BY x.d, x.id, y.id`,
		edges, sb.bind(b), sb.bind(maxDepth), sb.bind(a))
	next := map[string]string{} // smallest step towards b
	err := e.graphQuery(ctx, "graph: path", q, sb.args, func(rs *sql.Rows) error {
		var x, y string
		if err := rs.Scan(&x, &y); err != nil {
			return err
		}
		if cur, ok := next[x]; !ok || y < cur {
			next[x] = y
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	path := []string{a}
	for cur := a; cur != b; {
		n, ok := next[cur]
		if !ok {
			return []string{}, nil
		}
		path = append(path, n)
		cur = n
		if len(path) > maxDepth+1 {
			return nil, storageErr("graph: path", fmt.Errorf("path from %s to %s exceeds %d steps", a, b, maxDepth))
		}
	}
	return path, nil
}

// Related returns the current (Table) rows of the entities id reaches by an
// open relationship of relType, each followed by relationship_type,
// relationship_valid_from and the relationship's properties as
// rel_<property>; ordered by target id and relationship_valid_from.
// ErrValidation for an undeclared relType; ErrNotFound when id is not a
// live entity.
func (e *Engine) Related(ctx context.Context, id, relType string) (*Rows, error) {
	r, err := e.graphRelType(relType)
	if err != nil {
		return nil, err
	}
	target := e.act().defs.Entity(r.Target)
	if target == nil {
		return nil, errorf(ErrValidation, "relationship type '%s' targets undeclared entity type '%s'", relType, r.Target)
	}
	if _, err := e.requireEntities(ctx, id); err != nil {
		return nil, err
	}
	b := &sqlBuilder{d: e.st.Dialect()}
	cols := entityColumns(target)
	list := make([]string, 0, len(cols)+2+len(r.Properties))
	for _, c := range cols {
		list = append(list, "t."+b.q(c.Name))
	}
	list = append(list, "r."+b.q("relationship_type"), "r."+b.q("valid_from")+" AS "+b.q("relationship_valid_from"))
	cols = append(cols, Column{"relationship_type", ColString}, Column{"relationship_valid_from", ColDateTime})
	for _, p := range r.Properties {
		list = append(list, "r."+b.q(p.Name)+" AS "+b.q("rel_"+p.Name))
		cols = append(cols, Column{"rel_" + p.Name, string(p.Type)})
	}
	tid := b.q(target.Name + "_id")
	q := fmt.Sprintf("SELECT %s FROM %s r JOIN %s t ON t.%s = r.%s AND t.%s IS NULL WHERE r.%s IS NULL AND r.%s = %s ORDER BY t.%s, r.%s",
		strings.Join(list, ", "), b.d.Table(e.act().version, "rel_"+r.Type+"_history"), b.d.Table(e.act().version, target.Name+"_history"),
		tid, b.q("target_id"), b.q("valid_to"), b.q("valid_to"), b.q("source_id"), b.bind(id), tid, b.q("valid_from"))
	out := &Rows{cols: cols}
	micros := b.d.InstantsAsMicros()
	err = e.graphQuery(ctx, "graph: related", q, b.args, func(rs *sql.Rows) error {
		raw := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return err
		}
		for i, c := range cols {
			raw[i] = typed(c.Type, raw[i], micros)
		}
		out.data = append(out.data, raw)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Byte order of ids whatever the database collation.
	vf := len(entityColumns(target)) + 1
	sort.SliceStable(out.data, func(i, j int) bool {
		a, b := out.data[i], out.data[j]
		if ai, bi := a[0].(string), b[0].(string); ai != bi {
			return ai < bi
		}
		at, _ := a[vf].(time.Time)
		bt, _ := b[vf].(time.Time)
		return at.Before(bt)
	})
	return out, nil
}

// graph is the whole graph in memory: live entities and distinct directed
// edges.
type graph struct {
	ids   []string          // sorted
	types map[string]string // id → entity type
	out   map[string][]string
}

// loadGraph reads every live entity and every open edge.
func (e *Engine) loadGraph(ctx context.Context) (*graph, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	g := &graph{types: map[string]string{}, out: map[string][]string{}}
	if len(e.act().defs.Entities) > 0 {
		b := &sqlBuilder{d: e.st.Dialect()}
		err := e.graphQuery(ctx, "graph: nodes", e.nodesSQL(b, nil), b.args, func(rs *sql.Rows) error {
			var id, ty string
			if err := rs.Scan(&id, &ty); err != nil {
				return err
			}
			g.types[id] = ty
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	b := &sqlBuilder{d: e.st.Dialect()}
	q := fmt.Sprintf("SELECT DISTINCT %s, %s, %s, %s FROM %s WHERE %s IS NULL ORDER BY %s, %s",
		b.q("source_id"), b.q("source_type"), b.q("target_id"), b.q("target_type"), e.relRef(), b.q("valid_to"),
		b.q("source_id"), b.q("target_id"))
	err := e.graphQuery(ctx, "graph: edges", q, nil, func(rs *sql.Rows) error {
		var s, st, t, tt string
		if err := rs.Scan(&s, &st, &t, &tt); err != nil {
			return err
		}
		// An endpoint without an open entity row (none in a consistent
		// store) still counts as a node of the type the edge names.
		if _, ok := g.types[s]; !ok {
			g.types[s] = st
		}
		if _, ok := g.types[t]; !ok {
			g.types[t] = tt
		}
		if l := g.out[s]; len(l) == 0 || l[len(l)-1] != t {
			g.out[s] = append(l, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	g.ids = keys(g.types)
	return g, nil
}

// ConnectedComponents assigns every live entity to its weakly connected
// component (edges taken both ways), identified by the component's
// smallest entity id. Rows are ordered by component_id, then entity_id.
func (e *Engine) ConnectedComponents(ctx context.Context) ([]ComponentMember, error) {
	g, err := e.loadGraph(ctx)
	if err != nil {
		return nil, err
	}
	parent := make(map[string]string, len(g.ids))
	var find func(string) string
	find = func(x string) string {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, id := range g.ids {
		parent[id] = id
	}
	for s, ts := range g.out {
		for _, t := range ts {
			rs, rt := find(s), find(t)
			if rs == rt {
				continue
			}
			// The smaller id becomes the root, so each root is its
			// component's smallest id.
			if rt < rs {
				rs, rt = rt, rs
			}
			parent[rt] = rs
		}
	}
	out := make([]ComponentMember, len(g.ids))
	for i, id := range g.ids {
		out[i] = ComponentMember{EntityID: id, EntityType: g.types[id], ComponentID: find(id)}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ComponentID != out[j].ComponentID {
			return out[i].ComponentID < out[j].ComponentID
		}
		return out[i].EntityID < out[j].EntityID
	})
	return out, nil
}

// Centrality scores every live entity: "degree" is the number of distinct
// neighbours (either direction, self excluded) divided by n − 1; "pagerank"
// runs PageRank over the directed edges (damping 0.85, the mass of
// entities without outbound edges spread uniformly, until the L1 change is
// below 1e-9 or after 100 iterations). Rows are ordered by descending score,
// ties by id. ErrValidation for another algorithm.
func (e *Engine) Centrality(ctx context.Context, algorithm string) ([]ScoredEntity, error) {
	if algorithm != CentralityDegree && algorithm != CentralityPageRank {
		return nil, errorf(ErrValidation, "unknown centrality algorithm '%s'; use degree or pagerank", algorithm)
	}
	g, err := e.loadGraph(ctx)
	if err != nil {
		return nil, err
	}
	var score map[string]float64
	if algorithm == CentralityDegree {
		score = g.degree()
	} else {
		score = g.pageRank()
	}
	out := make([]ScoredEntity, len(g.ids))
	for i, id := range g.ids {
		out[i] = ScoredEntity{EntityID: id, EntityType: g.types[id], Score: score[id]}
	}
	sortScores(out)
	return out, nil
}

func (g *graph) degree() map[string]float64 {
	nb := make(map[string]map[string]bool, len(g.ids))
	add := func(x, y string) {
		if nb[x] == nil {
			nb[x] = map[string]bool{}
		}
		nb[x][y] = true
	}
	for s, ts := range g.out {
		for _, t := range ts {
			if s != t {
				add(s, t)
				add(t, s)
			}
		}
	}
	score := make(map[string]float64, len(g.ids))
	if n := len(g.ids); n > 1 {
		for _, id := range g.ids {
			score[id] = float64(len(nb[id])) / float64(n-1)
		}
	}
	return score
}

func (g *graph) pageRank() map[string]float64 {
	n := len(g.ids)
	if n == 0 {
		return nil
	}
	idx := make(map[string]int, n)
	for i, id := range g.ids {
		idx[id] = i
	}
	// Fixed iteration order keeps the float sums, and so the order of
	// equal scores, deterministic.
	outs := make([][]int, n)
	for i, id := range g.ids {
		for _, t := range g.out[id] {
			outs[i] = append(outs[i], idx[t])
		}
		sort.Ints(outs[i])
	}
	rank := make([]float64, n)
	for i := range rank {
		rank[i] = 1 / float64(n)
	}
	next := make([]float64, n)
	for range pageRankMaxRounds {
		dangling := 0.0
		for i, o := range outs {
			if len(o) == 0 {
				dangling += rank[i]
			}
		}
		base := (1-pageRankDamping)/float64(n) + pageRankDamping*dangling/float64(n)
		for i := range next {
			next[i] = base
		}
		for i, o := range outs {
			if len(o) == 0 {
				continue
			}
			share := pageRankDamping * rank[i] / float64(len(o))
			for _, j := range o {
				next[j] += share
			}
		}
		change := 0.0
		for i := range rank {
			d := next[i] - rank[i]
			if d < 0 {
				d = -d
			}
			change += d
		}
		rank, next = next, rank
		if change < pageRankEpsilon {
			break
		}
	}
	score := make(map[string]float64, n)
	for i, id := range g.ids {
		score[id] = rank[i]
	}
	return score
}

func sortScores(s []ScoredEntity) {
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Score != s[j].Score {
			return s[i].Score > s[j].Score
		}
		return s[i].EntityID < s[j].EntityID
	})
}

// Similar ranks the entities sharing neighbours with id by the Jaccard
// index of their undirected neighbour sets (distinct neighbours over every
// relationship type, self excluded): scores > 0, descending, ties by id, at
// most topN rows (0 means 10). ErrValidation for a negative topN;
// ErrNotFound when id is not a live entity.
func (e *Engine) Similar(ctx context.Context, id string, topN int) ([]ScoredEntity, error) {
	if topN < 0 {
		return nil, errorf(ErrValidation, "similar top_n must be >= 0, got %d", topN)
	}
	if topN == 0 {
		topN = defaultSimilarTop
	}
	if _, err := e.requireEntities(ctx, id); err != nil {
		return nil, err
	}
	// nb: distinct undirected neighbour pairs without self loops; common:
	// the entities sharing c > 0 neighbours with the start; deg: neighbour
	// counts. Jaccard = c / (deg(start) + deg(x) - c).
	b := &sqlBuilder{d: e.st.Dialect()}
	edges := e.edgesCTE(b, "", true)
	q := fmt.Sprintf(`WITH e(a, a_type, b, b_type) AS (%s),
nb AS (SELECT a, a_type, b FROM e WHERE a <> b),
common AS (SELECT n2.a AS id, MIN(n2.a_type) AS ty, COUNT(*) AS c FROM nb n1 JOIN nb n2 ON n2.b = n1.b
  WHERE n1.a = %s AND n2.a <> %s GROUP BY n2.a),
deg AS (SELECT a AS id, COUNT(*) AS n FROM nb GROUP BY a)
SELECT common.id, common.ty, common.c, deg.n, (SELECT COUNT(*) FROM nb WHERE a = %s)
FROM common JOIN deg ON deg.id = common.id`,
		edges, b.bind(id), b.bind(id), b.bind(id))
	out := []ScoredEntity{}
	err := e.graphQuery(ctx, "graph: similar", q, b.args, func(rs *sql.Rows) error {
		var s ScoredEntity
		var common, deg, own int64
		if err := rs.Scan(&s.EntityID, &s.EntityType, &common, &deg, &own); err != nil {
			return err
		}
		if union := own + deg - common; union > 0 && common > 0 {
			s.Score = float64(common) / float64(union)
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortScores(out)
	if len(out) > topN {
		out = out[:topN]
	}
	return out, nil
}
