// Package store defines the storage contract of the engine: one interface,
// implemented once per backend (SQLite in store/sqlite, PostgreSQL next).
//
// The engine owns the pipeline logic; a backend owns SQL, types, locking and
// migrations. Every method that touches the database takes a context and runs
// inside a Tx, so a batch's ledger rows, links, merges, cursors, working
// state and history commit together or not at all.
package store

import (
	"context"
	"database/sql"
	"errors"
	"math"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// NoTime marks a null instant in int64 µs fields.
const NoTime int64 = math.MinInt64

// ErrForeign is returned by Open when the file is not a defacto database
// (corrupt, foreign, or made by a newer format).
var ErrForeign = errors.New("not a defacto database")

// Store is one namespace in one database.
type Store interface {
	// Begin starts a write transaction (SQLite: BEGIN IMMEDIATE).
	Begin(ctx context.Context) (Tx, error)
	// Read runs f in a read-only transaction.
	Read(ctx context.Context, f func(Tx) error) error
	// Query runs a read-only SQL query produced by the query compiler
	// against the store of version (attached/searched first).
	Query(ctx context.Context, version string, query string, args ...any) (*sql.Rows, error)
	// Dialect describes the SQL flavour for the query compiler.
	Dialect() Dialect
	// AfterErase makes deleted bytes unrecoverable where the backend can
	// (SQLite: WAL checkpoint TRUNCATE on every file).
	AfterErase(ctx context.Context) error
	Close() error
}

// Dialect is what the query compiler needs to know about a backend.
type Dialect interface {
	// Placeholder returns the n-th (1-based) bind parameter.
	Placeholder(n int) string
	// Quote quotes an identifier.
	Quote(name string) string
	// InstantsAsMicros reports whether instants are stored as integer µs
	// (SQLite) rather than native timestamps (Postgres).
	InstantsAsMicros() bool
	// Table qualifies a store table or view name for version.
	Table(version, name string) string
}

// Tx is one transaction. Methods are grouped by pipeline stage.
//
// A write method may report its failure (a constraint violation, say) at a
// later call of the same transaction instead, at the latest at Commit: the
// PostgreSQL backend sends writes whose result nobody waits for together
// with the next statement. Callers roll back after any error.
type Tx interface {
	LifecycleTx

	Commit() error
	Rollback() error

	// Undisturbed reports whether it is certain that no other connection
	// committed to the namespace or to version's store since the previous
	// Undisturbed call of a write transaction of this Store. The first call,
	// and a backend that cannot tell, report false. Callers use it to keep
	// data they wrote in memory between transactions.
	Undisturbed(ctx context.Context, version string) (bool, error)

	// --- namespace metadata ---

	// Meta returns a meta value; ok=false when the key is absent.
	Meta(ctx context.Context, key string) (string, bool, error)
	SetMeta(ctx context.Context, key, val string) error

	// --- definition versions and build state ---

	Versions(ctx context.Context) ([]VersionRecord, error)
	Version(ctx context.Context, name string) (*VersionRecord, error) // nil when unknown
	PutVersion(ctx context.Context, v *VersionRecord) error
	SetActive(ctx context.Context, name string) error
	// EnsureVersionStore creates (or migrates) the version store of name:
	// history tables and views for every entity and relationship type,
	// merged_ids, entity_state, pending_relations.
	EnsureVersionStore(ctx context.Context, name string, set *definition.Set) error
	BuildState(ctx context.Context, version string, shard int) (*BuildState, error) // nil when none
	PutBuildState(ctx context.Context, b *BuildState) error

	// --- ledger ---

	// KnownEventIDs returns which of ids are live ledger rows and which
	// were erased: the two questions every ingest chunk asks before it
	// appends, in one call (one round trip on PostgreSQL).
	KnownEventIDs(ctx context.Context, ids []string) (live, erased map[string]bool, err error)
	// Append inserts rows in order and sets their Seq.
	Append(ctx context.Context, rows []LedgerRow) error
	LedgerHead(ctx context.Context) (int64, error)
	// CountLive counts live events; source "" means every source but
	// "_defacto" unless all is set.
	CountLive(ctx context.Context, source string, all bool) (int64, error)
	// Events returns live rows by sequence, ascending.
	Events(ctx context.Context, seqs []int64) ([]LedgerRow, error)
	// EventsAfter returns up to limit live rows with sequence > after,
	// ascending, without DataTypes and Raw, and without Data except on
	// rows of source "_defacto": it serves the identity stage, which reads
	// hints, and the data of merge directives.
	EventsAfter(ctx context.Context, after int64, limit int) ([]LedgerRow, error)
	// EntityEvents returns the live rows linked to entityID with sequence
	// <= maxSeq, ordered by (timestamp, sequence).
	EntityEvents(ctx context.Context, entityID string, maxSeq int64) ([]LedgerRow, error)
	// ResolvedEvents returns live rows whose link's resolved_entity_id is one
	// of ids, with sequence < beforeSeq, ordered by (timestamp, sequence).
	// Callers keep the links' invariant: a link's entity_id is its
	// resolved_entity_id or on that entity's merged_into chain (entity_ids),
	// as merges leave it; a backend may find the links through it.
	ResolvedEvents(ctx context.Context, ids []string, beforeSeq int64) ([]LedgerRow, error)
	// EventsOfEntities is EntityEvents for several entities at once: per id,
	// the live rows linked to it with sequence <= maxSeq, ordered by
	// (timestamp, sequence), reserved types included, without Raw and Hints
	// (interpretation reads neither). Ids without rows are absent; a row
	// linked to several of ids appears under each.
	//
	// EventsOfEntities, CurrentRowsOf and CurrentRelRowsOf serve batched
	// recomputes. consecutive says ids are a run of consecutive entity ids
	// (a slice of AllEntities, as a full rebuild passes): a backend may then
	// read every entity between the least and the greatest of ids and drop
	// the others (SQLite does), where scattered ids (the late arrivals of a
	// chunk) are better found one index seek each.
	EventsOfEntities(ctx context.Context, ids []string, consecutive bool, maxSeq int64) (map[string][]LedgerRow, error)

	// --- identity ---

	// LookupKeys maps each known key hash to its identity row.
	LookupKeys(ctx context.Context, hashes []string) (map[string]KeyRecord, error)
	InsertKeys(ctx context.Context, keys []KeyRecord) error
	EntityKeys(ctx context.Context, entityID string) ([]KeyRecord, error) // creation order
	Entities(ctx context.Context, ids []string) (map[string]EntityRecord, error)
	InsertEntities(ctx context.Context, es []EntityRecord) error // an empty Status means active
	InsertLinks(ctx context.Context, links []Link) error
	// CountLinks counts the links whose entity_id is id.
	CountLinks(ctx context.Context, id string) (int64, error)
	// LinksInRange returns links with lo < sequence <= hi, ascending, for
	// entities whose shard matches (total 1: all).
	LinksInRange(ctx context.Context, lo, hi int64) ([]Link, error)
	// ApplyMerge executes identity.md §5 for loser into winner: keys and
	// links repointed, loser marked merged, winner birth lowered, merge log
	// row inserted.
	ApplyMerge(ctx context.Context, m MergeRecord, winnerShard uint32) error
	// MergesInRange returns merge-log rows with lo < merge_seq <= hi.
	MergesInRange(ctx context.Context, lo, hi int64) ([]MergeRecord, error)
	// MergeComponent returns the merge-log rows connected to id.
	MergeComponent(ctx context.Context, id string) ([]MergeRecord, error)

	// --- version store: working state and history ---

	States(ctx context.Context, version string, ids []string) (map[string]StateRecord, error)
	PutStates(ctx context.Context, version string, states []StateRecord) error
	// OpenRows returns the current-belief open row of each id.
	OpenRows(ctx context.Context, version string, ent *definition.Entity, ids []string) (map[string]HistoryRow, error)
	// CurrentRows returns every current-belief row of id, by valid_from.
	CurrentRows(ctx context.Context, version string, ent *definition.Entity, id string) ([]HistoryRow, error)
	// CurrentRowsOf is CurrentRows for several ids at once: per id, every
	// current-belief row by valid_from; ids without rows are absent.
	CurrentRowsOf(ctx context.Context, version string, ent *definition.Entity, ids []string, consecutive bool) (map[string][]HistoryRow, error)
	// CurrentRelRowsOf is CurrentRelRows for several sources at once: per
	// source id, every current-belief row of rel by (target, valid_from);
	// sources without rows are absent.
	CurrentRelRowsOf(ctx context.Context, version string, rel *definition.Relationship, ids []string, consecutive bool) (map[string][]RelRow, error)
	// WriteHistory applies one entity's planned changes (history.md §4).
	WriteHistory(ctx context.Context, version string, ent *definition.Entity, w *HistoryWrite) error
	// WriteHistories applies several entities' plans at once (one entity
	// at most once); backends batch the statements.
	WriteHistories(ctx context.Context, version string, ent *definition.Entity, ws []*HistoryWrite) error
	// InsertMergedID records a closed loser and repoints canonical_id of
	// rows whose canonical id was the loser (history.md §4).
	InsertMergedID(ctx context.Context, version string, m MergedID) error

	// --- builds (builds.md) ---

	// AllEntities returns every entity_ids row, ascending by id.
	AllEntities(ctx context.Context) ([]EntityRecord, error)
	// StoredEntities returns the ids present in the version store's
	// working state or current-belief history, with their entity type:
	// the entities a full rebuild retires when the ledger no longer
	// produces them (superseded rows are retired already).
	StoredEntities(ctx context.Context, version string) (map[string]string, error)
	// RetireEntity supersedes every current-belief row of id at now and
	// deletes its working state and merged_ids row.
	RetireEntity(ctx context.Context, version string, ent *definition.Entity, id string, now int64) (int, error)
	// PendingCounts returns the live events above identityCursor
	// (unresolved) and the linked events in (cursor, identityCursor].
	PendingCounts(ctx context.Context, cursor, identityCursor int64) (unresolved, resolved int64, err error)
	// LedgerStats counts live and duplicate ledger rows.
	LedgerStats(ctx context.Context) (live, duplicates int64, err error)
	// LedgerSources lists the sources that have ledger rows.
	LedgerSources(ctx context.Context) ([]string, error)
	// ResetIdentity deletes every row of identity, entity_ids,
	// event_entities and merge_log (identity.md §7).
	ResetIdentity(ctx context.Context) error
	// UpdateNormalized rewrites the normalized columns of one ledger row
	// (event_id, event_type, timestamp, data, data_types, hints,
	// duplicate_of, normalize_error) during re-normalization.
	UpdateNormalized(ctx context.Context, row LedgerRow) error
	// DueStates returns up to limit working states of active entities with
	// next_deadline <= asOf and (next_deadline, entity_id) > after,
	// ascending by (next_deadline, entity_id), using the deadline index.
	// DueKey{Deadline: NoTime} starts at the first due entity; the key of the
	// last record returned continues after it, so entities that stay due
	// are not read again.
	DueStates(ctx context.Context, version string, asOf int64, after DueKey, limit int) ([]StateRecord, error)
	// AllEvents returns up to limit ledger rows (live or not) with
	// sequence > after, ascending.
	AllEvents(ctx context.Context, after int64, limit int) ([]LedgerRow, error)
}

// VersionRecord is one stored definition version.
type VersionRecord struct {
	Name         string
	Definitions  []byte // canonical JSON
	ContentHash  string
	EntitiesHash string
	IdentityHash string
	SourceHashes map[string]string
	Active       bool
	CreatedAt    int64
}

// BuildState is the per version and shard build record (builds.md §1).
type BuildState struct {
	Version            string
	ShardID            int
	TotalShards        int
	Cursor             int64
	Dirty              bool
	Built              bool
	EntitiesHash       string
	IdentityEpoch      int64
	NormalizationEpoch int64
	TickHorizon        int64 // NoTime when unset
	LastBuildTime      int64 // NoTime when never
	LastBuildMode      string
	// TickPending is set while an incremental build has moved the cursor
	// but not yet finished its closing tick, so a build after a crash there
	// runs that tick even when nothing else is pending.
	TickPending bool
}

// LedgerRow is one ledger row (ingestion.md §8).
type LedgerRow struct {
	Seq            int64
	EventID        string
	Source         string
	EventType      string
	Time           int64 // µs
	Data           []byte
	DataTypes      []byte // nil when no tags
	Raw            []byte
	Hints          []byte // JSON {entity_type: {field: {"k": hash, "v": value}}}
	DuplicateOf    int64  // 0 when null
	NormalizeError string // "" when null
	Redacted       bool
	IngestedAt     int64
}

// KeyRecord is one identity row.
type KeyRecord struct {
	Hash       string
	EntityType string
	Field      string
	EntityID   string
	Value      string // "" with HasValue false for sensitive fields
	HasValue   bool
	CreatedSeq int64
}

// Entity statuses.
const (
	StatusActive = "active"
	StatusMerged = "merged"
)

// EntityRecord is one entity_ids row.
type EntityRecord struct {
	ID         string
	Type       string
	BirthSeq   int64
	Status     string
	MergedInto string
	ShardHash  uint32
}

// Link ties an event to one entity per type.
type Link struct {
	Seq        int64
	EntityType string
	EntityID   string
	ResolvedID string
	ShardHash  uint32
}

// Merge kinds.
const (
	MergeAuto     = "auto"
	MergeExplicit = "explicit"
)

// MergeRecord is one merge-log row.
type MergeRecord struct {
	From, Into, EntityType string
	Kind, Reason           string
	MergeSeq               int64
	MergedAt, RecordedAt   int64
}

// StateRecord is one entity_state row; Data is the engine's serialized
// working state.
type StateRecord struct {
	EntityID     string
	EntityType   string
	ShardHash    uint32
	Status       string
	Data         []byte
	NextDeadline int64 // NoTime when none
}

// DueKey is a position in the deadline index: entity ids compare as bytes.
type DueKey struct {
	Deadline int64 // NoTime: before every deadline
	EntityID string
}

// HistoryRow is one row of <e>_history_all.
type HistoryRow struct {
	EntityID         string
	State            string
	Props            []value.Value // by property index
	ValidFrom        int64
	ValidTo          int64 // NoTime when open
	MergedInto       string
	LastEventTime    int64 // NoTime when null
	StateEnteredTime int64
	CreatedTime      int64
	EventSeq         int64 // 0 when null
	RecordedAt       int64
}

// HistoryWrite is one entity's change to current belief, computed by the
// engine; the backend executes it verbatim.
type HistoryWrite struct {
	EntityID string
	// Close sets valid_to in place on current-belief rows, by valid_from.
	Close map[int64]int64
	// Supersede marks current-belief rows (by valid_from) superseded at Now.
	Supersede []int64
	// Insert adds rows with recorded_at = Now.
	Insert []HistoryRow
	Now    int64
}

// MergedID is one merged_ids row.
type MergedID struct {
	EntityID, EntityType, MergedInto, CanonicalID string
	MergedAt                                      int64
}
