package normalize

import (
	"testing"

	"github.com/defacto-dev/defacto/internal/value"
)

func TestWalk(t *testing.T) {
	raw, err := value.FromJSON([]byte(`{
		"type": "signup",
		"user": {"email": "a@x", "address": {"city": "Portland"}, "tags": ["x", "y"]},
		"items": [{"sku": "A-1"}, {"sku": "B-2"}, null],
		"0": "zero",
		"m": {"1": "one"},
		"n": null,
		"": {"": "empty"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want value.Value
	}{
		{"type", value.String("signup")},
		{"user.email", value.String("a@x")},
		{"user.address.city", value.String("Portland")},
		{"user.tags.1", value.String("y")},
		{"items.0.sku", value.String("A-1")},
		{"items.1.sku", value.String("B-2")},
		{"items.2", value.Null},
		{"items.2.sku", value.Null},
		{"items.3.sku", value.Null},
		{"items.-1.sku", value.Null},
		{"items.+1.sku", value.Null},
		{"items.01.sku", value.String("B-2")},
		{"items.x", value.Null},
		{"items.99999999999999999999", value.Null},
		{"0", value.String("zero")}, // an object member whose key is digits
		{"m.1", value.String("one")},
		{"n", value.Null},
		{"n.x", value.Null},
		{"type.x", value.Null},
		{"missing", value.Null},
		{"missing.deeper", value.Null},
		{"user.", value.Null},
		{".", value.String("empty")},
	}
	for _, tc := range tests {
		got := Walk(raw, tc.path)
		if got.Kind() != tc.want.Kind() || !value.Equal(got, tc.want) {
			t.Errorf("Walk(%q) = %#v, want %#v", tc.path, got, tc.want)
		}
	}
	if got := Walk(value.String("x"), "a"); !got.IsNull() {
		t.Errorf("walk into a scalar: %#v", got)
	}
	arr := value.Array([]value.Value{value.Int(5)})
	if got := Walk(arr, "0"); !value.Equal(got, value.Int(5)) {
		t.Errorf("array root: %#v", got)
	}
}
