// Package definition holds the validated model of a definition set (entities,
// sources, schemas), loads it from YAML or JSON with exact source positions,
// validates it, and derives its canonical form and hashes.
//
// The model is read-only once built: every other stage (normalization,
// identity, interpretation, storage) reads it concurrently without locks.
package definition

import (
	"regexp"
	"time"

	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/value"
)

// Set is a validated, immutable definition set.
type Set struct {
	Entities []*Entity // ascending by name
	Sources  []*Source // ascending by name
	Schemas  []*Schema // ascending by event type

	// Canonical is the JCS serialization of the canonical form (definitions.md §7).
	Canonical    []byte
	ContentHash  string
	EntitiesHash string
	IdentityHash string
	SourceHashes map[string]string

	entities map[string]*Entity
	sources  map[string]*Source
	schemas  map[string]*Schema
}

// Entity returns the entity type named n, or nil.
func (s *Set) Entity(n string) *Entity { return s.entities[n] }

// Source returns the source named n, or nil.
func (s *Set) Source(n string) *Source { return s.sources[n] }

// Schema returns the schema of normalized event type t, or nil.
func (s *Set) Schema(t string) *Schema { return s.schemas[t] }

// Index builds the lookup maps of s and of every member. Loaders call it
// once after filling the slices.
func (s *Set) Index() {
	s.entities = make(map[string]*Entity, len(s.Entities))
	for _, e := range s.Entities {
		s.entities[e.Name] = e
		e.index()
	}
	s.sources = make(map[string]*Source, len(s.Sources))
	for _, src := range s.Sources {
		s.sources[src.Name] = src
		src.index()
	}
	s.schemas = make(map[string]*Schema, len(s.Schemas))
	for _, sc := range s.Schemas {
		s.schemas[sc.EventType] = sc
	}
}

// Type is the type of a property, mapping or schema field.
type Type string

// The five value types of definitions.
const (
	TypeString   Type = "string"
	TypeInteger  Type = "integer"
	TypeNumber   Type = "number"
	TypeBoolean  Type = "boolean"
	TypeDateTime Type = "datetime"
)

// Entity is one entity type: a state machine with identity and properties.
type Entity struct {
	Name          string
	Starts        string
	Identity      []*IdentityField // definition order; order matters for ids
	Properties    []*Property      // definition order
	States        []*State         // definition order
	Relationships []*Relationship  // definition order
	Always        []*Handler       // definition order

	// ComputeOrder lists computed properties in dependency order (ties:
	// definition order).
	ComputeOrder []*Property

	// Feeds lists the event fields whose values flow into this entity's
	// sensitive properties and sensitive identity fields (privacy.md §1),
	// ascending by event type, then field. Erase removes them, redact treats
	// them.
	Feeds []*Feed

	props  map[string]*Property
	states map[string]*State
	always map[string]*Handler
	rels   map[string]*Relationship
	idents map[string]*IdentityField
}

func (e *Entity) index() {
	e.props = make(map[string]*Property, len(e.Properties))
	for i, p := range e.Properties {
		p.Index = i
		e.props[p.Name] = p
	}
	e.states = make(map[string]*State, len(e.States))
	for _, st := range e.States {
		e.states[st.Name] = st
		st.when = make(map[string]*Handler, len(st.When))
		for _, h := range st.When {
			st.when[h.EventType] = h
		}
	}
	e.always = make(map[string]*Handler, len(e.Always))
	for _, h := range e.Always {
		e.always[h.EventType] = h
	}
	e.rels = make(map[string]*Relationship, len(e.Relationships))
	for _, r := range e.Relationships {
		e.rels[r.Type] = r
	}
	e.idents = make(map[string]*IdentityField, len(e.Identity))
	for _, f := range e.Identity {
		e.idents[f.Name] = f
	}
}

// Property returns the property named n, or nil.
func (e *Entity) Property(n string) *Property { return e.props[n] }

// State returns the state named n, or nil.
func (e *Entity) State(n string) *State { return e.states[n] }

// AlwaysHandler returns the always handler for event type t, or nil.
func (e *Entity) AlwaysHandler(t string) *Handler { return e.always[t] }

// Relationship returns the relationship this entity declares with type t, or nil.
func (e *Entity) Relationship(t string) *Relationship { return e.rels[t] }

// IdentityField returns the identity field named n, or nil.
func (e *Entity) IdentityField(n string) *IdentityField { return e.idents[n] }

// Feed is a normalized event field feeding sensitive data of an entity type.
type Feed struct {
	EventType string
	Field     string
	// Treatment is the strongest treatment among the values it feeds:
	// redact, then hash, then mask.
	Treatment string
	// RawPaths maps each source producing EventType to the raw dot paths the
	// field is read from: the mapping's from path, or every event.<path> its
	// compute reads. Sources without such a mapping, and constant mappings,
	// have no entry.
	RawPaths map[string][]string
}

// Match modes of identity fields.
const (
	MatchExact           = "exact"
	MatchCaseInsensitive = "case_insensitive"
)

// IdentityField is one identity field of an entity.
type IdentityField struct {
	Name      string
	Match     string        // MatchExact or MatchCaseInsensitive
	Normalize *expr.Program // nil when absent; root `value`

	// Sensitive is set when the entity declares a same-named sensitive
	// property (identity.md §2): the field's values are then never stored
	// in clear outside event rows.
	Sensitive bool
}

// Treatments of sensitive values (privacy.md §2).
const (
	TreatmentRedact = "redact"
	TreatmentHash   = "hash"
	TreatmentMask   = "mask"
)

// Property is a typed entity (or relationship) property.
type Property struct {
	Name    string
	Index   int // position in the owner's Properties
	Type    Type
	Default value.Value // Null when absent; already converted to Type
	Allowed []value.Value
	Min     *float64
	Max     *float64
	Compute *expr.Program // nil unless computed; root `entity`

	Sensitive string // "" when not sensitive; "true" for `sensitive: true`
	Treatment string // "" when not sensitive
}

// State is one state of an entity's machine.
type State struct {
	Name  string
	When  []*Handler // definition order
	After []*TimeRule

	when map[string]*Handler
}

// Handler returns the state's handler for event type t, or nil.
func (s *State) Handler(t string) *Handler { return s.when[t] }

// Handler reacts to one event type.
type Handler struct {
	EventType string
	Guard     *expr.Program // nil when absent
	Effects   []*Effect
	Path      string // YAML path, e.g. entities.customer.states.active.when.upgrade
	Creates   bool   // contains a create effect
}

// EffectKind names an effect.
type EffectKind string

// The five effect kinds.
const (
	EffectCreate     EffectKind = "create"
	EffectTransition EffectKind = "transition"
	EffectSet        EffectKind = "set"
	EffectIncrement  EffectKind = "increment"
	EffectRelate     EffectKind = "relate"
)

// Effect is one step of a handler or time rule.
type Effect struct {
	Kind      EffectKind
	Condition *expr.Program // nil when absent
	Path      string        // YAML path of the effect

	// transition
	To string

	// set, increment
	Property string
	Source   ValueSource // set

	// increment
	By value.Value // Int or Float; default Int(1)

	// relate
	Relate *Relate
}

// ValueSource is where a set effect or a relate property takes its value:
// exactly one of From, Value (HasValue) or Compute.
type ValueSource struct {
	// From is a reference like event.items.0.id or entity.plan.
	FromRoot expr.Root // expr.RootEvent or expr.RootEntity; 0 when unused
	FromPath []string
	FromText string // the path as written, e.g. "event.plan"

	Value    value.Value
	HasValue bool

	Compute *expr.Program
}

// Relate is the body of a relate effect.
type Relate struct {
	Type       string
	Target     string
	Hints      []string // target identity fields read from the event
	Properties []RelateProperty
}

// RelateProperty assigns one relationship property in a relate effect.
type RelateProperty struct {
	Name   string
	Source ValueSource
}

// Time rule types.
const (
	RuleInactivity    = "inactivity"
	RuleExpiration    = "expiration"
	RuleStateDuration = "state_duration"
)

// TimeRule is one item of a state's `after` list.
type TimeRule struct {
	Type      string // RuleInactivity, RuleExpiration, RuleStateDuration
	Threshold int64  // µs, > 0
	Effects   []*Effect
	Index     int    // position in the state's After list
	Path      string // YAML path
}

// Relationship cardinalities.
const (
	HasMany    = "has_many"
	HasOne     = "has_one"
	BelongsTo  = "belongs_to"
	ManyToMany = "many_to_many"
)

// Relationship is declared by an entity towards a target entity type.
type Relationship struct {
	Type        string
	Target      string
	Cardinality string
	Properties  []*Property // only Type, Default, Allowed, Min, Max used
}

// Timestamp units of numeric timestamps.
const (
	UnitSeconds = "s"
	UnitMillis  = "ms"
	UnitMicros  = "us"
	UnitNanos   = "ns"
)

// Source describes how one system's raw records become normalized events.
type Source struct {
	Name          string
	EventType     string // dot path into the raw record
	Timestamp     string // dot path into the raw record
	Timezone      string // IANA name, default "UTC"
	Location      *time.Location
	TimestampUnit string   // UnitSeconds (default), UnitMillis, UnitMicros, UnitNanos
	EventID       []string // raw dot paths; nil when absent
	UnknownEvents string   // "fail" (default) or "ignore"
	Events        []*SourceEvent

	byRaw  map[string]*SourceEvent
	byName map[string]*SourceEvent
}

func (s *Source) index() {
	s.byRaw = make(map[string]*SourceEvent, len(s.Events))
	s.byName = make(map[string]*SourceEvent, len(s.Events))
	for _, ev := range s.Events {
		s.byRaw[ev.RawType] = ev
		s.byName[ev.Name] = ev
	}
}

// ByRawType returns the event config whose raw_type is t, or nil.
func (s *Source) ByRawType(t string) *SourceEvent { return s.byRaw[t] }

// Event returns the event config of normalized type t, or nil.
func (s *Source) Event(t string) *SourceEvent { return s.byName[t] }

// SourceEvent maps one raw type of a source to a normalized event type.
type SourceEvent struct {
	Name     string // normalized event type
	RawType  string
	Mappings []*Mapping // definition order
	Hints    []*Hint    // ascending by entity type
}

// Hint lists the mapped fields of an event that identify one entity type.
type Hint struct {
	Entity string
	Fields []string // identity fields of Entity, in the order written
}

// Mapping produces one output field of a normalized event.
type Mapping struct {
	Field      string
	From       string        // raw dot path; "" when Compute is set
	Compute    *expr.Program // root `event` = the whole raw record
	Type       Type          // "" when untyped
	Default    value.Value   // already coerced to Type
	HasDefault bool
}

// Schema constrains the normalized events of one type, from every source.
type Schema struct {
	EventType string
	Fields    []*SchemaField // definition order
}

// SchemaField constrains one field of a normalized event.
type SchemaField struct {
	Name      string
	Type      Type
	Required  bool
	Allowed   []value.Value
	Min, Max  *float64
	MinLength *int
	Regex     *regexp.Regexp
}
