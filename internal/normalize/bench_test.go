package normalize

import (
	"testing"

	"github.com/defacto-dev/defacto/internal/value"
)

const benchDefs = `
entities:
  customer:
    starts: lead
    identity: {email: {}}
    properties: {email: {type: string}}
    states:
      lead:
        when:
          order_placed: {effects: [create]}
sources:
  shop:
    event_type: kind
    timestamp: at
    events:
      order_placed:
        raw_type: order.placed
        mappings:
          order_id: order.id
          email: buyer.email
          total: {from: order.total, type: number}
          channel: {default: web}
        hints: {customer: [email]}
`

// BenchmarkNormalize normalizes a typical record: four mapped fields, one
// coerced, nested paths, a string timestamp and the default event id.
func BenchmarkNormalize(b *testing.B) {
	set := load(b, benchDefs)
	n := New(set)
	src := set.Source("shop")
	raw, err := value.FromJSON([]byte(`{"kind":"order.placed","at":"2024-01-15T10:00:00.250Z",
		"order":{"id":"o-1001","total":"129.90"},"buyer":{"email":"alice@example.com"}}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, f := n.Normalize(src, raw, ingestedAt, true); f != nil {
			b.Fatal(f)
		}
	}
}

func BenchmarkParseTimestamp(b *testing.B) {
	v := value.String("2024-01-15T10:00:00.123456+01:00")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTimestamp(v, nil, "s"); err != nil {
			b.Fatal(err)
		}
	}
}
