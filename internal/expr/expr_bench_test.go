package expr

import (
	"testing"

	"github.com/defacto-dev/defacto/internal/value"
)

func benchEnv() *Env {
	return &Env{
		Event:  MapScope{"plan": value.String("pro"), "email": value.String("  Bo@Example.COM "), "amount": value.Float(12.5)},
		Entity: MapScope{"plan": value.String("free"), "mrr": value.Int(100), "state": value.String("active")},
		Now:    1705312800000000,
	}
}

func benchEval(b *testing.B, src string) {
	p := MustParse(src)
	env := benchEnv()
	if _, err := p.Eval(env); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = p.Eval(env)
	}
}

// The typical handler guard: must stay well under 1 µs with zero allocations.
func BenchmarkGuard(b *testing.B) {
	p := MustParse("event.plan != entity.plan and entity.mrr > 0")
	env := benchEnv()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := p.EvalBool(env); !ok || err != nil {
			b.Fatal("guard")
		}
	}
}

func BenchmarkComputeMul(b *testing.B) { benchEval(b, "entity.mrr * 12") }

func BenchmarkComputeFloat(b *testing.B) { benchEval(b, "event.amount * 1.2 + entity.mrr") }

// str::trim returns a substring: no allocation.
func BenchmarkStringTrim(b *testing.B) { benchEval(b, "str::trim(event.email)") }

// Lowercasing a mixed-case string must allocate the result (one allocation).
func BenchmarkStringLowerTrim(b *testing.B) {
	benchEval(b, "str::to_lowercase(str::trim(event.email))")
}

func BenchmarkRegexConst(b *testing.B) { benchEval(b, "regex_match(event.email, '@example\\\\.com')") }

func BenchmarkIfChain(b *testing.B) {
	benchEval(b, "if entity.mrr > 1000 then 'big' else if entity.mrr > 50 then 'mid' else 'small'")
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("event.plan != entity.plan and entity.mrr > 0"); err != nil {
			b.Fatal(err)
		}
	}
}
