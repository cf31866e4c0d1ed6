package interpret

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

func planEntity() entityDef {
	return entityDef{name: "customer", starts: "lead",
		props: []*definition.Property{
			prop("email", definition.TypeString),
			prop("plan", definition.TypeString, def(vS("free"))),
		},
		states: []stateDef{
			state("lead",
				on("signup", "", create(), setFrom("email", "event.email")),
				on("upgrade", "", transition("active"), setFrom("plan", "event.plan")),
			),
			state("active", on("upgrade", "", setFrom("plan", "event.plan"))),
		},
	}
}

// Scenario 087: two events at one instant give one row holding the final
// state, in one run or across two runs (the second replacing the base row).
func TestSameInstantConsolidation(t *testing.T) {
	m := machine(planEntity(), nil)
	at := "2024-01-15T10:00:00Z"

	r := m.Start("alice", nil, nil, nil)
	r.Apply(ev(1, "signup", at, "email", alice))
	r.Apply(ev(2, "upgrade", at, "plan", "pro"))
	noFailures(t, r)
	if len(r.Rows) != 1 || r.Rows[0].State != "active" || r.Rows[0].EventSeq != 2 || r.Rows[0].ValidFrom != ts(at) {
		t.Fatalf("rows = %+v", r.Rows)
	}
	eq(t, "plan", r.rowProp(0, "plan"), vS("pro"))

	// bob: the same events in two runs.
	r1 := m.Start("bob", nil, nil, nil)
	r1.Apply(ev(3, "signup", at, "email", "bob@test.com"))
	stored := r1.Rows[0]
	r2 := m.Start("bob", r1.State, &stored, nil)
	r2.Apply(ev(4, "upgrade", at, "plan", "pro"))
	noFailures(t, r2)
	if len(r2.Rows) != 1 || r2.Rows[0].State != "active" || r2.Rows[0].EventSeq != 4 || r2.Rows[0].ValidFrom != ts(at) || r2.Created {
		t.Fatalf("rows = %+v", r2.Rows)
	}

	// A later event adds a row; the row at the earlier instant stays.
	r3 := m.Start("bob", r2.State, &r2.Rows[0], nil)
	r3.Apply(ev(5, "upgrade", "2024-01-16T10:00:00Z", "plan", "team"))
	if len(r3.Rows) != 1 || r3.Rows[0].EventSeq != 5 {
		t.Fatalf("rows = %+v", r3.Rows)
	}
}

// A change reverted within one instant produces no row; a change equal to
// the previous row (base included) is dropped.
func TestRowsEqualToPredecessorAreDropped(t *testing.T) {
	m := machine(planEntity(), nil)
	r := m.Start("alice", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-01T00:00:00Z", "email", alice))
	r.Apply(ev(2, "upgrade", "2024-01-02T00:00:00Z", "plan", "pro"))
	r.Apply(ev(3, "upgrade", "2024-01-03T00:00:00Z", "plan", "team"))
	r.Apply(ev(4, "upgrade", "2024-01-03T00:00:00Z", "plan", "pro")) // back to the 01-02 image
	noFailures(t, r)
	if len(r.Rows) != 2 {
		t.Fatalf("rows = %+v", r.Rows)
	}
	if r.Changed != true {
		t.Error("Changed")
	}

	base := r.Rows[1]
	r2 := m.Start("alice", r.State, &base, nil)
	r2.Apply(ev(5, "upgrade", "2024-01-04T00:00:00Z", "plan", "team"))
	r2.Apply(ev(6, "upgrade", "2024-01-04T00:00:00Z", "plan", "pro"))
	if len(r2.Rows) != 0 || r2.Changed {
		t.Fatalf("rows = %+v", r2.Rows)
	}
	if r2.State.LastEventTime != ts("2024-01-04T00:00:00Z") {
		t.Error("activity must still advance last_event_time")
	}
}

// rowStore simulates history Replace for the changed tail of one entity.
type rowStore struct{ rows []Row }

func (s *rowStore) open() *Row {
	if len(s.rows) == 0 {
		return nil
	}
	r := s.rows[len(s.rows)-1]
	r.Props = slices.Clone(r.Props)
	return &r
}

func (s *rowStore) apply(rows []Row) {
	if len(rows) == 0 {
		return
	}
	first := rows[0].ValidFrom
	keep := s.rows[:0:0]
	for _, r := range s.rows {
		if r.ValidFrom < first {
			keep = append(keep, r)
		}
	}
	s.rows = append(keep, rows...)
}

func sameRows(a, b []Row) bool {
	return slices.EqualFunc(a, b, func(x, y Row) bool {
		return x.State == y.State && x.ValidFrom == y.ValidFrom && x.EventSeq == y.EventSeq &&
			x.LastEventTime == y.LastEventTime && x.StateEnteredTime == y.StateEnteredTime &&
			x.CreatedTime == y.CreatedTime && propsEqual(x.Props, y.Props)
	})
}

// Streaming an entity's events in arbitrary batches (each run starting from
// the stored state and open row, advancing to the horizon) gives exactly the
// rows of a recompute.
func TestStreamingEqualsRecompute(t *testing.T) {
	d := entityDef{name: "c", starts: "lead",
		props: []*definition.Property{
			prop("plan", definition.TypeString, def(vS("free"))),
			prop("n", definition.TypeInteger, def(vI(0))),
		},
		states: []stateDef{
			state("lead",
				on("signup", "", create()),
				on("up", "", transition("active"), setFrom("plan", "event.plan")),
				on("noop", "", setValue("plan", vS("free"))),
			),
			state("active",
				on("up", "", setFrom("plan", "event.plan")),
				on("bump", "", incr("n", vNull)),
				on("noop", "", setFrom("plan", "entity.plan")),
			).rules(rule(definition.RuleInactivity, 2*time.Hour, transition("idle"))),
			state("idle",
				on("up", "", transition("active"), setFrom("plan", "event.plan")),
			).rules(
				rule(definition.RuleStateDuration, time.Hour, setValue("plan", vS("basic"))),
				rule(definition.RuleExpiration, 30*time.Hour, transition("lead")),
			),
		},
	}
	m := machine(d, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"up", "up", "bump", "noop", "signup"}
	plans := []string{"a", "b", "c"}
	for iter := range 300 {
		n := 2 + rng.IntN(12)
		at := ts("2024-01-01T00:00:00Z")
		events := []*Event{{Seq: 1, Type: "signup", Time: at}}
		for i := 1; i < n; i++ {
			at += int64(rng.IntN(4)) * time.Hour.Microseconds() / 2 // same instants happen
			events = append(events, &Event{Seq: int64(i + 1), Type: types[rng.IntN(len(types))], Time: at,
				Data: map[string]value.Value{"plan": vS(plans[rng.IntN(len(plans))])}})
		}
		horizon := at + int64(rng.IntN(40))*time.Hour.Microseconds()
		want := m.Recompute("x", events, horizon)

		var store rowStore
		var st *State
		for i := 0; i < len(events); {
			j := i + 1 + rng.IntN(3)
			j = min(j, len(events))
			if b := store.open(); b != nil && events[i].Time == b.ValidFrom {
				// The engine recomputes when the open row's instant changes
				// again: only the row before it can tell whether a row
				// survives there.
				rc := m.Recompute("x", events[:j], events[j-1].Time)
				store.rows = rc.Rows
				st = rc.State.Clone()
				i = j
				continue
			}
			run := m.Start("x", st, store.open(), nil)
			for _, e := range events[i:j] {
				run.Apply(e)
			}
			// A streamed stage advances to its horizon; a horizon past the
			// next event would make that event late (a recompute), so stay
			// at or before it.
			upto := events[j-1].Time
			if j < len(events) && rng.IntN(2) == 0 {
				upto = events[j].Time
			}
			run.Advance(upto)
			store.apply(run.Rows)
			st = run.State.Clone()
			i = j
		}
		final := m.Start("x", st, store.open(), nil)
		final.Advance(horizon)
		store.apply(final.Rows)
		if !sameRows(store.rows, want.Rows) {
			t.Fatalf("iteration %d: streamed rows differ\nstream:    %+v\nrecompute: %+v", iter, store.rows, want.Rows)
		}
		if final.State.State != want.State.State || !propsEqual(final.State.Props, want.State.Props) ||
			final.State.LastFiredTime != want.State.LastFiredTime || final.State.NextDeadline != want.State.NextDeadline {
			t.Fatalf("iteration %d: states differ\nstream:    %+v\nrecompute: %+v", iter, final.State, want.State)
		}
	}
}

// Recompute sorts by (time, sequence) and does not modify its input.
func TestRecomputeOrder(t *testing.T) {
	m := machine(planEntity(), nil)
	events := []*Event{
		ev(3, "upgrade", "2024-01-02T00:00:00Z", "plan", "team"),
		ev(2, "upgrade", "2024-01-02T00:00:00Z", "plan", "pro"),
		ev(1, "signup", "2024-01-01T00:00:00Z"),
	}
	r := m.Recompute("x", events, 0)
	noFailures(t, r)
	eq(t, "plan", r.prop("plan"), vS("team"))
	if events[0].Seq != 3 || len(r.Rows) != 2 || r.Rows[1].EventSeq != 3 {
		t.Errorf("rows %+v", r.Rows)
	}
}

func TestStateClone(t *testing.T) {
	s := &State{Props: []value.Value{vI(1)}, Fired: map[string]int64{"a/0": 1}}
	c := s.Clone()
	c.Props[0] = vI(2)
	c.Fired["a/0"] = 2
	if s.Props[0].AsInt() != 1 || s.Fired["a/0"] != 1 {
		t.Error("Clone shares memory")
	}
	if (*State)(nil).Clone() != nil {
		t.Error("nil clone")
	}
}

// A Machine serves many concurrent runs (run with -race).
func TestMachineConcurrentRuns(t *testing.T) {
	m := machine(showcase(), nil)
	events := []*Event{
		ev(1, "signup", "2024-01-01T00:00:00Z", "email", alice),
		ev(2, "subscribe", "2024-01-02T00:00:00Z", "plan", "pro", "mrr", 49.0),
		ev(3, "login", "2024-01-03T00:00:00Z"),
	}
	want := m.Recompute("c", events, ts("2024-12-01T00:00:00Z"))
	done := make(chan *Run)
	for range 8 {
		go func() { done <- m.Recompute("c", events, ts("2024-12-01T00:00:00Z")) }()
	}
	for range 8 {
		if r := <-done; !sameRows(r.Rows, want.Rows) {
			t.Errorf("concurrent run differs: %+v", r.Rows)
		}
	}
}
