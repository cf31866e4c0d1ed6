package normalize

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/defacto-dev/defacto/internal/value"
)

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2024-01-15T10:00:00Z", "2024-01-15t10:00:00.123456789+05:30", "2024-01-15 10:00-0500",
		"2024-01-15", "2024-03-31T02:30:00", "2024-10-27T02:30:00", "0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "2024-02-30", "1705312800", "2024-01-15T10:00:00+24:00",
	} {
		f.Add(s)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, loc := range []*time.Location{time.UTC, berlin} {
			us, err := ParseTimestamp(value.String(s), loc, "s")
			if err != nil {
				if !utf8.ValidString(err.Error()) {
					t.Fatalf("%q: message is not UTF-8: %q", s, err)
				}
				continue
			}
			if us < minMicros || us > maxMicros {
				t.Fatalf("%q: %d outside the supported range", s, us)
			}
			// The canonical text is itself a timestamp of the same instant.
			text := value.FormatTime(us)
			back, err := ParseTimestamp(value.String(text), loc, "s")
			if err != nil || back != us {
				t.Fatalf("%q → %s → %d, %v", s, text, back, err)
			}
		}
	})
}

const fuzzDefs = `
entities:
  customer:
    starts: lead
    identity: {email: {}}
    properties: {email: {type: string}}
    states:
      lead:
        when:
          signup: {effects: [create]}
          order: {effects: [create]}
sources:
  app:
    event_type: type
    timestamp: ts
    timezone: Europe/Berlin
    events:
      signup:
        mappings:
          email: user.email
          plan: {from: plan, type: string, default: free}
          age: {from: age, type: integer}
          score: {from: items.0.score, type: number}
          vip: {from: vip, type: boolean}
          seen: {from: seen, type: datetime}
          domain: {compute: "split(event.user.email, '@')[1]"}
          n: {compute: "len(event.items)", type: integer}
        hints: {customer: [email]}
  shop:
    event_type: meta.kind
    timestamp: meta.at
    timestamp_unit: ms
    event_id: [order.id, meta.kind]
    unknown_events: ignore
    events:
      order:
        raw_type: order.placed
        mappings: {email: buyer.email, total: {from: order.total, type: number}}
        hints: {customer: [email]}
schemas:
  signup:
    fields:
      email: {type: string, required: true, regex: '^[^@]+@[^@]+$'}
      plan: {type: string, allowed: [free, pro]}
      age: {type: integer, min: 18, max: 120}
      score: {type: number}
      vip: {type: boolean}
      seen: {type: datetime}
      domain: {type: string, min_length: 3}
      n: {type: integer}
`

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		`{"type":"signup","ts":"2024-01-15T10:00:00Z","user":{"email":"a@b.c"},"plan":"pro","age":"30","items":[{"score":"1.5"}],"vip":"yes","seen":1705312800}`,
		`{"type":"signup","ts":1705312800.5,"user":{"email":"x"}}`,
		`{"type":"signup","ts":"2024-03-31T02:30:00","user":{"email":7},"items":{"0":1}}`,
		`{"meta":{"kind":"order.placed","at":1705312800500},"order":{"id":"o-1","total":"12.50"},"buyer":{"email":"a@b"}}`,
		`{"meta":{"kind":"other","at":1}}`,
		`{"type":"nope"}`,
		`[1,2,3]`,
	} {
		f.Add([]byte(s))
	}
	set := load(f, fuzzDefs)
	n := New(set)
	sources := set.Sources
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := value.FromJSON(data)
		if err != nil {
			return
		}
		for _, src := range sources {
			for _, check := range []bool{true, false} {
				ev, ignored, fl := n.Normalize(src, raw, ingestedAt, check)
				switch {
				case fl != nil:
					if ev != nil || ignored || fl.Stage != StageNormalize || fl.Message == "" {
						t.Fatalf("inconsistent failure %+v (ev=%v ignored=%v)", fl, ev, ignored)
					}
				case ignored:
					if ev != nil {
						t.Fatal("ignored with an event")
					}
				default:
					if ev == nil || len(ev.ID) != 64 || ev.Time < minMicros || ev.Time > maxMicros {
						t.Fatalf("bad event %+v", ev)
					}
					if got := len(ev.Data.AsObject()); got != len(ev.Config.Mappings) {
						t.Fatalf("data has %d members, want %d", got, len(ev.Config.Mappings))
					}
					again, _, _ := n.Normalize(src, raw, ingestedAt, check)
					if again == nil || again.ID != ev.ID {
						t.Fatal("normalization is not deterministic")
					}
				}
			}
		}
	})
}
