package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Driver is what the runner calls to drive one engine through a scenario.
// One implementation drives the Go library (conformance_test.go in the
// module root), another drives the defacto CLI binary.
//
// Conventions shared by every method:
//
//   - Results are generic JSON: the result struct (or the CLI's --output json
//     stdout) decoded with encoding/json and UseNumber, so objects are
//     map[string]any, arrays []any and numbers json.Number. DecodeJSON and
//     ToJSON do exactly that.
//   - Errors are *StepError. Kind is the sentinel name of README §7.2
//     (not_found, definition, validation, config, storage, query,
//     build_required, assertion, closed), or "" when the driver cannot tell
//     (the CLI only has exit code 1). A plain error is treated as a
//     StepError with an empty Kind.
//   - Ids are strings; the runner resolves refs before calling.
//   - Definitions are YAML bytes of one mapping {entities, sources, schemas}
//     (absent members are empty), re-encoded from the scenario file.
type Driver interface {
	// Open opens the engine on a fresh database with these definitions and
	// settings. The runner calls SetClock before Open.
	Open(ctx context.Context, defs []byte, cfg Config) error
	// Reopen closes the engine and opens it again on the same database. A nil
	// defs keeps the current definitions, a nil cfg the current settings;
	// a non-nil cfg is complete (the runner has merged the reopen step's keys
	// into the current settings).
	Reopen(ctx context.Context, defs []byte, cfg *Config) error
	// Close closes the engine (end of scenario); it may be called when Open
	// failed or was never called.
	Close() error
	// SetClock sets the engine clock for all following calls.
	SetClock(t time.Time)

	// Validate checks a definition set without a database: the
	// ValidationResult {valid, errors, warnings}.
	Validate(ctx context.Context, defs []byte) (map[string]any, error)
	// Ingest hands the raw records (exact JSON objects) to the source: the
	// IngestResult. Per-record failures are part of the result, not an error.
	Ingest(ctx context.Context, source string, events []json.RawMessage, process bool) (map[string]any, error)
	// Build runs a build: the BuildResult.
	Build(ctx context.Context, full, fromRaw bool) (map[string]any, error)
	// Tick evaluates time rules up to asOf (RFC 3339; "" = the engine
	// clock): the TickResult.
	Tick(ctx context.Context, asOf string) (map[string]any, error)
	// Merge merges entity from into entity into: the MergeResult.
	Merge(ctx context.Context, from, into, reason string) (map[string]any, error)
	// Erase erases an entity: the EraseResult.
	Erase(ctx context.Context, id string) (map[string]any, error)
	// Redact redacts an entity's sensitive fields: the RedactResult.
	Redact(ctx context.Context, id string) (map[string]any, error)
	// Register stores a definition version without activating it: the
	// RegisterResult. Library only (tag versions).
	Register(ctx context.Context, version string, defs []byte) (map[string]any, error)
	// Activate activates a stored version, which builds: the BuildResult.
	// Library only (tag versions).
	Activate(ctx context.Context, version string) (map[string]any, error)
	// Eval evaluates an expression with event.* and entity.* bound to the
	// given objects (nil = absent root) and value to the given string (nil =
	// absent); now() is the engine clock. Result: {"value": ...}.
	Eval(ctx context.Context, expr string, event, entity json.RawMessage, value *string) (map[string]any, error)

	// Query runs an entity query and returns its rows as row objects keyed by
	// column name (<entity>_id, <entity>_state, properties, system columns,
	// canonical_id with ResolveMerges).
	Query(ctx context.Context, q EntityQuery) ([]map[string]any, error)
	// Relationships returns the open current rows of a relationship type, or
	// every current-belief row with history.
	Relationships(ctx context.Context, relType string, history bool) ([]map[string]any, error)
	// Timeline returns the timeline object of an entity
	// {entity_id, entity_type, canonical_id, entries: [...]}.
	Timeline(ctx context.Context, id string) (map[string]any, error)
	// Lookup returns the canonical id of the entity holding the identity
	// value (field "" = any identity field of the type); not_found when none.
	Lookup(ctx context.Context, entityType, value, field string) (string, error)
	// Hints returns {entity_id, entity_type, hints: {field: [values]}}.
	Hints(ctx context.Context, id string) (map[string]any, error)
	// Count counts live ledger events: user events of every source (source
	// ""), or of one source ("_defacto" = merge directives); all includes
	// merge directives.
	Count(ctx context.Context, source string, all bool) (int64, error)
	// EventsFor returns the live events linked to an entity, in timestamp
	// order, as objects {sequence, event_id, source, event_type, timestamp,
	// data}.
	EventsFor(ctx context.Context, id string) ([]map[string]any, error)
	// BuildStatus returns the BuildStatus of the active version.
	BuildStatus(ctx context.Context) (map[string]any, error)
	// Versions lists the stored versions as objects {version, content_hash,
	// active, built, created_at}.
	Versions(ctx context.Context) ([]map[string]any, error)
	// ActiveVersion returns the name of the active version.
	ActiveVersion(ctx context.Context) (string, error)
	// Graph runs one graph query (library only, tag graph). Result: for
	// "path" a []any of ids (empty when there is none); otherwise a []any of
	// row objects (README §7.10).
	Graph(ctx context.Context, q GraphQuery) (any, error)
}

// CLIUnsupported are the tags a CLI runner skips (README §3, §10).
var CLIUnsupported = []string{"versions", "engine-config", "graph"}

// Config holds the scenario's engine settings (README §2).
type Config struct {
	// BatchSize is Config.BatchSize; 0 means the engine default.
	BatchSize int
	// AutoBuild is Config.AutoBuild; nil means the default (true).
	AutoBuild *bool
	// Salt is the identity salt as 64 lower-case hex characters; "" means
	// random.
	Salt string
}

// Query kinds of EntityQuery.
const (
	KindTable   = "table"
	KindHistory = "history"
	KindAsOf    = "as_of"
)

// EntityQuery is one entity query (README §7.3).
type EntityQuery struct {
	Entity string
	// Kind is KindTable (Table), KindHistory (History) or KindAsOf
	// (History().AsOf(At)).
	Kind string
	// At is the as_of instant exactly as written in the scenario: RFC 3339
	// (no offset = UTC) or a date.
	At string
	// ResolveMerges applies ResolveMerges (history and as_of only).
	ResolveMerges bool
}

// Graph operations.
const (
	GraphNeighbors = "neighbors"
	GraphPath      = "path"
	GraphRelated   = "related"
	GraphTraverse  = "traverse"
)

// GraphQuery is one graph query (README §7.10), refs already resolved to ids.
type GraphQuery struct {
	Op string
	// Of is the start entity of neighbors, related and traverse.
	Of string
	// Direction of neighbors: "out", "in" or "both" (never empty).
	Direction string
	// From and To are the ends of path; MaxDepth 0 means the default.
	From, To string
	MaxDepth int
	// Type is the relationship type of related and traverse.
	Type string
	// Depth and Directed are traverse's arguments.
	Depth    int
	Directed bool
}

// StepError is a failed Driver call.
type StepError struct {
	// Kind is the sentinel name (README §7.2), "" when unknown.
	Kind    string
	Message string
}

func (e *StepError) Error() string {
	if e.Kind == "" {
		return e.Message
	}
	return fmt.Sprintf("[%s] %s", e.Kind, e.Message)
}

// AsStepError converts any error to a *StepError (nil stays nil).
func AsStepError(err error) *StepError {
	if err == nil {
		return nil
	}
	if se, ok := err.(*StepError); ok {
		return se
	}
	return &StepError{Message: err.Error()}
}
