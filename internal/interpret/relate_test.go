package interpret

import (
	"errors"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/definition"
)

// relEntity declares one relationship of the given cardinality with a
// constrained property; `link` relates to the target named by event.to,
// `maybe` relates first (with default properties) and creates only when
// event.ok.
func relEntity(card string) entityDef {
	w := prop("weight", definition.TypeInteger, def(vI(1)), minmax(0, 10))
	return entityDef{name: "src", starts: "s",
		props: []*definition.Property{prop("n", definition.TypeInteger, def(vI(0)))},
		states: []stateDef{state("s",
			on("make", "", create()),
			on("maybe", "", relate("links", "dst", []string{"to"}), when("event.ok", create())),
			on("link", "", relate("links", "dst", []string{"to"}, relProp("weight", "event.w"))),
			on("link_bad", "", relate("links", "dst", []string{"to"}), setCompute("n", "1 / 0")),
		)},
		rels: []*definition.Relationship{{Type: "links", Target: "dst", Cardinality: card, Properties: []*definition.Property{w}}},
	}
}

var targets = map[string]string{"a": "A", "b": "B", "c": "C"}

type relWant struct {
	target   string
	from, to string // to "" = open
	weight   int64
	seq      int64
}

func checkRels(t *testing.T, got []RelRow, want []relWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("rel rows = %+v, want %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		ok := g.Type == "links" && g.TargetID == w.target && g.ValidFrom == ts(w.from) &&
			g.Open == (w.to == "") && (w.to == "" || g.ValidTo == ts(w.to)) &&
			g.Props[0].AsInt() == w.weight && (w.seq == 0 || g.EventSeq == w.seq)
		if !ok {
			t.Errorf("rel %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestRelationshipCardinalities(t *testing.T) {
	const (
		d1 = "2024-01-01T00:00:00Z"
		d2 = "2024-01-02T00:00:00Z"
		d3 = "2024-01-03T00:00:00Z"
		d4 = "2024-01-04T00:00:00Z"
	)
	events := []*Event{
		ev(1, "make", d1),
		ev(2, "link", d2, "to", "a", "w", 2),
		ev(3, "link", d3, "to", "b", "w", 2),
		ev(4, "link", d3, "to", "b", "w", 2), // equal fact: nothing
		ev(5, "link", d4, "to", "a", "w", 3),
	}
	tests := []struct {
		card string
		want []relWant
	}{
		{definition.HasOne, []relWant{
			{target: "A", from: d2, to: d3, weight: 2, seq: 2},
			{target: "B", from: d3, to: d4, weight: 2, seq: 3},
			{target: "A", from: d4, weight: 3, seq: 5},
		}},
		{definition.BelongsTo, []relWant{
			{target: "A", from: d2, to: d3, weight: 2},
			{target: "B", from: d3, to: d4, weight: 2},
			{target: "A", from: d4, weight: 3},
		}},
		{definition.HasMany, []relWant{
			{target: "A", from: d2, to: d4, weight: 2},
			{target: "B", from: d3, weight: 2},
			{target: "A", from: d4, weight: 3},
		}},
		{definition.ManyToMany, []relWant{
			{target: "A", from: d2, to: d4, weight: 2},
			{target: "B", from: d3, weight: 2},
			{target: "A", from: d4, weight: 3},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.card, func(t *testing.T) {
			m := machine(relEntity(tc.card), &fakeResolver{known: targets})
			r := m.Recompute("s1", events, 0)
			noFailures(t, r)
			checkRels(t, r.RelRows, tc.want)
			if len(r.Rows) != 1 || len(r.RelClose) != 0 {
				t.Errorf("relate must not touch the entity: rows %d", len(r.Rows))
			}
		})
	}
}

// Stored open rows are closed through RelClose; equal facts change nothing.
func TestRelationshipBaseRows(t *testing.T) {
	m := machine(relEntity(definition.HasOne), &fakeResolver{known: targets})
	first := m.Recompute("s1", []*Event{ev(1, "make", "2024-01-01T00:00:00Z"), ev(2, "link", "2024-01-02T00:00:00Z", "to", "a", "w", 2)}, 0)
	baseRels := first.RelRows
	r := m.Start("s1", first.State, &first.Rows[0], baseRels)
	r.Apply(ev(3, "link", "2024-01-03T00:00:00Z", "to", "a", "w", 2))
	if len(r.RelRows) != 0 || len(r.RelClose) != 0 {
		t.Fatalf("equal fact changed rows: %+v %+v", r.RelRows, r.RelClose)
	}
	r.Apply(ev(4, "link", "2024-01-04T00:00:00Z", "to", "b", "w", 2))
	checkRels(t, r.RelClose, []relWant{{target: "A", from: "2024-01-02T00:00:00Z", to: "2024-01-04T00:00:00Z", weight: 2, seq: 2}})
	checkRels(t, r.RelRows, []relWant{{target: "B", from: "2024-01-04T00:00:00Z", weight: 2, seq: 4}})
	if !baseRels[0].Open {
		t.Error("Start must not modify baseRels")
	}
}

// H1 for relationship rows: the final fact of an instant wins.
func TestRelationshipSameInstant(t *testing.T) {
	const d2 = "2024-01-02T00:00:00Z"
	m := machine(relEntity(definition.HasOne), &fakeResolver{known: targets})
	r := m.Recompute("s1", []*Event{
		ev(1, "make", "2024-01-01T00:00:00Z"),
		ev(2, "link", d2, "to", "a", "w", 2),
		ev(3, "link", d2, "to", "a", "w", 4), // same target: replaced in place
		ev(4, "link", d2, "to", "b", "w", 5), // other target: the A row is dropped
	}, 0)
	noFailures(t, r)
	checkRels(t, r.RelRows, []relWant{{target: "B", from: d2, weight: 5, seq: 4}})

	// Across runs: a stored row at the same instant is superseded
	// (ValidTo == ValidFrom) or replaced by a row with the same key.
	first := m.Recompute("s1", []*Event{ev(1, "make", "2024-01-01T00:00:00Z"), ev(2, "link", d2, "to", "a", "w", 2)}, 0)
	r2 := m.Start("s1", first.State, &first.Rows[0], first.RelRows)
	r2.Apply(ev(3, "link", d2, "to", "b", "w", 2))
	checkRels(t, r2.RelClose, []relWant{{target: "A", from: d2, to: d2, weight: 2}})
	checkRels(t, r2.RelRows, []relWant{{target: "B", from: d2, weight: 2, seq: 3}})

	hm := machine(relEntity(definition.HasMany), &fakeResolver{known: targets})
	first = hm.Recompute("s1", []*Event{ev(1, "make", "2024-01-01T00:00:00Z"), ev(2, "link", d2, "to", "a", "w", 2)}, 0)
	r3 := hm.Start("s1", first.State, &first.Rows[0], first.RelRows)
	r3.Apply(ev(3, "link", d2, "to", "a", "w", 7))
	checkRels(t, r3.RelClose, []relWant{{target: "A", from: d2, to: d2, weight: 2}})
	checkRels(t, r3.RelRows, []relWant{{target: "A", from: d2, weight: 7, seq: 3}})
}

// Facts and pending relates survive only if the event succeeds and the
// entity exists afterwards.
func TestRelationshipFactsNeedEntity(t *testing.T) {
	m := machine(relEntity(definition.HasMany), &fakeResolver{known: targets})
	r := m.Start("s1", nil, nil, nil)
	r.Apply(ev(1, "maybe", "2024-01-01T00:00:00Z", "to", "a", "ok", false))
	r.Apply(ev(2, "maybe", "2024-01-02T00:00:00Z", "to", "zzz", "ok", false))
	if r.State != nil || len(r.RelRows) != 0 || len(r.Pending) != 0 {
		t.Fatalf("facts kept for an absent entity: %+v %+v", r.RelRows, r.Pending)
	}
	r.Apply(ev(3, "maybe", "2024-01-03T00:00:00Z", "to", "a", "ok", true))
	noFailures(t, r)
	checkRels(t, r.RelRows, []relWant{{target: "A", from: "2024-01-03T00:00:00Z", weight: 1, seq: 3}}) // default weight
	r.Apply(ev(4, "link_bad", "2024-01-04T00:00:00Z", "to", "b"))
	r.Apply(ev(5, "link_bad", "2024-01-05T00:00:00Z", "to", "zzz"))
	if len(r.RelRows) != 1 || len(r.Pending) != 0 || len(r.Failures) != 2 {
		t.Errorf("failed events kept facts: %+v %+v", r.RelRows, r.Pending)
	}
	r.Apply(ev(6, "link", "2024-01-06T00:00:00Z", "to", "zzz"))
	if len(r.Pending) != 1 || r.Pending[0].Type != "links" || r.Pending[0].EventSeq != 6 || r.Pending[0].KeyHashes[0] != "hash:to:zzz" {
		t.Errorf("pending = %+v", r.Pending)
	}
}

// D13: relationship properties are converted and constrained when relate
// runs; a violation fails the event naming relationship and property.
func TestRelationshipPropertyConstraint(t *testing.T) {
	m := machine(relEntity(definition.HasMany), &fakeResolver{known: targets})
	r := m.Start("s1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "link", "2024-01-02T00:00:00Z", "to", "a", "w", 11))
	r.Apply(ev(3, "link", "2024-01-03T00:00:00Z", "to", "a", "w", 2.5))
	if len(r.Failures) != 2 || len(r.RelRows) != 0 {
		t.Fatalf("failures %+v rows %+v", r.Failures, r.RelRows)
	}
	f := r.Failures[0]
	if f.Field != "weight" || f.Message != "relationship links property weight: value 11 is above the maximum 10" ||
		f.Location != "entities.src.states.s.when.link.effects[0].relate.properties.weight" {
		t.Errorf("failure %+v", f)
	}
	if f := r.Failures[1]; f.Field != "weight" || !strings.Contains(f.Message, "relationship links: cannot assign Float 2.5 to property weight of type integer") {
		t.Errorf("failure %+v", f)
	}
}

// A resolver error aborts the run.
func TestResolverError(t *testing.T) {
	boom := errors.New("boom")
	m := machine(relEntity(definition.HasMany), &fakeResolver{err: boom})
	r := m.Start("s1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "link", "2024-01-02T00:00:00Z", "to", "a"))
	if !errors.Is(r.Err, boom) {
		t.Fatalf("Err = %v", r.Err)
	}
	r.Apply(ev(3, "make", "2024-01-03T00:00:00Z"))
	if r.Applied != 1 {
		t.Errorf("run continued after an error: applied %d", r.Applied)
	}
}
