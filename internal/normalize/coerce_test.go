package normalize

import (
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

func TestCoerce(t *testing.T) {
	const (
		S = definition.TypeString
		I = definition.TypeInteger
		N = definition.TypeNumber
		B = definition.TypeBoolean
		D = definition.TypeDateTime
	)
	arr := value.Array([]value.Value{value.Int(1)})
	obj := value.Object(map[string]value.Value{"a": value.Int(1)})
	dt := value.DateTime(1705312800000000)
	tests := []struct {
		in   value.Value
		typ  definition.Type
		want value.Value
	}{
		// Null stays Null for every type; no type leaves the value alone.
		{value.Null, S, value.Null},
		{value.Null, I, value.Null},
		{value.Null, D, value.Null},
		{arr, "", arr},
		{obj, "", obj},

		// string
		{value.String("x"), S, value.String("x")},
		{value.String(""), S, value.String("")},
		{value.Int(42), S, value.String("42")},
		{value.Int(-9223372036854775808), S, value.String("-9223372036854775808")},
		{value.Float(2.5), S, value.String("2.5")},
		{value.Float(3), S, value.String("3")},
		{value.Float(1e21), S, value.String("1e+21")},
		{value.Float(0.1), S, value.String("0.1")},
		{value.True, S, value.String("true")},
		{value.False, S, value.String("false")},
		{dt, S, value.String("2024-01-15T10:00:00+00:00")},
		{value.Duration(5400e6), S, value.String("5400s")},

		// integer
		{value.Int(7), I, value.Int(7)},
		{value.Float(3), I, value.Int(3)},
		{value.Float(-3), I, value.Int(-3)},
		{value.Float(-9223372036854775808.0), I, value.Int(-9223372036854775808)},
		{value.String("42"), I, value.Int(42)},
		{value.String("+7"), I, value.Int(7)},
		{value.String("-7"), I, value.Int(-7)},
		{value.String("007"), I, value.Int(7)},
		{value.String("9223372036854775807"), I, value.Int(9223372036854775807)},
		{value.String("-9223372036854775808"), I, value.Int(-9223372036854775808)},

		// number
		{value.Float(2.5), N, value.Float(2.5)},
		{value.Int(7), N, value.Float(7)},
		{value.String("42.5"), N, value.Float(42.5)},
		{value.String("1e3"), N, value.Float(1000)},
		{value.String("-1.5E-3"), N, value.Float(-0.0015)},
		{value.String("+.5"), N, value.Float(0.5)},
		{value.String("5."), N, value.Float(5)},
		{value.String("42"), N, value.Float(42)},
		{value.String("1e-400"), N, value.Float(0)},

		// boolean
		{value.True, B, value.True},
		{value.False, B, value.False},
		{value.String("true"), B, value.True},
		{value.String("TRUE"), B, value.True},
		{value.String("yes"), B, value.True},
		{value.String("YES"), B, value.True},
		{value.String("1"), B, value.True},
		{value.String("False"), B, value.False},
		{value.String("No"), B, value.False},
		{value.String("0"), B, value.False},
		{value.Int(0), B, value.False},
		{value.Int(1), B, value.True},

		// datetime
		{dt, D, dt},
		{value.String("2024-01-15T10:00:00Z"), D, dt},
		{value.String("2024-01-15T11:00:00+01:00"), D, dt},
		{value.Int(1705312800), D, dt},
		{value.Float(1705312800.25), D, value.DateTime(1705312800250000)},
	}
	for _, tc := range tests {
		got, err := Coerce(tc.in, tc.typ, time.UTC, "s")
		if err != nil {
			t.Errorf("Coerce(%#v, %s): %v", tc.in, tc.typ, err)
			continue
		}
		if got.Kind() != tc.want.Kind() || !value.Equal(got, tc.want) {
			t.Errorf("Coerce(%#v, %s) = %#v, want %#v", tc.in, tc.typ, got, tc.want)
		}
	}
}

func TestCoerceUsesZoneAndUnit(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	got, err := Coerce(value.String("2024-01-15 12:00"), definition.TypeDateTime, berlin, "s")
	if err != nil || value.FormatTime(got.Micros()) != "2024-01-15T11:00:00+00:00" {
		t.Errorf("zone: %#v %v", got, err)
	}
	got, err = Coerce(value.Int(1705312800000), definition.TypeDateTime, time.UTC, "ms")
	if err != nil || value.FormatTime(got.Micros()) != "2024-01-15T10:00:00+00:00" {
		t.Errorf("unit: %#v %v", got, err)
	}
}

func TestCoerceFailures(t *testing.T) {
	const (
		S = definition.TypeString
		I = definition.TypeInteger
		N = definition.TypeNumber
		B = definition.TypeBoolean
		D = definition.TypeDateTime
	)
	arr := value.Array([]value.Value{value.Int(1)})
	obj := value.Object(map[string]value.Value{"a": value.Int(1)})
	dt := value.DateTime(1705312800000000)
	tests := []struct {
		in  value.Value
		typ definition.Type
		msg string
	}{
		{arr, S, "cannot convert Array [1] to string"},
		{obj, S, `cannot convert Object {"a":1} to string`},

		{value.Float(2.5), I, "cannot convert Float 2.5 to integer"},
		{value.Float(1e19), I, "cannot convert Float 10000000000000000000 to integer: out of range"},
		{value.Float(9223372036854775808.0), I, "out of range"},
		{value.String("abc"), I, `cannot convert String "abc" to integer`},
		{value.String("4.0"), I, `cannot convert String "4.0" to integer`},
		{value.String(" 4"), I, "to integer"},
		{value.String("1e3"), I, "to integer"},
		{value.String(""), I, "to integer"},
		{value.String("+"), I, "to integer"},
		{value.String("9223372036854775808"), I, "out of range"},
		{value.True, I, "cannot convert Bool true to integer"},
		{dt, I, "cannot convert DateTime 2024-01-15T10:00:00+00:00 to integer"},
		{arr, I, "cannot convert Array"},
		{obj, I, "cannot convert Object"},

		{value.String("abc"), N, `cannot convert String "abc" to number`},
		{value.String("inf"), N, "to number"},
		{value.String("Infinity"), N, "to number"},
		{value.String("nan"), N, "to number"},
		{value.String("NaN"), N, "to number"},
		{value.String("1e400"), N, `cannot convert String "1e400" to number: not finite`},
		{value.String(" 1"), N, "to number"},
		{value.String("1 "), N, "to number"},
		{value.String("0x10"), N, "to number"},
		{value.String("1_000"), N, "to number"},
		{value.String("."), N, "to number"},
		{value.String("1e"), N, "to number"},
		{value.String(""), N, "to number"},
		{value.True, N, "cannot convert Bool true to number"},
		{dt, N, "to number"},
		{arr, N, "to number"},
		{obj, N, "to number"},

		{value.Int(2), B, "cannot convert Int 2 to boolean"},
		{value.Int(-1), B, "to boolean"},
		{value.Float(1), B, "cannot convert Float 1 to boolean"},
		{value.Float(0), B, "to boolean"},
		{value.String("y"), B, `cannot convert String "y" to boolean`},
		{value.String("on"), B, "to boolean"},
		{value.String(""), B, "to boolean"},
		{value.String("yeſ"), B, "to boolean"}, // no Unicode folding
		{value.String(" true"), B, "to boolean"},
		{arr, B, "to boolean"},
		{obj, B, "to boolean"},

		{value.String("tomorrow"), D, `cannot convert String "tomorrow" to datetime: timestamp must be an ISO 8601 string or an epoch number`},
		{value.String("1705312800"), D, "to datetime"},
		{value.Int(1705312800500), D, "out of range for unit 's' (is it in a finer unit?)"},
		{value.True, D, "cannot convert Bool true to datetime"},
		{value.Duration(1), D, "to datetime"},
		{arr, D, "to datetime"},
		{obj, D, "to datetime"},

		{value.Int(1), "money", "unknown type 'money'"},
	}
	for _, tc := range tests {
		got, err := Coerce(tc.in, tc.typ, time.UTC, "s")
		if err == nil {
			t.Errorf("Coerce(%#v, %s) = %#v, want error", tc.in, tc.typ, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Coerce(%#v, %s): %q, want %q", tc.in, tc.typ, err, tc.msg)
		}
	}
}

func TestCoerceShortensLongValues(t *testing.T) {
	long := strings.Repeat("é", 100)
	_, err := Coerce(value.String(long), definition.TypeInteger, time.UTC, "s")
	if err == nil || len(err.Error()) > 120 || !strings.Contains(err.Error(), "…") {
		t.Errorf("long value message: %v", err)
	}
}
