package expr

import (
	"errors"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/defacto-dev/defacto/internal/value"
)

var fuzzSeeds = []string{
	"event.plan != entity.plan and entity.mrr > 0",
	"entity.mrr * 12",
	"-2 ** 2", "2 ** 3 ** 2", "2 ** -1", "1 < 2 < 3", "not a == b",
	"if event.n > 10 then 'big' else if event.n > 3 then 'mid' else 'small'",
	"str::substring(event.s, -5, 3)", "regex_extract('id=42;x', 'id=([0-9]+)')",
	"parse_datetime('2024-05-17T13:45:30.5+02:00', '%Y-%m-%dT%H:%M:%S.%f%z')",
	"coalesce(event.missing, 1 / 0)", "event.items.0.id", "event.s[-1]",
	"to_string(1h + 30m)", "join(split(event.csv, ''), ',')", "'\\u00e9\\ud83d\\ude00'",
	"date_trunc(now(), 'day') - 36h", "days_since(event.t)", "regex_match(event.s, event.pat)",
	"to_float(event.s)", "to_int('-9223372036854775808')", "floor(1e300)", "event.big * event.big",
}

// fuzzEnv is the fixed environment of FuzzEval: every kind, extremes included.
func fuzzEnv() *Env {
	return &Env{
		Event: MapScope{
			"n": value.Int(5), "s": value.String("Héllo, World"), "f": value.Float(2.5),
			"items": value.Array([]value.Value{value.String("a"), value.Null, value.Int(2), value.Float(-0.5)}),
			"obj":   value.Object(map[string]value.Value{"k": value.String("v"), "n": value.Object(map[string]value.Value{"deep": value.Int(1)})}),
			"t":     value.DateTime(1705314645123456), "d": value.Duration(5_400_000_000),
			"big": value.Int(math.MaxInt64), "small": value.Int(math.MinInt64), "huge": value.Float(math.MaxFloat64),
			"tiny": value.Float(5e-324), "csv": value.String("a,,b"), "pat": value.String("[0-9]+("),
			"yes": value.Bool(true), "empty": value.String(""), "max_t": value.DateTime(maxDateTime),
			"min_t": value.DateTime(minDateTime), "max_d": value.Duration(math.MaxInt64), "min_d": value.Duration(math.MinInt64),
		},
		Entity:   MapScope{"plan": value.String("free"), "mrr": value.Int(100)},
		Value:    value.String(" Alice@Example.COM "),
		HasValue: true,
		Now:      1706745600000000,
	}
}

// checkValue asserts the invariants every result must satisfy.
func checkValue(t *testing.T, src string, v value.Value) {
	switch v.Kind() {
	case value.KindFloat:
		if f := v.AsFloat(); math.IsNaN(f) || math.IsInf(f, 0) {
			t.Fatalf("%q produced a non-finite Float %v", src, f)
		}
	case value.KindDateTime:
		if us := v.Micros(); us < minDateTime || us > maxDateTime {
			t.Fatalf("%q produced a DateTime out of range: %d", src, us)
		}
	case value.KindArray:
		for _, e := range v.AsArray() {
			checkValue(t, src, e)
		}
	case value.KindObject:
		for _, e := range v.AsObject() {
			checkValue(t, src, e)
		}
	}
}

func checkParse(t *testing.T, src string) *Program {
	p, err := Parse(src)
	if err != nil {
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("Parse(%q) error %T, want *Error", src, err)
		}
		if n := utf8.RuneCountInString(src); pe.Pos < 1 || pe.Pos > n+1 {
			t.Fatalf("Parse(%q) error position %d outside 1..%d", src, pe.Pos, n+1)
		}
		_ = err.Error()
		return nil
	}
	n := utf8.RuneCountInString(src)
	for _, r := range p.Refs() {
		if r.Pos < 1 || r.Pos > n {
			t.Fatalf("Parse(%q) ref position %d outside 1..%d", src, r.Pos, n)
		}
	}
	return p
}

func checkEval(t *testing.T, p *Program, env *Env) {
	v, err := p.Eval(env)
	if err != nil {
		var ee *EvalError
		if !errors.As(err, &ee) {
			t.Fatalf("Eval(%q) error %T, want *EvalError", p.Source(), err)
		}
		_ = err.Error()
	} else {
		checkValue(t, p.Source(), v)
	}
	// Deterministic, and EvalBool agrees with Eval.
	v2, err2 := p.Eval(env)
	if (err == nil) != (err2 == nil) || (err == nil && !value.Equal(v, v2)) {
		t.Fatalf("Eval(%q) not deterministic: %v/%v vs %v/%v", p.Source(), v, err, v2, err2)
	}
	b, errB := p.EvalBool(env)
	if err == nil {
		switch v.Kind() {
		case value.KindBool:
			if errB != nil || b != v.AsBool() {
				t.Fatalf("EvalBool(%q) = %v, %v; Eval = %v", p.Source(), b, errB, v)
			}
		case value.KindNull:
			if errB != nil || b {
				t.Fatalf("EvalBool(%q) = %v, %v for Null", p.Source(), b, errB)
			}
		default:
			if errB == nil {
				t.Fatalf("EvalBool(%q) accepted %v", p.Source(), v)
			}
		}
	}
	if p.IsConstant() {
		// A constant program gives the same outcome in any environment.
		v3, err3 := p.Eval(nil)
		if (err == nil) != (err3 == nil) || (err == nil && !value.Equal(v, v3)) {
			t.Fatalf("constant %q differs without env: %v/%v vs %v/%v", p.Source(), v, err, v3, err3)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if p := checkParse(t, src); p != nil {
			checkEval(t, p, nil)
		}
	})
}

func FuzzEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	env := fuzzEnv()
	f.Fuzz(func(t *testing.T, src string) {
		if p := checkParse(t, src); p != nil {
			checkEval(t, p, env)
		}
	})
}
