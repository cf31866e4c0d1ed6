package identity

import (
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/normalize"
	"github.com/defacto-dev/defacto/internal/value"
)

const extractDefs = `
entities:
  order:
    starts: placed
    identity: {order_id: {}}
    properties: {total: {type: number}}
    states:
      placed:
        when:
          order_placed: {effects: [create]}
  customer:
    starts: lead
    identity:
      email: {match: case_insensitive, normalize: "str::trim(value)"}
      phone: {normalize: "if value == 'unknown' then null else value"}
      account: {}
      code: {normalize: "len(value)"}
    properties:
      email: {type: string, sensitive: pii, treatment: mask}
      phone: {type: string}
      account: {type: string, sensitive: true}
    states:
      lead:
        when:
          order_placed: {effects: [create]}
          signup: {effects: [create]}
sources:
  shop:
    event_type: kind
    timestamp: at
    events:
      order_placed:
        mappings: {order_id: order.id, email: buyer.email, phone: buyer.phone, account: buyer.account, total: total}
        hints: {order: [order_id], customer: [phone, account, email]}
      signup:
        mappings: {email: email, code: code}
        hints: {customer: [code, email]}
`

type fixture struct {
	t   testing.TB
	set *definition.Set
	n   *normalize.Normalizer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	set, res, err := definition.LoadBytes([]byte(extractDefs), "extract.yaml")
	if err != nil {
		t.Fatalf("definitions: %v (%v)", err, res)
	}
	return &fixture{t: t, set: set, n: normalize.New(set)}
}

func (fx *fixture) event(rawJSON string) *normalize.Event {
	fx.t.Helper()
	raw, err := value.FromJSON([]byte(rawJSON))
	if err != nil {
		fx.t.Fatal(err)
	}
	ev, _, f := fx.n.Normalize(fx.set.Source("shop"), raw, 0, true)
	if f != nil {
		fx.t.Fatal(f)
	}
	return ev
}

// render lists keys as "entity.field=value(sensitive)" for comparison.
func render(eks []EntityKeys) string {
	var parts []string
	for _, ek := range eks {
		for _, k := range ek.Keys {
			if k.Entity != ek.Entity {
				parts = append(parts, "MISMATCH")
			}
			s := k.Entity + "." + k.Field + "=" + k.Value
			if k.Sensitive {
				s += "(s)"
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

func TestExtract(t *testing.T) {
	fx := newFixture(t)
	salt := testSalt()
	ev := fx.event(`{"kind":"order_placed","at":"2024-01-15T10:00:00Z","order":{"id":"o-1001"},
		"buyer":{"email":"  Alice@Example.COM ","phone":"+15550001","account":"AC-1"},"total":5}`)
	eks, f := Extract(fx.set, salt, ev)
	if f != nil {
		t.Fatal(f)
	}
	// Entity types ascending; fields in identity-field order, not hint order.
	want := "customer.email=alice@example.com(s) customer.phone=+15550001 customer.account=AC-1(s) order.order_id=o-1001"
	if got := render(eks); got != want {
		t.Errorf("keys\n got %s\nwant %s", got, want)
	}
	if eks[0].Keys[0].Hash != "260d7f6173d1b6f617cb18699a4a3c0c670086ff2f748bdd72d0b5ae922995fb" {
		t.Errorf("email key hash %s", eks[0].Keys[0].Hash)
	}
	if eks[1].Keys[0].Hash != "d0f64c26cb06038849edacb637a1075e6f5ac2856490fe2d1b504f3ec65e6b90" {
		t.Errorf("order key hash %s", eks[1].Keys[0].Hash)
	}
	if id := EntityID(salt, eks[0].Keys[0].Hash); id != "e60ae35b-5100-809d-9511-49fec12da0d1" {
		t.Errorf("customer id %s", id)
	}
}

func TestExtractSkipsMissingNullAndEmpty(t *testing.T) {
	fx := newFixture(t)
	salt := testSalt()
	tests := []struct{ rec, want string }{
		// Missing and null fields give no key; so do empty strings and a
		// normalize expression returning null.
		{`"buyer":{"email":"a@b","phone":null}`, "customer.email=a@b(s)"},
		{`"buyer":{"email":"   ","phone":"unknown","account":""}`, ""},
		{`"buyer":{"phone":"","account":"X"}`, "customer.account=X(s)"},
		// Numbers are keys in decimal / to_string form.
		{`"buyer":{"phone":15550001,"account":2.5}`, "customer.phone=15550001 customer.account=2.5(s)"},
		{`"buyer":{"phone":1e21}`, "customer.phone=1e+21"},
		// Case folding follows normalization; exact fields keep case.
		{`"buyer":{"email":"ΣΊΣΥΦΟΣ@X","account":"Ab"}`, "customer.email=σίσυφοσ@x(s) customer.account=Ab(s)"},
	}
	for _, tc := range tests {
		ev := fx.event(`{"kind":"order_placed","at":"2024-01-15T10:00:00Z",` + tc.rec + `}`)
		eks, f := Extract(fx.set, salt, ev)
		if f != nil {
			t.Errorf("%s: %v", tc.rec, f)
			continue
		}
		if got := render(eks); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.rec, got, tc.want)
		}
		// An entity type without keys is left out entirely.
		for _, ek := range eks {
			if len(ek.Keys) == 0 {
				t.Errorf("%s: empty entry for %s", tc.rec, ek.Entity)
			}
		}
	}
}

func TestExtractFailures(t *testing.T) {
	fx := newFixture(t)
	salt := testSalt()
	tests := []struct{ rec, field, msg string }{
		{`"kind":"order_placed","buyer":{"phone":true}`, "phone",
			"entity 'customer' identity field 'phone': Bool is not an identity value"},
		{`"kind":"order_placed","buyer":{"email":["a@b"]}`, "email", "identity field 'email': Array is not an identity value"},
		{`"kind":"order_placed","order":{"id":{"n":1}}`, "order_id", "entity 'order' identity field 'order_id'"},
		{`"kind":"signup","code":"abc"`, "code",
			"entity 'customer' identity field 'code': normalize must return a string or null, got Int"},
	}
	for _, tc := range tests {
		ev := fx.event(`{"at":"2024-01-15T10:00:00Z",` + tc.rec + `}`)
		eks, f := Extract(fx.set, salt, ev)
		if f == nil {
			t.Errorf("%s: no failure, keys %s", tc.rec, render(eks))
			continue
		}
		if f.Stage != normalize.StageIdentity || f.Field != tc.field || !strings.Contains(f.Message, tc.msg) ||
			!strings.Contains(f.Message, "source 'shop'") || f.EventType == "" {
			t.Errorf("%s: %+v", tc.rec, f)
		}
	}
}

func TestExtractWithoutHints(t *testing.T) {
	if eks, f := Extract(nil, nil, &normalize.Event{}); eks != nil || f != nil {
		t.Errorf("%v %v", eks, f)
	}
}

func BenchmarkExtract(b *testing.B) {
	fx := newFixture(b)
	salt := testSalt()
	ev := fx.event(`{"kind":"order_placed","at":"2024-01-15T10:00:00Z","order":{"id":"o-1001"},
		"buyer":{"email":"Alice@Example.COM","phone":"+15550001"},"total":5}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, f := Extract(fx.set, salt, ev); f != nil {
			b.Fatal(f)
		}
	}
}

func BenchmarkKeyHash(b *testing.B) {
	salt := testSalt()
	b.ReportAllocs()
	for b.Loop() {
		KeyHash(salt, "customer", "email", "alice@example.com")
	}
}
