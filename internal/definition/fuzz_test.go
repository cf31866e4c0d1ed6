package definition

import (
	"testing"
)

// FuzzLoad feeds arbitrary YAML to the loader. Nothing may panic, every
// problem must be well formed, and a set that loads must survive the trip
// through its canonical form unchanged.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(mini("thing")))
	f.Add([]byte(`{"entities": {"a": {"starts": "s", "identity": [{"k": null}], "states": {"s": null}}}}`))
	if s, _, err := LoadBytes([]byte(base), ""); err == nil {
		f.Add(s.Canonical) // the JSON path
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, res, err := LoadBytes(data, "fuzz.yaml")
		if res == nil {
			t.Fatalf("nil result (err %v)", err)
		}
		if res.Valid != (err == nil) || res.Valid != (len(res.Errors) == 0) || (s == nil) != (err != nil) {
			t.Fatalf("inconsistent result: valid=%v errors=%d err=%v set=%v", res.Valid, len(res.Errors), err, s != nil)
		}
		for _, p := range append(res.Errors, res.Warnings...) {
			if p.Kind == "" || p.Message == "" || (p.Severity != SeverityError && p.Severity != SeverityWarning) {
				t.Fatalf("malformed problem %+v", p)
			}
		}
		if s == nil {
			return
		}
		again, err := LoadCanonical(s.Canonical)
		if err != nil {
			t.Fatalf("canonical form does not reload: %v\n%s", err, s.Canonical)
		}
		if string(again.Canonical) != string(s.Canonical) || again.ContentHash != s.ContentHash ||
			again.EntitiesHash != s.EntitiesHash || again.IdentityHash != s.IdentityHash {
			t.Fatalf("canonical form changed on reload:\n%s\n%s", s.Canonical, again.Canonical)
		}
		if a, b := dump(s), dump(again); a != b {
			t.Fatalf("model changed on reload:\n%s\n---\n%s", a, b)
		}
	})
}
