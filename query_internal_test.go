package defacto

import (
	"testing"

	"github.com/defacto-dev/defacto/internal/store/sqlite"
)

// Filter values given as text are parsed as the column's type; other
// values must already have it.
func TestConvertArgParsesText(t *testing.T) {
	d := (&sqlite.Store{}).Dialect() // SQLite binds booleans as 0/1
	for _, tc := range []struct {
		typ  string
		in   any
		want any
	}{
		{ColBoolean, "true", int64(1)}, {ColBoolean, " F ", int64(0)}, {ColBoolean, true, int64(1)},
		{ColInteger, "-7", int64(-7)}, {ColNumber, "2.5", 2.5}, {ColNumber, 3, int64(3)},
		{ColString, "10", "10"},
	} {
		got, err := convertArg(d, Column{"c", tc.typ}, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s %#v: %#v, %v; want %#v", tc.typ, tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		typ string
		in  any
	}{{ColBoolean, "yes"}, {ColBoolean, 1}, {ColInteger, "1e999"}, {ColNumber, "NaN"}, {ColNumber, true}, {ColString, 10}} {
		if got, err := convertArg(d, Column{"c", tc.typ}, tc.in); err == nil {
			t.Errorf("%s %#v: %#v, want an error", tc.typ, tc.in, got)
		}
	}
}
