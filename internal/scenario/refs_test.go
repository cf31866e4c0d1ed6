package scenario

import "testing"

func TestParseRef(t *testing.T) {
	defs := &Defs{Entities: map[string]*EntityDef{
		"customer": {Name: "customer", Identity: []string{"email", "phone"}},
	}}
	good := []struct {
		text string
		want Ref
	}{
		{"customer by email alice@example.com", Ref{Kind: RefBy, Type: "customer", Field: "email", Value: "alice@example.com"}},
		{"customer by email Alice Smith ", Ref{Kind: RefBy, Type: "customer", Field: "email", Value: "Alice Smith "}},
		{"customer by phone +1-555-0001", Ref{Kind: RefBy, Type: "customer", Field: "phone", Value: "+1-555-0001"}},
		{"$alice", Ref{Kind: RefHandle, Name: "alice"}},
		{"$v_1", Ref{Kind: RefHandle, Name: "v_1"}},
		{"id cust_0001", Ref{Kind: RefID, Value: "cust_0001"}},
		{"id with spaces", Ref{Kind: RefID, Value: "with spaces"}},
	}
	for _, g := range good {
		r, err := ParseRef(g.text, defs)
		if err != nil {
			t.Errorf("%q: %v", g.text, err)
			continue
		}
		g.want.Text = g.text
		if r != g.want {
			t.Errorf("%q = %+v, want %+v", g.text, r, g.want)
		}
	}
	for _, bad := range []string{
		"order by email x",      // undeclared type
		"customer by name x",    // not an identity field
		"customer with email x", // no "by"
		"customer by email",     // no value
		"$",                     // empty handle
		"$9x",                   // bad handle
		"id ",                   // empty id
		"alice@example.com",     // not a ref
	} {
		if _, err := ParseRef(bad, defs); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// without definitions any type and field are accepted
	if _, err := ParseRef("order by order_id ORD-1", nil); err != nil {
		t.Error(err)
	}
}

func TestSubstitute(t *testing.T) {
	h := map[string]string{"a": "ID1", "ab": "ID2"}
	cases := map[string]string{
		"merged into $a":    "merged into ID1",
		"$ab and $a.":       "ID2 and ID1.",
		"unknown $zz stays": "unknown $zz stays",
		"no tokens":         "no tokens",
		"Merged into $a":    "Merged into ID1",
	}
	for in, want := range cases {
		if got := Substitute(in, h); got != want {
			t.Errorf("Substitute(%q) = %q, want %q", in, got, want)
		}
	}
}
