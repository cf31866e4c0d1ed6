package interpret

import (
	"math"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// customer is the entity of conformance scenarios 050–054.
func customer() entityDef {
	return entityDef{
		name:   "customer",
		starts: "lead",
		props: []*definition.Property{
			prop("email", definition.TypeString),
			prop("note", definition.TypeString),
			prop("plan", definition.TypeString, def(vS("free"))),
			prop("mrr", definition.TypeNumber, def(vF(0))),
			prop("annual_revenue", definition.TypeNumber, compute("entity.mrr * 12")),
			prop("status", definition.TypeString),
			prop("tier", definition.TypeString, def(vS("standard"))),
			prop("logins", definition.TypeInteger, def(vI(0))),
			prop("balance", definition.TypeInteger, def(vI(100))),
		},
		states: []stateDef{
			state("lead",
				on("signup", "", create(), setFrom("email", "event.email")),
				on("note", "", setFrom("note", "event.note")),
				on("activate", "", setFrom("mrr", "event.mrr"), transition("active")),
			),
			state("active",
				on("upgrade", "event.plan != entity.plan", setFrom("plan", "event.plan")),
				on("set_status", "", setValue("status", vS("pending"))),
				on("reprice", "", setCompute("mrr", "entity.mrr * 12")),
				on("login", "", incr("logins", vNull)),
				on("charge", "", incr("balance", vI(-50))),
				on("promote", "", setValue("mrr", vF(100)), when("entity.mrr > 50", setValue("tier", vS("premium")))),
				on("demote", "", setValue("mrr", vF(10)), when("entity.mrr > 50", setValue("tier", vS("premium")))),
				on("cancel", "", transition("churned")),
			),
			state("churned"),
		},
	}
}

const alice = "alice@test.com"

// Scenario 050: create sets defaults (computed from them), a second create
// changes nothing and writes no row, though it is activity.
func TestCreateInitializesDefaultsAndIsIdempotent(t *testing.T) {
	m := machine(customer(), nil)
	r := m.Start("c1", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-15T10:00:00Z", "email", alice, "mrr", 99, "plan", "gold"))
	r.Apply(ev(2, "note", "2024-01-15T10:05:00Z", "email", alice, "note", "vip"))
	r.Apply(ev(3, "signup", "2024-01-15T10:10:00Z", "email", alice, "mrr", 5, "plan", "bronze"))
	noFailures(t, r)
	if !r.Created || !r.Changed || r.Applied != 3 {
		t.Errorf("Created=%v Changed=%v Applied=%d", r.Created, r.Changed, r.Applied)
	}
	st := r.State
	if st.State != "lead" || st.EntityID != "c1" || st.EntityType != "customer" {
		t.Errorf("state = %+v", st)
	}
	eq(t, "email", r.prop("email"), vS(alice))
	eq(t, "note", r.prop("note"), vS("vip"))
	eq(t, "plan", r.prop("plan"), vS("free"))
	eq(t, "mrr", r.prop("mrr"), vF(0))
	eq(t, "annual_revenue", r.prop("annual_revenue"), vF(0))
	eq(t, "status", r.prop("status"), vNull)
	eq(t, "tier", r.prop("tier"), vS("standard"))
	eq(t, "logins", r.prop("logins"), vI(0))
	eq(t, "balance", r.prop("balance"), vI(100))
	if st.CreatedTime != ts("2024-01-15T10:00:00Z") || st.LastEventTime != ts("2024-01-15T10:10:00Z") {
		t.Errorf("times: created %d last event %d", st.CreatedTime, st.LastEventTime)
	}
	if len(r.Rows) != 2 {
		t.Fatalf("rows = %d, want 2", len(r.Rows))
	}
	if got := r.Rows[1].LastEventTime; got != ts("2024-01-15T10:05:00Z") {
		t.Errorf("open row last_event_time = %s", value.FormatTime(got))
	}
	if r.Rows[0].EventSeq != 1 || r.Rows[1].EventSeq != 2 {
		t.Errorf("event seqs %d %d", r.Rows[0].EventSeq, r.Rows[1].EventSeq)
	}
	if st.LastAppliedSeq != 3 || st.LastAppliedTime != ts("2024-01-15T10:10:00Z") {
		t.Errorf("last applied %d@%d", st.LastAppliedSeq, st.LastAppliedTime)
	}
}

// Scenario 051: set from an event field, a literal and a compute; computed
// properties follow every change.
func TestSetFromLiteralAndCompute(t *testing.T) {
	m := machine(customer(), nil)
	r := m.Start("c1", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-15T10:00:00Z", "email", alice))
	r.Apply(ev(2, "activate", "2024-01-15T11:00:00Z", "email", alice, "mrr", 99.0))
	r.Apply(ev(3, "set_status", "2024-01-16T10:00:00Z", "email", alice))
	r.Apply(ev(4, "reprice", "2024-01-17T10:00:00Z", "email", alice))
	noFailures(t, r)
	want := []struct {
		state        string
		mrr, revenue float64
		status       value.Value
	}{
		{"lead", 0, 0, vNull},
		{"active", 99, 1188, vNull},
		{"active", 99, 1188, vS("pending")},
		{"active", 1188, 14256, vS("pending")},
	}
	if len(r.Rows) != len(want) {
		t.Fatalf("rows = %d", len(r.Rows))
	}
	for i, w := range want {
		if r.Rows[i].State != w.state {
			t.Errorf("row %d state %s", i, r.Rows[i].State)
		}
		eq(t, "mrr", r.rowProp(i, "mrr"), vF(w.mrr))
		eq(t, "annual_revenue", r.rowProp(i, "annual_revenue"), vF(w.revenue))
		eq(t, "status", r.rowProp(i, "status"), w.status)
	}
	if r.Rows[1].StateEnteredTime != ts("2024-01-15T11:00:00Z") {
		t.Errorf("state_entered_time not set by transition")
	}
}

// Scenario 052: increment by default 1 and by a negative step.
func TestIncrement(t *testing.T) {
	m := machine(customer(), nil)
	r := m.Start("c1", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-15T10:00:00Z", "email", alice))
	r.Apply(ev(2, "activate", "2024-01-15T10:01:00Z", "email", alice, "mrr", 10))
	for i, at := range []string{"2024-01-16T10:00:00Z", "2024-01-16T11:00:00Z", "2024-01-16T12:00:00Z"} {
		r.Apply(ev(int64(3+i), "login", at, "email", alice))
	}
	for i, at := range []string{"2024-01-17T10:00:00Z", "2024-01-18T10:00:00Z", "2024-01-19T10:00:00Z"} {
		r.Apply(ev(int64(6+i), "charge", at, "email", alice))
	}
	noFailures(t, r)
	eq(t, "logins", r.prop("logins"), vI(3))
	eq(t, "balance", r.prop("balance"), vI(-50))
	eq(t, "mrr", r.prop("mrr"), vF(10)) // Int event value stored as Float
	if len(r.Rows) != 8 {
		t.Errorf("rows = %d, want 8", len(r.Rows))
	}
}

func TestIncrementCases(t *testing.T) {
	tests := []struct {
		name    string
		typ     definition.Type
		start   value.Value
		by      value.Value
		want    value.Value
		wantErr string
	}{
		{"null counts as zero", definition.TypeInteger, vNull, vI(1), vI(1), ""},
		{"integer step", definition.TypeInteger, vI(5), vI(-7), vI(-2), ""},
		{"integral float step", definition.TypeInteger, vI(5), vF(2), vI(7), ""},
		{"overflow", definition.TypeInteger, vI(math.MaxInt64), vI(1), vNull, "integer overflow"},
		{"underflow", definition.TypeInteger, vI(math.MinInt64), vI(-1), vNull, "integer overflow"},
		{"fractional step on integer", definition.TypeInteger, vI(1), vF(0.5), vNull, "step must be an integer"},
		{"number from null", definition.TypeNumber, vNull, vF(0.5), vF(0.5), ""},
		{"number int step", definition.TypeNumber, vF(1.5), vI(2), vF(3.5), ""},
		{"number overflow", definition.TypeNumber, vF(math.MaxFloat64), vF(math.MaxFloat64), vNull, "not finite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := entityDef{name: "c", starts: "s",
				props: []*definition.Property{prop("n", tc.typ)},
				states: []stateDef{state("s",
					on("make", "", create(), setValue("n", tc.start)),
					on("bump", "", incr("n", tc.by)),
				)},
			}
			r := machine(d, nil).Start("c1", nil, nil, nil)
			r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
			r.Apply(ev(2, "bump", "2024-01-02T00:00:00Z"))
			if tc.wantErr != "" {
				if len(r.Failures) != 1 || !strings.Contains(r.Failures[0].Message, tc.wantErr) {
					t.Fatalf("failures = %+v, want %q", r.Failures, tc.wantErr)
				}
				f := r.Failures[0]
				if f.Field != "n" || f.Location != "entities.c.states.s.when.bump.effects[0].increment" || f.EventSeq != 2 {
					t.Errorf("failure = %+v", f)
				}
				eq(t, "n", r.prop("n"), tc.start)
				return
			}
			noFailures(t, r)
			eq(t, "n", r.prop("n"), tc.want)
		})
	}
}

// Scenario 053 and guard evaluation: true fires, false and Null do nothing
// (no activity), non-Bool fails the event (scenario 057).
func TestGuards(t *testing.T) {
	tests := []struct {
		name     string
		guard    string
		data     []any
		fired    bool
		location string
	}{
		{"true", "event.points > 0", []any{"points", 5}, true, ""},
		{"false", "event.points > 0", []any{"points", 0}, false, ""},
		{"null", "event.points > 0", nil, false, ""},
		{"null literal", "event.flag", nil, false, ""},
		{"non-bool", "event.points", []any{"points", 5}, false, "entities.customer.states.lead.when.score.guard"},
		{"runtime error", "event.points / 0 > 1", []any{"points", 5}, false, "entities.customer.states.lead.when.score.guard"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := entityDef{name: "customer", starts: "lead",
				props: []*definition.Property{prop("score", definition.TypeInteger, def(vI(0)))},
				states: []stateDef{state("lead",
					on("signup", "", create()),
					on("score", tc.guard, incr("score", vNull)),
				)},
			}
			r := machine(d, nil).Start("c1", nil, nil, nil)
			r.Apply(ev(1, "signup", "2024-01-15T10:00:00Z"))
			r.Apply(ev(2, "score", "2024-01-15T11:00:00Z", tc.data...))
			want := vI(0)
			if tc.fired {
				want = vI(1)
			}
			eq(t, "score", r.prop("score"), want)
			wantLET := ts("2024-01-15T10:00:00Z")
			if tc.fired {
				wantLET = ts("2024-01-15T11:00:00Z")
			}
			if r.State.LastEventTime != wantLET {
				t.Errorf("last_event_time = %s", value.FormatTime(r.State.LastEventTime))
			}
			if r.Applied != 2 || r.State.LastAppliedSeq != 2 {
				t.Errorf("applied = %d, last seq %d", r.Applied, r.State.LastAppliedSeq)
			}
			if tc.location == "" {
				noFailures(t, r)
				return
			}
			if len(r.Failures) != 1 {
				t.Fatalf("failures = %+v", r.Failures)
			}
			f := r.Failures[0]
			if f.Location != tc.location || f.EventSeq != 2 || f.EventID != "ev2" || f.EventType != "score" || f.Source != "app" || f.TimeRule {
				t.Errorf("failure = %+v", f)
			}
			if f.Message == "" {
				t.Error("empty message")
			}
		})
	}
}

// Scenario 053: a guard reading the entity; false writes no row and is no
// activity.
func TestGuardFalseIsNoActivity(t *testing.T) {
	r := machine(customer(), nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-15T10:00:00Z", "email", alice))
	r.Apply(ev(2, "activate", "2024-01-15T10:01:00Z", "email", alice, "mrr", 10))
	r.Apply(ev(3, "upgrade", "2024-01-16T10:00:00Z", "email", alice, "plan", "pro"))
	r.Apply(ev(4, "upgrade", "2024-01-17T10:00:00Z", "email", alice, "plan", "pro"))
	noFailures(t, r)
	if len(r.Rows) != 3 {
		t.Fatalf("rows = %d", len(r.Rows))
	}
	if r.State.LastEventTime != ts("2024-01-16T10:00:00Z") {
		t.Errorf("last_event_time = %s", value.FormatTime(r.State.LastEventTime))
	}
}

// Scenario 054: no handler in the current state: applied, nothing changes.
func TestEventsWithoutHandler(t *testing.T) {
	r := machine(customer(), nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-15T10:00:00Z", "email", alice))
	r.Apply(ev(2, "activate", "2024-01-15T10:01:00Z", "email", alice, "mrr", 10))
	r.Apply(ev(3, "note", "2024-01-16T10:00:00Z", "email", alice, "note", "ignored"))
	r.Apply(ev(4, "cancel", "2024-01-17T10:00:00Z", "email", alice))
	r.Apply(ev(5, "login", "2024-01-18T10:00:00Z", "email", alice))
	r.Apply(ev(6, "activate", "2024-01-19T10:00:00Z", "email", alice, "mrr", 500))
	noFailures(t, r)
	if len(r.Rows) != 3 || r.State.State != "churned" || r.Applied != 6 {
		t.Errorf("rows %d state %s applied %d", len(r.Rows), r.State.State, r.Applied)
	}
	eq(t, "note", r.prop("note"), vNull)
	eq(t, "mrr", r.prop("mrr"), vF(10))
	if r.State.LastEventTime != ts("2024-01-17T10:00:00Z") || r.State.LastAppliedSeq != 6 {
		t.Errorf("last event %s, last applied %d", value.FormatTime(r.State.LastEventTime), r.State.LastAppliedSeq)
	}
}

// Scenario 055: events before the creating one are ignored, not counted.
func TestIgnoreBeforeCreate(t *testing.T) {
	r := machine(customer(), nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "activate", "2024-01-15T09:00:00Z", "email", alice, "mrr", 99))
	if r.State != nil || r.Applied != 0 || len(r.Failures) != 0 || len(r.Rows) != 0 {
		t.Fatalf("ignored event left traces: %+v", r)
	}
	r.Apply(ev(2, "signup", "2024-01-15T10:00:00Z", "email", alice))
	noFailures(t, r)
	if r.Applied != 1 || len(r.Rows) != 1 || r.State.State != "lead" || r.State.CreatedTime != ts("2024-01-15T10:00:00Z") {
		t.Errorf("applied %d rows %d state %+v", r.Applied, len(r.Rows), r.State)
	}
	eq(t, "mrr", r.prop("mrr"), vF(0))
}

// A creating handler whose guard is false leaves the entity absent: nothing
// counted, always handlers do not run.
func TestCreatingGuardFalse(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props:  []*definition.Property{prop("label", definition.TypeString)},
		states: []stateDef{state("s", on("signup", "event.ok", create()))},
		always: []*definition.Handler{on("signup", "", setValue("label", vS("x")))},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-01T00:00:00Z", "ok", false))
	if r.State != nil || r.Applied != 0 || len(r.Failures) != 0 {
		t.Fatalf("run = %+v", r)
	}
	r.Apply(ev(2, "signup", "2024-01-02T00:00:00Z", "ok", true))
	noFailures(t, r)
	eq(t, "label", r.prop("label"), vS("x")) // always runs once the entity exists
}

func alwaysEntity() entityDef {
	return entityDef{name: "customer", starts: "lead",
		props: []*definition.Property{
			prop("email", definition.TypeString),
			prop("note", definition.TypeString),
			prop("tier", definition.TypeString, def(vS("standard"))),
		},
		states: []stateDef{
			state("lead",
				on("signup", "", create(), setFrom("email", "event.email")),
				on("activate", "", transition("active")),
			),
			state("active",
				on("cancel", "", transition("churned")),
				on("tag", "", setValue("tier", vS("from_state"))),
			),
			state("churned"),
		},
		always: []*definition.Handler{
			on("admin_reset", "", transition("lead")),
			on("profile", "", setFrom("note", "event.note")),
			on("tag", "", setCompute("tier", "entity.tier + '+always'")),
		},
	}
}

// Scenario 056: always handlers run in every state after the state's own
// handler and see its effects; none runs before the entity exists.
func TestAlwaysHandlers(t *testing.T) {
	r := machine(alwaysEntity(), nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "profile", "2024-01-15T09:00:00Z", "note", "too early"))
	r.Apply(ev(2, "signup", "2024-01-15T10:00:00Z", "email", alice))
	r.Apply(ev(3, "profile", "2024-01-15T10:30:00Z", "note", "in lead"))
	r.Apply(ev(4, "tag", "2024-01-15T10:45:00Z"))
	noFailures(t, r)
	eq(t, "note", r.prop("note"), vS("in lead"))
	eq(t, "tier", r.prop("tier"), vS("standard+always"))
	if r.Applied != 3 {
		t.Errorf("applied = %d", r.Applied)
	}
	r.Apply(ev(5, "activate", "2024-01-16T10:00:00Z"))
	r.Apply(ev(6, "tag", "2024-01-16T11:00:00Z"))
	eq(t, "tier", r.prop("tier"), vS("from_state+always"))
	r.Apply(ev(7, "cancel", "2024-01-17T10:00:00Z"))
	r.Apply(ev(8, "profile", "2024-01-17T11:00:00Z", "note", "in churned"))
	eq(t, "note", r.prop("note"), vS("in churned"))
	r.Apply(ev(9, "admin_reset", "2024-01-18T10:00:00Z"))
	noFailures(t, r)
	if r.State.State != "lead" || r.State.StateEnteredTime != ts("2024-01-18T10:00:00Z") {
		t.Errorf("state %s entered %s", r.State.State, value.FormatTime(r.State.StateEnteredTime))
	}
}

// Scenario 058: Null conditions are false, increments of Null start from 0.
func TestNullConditionsAndIncrements(t *testing.T) {
	d := entityDef{name: "customer", starts: "lead",
		props: []*definition.Property{
			prop("email", definition.TypeString),
			prop("label", definition.TypeString),
			prop("vip", definition.TypeBoolean),
			prop("visits", definition.TypeInteger),
		},
		states: []stateDef{state("lead",
			on("signup", "", create(), setFrom("email", "event.email"), when("event.vip", setValue("label", vS("new")))),
			on("visit", "", incr("visits", vNull), when("entity.visits >= 2", setValue("vip", vB(true)))),
		)},
		always: []*definition.Handler{on("ping", "", setValue("label", vS("pinged")))},
	}
	m := machine(d, nil)
	r := m.Start("alice", nil, nil, nil)
	r.Apply(ev(1, "ping", "2024-01-01T10:00:00Z", "email", alice))
	r.Apply(ev(2, "signup", "2024-01-02T10:00:00Z", "email", alice))
	r.Apply(ev(3, "visit", "2024-01-03T10:00:00Z", "email", alice))
	r.Apply(ev(4, "visit", "2024-01-04T10:00:00Z", "email", alice))
	r.Apply(ev(6, "ping", "2024-01-05T10:00:00Z", "email", alice))
	noFailures(t, r)
	if len(r.Rows) != 4 {
		t.Fatalf("rows = %d", len(r.Rows))
	}
	eq(t, "row0 label", r.rowProp(0, "label"), vNull)
	eq(t, "row0 visits", r.rowProp(0, "visits"), vNull)
	eq(t, "row1 visits", r.rowProp(1, "visits"), vI(1))
	eq(t, "row1 vip", r.rowProp(1, "vip"), vNull)
	eq(t, "row2 vip", r.rowProp(2, "vip"), vB(true))
	eq(t, "row3 label", r.rowProp(3, "label"), vS("pinged"))

	// bob: normalization made vip a Bool; the condition holds.
	rb := m.Start("bob", nil, nil, nil)
	rb.Apply(ev(5, "signup", "2024-01-04T11:00:00Z", "email", "bob@test.com", "vip", true))
	noFailures(t, rb)
	eq(t, "bob label", rb.prop("label"), vS("new"))
	eq(t, "bob vip", rb.prop("vip"), vNull)

	// carol: a non-Bool condition is a runtime error of the signup.
	rc := m.Start("carol", nil, nil, nil)
	rc.Apply(ev(7, "signup", "2024-01-04T12:00:00Z", "email", "carol@test.com", "vip", "yes"))
	if rc.State != nil || len(rc.Failures) != 1 {
		t.Fatalf("carol: state %+v failures %+v", rc.State, rc.Failures)
	}
	if f := rc.Failures[0]; f.Location != "entities.customer.states.lead.when.signup.effects[2].set.condition" || f.Field != "label" {
		t.Errorf("failure = %+v", f)
	}
}

func constrained() entityDef {
	return entityDef{name: "customer", starts: "lead",
		props: []*definition.Property{
			prop("discount", definition.TypeNumber, def(vF(0)), minmax(0, 0.5)),
			prop("email", definition.TypeString),
			prop("plan", definition.TypeString, def(vS("free")), allowed("free", "pro", "enterprise")),
			prop("seats", definition.TypeInteger, def(vI(1)), minmax(1, 10)),
		},
		states: []stateDef{state("lead",
			on("signup", "", create(), setFrom("email", "event.email")),
			on("change_plan", "", setFrom("plan", "event.plan")),
			on("set_terms", "", setFrom("discount", "event.discount"), setFrom("seats", "event.seats")),
		)},
	}
}

// Scenario 059: allowed and inclusive min/max; a violating event applies
// nothing, later events still apply.
func TestConstraints(t *testing.T) {
	r := machine(constrained(), nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-01T10:00:00Z", "email", alice))
	r.Apply(ev(2, "change_plan", "2024-01-02T10:00:00Z", "plan", "platinum"))
	r.Apply(ev(3, "change_plan", "2024-01-03T10:00:00Z", "plan", "pro"))
	r.Apply(ev(4, "set_terms", "2024-01-04T10:00:00Z", "discount", 0.5, "seats", 10))
	r.Apply(ev(5, "set_terms", "2024-01-05T10:00:00Z", "discount", 0.1, "seats", 11))
	r.Apply(ev(6, "set_terms", "2024-01-06T10:00:00Z", "discount", 0.2, "seats", 0))
	r.Apply(ev(7, "set_terms", "2024-01-07T10:00:00Z", "discount", -0.1, "seats", 3))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := []struct {
		seq   int64
		field string
		msg   string
	}{
		{2, "plan", `property plan: value "platinum" is not allowed (allowed: "free", "pro", "enterprise")`},
		{5, "seats", "property seats: value 11 is above the maximum 10"},
		{6, "seats", "property seats: value 0 is below the minimum 1"},
		{7, "discount", "property discount: value -0.1 is below the minimum 0"},
	}
	if len(r.Failures) != len(want) {
		t.Fatalf("failures = %+v", r.Failures)
	}
	for i, w := range want {
		f := r.Failures[i]
		if f.EventSeq != w.seq || f.Field != w.field || f.Message != w.msg {
			t.Errorf("failure %d = %+v, want %+v", i, f, w)
		}
	}
	if f := r.Failures[1]; f.Location != "entities.customer.states.lead.when.set_terms.effects[1]" {
		t.Errorf("violation location = %q", f.Location)
	}
	if len(r.Rows) != 3 {
		t.Fatalf("rows = %d", len(r.Rows))
	}
	eq(t, "discount", r.prop("discount"), vF(0.5))
	eq(t, "seats", r.prop("seats"), vI(10))
	eq(t, "plan", r.prop("plan"), vS("pro"))
	if r.State.LastEventTime != ts("2024-01-04T10:00:00Z") {
		t.Errorf("failed events moved last_event_time to %s", value.FormatTime(r.State.LastEventTime))
	}
	if r.State.LastAppliedSeq != 7 || r.Applied != 7 {
		t.Errorf("failed events are applied: seq %d applied %d", r.State.LastAppliedSeq, r.Applied)
	}
}

// Constraints are checked after all effects: a transient violation undone by
// a later effect of the same event passes; unchanged violating values (none
// can exist) are not re-checked.
func TestConstraintsCheckedAfterEffects(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props: []*definition.Property{prop("n", definition.TypeInteger, def(vI(1)), minmax(1, 5))},
		states: []stateDef{state("s",
			on("make", "", create()),
			on("wobble", "", setValue("n", vI(9)), setValue("n", vI(3))),
		)},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "wobble", "2024-01-02T00:00:00Z"))
	noFailures(t, r)
	eq(t, "n", r.prop("n"), vI(3))
}

func TestConversions(t *testing.T) {
	dt := ts("2024-01-15T10:00:00Z")
	tests := []struct {
		typ     definition.Type
		in      value.Value
		want    value.Value
		wantErr string
	}{
		{definition.TypeString, vS("x"), vS("x"), ""},
		{definition.TypeString, vI(1), vNull, "cannot assign Int 1 to property p of type string"},
		{definition.TypeInteger, vI(7), vI(7), ""},
		{definition.TypeInteger, vF(7), vI(7), ""},
		{definition.TypeInteger, vF(math.Copysign(0, -1)), vI(0), ""},
		{definition.TypeInteger, vF(7.5), vNull, "cannot assign Float 7.5 to property p of type integer (not an integer in range)"},
		{definition.TypeInteger, vF(1e19), vNull, "not an integer in range"},
		{definition.TypeInteger, vS("7"), vNull, "cannot assign String \"7\" to property p of type integer"},
		{definition.TypeNumber, vF(1.5), vF(1.5), ""},
		{definition.TypeNumber, vI(3), vF(3), ""},
		{definition.TypeNumber, vB(true), vNull, "cannot assign Bool true to property p of type number"},
		{definition.TypeBoolean, vB(false), vB(false), ""},
		{definition.TypeBoolean, vI(0), vNull, "of type boolean"},
		{definition.TypeDateTime, value.DateTime(dt), value.DateTime(dt), ""},
		{definition.TypeDateTime, vS("2024-01-15T11:00:00+01:00"), value.DateTime(dt), ""},
		{definition.TypeDateTime, vS("2024-01-15T10:00:00Z"), value.DateTime(dt), ""},
		{definition.TypeDateTime, vS("2024-01-15T10:00:00"), vNull, "not an RFC 3339 time with offset"},
		{definition.TypeDateTime, vS("2024-01-15"), vNull, "not an RFC 3339 time with offset"},
		{definition.TypeDateTime, vS("0000-01-01T00:00:00Z"), vNull, "not an RFC 3339 time with offset"},
		{definition.TypeDateTime, vI(5), vNull, "cannot assign Int 5 to property p of type datetime"},
		{definition.TypeString, vNull, vNull, ""},
		{definition.TypeInteger, vNull, vNull, ""},
		{definition.TypeString, value.Array([]value.Value{vI(1)}), vNull, "cannot assign Array to property p of type string"},
	}
	for _, tc := range tests {
		p := prop("p", tc.typ)
		got, msg := convert(p, tc.in)
		if tc.wantErr != "" {
			if !strings.Contains(msg, tc.wantErr) {
				t.Errorf("convert(%s, %#v) error %q, want %q", tc.typ, tc.in, msg, tc.wantErr)
			}
			continue
		}
		if msg != "" || !value.Equal(got, tc.want) || got.Kind() != tc.want.Kind() {
			t.Errorf("convert(%s, %#v) = %#v, %q; want %#v", tc.typ, tc.in, got, msg, tc.want)
		}
	}
	// Sensitive values never appear in messages.
	p := prop("email", definition.TypeInteger)
	p.Sensitive = "pii"
	if _, msg := convert(p, vS("alice@test.com")); strings.Contains(msg, "alice") {
		t.Errorf("message leaks a sensitive value: %q", msg)
	}
}

// A conversion error inside a set fails the event with the property named.
func TestSetConversionFailure(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props: []*definition.Property{prop("when", definition.TypeDateTime), prop("n", definition.TypeInteger)},
		states: []stateDef{state("s",
			on("make", "", create()),
			on("at", "", setFrom("n", "event.n"), setFrom("when", "event.at")),
		)},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "at", "2024-01-02T00:00:00Z", "n", 1, "at", "tomorrow"))
	if len(r.Failures) != 1 {
		t.Fatalf("failures = %+v", r.Failures)
	}
	f := r.Failures[0]
	if f.Field != "when" || f.Location != "entities.c.states.s.when.at.effects[1].set.from" ||
		f.Message != `cannot assign String "tomorrow" to property when of type datetime (not an RFC 3339 time with offset)` {
		t.Errorf("failure = %+v", f)
	}
	eq(t, "n rolled back", r.prop("n"), vNull)
	r.Apply(ev(3, "at", "2024-01-03T00:00:00Z", "n", 2, "at", "2024-05-01T00:00:00+02:00"))
	eq(t, "when", r.prop("when"), value.DateTime(ts("2024-04-30T22:00:00Z")))
}

// set from walks nested objects and arrays; implicit event and entity fields
// apply only when no mapped field or property has the name.
func TestFromPathsAndImplicitFields(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props: []*definition.Property{
			prop("city", definition.TypeString),
			prop("first_sku", definition.TypeString),
			prop("missing", definition.TypeString),
			prop("seen_at", definition.TypeDateTime),
			prop("kind", definition.TypeString),
			prop("src", definition.TypeString),
			prop("eid", definition.TypeString),
			prop("me", definition.TypeString),
			prop("where", definition.TypeString),
			prop("born", definition.TypeDateTime),
			prop("copy", definition.TypeString),
			prop("type", definition.TypeString),
			prop("shadow", definition.TypeString),
		},
		states: []stateDef{state("s",
			on("make", "", create(), setValue("type", vS("from property"))),
			on("fill", "",
				setFrom("city", "event.user.address.city"),
				setFrom("first_sku", "event.items.0.sku"),
				setFrom("missing", "event.items.5.sku"),
				setFrom("seen_at", "event.timestamp"),
				setFrom("kind", "event.type"),
				setFrom("src", "event.source"),
				setFrom("eid", "event.id"),
				setFrom("me", "entity.id"),
				setFrom("where", "entity.state"),
				setFrom("born", "entity.created_time"),
				setFrom("copy", "entity.city"),
				setFrom("shadow", "entity.type"),
			),
		)},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "fill", "2024-01-02T00:00:00Z",
		"user", map[string]any{"address": map[string]any{"city": "Oslo"}},
		"items", []any{map[string]any{"sku": "X"}},
	))
	noFailures(t, r)
	eq(t, "city", r.prop("city"), vS("Oslo"))
	eq(t, "first_sku", r.prop("first_sku"), vS("X"))
	eq(t, "missing", r.prop("missing"), vNull)
	eq(t, "seen_at", r.prop("seen_at"), value.DateTime(ts("2024-01-02T00:00:00Z")))
	eq(t, "kind", r.prop("kind"), vS("fill"))
	eq(t, "src", r.prop("src"), vS("app"))
	eq(t, "eid", r.prop("eid"), vS("ev2"))
	eq(t, "me", r.prop("me"), vS("c1"))
	eq(t, "where", r.prop("where"), vS("s"))
	eq(t, "born", r.prop("born"), value.DateTime(ts("2024-01-01T00:00:00Z")))
	eq(t, "copy", r.prop("copy"), vS("Oslo")) // sees the earlier effect
	eq(t, "shadow", r.prop("shadow"), vS("from property"))

	// A mapped field named like an implicit one wins.
	r.Apply(ev(3, "fill", "2024-01-03T00:00:00Z", "type", "mapped", "timestamp", "not a time"))
	if len(r.Failures) != 1 || r.Failures[0].Field != "seen_at" {
		t.Fatalf("failures = %+v", r.Failures)
	}
}

// now() is the event time during interpretation.
func TestNowIsEventTime(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props:  []*definition.Property{prop("at", definition.TypeDateTime)},
		states: []stateDef{state("s", on("make", "", create(), setCompute("at", "now()")))},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-03-01T12:34:56.5Z"))
	noFailures(t, r)
	eq(t, "at", r.prop("at"), value.DateTime(ts("2024-03-01T12:34:56.5Z")))
}

// Computed properties are evaluated in ComputeOrder, each seeing the ones
// before it, then converted and constrained.
func TestComputedOrder(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props: []*definition.Property{
			prop("base", definition.TypeInteger, def(vI(2))),
			prop("double", definition.TypeInteger, compute("entity.base * 2")),
			prop("quad", definition.TypeNumber, compute("entity.double * 2"), minmax(0, 100)),
			prop("label", definition.TypeString, compute("'q=' + to_string(entity.quad)")),
		},
		states: []stateDef{state("s",
			on("make", "", create()),
			on("set", "", setFrom("base", "event.base")),
		)},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	noFailures(t, r)
	eq(t, "double", r.prop("double"), vI(4))
	eq(t, "quad", r.prop("quad"), vF(8))
	eq(t, "label", r.prop("label"), vS("q=8"))
	r.Apply(ev(2, "set", "2024-01-02T00:00:00Z", "base", 30)) // quad 120 > max
	if len(r.Failures) != 1 || r.Failures[0].Field != "quad" || r.Failures[0].Location != "entities.c.properties.quad.compute" {
		t.Fatalf("failures = %+v", r.Failures)
	}
	eq(t, "base rolled back", r.prop("base"), vI(2))
	r.Apply(ev(3, "set", "2024-01-03T00:00:00Z", "base", "x")) // conversion error in the set
	r.Apply(ev(4, "set", "2024-01-04T00:00:00Z", "base", 5))
	eq(t, "label", r.prop("label"), vS("q=20"))
	if len(r.Rows) != 2 {
		t.Errorf("rows = %d", len(r.Rows))
	}
}

// A failing event leaves the state untouched (including activity) and later
// events still apply.
func TestFailureIsolation(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props: []*definition.Property{prop("n", definition.TypeInteger, def(vI(0))), prop("s", definition.TypeString)},
		states: []stateDef{
			state("s",
				on("make", "", create()),
				on("bad", "", setValue("s", vS("dirty")), transition("t"), setCompute("n", "1 / 0")),
				on("good", "", incr("n", vNull)),
			),
			state("t"),
		},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	before := r.State.Clone()
	r.Apply(ev(2, "bad", "2024-01-02T00:00:00Z"))
	if len(r.Failures) != 1 || r.Failures[0].Location != "entities.c.states.s.when.bad.effects[2].set.compute" || r.Failures[0].Field != "n" {
		t.Fatalf("failures = %+v", r.Failures)
	}
	after := r.State
	if after.State != before.State || after.StateEnteredTime != before.StateEnteredTime ||
		after.LastEventTime != before.LastEventTime || !propsEqual(after.Props, before.Props) {
		t.Errorf("state changed by a failed event: %+v", after)
	}
	r.Apply(ev(3, "good", "2024-01-03T00:00:00Z"))
	eq(t, "n", r.prop("n"), vI(1))
	if len(r.Rows) != 2 || r.Applied != 3 {
		t.Errorf("rows %d applied %d", len(r.Rows), r.Applied)
	}
}

// A failing creating event leaves the entity absent; it is not counted.
func TestFailedCreateStaysAbsent(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props:  []*definition.Property{prop("n", definition.TypeInteger)},
		states: []stateDef{state("s", on("make", "", create(), setFrom("n", "event.n")))},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z", "n", "x"))
	if r.State != nil || r.Created || r.Applied != 0 || len(r.Failures) != 1 || len(r.Rows) != 0 {
		t.Fatalf("run = %+v", r)
	}
	r.Apply(ev(2, "make", "2024-01-02T00:00:00Z", "n", 1))
	if r.State == nil || !r.Created || r.State.CreatedTime != ts("2024-01-02T00:00:00Z") {
		t.Fatalf("state = %+v", r.State)
	}
}

// A transition to the current state keeps state_entered_time and writes no
// row.
func TestTransitionToCurrentState(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		states: []stateDef{state("s", on("make", "", create()), on("again", "", transition("s")))},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "again", "2024-01-02T00:00:00Z"))
	noFailures(t, r)
	if len(r.Rows) != 1 || r.State.StateEnteredTime != ts("2024-01-01T00:00:00Z") || r.State.LastEventTime != ts("2024-01-02T00:00:00Z") {
		t.Errorf("rows %d state %+v", len(r.Rows), r.State)
	}
}
