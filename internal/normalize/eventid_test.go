package normalize

import (
	"testing"

	"github.com/defacto-dev/defacto/internal/value"
)

func obj(t testing.TB, js string) value.Value {
	t.Helper()
	v, err := value.FromJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEventIDVectors(t *testing.T) {
	// ingestion.md §6.
	ts, err := ParseTimestamp(value.String("2024-01-01T10:00:00+00:00"), nil, "s")
	if err != nil {
		t.Fatal(err)
	}
	got := EventID("app", "signup", ts, obj(t, `{"plan":null,"email":"alice@example.com"}`))
	if want := "6375fea7779fd3d2eddc6720741188848eed705ea78d62998eb961f3845a013f"; got != want {
		t.Errorf("default scheme: %s, want %s", got, want)
	}
	id, ok := EventIDFromPaths("billing", "payment_received", obj(t, `{"txn":{"id":"T-77"},"amount":12.5}`), []string{"txn.id"})
	if want := "c4a373e1373e107f1c627af7a0a4c185f2a3ce3bcb1d743be194c386d0f702a6"; !ok || id != want {
		t.Errorf("event_id scheme: %s %v, want %s", id, ok, want)
	}
}

func TestEventIDConformance(t *testing.T) {
	// Scenario 018: the repeated login's duplicate id.
	ts, _ := ParseTimestamp(value.String("2024-01-16T09:00:00Z"), nil, "s")
	if got, want := EventID("web", "login", ts, obj(t, `{"email":"alice@test.com"}`)),
		"86cdc226f545bf132c008a4ed1b18c15f2f8a5050c034f13ab62a982d9f9799e"; got != want {
		t.Errorf("018: %s, want %s", got, want)
	}
	// Scenario 019: event_id [txn].
	id, _ := EventIDFromPaths("pay", "payment", obj(t, `{"kind":"payment","txn":"T1","amount":99}`), []string{"txn"})
	if want := "a9c39e423cfa6fe390d7202a836fae334ad58033b0a7c8854ad3c8d49f84afdf"; id != want {
		t.Errorf("019: %s, want %s", id, want)
	}
}

func TestEventIDFromPaths(t *testing.T) {
	raw := obj(t, `{"a":1,"b":null,"c":{"d":[10,20]}}`)
	if _, ok := EventIDFromPaths("s", "t", raw, []string{"b", "x", "c.d.5"}); ok {
		t.Error("all missing or null must not give an id")
	}
	one, ok1 := EventIDFromPaths("s", "t", raw, []string{"a", "x"})
	two, ok2 := EventIDFromPaths("s", "t", raw, []string{"x", "a"})
	if !ok1 || !ok2 || one != two {
		t.Errorf("path order must not matter: %s %s", one, two)
	}
	three, _ := EventIDFromPaths("s", "t", raw, []string{"a", "c.d.1"})
	if three == one {
		t.Error("a further path must change the id")
	}
	other, _ := EventIDFromPaths("s", "u", raw, []string{"a", "x"})
	if other == one {
		t.Error("the event type must change the id")
	}
}

func TestEventIDTypedData(t *testing.T) {
	// DateTime hashes as its canonical text, Duration as seconds; an Int and
	// an integral Float hash alike (JCS writes both as 3).
	ts := int64(1705312800000000)
	a := EventID("s", "t", ts, value.Object(map[string]value.Value{"at": value.DateTime(ts), "d": value.Duration(5400e6)}))
	b := EventID("s", "t", ts, value.Object(map[string]value.Value{"at": value.String("2024-01-15T10:00:00+00:00"), "d": value.Int(5400)}))
	if a != b {
		t.Errorf("typed and plain data must hash alike: %s %s", a, b)
	}
	if EventID("s", "t", ts+1, value.Object(nil)) == EventID("s", "t", ts, value.Object(nil)) {
		t.Error("the timestamp must change the id")
	}
}
