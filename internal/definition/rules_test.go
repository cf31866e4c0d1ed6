package definition

import (
	"strings"
	"testing"
)

// base is a valid set without warnings; every case below changes it in one
// place so that exactly one rule breaks.
const base = `entities:
  customer:
    starts: lead
    identity:
      email: {match: case_insensitive}
    properties:
      email: {type: string}
      plan: {type: string, default: free, allowed: [free, pro]}
      logins: {type: integer, default: 0, min: 0}
      score: {type: number, compute: "entity.logins * 2.0"}
    states:
      lead:
        when:
          signup:
            guard: "event.email != null"
            effects:
              - create
              - {set: {property: email, from: event.email}}
              - {transition: {to: active}}
      active:
        when:
          upgrade:
            guard: "event.plan != entity.plan"
            effects:
              - {set: {property: plan, from: event.plan}}
          login:
            effects:
              - {increment: {property: logins}}
        after:
          - {type: inactivity, threshold: 90d, effects: [{transition: {to: churned}}]}
      churned:
        when:
          signup:
            effects: [{transition: {to: active}}]
    relationships:
      - {type: placed, target: order, cardinality: has_many}
  order:
    starts: open
    identity: {order_id: {}}
    properties:
      total: {type: number}
      total_cents: {type: number, compute: "entity.total * 100"}
    states:
      open:
        when:
          order_created:
            effects:
              - create
              - {set: {property: total, from: event.total}}
              - {relate: {type: placed_by, target: customer}}
    relationships:
      - {type: placed_by, target: customer, cardinality: belongs_to}
sources:
  app:
    event_type: type
    timestamp: ts
    events:
      signup: {mappings: {email: email}, hints: {customer: [email]}}
      upgrade: {mappings: {email: email, plan: plan}, hints: {customer: [email]}}
      login: {mappings: {email: email}, hints: {customer: [email]}}
      order_created:
        raw_type: order.created
        mappings: {order_id: id, email: email, total: {from: amount, type: number}}
        hints: {order: [order_id], customer: [email]}
`

// edit is one textual change of base; old must occur exactly once.
type edit struct{ old, new string }

func apply(t *testing.T, src string, edits []edit) string {
	t.Helper()
	for _, e := range edits {
		if n := strings.Count(src, e.old); n != 1 {
			t.Fatalf("edit %q occurs %d times in the document", e.old, n)
		}
		src = strings.Replace(src, e.old, e.new, 1)
	}
	return src
}

// offsetOf converts a 1-based line and column (yaml.v3 columns count code
// points) to a byte offset in src.
func offsetOf(src string, line, col int) int {
	off := 0
	for i := 1; i < line; i++ {
		j := strings.IndexByte(src[off:], '\n')
		if j < 0 {
			return -1
		}
		off += j + 1
	}
	for c := 1; c < col && off < len(src); c++ {
		_, n := decodeRune(src[off:])
		off += n
	}
	return off
}

func decodeRune(s string) (rune, int) {
	for i, r := range s {
		if i == 0 {
			n := len(string(r))
			return r, n
		}
	}
	return 0, 1
}

func TestBaseIsClean(t *testing.T) {
	s, res, err := LoadBytes([]byte(base), "base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Fatalf("base has warnings:\n%s", problemList(res.Warnings))
	}
	checkRoundTrip(t, s)
	if got := s.Entity("order").State("open").Handler("order_created").Effects[2].Relate.Hints; len(got) != 1 || got[0] != "email" {
		t.Errorf("default relate hints = %v, want [email]", got)
	}
	if got := s.Entity("customer").Identity[0]; got.Match != MatchCaseInsensitive {
		t.Errorf("match = %q", got.Match)
	}
}

type ruleCase struct {
	name  string
	edits []edit
	doc   string // replaces base entirely when set
	kind  string
	path  string
	at    string // the text the reported line and column point at
	msg   string // substring of the message
	warn  bool   // the problem is a warning (and the set stays valid)
}

var ruleCases = []ruleCase{
	// Structure and syntax (definitions.md §1).
	{name: "yaml syntax", doc: "entities: [\n", kind: KindSyntax, msg: "invalid YAML"},
	{name: "top level not a mapping", doc: "- customer\n", kind: KindStructure, at: "- customer", msg: "expected a mapping, got a list"},
	{name: "unknown top-level member", edits: []edit{{"sources:\n", "sourcs:\n"}}, kind: KindUnknownKey, path: "sourcs", at: "sourcs:", msg: `did you mean "sources"?`},
	{name: "duplicate key", edits: []edit{{"    starts: open\n", "    starts: open\n    starts: open\n"}}, kind: KindDuplicateKey, path: "entities.order.starts", at: "starts: open\n    identity", msg: `duplicate key "starts"`},
	{name: "unknown key with suggestion", edits: []edit{{"    relationships:\n      - {type: placed,", "    relationship:\n      - {type: placed,"}}, kind: KindUnknownKey, path: "entities.customer.relationship", at: "relationship:", msg: `unknown key "relationship"; did you mean "relationships"?`},
	{name: "misspelled properties block", edits: []edit{{"    properties:\n      email:", "    propertes:\n      email:"}}, kind: KindUnknownKey, path: "entities.customer.propertes", at: "propertes:", msg: `did you mean "properties"?`},
	{name: "misspelled states block", edits: []edit{{"    states:\n      lead:", "    stats:\n      lead:"}}, kind: KindUnknownKey, path: "entities.customer.stats", at: "stats:", msg: `did you mean "states"?`},
	{name: "misspelled mappings", edits: []edit{{"upgrade: {mappings: {email: email, plan: plan}", "upgrade: {mapings: {email: email, plan: plan}"}}, kind: KindUnknownKey, path: "sources.app.events.upgrade.mapings", at: "mapings", msg: `did you mean "mappings"?`},
	{name: "list where a mapping is expected", edits: []edit{{"      total: {type: number}\n", "      total: [number]\n"}}, kind: KindStructure, path: "entities.order.properties.total", at: "[number]", msg: "expected a mapping, got a list"},
	{name: "number where a string is expected", edits: []edit{{"event_type: type", "event_type: 7"}}, kind: KindStructure, path: "sources.app.event_type", at: "7", msg: "expected a string, got a number"},
	{name: "effect with two keys", edits: []edit{{"- {increment: {property: logins}}", "- {increment: {property: logins}, condition: 'true'}"}}, kind: KindStructure, path: "entities.customer.states.active.when.login.effects[0]", at: "{increment", msg: "exactly one key"},
	{name: "unknown effect kind", edits: []edit{{"[{transition: {to: churned}}]", "[{transiton: {to: churned}}]"}}, kind: KindUnknownKey, path: "entities.customer.states.active.after[0].effects[0].transiton", at: "transiton", msg: `did you mean "transition"?`},
	{name: "create with options", edits: []edit{{"              - create\n              - {set: {property: email", "              - {create: {condition: 'true'}}\n              - {set: {property: email"}}, kind: KindStructure, path: "entities.customer.states.lead.when.signup.effects[0].create", at: "{condition", msg: "create takes no options"},
	{name: "effect string other than create", edits: []edit{{"              - {transition: {to: active}}\n", "              - transition\n"}}, kind: KindStructure, path: "entities.customer.states.lead.when.signup.effects[2]", at: "transition\n", msg: `effect "transition"`},
	{name: "multiple documents", doc: "entities: {}\n---\nsources: {}\n", kind: KindStructure, at: "---", msg: "found several"},

	// Required members.
	{name: "missing starts", edits: []edit{{"    starts: open\n", ""}}, kind: KindMissing, path: "entities.order.starts", at: "order:", msg: "needs starts"},
	{name: "empty identity", edits: []edit{{"identity: {order_id: {}}", "identity: {}"}}, kind: KindMissing, path: "entities.order.identity", at: "{}", msg: "at least one identity field"},
	{name: "empty effects", edits: []edit{{"effects: [{transition: {to: active}}]", "effects: []"}}, kind: KindMissing, path: "entities.customer.states.churned.when.signup.effects", at: "[]", msg: "must not be empty"},
	{name: "source without events", edits: []edit{{"    events:\n      signup:", "    evnts:\n      signup:"}}, kind: KindUnknownKey, path: "sources.app.evnts", at: "evnts", msg: `did you mean "events"?`},
	{name: "event without hints", edits: []edit{{"login: {mappings: {email: email}, hints: {customer: [email]}}", "login: {mappings: {email: email}}"}}, kind: KindMissing, path: "sources.app.events.login.hints", at: "login: {mappings", msg: "needs hints"},
	{name: "empty hints", edits: []edit{{"login: {mappings: {email: email}, hints: {customer: [email]}}", "login: {mappings: {email: email}, hints: {}}"}}, kind: KindMissing, path: "sources.app.events.login.hints", at: "{}}", msg: "at least one entity type"},
	{name: "property without type", edits: []edit{{"total: {type: number}", "total: {min: 0}"}}, kind: KindMissing, path: "entities.order.properties.total.type", at: "total: {min: 0}", msg: "needs a type"},
	{name: "set without a value source", edits: []edit{{"{set: {property: plan, from: event.plan}}", "{set: {property: plan}}"}}, kind: KindMissing, path: "entities.customer.states.active.when.upgrade.effects[0].set", at: "{property: plan}", msg: "one of from, value or compute"},
	{name: "relationship without cardinality", edits: []edit{{"{type: placed, target: order, cardinality: has_many}", "{type: placed, target: order}"}}, kind: KindMissing, path: "entities.customer.relationships[0].cardinality", at: "{type: placed", msg: "needs a cardinality"},

	// Names (definitions.md §2).
	{name: "name pattern", edits: []edit{{"  order:\n    starts", "  Order:\n    starts"}, {"target: order,", "target: Order,"}, {"hints: {order: [order_id]", "hints: {Order: [order_id]"}}, kind: KindName, path: "entities.Order", at: "Order:\n", msg: `names are lower case: "order"`},
	{name: "entity type too long", doc: mini(strings.Repeat("o", 41)), kind: KindName, path: "entities." + strings.Repeat("o", 41), at: strings.Repeat("o", 41) + ":", msg: "at most 40"},
	{name: "entity type with leading _", doc: mini("_thing"), kind: KindName, path: "entities._thing", at: "_thing:", msg: "must not begin with _ or rel_"},
	{name: "other name too long", edits: []edit{{"      total_cents: {type", "      " + strings.Repeat("t", 64) + ": {type"}}, kind: KindName, path: "entities.order.properties." + strings.Repeat("t", 64), at: strings.Repeat("t", 64) + ":", msg: "at most 63"},
	{name: "reserved _defacto", edits: []edit{{"  app:\n", "  _defacto:\n"}}, kind: KindName, path: "sources._defacto", at: "_defacto:", msg: "reserved"},
	{name: "rel_ prefix", edits: []edit{{"{type: placed, target: order, cardinality: has_many}", "{type: rel_placed, target: order, cardinality: has_many}"}}, kind: KindName, path: "entities.customer.relationships[0].type", at: "rel_placed", msg: "must not begin with _ or rel_"},
	{name: "property is a system column", edits: []edit{{"      total: {type: number}\n", "      total: {type: number}\n      order_id: {type: string}\n"}}, kind: KindName, path: "entities.order.properties.order_id", at: "order_id: {type: string}", msg: "system column"},
	{name: "relationship property is a system column", edits: []edit{{"{type: placed_by, target: customer, cardinality: belongs_to}", "{type: placed_by, target: customer, cardinality: belongs_to, properties: {target_id: {type: string}}}"}}, kind: KindName, path: "entities.order.relationships[0].properties.target_id", at: "target_id", msg: "system column"},
	{name: "state name with a dash", edits: []edit{{"      churned:\n", "      churned-out:\n"}, {"{to: churned}", "{to: churned-out}"}}, kind: KindName, path: "entities.customer.states.churned-out", at: "churned-out:", msg: "not a valid name"},

	// Enumerations.
	{name: "unknown property type", edits: []edit{{"total: {type: number}", "total: {type: numbr}"}}, kind: KindInvalidValue, path: "entities.order.properties.total.type", at: "numbr", msg: `did you mean "number"?`},
	{name: "unknown match", edits: []edit{{"{match: case_insensitive}", "{match: case_insensitve}"}}, kind: KindInvalidValue, path: "entities.customer.identity.email.match", at: "case_insensitve", msg: `did you mean "case_insensitive"?`},
	{name: "unknown cardinality", edits: []edit{{"cardinality: has_many", "cardinality: has_manny"}}, kind: KindInvalidValue, path: "entities.customer.relationships[0].cardinality", at: "has_manny", msg: `did you mean "has_many"?`},
	{name: "unknown time rule type", edits: []edit{{"type: inactivity", "type: inactive"}}, kind: KindInvalidValue, path: "entities.customer.states.active.after[0].type", at: "inactive", msg: `did you mean "inactivity"?`},
	{name: "unknown timestamp unit", edits: []edit{{"    timestamp: ts\n", "    timestamp: ts\n    timestamp_unit: sec\n"}}, kind: KindInvalidValue, path: "sources.app.timestamp_unit", at: "sec", msg: "expected one of s, ms, us, ns"},
	{name: "unknown unknown_events", edits: []edit{{"    timestamp: ts\n", "    timestamp: ts\n    unknown_events: skip\n"}}, kind: KindInvalidValue, path: "sources.app.unknown_events", at: "skip", msg: "expected fail or ignore"},
	{name: "unknown treatment", edits: []edit{{"email: {type: string}", "email: {type: string, sensitive: pii, treatment: scramble}"}}, kind: KindInvalidValue, path: "entities.customer.properties.email.treatment", at: "scramble", msg: "expected hash, mask or redact"},
	{name: "empty sensitive label", edits: []edit{{"email: {type: string}", "email: {type: string, sensitive: ''}"}}, kind: KindInvalidValue, path: "entities.customer.properties.email.sensitive", at: "''", msg: "non-empty label"},
	{name: "unknown mapping type", edits: []edit{{"{from: amount, type: number}", "{from: amount, type: float}"}}, kind: KindInvalidValue, path: "sources.app.events.order_created.mappings.total.type", at: "float", msg: `unknown type "float"`},

	// Literals and types.
	{name: "default incompatible", edits: []edit{{"default: 0, min: 0", "default: zero, min: 0"}}, kind: KindType, path: "entities.customer.properties.logins.default", at: "zero", msg: "not compatible with type integer"},
	{name: "allowed incompatible", edits: []edit{{"allowed: [free, pro]", "allowed: [free, 2]"}}, kind: KindType, path: "entities.customer.properties.plan.allowed[1]", at: "2]", msg: "not compatible with type string"},
	{name: "allowed not distinct", edits: []edit{{"allowed: [free, pro]", "allowed: [free, pro, free]"}}, kind: KindDuplicate, path: "entities.customer.properties.plan.allowed[2]", at: "free]", msg: "listed twice"},
	{name: "allowed empty", edits: []edit{{"default: free, allowed: [free, pro]", "allowed: []"}}, kind: KindMissing, path: "entities.customer.properties.plan.allowed", at: "[]", msg: "at least one value"},
	{name: "min on a string", edits: []edit{{"email: {type: string}", "email: {type: string, min: 1}"}}, kind: KindType, path: "entities.customer.properties.email.min", at: "1}", msg: "only allowed on integer and number"},
	{name: "min greater than max", edits: []edit{{"default: 0, min: 0", "default: 0, min: 5, max: 1"}}, kind: KindConstraint, path: "entities.customer.properties.logins.min", at: "5,", msg: "min 5 is greater than max 1"},
	{name: "default outside allowed", edits: []edit{{"default: free, allowed", "default: gold, allowed"}}, kind: KindConstraint, path: "entities.customer.properties.plan.default", at: "gold", msg: "not one of its allowed values"},
	{name: "default below min", edits: []edit{{"default: 0, min: 0", "default: -1, min: 0"}}, kind: KindConstraint, path: "entities.customer.properties.logins.default", at: "-1", msg: "below its min 0"},
	{name: "set value incompatible", edits: []edit{{"{set: {property: plan, from: event.plan}}", "{set: {property: plan, value: 3}}"}}, kind: KindType, path: "entities.customer.states.active.when.upgrade.effects[0].set.value", at: "3}", msg: `value 3 is not compatible with property "plan" of type string`},
	{name: "increment of a string", edits: []edit{{"{increment: {property: logins}}", "{increment: {property: email}}"}}, kind: KindType, path: "entities.customer.states.active.when.login.effects[0].increment.property", at: "email}", msg: "only integer and number"},
	{name: "increment integer by a fraction", edits: []edit{{"{increment: {property: logins}}", "{increment: {property: logins, by: 0.5}}"}}, kind: KindType, path: "entities.customer.states.active.when.login.effects[0].increment.by", at: "0.5", msg: "by must be an integer"},
	{name: "datetime default without offset", edits: []edit{{"total: {type: number}", "total: {type: number}\n      due: {type: datetime, default: '2024-01-01T00:00:00'}"}}, kind: KindType, path: "entities.order.properties.due.default", at: "'2024", msg: "not compatible with type datetime"},
	{name: "mapping default not coercible", edits: []edit{{"{from: amount, type: number}", "{from: amount, type: number, default: lots}"}}, kind: KindType, path: "sources.app.events.order_created.mappings.total.default", at: "lots", msg: "cannot be converted to number"},
	{name: "time rule threshold number", edits: []edit{{"threshold: 90d", "threshold: 90"}}, kind: KindThreshold, path: "entities.customer.states.active.after[0].threshold", at: "90,", msg: "is a number"},
	{name: "time rule threshold unit", edits: []edit{{"threshold: 90d", "threshold: 90w"}}, kind: KindThreshold, path: "entities.customer.states.active.after[0].threshold", at: "90w", msg: "digits followed by a unit"},
	{name: "time rule threshold zero", edits: []edit{{"threshold: 90d", "threshold: ' 0h '"}}, kind: KindThreshold, path: "entities.customer.states.active.after[0].threshold", at: "' 0h '", msg: "greater than zero"},
	{name: "time rule threshold overflow", edits: []edit{{"threshold: 90d", "threshold: 200000000d"}}, kind: KindThreshold, path: "entities.customer.states.active.after[0].threshold", at: "200000000d", msg: "too large"},
	{name: "schema min_length negative", edits: []edit{{"sources:\n", "schemas:\n  login: {fields: {email: {type: string, min_length: -1}}}\n  signup: {fields: {email: {type: string}}}\n  upgrade: {fields: {email: {type: string}, plan: {type: string}}}\n  order_created: {fields: {order_id: {type: string}, email: {type: string}, total: {type: number}}}\nsources:\n"}}, kind: KindType, path: "schemas.login.fields.email.min_length", at: "-1", msg: "integer ≥ 0"},
	{name: "schema regex does not compile", edits: []edit{{"sources:\n", "schemas:\n  login: {fields: {email: {type: string, regex: '[a-'}}}\n  signup: {fields: {email: {type: string}}}\n  upgrade: {fields: {email: {type: string}, plan: {type: string}}}\n  order_created: {fields: {order_id: {type: string}, email: {type: string}, total: {type: number}}}\nsources:\n"}}, kind: KindRegex, path: "schemas.login.fields.email.regex", at: "'[a-'", msg: "does not compile"},
	{name: "schema min on a boolean", edits: []edit{{"sources:\n", "schemas:\n  login: {fields: {email: {type: boolean, min: 1}}}\n  signup: {fields: {email: {type: string}}}\n  upgrade: {fields: {email: {type: string}, plan: {type: string}}}\n  order_created: {fields: {order_id: {type: string}, email: {type: string}, total: {type: number}}}\nsources:\n"}}, kind: KindType, path: "schemas.login.fields.email.min", at: "1}", msg: "only allowed on integer and number"},

	// References.
	{name: "starts unknown", edits: []edit{{"starts: lead", "starts: leed"}}, kind: KindUnknownState, path: "entities.customer.starts", at: "leed", msg: `starts "leed": no such state; did you mean "lead"?`},
	{name: "transition unknown", edits: []edit{{"              - {transition: {to: active}}\n", "              - {transition: {to: actve}}\n"}}, kind: KindUnknownState, path: "entities.customer.states.lead.when.signup.effects[2].transition.to", at: "actve", msg: `transition to "actve": no such state; did you mean "active"?`},
	{name: "set unknown property", edits: []edit{{"{set: {property: plan, from: event.plan}}", "{set: {property: plann, from: event.plan}}"}}, kind: KindUnknownProperty, path: "entities.customer.states.active.when.upgrade.effects[0].set.property", at: "plann", msg: `did you mean "plan"?`},
	{name: "relationship target unknown", edits: []edit{{"{type: placed, target: order,", "{type: placed, target: ordr,"}}, kind: KindUnknownEntity, path: "entities.customer.relationships[0].target", at: "ordr", msg: `did you mean "order"?`},
	{name: "hints unknown entity", edits: []edit{{"login: {mappings: {email: email}, hints: {customer: [email]}}", "login: {mappings: {email: email}, hints: {custmer: [email]}}"}}, kind: KindUnknownEntity, path: "sources.app.events.login.hints.custmer", at: "custmer", msg: `did you mean "customer"?`},
	{name: "hint field not an identity field", edits: []edit{{"upgrade: {mappings: {email: email, plan: plan}, hints: {customer: [email]}}", "upgrade: {mappings: {email: email, plan: plan}, hints: {customer: [plan]}}"}}, kind: KindUnknownField, path: "sources.app.events.upgrade.hints.customer[0]", at: "plan]}}", msg: `not an identity field of "customer"`},
	{name: "hint field not a mapping output", edits: []edit{{"login: {mappings: {email: email}, hints: {customer: [email]}}", "login: {mappings: {mail: email}, hints: {customer: [email]}}"}}, kind: KindUnknownField, path: "sources.app.events.login.hints.customer[0]", at: "email]}}\n      order", msg: "not a mapping output"},
	{name: "relate type unknown", edits: []edit{{"{relate: {type: placed_by, target: customer}}", "{relate: {type: placed_bye, target: customer}}"}}, kind: KindUnknownRelationship, path: "entities.order.states.open.when.order_created.effects[2].relate.type", at: "placed_bye", msg: `did you mean "placed_by"?`},
	{name: "relate target mismatch", edits: []edit{{"{relate: {type: placed_by, target: customer}}", "{relate: {type: placed_by, target: order}}"}}, kind: KindConflict, path: "entities.order.states.open.when.order_created.effects[2].relate.target", at: "order}}", msg: `differs from the target "customer"`},
	{name: "relate hints key", edits: []edit{{"{relate: {type: placed_by, target: customer}}", "{relate: {type: placed_by, target: customer, hints: {order: [email]}}}"}}, kind: KindRelateHints, path: "entities.order.states.open.when.order_created.effects[2].relate.hints", at: "{order: [email]}", msg: `exactly one key, the target "customer"`},
	{name: "relate hint field not identity", edits: []edit{{"{relate: {type: placed_by, target: customer}}", "{relate: {type: placed_by, target: customer, hints: {customer: [total]}}}"}}, kind: KindUnknownField, path: "entities.order.states.open.when.order_created.effects[2].relate.hints.customer[0]", at: "total]}}}", msg: `not an identity field of "customer"`},
	{name: "relate default hints missing", edits: []edit{{"hints: {order: [order_id], customer: [email]}", "hints: {order: [order_id]}"}}, kind: KindRelateHints, path: "entities.order.states.open.when.order_created.effects[2].relate", at: "{type: placed_by", msg: `hints nothing for "customer"`},
	{name: "relate unknown relationship property", edits: []edit{{"{relate: {type: placed_by, target: customer}}", "{relate: {type: placed_by, target: customer, properties: {weight: {value: 1}}}}"}}, kind: KindUnknownProperty, path: "entities.order.states.open.when.order_created.effects[2].relate.properties.weight", at: "weight", msg: `relationship "placed_by" has no property "weight"`},
	{name: "event field not mapped", edits: []edit{{`guard: "event.plan != entity.plan"`, `guard: "event.plna != entity.plan"`}}, kind: KindUnknownField, path: "entities.customer.states.active.when.upgrade.guard", at: `"event.plna`, msg: `event.plna: no source maps a field "plna" for event "upgrade"; did you mean "plan"?`},
	{name: "entity property unknown in expression", edits: []edit{{`guard: "event.plan != entity.plan"`, `guard: "event.plan != entity.plna"`}}, kind: KindUnknownProperty, path: "entities.customer.states.active.when.upgrade.guard", at: `"event.plan`, msg: `did you mean "plan"?`},
	{name: "from entity unknown", edits: []edit{{"{set: {property: plan, from: event.plan}}", "{set: {property: plan, from: entity.pln}}"}}, kind: KindUnknownProperty, path: "entities.customer.states.active.when.upgrade.effects[0].set.from", at: "entity.pln", msg: `did you mean "plan"?`},
	{name: "from event unknown", edits: []edit{{"{set: {property: plan, from: event.plan}}", "{set: {property: plan, from: event.tier}}"}}, kind: KindUnknownField, path: "entities.customer.states.active.when.upgrade.effects[0].set.from", at: "event.tier", msg: `no source maps a field "tier"`},
	{name: "from malformed", edits: []edit{{"{set: {property: plan, from: event.plan}}", "{set: {property: plan, from: plan}}"}}, kind: KindInvalidValue, path: "entities.customer.states.active.when.upgrade.effects[0].set.from", at: "plan}}", msg: "must start with event. or entity."},

	// Semantics.
	{name: "no create in starts", edits: []edit{{"              - create\n              - {set: {property: email", "              - {set: {property: email"}}, kind: KindNoCreate, path: "entities.customer.starts", at: "lead", msg: "no when handler with a create effect"},
	{name: "create in always", edits: []edit{{"    relationships:\n      - {type: placed,", "    always:\n      signup: {effects: [create]}\n    relationships:\n      - {type: placed,"}}, kind: KindPlacement, path: "entities.customer.always.signup.effects[0]", at: "create]", msg: "not allowed in always handlers"},
	{name: "create after set in starts", edits: []edit{{"              - create\n              - {set: {property: email, from: event.email}}\n", "              - {set: {property: email, from: event.email}}\n              - create\n"}}, kind: KindPlacement, path: "entities.customer.states.lead.when.signup.effects[1]", at: "create\n", msg: "only relate may precede create"},
	{name: "relate in a time rule", edits: []edit{{"[{transition: {to: churned}}]", "[{transition: {to: churned}}, {relate: {type: placed, target: order}}]"}}, kind: KindPlacement, path: "entities.customer.states.active.after[0].effects[1]", at: "{relate", msg: "not allowed in a time rule"},
	{name: "set from event in a time rule", edits: []edit{{"[{transition: {to: churned}}]", "[{transition: {to: churned}}, {set: {property: plan, from: event.plan}}]"}}, kind: KindRoot, path: "entities.customer.states.active.after[0].effects[1].set.from", at: "event.plan}}]", msg: "time rules have no event"},
	{name: "event in a time rule condition", edits: []edit{{"[{transition: {to: churned}}]", "[{transition: {to: churned, condition: 'event.plan == null'}}]"}}, kind: KindRoot, path: "entities.customer.states.active.after[0].effects[0].transition.condition", at: "'event.plan", msg: "event is not available here"},
	{name: "set on computed property", edits: []edit{{"{increment: {property: logins}}", "{set: {property: score, value: 1}}"}}, kind: KindComputedWrite, path: "entities.customer.states.active.when.login.effects[0].set.property", at: "score", msg: "computed property"},
	{name: "unreachable state", edits: []edit{{"      churned:\n", "      limbo: {}\n      churned:\n"}}, kind: KindUnreachableState, path: "entities.customer.states.limbo", at: "limbo", msg: `state "limbo" is unreachable`},
	{name: "computed cycle", edits: []edit{{`total_cents: {type: number, compute: "entity.total * 100"}`, `total_cents: {type: number, compute: "entity.total_eur * 100"}` + "\n      total_eur: {type: number, compute: \"entity.total_cents / 100\"}"}}, kind: KindComputedCycle, path: "entities.order.properties.total_cents.compute", at: `"entity.total_eur`, msg: "total_cents → total_eur → total_cents"},
	{name: "computed self cycle", edits: []edit{{`compute: "entity.logins * 2.0"`, `compute: "entity.score * 2.0"`}}, kind: KindComputedCycle, path: "entities.customer.properties.score.compute", at: `"entity.score`, msg: "score → score"},
	{name: "missing inverse", edits: []edit{{"{type: placed, target: order, cardinality: has_many}", "{type: placed, target: order, cardinality: has_many}\n      - {type: follows, target: order, cardinality: many_to_many}"}}, kind: KindMissingInverse, path: "entities.customer.relationships[1]", at: "{type: follows", msg: `entity "order" must declare a relationship with target "customer" and cardinality many_to_many`},
	{name: "self relationship without pair", edits: []edit{{"{type: placed, target: order, cardinality: has_many}", "{type: placed, target: order, cardinality: has_many}\n      - {type: refers, target: customer, cardinality: has_many}"}}, kind: KindMissingInverse, path: "entities.customer.relationships[1]", at: "{type: refers", msg: "self-relationship needs a second relationship"},
	{name: "relationship type reused", edits: []edit{{"{type: placed_by, target: customer, cardinality: belongs_to}", "{type: placed, target: customer, cardinality: belongs_to}"}, {"{relate: {type: placed_by, target: customer}}", "{relate: {type: placed, target: customer}}"}}, kind: KindDuplicate, path: "entities.order.relationships[0].type", at: "placed, target: customer", msg: "unique across all entities"},
	{name: "expression parse error", edits: []edit{{`guard: "event.email != null"`, `guard: "event.email != "`}}, kind: KindExpression, path: "entities.customer.states.lead.when.signup.guard", at: `"event.email`, msg: "invalid expression"},
	{name: "unknown function", edits: []edit{{`compute: "entity.logins * 2.0"`, `compute: "flor(entity.logins)"`}}, kind: KindExpression, path: "entities.customer.properties.score.compute", at: `"flor`, msg: "floor"},
	{name: "mapping compute reads entity", edits: []edit{{"{from: amount, type: number}", "{compute: 'entity.total', type: number}"}}, kind: KindRoot, path: "sources.app.events.order_created.mappings.total.compute", at: "'entity.total'", msg: "entity is not available here"},
	{name: "normalize reads event", edits: []edit{{"{match: case_insensitive}", "{normalize: 'event.email'}"}}, kind: KindRoot, path: "entities.customer.identity.email.normalize", at: "'event.email'", msg: "normalize expressions see only value"},
	{name: "unknown timezone", edits: []edit{{"    timestamp: ts\n", "    timestamp: ts\n    timezone: Europe/Berln\n"}}, kind: KindTimezone, path: "sources.app.timezone", at: "Europe/Berln", msg: `unknown timezone "Europe/Berln"`},
	{name: "duplicate raw_type", edits: []edit{{"login: {mappings: {email: email}, hints", "login: {raw_type: upgrade, mappings: {email: email}, hints"}}, kind: KindDuplicate, path: "sources.app.events.login.raw_type", at: "upgrade, mappings", msg: `raw_type "upgrade" is also the raw type of event "upgrade"`},
	{name: "duplicate event_id path", edits: []edit{{"    timestamp: ts\n", "    timestamp: ts\n    event_id: [id, id]\n"}}, kind: KindDuplicate, path: "sources.app.event_id[1]", at: "id]", msg: "listed twice"},
	{name: "schema requires an unmapped field", edits: []edit{{"sources:\n", "schemas:\n  login: {fields: {email: {type: string}, device: {type: string, required: true}}}\n  signup: {fields: {email: {type: string}}}\n  upgrade: {fields: {email: {type: string}, plan: {type: string}}}\n  order_created: {fields: {order_id: {type: string}, email: {type: string}, total: {type: number}}}\nsources:\n"}}, kind: KindSchemaMismatch, path: "sources.app.events.login.mappings", at: "{email: email}, hints: {customer: [email]}}\n      order", msg: `requires field "device"`},
	{name: "mapping output not in schema", edits: []edit{{"sources:\n", "schemas:\n  login: {fields: {email: {type: string}}}\n  signup: {fields: {email: {type: string}}}\n  upgrade: {fields: {email: {type: string}}}\n  order_created: {fields: {order_id: {type: string}, email: {type: string}, total: {type: number}}}\nsources:\n"}}, kind: KindSchemaMismatch, path: "sources.app.events.upgrade.mappings.plan", at: "plan: plan}", msg: `mapping output "plan"`},
	{name: "from with compute", edits: []edit{{"{from: amount, type: number}", "{from: amount, compute: 'event.amount', type: number}"}}, kind: KindConflict, path: "sources.app.events.order_created.mappings.total.compute", at: "'event.amount'", msg: "both from and compute"},
	{name: "set with from and value", edits: []edit{{"{set: {property: plan, from: event.plan}}", "{set: {property: plan, from: event.plan, value: pro}}"}}, kind: KindConflict, path: "entities.customer.states.active.when.upgrade.effects[0].set.value", at: "pro}}", msg: "exactly one of from, value or compute"},

	// Warnings.
	{name: "treatment without sensitive", warn: true, edits: []edit{{"email: {type: string}", "email: {type: string, treatment: mask}"}}, kind: KindTreatmentWithoutSensitive, path: "entities.customer.properties.email.treatment", at: "mask", msg: "has no effect"},
	{name: "unknown sensitive label", warn: true, edits: []edit{{"email: {type: string}", "email: {type: string, sensitive: pi}"}}, kind: KindUnknownSensitiveLabel, path: "entities.customer.properties.email.sensitive", at: "pi}", msg: `did you mean "pii"?`},
	{name: "computed default", warn: true, edits: []edit{{`score: {type: number, compute:`, `score: {type: number, default: 0, compute:`}}, kind: KindComputedDefault, path: "entities.customer.properties.score.default", at: "0, compute", msg: "has no effect"},
	{name: "dead end", warn: true, edits: []edit{{"      churned:\n        when:\n          signup:\n            effects: [{transition: {to: active}}]\n", "      churned: {}\n"}}, kind: KindDeadEnd, path: "entities.customer.states.churned", at: "churned: {}", msg: "no outgoing transition"},
	{name: "unused hint", warn: true, edits: []edit{{"login: {mappings: {email: email}, hints: {customer: [email]}}", "login: {mappings: {email: email, order_id: order}, hints: {customer: [email], order: [order_id]}}"}}, kind: KindUnusedHint, path: "sources.app.events.login.hints.order", at: "order: [order_id]}}", msg: `handles "login" nowhere`},
	{name: "unproduced event", warn: true, edits: []edit{{"          login:\n            effects:", "          logn:\n            effects: [{increment: {property: logins}}]\n          login:\n            effects:"}}, kind: KindUnproducedEvent, path: "entities.customer.states.active.when.logn", at: "logn:", msg: `did you mean "login"?`},
	{name: "missing schema", warn: true, edits: []edit{{"sources:\n", "schemas:\n  signup: {fields: {email: {type: string}}}\n  upgrade: {fields: {email: {type: string}, plan: {type: string}}}\n  order_created: {fields: {order_id: {type: string}, email: {type: string}, total: {type: number}}}\nsources:\n"}}, kind: KindMissingSchema, path: "sources.app.events.login", at: "login: {mappings", msg: `event type "login" has no schema`},
	{name: "unread property", warn: true, edits: []edit{{`compute: "entity.logins * 2.0"`, `compute: "2.0"`}}, kind: KindUnreadProperty, path: "entities.customer.properties.logins", at: "logins: {type", msg: "read by no expression"},
}

// mini is a minimal valid set whose one entity type is named name.
func mini(name string) string {
	return "entities:\n  " + name + ":\n    starts: s\n    identity: {k: {}}\n    states: {s: {when: {ev: {effects: [create]}}}}\n" +
		"sources:\n  src:\n    event_type: t\n    timestamp: ts\n    events: {ev: {mappings: {k: k}, hints: {" + name + ": [k]}}}\n"
}

func TestMiniIsClean(t *testing.T) {
	_, res, err := LoadBytes([]byte(mini("thing")), "")
	if err != nil || len(res.Warnings) > 0 {
		t.Fatalf("err %v, warnings:\n%s", err, problemList(res.Warnings))
	}
}

func TestRules(t *testing.T) {
	for _, c := range ruleCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := c.doc
			if src == "" {
				src = apply(t, base, c.edits)
			}
			set, res, err := LoadBytes([]byte(src), "defs.yaml")
			if res == nil {
				t.Fatalf("no result (err %v)", err)
			}
			list := res.Errors
			if c.warn {
				if err != nil {
					t.Fatalf("want only a warning, got errors:\n%s", problemList(res.Errors))
				}
				if set == nil {
					t.Fatal("valid set but nil Set")
				}
				list = res.Warnings
			} else if err == nil {
				t.Fatalf("accepted; warnings:\n%s", problemList(res.Warnings))
			}
			if len(list) != 1 {
				t.Fatalf("want exactly one problem, got %d:\n%s", len(list), problemList(list))
			}
			p := list[0]
			if p.Kind != c.kind {
				t.Errorf("kind = %q, want %q (%s)", p.Kind, c.kind, p)
			}
			if c.path != "" && p.Path != c.path {
				t.Errorf("path = %q, want %q", p.Path, c.path)
			}
			if !strings.Contains(p.Message, c.msg) {
				t.Errorf("message %q does not contain %q", p.Message, c.msg)
			}
			if p.File != "defs.yaml" {
				t.Errorf("file = %q", p.File)
			}
			if p.Line == 0 {
				t.Errorf("no line in %s", p)
			}
			if c.at != "" {
				off := offsetOf(src, p.Line, p.Column)
				if off < 0 || !strings.HasPrefix(src[off:], c.at) {
					got := ""
					if off >= 0 {
						got = src[off:min(len(src), off+30)]
					}
					t.Errorf("%d:%d points at %q, want %q", p.Line, p.Column, got, c.at)
				}
			}
			if c.path != "" && p.Name != defName(c.path) {
				t.Errorf("name = %q, want %q", p.Name, defName(c.path))
			}
		})
	}
}
