package defacto

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// graphDefs: people join clubs (member_of, written by the person) and clubs
// invite people (has_member, written by the club); both many_to_many, each
// the other's inverse.
const graphDefs = `
entities:
  person:
    starts: active
    identity: {handle: {}}
    properties: {handle: {type: string}, name: {type: string}}
    states:
      active:
        when:
          join:
            effects:
              - create
              - {set: {property: handle, from: event.handle}}
              - {set: {property: name, from: event.name}}
          member:
            effects:
              - relate:
                  type: member_of
                  target: club
                  hints: {club: [code]}
                  properties: {role: {from: event.role}}
    relationships:
      - type: member_of
        target: club
        cardinality: many_to_many
        properties: {role: {type: string}}
  club:
    starts: open
    identity: {code: {}}
    properties: {code: {type: string}, title: {type: string}}
    states:
      open:
        when:
          found:
            effects:
              - create
              - {set: {property: code, from: event.code}}
              - {set: {property: title, from: event.title}}
          invite:
            effects:
              - relate:
                  type: has_member
                  target: person
                  hints: {person: [handle]}
    relationships: [{type: has_member, target: person, cardinality: many_to_many}]
sources:
  app:
    event_type: type
    timestamp: ts
    events:
      join:
        mappings: {handle: handle, name: name}
        hints: {person: [handle]}
      found:
        mappings: {code: code, title: title}
        hints: {club: [code]}
      member:
        mappings: {handle: handle, code: code, role: role}
        hints: {person: [handle]}
      invite:
        mappings: {handle: handle, code: code}
        hints: {club: [code]}
`

// graphFixture is the test graph and its entity ids by handle / club id:
//
//	member_of: alice→C1 (captain), alice→C2, bob→C1, bob→C2, carol→C2, dave→C3
//	has_member: C1→frank, C3→dave
//	erin has no relationships.
type graphFixture struct {
	e   *Engine
	ids map[string]string // "alice", "C1", … → entity id
}

func (f *graphFixture) id(name string) string { return f.ids[name] }

func (f *graphFixture) idList(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = f.ids[n]
	}
	return out
}

// name maps an id back to its fixture name.
func (f *graphFixture) name(id string) string {
	for n, x := range f.ids {
		if x == id {
			return n
		}
	}
	return "?" + id
}

func (f *graphFixture) names(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = f.name(id)
	}
	return out
}

// byID sorts fixture names by their entity ids.
func (f *graphFixture) byID(names ...string) []string {
	out := slices.Clone(names)
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(f.ids[a], f.ids[b]) })
	return out
}

func openGraph(t *testing.T) *graphFixture {
	t.Helper()
	ctx := context.Background()
	defs, err := ParseDefinitions([]byte(graphDefs))
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC) }
	e, err := OpenDefinitions(ctx, defs, &Config{Database: filepath.Join(t.TempDir(), "graph.db"), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	people := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	clubs := []string{"C1", "C2", "C3"}
	var evs []Event
	ts := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	next := func() string { ts = ts.Add(time.Hour); return ts.Format(time.RFC3339) }
	for _, p := range people {
		evs = append(evs, Event{"type": "join", "ts": next(), "handle": p, "name": strings.ToUpper(p[:1]) + p[1:]})
	}
	for _, c := range clubs {
		evs = append(evs, Event{"type": "found", "ts": next(), "code": c, "title": "Club " + c})
	}
	for _, m := range [][3]string{{"alice", "C1", "captain"}, {"alice", "C2", ""}, {"bob", "C1", ""}, {"bob", "C2", ""}, {"carol", "C2", ""}, {"dave", "C3", ""}} {
		ev := Event{"type": "member", "ts": next(), "handle": m[0], "code": m[1]}
		if m[2] != "" {
			ev["role"] = m[2]
		}
		evs = append(evs, ev)
	}
	for _, m := range [][2]string{{"C1", "frank"}, {"C3", "dave"}} {
		evs = append(evs, Event{"type": "invite", "ts": next(), "code": m[0], "handle": m[1]})
	}
	res, err := e.Ingest(ctx, "app", evs, Process)
	if err != nil {
		t.Fatal(err)
	}
	if res.EventsProcessed != len(evs) {
		t.Fatalf("processed %d of %d events: %+v", res.EventsProcessed, len(evs), res)
	}
	f := &graphFixture{e: e, ids: map[string]string{}}
	for _, p := range people {
		if f.ids[p], err = e.Lookup(ctx, "person", p, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range clubs {
		if f.ids[c], err = e.Lookup(ctx, "club", c, ""); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want %v", err, kind)
	}
}

func TestGraphNeighbors(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	type row struct{ name, typ, rel, dir string }
	get := func(of, dir string) []row {
		t.Helper()
		ns, err := f.e.Neighbors(ctx, f.id(of), dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []row
		for _, n := range ns {
			out = append(out, row{f.name(n.EntityID), n.EntityType, n.RelationshipType, n.Direction})
		}
		return out
	}
	c12 := f.byID("C1", "C2")
	ab := f.byID("alice", "bob")
	for _, tc := range []struct {
		of, dir string
		want    []row
	}{
		{"alice", "", []row{{c12[0], "club", "member_of", "out"}, {c12[1], "club", "member_of", "out"}}},
		{"alice", "in", nil},
		// Outbound first, then inbound by type and id.
		{"C1", "both", []row{{"frank", "person", "has_member", "out"}, {ab[0], "person", "member_of", "in"}, {ab[1], "person", "member_of", "in"}}},
		{"C1", "in", []row{{ab[0], "person", "member_of", "in"}, {ab[1], "person", "member_of", "in"}}},
		{"C1", "out", []row{{"frank", "person", "has_member", "out"}}},
		// A two-edge cycle: dave → C3 and C3 → dave.
		{"dave", "both", []row{{"C3", "club", "member_of", "out"}, {"C3", "club", "has_member", "in"}}},
		{"frank", "", []row{{"C1", "club", "has_member", "in"}}},
		{"erin", "", nil},
	} {
		if got := get(tc.of, tc.dir); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Neighbors(%s, %q) = %v, want %v", tc.of, tc.dir, got, tc.want)
		}
	}
	ns, err := f.e.Neighbors(ctx, f.id("erin"), "both")
	if err != nil || ns == nil || len(ns) != 0 {
		t.Errorf("Neighbors(erin) = %#v, %v; want an empty, non-nil slice", ns, err)
	}
	_, err = f.e.Neighbors(ctx, f.id("alice"), "sideways")
	wantKind(t, err, ErrValidation)
	_, err = f.e.Neighbors(ctx, "no-such-id", "")
	wantKind(t, err, ErrNotFound)
}

func TestGraphTraverse(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	type node struct {
		name, typ string
		depth     int
	}
	get := func(of, rel string, depth int, directed bool) []node {
		t.Helper()
		ns, err := f.e.Traverse(ctx, f.id(of), rel, depth, directed)
		if err != nil {
			t.Fatal(err)
		}
		var out []node
		for _, n := range ns {
			out = append(out, node{f.name(n.EntityID), n.EntityType, n.Depth})
		}
		return out
	}
	c12 := f.byID("C1", "C2")
	ab := f.byID("alice", "bob")
	bc := f.byID("bob", "carol")
	for _, tc := range []struct {
		of, rel  string
		depth    int
		directed bool
		want     []node
	}{
		{"alice", "member_of", 0, true, []node{{"alice", "person", 0}}},
		{"alice", "member_of", 1, true, []node{{"alice", "person", 0}, {c12[0], "club", 1}, {c12[1], "club", 1}}},
		// Clubs have no member_of edges out: directed stops at depth 1.
		{"alice", "member_of", 5, true, []node{{"alice", "person", 0}, {c12[0], "club", 1}, {c12[1], "club", 1}}},
		// Undirected over the cycle alice–C1–bob–C2–alice: bob once, at
		// its least depth; the walk ends although depth allows more.
		{"alice", "member_of", 2, false, []node{{"alice", "person", 0}, {c12[0], "club", 1}, {c12[1], "club", 1}, {bc[0], "person", 2}, {bc[1], "person", 2}}},
		{"alice", "member_of", 10, false, []node{{"alice", "person", 0}, {c12[0], "club", 1}, {c12[1], "club", 1}, {bc[0], "person", 2}, {bc[1], "person", 2}}},
		// The depth limit cuts the walk.
		{"carol", "member_of", 2, false, []node{{"carol", "person", 0}, {"C2", "club", 1}, {ab[0], "person", 2}, {ab[1], "person", 2}}},
		// Against the edge direction nothing is reached when directed.
		{"C2", "member_of", 3, true, []node{{"C2", "club", 0}}},
		// Only the named type: frank hangs off C1 by has_member.
		{"C1", "has_member", 3, true, []node{{"C1", "club", 0}, {"frank", "person", 1}}},
		// A directed two-type cycle is not followed within one type.
		{"dave", "has_member", 3, true, []node{{"dave", "person", 0}}},
		{"dave", "has_member", 3, false, []node{{"dave", "person", 0}, {"C3", "club", 1}}},
		{"erin", "member_of", 3, false, []node{{"erin", "person", 0}}},
	} {
		if got := get(tc.of, tc.rel, tc.depth, tc.directed); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Traverse(%s, %s, %d, %v) = %v, want %v", tc.of, tc.rel, tc.depth, tc.directed, got, tc.want)
		}
	}
	_, err := f.e.Traverse(ctx, f.id("alice"), "friend_of", 1, true)
	wantKind(t, err, ErrValidation)
	if !strings.Contains(err.Error(), "has_member, member_of") {
		t.Errorf("error %q should list the declared types", err)
	}
	_, err = f.e.Traverse(ctx, f.id("alice"), "member_of", -1, true)
	wantKind(t, err, ErrValidation)
	_, err = f.e.Traverse(ctx, "nobody", "member_of", 1, true)
	wantKind(t, err, ErrNotFound)
}

func TestGraphPath(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	path := func(a, b string, maxDepth int) []string {
		t.Helper()
		p, err := f.e.Path(ctx, f.id(a), f.id(b), maxDepth)
		if err != nil {
			t.Fatal(err)
		}
		if p == nil {
			t.Fatalf("Path(%s, %s) = nil, want a non-nil slice", a, b)
		}
		return f.names(p)
	}
	c12 := f.byID("C1", "C2")
	ab := f.byID("alice", "bob")
	for _, tc := range []struct {
		a, b     string
		maxDepth int
		want     []string
	}{
		{"alice", "alice", 0, []string{"alice"}},
		{"alice", "C1", 0, []string{"alice", "C1"}},
		// Against the edge direction: paths are undirected.
		{"C1", "alice", 0, []string{"C1", "alice"}},
		{"alice", "carol", 0, []string{"alice", "C2", "carol"}},
		// Tie: alice–C1–bob and alice–C2–bob; the smaller club id wins.
		{"alice", "bob", 0, []string{"alice", c12[0], "bob"}},
		// Tie in the middle: frank–C1–{alice|bob}–C2–carol.
		{"frank", "carol", 0, []string{"frank", "C1", ab[0], "C2", "carol"}},
		{"frank", "carol", 4, []string{"frank", "C1", ab[0], "C2", "carol"}},
		// Depth limit: 4 edges needed.
		{"frank", "carol", 3, []string{}},
		// Over both relationship types.
		{"frank", "bob", 0, []string{"frank", "C1", "bob"}},
		{"C3", "dave", 1, []string{"C3", "dave"}},
		// Other components.
		{"alice", "dave", 0, []string{}},
		{"alice", "erin", 0, []string{}},
	} {
		if got := path(tc.a, tc.b, tc.maxDepth); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Path(%s, %s, %d) = %v, want %v", tc.a, tc.b, tc.maxDepth, got, tc.want)
		}
	}
	_, err := f.e.Path(ctx, f.id("alice"), "nobody", 0)
	wantKind(t, err, ErrNotFound)
	_, err = f.e.Path(ctx, "nobody", "nobody", 0)
	wantKind(t, err, ErrNotFound)
	_, err = f.e.Path(ctx, f.id("alice"), f.id("bob"), -1)
	wantKind(t, err, ErrValidation)
}

func TestGraphRelated(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	rows, err := f.e.Related(ctx, f.id("alice"), "member_of")
	if err != nil {
		t.Fatal(err)
	}
	cols := rows.Columns()
	if cols[0] != "club_id" || cols[1] != "club_state" {
		t.Fatalf("columns start %v", cols[:2])
	}
	if tail := cols[len(cols)-3:]; !reflect.DeepEqual(tail, []string{"relationship_type", "relationship_valid_from", "rel_role"}) {
		t.Fatalf("columns end %v", tail)
	}
	if rows.Len() != 2 {
		t.Fatalf("%d rows, want 2:\n%s", rows.Len(), rows)
	}
	c12 := f.byID("C1", "C2")
	for i, club := range c12 {
		if got := rows.Value(i, "club_id"); got != f.id(club) {
			t.Errorf("row %d club_id = %v, want %s", i, got, f.id(club))
		}
		if got := rows.Value(i, "title"); got != "Club "+club {
			t.Errorf("row %d title = %v", i, got)
		}
		if got := rows.Value(i, "club_state"); got != "open" {
			t.Errorf("row %d club_state = %v", i, got)
		}
		if got := rows.Value(i, "relationship_type"); got != "member_of" {
			t.Errorf("row %d relationship_type = %v", i, got)
		}
		if _, ok := rows.Value(i, "relationship_valid_from").(time.Time); !ok {
			t.Errorf("row %d relationship_valid_from = %#v, want a time", i, rows.Value(i, "relationship_valid_from"))
		}
		var want any
		if club == "C1" {
			want = "captain"
		}
		if got := rows.Value(i, "rel_role"); got != want {
			t.Errorf("row %d rel_role = %#v, want %#v", i, got, want)
		}
	}
	// Events are an hour apart from 11:00: six joins, three clubs, then
	// alice's member_of C1 at 20:00.
	if got := rows.Maps()[slices.Index(c12, "C1")]["relationship_valid_from"]; got != "2024-01-01T20:00:00+00:00" {
		t.Errorf("C1 relationship_valid_from = %v", got)
	}
	// Edges leave the source only.
	rows, err = f.e.Related(ctx, f.id("C1"), "member_of")
	if err != nil || rows.Len() != 0 {
		t.Errorf("Related(C1, member_of) = %v, %v; want no rows", rows, err)
	}
	rows, err = f.e.Related(ctx, f.id("C3"), "has_member")
	if err != nil || rows.Len() != 1 || rows.Value(0, "person_id") != f.id("dave") || rows.Value(0, "name") != "Dave" {
		t.Errorf("Related(C3, has_member) = %v, %v", rows, err)
	}
	_, err = f.e.Related(ctx, f.id("alice"), "memberof")
	wantKind(t, err, ErrValidation)
	if !strings.Contains(err.Error(), "did you mean 'member_of'") {
		t.Errorf("error %q should suggest member_of", err)
	}
	_, err = f.e.Related(ctx, "nobody", "member_of")
	wantKind(t, err, ErrNotFound)
}

func TestGraphConnectedComponents(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	cs, err := f.e.ConnectedComponents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	comps := [][]string{
		f.byID("alice", "bob", "carol", "frank", "C1", "C2"),
		f.byID("dave", "C3"),
		{"erin"},
	}
	var want []ComponentMember
	for _, c := range comps {
		for _, n := range c {
			typ := "person"
			if strings.HasPrefix(n, "C") {
				typ = "club"
			}
			want = append(want, ComponentMember{EntityID: f.id(n), EntityType: typ, ComponentID: f.id(c[0])})
		}
	}
	slices.SortFunc(want, func(a, b ComponentMember) int {
		if c := strings.Compare(a.ComponentID, b.ComponentID); c != 0 {
			return c
		}
		return strings.Compare(a.EntityID, b.EntityID)
	})
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("ConnectedComponents =\n%v\nwant\n%v", cs, want)
	}
}

func TestGraphCentralityDegree(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	got, err := f.e.Centrality(ctx, "degree")
	if err != nil {
		t.Fatal(err)
	}
	// Distinct undirected neighbours / (9 − 1); dave and C3 are joined
	// both ways but count once.
	deg := map[string]float64{"C1": 3, "C2": 3, "alice": 2, "bob": 2, "carol": 1, "dave": 1, "frank": 1, "C3": 1, "erin": 0}
	var want []ScoredEntity
	for _, group := range [][]string{f.byID("C1", "C2"), f.byID("alice", "bob"), f.byID("carol", "dave", "frank", "C3"), {"erin"}} {
		for _, n := range group {
			typ := "person"
			if strings.HasPrefix(n, "C") {
				typ = "club"
			}
			want = append(want, ScoredEntity{EntityID: f.id(n), EntityType: typ, Score: deg[n] / 8})
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("degree centrality =\n%v\nwant\n%v", got, want)
	}
	_, err = f.e.Centrality(ctx, "betweenness")
	wantKind(t, err, ErrValidation)
}

func TestGraphCentralityPageRank(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	got, err := f.e.Centrality(ctx, "pagerank")
	if err != nil {
		t.Fatal(err)
	}
	// Oracle: dense power iteration run to convergence.
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "C1", "C2", "C3"}
	edges := [][2]string{{"alice", "C1"}, {"alice", "C2"}, {"bob", "C1"}, {"bob", "C2"}, {"carol", "C2"}, {"dave", "C3"}, {"C1", "frank"}, {"C3", "dave"}}
	n := len(names)
	at := map[string]int{}
	for i, x := range names {
		at[x] = i
	}
	outDeg := make([]float64, n)
	for _, e := range edges {
		outDeg[at[e[0]]]++
	}
	pr := make([]float64, n)
	for i := range pr {
		pr[i] = 1 / float64(n)
	}
	for range 1000 {
		nx := make([]float64, n)
		for j := range n {
			nx[j] = 0.15 / float64(n)
			for i := range n {
				if outDeg[i] == 0 {
					nx[j] += 0.85 * pr[i] / float64(n)
				}
			}
		}
		for _, e := range edges {
			i, j := at[e[0]], at[e[1]]
			nx[j] += 0.85 * pr[i] / outDeg[i]
		}
		pr = nx
	}
	if len(got) != n {
		t.Fatalf("%d rows, want %d", len(got), n)
	}
	sum := 0.0
	for i, s := range got {
		sum += s.Score
		if want := pr[at[f.name(s.EntityID)]]; math.Abs(s.Score-want) > 1e-8 {
			t.Errorf("pagerank(%s) = %v, want %v", f.name(s.EntityID), s.Score, want)
		}
		if i > 0 && (got[i-1].Score < s.Score || got[i-1].Score == s.Score && got[i-1].EntityID > s.EntityID) {
			t.Errorf("rows %d and %d out of order: %v, %v", i-1, i, got[i-1], s)
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("scores sum to %v", sum)
	}
}

func TestGraphSimilar(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	sim := func(of string, top int) []string {
		t.Helper()
		got, err := f.e.Similar(ctx, f.id(of), top)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range got {
			out = append(out, fmt.Sprintf("%s=%g", f.name(s.EntityID), s.Score))
		}
		return out
	}
	cf := f.byID("carol", "frank")
	// N(alice) = {C1, C2}: bob {C1, C2} → 1; carol {C2} and frank {C1} → ½.
	if got, want := sim("alice", 0), []string{"bob=1", cf[0] + "=0.5", cf[1] + "=0.5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Similar(alice) = %v, want %v", got, want)
	}
	if got, want := sim("alice", 2), []string{"bob=1", cf[0] + "=0.5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Similar(alice, 2) = %v, want %v", got, want)
	}
	// N(C1) = {alice, bob, frank}, N(C2) = {alice, bob, carol}: 2/4.
	if got, want := sim("C1", 10), []string{"C2=0.5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Similar(C1) = %v, want %v", got, want)
	}
	if got := sim("erin", 10); len(got) != 0 {
		t.Errorf("Similar(erin) = %v, want none", got)
	}
	_, err := f.e.Similar(ctx, f.id("alice"), -1)
	wantKind(t, err, ErrValidation)
	_, err = f.e.Similar(ctx, "nobody", 1)
	wantKind(t, err, ErrNotFound)
}

// A merge canonicalizes inbound edges and hides the loser's outbound ones;
// the loser's id is no longer a node.
func TestGraphAfterMerge(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	if _, err := f.e.Merge(ctx, f.id("C3"), f.id("C2"), "same club"); err != nil {
		t.Fatal(err)
	}
	ns, err := f.e.Neighbors(ctx, f.id("dave"), "out")
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].EntityID != f.id("C2") || ns[0].RelationshipType != "member_of" {
		t.Errorf("Neighbors(dave, out) after merge = %+v, want member_of C2", ns)
	}
	_, err = f.e.Neighbors(ctx, f.id("C3"), "")
	wantKind(t, err, ErrNotFound)
	if !strings.Contains(err.Error(), "merged into '"+f.id("C2")+"'") {
		t.Errorf("error %q should name the survivor", err)
	}
	p, err := f.e.Path(ctx, f.id("dave"), f.id("carol"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.names(p); !reflect.DeepEqual(got, []string{"dave", "C2", "carol"}) {
		t.Errorf("Path(dave, carol) after merge = %v", got)
	}
}

func TestGraphClosed(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	id := f.id("alice")
	if err := f.e.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := f.e.Neighbors(ctx, id, "")
	wantKind(t, err, ErrClosed)
	_, err = f.e.ConnectedComponents(ctx)
	wantKind(t, err, ErrClosed)
	_, err = f.e.Path(ctx, id, id, 0)
	wantKind(t, err, ErrClosed)
}

// Traverse and Path compile to recursive CTEs over the relationships view
// through the store's dialect.
func TestGraphSQLUsesDialect(t *testing.T) {
	f := openGraph(t)
	b := &sqlBuilder{d: f.e.st.Dialect()}
	s := f.e.edgesCTE(b, "member_of", true)
	if !strings.Contains(s, f.e.relRef()) || len(b.args) != 2 || !strings.Contains(s, b.d.Placeholder(2)) {
		t.Errorf("edges CTE %q with args %v", s, b.args)
	}
}
