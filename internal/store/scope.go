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
