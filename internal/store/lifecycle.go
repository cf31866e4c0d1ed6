package store

import (
	"context"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// RelRow is one row of rel_<t>_history_all.
type RelRow struct {
	SourceID   string
	TargetID   string
	Props      []value.Value // by relationship property index
	ValidFrom  int64
	ValidTo    int64 // NoTime when open
	EventSeq   int64 // 0 when null
	RecordedAt int64
}

// RelKey identifies one current-belief relationship row of a source.
type RelKey struct {
	TargetID  string
	ValidFrom int64
}

// RelWrite is one source entity's change to one relationship type's current
// belief; the backend executes it verbatim, like HistoryWrite.
type RelWrite struct {
	SourceID  string
	Close     map[RelKey]int64 // set valid_to in place
	Supersede []RelKey
	Insert    []RelRow
	Now       int64
}

// PendingRelation is a relate whose target keys were all unknown
// (identity.md §8).
type PendingRelation struct {
	SourceID  string
	Type      string
	EventSeq  int64
	KeyHashes []string
}

// Erasure is the PII-free record of one erasure (privacy.md §3).
type Erasure struct {
	ID                  int64
	RequestedEntityID   string
	EntityType          string
	ErasedIDs           []string
	EventsDeleted       int64
	EventsScrubbed      int64
	IdentityKeysDeleted int64
	HistoryRowsDeleted  int64
	EntitiesRecomputed  int64
	ErasedAt            int64
}

// LifecycleTx holds the operations of relationships, failure tracking,
// erasure and redaction. Every backend's Tx implements it.
type LifecycleTx interface {
	// --- relationships (version store) ---

	// OpenRelRows returns the open current-belief rows of relationship rel
	// whose source is one of ids.
	OpenRelRows(ctx context.Context, version string, rel *definition.Relationship, ids []string) (map[string][]RelRow, error)
	// CurrentRelRows returns every current-belief row of rel whose source is
	// id, by (target, valid_from).
	CurrentRelRows(ctx context.Context, version string, rel *definition.Relationship, id string) ([]RelRow, error)
	WriteRelationships(ctx context.Context, version string, rel *definition.Relationship, w *RelWrite) error
	// AddPending stores pending relations.
	AddPending(ctx context.Context, version string, p []PendingRelation) error
	// ClearPending deletes every pending relation of sourceID.
	ClearPending(ctx context.Context, version, sourceID string) error
	// ClearPendingOf is ClearPending for several sources at once.
	ClearPendingOf(ctx context.Context, version string, ids []string) error
	// PendingSources returns the sources of pending relations waiting for
	// one of hashes.
	PendingSources(ctx context.Context, version string, hashes []string) ([]string, error)
	// ResolvedAt returns the resolved_entity_id of the link of event seq to
	// entityType ("" when there is none).
	ResolvedAt(ctx context.Context, seq int64, entityType string) (string, error)
	// KeysCreatedInRange returns the identity key hashes created by events
	// with lo < sequence <= hi.
	KeysCreatedInRange(ctx context.Context, lo, hi int64) ([]string, error)

	// --- interpretation failures (version store) ---

	// SetFailures records the sequences whose interpretation failed for an
	// entity; replace drops the entity's earlier ones first (a recompute).
	SetFailures(ctx context.Context, version, entityID string, seqs []int64, replace bool) error
	// ClearFailuresOf deletes the recorded failed events of ids (what
	// SetFailures with replace does first, for several entities at once).
	ClearFailuresOf(ctx context.Context, version string, ids []string) error
	// CountFailedEvents counts distinct failed sequences.
	CountFailedEvents(ctx context.Context, version string) (int64, error)

	// --- erasure and redaction ---

	// LinksOf returns, for every ledger row linked (by entity_id or
	// resolved_entity_id) to one of ids, all of that row's links. The
	// links' invariant of ResolvedEvents applies.
	LinksOf(ctx context.Context, ids []string) (map[int64][]Link, error)
	// DeleteEvents deletes ledger rows and their links and lists their
	// event ids as erased by erasureID.
	DeleteEvents(ctx context.Context, seqs []int64, erasureID int64) error
	// UpdatePayload rewrites data, data_types, raw and hints of a row and
	// marks it redacted.
	UpdatePayload(ctx context.Context, row LedgerRow) error
	// DeleteLinks deletes the links of rows seqs to the given entity ids.
	DeleteLinks(ctx context.Context, seqs []int64, ids []string) error
	// DeleteIdentity deletes identity rows, entity_ids rows and merge-log
	// rows touching ids; it returns the number of identity keys and merge
	// rows deleted.
	DeleteIdentity(ctx context.Context, ids []string) (keys, merges int64, err error)
	// DeleteEntity deletes every history row of id (superseded included),
	// every relationship row where it is source or target, its merged_ids
	// row, working state, pending relations and failures, in one version
	// store; it returns the number of history and relationship rows deleted.
	DeleteEntity(ctx context.Context, version string, ent *definition.Entity, id string) (int64, error)
	// PurgeHistory deletes every history row (superseded included) and
	// outgoing relationship row of id, so a recompute can insert anew.
	PurgeHistory(ctx context.Context, version string, ent *definition.Entity, id string) error
	// InsertErasure stores an erasure record and returns its id.
	InsertErasure(ctx context.Context, e *Erasure) (int64, error)
	// UpdateErasure rewrites the counts of a stored erasure record.
	UpdateErasure(ctx context.Context, e *Erasure) error
	// ErasureOf returns the latest erasure that listed id, or nil.
	ErasureOf(ctx context.Context, id string) (*Erasure, error)
	// VersionNames lists every registered version (for per-store work).
	VersionNames(ctx context.Context) ([]string, error)
}
