package normalize

import (
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// ingestedAt is the ingest time the tests pass (2024-02-01T00:00:00Z).
const ingestedAt int64 = 1706745600000000

func load(t testing.TB, yaml string) *definition.Set {
	t.Helper()
	set, res, err := definition.LoadBytes([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("definitions: %v (%v)", err, res)
	}
	return set
}

// harness normalizes JSON records against one definition set.
type harness struct {
	t   testing.TB
	set *definition.Set
	n   *Normalizer
}

func newHarness(t testing.TB, yaml string) *harness {
	set := load(t, yaml)
	return &harness{t: t, set: set, n: New(set)}
}

func (h *harness) run(source, rawJSON string) (*Event, bool, *Failure) {
	h.t.Helper()
	src := h.set.Source(source)
	if src == nil {
		h.t.Fatalf("no source %q", source)
	}
	raw, err := value.FromJSON([]byte(rawJSON))
	if err != nil {
		h.t.Fatalf("record %s: %v", rawJSON, err)
	}
	return h.n.Normalize(src, raw, ingestedAt, true)
}

// ok normalizes a record that must be accepted.
func (h *harness) ok(source, rawJSON string) *Event {
	h.t.Helper()
	ev, ignored, f := h.run(source, rawJSON)
	if f != nil || ignored || ev == nil {
		h.t.Fatalf("record %s: ignored=%v failure=%v", rawJSON, ignored, f)
	}
	return ev
}

// fail normalizes a record that must fail, checking the field and that the
// message contains every fragment.
func (h *harness) fail(source, rawJSON, field string, fragments ...string) *Failure {
	h.t.Helper()
	ev, ignored, f := h.run(source, rawJSON)
	if f == nil {
		h.t.Fatalf("record %s: accepted (ignored=%v, event=%+v)", rawJSON, ignored, ev)
	}
	if ev != nil || ignored {
		h.t.Errorf("record %s: failure with event or ignored", rawJSON)
	}
	if f.Stage != StageNormalize {
		h.t.Errorf("record %s: stage %q", rawJSON, f.Stage)
	}
	if f.Field != field {
		h.t.Errorf("record %s: field %q, want %q (message %q)", rawJSON, f.Field, field, f.Message)
	}
	for _, fr := range fragments {
		if !strings.Contains(f.Message, fr) {
			h.t.Errorf("record %s: message %q lacks %q", rawJSON, f.Message, fr)
		}
	}
	return f
}

// field returns the canonical JSON of one member of ev.Data.
func field(ev *Event, name string) string {
	v, ok := ev.Data.AsObject()[name]
	if !ok {
		return "<absent>"
	}
	return string(value.CanonicalJSON(v))
}

// kindOf returns the kind of one member of ev.Data.
func kindOf(ev *Event, name string) value.Kind { return ev.Data.AsObject()[name].Kind() }

const customerEntity = `
  customer:
    starts: lead
    identity: {email: {}}
    properties: {email: {type: string}, plan: {type: string, default: free}}
    states:
      lead:
        when:
          signup: {effects: [create]}
`

func TestNormalizeTimestamps(t *testing.T) { // scenario 011
	h := newHarness(t, `
entities:`+customerEntity+`
sources:
  web:
    event_type: type
    timestamp: ts
    events:
      signup: {mappings: {email: email}, hints: {customer: [email]}}
`)
	tests := []struct{ ts, want string }{
		{`"2024-01-15T10:00:00Z"`, "2024-01-15T10:00:00+00:00"},
		{`"2024-01-15T12:00:00+02:00"`, "2024-01-15T10:00:00+00:00"},
		{`1705312800`, "2024-01-15T10:00:00+00:00"},
		{`1705312800.5`, "2024-01-15T10:00:00.500+00:00"},
		{`"2024-01-15 10:00:00z"`, "2024-01-15T10:00:00+00:00"},
		{`"2024-01-15t11:00:00Z"`, "2024-01-15T11:00:00+00:00"},
		{`"2024-01-15T15:30:00+0530"`, "2024-01-15T10:00:00+00:00"},
		{`"2024-01-15T05:00-05"`, "2024-01-15T10:00:00+00:00"},
		{`"2024-01-15T10:00:00.123456789Z"`, "2024-01-15T10:00:00.123456+00:00"},
	}
	for _, tc := range tests {
		ev := h.ok("web", `{"type":"signup","ts":`+tc.ts+`,"email":"a@test.com"}`)
		if got := value.FormatTime(ev.Time); got != tc.want {
			t.Errorf("ts %s: %s, want %s", tc.ts, got, tc.want)
		}
	}
	h.fail("web", `{"type":"signup","email":"a@test.com"}`, "ts",
		"source 'web'", "event 'signup'", "timestamp at path 'ts' is missing")
	h.fail("web", `{"type":"signup","ts":null,"email":"a@test.com"}`, "ts", "timestamp at path 'ts' is null")
	h.fail("web", `{"type":"signup","ts":"1705312800","email":"a@test.com"}`, "ts",
		"timestamp must be an ISO 8601 string or an epoch number")
	h.fail("web", `{"type":"signup","ts":true,"email":"a@test.com"}`, "ts",
		"timestamp must be an ISO 8601 string or an epoch number")
	h.fail("web", `{"type":"signup","ts":{"at":1},"email":"a@test.com"}`, "ts",
		"timestamp must be an ISO 8601 string or an epoch number")
}

func TestNormalizeRawTypesAndDefaults(t *testing.T) { // scenario 012
	h := newHarness(t, `
entities:
  customer:
    starts: lead
    identity: {email: {}}
    properties: {email: {type: string}, plan: {type: string, default: unknown}}
    states:
      lead:
        when:
          customer_signup: {effects: [create]}
sources:
  app:
    event_type: type
    timestamp: created_at
    events:
      customer_signup:
        raw_type: user.created
        mappings: {email: user_email, plan: {from: subscription_plan, default: free}}
        hints: {customer: [email]}
`)
	ev := h.ok("app", `{"type":"user.created","created_at":"2024-01-15T10:00:00Z","user_email":"alice@test.com","subscription_plan":"pro"}`)
	if ev.Type != "customer_signup" || ev.RawType != "user.created" || ev.Source != "app" {
		t.Errorf("names: %+v", ev)
	}
	if ev.Config != h.set.Source("app").Event("customer_signup") {
		t.Error("Config is not the event config")
	}
	if got := string(value.CanonicalJSON(ev.Data)); got != `{"email":"alice@test.com","plan":"pro"}` {
		t.Errorf("data %s", got)
	}
	if got := string(value.CanonicalJSON(ev.Raw)); !strings.Contains(got, `"subscription_plan":"pro"`) {
		t.Errorf("raw %s", got)
	}
	// A missing member and an explicit null both take the default.
	ev = h.ok("app", `{"type":"user.created","created_at":"2024-01-15T11:00:00Z","user_email":"bob@test.com"}`)
	if field(ev, "plan") != `"free"` {
		t.Errorf("missing: %s", field(ev, "plan"))
	}
	ev = h.ok("app", `{"type":"user.created","created_at":"2024-01-15T12:00:00Z","user_email":"carol@test.com","subscription_plan":null}`)
	if field(ev, "plan") != `"free"` {
		t.Errorf("null: %s", field(ev, "plan"))
	}
	// Only mapped fields exist in the normalized event.
	if _, ok := ev.Data.AsObject()["user_email"]; ok {
		t.Error("unmapped raw member leaked into data")
	}
	// The normalized name is not a raw type.
	f := h.fail("app", `{"type":"customer_signup","created_at":"2024-01-15T13:00:00Z","user_email":"dave@test.com"}`, "type",
		"source 'app': unknown event type 'customer_signup' for source 'app'")
	if f.RawType != "customer_signup" || f.EventType != "" {
		t.Errorf("failure types: %+v", f)
	}
	// Raw types are case-sensitive.
	h.fail("app", `{"type":"User.Created","created_at":"2024-01-15T13:00:00Z"}`, "type", "unknown event type 'User.Created'")
	// The event type must be a string at its path.
	h.fail("app", `{"created_at":"2024-01-15T13:00:00Z"}`, "type", "source 'app'", "event type at path 'type' is missing")
	h.fail("app", `{"type":null,"created_at":"2024-01-15T13:00:00Z"}`, "type", "must be a string, got null")
	h.fail("app", `{"type":7,"created_at":"2024-01-15T13:00:00Z"}`, "type", "must be a string, got Int 7")
	h.fail("app", `{"type":["user.created"],"created_at":"2024-01-15T13:00:00Z"}`, "type", "must be a string, got Array")
}

func TestNormalizeNonObjectRecord(t *testing.T) {
	h := newHarness(t, `
entities:`+customerEntity+`
sources:
  web:
    event_type: type
    timestamp: ts
    events:
      signup: {mappings: {email: email}, hints: {customer: [email]}}
`)
	for _, raw := range []string{`[1,2]`, `"signup"`, `null`, `3`} {
		h.fail("web", raw, "", "source 'web'", "must be a JSON object")
	}
}

func TestNormalizeNestedPaths(t *testing.T) { // scenario 013
	h := newHarness(t, `
entities:`+customerEntity+`
sources:
  app:
    event_type: meta.kind
    timestamp: meta.at.0
    events:
      signup:
        mappings:
          email: user.email
          city: user.address.city
          first_item: items.0.sku
          second_item: items.1.sku
          third_item: {from: items.2.sku, default: none}
          phone: user.phone
        hints: {customer: [email]}
`)
	ev := h.ok("app", `{"meta":{"kind":"signup","at":["2024-01-15T10:00:00Z"]},
		"user":{"email":"alice@test.com","address":{"city":"Portland"}},
		"items":[{"sku":"A-1"},{"sku":"B-2"}]}`)
	want := `{"city":"Portland","email":"alice@test.com","first_item":"A-1","phone":null,"second_item":"B-2","third_item":"none"}`
	if got := string(value.CanonicalJSON(ev.Data)); got != want {
		t.Errorf("data %s\nwant %s", got, want)
	}
	if value.FormatTime(ev.Time) != "2024-01-15T10:00:00+00:00" {
		t.Errorf("time %s", value.FormatTime(ev.Time))
	}
	h.fail("app", `{"meta":{"kind":"signup","at":[]}}`, "meta.at.0", "timestamp at path 'meta.at.0' is missing")
	h.fail("app", `{"meta":{"at":["2024-01-15T10:00:00Z"]}}`, "meta.kind", "event type at path 'meta.kind' is missing")
}

const sensorSource = `
entities:
  device:
    starts: active
    identity: {serial: {}}
    properties: {serial: {type: string}}
    states:
      active:
        when:
          measure: {effects: [create]}
sources:
  sensor:
    event_type: type
    timestamp: ts
    events:
      measure:
        mappings:
          serial: device
          amount: {from: amount, type: number, default: 0}
          qty: {from: qty, type: integer}
          whole: {from: whole, type: integer}
          ratio: {from: ratio, type: number}
          flag_true: {from: f_true, type: boolean}
          flag_yes: {from: f_yes, type: boolean}
          flag_zero: {from: f_zero, type: boolean}
          flag_int: {from: f_int, type: boolean}
          code: {from: code, type: string}
          label: {from: label, type: string}
          seen_at: {from: seen_at, type: datetime}
        hints: {device: [serial]}
`

func TestNormalizeCoercion(t *testing.T) { // scenario 014
	h := newHarness(t, sensorSource)
	ev := h.ok("sensor", `{"type":"measure","ts":"2024-01-15T10:00:00Z","device":"D-1","amount":"42.5","qty":"42",
		"whole":3.0,"ratio":7,"f_true":"true","f_yes":"YES","f_zero":"0","f_int":0,"code":42,"label":true,
		"seen_at":"2024-01-15T10:00:00Z"}`)
	want := `{"amount":42.5,"code":"42","flag_int":false,"flag_true":true,"flag_yes":true,"flag_zero":false,` +
		`"label":"true","qty":42,"ratio":7,"seen_at":"2024-01-15T10:00:00+00:00","serial":"D-1","whole":3}`
	if got := string(value.CanonicalJSON(ev.Data)); got != want {
		t.Errorf("data %s\nwant %s", got, want)
	}
	for name, k := range map[string]value.Kind{"amount": value.KindFloat, "qty": value.KindInt, "whole": value.KindInt,
		"ratio": value.KindFloat, "seen_at": value.KindDateTime, "code": value.KindString, "flag_int": value.KindBool} {
		if kindOf(ev, name) != k {
			t.Errorf("%s is %s, want %s", name, kindOf(ev, name), k)
		}
	}
	ev = h.ok("sensor", `{"type":"measure","ts":"2024-01-15T10:00:00Z","device":"D-2","amount":"1e3","qty":"+7",
		"whole":1,"ratio":"2.5","f_true":"No","f_yes":"yes","f_zero":"1","f_int":1,"code":2.5,"label":false,
		"seen_at":1705312800}`)
	want = `{"amount":1000,"code":"2.5","flag_int":true,"flag_true":false,"flag_yes":true,"flag_zero":true,` +
		`"label":"false","qty":7,"ratio":2.5,"seen_at":"2024-01-15T10:00:00+00:00","serial":"D-2","whole":1}`
	if got := string(value.CanonicalJSON(ev.Data)); got != want {
		t.Errorf("data %s\nwant %s", got, want)
	}
	// Untyped mappings keep what the record holds; unset typed ones are Null.
	ev = h.ok("sensor", `{"type":"measure","ts":"2024-01-15T10:00:00Z","device":{"id":1}}`)
	if field(ev, "serial") != `{"id":1}` || field(ev, "qty") != "null" || field(ev, "amount") != "0" {
		t.Errorf("data %s", value.CanonicalJSON(ev.Data))
	}
}

func TestNormalizeCoercionFailures(t *testing.T) {
	h := newHarness(t, sensorSource)
	base := `"type":"measure","ts":"2024-01-15T10:00:00Z","device":"D-1"`
	tests := []struct{ member, field, msg string }{
		{`"amount":"abc"`, "amount", `field 'amount': cannot convert String "abc" to number`},
		// A default is not a fallback after a failed coercion.
		{`"amount":true`, "amount", `field 'amount': cannot convert Bool true to number`},
		{`"amount":"inf"`, "amount", "to number"},
		{`"qty":2.5`, "qty", "field 'qty': cannot convert Float 2.5 to integer"},
		{`"qty":"4.0"`, "qty", "to integer"},
		{`"qty":"99999999999999999999"`, "qty", "out of range"},
		{`"f_int":2`, "flag_int", "field 'flag_int': cannot convert Int 2 to boolean"},
		{`"f_yes":"maybe"`, "flag_yes", `cannot convert String "maybe" to boolean`},
		{`"code":[1]`, "code", "field 'code': cannot convert Array [1] to string"},
		{`"label":{"a":1}`, "label", "to string"},
		{`"seen_at":"soon"`, "seen_at", `field 'seen_at': cannot convert String "soon" to datetime`},
		{`"seen_at":1705312800500`, "seen_at", "out of range for unit 's' (is it in a finer unit?)"},
	}
	for _, tc := range tests {
		h.fail("sensor", "{"+base+","+tc.member+"}", tc.field, "source 'sensor'", "event 'measure'", tc.msg)
	}
	// The first failing mapping in definition order is reported.
	h.fail("sensor", "{"+base+`,"qty":"x","amount":"y"}`, "amount", "field 'amount'")
}

func TestNormalizeComputedMappings(t *testing.T) { // scenario 015
	h := newHarness(t, `
entities:`+customerEntity+`
sources:
  app:
    event_type: type
    timestamp: ts
    events:
      signup:
        mappings:
          email: email
          domain: {compute: "split(event.email, '@')[1]"}
          full_name: {compute: "str::trim(event.first_name + ' ' + event.last_name)"}
          second_sku: {compute: "event.items.1.sku"}
          n_items: {compute: "len(event.items)", type: string}
          received: {compute: "now()"}
          bad: {compute: "1 / event.zero"}
        hints: {customer: [email]}
`)
	ev := h.ok("app", `{"type":"signup","ts":"2024-01-15T10:00:00Z","email":"alice@test.com",
		"first_name":"  Alice","last_name":"Smith  ","items":[{"sku":"A"},{"sku":"B"}],"zero":null}`)
	for name, want := range map[string]string{
		"domain": `"test.com"`, "full_name": `"Alice Smith"`, "second_sku": `"B"`, "n_items": `"2"`,
		"received": `"2024-02-01T00:00:00+00:00"`, "bad": "null",
	} {
		if got := field(ev, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if kindOf(ev, "received") != value.KindDateTime {
		t.Errorf("now() kind %s", kindOf(ev, "received"))
	}
	ev = h.ok("app", `{"type":"signup","ts":"2024-01-15T10:02:00Z","email":"carol@test.com","first_name":"Carol"}`)
	if field(ev, "full_name") != "null" || field(ev, "second_sku") != "null" {
		t.Errorf("null propagation: %s", value.CanonicalJSON(ev.Data))
	}
	// An evaluation error fails the record, naming the field.
	h.fail("app", `{"type":"signup","ts":"2024-01-15T10:00:00Z","email":"a@b","zero":0}`, "bad",
		"field 'bad': compute failed")
}

func TestNormalizeNullAndEmptyValues(t *testing.T) { // scenario 017
	h := newHarness(t, `
entities:`+customerEntity+`
sources:
  web:
    event_type: type
    timestamp: ts
    events:
      signup: {mappings: {email: email}, hints: {customer: [email]}}
      upgrade: {mappings: {email: email, plan: plan}, hints: {customer: [email]}}
`)
	ev := h.ok("web", `{"type":"upgrade","ts":"2024-01-15T11:00:00Z","email":"alice@test.com","plan":null}`)
	if field(ev, "plan") != "null" {
		t.Errorf("plan %s", field(ev, "plan"))
	}
	ev = h.ok("web", `{"type":"signup","ts":"2024-01-15T12:00:00Z","email":""}`)
	if field(ev, "email") != `""` {
		t.Errorf("email %s", field(ev, "email"))
	}
	// Null members count in the id: a missing plan and a null plan are the
	// same record, a missing plan and an empty one are not.
	a := h.ok("web", `{"type":"upgrade","ts":"2024-01-15T11:00:00Z","email":"x"}`)
	b := h.ok("web", `{"type":"upgrade","ts":"2024-01-15T11:00:00Z","email":"x","plan":null}`)
	c := h.ok("web", `{"type":"upgrade","ts":"2024-01-15T11:00:00Z","email":"x","plan":""}`)
	if a.ID != b.ID || a.ID == c.ID {
		t.Errorf("ids %s %s %s", a.ID, b.ID, c.ID)
	}
}

func TestNormalizeEventIDs(t *testing.T) { // scenarios 018, 019
	h := newHarness(t, `
entities:
  customer:
    starts: active
    identity: {email: {}}
    properties: {email: {type: string}}
    states:
      active:
        when:
          payment: {effects: [create]}
          login: {effects: [create]}
sources:
  web:
    event_type: type
    timestamp: ts
    events:
      login: {mappings: {email: email}, hints: {customer: [email]}}
  pay:
    event_type: kind
    timestamp: at
    event_id: [txn]
    events:
      payment:
        mappings: {transaction_id: txn, email: email, amount: {from: amount, type: number}}
        hints: {customer: [email]}
`)
	a := h.ok("web", `{"type":"login","ts":"2024-01-16T09:00:00Z","email":"alice@test.com"}`)
	b := h.ok("web", `{"type":"login","ts":"2024-01-17T09:00:00Z","email":"alice@test.com"}`)
	c := h.ok("web", `{"type":"login","ts":"2024-01-16T10:00:00+01:00","email":"alice@test.com","extra":1}`)
	if a.ID != "86cdc226f545bf132c008a4ed1b18c15f2f8a5050c034f13ab62a982d9f9799e" {
		t.Errorf("018 id %s", a.ID)
	}
	if a.ID == b.ID || a.ID != c.ID {
		t.Errorf("ids %s %s %s", a.ID, b.ID, c.ID)
	}
	p1 := h.ok("pay", `{"kind":"payment","at":"2024-01-15T10:00:00Z","txn":"T1","email":"alice@test.com","amount":10}`)
	p2 := h.ok("pay", `{"kind":"payment","at":"2024-01-15T10:05:00Z","txn":"T1","email":"alice@test.com","amount":99}`)
	p3 := h.ok("pay", `{"kind":"payment","at":"2024-01-16T10:00:00Z","txn":"T2","email":"alice@test.com","amount":5}`)
	if p1.ID != "a9c39e423cfa6fe390d7202a836fae334ad58033b0a7c8854ad3c8d49f84afdf" || p2.ID != p1.ID || p3.ID == p1.ID {
		t.Errorf("019 ids %s %s %s", p1.ID, p2.ID, p3.ID)
	}
	h.fail("pay", `{"kind":"payment","at":"2024-01-15T10:00:00Z","email":"alice@test.com"}`, "txn",
		"event_id paths ['txn'] are all missing or null")
	h.fail("pay", `{"kind":"payment","at":"2024-01-15T10:00:00Z","txn":null}`, "txn", "all missing or null")
}

const unitsSources = `
entities:` + customerEntity + `
sources:
  sec:
    event_type: type
    timestamp: ts
    events:
      signup: {mappings: {email: email, seen_at: {from: seen, type: datetime}}, hints: {customer: [email]}}
  milli:
    event_type: type
    timestamp: ts
    timestamp_unit: ms
    events:
      signup: {mappings: {email: email, seen_at: {from: seen, type: datetime}}, hints: {customer: [email]}}
  micro:
    event_type: type
    timestamp: ts
    timestamp_unit: us
    events:
      signup: {mappings: {email: email, seen_at: {from: seen, type: datetime}}, hints: {customer: [email]}}
  nano:
    event_type: type
    timestamp: ts
    timestamp_unit: ns
    events:
      signup: {mappings: {email: email, seen_at: {from: seen, type: datetime}}, hints: {customer: [email]}}
  berlin:
    event_type: type
    timestamp: ts
    timezone: Europe/Berlin
    events:
      signup: {mappings: {email: email, seen_at: {from: seen, type: datetime}}, hints: {customer: [email]}}
`

func TestNormalizeEpochUnits(t *testing.T) { // scenario 021
	h := newHarness(t, unitsSources)
	tests := []struct{ source, rec, time, seen string }{
		{"milli", `"ts":1705312800500,"seen":1705312800000`, "2024-01-15T10:00:00.500+00:00", `"2024-01-15T10:00:00+00:00"`},
		{"milli", `"ts":1705312800`, "1970-01-20T17:41:52.800+00:00", "null"},
		{"micro", `"ts":1705312800000250`, "2024-01-15T10:00:00.000250+00:00", "null"},
		{"nano", `"ts":1705312800123456789`, "2024-01-15T10:00:00.123456+00:00", "null"},
		{"sec", `"ts":1705312800,"seen":1705312800.25`, "2024-01-15T10:00:00+00:00", `"2024-01-15T10:00:00.250+00:00"`},
	}
	for _, tc := range tests {
		ev := h.ok(tc.source, `{"type":"signup","email":"x@test.com",`+tc.rec+`}`)
		if got := value.FormatTime(ev.Time); got != tc.time {
			t.Errorf("%s %s: time %s, want %s", tc.source, tc.rec, got, tc.time)
		}
		if got := field(ev, "seen_at"); got != tc.seen {
			t.Errorf("%s %s: seen_at %s, want %s", tc.source, tc.rec, got, tc.seen)
		}
	}
	h.fail("sec", `{"type":"signup","ts":1705312800500,"email":"wrong@test.com"}`, "ts",
		"timestamp 1705312800500 out of range for unit 's' (is it in a finer unit?)")
}

func TestNormalizeSourceTimezone(t *testing.T) { // scenario 022
	h := newHarness(t, unitsSources)
	tests := []struct{ rec, time, seen string }{
		{`"ts":"2024-01-15T10:00:00","seen":"2024-01-15 12:00"`, "2024-01-15T09:00:00+00:00", `"2024-01-15T11:00:00+00:00"`},
		{`"ts":"2024-07-15T10:00:00"`, "2024-07-15T08:00:00+00:00", "null"},
		{`"ts":"2024-01-15"`, "2024-01-14T23:00:00+00:00", "null"},
		{`"ts":"2024-03-31T02:30:00"`, "2024-03-31T01:30:00+00:00", "null"},
		{`"ts":"2024-10-27T02:30:00"`, "2024-10-27T00:30:00+00:00", "null"},
		{`"ts":"2024-01-15T10:00:00+05:00"`, "2024-01-15T05:00:00+00:00", "null"},
	}
	for _, tc := range tests {
		ev := h.ok("berlin", `{"type":"signup","email":"x@test.com",`+tc.rec+`}`)
		if got := value.FormatTime(ev.Time); got != tc.time {
			t.Errorf("%s: time %s, want %s", tc.rec, got, tc.time)
		}
		if got := field(ev, "seen_at"); got != tc.seen {
			t.Errorf("%s: seen_at %s, want %s", tc.rec, got, tc.seen)
		}
	}
}

func TestNormalizeUnknownEvents(t *testing.T) { // scenario 023
	h := newHarness(t, `
entities:`+customerEntity+`
sources:
  noisy:
    event_type: type
    timestamp: ts
    unknown_events: ignore
    events:
      signup: {mappings: {email: email}, hints: {customer: [email]}}
  strict:
    event_type: type
    timestamp: ts
    events:
      signup: {mappings: {email: email}, hints: {customer: [email]}}
`)
	h.ok("noisy", `{"type":"signup","ts":"2024-01-15T10:00:00Z","email":"alice@test.com"}`)
	for _, rec := range []string{
		`{"type":"pageview","ts":"2024-01-15T10:01:00Z","email":"alice@test.com"}`,
		`{"type":"heartbeat","ts":"2024-01-15T10:02:00Z"}`,
		`{"type":"heartbeat"}`, // ignored before the timestamp is read
	} {
		ev, ignored, f := h.run("noisy", rec)
		if !ignored || ev != nil || f != nil {
			t.Errorf("%s: ignored=%v ev=%v f=%v", rec, ignored, ev, f)
		}
	}
	// Ignoring covers undeclared types only, not records without a type.
	h.fail("noisy", `{"ts":"2024-01-15T10:02:00Z"}`, "type", "event type at path 'type' is missing")
	h.fail("strict", `{"type":"pageview","ts":"2024-01-15T11:01:00Z","email":"bob@test.com"}`, "type",
		"unknown event type 'pageview' for source 'strict'")
}

func TestNormalizeSchema(t *testing.T) { // scenario 024
	h := newHarness(t, `
entities:`+customerEntity+`
sources:
  web:
    event_type: type
    timestamp: ts
    events:
      signup:
        mappings: {email: email, age: {from: age, type: integer}, plan: plan, nick: nick}
        hints: {customer: [email]}
schemas:
  signup:
    fields:
      email: {type: string, required: true, regex: '^[^@]+@[^@]+$'}
      age: {type: integer, min: 18, max: 120}
      plan: {type: string, allowed: [free, pro]}
      nick: {type: string, min_length: 3}
`)
	const ts = `"type":"signup","ts":"2024-01-15T10:00:00Z"`
	h.ok("web", `{`+ts+`,"email":"ann@x.com","age":30,"plan":"pro","nick":"ann"}`)
	h.ok("web", `{`+ts+`,"email":"g@x.com","age":120,"plan":null,"nick":"añb"}`)
	h.ok("web", `{`+ts+`,"email":"g@x.com","age":18}`)
	h.fail("web", `{`+ts+`,"age":30}`, "email", "schema 'signup'", "field 'email' is required")
	h.fail("web", `{`+ts+`,"email":"not-an-email"}`, "email", `field 'email' value "not-an-email" does not match regex '^[^@]+@[^@]+$'`)
	h.fail("web", `{`+ts+`,"email":"c@x.com","age":17}`, "age", "field 'age' must be >= 18, got 17")
	h.fail("web", `{`+ts+`,"email":"c@x.com","age":121}`, "age", "field 'age' must be <= 120, got 121")
	h.fail("web", `{`+ts+`,"email":"d@x.com","plan":"gold"}`, "plan", `field 'plan' must be one of ["free","pro"], got "gold"`)
	h.fail("web", `{`+ts+`,"email":"e@x.com","nick":"ab"}`, "nick", "field 'nick' must have at least 3 characters, got 2")
	// One failure per record: the first violating field, every violation listed.
	h.fail("web", `{`+ts+`,"email":"f@x.com","age":15,"plan":"gold"}`, "age", "field 'age'", "field 'plan'")
	h.fail("web", `{`+ts+`,"age":15,"plan":"gold","nick":"a"}`, "email",
		"field 'email' is required", "field 'age'", "field 'plan'", "field 'nick'")
	// Types: a string where the schema wants one is checked, others fail.
	h.fail("web", `{`+ts+`,"email":7}`, "email", "field 'email' must be string, got Int 7")
	h.fail("web", `{`+ts+`,"email":"a@b","nick":["abc"]}`, "nick", "field 'nick' must be string, got Array")

	// Re-normalization does not check schemas.
	raw, _ := value.FromJSON([]byte(`{` + ts + `,"age":15}`))
	ev, _, f := h.n.Normalize(h.set.Source("web"), raw, ingestedAt, false)
	if f != nil || ev == nil {
		t.Errorf("checkSchema=false: %v", f)
	}
}

func TestNormalizeSchemaTypes(t *testing.T) {
	h := newHarness(t, `
entities:`+customerEntity+`
sources:
  web:
    event_type: type
    timestamp: ts
    events:
      signup:
        mappings:
          email: email
          n: n
          r: r
          b: b
          d: {from: d, type: datetime}
          s: s
        hints: {customer: [email]}
schemas:
  signup:
    fields:
      email: {type: string}
      n: {type: number, min: 0.5, max: 10}
      r: {type: number, allowed: [1, 2.5]}
      b: {type: boolean}
      d: {type: datetime}
      s: {type: datetime}
`)
	const ts = `"type":"signup","ts":"2024-01-15T10:00:00Z","email":"a@b"`
	h.ok("web", `{`+ts+`,"n":1,"r":1.0,"b":false,"d":"2024-01-15T10:00:00Z"}`)
	h.ok("web", `{`+ts+`,"n":0.5,"r":2.5}`)
	h.ok("web", `{`+ts+`,"n":10}`)
	h.fail("web", `{`+ts+`,"n":0.4}`, "n", "field 'n' must be >= 0.5, got 0.4")
	h.fail("web", `{`+ts+`,"n":10.01}`, "n", "must be <= 10")
	h.fail("web", `{`+ts+`,"n":"5"}`, "n", `field 'n' must be number, got String "5"`)
	h.fail("web", `{`+ts+`,"r":2}`, "r", `must be one of [1,2.5], got 2`)
	h.fail("web", `{`+ts+`,"b":"true"}`, "b", "must be boolean")
	// An untyped mapping keeps a string, which is not a datetime.
	h.fail("web", `{`+ts+`,"s":"2024-01-15T10:00:00Z"}`, "s", "field 's' must be datetime, got String")
}

func TestNormalizeMappingDefaults(t *testing.T) {
	h := newHarness(t, `
entities:`+customerEntity+`
sources:
  web:
    event_type: type
    timestamp: ts
    events:
      signup:
        mappings:
          email: email
          n: {from: n, type: integer, default: 5}
          at: {from: at, type: datetime, default: "2024-01-01T00:00:00Z"}
          c: {compute: "event.missing", default: "dflt"}
          channel: {default: web}
          coupon:
        hints: {customer: [email]}
`)
	ev := h.ok("web", `{"type":"signup","ts":"2024-01-15T10:00:00Z","email":"a@b"}`)
	want := `{"at":"2024-01-01T00:00:00+00:00","c":"dflt","channel":"web","coupon":null,"email":"a@b","n":5}`
	if got := string(value.CanonicalJSON(ev.Data)); got != want {
		t.Errorf("data %s\nwant %s", got, want)
	}
	if kindOf(ev, "at") != value.KindDateTime || kindOf(ev, "n") != value.KindInt {
		t.Errorf("default kinds: %s %s", kindOf(ev, "at"), kindOf(ev, "n"))
	}
	ev = h.ok("web", `{"type":"signup","ts":"2024-01-15T10:00:00Z","email":"a@b","n":"7","channel":"app","coupon":"X"}`)
	if field(ev, "n") != "7" || field(ev, "channel") != `"app"` || field(ev, "coupon") != `"X"` {
		t.Errorf("data %s", value.CanonicalJSON(ev.Data))
	}
	h.fail("web", `{"type":"signup","ts":"2024-01-15T10:00:00Z","email":"a@b","n":"seven"}`, "n",
		`field 'n': cannot convert String "seven" to integer`)
}

func TestNormalizeConcurrent(t *testing.T) {
	h := newHarness(t, sensorSource)
	src := h.set.Source("sensor")
	raw, _ := value.FromJSON([]byte(`{"type":"measure","ts":"2024-01-15T10:00:00Z","device":"D-1","amount":"42.5","qty":"42"}`))
	want, _, _ := h.n.Normalize(src, raw, ingestedAt, true)
	done := make(chan string)
	for range 8 {
		go func() {
			id := ""
			for range 200 {
				ev, _, f := h.n.Normalize(src, raw, ingestedAt, true)
				if f != nil {
					id = f.Message
					break
				}
				id = ev.ID
			}
			done <- id
		}()
	}
	for range 8 {
		if got := <-done; got != want.ID {
			t.Errorf("concurrent id %s, want %s", got, want.ID)
		}
	}
}

func TestFailureError(t *testing.T) {
	f := &Failure{Stage: StageNormalize, Message: "source 'a': boom"}
	if f.Error() != "normalize: source 'a': boom" {
		t.Error(f.Error())
	}
}
