package scenario

import (
	"encoding/json"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// y parses a YAML value into the runner's generic form.
func y(t *testing.T, text string) any {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		t.Fatal(err)
	}
	v, err := NodeValue(&n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// j parses JSON into the generic form.
func j(t *testing.T, text string) any {
	t.Helper()
	v, err := DecodeJSON([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMatchValue(t *testing.T) {
	inst := instantPlace
	cases := []struct {
		name string
		exp  string // YAML
		act  string // JSON; "" = missing member
		p    *place
		ok   bool
	}{
		{"int equals float", "49", "49.0", plain, true},
		{"float equals int", "49.0", "49", plain, true},
		{"big ints exact", "1705312800123456789", "1705312800123456789", plain, true},
		{"big ints differ", "1705312800123456789", "1705312800123456788", plain, false},
		{"float value", "0.1", "0.10", plain, true},
		{"number vs string", "49", `"49"`, plain, false},
		{"string vs number", "'49'", "49", plain, false},
		{"bool", "true", "true", plain, true},
		{"bool vs int", "true", "1", plain, false},
		{"null matches null", "null", "null", plain, true},
		{"null matches missing", "null", "", plain, true},
		{"null vs value", "null", `"x"`, plain, false},
		{"value vs missing", "'x'", "", plain, false},
		{"absent on missing", "{absent: true}", "", plain, true},
		{"absent on null", "{absent: true}", "null", plain, false},
		{"instant offsets", "'2024-01-15T10:00:00Z'", `"2024-01-15T10:00:00+00:00"`, inst, true},
		{"instant other zone", "'2024-01-15T11:00:00+01:00'", `"2024-01-15T10:00:00+00:00"`, inst, true},
		{"instant fraction", "'2024-01-15T10:00:00.5Z'", `"2024-01-15T10:00:00.500+00:00"`, inst, true},
		{"instant differs", "'2024-01-15T10:00:01Z'", `"2024-01-15T10:00:00+00:00"`, inst, false},
		{"text not instant-typed", "'2024-01-15T10:00:00Z'", `"2024-01-15T10:00:00+00:00"`, plain, false},
		{"date is not an instant", "'2024-01-15'", `"2024-01-15T00:00:00+00:00"`, inst, false},
		{"gt number", "{gt: 3}", "4", plain, true},
		{"gt equal", "{gt: 3}", "3", plain, false},
		{"gte equal", "{gte: 3}", "3.0", plain, true},
		{"lt", "{lt: 3}", "2.5", plain, true},
		{"lte", "{lte: 3}", "3.5", plain, false},
		{"gt instant", "{gt: '2024-01-01T00:00:00Z'}", `"2024-01-01T00:00:01+00:00"`, inst, true},
		{"lt instant", "{lt: '2024-01-01T00:00:00Z'}", `"2024-01-01T00:00:01+00:00"`, inst, false},
		{"gt on null", "{gt: 1}", "null", plain, false},
		{"ne", "{ne: 3}", "4", plain, true},
		{"ne equal", "{ne: 3}", "3.0", plain, false},
		{"ne on missing", "{ne: 3}", "", plain, true},
		{"not_null", "{not_null: true}", `"x"`, plain, true},
		{"not_null null", "{not_null: true}", "null", plain, false},
		{"not_null missing", "{not_null: true}", "", plain, false},
		{"one_of", "{one_of: [a, b]}", `"b"`, plain, true},
		{"one_of miss", "{one_of: [a, b]}", `"c"`, plain, false},
		{"one_of null", "{one_of: [a, null]}", "", plain, true},
		{"regex search", "{regex: '[0-9a-f]{4}$'}", `"hash:00ff"`, plain, true},
		{"regex miss", "{regex: '^x'}", `"hash:00ff"`, plain, false},
		{"regex on number", "{regex: '1'}", `1`, plain, false},
		{"len list", "{len: 2}", `[1, 2]`, plain, true},
		{"len string code points", "{len: 3}", `"añb"`, plain, true},
		{"len wrong", "{len: 2}", `[1]`, plain, false},
		{"contains ci", "{contains: Division By}", `"error: division by zero"`, plain, true},
		{"contains miss", "{contains: nope}", `"division by zero"`, plain, false},
		{"includes scalars", "{includes: [b, a]}", `["a", "b", "c"]`, plain, true},
		{"includes scalar miss", "{includes: [d]}", `["a", "b", "c"]`, plain, false},
		{"includes maps distinct", "{includes: [{k: 1}, {k: 1}]}", `[{"k": 1, "x": 1}, {"k": 1, "x": 2}]`, plain, true},
		{"includes maps need distinct", "{includes: [{k: 1}, {k: 1}]}", `[{"k": 1}, {"k": 2}]`, plain, false},
		{"partial mapping", "{a: 1}", `{"a": 1, "b": 2}`, plain, true},
		{"nested partial", "{tick: {as_of: x}}", `{"tick": {"as_of": "x", "n": 1}}`, plain, true},
		{"nested null", "{build: null}", `{"build": null}`, plain, true},
		{"nested null vs object", "{build: null}", `{"build": {"mode": "FULL"}}`, plain, false},
		{"scalar list exact order", "[a, b]", `["a", "b"]`, plain, true},
		{"scalar list wrong order", "[a, b]", `["b", "a"]`, plain, false},
		{"scalar list length", "[a]", `["a", "b"]`, plain, false},
		{"empty list vs null", "[]", `null`, plain, false},
		{"map list as set", "[{i: 1}, {i: 0}]", `[{"i": 0, "s": "x"}, {"i": 1}]`, plain, true},
		{"map list length", "[{i: 1}]", `[{"i": 0}, {"i": 1}]`, plain, false},
		{"map list needs augmenting", "[{a: 1}, {a: 1, b: 2}]", `[{"a": 1, "b": 2}, {"a": 1, "b": 3}]`, plain, true},
		{"mentions", "{severity: error, mentions: [shade, STATE]}", `{"severity": "error", "message": "unknown state 'x'", "path": "entities.shade.starts"}`, plain, true},
		{"mentions miss", "{mentions: [score]}", `{"message": "unknown state", "name": "x", "path": "p"}`, plain, false},
		{"problem includes mentions", "{errors: {includes: [{mentions: [bump]}, {mentions: [bump]}]}}", `{"errors": [{"message": "bump a"}, {"message": "x", "name": "bump"}, {"message": "y"}]}`, plain, true},
		{"problem includes mentions distinct", "{errors: {includes: [{mentions: [bump]}, {mentions: [bump]}]}}", `{"errors": [{"message": "bump a"}, {"message": "y"}]}`, plain, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp := y(t, c.exp)
			var act any
			present := c.act != ""
			if present {
				act = j(t, c.act)
			}
			lines := matchValue(exp, act, present, c.p, "v")
			if (len(lines) == 0) != c.ok {
				t.Errorf("matchValue(%s, %s) = %q, want ok=%v", c.exp, c.act, lines, c.ok)
			}
		})
	}
}

func TestMatchRefs(t *testing.T) {
	row := &place{
		member: func(k string) *place {
			if k == "id" || k == "merged_into" {
				return refPlace
			}
			return plain
		},
		alias: func(k string) []string {
			if k == "id" {
				return []string{"customer_id"}
			}
			return nil
		},
	}
	ok := refVal{text: "$a", id: "c1", ok: true}
	bad := refVal{text: "customer by email x", ok: false}
	act := j(t, `{"customer_id": "c1", "merged_into": null}`)
	if l := matchValue(map[string]any{"id": ok}, act, true, row, ""); len(l) != 0 {
		t.Errorf("resolved ref: %q", l)
	}
	if l := matchValue(map[string]any{"id": bad}, act, true, row, ""); len(l) != 1 || !strings.Contains(l[0], "does not resolve") {
		t.Errorf("unresolved ref: %q", l)
	}
	if l := matchValue(map[string]any{"id": map[string]any{"ne": bad}}, act, true, row, ""); len(l) != 1 {
		t.Errorf("ne with unresolved ref must fail: %q", l)
	}
	if l := matchValue(map[string]any{"id": map[string]any{"ne": refVal{text: "$b", id: "c2", ok: true}}}, act, true, row, ""); len(l) != 0 {
		t.Errorf("ne other id: %q", l)
	}
	if l := matchValue(map[string]any{"merged_into": nil}, act, true, row, ""); len(l) != 0 {
		t.Errorf("null merged_into: %q", l)
	}
}

func TestMatchList(t *testing.T) {
	cmp := func(e, a any) []string { return matchValue(e, a, true, plain, "") }
	act := []any{j(t, `{"s": "a"}`), j(t, `{"s": "b"}`), j(t, `{"s": "c"}`)}
	cases := []struct {
		name              string
		exp               string
		ordered, contains bool
		ok                bool
	}{
		{"ordered exact", "[{s: a}, {s: b}, {s: c}]", true, false, true},
		{"ordered exact wrong order", "[{s: b}, {s: a}, {s: c}]", true, false, false},
		{"ordered exact short", "[{s: a}, {s: b}]", true, false, false},
		{"ordered subsequence", "[{s: a}, {s: c}]", true, true, true},
		{"ordered subsequence wrong order", "[{s: c}, {s: a}]", true, true, false},
		{"ordered subsequence empty rows", "[{}, {}, {}]", true, true, true},
		{"ordered subsequence too many", "[{}, {}, {}, {}]", true, true, false},
		{"unordered exact", "[{s: c}, {s: a}, {s: b}]", false, false, true},
		{"unordered exact short", "[{s: c}, {s: a}]", false, false, false},
		{"unordered contains", "[{s: c}, {s: a}]", false, true, true},
		{"unordered contains twice", "[{s: c}, {s: c}]", false, true, false},
		{"empty rows match any", "[{}, {}, {}]", false, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp := y(t, c.exp).([]any)
			lines := matchList(exp, act, c.ordered, c.contains, cmp, "rows")
			if (len(lines) == 0) != c.ok {
				t.Errorf("got %q, want ok=%v", lines, c.ok)
			}
		})
	}
}

func TestMismatchMessages(t *testing.T) {
	cmp := func(e, a any) []string { return matchValue(e, a, true, plain, "") }
	exp := y(t, "[{id: x, state: active}]").([]any)
	act := []any{j(t, `{"id": "x", "state": "churned"}`)}
	lines := matchList(exp, act, false, false, cmp, "rows")
	msg := strings.Join(lines, "\n")
	if !strings.Contains(msg, `state: expected "active", got "churned"`) {
		t.Errorf("message lacks the diff:\n%s", msg)
	}
}

func TestAssignment(t *testing.T) {
	// expected 0 fits actual 0 and 1; expected 1 only actual 0.
	ok := func(i, j int) bool { return (i == 0) || (i == 1 && j == 0) }
	got := assignment(2, 2, ok)
	if got[0] != 1 || got[1] != 0 {
		t.Errorf("assignment = %v, want [1 0]", got)
	}
}

func TestNumEqual(t *testing.T) {
	for _, c := range [][2]string{{"49", "49.0"}, {"1e3", "1000"}, {"0.5", "5e-1"}, {"-0", "0"}} {
		if !numEqual(json.Number(c[0]), json.Number(c[1])) {
			t.Errorf("%s != %s", c[0], c[1])
		}
	}
	if numEqual("1", "2") {
		t.Error("1 == 2")
	}
}
