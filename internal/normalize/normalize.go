// Package normalize turns raw records into normalized events: it reads the
// event type and timestamp a source declares, maps and coerces the output
// fields, checks the event type's schema and derives the content-based event
// id (ingestion.md §2–§7).
//
// Everything here is a pure function of the definitions, the record and the
// ingest time; it knows nothing about storage. Identity keys, the last step
// of normalizing a record, live in package identity.
package normalize

import (
	"fmt"
	"strings"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/value"
)

// Stages of a Failure.
const (
	StageNormalize = "normalize"
	StageIdentity  = "identity"
)

// Event is one normalized record.
type Event struct {
	Source  string // source name
	Type    string // normalized event type
	RawType string // the raw type the source sent
	Time    int64  // event time, µs since the epoch, UTC
	// Data is an Object with every mapped output field, Null members included.
	Data value.Value
	ID   string      // 64 lowercase hex characters (ingestion.md §6)
	Raw  value.Value // the record as given (an Object)
	// Config is the event config that produced the event; identity reads
	// its hints.
	Config *definition.SourceEvent
}

// Failure is why one record could not be normalized. It is a value the
// ingest result reports (EventFailure), not an error of the call.
type Failure struct {
	Stage     string // StageNormalize or StageIdentity
	Field     string // output field, raw path or identity field concerned; "" when none
	Message   string // names the source, the event type when known, the field or path and the cause
	EventType string // normalized type, "" when unknown
	RawType   string // raw type, "" when unknown
}

// Error returns the stage and the message.
func (f *Failure) Error() string { return f.Stage + ": " + f.Message }

// Normalizer normalizes records for one definition set. It is immutable once
// built and safe for concurrent use.
type Normalizer struct {
	set   *definition.Set
	plans map[*definition.SourceEvent]*plan
}

// plan is what Normalize needs for one event config, resolved once.
type plan struct {
	paths  []string // raw path of each mapping; "" for computed ones
	schema *definition.Schema
}

// New prepares a Normalizer for set.
func New(set *definition.Set) *Normalizer {
	n := &Normalizer{set: set, plans: make(map[*definition.SourceEvent]*plan)}
	for _, src := range set.Sources {
		for _, ev := range src.Events {
			n.plans[ev] = n.makePlan(ev)
		}
	}
	return n
}

func (n *Normalizer) makePlan(ev *definition.SourceEvent) *plan {
	p := &plan{paths: make([]string, len(ev.Mappings)), schema: n.set.Schema(ev.Name)}
	for i, m := range ev.Mappings {
		switch {
		case m.Compute != nil:
		case m.From != "":
			p.paths[i] = m.From
		default:
			p.paths[i] = m.Field // neither from nor compute: the raw member of that name
		}
	}
	return p
}

// Normalize runs steps 1–5 of ingestion.md §2 on one raw record of src:
// event type, timestamp, mappings, schema (only when checkSchema; the
// re-normalization of stored events skips it) and event id. ingestedAt is
// what now() reads in mapping computes. ignored is true, with neither event
// nor failure, for a record of an undeclared raw type under
// `unknown_events: ignore`.
func (n *Normalizer) Normalize(src *definition.Source, raw value.Value, ingestedAt int64, checkSchema bool) (ev *Event, ignored bool, f *Failure) {
	if raw.Kind() != value.KindObject {
		return nil, false, &Failure{Stage: StageNormalize,
			Message: fmt.Sprintf("source '%s': a record must be a JSON object, got %s", src.Name, raw.Kind())}
	}

	// 1. Event type.
	tv := Walk(raw, src.EventType)
	if tv.Kind() != value.KindString {
		why := "is missing"
		if !tv.IsNull() || hasPath(raw, src.EventType) {
			why = "must be a string, got " + describe(tv)
		}
		return nil, false, &Failure{Stage: StageNormalize, Field: src.EventType,
			Message: fmt.Sprintf("source '%s': event type at path '%s' %s", src.Name, src.EventType, why)}
	}
	rawType := tv.AsString()
	cfg := src.ByRawType(rawType)
	if cfg == nil {
		if src.UnknownEvents == "ignore" {
			return nil, true, nil
		}
		return nil, false, &Failure{Stage: StageNormalize, Field: src.EventType, RawType: rawType,
			Message: fmt.Sprintf("source '%s': unknown event type '%s' for source '%s'", src.Name, rawType, src.Name)}
	}
	fail := func(field, format string, args ...any) *Failure {
		return &Failure{Stage: StageNormalize, Field: field, EventType: cfg.Name, RawType: rawType,
			Message: eventPrefix(src.Name, cfg.Name, rawType) + fmt.Sprintf(format, args...)}
	}

	// 2. Timestamp.
	loc := src.Location
	if loc == nil {
		loc = time.UTC
	}
	tsv := Walk(raw, src.Timestamp)
	if tsv.IsNull() {
		why := "is missing"
		if hasPath(raw, src.Timestamp) {
			why = "is null"
		}
		return nil, false, fail(src.Timestamp, "timestamp at path '%s' %s", src.Timestamp, why)
	}
	ts, err := ParseTimestamp(tsv, loc, src.TimestampUnit)
	if err != nil {
		return nil, false, fail(src.Timestamp, "timestamp at path '%s': %v", src.Timestamp, err)
	}

	// 3. Mappings.
	p := n.plans[cfg]
	if p == nil { // a source that is not part of the set: resolve on the fly
		p = n.makePlan(cfg)
	}
	data := make(map[string]value.Value, len(cfg.Mappings))
	var env *expr.Env // built on the first compute: the raw record is the event root
	for i, m := range cfg.Mappings {
		var v value.Value
		if m.Compute != nil {
			if env == nil {
				env = &expr.Env{Event: expr.MapScope(raw.AsObject()), Now: ingestedAt}
			}
			v, err = m.Compute.Eval(env)
			if err != nil {
				return nil, false, fail(m.Field, "field '%s': compute failed: %v", m.Field, err)
			}
		} else {
			v = Walk(raw, p.paths[i])
		}
		if m.Type != "" && !v.IsNull() {
			c, err := Coerce(v, m.Type, loc, src.TimestampUnit)
			if err != nil {
				return nil, false, fail(m.Field, "field '%s': %v", m.Field, err)
			}
			v = c
		}
		if v.IsNull() && m.HasDefault {
			v = m.Default
		}
		data[m.Field] = v
	}

	// 4. Schema.
	if checkSchema && p.schema != nil {
		if field, msg := checkSchemaFields(p.schema, data); field != "" {
			return nil, false, fail(field, "%s", msg)
		}
	}

	// 5. Event id.
	ev = &Event{Source: src.Name, Type: cfg.Name, RawType: rawType, Time: ts,
		Data: value.Object(data), Raw: raw, Config: cfg}
	if src.EventID != nil {
		id, ok := EventIDFromPaths(src.Name, cfg.Name, raw, src.EventID)
		if !ok {
			return nil, false, fail(src.EventID[0], "event_id paths %s are all missing or null",
				quotePaths(src.EventID))
		}
		ev.ID = id
	} else {
		ev.ID = EventID(src.Name, cfg.Name, ts, ev.Data)
	}
	return ev, false, nil
}

// eventPrefix starts a message about a record whose event config is known.
func eventPrefix(source, eventType, rawType string) string {
	if rawType == eventType {
		return fmt.Sprintf("source '%s': event '%s': ", source, eventType)
	}
	return fmt.Sprintf("source '%s': event '%s' (raw type '%s'): ", source, eventType, rawType)
}

// hasPath reports whether the last segment of path names an existing member
// (so a Null at path is an explicit null rather than a missing member).
func hasPath(raw value.Value, path string) bool {
	parent, last := raw, path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parent, last = Walk(raw, path[:i]), path[i+1:]
	}
	switch parent.Kind() {
	case value.KindObject:
		_, ok := parent.AsObject()[last]
		return ok
	case value.KindArray:
		i, ok := index(last)
		return ok && i < len(parent.AsArray())
	}
	return false
}

// describe renders a value for a message: its kind and, for scalars, the
// value itself, shortened.
func describe(v value.Value) string {
	switch v.Kind() {
	case value.KindNull:
		return "null"
	case value.KindString:
		return "String " + quote(v.AsString())
	case value.KindArray, value.KindObject:
		return v.Kind().String()
	}
	return v.Kind().String() + " " + value.ToString(v)
}

func quotePaths(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + p + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}
