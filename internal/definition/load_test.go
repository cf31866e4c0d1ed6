package definition

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/value"
)

func mustLoad(t *testing.T, src string) *Set {
	t.Helper()
	s, res, err := LoadBytes([]byte(src), "test.yaml")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(res.Warnings) > 0 {
		t.Logf("warnings:\n%s", problemList(res.Warnings))
	}
	checkRoundTrip(t, s)
	return s
}

func TestShorthandsAndDefaults(t *testing.T) {
	s := mustLoad(t, `
entities:
  ticket:
    starts: new
    identity:
      ticket_no: { match: exact }
      reporter_email: { match: case_insensitive, normalize: "str::trim(value)" }
    properties:
      priority:       { type: integer, default: 3, min: 1, max: 5 }
      reporter_email: { type: string, sensitive: pii, treatment: mask }
      reopen_count:   { type: integer, default: 0 }
      sla_hours:      { type: number, compute: "entity.priority * 8.0" }
      due:            { type: datetime, default: "2024-01-15T10:00:00+01:00" }
      ratio:          { type: number, default: 1, allowed: [1, 2.5] }
    states:
      new:
        when:
          ticket_opened:
            effects: [create, { set: { property: priority, from: event.priority } }, { transition: { to: open } }]
      open:
        when: { ticket_closed: { effects: [{ transition: { to: closed } }] } }
        after: [{ type: state_duration, threshold: 14d, effects: [{ transition: { to: stale } }] }]
      stale:
      closed:
        when:
          ticket_reopened: { effects: [{ increment: { property: reopen_count } }, { transition: { to: open } }] }
    always:
      ticket_escalated: { guard: "entity.priority > 1", effects: [{ set: { property: priority, value: 1 } }] }
sources:
  desk:
    event_type: kind
    timestamp: meta.at
    timezone: Europe/Berlin
    event_id: [id, kind]
    events:
      ticket_opened:
        raw_type: "ticket.opened"
        mappings:
          ticket_no: id
          reporter_email: { from: reporter.email }
          priority: { from: prio, type: integer, default: "3" }
          channel: { default: web }
          coupon:
          opened: { from: at, type: datetime, default: "2024-03-31 02:30" }
        hints: { ticket: [ticket_no, reporter_email] }
      ticket_closed: { mappings: { ticket_no: id }, hints: { ticket: [ticket_no] } }
      ticket_reopened: { mappings: { ticket_no: id }, hints: { ticket: [ticket_no] } }
      ticket_escalated: { mappings: { ticket_no: id }, hints: { ticket: [ticket_no] } }
`)
	e := s.Entity("ticket")
	if e == nil || e.Starts != "new" {
		t.Fatalf("entity: %+v", e)
	}
	if id := e.IdentityField("ticket_no"); id.Match != MatchExact || id.Normalize != nil || id.Sensitive {
		t.Errorf("ticket_no: %+v", id)
	}
	if id := e.IdentityField("reporter_email"); !id.Sensitive || id.Normalize == nil {
		t.Errorf("reporter_email: %+v", id)
	}
	if p := e.Property("priority"); p.Default.Kind() != value.KindInt || p.Default.AsInt() != 3 || *p.Min != 1 || *p.Max != 5 {
		t.Errorf("priority: %+v", p)
	}
	if p := e.Property("ratio"); p.Default.Kind() != value.KindFloat || p.Allowed[0].Kind() != value.KindFloat {
		t.Errorf("number literals must be Float: %#v %#v", p.Default, p.Allowed)
	}
	if p := e.Property("due"); p.Default.Kind() != value.KindDateTime || p.Default.AsTime() != time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC) {
		t.Errorf("due: %#v", p.Default)
	}
	if p := e.Property("reporter_email"); p.Sensitive != "pii" || p.Treatment != TreatmentMask {
		t.Errorf("reporter_email: %+v", p)
	}
	if len(e.ComputeOrder) != 1 || e.ComputeOrder[0].Name != "sla_hours" {
		t.Errorf("compute order: %v", e.ComputeOrder)
	}
	h := e.State("new").Handler("ticket_opened")
	if !h.Creates || h.Path != "entities.ticket.states.new.when.ticket_opened" || h.Effects[1].Path != h.Path+".effects[1]" {
		t.Errorf("handler: %+v", h)
	}
	if vs := h.Effects[1].Source; vs.FromText != "event.priority" || len(vs.FromPath) != 1 || vs.FromPath[0] != "priority" {
		t.Errorf("from: %+v", vs)
	}
	if st := e.State("stale"); st == nil || len(st.When) != 0 {
		t.Errorf("null state: %+v", st)
	}
	inc := e.State("closed").Handler("ticket_reopened").Effects[0]
	if inc.By.Kind() != value.KindInt || inc.By.AsInt() != 1 {
		t.Errorf("increment by default: %#v", inc.By)
	}
	if tr := e.State("open").After[0]; tr.Threshold != 14*usDay || tr.Path != "entities.ticket.states.open.after[0]" {
		t.Errorf("time rule: %+v", tr)
	}
	src := s.Source("desk")
	if src.Location.String() != "Europe/Berlin" || src.TimestampUnit != UnitSeconds || src.UnknownEvents != UnknownEventsFail {
		t.Errorf("source: %+v", src)
	}
	ev := src.ByRawType("ticket.opened")
	if ev == nil || ev.Name != "ticket_opened" || src.ByRawType("ticket_closed") == nil {
		t.Fatalf("raw types: %+v", src.Events)
	}
	want := map[string]string{"ticket_no": "id", "reporter_email": "reporter.email", "priority": "prio", "channel": "channel", "coupon": "coupon", "opened": "at"}
	for _, m := range ev.Mappings {
		if m.From != want[m.Field] {
			t.Errorf("mapping %s from %q, want %q", m.Field, m.From, want[m.Field])
		}
	}
	if m := ev.Mappings[2]; m.Default.Kind() != value.KindInt || m.Default.AsInt() != 3 {
		t.Errorf("coerced default: %#v", m.Default)
	}
	// 02:30 on 2024-03-31 does not exist in Berlin: it shifts forward by
	// the gap to 03:30 CEST = 01:30 UTC.
	if m := ev.Mappings[5]; m.Default.Kind() != value.KindDateTime || m.Default.AsTime() != time.Date(2024, 3, 31, 1, 30, 0, 0, time.UTC) {
		t.Errorf("datetime default: %#v", m.Default)
	}
	if len(ev.Hints) != 1 || ev.Hints[0].Entity != "ticket" || strings.Join(ev.Hints[0].Fields, ",") != "ticket_no,reporter_email" {
		t.Errorf("hints: %+v", ev.Hints)
	}
}

func TestJSONInput(t *testing.T) {
	doc := `{
	"entities": {"thing": {"starts": "s", "identity": {"k": null},
		"states": {"s": {"when": {"ev": {"effects": ["create", {"create": {}}]}}}}}},
	"sources": {"src": {"event_type": "t", "timestamp": "ts",
		"events": {"ev": {"mappings": {"k": null}, "hints": {"thing": ["k"]}}}}}
}`
	s := mustLoad(t, doc)
	if s.Entity("thing").Identity[0].Match != MatchExact {
		t.Error("identity null config must default")
	}
	// Duplicate keys are errors in JSON too.
	_, res, err := LoadBytes([]byte(`{"entities": {}, "entities": {}}`), "x.json")
	if err == nil || res.Errors[0].Kind != KindDuplicateKey {
		t.Fatalf("duplicate JSON key: %v", err)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	s := mustLoad(t, `
entities:
  thing:
    starts: s
    identity: {k: {}}
    properties:
      a: &num {type: number, default: 1}
      b: {<<: *num, default: 2}
      c: *num
    states:
      s:
        when:
          ev: {effects: [create, {set: {property: a, from: event.k}}, {set: {property: b, compute: "entity.a + entity.c"}}]}
sources:
  src:
    event_type: t
    timestamp: ts
    events: {ev: {mappings: {k: k}, hints: {thing: [k]}}}
`)
	e := s.Entity("thing")
	if b := e.Property("b"); b.Type != TypeNumber || b.Default.AsFloat() != 2 {
		t.Errorf("merge key: %+v", b)
	}
	if c := e.Property("c"); c.Type != TypeNumber || c.Default.AsFloat() != 1 {
		t.Errorf("alias: %+v", c)
	}
}

func TestMergeBombIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("entities:\n  x:\n    starts: &m0 {a: 1}\n")
	for i := 1; i <= 40; i++ {
		b.WriteString("    s" + strings.Repeat("x", i) + ": &m" + itoa(i) + " {<<: [*m" + itoa(i-1) + ", *m" + itoa(i-1) + "]}\n")
	}
	b.WriteString("    identity: {<<: *m40}\n")
	start := time.Now()
	_, res, err := LoadBytes([]byte(b.String()), "")
	if err == nil {
		t.Fatal("accepted")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	found := false
	for _, p := range res.Errors {
		found = found || strings.Contains(p.Message, "document too large")
	}
	if !found {
		t.Errorf("no size error:\n%s", problemList(res.Errors))
	}
}

func itoa(i int) string { return string(value.CanonicalJSON(value.Int(int64(i)))) }

func TestSelfReferencingAlias(t *testing.T) {
	// An alias inside its own anchor: must be rejected, not recursed into.
	_, _, err := LoadBytes([]byte("entities: &a {x: *a}\n"), "")
	if err == nil {
		t.Fatal("accepted")
	}
}

func TestOrderedListForm(t *testing.T) {
	a := mustLoad(t, mini("thing"))
	listForm := strings.Replace(mini("thing"), "identity: {k: {}}", "identity: [{k: {match: exact}}]", 1)
	b := mustLoad(t, listForm)
	if a.ContentHash != b.ContentHash {
		t.Error("list form and mapping form must be the same definition")
	}
}

func TestSelfManyToMany(t *testing.T) {
	doc := strings.Replace(mini("person"), "    states:", "    relationships: [{type: knows, target: person, cardinality: many_to_many}]\n    states:", 1)
	mustLoad(t, doc)
	pair := strings.Replace(mini("person"), "    states:", "    relationships:\n      - {type: manages, target: person, cardinality: has_many}\n      - {type: managed_by, target: person, cardinality: belongs_to}\n    states:", 1)
	mustLoad(t, pair)
}

func TestRelateDefaultHintsFromSeveralSources(t *testing.T) {
	s := mustLoad(t, `
entities:
  customer:
    starts: s
    identity: {email: {}, phone: {}}
    states: {s: {when: {signup: {effects: [create]}}}}
    relationships: [{type: orders, target: order, cardinality: has_many}]
  order:
    starts: s
    identity: {order_id: {}}
    states: {s: {when: {placed: {effects: [create, {relate: {type: bought_by, target: customer}}]}}}}
    relationships: [{type: bought_by, target: customer, cardinality: belongs_to}]
sources:
  app:
    event_type: t
    timestamp: ts
    events:
      signup: {mappings: {email: email}, hints: {customer: [email]}}
      placed: {mappings: {order_id: id, phone: phone}, hints: {order: [order_id], customer: [phone]}}
  shop:
    event_type: t
    timestamp: ts
    events:
      placed: {mappings: {order_id: id, email: email}, hints: {order: [order_id], customer: [email]}}
`)
	r := s.Entity("order").State("s").Handler("placed").Effects[1].Relate
	if strings.Join(r.Hints, ",") != "email,phone" {
		t.Errorf("hints = %v, want the union in identity order [email phone]", r.Hints)
	}
}

func TestComputeOrder(t *testing.T) {
	s := mustLoad(t, `
entities:
  thing:
    starts: s
    identity: {k: {}}
    properties:
      d: {type: number, compute: "entity.c + 1"}
      a: {type: number}
      c: {type: number, compute: "entity.b + entity.a"}
      b: {type: number, compute: "entity.a * 2"}
      e: {type: number, compute: "entity.a"}
    states: {s: {when: {ev: {effects: [create, {set: {property: a, from: event.k}}]}}}}
sources:
  src:
    event_type: t
    timestamp: ts
    events: {ev: {mappings: {k: k}, hints: {thing: [k]}}}
`)
	var names []string
	for _, p := range s.Entity("thing").ComputeOrder {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "b,c,d,e" {
		t.Errorf("compute order %s, want b,c,d,e", got)
	}
}

func TestCanonicalForm(t *testing.T) {
	s := mustLoad(t, mini("thing"))
	want := `{"entities":{"thing":{"identity":[{"k":{"match":"exact"}}],"starts":"s","states":{"s":{"when":{"ev":{"effects":[{"create":{}}]}}}}}},` +
		`"sources":{"src":{"event_type":"t","events":{"ev":{"hints":{"thing":["k"]},"mappings":[{"k":{"from":"k"}}],"raw_type":"ev"}},` +
		`"timestamp":"ts","timestamp_unit":"s","timezone":"UTC","unknown_events":"fail"}}}`
	if got := string(s.CanonicalJSON()); got != want {
		t.Errorf("canonical:\n got %s\nwant %s", got, want)
	}
	sum := sha256.Sum256(s.Canonical)
	if s.ContentHash != hex.EncodeToString(sum[:]) {
		t.Error("content hash is not the SHA-256 of the canonical form")
	}
	ents, _ := json.Marshal(json.RawMessage(`{"thing":{"identity":[{"k":{"match":"exact"}}],"starts":"s","states":{"s":{"when":{"ev":{"effects":[{"create":{}}]}}}}}}`))
	if sum := sha256.Sum256(ents); s.EntitiesHash != hex.EncodeToString(sum[:]) {
		t.Error("entities hash")
	}
	if sum := sha256.Sum256([]byte(`{"thing":[{"k":{"match":"exact"}}]}`)); s.IdentityHash != hex.EncodeToString(sum[:]) {
		t.Error("identity hash")
	}
	if len(s.SourceHashes) != 1 || len(s.SourceHashes["src"]) != 64 {
		t.Errorf("source hashes: %v", s.SourceHashes)
	}
}

func TestHashesFollowMeaning(t *testing.T) {
	base := mustLoad(t, base)
	same := []struct{ name, old, new string }{
		{"create spelled as a mapping", "              - create\n              - {set: {property: email", "              - {create: null}\n              - {set: {property: email"},
		{"explicit match default", "identity: {order_id: {}}", "identity: {order_id: {match: exact}}"},
		{"threshold in hours", "threshold: 90d", "threshold: 2160h"},
		{"explicit increment step", "{increment: {property: logins}}", "{increment: {property: logins, by: 1}}"},
		{"mapping as from", "mappings: {email: email}, hints: {customer: [email]}}\n      upgrade", "mappings: {email: {from: email}}, hints: {customer: [email]}}\n      upgrade"},
		{"explicit source defaults", "    timestamp: ts\n", "    timestamp: ts\n    timezone: UTC\n    unknown_events: fail\n    timestamp_unit: s\n"},
		{"explicit relate hints", "{relate: {type: placed_by, target: customer}}", "{relate: {type: placed_by, target: customer, hints: {customer: [email]}}}"},
		{"raw_type equal to the name", "signup: {mappings", "signup: {raw_type: signup, mappings"},
		{"JSON-style quoting", "starts: lead", `starts: "lead"`},
	}
	for _, c := range same {
		s := mustLoad(t, apply(t, baseDoc(), []edit{{c.old, c.new}}))
		if s.ContentHash != base.ContentHash {
			t.Errorf("%s changed the content hash", c.name)
		}
	}
	// Identity field order decides entity ids: it must change the identity hash.
	two := apply(t, baseDoc(), []edit{{"      email: {match: case_insensitive}\n", "      email: {match: case_insensitive}\n      phone: {}\n"}})
	swapped := apply(t, baseDoc(), []edit{{"      email: {match: case_insensitive}\n", "      phone: {}\n      email: {match: case_insensitive}\n"}})
	a, b := mustLoad(t, two), mustLoad(t, swapped)
	if a.IdentityHash == b.IdentityHash || a.EntitiesHash == b.EntitiesHash {
		t.Error("identity order must change the identity and entities hashes")
	}
	// A source change leaves the entity hashes alone.
	c := mustLoad(t, apply(t, baseDoc(), []edit{{"    timestamp: ts\n", "    timestamp: ts\n    timezone: Europe/Paris\n"}}))
	if c.EntitiesHash != base.EntitiesHash || c.IdentityHash != base.IdentityHash || c.SourceHashes["app"] == base.SourceHashes["app"] || c.ContentHash == base.ContentHash {
		t.Error("a source change must change only the source and content hashes")
	}
	// An entity change leaves the sources and identity alone.
	d := mustLoad(t, apply(t, baseDoc(), []edit{{"default: free,", "default: pro,"}}))
	if d.EntitiesHash == base.EntitiesHash || d.IdentityHash != base.IdentityHash || d.SourceHashes["app"] != base.SourceHashes["app"] {
		t.Error("an entity change must change only the entities and content hashes")
	}
}

func baseDoc() string { return base }

func TestErrorType(t *testing.T) {
	_, res, err := LoadBytes([]byte(apply(t, base, []edit{{"starts: lead", "starts: leed"}, {"threshold: 90d", "threshold: 90"}})), "defs.yaml")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is(ErrInvalid) = false for %v", err)
	}
	var de *Error
	if !errors.As(err, &de) || len(de.Problems) != 2 || res.Valid {
		t.Fatalf("typed error: %#v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"invalid definitions (2 problems):",
		`defs.yaml:3:13: entities.customer.starts: starts "leed": no such state; did you mean "lead"?`,
		"defs.yaml:30:43: entities.customer.states.active.after[0].threshold: threshold 90 is a number",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error text lacks %q:\n%s", want, msg)
		}
	}
	j, _ := json.Marshal(res)
	for _, want := range []string{`"valid":false`, `"severity":"error"`, `"kind":"unknown_state"`, `"name":"customer"`, `"path":"entities.customer.starts"`, `"file":"defs.yaml"`, `"line":3`, `"column":13`, `"warnings":[]`} {
		if !strings.Contains(string(j), want) {
			t.Errorf("JSON lacks %s: %s", want, j)
		}
	}
	_, res, _ = LoadBytes([]byte(apply(t, base, []edit{{`guard: "event.email != null"`, `guard: "event.email != + "`}})), "")
	if p := res.Errors[0]; p.ExprPos != 16 || !strings.Contains(p.String(), "(position 16)") {
		t.Errorf("expression position: %+v", p)
	}
	if j, _ := json.Marshal(res.Errors[0]); !strings.Contains(string(j), `"position":16`) {
		t.Errorf("JSON position: %s", j)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("entities/thing.yaml", "thing:\n  starts: s\n  identity: {k: {}}\n  states: {s: {when: {ev: {effects: [create]}}}}\n")
	write("sources/src.yml", "src:\n  event_type: t\n  timestamp: ts\n  events: {ev: {mappings: {k: k}, hints: {thing: [k]}}}\n")
	write("sources/empty.yaml", "# nothing yet\n")
	write("sources/notes.txt", "not yaml: [")
	write("events/ev.yaml", "ev: {fields: {k: {type: string, required: true}}}\n")
	s, res, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if len(res.Warnings) != 0 || s.Schema("ev") == nil {
		t.Fatalf("warnings %v, schema %v", res.Warnings, s.Schema("ev"))
	}
	// The same name in schemas/ and events/ names both places.
	write("schemas/ev.yaml", "ev: {fields: {k: {type: string}}}\n")
	_, res, err = LoadDir(dir)
	if err == nil {
		t.Fatal("duplicate schema accepted")
	}
	p := res.Errors[0]
	if p.Kind != KindDuplicate || !strings.Contains(p.Message, filepath.Join(dir, "schemas", "ev.yaml")+":1:1") ||
		p.File != filepath.Join(dir, "events", "ev.yaml") || p.Line != 1 {
		t.Errorf("duplicate: %+v", p)
	}
	if _, _, err := LoadDir(filepath.Join(dir, "missing")); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("missing dir: %v", err)
	}
}

func TestLoadFilesDuplicateAcrossFiles(t *testing.T) {
	files := map[string][]byte{
		"entities/a.yaml": []byte("thing:\n  starts: s\n  identity: {k: {}}\n  states: {s: {when: {ev: {effects: [create]}}}}\n"),
		"entities/b.yaml": []byte("other: {}\nthing:\n  starts: s\n"),
		"README.md":       []byte("ignored"),
	}
	_, res, err := LoadFiles(files)
	if err == nil {
		t.Fatal("accepted")
	}
	found := false
	for _, p := range res.Errors {
		if p.Kind == KindDuplicate && p.File == "entities/b.yaml" && p.Line == 2 && strings.Contains(p.Message, "entities/a.yaml:1:1") {
			found = true
		}
	}
	if !found {
		t.Errorf("no duplicate naming both places:\n%s", problemList(res.Errors))
	}
}

func TestSuggest(t *testing.T) {
	for _, c := range []struct {
		s, want string
		cands   []string
	}{
		{"actve", "active", []string{"active", "churned", "lead"}},
		{"Active", "active", []string{"active"}},
		{"stats", "states", []string{"starts", "states"}},
		{"inactive", "inactivity", []string{"expiration", "inactivity", "state_duration"}},
		{"xyz", "", []string{"active", "lead"}},
		{"to", "", []string{"by"}},
	} {
		if got := suggest(c.s, c.cands); got != c.want {
			t.Errorf("suggest(%q) = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestParseThreshold(t *testing.T) {
	for s, want := range map[string]int64{"1s": usSecond, "90m": 90 * usMinute, " 2h\t": 2 * usHour, "14d": 14 * usDay, "0007d": 7 * usDay} {
		if got, err := parseThreshold(s); err != nil || got != want {
			t.Errorf("parseThreshold(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "d", "14", "14 d", "1.5h", "-1d", "14D", "0s", "106751992d", "99999999999999999999s"} {
		if _, err := parseThreshold(s); err == nil {
			t.Errorf("parseThreshold(%q) accepted", s)
		}
	}
	if got, err := parseThreshold("106751991d"); err != nil || got != 106751991*usDay {
		t.Errorf("largest day count: %d %v", got, err)
	}
}

func TestCoerceDefaults(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	cases := []struct {
		t    Type
		in   value.Value
		want string
	}{
		{TypeString, value.Int(5), `"5"`},
		{TypeString, value.Float(0.5), `"0.5"`},
		{TypeString, value.Bool(true), `"true"`},
		{TypeInteger, value.String("+42"), `42`},
		{TypeInteger, value.Float(3), `3`},
		{TypeNumber, value.String("1e3"), `1000`},
		{TypeBoolean, value.String("Yes"), `true`},
		{TypeBoolean, value.Int(0), `false`},
		{TypeDateTime, value.String("2024-01-15"), `"2024-01-14T23:00:00+00:00"`},
		{TypeDateTime, value.String("2024-10-27T02:30:00"), `"2024-10-27T00:30:00+00:00"`}, // ambiguous: the earlier instant
		{TypeDateTime, value.String("2024-01-15T10:00:00.1234567+0530"), `"2024-01-15T04:30:00.123456+00:00"`},
		{TypeDateTime, value.Int(1705312800), `"2024-01-15T10:00:00+00:00"`},
	}
	for _, c := range cases {
		got, err := coerce(c.t, c.in, berlin, UnitSeconds)
		if err != nil || string(value.CanonicalJSON(got)) != c.want {
			t.Errorf("coerce(%s, %#v) = %s, %v; want %s", c.t, c.in, value.CanonicalJSON(got), err, c.want)
		}
	}
	for _, c := range []struct {
		t  Type
		in value.Value
	}{
		{TypeInteger, value.Float(1.5)}, {TypeInteger, value.String("1.0")}, {TypeNumber, value.String(" 1")},
		{TypeNumber, value.String("inf")}, {TypeBoolean, value.Int(2)}, {TypeDateTime, value.String("yesterday")},
		{TypeDateTime, value.Int(1705312800000)}, {TypeDateTime, value.String("2024-02-30")},
	} {
		if got, err := coerce(c.t, c.in, berlin, UnitSeconds); err == nil {
			t.Errorf("coerce(%s, %#v) = %#v, want an error", c.t, c.in, got)
		}
	}
}

func BenchmarkLoadBase(b *testing.B) {
	data := []byte(base)
	for b.Loop() {
		if _, _, err := LoadBytes(data, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// JCS writes every character but controls raw, including ones a YAML reader
// would fold or reject; the canonical form must still reload exactly.
func TestCanonicalReloadsAwkwardStrings(t *testing.T) {
	for _, esc := range []string{`\u2028`, `\u2029`, `\u0085`, `\ufeff`, `\t`, `\x7f`, `\u00a0`, `\x9f`, `\U0001F600`} {
		doc := strings.Replace(mini("thing"), "event_type: t", `event_type: "a`+esc+`b"`, 1)
		s, _, err := LoadBytes([]byte(doc), "")
		if err != nil {
			t.Errorf("%s: %v", esc, err)
			continue
		}
		checkRoundTrip(t, s)
	}
}

func TestJSONPositions(t *testing.T) {
	doc := "{\n  \"entities\": {\n    \"thing\": {\"starts\": \"s\", \"identity\": {\"k\": {}},\n      \"states\": {\"s\": {\"when\": {\"ev\": {\"effects\": [\"créate\"]}}}}}\n  }\n}\n"
	_, res, err := LoadBytes([]byte(doc), "defs.json")
	if err == nil {
		t.Fatal("accepted")
	}
	p := res.Errors[0]
	if p.Path != "entities.thing.states.s.when.ev.effects[0]" || p.Line != 4 || p.Column != 52 || !strings.Contains(p.Message, `did you mean "create"?`) {
		t.Errorf("problem: %s", p)
	}
	if off := offsetOf(doc, p.Line, p.Column); !strings.HasPrefix(doc[off:], `"créate"`) {
		t.Errorf("points at %q", doc[off:])
	}
}

func TestFeeds(t *testing.T) {
	s := mustLoad(t, `
entities:
  customer:
    starts: lead
    identity: {email: {}}
    properties:
      email:    {type: string, sensitive: pii, treatment: mask}
      phone:    {type: string, sensitive: pii, treatment: hash}
      nickname: {type: string}
      display:  {type: string, sensitive: pii, compute: "entity.nickname"}
      plan:     {type: string}
    states:
      lead:
        when:
          signup:
            effects:
              - create
              - {set: {property: email, from: event.email}}
              - {set: {property: phone, compute: "str::trim(event.phone)"}}
              - {set: {property: nickname, from: event.nick}}
          upgrade:
            guard: "event.plan != entity.plan"
            effects: [{set: {property: plan, from: event.plan}}]
sources:
  web:
    event_type: type
    timestamp: ts
    events:
      signup:
        mappings: {email: email, phone: contact.phone, nick: {compute: "str::trim(event.profile.nick)"}}
        hints: {customer: [email]}
      upgrade:
        mappings: {email: email, plan: plan}
        hints: {customer: [email]}
`)
	var got []string
	for _, f := range s.Entity("customer").Feeds {
		got = append(got, f.EventType+"."+f.Field+":"+f.Treatment+":"+strings.Join(f.RawPaths["web"], "|"))
	}
	want := "signup.email:mask:email signup.nick:redact:profile.nick signup.phone:hash:contact.phone upgrade.email:mask:email"
	if strings.Join(got, " ") != want {
		t.Errorf("feeds\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestNumberLiteralsRoundTrip(t *testing.T) {
	doc := strings.Replace(mini("thing"), "mappings: {k: k}", "mappings: {k: k, a: {default: 3.0}, b: {default: 2.5}, c: {type: number, default: 4}, d: {default: 1e30}}", 1)
	s := mustLoad(t, doc)
	ms := s.Source("src").Event("ev").Mappings
	for i, want := range []string{"Int(3)", "Float(2.5)", "Float(4)", "Float(1e+30)"} {
		if got := ms[i+1].Default.GoString(); got != want {
			t.Errorf("%s default = %s, want %s", ms[i+1].Field, got, want)
		}
	}
}
