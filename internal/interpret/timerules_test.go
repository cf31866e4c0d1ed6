package interpret

import (
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

const day = 24 * time.Hour

// showcase is the showcase customer of scenarios 063–064.
func showcase() entityDef {
	return entityDef{name: "customer", starts: "lead",
		props: []*definition.Property{
			prop("email", definition.TypeString),
			prop("plan", definition.TypeString, def(vS("free"))),
			prop("mrr", definition.TypeNumber, def(vF(0))),
			prop("annual_revenue", definition.TypeNumber, compute("entity.mrr * 12")),
			prop("login_count", definition.TypeInteger, def(vI(0))),
		},
		states: []stateDef{
			state("lead", on("signup", "", create(), setFrom("email", "event.email"), transition("trial"))),
			state("trial",
				on("subscribe", "", setFrom("plan", "event.plan"), setFrom("mrr", "event.mrr"), transition("active")),
			).rules(rule(definition.RuleStateDuration, 14*day, transition("churned"))),
			state("active",
				on("upgrade", "event.plan != entity.plan", setFrom("plan", "event.plan"), setFrom("mrr", "event.mrr")),
				on("login", "", incr("login_count", vNull)),
				on("cancel", "", transition("churned")),
			).rules(rule(definition.RuleInactivity, 90*day, transition("churned"))),
			state("churned"),
		},
	}
}

func deadline(t *testing.T, r *Run, want string) {
	t.Helper()
	st := r.State
	if want == "" {
		if st.HasDeadline {
			t.Errorf("next deadline %s, want none", value.FormatTime(st.NextDeadline))
		}
		return
	}
	if !st.HasDeadline || st.NextDeadline != ts(want) {
		t.Errorf("next deadline %v %s, want %s", st.HasDeadline, value.FormatTime(st.NextDeadline), want)
	}
	if d, ok := r.m.NextDeadline(st); !ok || d != st.NextDeadline {
		t.Errorf("NextDeadline = %d %v", d, ok)
	}
}

// Scenario 063: state_duration fires exactly 14 days after entering trial;
// the row carries the due instant and a null event sequence.
func TestStateDurationTrialExpires(t *testing.T) {
	m := machine(showcase(), nil)
	dave := m.Start("dave", nil, nil, nil)
	dave.Apply(ev(1, "signup", "2024-01-01T10:00:00Z", "email", "dave@example.com"))
	deadline(t, dave, "2024-01-15T10:00:00Z")
	dave.Advance(ts("2024-01-15T09:59:59Z"))
	if dave.State.State != "trial" || dave.RulesFired != 0 {
		t.Fatalf("fired early: %+v", dave.State)
	}
	dave.Advance(ts("2024-01-15T10:00:00Z"))
	noFailures(t, dave)
	if dave.RulesFired != 1 || dave.Transitions != 1 || dave.State.State != "churned" {
		t.Fatalf("fired %d transitions %d state %s", dave.RulesFired, dave.Transitions, dave.State.State)
	}
	last := dave.Rows[len(dave.Rows)-1]
	if last.State != "churned" || last.ValidFrom != ts("2024-01-15T10:00:00Z") || last.EventSeq != 0 ||
		last.StateEnteredTime != ts("2024-01-15T10:00:00Z") || last.LastEventTime != ts("2024-01-01T10:00:00Z") {
		t.Errorf("row = %+v", last)
	}
	if dave.State.LastFiredTime != ts("2024-01-15T10:00:00Z") || dave.State.Fired["trial/0"] != ts("2024-01-01T10:00:00Z") {
		t.Errorf("fired memory %+v last fired %d", dave.State.Fired, dave.State.LastFiredTime)
	}
	deadline(t, dave, "")

	gina := m.Start("gina", nil, nil, nil)
	gina.Apply(ev(2, "signup", "2024-01-01T11:00:00Z", "email", "gina@example.com"))
	gina.Apply(ev(3, "subscribe", "2024-01-10T11:00:00Z", "plan", "pro", "mrr", 49))
	gina.Advance(ts("2024-01-15T10:00:00Z"))
	if gina.State.State != "active" || gina.RulesFired != 0 {
		t.Errorf("gina %s", gina.State.State)
	}
	deadline(t, gina, "2024-04-09T11:00:00Z")
}

// Scenario 064: inactivity counts from the later of the last event and the
// state entry; 2024 is a leap year.
func TestInactivityChurn(t *testing.T) {
	m := machine(showcase(), nil)
	erin := m.Start("erin", nil, nil, nil)
	erin.Apply(ev(1, "signup", "2024-01-01T10:00:00Z"))
	erin.Apply(ev(2, "subscribe", "2024-01-02T09:00:00Z", "plan", "pro", "mrr", 49))
	frank := m.Start("frank", nil, nil, nil)
	frank.Apply(ev(3, "signup", "2024-01-01T12:00:00Z"))
	frank.Apply(ev(4, "subscribe", "2024-01-02T12:00:00Z", "plan", "pro", "mrr", 49))
	frank.Apply(ev(5, "login", "2024-03-15T08:00:00Z"))
	for _, r := range []*Run{erin, frank} {
		r.Advance(ts("2024-04-01T08:59:59Z"))
		if r.State.State != "active" {
			t.Fatalf("%s churned early", r.State.EntityID)
		}
		r.Advance(ts("2024-04-01T09:00:00Z"))
	}
	if erin.State.State != "churned" || erin.State.StateEnteredTime != ts("2024-04-01T09:00:00Z") || erin.RulesFired != 1 {
		t.Errorf("erin %+v", erin.State)
	}
	if frank.State.State != "active" || frank.RulesFired != 0 {
		t.Errorf("frank %+v", frank.State)
	}
	deadline(t, frank, "2024-06-13T08:00:00Z")
}

func activeEntity(rules ...*definition.TimeRule) entityDef {
	return entityDef{name: "customer", starts: "lead",
		props: []*definition.Property{
			prop("email", definition.TypeString),
			prop("plan", definition.TypeString, def(vS("free"))),
		},
		states: []stateDef{
			state("lead",
				on("signup", "", create(), setFrom("email", "event.email"), transition("active")),
				on("upgrade", "", transition("active"), setFrom("plan", "event.plan")),
			),
			state("active", on("upgrade", "", setFrom("plan", "event.plan"))).rules(rules...),
			state("churned"),
		},
	}
}

// Scenario 066: inactivity is due exactly the threshold after the last
// handled event; a later event pushes the deadline.
func TestInactivityDueInstant(t *testing.T) {
	m := machine(activeEntity(rule(definition.RuleInactivity, 30*day, transition("churned"))), nil)
	a := m.Start("alice", nil, nil, nil)
	a.Apply(ev(1, "signup", "2024-01-01T00:00:00Z"))
	b := m.Start("bob", nil, nil, nil)
	b.Apply(ev(2, "signup", "2024-01-01T00:00:00Z"))
	b.Apply(ev(3, "upgrade", "2024-01-20T00:00:00Z", "plan", "pro"))
	for _, r := range []*Run{a, b} {
		r.Advance(ts("2024-01-30T23:59:59Z"))
		r.Advance(ts("2024-01-31T00:00:00Z"))
	}
	if a.State.State != "churned" || b.State.State != "active" {
		t.Fatalf("alice %s bob %s", a.State.State, b.State.State)
	}
	if len(a.Rows) != 2 || a.Rows[1].LastEventTime != ts("2024-01-01T00:00:00Z") {
		t.Errorf("alice rows %+v", a.Rows)
	}
	b.Advance(ts("2024-02-18T23:59:59Z"))
	if b.State.State != "active" {
		t.Fatal("bob churned early")
	}
	b.Advance(ts("2024-02-19T00:00:00Z"))
	if b.State.State != "churned" {
		t.Fatal("bob did not churn")
	}
}

// Scenario 067: an expiration rule fires once per creation time.
func TestExpirationFiresOncePerCreation(t *testing.T) {
	d := entityDef{name: "membership", starts: "new",
		props: []*definition.Property{prop("renewals", definition.TypeInteger, def(vI(0)))},
		states: []stateDef{
			state("new", on("joined", "", create(), transition("active"))),
			state("active").rules(rule(definition.RuleExpiration, 30*day, transition("lapsed"))),
			state("lapsed", on("renewed", "", incr("renewals", vNull), transition("active"))),
		},
	}
	r := machine(d, nil).Start("m1", nil, nil, nil)
	r.Apply(ev(1, "joined", "2024-01-01T00:00:00Z"))
	r.Advance(ts("2024-02-01T00:00:00Z"))
	if len(r.Rows) != 2 || r.Rows[1].State != "lapsed" || r.Rows[1].ValidFrom != ts("2024-01-31T00:00:00Z") {
		t.Fatalf("rows %+v", r.Rows)
	}
	r.Apply(ev(2, "renewed", "2024-02-05T00:00:00Z"))
	deadline(t, r, "")
	r.Advance(ts("2024-06-01T00:00:00Z"))
	noFailures(t, r)
	if r.State.State != "active" || r.RulesFired != 1 || r.State.StateEnteredTime != ts("2024-02-05T00:00:00Z") {
		t.Errorf("state %+v fired %d", r.State, r.RulesFired)
	}
	eq(t, "renewals", r.prop("renewals"), vI(1))
}

// An expiration whose due instant precedes the entry into its state is due
// at the entry instant (a firing never predates the state it leaves).
func TestExpirationDueAtEntry(t *testing.T) {
	d := entityDef{name: "m", starts: "new",
		states: []stateDef{
			state("new", on("joined", "", create()), on("go", "", transition("active"))),
			state("active").rules(rule(definition.RuleExpiration, day, transition("lapsed"))),
			state("lapsed"),
		},
	}
	r := machine(d, nil).Start("m1", nil, nil, nil)
	r.Apply(ev(1, "joined", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "go", "2024-01-10T00:00:00Z"))
	deadline(t, r, "2024-01-10T00:00:00Z")
	r.Advance(ts("2024-01-10T00:00:00Z"))
	noFailures(t, r)
	// The event row and the firing share the instant: one row, final state,
	// keeping the event's sequence.
	if len(r.Rows) != 2 || r.Rows[1].State != "lapsed" || r.Rows[1].EventSeq != 2 || r.Rows[1].ValidFrom != ts("2024-01-10T00:00:00Z") {
		t.Fatalf("rows %+v", r.Rows)
	}
}

// Scenario 068: state_duration ignores activity within the state.
func TestStateDurationIgnoresActivity(t *testing.T) {
	m := machine(activeEntity(rule(definition.RuleStateDuration, 14*day, transition("churned"))), nil)
	r := m.Start("alice", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "upgrade", "2024-01-10T00:00:00Z", "plan", "pro"))
	r.Apply(ev(3, "upgrade", "2024-01-14T00:00:00Z", "plan", "team"))
	r.Advance(ts("2024-01-15T00:00:00Z"))
	if r.State.State != "churned" || r.State.StateEnteredTime != ts("2024-01-15T00:00:00Z") || r.State.LastEventTime != ts("2024-01-14T00:00:00Z") {
		t.Errorf("state %+v", r.State)
	}
}

// Scenario 069: due rules fire before the next event, which then meets the
// new state; the firing stands even though the event is ignored.
func TestRulesFireBeforeEvent(t *testing.T) {
	d := activeEntity(rule(definition.RuleInactivity, day, transition("inactive")))
	d.states = append(d.states, state("inactive", on("reactivate", "", transition("active"))))
	r := machine(d, nil).Start("alice", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-01T10:00:00Z"))
	r.Apply(ev(2, "upgrade", "2024-01-03T10:00:00Z", "plan", "pro"))
	noFailures(t, r)
	if r.State.State != "inactive" || r.State.LastEventTime != ts("2024-01-01T10:00:00Z") {
		t.Fatalf("state %+v", r.State)
	}
	eq(t, "plan", r.prop("plan"), vS("free"))
	if len(r.Rows) != 2 || r.Rows[1].ValidFrom != ts("2024-01-02T10:00:00Z") || r.Rows[1].EventSeq != 0 {
		t.Fatalf("rows %+v", r.Rows)
	}
	if r.State.LastAppliedSeq != 2 {
		t.Error("the ignored event is still applied")
	}
	r.Apply(ev(3, "reactivate", "2024-01-04T10:00:00Z"))
	if r.State.State != "active" || r.State.StateEnteredTime != ts("2024-01-04T10:00:00Z") || r.State.LastEventTime != ts("2024-01-04T10:00:00Z") {
		t.Errorf("state %+v", r.State)
	}
}

// Scenario 070: time rules set properties and computed properties follow.
func TestRuleSetAndComputed(t *testing.T) {
	d := entityDef{name: "customer", starts: "lead",
		props: []*definition.Property{
			prop("mrr", definition.TypeNumber, def(vF(0))),
			prop("annual_revenue", definition.TypeNumber, compute("entity.mrr * 12")),
			prop("dormant", definition.TypeBoolean, def(vB(false))),
		},
		states: []stateDef{
			state("lead", on("signup", "", create(), transition("active"))),
			state("active", on("reprice", "", setFrom("mrr", "event.mrr"))).rules(
				rule(definition.RuleInactivity, 30*day, setValue("mrr", vF(0)), setValue("dormant", vB(true)), transition("churned"))),
			state("churned"),
		},
	}
	r := machine(d, nil).Start("alice", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "reprice", "2024-01-02T00:00:00Z", "mrr", 99))
	eq(t, "annual_revenue", r.prop("annual_revenue"), vF(1188))
	r.Advance(ts("2024-03-01T00:00:00Z"))
	noFailures(t, r)
	last := len(r.Rows) - 1
	if r.Rows[last].State != "churned" || r.Rows[last].ValidFrom != ts("2024-02-01T00:00:00Z") {
		t.Fatalf("rows %+v", r.Rows)
	}
	eq(t, "mrr", r.rowProp(last, "mrr"), vF(0))
	eq(t, "annual_revenue", r.rowProp(last, "annual_revenue"), vF(0))
	eq(t, "dormant", r.rowProp(last, "dormant"), vB(true))
	if r.RulesFired != 1 || r.Transitions != 1 {
		t.Errorf("fired %d transitions %d", r.RulesFired, r.Transitions)
	}
}

// Scenario 071: one evaluation cascades through states, one threshold per
// state, one row per firing.
func TestCascade(t *testing.T) {
	d := entityDef{name: "customer", starts: "lead",
		props: []*definition.Property{prop("plan", definition.TypeString, def(vS("free")))},
		states: []stateDef{
			state("lead",
				on("signup", "", create()),
				on("upgrade", "", transition("active"), setFrom("plan", "event.plan")),
			),
			state("active").rules(rule(definition.RuleInactivity, day, transition("churned"))),
			state("churned").rules(rule(definition.RuleInactivity, day, transition("lead"))),
		},
	}
	events := []*Event{
		ev(1, "signup", "2024-01-01T10:00:00Z"),
		ev(2, "upgrade", "2024-01-01T10:01:00Z", "plan", "pro"),
	}
	r := machine(d, nil).Recompute("alice", events, ts("2024-02-01T00:00:00Z"))
	noFailures(t, r)
	want := []struct {
		state, from string
		seq         int64
	}{
		{"lead", "2024-01-01T10:00:00Z", 1},
		{"active", "2024-01-01T10:01:00Z", 2},
		{"churned", "2024-01-02T10:01:00Z", 0},
		{"lead", "2024-01-03T10:01:00Z", 0},
	}
	if len(r.Rows) != len(want) {
		t.Fatalf("rows %+v", r.Rows)
	}
	for i, w := range want {
		row := r.Rows[i]
		if row.State != w.state || row.ValidFrom != ts(w.from) || row.EventSeq != w.seq || row.LastEventTime != ts("2024-01-01T10:01:00Z") && i > 0 {
			t.Errorf("row %d = %+v, want %+v", i, row, w)
		}
	}
	if r.RulesFired != 2 || r.Transitions != 2 || r.State.LastFiredTime != ts("2024-01-03T10:01:00Z") {
		t.Errorf("fired %d transitions %d last fired %d", r.RulesFired, r.Transitions, r.State.LastFiredTime)
	}
	deadline(t, r, "")
}

// Scenario 072: threshold units are exact; each state_duration counts from
// the previous firing.
func TestThresholdUnits(t *testing.T) {
	d := activeEntity(rule(definition.RuleInactivity, 36*time.Hour, transition("idle")))
	d.states = append(d.states,
		state("idle").rules(rule(definition.RuleStateDuration, 90*time.Minute, transition("dormant"))),
		state("dormant").rules(rule(definition.RuleStateDuration, 45*time.Second, transition("archived"))),
		state("archived"),
	)
	r := machine(d, nil).Start("alice", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-01T00:00:00Z"))
	steps := []struct{ at, state string }{
		{"2024-01-02T11:59:59Z", "active"},
		{"2024-01-02T12:00:00Z", "idle"},
		{"2024-01-02T13:29:59Z", "idle"},
		{"2024-01-02T13:30:00Z", "dormant"},
		{"2024-01-02T13:30:44Z", "dormant"},
		{"2024-01-02T13:30:45Z", "archived"},
	}
	for _, s := range steps {
		r.Advance(ts(s.at))
		if r.State.State != s.state {
			t.Fatalf("at %s state %s, want %s", s.at, r.State.State, s.state)
		}
	}
	if len(r.Rows) != 4 {
		t.Errorf("rows %+v", r.Rows)
	}
}

// A time-rule condition is evaluated in entity context with now() = the due
// instant; a false condition fires (marks, counts) without changing anything.
func TestRuleConditionsAndNow(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props: []*definition.Property{
			prop("vip", definition.TypeBoolean, def(vB(false))),
			prop("warned_at", definition.TypeDateTime),
			prop("warnings", definition.TypeInteger),
		},
		states: []stateDef{
			state("s", on("make", "", create(), setFrom("vip", "event.vip"))).rules(
				rule(definition.RuleInactivity, time.Hour,
					when("not entity.vip", setCompute("warned_at", "now()")),
					when("not entity.vip", incr("warnings", vNull)),
				),
			),
		},
	}
	m := machine(d, nil)
	r := m.Recompute("c1", []*Event{ev(1, "make", "2024-01-01T00:00:00Z", "vip", false)}, ts("2024-01-02T00:00:00Z"))
	noFailures(t, r)
	eq(t, "warned_at", r.prop("warned_at"), value.DateTime(ts("2024-01-01T01:00:00Z")))
	eq(t, "warnings", r.prop("warnings"), vI(1))
	if r.RulesFired != 1 || r.Transitions != 0 || len(r.Rows) != 2 {
		t.Errorf("fired %d transitions %d rows %d", r.RulesFired, r.Transitions, len(r.Rows))
	}

	v := m.Recompute("c2", []*Event{ev(1, "make", "2024-01-01T00:00:00Z", "vip", true)}, ts("2024-01-02T00:00:00Z"))
	noFailures(t, v)
	if v.RulesFired != 1 || len(v.Rows) != 1 || v.State.LastFiredTime != ts("2024-01-01T01:00:00Z") {
		t.Errorf("fired %d rows %d last fired %d", v.RulesFired, len(v.Rows), v.State.LastFiredTime)
	}
	deadline(t, v, "")
}

// A failing firing rolls back its effects, stays marked fired, records a
// time-rule failure and does not count; later rules and events proceed.
func TestRuleFailure(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props: []*definition.Property{prop("n", definition.TypeInteger, def(vI(0)), minmax(0, 5))},
		states: []stateDef{
			state("s", on("make", "", create()), on("poke", "", incr("n", vNull))).rules(
				rule(definition.RuleInactivity, time.Hour, transition("t"), setValue("n", vI(99))),
				rule(definition.RuleStateDuration, 2*time.Hour, transition("u")),
			),
			state("t"), state("u"),
		},
	}
	r := machine(d, nil).Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	r.Advance(ts("2024-01-01T01:30:00Z"))
	if len(r.Failures) != 1 {
		t.Fatalf("failures %+v", r.Failures)
	}
	f := r.Failures[0]
	if !f.TimeRule || f.EventSeq != 0 || f.EventID != "" || f.Field != "n" ||
		f.Location != "entities.c.states.s.after[0].effects[1]" || !strings.Contains(f.Message, "above the maximum 5") {
		t.Errorf("failure %+v", f)
	}
	if r.State.State != "s" || r.RulesFired != 0 || r.State.Fired["s/0"] != ts("2024-01-01T00:00:00Z") ||
		r.State.LastFiredTime != ts("2024-01-01T01:00:00Z") || len(r.Rows) != 1 {
		t.Errorf("state %+v fired %d rows %d", r.State, r.RulesFired, len(r.Rows))
	}
	deadline(t, r, "2024-01-01T02:00:00Z")
	r.Apply(ev(2, "poke", "2024-01-01T03:00:00Z")) // the second rule fires first
	if len(r.Failures) != 1 || r.State.State != "u" || r.RulesFired != 1 {
		t.Errorf("state %s fired %d failures %+v", r.State.State, r.RulesFired, r.Failures)
	}
	eq(t, "n", r.prop("n"), vI(0)) // u has no poke handler
}

// Ties between rules due at the same instant go to the lowest index.
func TestRuleTies(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		states: []stateDef{
			state("s", on("make", "", create())).rules(
				rule(definition.RuleStateDuration, time.Hour, transition("second")),
				rule(definition.RuleInactivity, time.Hour, transition("first")),
			),
			state("first"), state("second"),
		},
	}
	r := machine(d, nil).Recompute("c1", []*Event{ev(1, "make", "2024-01-01T00:00:00Z")}, ts("2024-01-02T00:00:00Z"))
	if r.State.State != "second" || r.RulesFired != 1 {
		t.Errorf("state %s fired %d", r.State.State, r.RulesFired)
	}
}

// A cycle of transitions stops at the loop limit with one failure.
func TestLoopLimit(t *testing.T) {
	d := entityDef{name: "c", starts: "a",
		props: []*definition.Property{prop("n", definition.TypeInteger, def(vI(0)))},
		states: []stateDef{
			state("a", on("make", "", create())).rules(rule(definition.RuleStateDuration, time.Second, transition("b"), incr("n", vNull))),
			state("b").rules(rule(definition.RuleStateDuration, time.Second, transition("a"))),
		},
	}
	m := machine(d, nil)
	start := ts("2024-01-01T00:00:00Z")
	r := m.Recompute("c1", []*Event{ev(1, "make", "2024-01-01T00:00:00Z")}, start+int64(time.Hour.Microseconds()*24))
	if r.RulesFired != loopLimit || len(r.Failures) != 1 {
		t.Fatalf("fired %d failures %d", r.RulesFired, len(r.Failures))
	}
	f := r.Failures[0]
	if f.Message != "time rule loop limit exceeded in state a" || !f.TimeRule || f.Location != "entities.c.states.a.after" {
		t.Errorf("failure %+v", f)
	}
	eq(t, "n", r.prop("n"), vI(loopLimit/2))
	if r.State.LastFiredTime != start+loopLimit*time.Second.Microseconds() {
		t.Errorf("last fired %s", value.FormatTime(r.State.LastFiredTime))
	}
	// Evaluating a short span stays under the limit.
	s := m.Recompute("c2", []*Event{ev(1, "make", "2024-01-01T00:00:00Z")}, start+100*time.Second.Microseconds())
	if s.RulesFired != 100 || len(s.Failures) != 0 {
		t.Errorf("fired %d failures %+v", s.RulesFired, s.Failures)
	}
}

// Fired marks persist across runs, and the reference of inactivity moves
// with activity.
func TestInactivityRefiresAfterActivity(t *testing.T) {
	d := entityDef{name: "c", starts: "s",
		props: []*definition.Property{prop("n", definition.TypeInteger, def(vI(0)))},
		states: []stateDef{
			state("s", on("make", "", create()), on("ping", "", setValue("n", vI(0)))).rules(
				rule(definition.RuleInactivity, time.Hour, incr("n", vNull)),
			),
		},
	}
	m := machine(d, nil)
	r := m.Start("c1", nil, nil, nil)
	r.Apply(ev(1, "make", "2024-01-01T00:00:00Z"))
	r.Advance(ts("2024-01-01T05:00:00Z"))
	eq(t, "n", r.prop("n"), vI(1)) // once per reference value
	r2 := m.Start("c1", r.State.Clone(), nil, nil)
	r2.Apply(ev(2, "ping", "2024-01-01T06:00:00Z"))
	r2.Advance(ts("2024-01-01T07:00:00Z"))
	eq(t, "n", r2.prop("n"), vI(1))
	if r2.RulesFired != 1 {
		t.Errorf("fired %d", r2.RulesFired)
	}
}

// A firing can land on the stored open row's instant (an expiration overdue
// when the state was entered, evaluated by a later tick): its row replaces
// the open row and keeps the event's sequence.
func TestFiringAtBaseInstant(t *testing.T) {
	d := entityDef{name: "m", starts: "new",
		states: []stateDef{
			state("new", on("joined", "", create()), on("go", "", transition("active"))),
			state("active").rules(rule(definition.RuleExpiration, day, transition("lapsed"))),
			state("lapsed"),
		},
	}
	m := machine(d, nil)
	r := m.Start("m1", nil, nil, nil)
	r.Apply(ev(1, "joined", "2024-01-01T00:00:00Z"))
	r.Apply(ev(2, "go", "2024-01-10T00:00:00Z"))
	r.Advance(ts("2024-01-05T00:00:00Z")) // the horizon lags the events
	base := r.Rows[len(r.Rows)-1]
	if base.State != "active" {
		t.Fatalf("rows %+v", r.Rows)
	}
	tick := m.Start("m1", r.State, &base, nil)
	tick.Advance(ts("2024-01-11T00:00:00Z"))
	if len(tick.Rows) != 1 || tick.Rows[0].ValidFrom != base.ValidFrom || tick.Rows[0].State != "lapsed" || tick.Rows[0].EventSeq != 2 {
		t.Fatalf("rows %+v", tick.Rows)
	}
	want := m.Recompute("m1", []*Event{ev(1, "joined", "2024-01-01T00:00:00Z"), ev(2, "go", "2024-01-10T00:00:00Z")}, ts("2024-01-11T00:00:00Z"))
	if !sameRows(want.Rows[1:], tick.Rows) {
		t.Errorf("tick %+v, recompute %+v", tick.Rows, want.Rows)
	}
}
