package defacto

// Failure stages.
const (
	StageNormalize = "normalize"
	StageIdentity  = "identity"
	StageInterpret = "interpret"
	StageConsume   = "consume"
)

// EventFailure describes one event that could not be normalized, resolved or
// interpreted. Failures are results, never errors: the rest of the batch
// proceeds. It is also the dead-letter record.
type EventFailure struct {
	Stage      string `json:"stage"`
	Index      int    `json:"index"` // 0-based record position in the call; -1 when not tied to one
	Sequence   int64  `json:"sequence"`
	EventID    string `json:"event_id"`
	Source     string `json:"source"`
	EventType  string `json:"event_type"`
	EntityType string `json:"entity_type"`
	EntityID   string `json:"entity_id"`
	Field      string `json:"field"`
	Location   string `json:"location"`
	Message    string `json:"message"`
	// Raw is the raw record as a JSON object; for input that is not a JSON
	// object (a broken line, an array), its text as given, as a string.
	Raw         any  `json:"raw"`
	Recoverable bool `json:"recoverable"`
}

// Merge is one merge of two entities.
type Merge struct {
	EntityType    string `json:"entity_type"`
	FromEntityID  string `json:"from_entity_id"`
	IntoEntityID  string `json:"into_entity_id"`
	MergeSequence int64  `json:"merge_sequence"`
}

// Timing reports where a call spent its time, in seconds.
type Timing struct {
	Normalize float64 `json:"normalize"`
	Append    float64 `json:"append"`
	Identity  float64 `json:"identity"`
	Interpret float64 `json:"interpret"`
	Write     float64 `json:"write"` // history writes are timed inside interpret; 0 until split out
	Total     float64 `json:"total"`
}

// IngestResult describes exactly the records given to one Ingest call.
// Invariant: EventsReceived = EventsIngested + DuplicatesSkipped +
// EventsFailed + EventsIgnored + ErasedSkipped.
type IngestResult struct {
	EventsReceived         int            `json:"events_received"`
	EventsIngested         int            `json:"events_ingested"`
	DuplicatesSkipped      int            `json:"duplicates_skipped"`
	DuplicateIDs           []string       `json:"duplicate_ids"`
	ErasedSkipped          int            `json:"erased_skipped"`
	EventsIgnored          int            `json:"events_ignored"`
	EventsFailed           int            `json:"events_failed"`
	EventsProcessed        int            `json:"events_processed"`
	InterpretationFailures int            `json:"interpretation_failures"`
	EntitiesCreated        int            `json:"entities_created"`
	EntitiesUpdated        int            `json:"entities_updated"`
	EntitiesRecomputed     int            `json:"entities_recomputed"`
	LateArrivals           int            `json:"late_arrivals"`
	MergesDetected         int            `json:"merges_detected"`
	Merges                 []Merge        `json:"merges"`
	Failures               []EventFailure `json:"failures"`
	Build                  *BuildResult   `json:"build"`
	Timing                 Timing         `json:"timing"`
}

// Build modes, cheapest first.
const (
	ModeSkip                  = "SKIP"
	ModeIncremental           = "INCREMENTAL"
	ModeFull                  = "FULL"
	ModeFullWithIdentityReset = "FULL_WITH_IDENTITY_RESET"
	ModeFullRenormalize       = "FULL_RENORMALIZE"
)

// BuildResult describes one build.
type BuildResult struct {
	Mode               string         `json:"mode"`
	Reasons            []string       `json:"reasons"`
	CopiedFrom         *string        `json:"copied_from"`
	IdentityReset      bool           `json:"identity_reset"`
	EventsRenormalized int            `json:"events_renormalized"`
	EventsProcessed    int            `json:"events_processed"`
	EntitiesCreated    int            `json:"entities_created"`
	EntitiesUpdated    int            `json:"entities_updated"`
	EntitiesRecomputed int            `json:"entities_recomputed"`
	EntitiesRetired    int            `json:"entities_retired"`
	MergesDetected     int            `json:"merges_detected"`
	MergesSkipped      int            `json:"merges_skipped"`
	LateArrivals       int            `json:"late_arrivals"`
	RowsWritten        int            `json:"rows_written"`
	RowsSuperseded     int            `json:"rows_superseded"`
	EventsFailed       int            `json:"events_failed"`
	Failures           []EventFailure `json:"failures"`
	Tick               *TickResult    `json:"tick"`
	Duration           float64        `json:"duration"`
	Timing             BuildTiming    `json:"timing"`
}

// BuildTiming reports a build's phases, in seconds.
type BuildTiming struct {
	Renormalize float64 `json:"renormalize"`
	Identity    float64 `json:"identity"`
	Interpret   float64 `json:"interpret"`
	Tick        float64 `json:"tick"`
	Total       float64 `json:"total"`
}

// TickResult describes one evaluation of time rules.
type TickResult struct {
	AsOf              string         `json:"as_of"`
	EntitiesEvaluated int            `json:"entities_evaluated"`
	EntitiesChanged   int            `json:"entities_changed"`
	RulesFired        int            `json:"rules_fired"`
	Transitions       int            `json:"transitions"`
	RowsWritten       int            `json:"rows_written"`
	Failures          []EventFailure `json:"failures"`
	Build             *BuildResult   `json:"build"`
}

// BuildStatus reports how far the active version's store is built.
type BuildStatus struct {
	Version         string            `json:"version"`
	ShardID         int               `json:"shard_id"`
	TotalShards     int               `json:"total_shards"`
	Active          bool              `json:"active"`
	Built           bool              `json:"built"`
	Dirty           bool              `json:"dirty"`
	Cursor          int64             `json:"cursor"`
	IdentityCursor  int64             `json:"identity_cursor"`
	LedgerHead      int64             `json:"ledger_head"`
	LiveEvents      int64             `json:"live_events"`
	DuplicateEvents int64             `json:"duplicate_events"`
	FailedEvents    int64             `json:"failed_events"`
	PendingEvents   int64             `json:"pending_events"`
	TickHorizon     *string           `json:"tick_horizon"`
	LastBuildTime   *string           `json:"last_build_time"`
	LastBuildMode   *string           `json:"last_build_mode"`
	EntitiesHash    string            `json:"entities_hash"`
	IdentityHash    string            `json:"identity_hash"`
	SourceHashes    map[string]string `json:"source_hashes"`
	NeededMode      string            `json:"needed_mode"`
	NeededReasons   []string          `json:"needed_reasons"`
}

// HintsResult lists the identity values that resolve to an entity.
type HintsResult struct {
	EntityID   string              `json:"entity_id"`
	EntityType string              `json:"entity_type"`
	Hints      map[string][]string `json:"hints"`
}

// LedgerEvent is one live ledger event.
type LedgerEvent struct {
	Sequence  int64          `json:"sequence"`
	EventID   string         `json:"event_id"`
	Source    string         `json:"source"`
	EventType string         `json:"event_type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}
