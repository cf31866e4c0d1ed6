package store

import "context"

// Scope says what a write transaction may change, so a backend whose
// writers can run in parallel takes only the locks that protect that
// (scale.md §2). Backends with one writer at a time (SQLite) have no use
// for it and do not implement ScopedBeginner.
type Scope int

const (
	// ScopeAll may change anything: ledger, identity, definitions and
	// every shard's working state and history. It excludes every other
	// writer of the namespace; Store.Begin starts one.
	ScopeAll Scope = iota
	// ScopeAppend appends ledger rows and updates the ledger-sources meta
	// record (ingest without processing). It excludes other appenders
	// only.
	ScopeAppend
	// ScopeIdentity runs the identity stage over already appended rows:
	// identity, entity_ids, event_entities, merge_log and the identity
	// cursor. It excludes other identity writers only.
	ScopeIdentity
	// ScopeShard interprets for the Store's own shard in one version
	// store: working state, history, relationships, failures, pending
	// relations, merged_ids and the shard's build_state row. It reads the
	// ledger and identity but must not write namespace tables. It excludes
	// the same shard's interpreters and ScopeAll transactions, not other
	// shards, appenders or the identity stage.
	ScopeShard
)

// ScopedBeginner is implemented by backends that can run writers of
// different scopes in parallel. version names the version store a
// ScopeShard transaction writes; other scopes ignore it.
type ScopedBeginner interface {
	BeginScope(ctx context.Context, scope Scope, version string) (Tx, error)
}

// PipelinedCommitter is implemented by transactions that can commit their
// namespace tables and leave the version store's commit running behind the
// caller's next transaction (SQLite, whose two kinds of file have writer
// connections of their own). A failure of that commit is returned by the
// next transaction that uses the version store or by Settler.Settle, which
// the caller must call before it reports its work done. Until then readers
// may see the namespace tables one transaction ahead of the version store,
// and a crash leaves the store one transaction behind, which BuildState
// reports as the build record from before that transaction (the store's
// work is redone by the next build).
type PipelinedCommitter interface {
	CommitPipelined() error
}

// Settler is implemented by stores whose transactions are
// PipelinedCommitters: Settle waits for the version-store commit left
// running and returns its error.
type Settler interface {
	Settle(ctx context.Context) error
}
