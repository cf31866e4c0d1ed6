package sqlite

import (
	"database/sql/driver"
	"fmt"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/defacto-dev/defacto/internal/value"
)

// newDriver returns the driver with the SQL functions raw queries may use
// (history.md §6): instants are stored as integer µs, so users need a way to
// write and read them as text.
//
//	defacto_ts(text)    → integer µs (RFC 3339; no offset means UTC; a bare date is its start)
//	defacto_iso(integer) → canonical text, e.g. 2024-01-02T03:04:05.5+00:00
//
// Both return NULL for NULL.
func newDriver() *msqlite.Driver {
	d := &msqlite.Driver{}
	d.MustRegisterDeterministicScalarFunction("defacto_ts", 1, sqlTS)
	d.MustRegisterDeterministicScalarFunction("defacto_iso", 1, sqlISO)
	return d
}

func sqlTS(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	var s string
	switch a := args[0].(type) {
	case nil:
		return nil, nil
	case string:
		s = a
	case []byte:
		s = string(a)
	case int64:
		return a, nil // already µs
	default:
		return nil, fmt.Errorf("defacto_ts: want text, got %T", a)
	}
	us, err := parseInstant(s)
	if err != nil {
		return nil, fmt.Errorf("defacto_ts: %q is not an RFC 3339 instant or a date", s)
	}
	return us, nil
}

func sqlISO(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch a := args[0].(type) {
	case nil:
		return nil, nil
	case int64:
		return value.FormatTime(a), nil
	case float64:
		return value.FormatTime(int64(a)), nil
	default:
		return nil, fmt.Errorf("defacto_iso: want integer µs, got %T", a)
	}
}

// parseInstant accepts what AsOf accepts (history.md §5): RFC 3339 with an
// offset, the same without one (UTC), or a date (its start, UTC).
func parseInstant(s string) (int64, error) {
	if us, err := value.ParseTime(s); err == nil {
		return us, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UnixMicro(), nil
		}
	}
	return 0, fmt.Errorf("unparsable instant %q", s)
}
