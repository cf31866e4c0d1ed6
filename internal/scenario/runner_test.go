package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeTB records what the runner reports.
type fakeTB struct {
	ctx     context.Context
	errors  []string
	skipped string
	failed  bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Logf(string, ...any)              {}
func (f *fakeTB) Skipf(format string, args ...any) { f.skipped = fmt.Sprintf(format, args...) }
func (f *fakeTB) FailNow()                         { f.failed = true }
func (f *fakeTB) Context() context.Context         { return f.ctx }

// fakeDriver answers from fixed data; it records the calls it gets.
type fakeDriver struct {
	calls   []string
	clock   time.Time
	ids     map[string]string // "type|field|value" → id
	rows    map[string][]map[string]any
	hints   map[string]map[string]any
	events  map[string][]map[string]any
	counts  map[string]int64
	results map[string]map[string]any // by call name
	errs    map[string]error
	active  string
}

func (f *fakeDriver) call(name string, args ...any) (map[string]any, error) {
	f.calls = append(f.calls, strings.TrimSpace(fmt.Sprintln(append([]any{name}, args...)...)))
	return f.results[name], f.errs[name]
}

func (f *fakeDriver) Open(ctx context.Context, defs []byte, cfg Config) error {
	_, err := f.call("Open")
	return err
}
func (f *fakeDriver) Reopen(ctx context.Context, defs []byte, cfg *Config) error {
	_, err := f.call("Reopen")
	return err
}
func (f *fakeDriver) Close() error         { return nil }
func (f *fakeDriver) SetClock(t time.Time) { f.clock = t }
func (f *fakeDriver) Validate(ctx context.Context, defs []byte) (map[string]any, error) {
	return f.call("Validate")
}
func (f *fakeDriver) Ingest(ctx context.Context, source string, events []json.RawMessage, process bool) (map[string]any, error) {
	return f.call("Ingest", source, len(events), process)
}
func (f *fakeDriver) Build(ctx context.Context, full, fromRaw bool) (map[string]any, error) {
	return f.call("Build", full, fromRaw)
}
func (f *fakeDriver) Tick(ctx context.Context, asOf string) (map[string]any, error) {
	return f.call("Tick", asOf)
}
func (f *fakeDriver) Merge(ctx context.Context, from, into, reason string) (map[string]any, error) {
	return f.call("Merge", from, into, reason)
}
func (f *fakeDriver) Erase(ctx context.Context, id string) (map[string]any, error) {
	return f.call("Erase", id)
}
func (f *fakeDriver) Redact(ctx context.Context, id string) (map[string]any, error) {
	return f.call("Redact", id)
}
func (f *fakeDriver) Register(ctx context.Context, version string, defs []byte) (map[string]any, error) {
	return f.call("Register", version)
}
func (f *fakeDriver) Activate(ctx context.Context, version string) (map[string]any, error) {
	f.active = version
	return f.call("Activate", version)
}
func (f *fakeDriver) Eval(ctx context.Context, expr string, event, entity json.RawMessage, value *string) (map[string]any, error) {
	return f.call("Eval", expr)
}
func (f *fakeDriver) Query(ctx context.Context, q EntityQuery) ([]map[string]any, error) {
	return f.rows[q.Kind+"|"+q.Entity], nil
}
func (f *fakeDriver) Relationships(ctx context.Context, relType string, history bool) ([]map[string]any, error) {
	return f.rows["rel|"+relType], nil
}
func (f *fakeDriver) Timeline(ctx context.Context, id string) (map[string]any, error) {
	return nil, &StepError{Kind: "not_found", Message: "no timeline"}
}
func (f *fakeDriver) Lookup(ctx context.Context, entityType, value, field string) (string, error) {
	if id, ok := f.ids[entityType+"|"+field+"|"+strings.ToLower(value)]; ok {
		return id, nil
	}
	return "", &StepError{Kind: "not_found", Message: "no entity"}
}
func (f *fakeDriver) Hints(ctx context.Context, id string) (map[string]any, error) {
	if h, ok := f.hints[id]; ok {
		return h, nil
	}
	return nil, &StepError{Kind: "not_found", Message: "unknown id " + id}
}
func (f *fakeDriver) Count(ctx context.Context, source string, all bool) (int64, error) {
	return f.counts[fmt.Sprint(source, "|", all)], nil
}
func (f *fakeDriver) EventsFor(ctx context.Context, id string) ([]map[string]any, error) {
	if e, ok := f.events[id]; ok {
		return e, nil
	}
	return nil, &StepError{Kind: "not_found", Message: "unknown id"}
}
func (f *fakeDriver) BuildStatus(ctx context.Context) (map[string]any, error) {
	return f.results["BuildStatus"], nil
}
func (f *fakeDriver) Versions(ctx context.Context) ([]map[string]any, error) {
	return []map[string]any{{"version": "v1abc"}, {"version": "v2"}}, nil
}
func (f *fakeDriver) ActiveVersion(ctx context.Context) (string, error) { return f.active, nil }
func (f *fakeDriver) Graph(ctx context.Context, q GraphQuery) (any, error) {
	if q.Op == GraphPath {
		return []any{q.From, q.To}, nil
	}
	return []any{map[string]any{"entity_id": "c2", "entity_type": "customer", "direction": q.Direction}}, nil
}

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	return j(t, s).(map[string]any)
}

func newFake(t *testing.T) *fakeDriver {
	return &fakeDriver{
		ids: map[string]string{
			"customer|email|a@x.com": "c1",
			"customer|email|b@x.com": "c2",
			"customer|phone|555":     "c1",
		},
		rows: map[string][]map[string]any{
			"table|customer": {
				obj(t, `{"customer_id": "c1", "customer_state": "active", "plan": "pro", "seen": "2024-01-01T10:00:00+00:00", "valid_from": "2024-01-02T00:00:00+00:00", "valid_to": null, "merged_into": null}`),
				obj(t, `{"customer_id": "c2", "customer_state": "lead", "plan": "free", "seen": null, "valid_from": "2024-01-01T00:00:00+00:00", "valid_to": null, "merged_into": null}`),
			},
			"history|customer": {
				obj(t, `{"customer_id": "c1", "customer_state": "lead", "valid_from": "2024-01-02T00:00:00+00:00", "valid_to": "2024-01-03T00:00:00+00:00"}`),
				obj(t, `{"customer_id": "c2", "customer_state": "lead", "valid_from": "2024-01-01T00:00:00+00:00", "valid_to": null}`),
				obj(t, `{"customer_id": "c1", "customer_state": "active", "valid_from": "2024-01-03T00:00:00+00:00", "valid_to": null}`),
			},
		},
		hints: map[string]map[string]any{
			"c1": obj(t, `{"entity_id": "c1", "hints": {"email": ["a@x.com"], "phone": ["555"]}}`),
			"c2": obj(t, `{"entity_id": "c2", "hints": {"email": ["b@x.com"]}}`),
		},
		events: map[string][]map[string]any{
			"c1": {
				obj(t, `{"sequence": 1, "event_type": "signup", "timestamp": "2024-01-02T00:00:00+00:00", "data": {"email": "a@x.com"}}`),
				obj(t, `{"sequence": 3, "event_type": "_defacto_merge", "source": "_defacto", "timestamp": "2024-01-03T00:00:00+00:00", "data": {"from_entity_id": "c2", "into_entity_id": "c1"}}`),
			},
		},
		counts: map[string]int64{"|false": 2, "|true": 3, "web|false": 2, "_defacto|false": 1},
		results: map[string]map[string]any{
			"Ingest":      obj(t, `{"events_received": 2, "events_ingested": 2, "duplicate_ids": [], "failures": [{"stage": "normalize", "index": 1, "message": "unknown event type 'x'"}, {"stage": "identity", "index": 0, "entity_id": "c1"}], "build": null}`),
			"Build":       obj(t, `{"mode": "INCREMENTAL", "reasons": ["2 events pending"], "tick": {"as_of": "2024-02-01T00:00:00+00:00"}}`),
			"Merge":       obj(t, `{"from_entity_id": "c2", "into_entity_id": "c1"}`),
			"Eval":        obj(t, `{"value": 7}`),
			"BuildStatus": obj(t, `{"cursor": 2, "tick_horizon": "2024-02-01T00:00:00+00:00", "needed_reasons": []}`),
		},
		errs:   map[string]error{},
		active: "v1abc",
	}
}

const fakeHeader = `
id: '900'
name: fake
tags: [lifecycle, build]
covers: []
what: runner test
clock: '2024-02-01T00:00:00Z'
definitions:
  entities:
    customer:
      identity: {email: {}, phone: {}}
      properties: {plan: {type: string}, seen: {type: datetime}}
`

func runFake(t *testing.T, f *fakeDriver, steps string, skip ...string) *fakeTB {
	t.Helper()
	s, err := Parse([]byte(fakeHeader + steps))
	if err != nil {
		t.Fatal(err)
	}
	s.File = "900-fake.yaml"
	tb := &fakeTB{ctx: context.Background()}
	runTB(tb, s, f, skip)
	return tb
}

const passingSteps = `
steps:
  - ingest:
      source: web
      process: true
      events: [{type: signup, ts: 1705312800123456789}]
  - expect:
      result:
        events_received: 2
        duplicate_ids: []
        build: null
        failures:
          - {stage: identity, entity_id: customer by email a@x.com}
          - {stage: normalize, message: {contains: UNKNOWN EVENT}}
  - {build: {}}
  - expect:
      result: {mode: INCREMENTAL, reasons: [2 events pending], tick: {as_of: '2024-02-01T00:00:00Z'}}
      error: null
      build_status: {cursor: 2, tick_horizon: '2024-02-01T00:00:00Z', needed_reasons: []}
  - {capture: {a: customer by email a@x.com, b: customer by email B@X.COM, v1: version active}}
  - {clock: '2024-03-01T00:00:00Z'}
  - {merge: {from: $b, into: $a, reason: test}}
  - expect:
      result: {from_entity_id: $b, into_entity_id: customer by phone 555}
      table:
        entity: customer
        count: 2
        rows:
          - {id: $b, state: lead, seen: null}
          - {id: customer by email a@x.com, state: active, seen: '2024-01-01T11:00:00+01:00', merged_into: null}
      history:
        - {entity: customer, count: 3}
        - entity: customer
          of: $a
          rows:
            - {state: lead, valid_to: '2024-01-03T00:00:00Z'}
            - {state: active, valid_to: null}
        - entity: customer
          where: {state: lead}
          ordered: true
          rows: [{id: $b}, {id: $a}]
        - {entity: customer, where: {id: {ne: $a}}, count: 1}
        - {entity: customer, match: contains, rows: [{id: $a}]}
      identity:
        - {same: [$a, customer by phone 555, customer by email a@x.com]}
        - {different: [$a, $b]}
        - {ref: customer by email nobody@x.com, exists: false}
        - {ref: $a, exists: true}
        - {ref: id c9, exists: false}
        - {ref: $a, equals: customer by phone 555}
        - {ref: $a, not_equals: $b}
        - {ref: $a, id: c1}
        - {hints_of: $a, hints: {email: [a@x.com]}}
        - {hints_of: id c9, not_found: true}
      ledger:
        count: 2
        count_all: 3
        count_by_source: {web: 2, _defacto: 1}
        events_for:
          - {of: $a, count: 2, event_types: [signup, _defacto_merge]}
          - of: $a
            match: contains
            event_types: [_defacto_merge]
            events:
              - {sequence: 3, timestamp: '2024-01-03T00:00:00Z', data: {from_entity_id: $b, into_entity_id: $a, reason: {absent: true}}}
          - {of: id c9, not_found: true}
      timeline: {of: $a, not_found: true}
      versions: {count: 2, includes: [$v1, v2], active: $v1}
      graph:
        - {op: neighbors, of: $a, rows: [{entity: $b, entity_type: customer, direction: both}]}
        - {op: path, from: $a, to: $b, path: [$a, customer by email b@x.com]}
  - {eval: {expr: 1 + 2 * 3}}
  - expect: {result: {value: 7.0}}
  - {activate: {version: $v1}}
  - expect: {versions: {active: v1abc}}
`

func TestRunnerPasses(t *testing.T) {
	f := newFake(t)
	tb := runFake(t, f, passingSteps)
	if len(tb.errors) > 0 || tb.failed {
		t.Fatalf("runner reported failures:\n%s", strings.Join(tb.errors, "\n"))
	}
	want := []string{"Open", "Ingest web 1 true", "Build false false", "Merge c2 c1 test", "Eval 1 + 2 * 3", "Activate v1abc"}
	if strings.Join(f.calls, ";") != strings.Join(want, ";") {
		t.Errorf("calls %q, want %q", f.calls, want)
	}
	if !f.clock.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("clock %v", f.clock)
	}
}

func TestRunnerSkips(t *testing.T) {
	tb := runFake(t, newFake(t), passingSteps, "merge", "build")
	if !strings.Contains(tb.skipped, "900-fake.yaml") || !strings.Contains(tb.skipped, "build") {
		t.Errorf("skip message %q", tb.skipped)
	}
}

// TestRunnerReports checks that failures name the file, the step and the
// difference.
func TestRunnerReports(t *testing.T) {
	cases := []struct {
		name  string
		steps string
		want  []string // substrings of the report
		fatal bool
	}{
		{"wrong cell", `
steps:
  - expect:
      table:
        entity: customer
        rows: [{id: customer by email a@x.com, state: churned}, {}]`,
			[]string{"900-fake.yaml: steps[0] (expect, line", "expect.table", `state: expected "churned", got "active"`, "actual rows (2)"}, false},
		{"unresolved ref", `
steps:
  - expect: {table: {entity: customer, rows: [{id: customer by email z@x.com}, {}]}}`,
			[]string{`ref "customer by email z@x.com" does not resolve`}, false},
		{"unresolved of", `
steps:
  - expect: {history: {entity: customer, of: customer by email z@x.com, count: 0}}`,
			[]string{`of: ref "customer by email z@x.com" does not resolve`}, false},
		{"ordered history", `
steps:
  - expect:
      history:
        entity: customer
        of: customer by email a@x.com
        rows: [{state: active}, {state: lead}]`,
			[]string{`rows[0].state: expected "active", got "lead"`}, false},
		{"count", `
steps:
  - expect: {table: {entity: customer, count: 3}}`,
			[]string{"count: expected 3, got 2"}, false},
		{"result", `
steps:
  - {build: {}}
  - expect: {result: {mode: FULL}}`,
			[]string{`result.mode: expected "FULL", got "INCREMENTAL"`, "actual result of steps[0] (build)"}, false},
		{"same", `
steps:
  - expect: {identity: [{same: [customer by email a@x.com, customer by email b@x.com]}]}`,
			[]string{"expected one id"}, false},
		{"hints", `
steps:
  - expect: {identity: [{hints_of: customer by email a@x.com, hints: {phone: ['556']}}]}`,
			[]string{`hints.phone[0]: expected "556", got "555"`}, false},
		{"unasserted error", `
steps:
  - {build: {}}
  - {build: {}}`,
			[]string{"steps[0] (build) failed and no expect asserted the error"}, true},
		{"expect without error", `
steps:
  - {build: {}}
  - expect: {table: {entity: customer, count: 2}}`,
			[]string{"this expect does not assert error"}, true},
		{"error kind", `
steps:
  - {build: {}}
  - expect: {error: {kind: not_found, contains: [boom, $zz]}}`,
			[]string{"error kind: expected not_found, got build_required", `error text does not contain "$zz"`}, false},
		{"error expected", `
steps:
  - {eval: {expr: '1'}}
  - expect: {error: {}}`,
			[]string{"steps[0] (eval) succeeded, expected an error"}, false},
		{"unknown handle", `
steps:
  - {merge: {from: $nobody, into: $a}}`,
			[]string{"handle $nobody was never captured"}, true},
		{"ledger events", `
steps:
  - expect: {ledger: {events_for: [{of: customer by email a@x.com, event_types: [_defacto_merge, signup]}]}}`,
			[]string{"events_for[0]", "event_types[0]"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			if c.name == "unasserted error" || c.name == "expect without error" || c.name == "error kind" {
				f.errs["Build"] = &StepError{Kind: "build_required", Message: "boom: a build is required"}
			}
			tb := runFake(t, f, c.steps)
			report := strings.Join(tb.errors, "\n")
			if len(tb.errors) == 0 {
				t.Fatal("no failure reported")
			}
			for _, w := range c.want {
				if !strings.Contains(report, w) {
					t.Errorf("report lacks %q:\n%s", w, report)
				}
			}
			if tb.failed != c.fatal {
				t.Errorf("fatal = %v, want %v", tb.failed, c.fatal)
			}
		})
	}
}
