package normalize

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// checkSchemaFields checks data against sc (ingestion.md §5). It returns the
// first violating field in schema order and a message listing every
// violation of every field, or "" when data conforms.
func checkSchemaFields(sc *definition.Schema, data map[string]value.Value) (field, msg string) {
	var problems []string
	for _, f := range sc.Fields {
		v := data[f.Name]
		if v.IsNull() {
			if f.Required {
				problems = append(problems, fmt.Sprintf("field '%s' is required", f.Name))
				if field == "" {
					field = f.Name
				}
			}
			continue
		}
		n := len(problems)
		problems = checkField(f, v, problems)
		if len(problems) > n && field == "" {
			field = f.Name
		}
	}
	if field == "" {
		return "", ""
	}
	return field, fmt.Sprintf("schema '%s' violated: %s", sc.EventType, strings.Join(problems, "; "))
}

// checkField appends the violations of one non-null value.
func checkField(f *definition.SchemaField, v value.Value, problems []string) []string {
	if !hasType(v, f.Type) {
		// The other checks assume the declared type; one message is enough.
		return append(problems, fmt.Sprintf("field '%s' must be %s, got %s", f.Name, f.Type, describe(v)))
	}
	if len(f.Allowed) > 0 {
		ok := false
		for _, a := range f.Allowed {
			if value.Equal(v, a) {
				ok = true
				break
			}
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("field '%s' must be one of %s, got %s",
				f.Name, value.CanonicalJSON(value.Array(f.Allowed)), shortJSON(v)))
		}
	}
	if f.Min != nil {
		if c, err := value.Compare(v, value.Float(*f.Min)); err == nil && c < 0 {
			problems = append(problems, fmt.Sprintf("field '%s' must be >= %s, got %s",
				f.Name, value.FormatFloat(*f.Min), value.ToString(v)))
		}
	}
	if f.Max != nil {
		if c, err := value.Compare(v, value.Float(*f.Max)); err == nil && c > 0 {
			problems = append(problems, fmt.Sprintf("field '%s' must be <= %s, got %s",
				f.Name, value.FormatFloat(*f.Max), value.ToString(v)))
		}
	}
	if v.Kind() == value.KindString {
		s := v.AsString()
		if f.MinLength != nil {
			if n := utf8.RuneCountInString(s); n < *f.MinLength {
				problems = append(problems, fmt.Sprintf("field '%s' must have at least %d characters, got %d",
					f.Name, *f.MinLength, n))
			}
		}
		if f.Regex != nil && !f.Regex.MatchString(s) {
			problems = append(problems, fmt.Sprintf("field '%s' value %s does not match regex '%s'",
				f.Name, quote(s), f.Regex.String()))
		}
	}
	return problems
}

// hasType is the schema type check: number accepts Int or Float, every
// other type only its own kind.
func hasType(v value.Value, t definition.Type) bool {
	switch t {
	case definition.TypeString:
		return v.Kind() == value.KindString
	case definition.TypeInteger:
		return v.Kind() == value.KindInt
	case definition.TypeNumber:
		return v.Kind() == value.KindInt || v.Kind() == value.KindFloat
	case definition.TypeBoolean:
		return v.Kind() == value.KindBool
	case definition.TypeDateTime:
		return v.Kind() == value.KindDateTime
	}
	return true // an untyped schema field (not valid definitions) checks nothing
}

func shortJSON(v value.Value) string {
	return clip(string(value.CanonicalJSON(v)))
}
