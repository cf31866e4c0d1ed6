package normalize

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // tests must not depend on the machine's zoneinfo

	"github.com/defacto-dev/defacto/internal/value"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParseTimestampStrings(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	ny := mustLoc(t, "America/New_York")
	tests := []struct {
		in   string
		loc  *time.Location
		want string
	}{
		// Offsets: Z, z, ±HH:MM, ±HHMM, ±HH; separators T, t, space.
		{"2024-01-15T10:00:00Z", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15T10:00:00z", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15t11:00:00Z", nil, "2024-01-15T11:00:00+00:00"},
		{"2024-01-15 10:00:00z", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15T12:00:00+02:00", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15T15:30:00+0530", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15T05:00-05", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15T05:00:00-05:00", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15T10:00:00-00:00", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15T00:30:00+01:00", nil, "2024-01-14T23:30:00+00:00"},
		{"2024-01-15T10:00:00+05:00", berlin, "2024-01-15T05:00:00+00:00"}, // explicit offset wins
		// Minute precision, fractions of 1–9 digits, truncated toward the past.
		{"2024-01-15T10:00Z", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15T10:00:00.5Z", nil, "2024-01-15T10:00:00.500+00:00"},
		{"2024-01-15T10:00:00.25Z", nil, "2024-01-15T10:00:00.250+00:00"},
		{"2024-01-15T10:00:00.000250Z", nil, "2024-01-15T10:00:00.000250+00:00"},
		{"2024-01-15T10:00:00.123456789Z", nil, "2024-01-15T10:00:00.123456+00:00"},
		{"2024-01-15T10:00:00.9999999Z", nil, "2024-01-15T10:00:00.999999+00:00"},
		{"1969-12-31T23:59:59.9999999Z", nil, "1969-12-31T23:59:59.999999+00:00"},
		{"2024-01-15T10:00:00.1234567+01:00", nil, "2024-01-15T09:00:00.123456+00:00"},
		// Offset-less times and dates in the source's zone.
		{"2024-01-15T10:00:00", nil, "2024-01-15T10:00:00+00:00"},
		{"2024-01-15T10:00:00", berlin, "2024-01-15T09:00:00+00:00"},
		{"2024-07-15T10:00:00", berlin, "2024-07-15T08:00:00+00:00"},
		{"2024-01-15 12:00", berlin, "2024-01-15T11:00:00+00:00"},
		{"2024-01-15", berlin, "2024-01-14T23:00:00+00:00"},
		{"2024-01-15", nil, "2024-01-15T00:00:00+00:00"},
		// DST gap: forward by the gap; overlap: the earlier instant.
		{"2024-03-31T02:30:00", berlin, "2024-03-31T01:30:00+00:00"},
		{"2024-03-31T02:00:00", berlin, "2024-03-31T01:00:00+00:00"},
		{"2024-03-31T03:00:00", berlin, "2024-03-31T01:00:00+00:00"},
		{"2024-03-31T01:59:59.5", berlin, "2024-03-31T00:59:59.500+00:00"},
		{"2024-10-27T02:30:00", berlin, "2024-10-27T00:30:00+00:00"},
		{"2024-10-27T03:00:00", berlin, "2024-10-27T02:00:00+00:00"},
		{"2024-03-10T02:30:00", ny, "2024-03-10T07:30:00+00:00"},
		{"2024-11-03T01:30:00", ny, "2024-11-03T05:30:00+00:00"},
		// Calendar edges and the supported range.
		{"2024-02-29T00:00:00Z", nil, "2024-02-29T00:00:00+00:00"},
		{"2000-02-29", nil, "2000-02-29T00:00:00+00:00"},
		{"0001-01-01T00:00:00Z", nil, "0001-01-01T00:00:00+00:00"},
		{"9999-12-31T23:59:59.999999999Z", nil, "9999-12-31T23:59:59.999999+00:00"},
		{"1900-01-01T00:00:00Z", nil, "1900-01-01T00:00:00+00:00"},
	}
	for _, tc := range tests {
		loc := tc.loc
		if loc == nil {
			loc = time.UTC
		}
		us, err := ParseTimestamp(value.String(tc.in), loc, "s")
		if err != nil {
			t.Errorf("%q in %v: %v", tc.in, loc, err)
			continue
		}
		if got := value.FormatTime(us); got != tc.want {
			t.Errorf("%q in %v = %s, want %s", tc.in, loc, got, tc.want)
		}
	}
}

func TestParseTimestampAgreesWithTimePackage(t *testing.T) {
	// Away from transitions, reading a wall time in a zone must agree with time.Date.
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"} {
		loc := mustLoc(t, name)
		for _, s := range []string{"2024-01-15T10:00:00", "2024-07-15T10:00:00", "1950-06-01T12:00:00", "2099-12-31T23:59:59"} {
			us, err := ParseTimestamp(value.String(s), loc, "")
			if err != nil {
				t.Fatal(err)
			}
			want, _ := time.ParseInLocation("2006-01-02T15:04:05", s, loc)
			if us != want.UnixMicro() {
				t.Errorf("%s in %s: got %s, want %s", s, name, value.FormatTime(us), value.FormatTime(want.UnixMicro()))
			}
		}
	}
}

func TestParseTimestampStringErrors(t *testing.T) {
	bad := []string{
		"", "2024", "2024-01", "2024-1-15", "24-01-15", "2024/01/15",
		"1705312800", "1705312800.5", "-1", // numeric strings are rejected
		"2024-01-15T", "2024-01-15T10", "2024-01-15T10:0", "2024-01-15T10:00:0",
		"2024-01-15T10:00:00.", "2024-01-15T10:00:00.1234567890Z", "2024-01-15T10:00.5Z",
		"2024-01-15X10:00:00", "2024-01-15T10:00:00ZZ", "2024-01-15T10:00:00 Z",
		"2024-01-15T10:00:00+5", "2024-01-15T10:00:00+05:", "2024-01-15T10:00:00+05:3",
		"2024-01-15T10:00:00+053", "2024-01-15T10:00:00+05:30:00", "2024-01-15T10:00:00+24:00",
		"2024-01-15T10:00:00+05:60", "2024-01-15T10:00:00UTC", "2024-01-15T10:00:00GMT+1",
		" 2024-01-15T10:00:00Z", "2024-01-15T10:00:00Z ", "2024-01-15Z",
		"2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32", "2023-02-29", "1900-02-29", "2024-04-31",
		"2024-01-15T24:00:00Z", "2024-01-15T23:60:00Z", "2024-01-15T23:59:60Z",
		"0000-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-05:00",
		"２０２４-01-15", "2024-01-15T10:00:00,5Z",
	}
	for _, s := range bad {
		if us, err := ParseTimestamp(value.String(s), time.UTC, "s"); err == nil {
			t.Errorf("%q: accepted as %s", s, value.FormatTime(us))
		}
	}
	_, err := ParseTimestamp(value.String("yesterday"), time.UTC, "s")
	if err == nil || !strings.Contains(err.Error(), "timestamp must be an ISO 8601 string or an epoch number") {
		t.Errorf("message: %v", err)
	}
}

func TestParseTimestampOtherKinds(t *testing.T) {
	for _, v := range []value.Value{value.Null, value.True, value.Array(nil), value.Object(nil), value.Duration(5)} {
		_, err := ParseTimestamp(v, time.UTC, "s")
		if err == nil || !strings.Contains(err.Error(), "timestamp must be an ISO 8601 string or an epoch number") {
			t.Errorf("%#v: %v", v, err)
		}
	}
	us, err := ParseTimestamp(value.DateTime(1705312800000000), time.UTC, "s")
	if err != nil || us != 1705312800000000 {
		t.Errorf("DateTime: %d %v", us, err)
	}
}

func TestParseTimestampNumbers(t *testing.T) {
	tests := []struct {
		v    value.Value
		unit string
		want string
	}{
		{value.Int(1705312800), "", "2024-01-15T10:00:00+00:00"},
		{value.Int(1705312800), "s", "2024-01-15T10:00:00+00:00"},
		{value.Float(1705312800.5), "s", "2024-01-15T10:00:00.500+00:00"},
		{value.Float(1705312800.25), "s", "2024-01-15T10:00:00.250+00:00"},
		{value.Float(1705312800.1), "s", "2024-01-15T10:00:00.100+00:00"}, // decimal, not binary, digits
		{value.Float(1705312800.1234567), "s", "2024-01-15T10:00:00.123456+00:00"},
		{value.Int(1705312800500), "ms", "2024-01-15T10:00:00.500+00:00"},
		{value.Int(1705312800000), "ms", "2024-01-15T10:00:00+00:00"},
		{value.Float(1705312800000.5), "ms", "2024-01-15T10:00:00.000500+00:00"},
		{value.Int(1705312800), "ms", "1970-01-20T17:41:52.800+00:00"},
		{value.Int(1705312800000250), "us", "2024-01-15T10:00:00.000250+00:00"},
		{value.Float(1705312800000250.5), "us", "2024-01-15T10:00:00.000250+00:00"},
		{value.Int(1705312800123456789), "ns", "2024-01-15T10:00:00.123456+00:00"},
		{value.Int(0), "s", "1970-01-01T00:00:00+00:00"},
		{value.Int(-1), "s", "1969-12-31T23:59:59+00:00"},
		{value.Float(-0.5), "s", "1969-12-31T23:59:59.500+00:00"},
		{value.Float(-0.0000015), "s", "1969-12-31T23:59:59.999998+00:00"}, // toward the past
		{value.Int(-1), "ns", "1969-12-31T23:59:59.999999+00:00"},
		{value.Int(-1001), "ns", "1969-12-31T23:59:59.999998+00:00"},
		{value.Float(1e-7), "s", "1970-01-01T00:00:00+00:00"},
		{value.Int(1e11), "s", "5138-11-16T09:46:40+00:00"},
		{value.Int(1e14), "ms", "5138-11-16T09:46:40+00:00"},
		{value.Int(1e17), "us", "5138-11-16T09:46:40+00:00"},
		{value.Float(1e11), "s", "5138-11-16T09:46:40+00:00"},
		{value.Int(-62135596800), "s", "0001-01-01T00:00:00+00:00"},
	}
	for _, tc := range tests {
		us, err := ParseTimestamp(tc.v, time.UTC, tc.unit)
		if err != nil {
			t.Errorf("%#v %s: %v", tc.v, tc.unit, err)
			continue
		}
		if got := value.FormatTime(us); got != tc.want {
			t.Errorf("%#v %s = %s, want %s", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestParseTimestampNumberErrors(t *testing.T) {
	tests := []struct {
		v    value.Value
		unit string
		msg  string
	}{
		{value.Int(1705312800500), "s", "timestamp 1705312800500 out of range for unit 's' (is it in a finer unit?)"},
		{value.Int(1705312800500), "", "timestamp 1705312800500 out of range for unit 's' (is it in a finer unit?)"},
		{value.Int(-1705312800500), "s", "timestamp -1705312800500 out of range for unit 's' (is it in a finer unit?)"},
		{value.Int(1e11 + 1), "s", "out of range for unit 's'"},
		{value.Int(1705312800000250), "ms", "timestamp 1705312800000250 out of range for unit 'ms' (is it in a finer unit?)"},
		{value.Int(1705312800123456789), "us", "timestamp 1705312800123456789 out of range for unit 'us' (is it in a finer unit?)"},
		{value.Float(1705312800500.5), "s", "timestamp 1705312800500.5 out of range for unit 's' (is it in a finer unit?)"},
		{value.Float(1e300), "s", "timestamp 1e+300 out of range for unit 's'"},
		{value.Float(-1e300), "ns", "timestamp -1e+300 out of range for unit 'ns'"},
		{value.Int(-62135596801), "s", "out of range for unit 's' (years 0001-9999)"},
		{value.Float(-1e20), "ns", "out of range for unit 'ns' (years 0001-9999)"},
		{value.Int(-9223372036854775808), "ns", ""}, // 1677: in range
		{value.Int(1), "h", "unknown timestamp unit 'h'"},
	}
	for _, tc := range tests {
		_, err := ParseTimestamp(tc.v, time.UTC, tc.unit)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%#v %s: %v", tc.v, tc.unit, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%#v %s: got %v, want %q", tc.v, tc.unit, err, tc.msg)
		}
	}
}

// TestWallToUTCRoundTrip checks, around every transition of several years
// in zones with DST, half-hour and unusual transitions, that reading an
// instant's wall time back gives an instant with that wall time, and the
// earliest one when the wall time occurs twice; and that wall times in a
// gap are read with the offset before it.
func TestWallToUTCRoundTrip(t *testing.T) {
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo",
		"Pacific/Apia", "Asia/Tehran", "America/Santiago", "Africa/Casablanca", "Europe/Dublin"}
	start := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range zones {
		loc := mustLoc(t, name)
		transitions := 0
		for at := start.In(loc); at.Before(end); {
			_, next := at.ZoneBounds()
			if next.IsZero() {
				break
			}
			transitions++
			for u := next.Unix() - 4*3600; u <= next.Unix()+4*3600; u += 300 {
				local := time.Unix(u, 0).In(loc)
				_, off := local.Zone()
				wall := u + int64(off)
				got := wallToUTC(wall, loc)
				_, goff := time.Unix(got, 0).In(loc).Zone()
				if got+int64(goff) != wall || got > u {
					t.Fatalf("%s: wall %s (from %s) → %s", name, local.Format(time.DateTime),
						time.Unix(u, 0).UTC().Format(time.RFC3339), time.Unix(got, 0).UTC().Format(time.RFC3339))
				}
			}
			// Wall times skipped by a forward jump move forward by the gap.
			_, before := time.Unix(next.Unix()-1, 0).In(loc).Zone()
			_, after := next.Zone()
			for w := next.Unix() + int64(before); w < next.Unix()+int64(after); w += 300 {
				if got := wallToUTC(w, loc); got != w-int64(before) {
					t.Fatalf("%s: gap wall %s → %s, want %s", name, time.Unix(w, 0).UTC().Format(time.DateTime),
						time.Unix(got, 0).UTC().Format(time.RFC3339), time.Unix(w-int64(before), 0).UTC().Format(time.RFC3339))
				}
			}
			at = next
		}
		if transitions < 10 {
			t.Errorf("%s: only %d transitions", name, transitions)
		}
	}
}
