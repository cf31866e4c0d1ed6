package definition

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// nameRE is the shape of every definition name (definitions.md §2).
var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// What a name names; it selects the length limit and the extra rules.
type nameKind int

const (
	nameEntity nameKind = iota
	nameRelationship
	nameProperty
	nameRelProperty
	nameOther // identity fields, states, event types, sources, mapping outputs, schema fields
)

var nameWhat = map[nameKind]string{
	nameEntity:       "entity type",
	nameRelationship: "relationship type",
	nameProperty:     "property",
	nameRelProperty:  "relationship property",
	nameOther:        "name",
}

// relSystemColumns are the columns of a relationship table.
var relSystemColumns = []string{"source_id", "target_id", "relationship_type", "valid_from", "valid_to",
	"event_sequence", "recorded_at", "superseded_at"}

// entitySystemColumns returns the columns of entity e's tables that a
// property must not shadow.
func entitySystemColumns(e string) []string {
	return []string{e + "_id", e + "_state", "valid_from", "valid_to", "merged_into", "last_event_time",
		"state_entered_time", "created_time", "event_sequence", "recorded_at", "superseded_at", "canonical_id"}
}

// checkName reports every rule of definitions.md §2 that name breaks. what
// is the noun for the message ("state", "event type"); entity is the owning
// entity for properties. It reports at the key of path and returns whether
// the name is valid.
func (l *loader) checkName(name string, kind nameKind, what, entity, path string) bool {
	return l.checkNameOf(name, kind, what, entity, path, true)
}

// checkNameOf is checkName for a name written as a key (atKey) or as a
// value (a relationship's type).
func (l *loader) checkNameOf(name string, kind nameKind, what, entity, path string, atKey bool) bool {
	if what == "" {
		what = nameWhat[kind]
	}
	report := func(format string, args ...any) {
		l.problem(SeverityError, KindName, path, fmt.Sprintf(format, args...), 0, atKey)
	}
	if !nameRE.MatchString(name) {
		hint := ""
		if low := strings.ToLower(name); low != name && nameRE.MatchString(low) {
			hint = " (names are lower case: " + quote(low) + ")"
		}
		report("%s %s is not a valid name: use lower-case letters, digits and _, not starting with a digit%s", what, quote(name), hint)
		return false
	}
	limit := 63
	if kind == nameEntity || kind == nameRelationship {
		limit = 40
	}
	ok := true
	if len(name) > limit {
		report("%s %s is %d characters long; at most %d are allowed", what, quote(name), len(name), limit)
		ok = false
	}
	if strings.HasPrefix(name, "_defacto") {
		report("%s %s: names beginning with _defacto are reserved", what, quote(name))
		return false
	}
	switch kind {
	case nameEntity, nameRelationship:
		if strings.HasPrefix(name, "_") || strings.HasPrefix(name, "rel_") {
			report("%s %s must not begin with _ or rel_ (it becomes a table name)", what, quote(name))
			ok = false
		}
	case nameProperty:
		if contains(entitySystemColumns(entity), name) {
			report("property %s collides with a system column of entity %s", quote(name), quote(entity))
			ok = false
		}
	case nameRelProperty:
		if contains(relSystemColumns, name) {
			report("relationship property %s collides with a system column of relationship tables", quote(name))
			ok = false
		}
	}
	return ok
}

func quote(s string) string { return strconv.Quote(s) }
