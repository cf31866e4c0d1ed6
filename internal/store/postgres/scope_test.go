package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/store/postgres"
	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
)

// Write scopes exclude exactly the writers they conflict with (scale.md
// §2): interpreters of different shards run side by side, as do appends and
// the identity stage beside them; the same shard, the same stage and a
// ScopeAll transaction wait.
func TestWriteScopesExcludeOnlyConflictingWriters(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	s0 := open(t, url, ns, postgres.Options{ShardID: 0, TotalShards: 2})
	s1 := open(t, url, ns, postgres.Options{ShardID: 1, TotalShards: 2})
	other0 := open(t, url, ns, postgres.Options{ShardID: 0, TotalShards: 2})

	// begins reports whether a transaction of scope began within wait; one
	// that began is rolled back at the end of the test.
	begins := func(s *postgres.Store, scope store.Scope, version string, wait time.Duration) bool {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		defer cancel()
		tx, err := s.BeginScope(ctx, scope, version)
		if err != nil {
			return false
		}
		t.Cleanup(func() { tx.Rollback() })
		return true
	}
	const (
		soon    = 5 * time.Second // generous: a loaded server is slow, not blocked
		blocked = 300 * time.Millisecond
	)
	if !begins(s0, store.ScopeShard, "v1", soon) {
		t.Fatal("shard 0 could not begin")
	}
	if !begins(s1, store.ScopeShard, "v1", soon) {
		t.Error("shard 1 waited for shard 0")
	}
	if !begins(other0, store.ScopeShard, "v2", soon) {
		t.Error("shard 0 of another version waited for shard 0 of v1")
	}
	if begins(other0, store.ScopeShard, "v1", blocked) {
		t.Error("a second interpreter of shard 0 began beside the first")
	}
	if !begins(s1, store.ScopeAppend, "", soon) {
		t.Error("an append waited for the interpreters")
	}
	if !begins(s1, store.ScopeIdentity, "", soon) {
		t.Error("the identity stage waited for the interpreters")
	}
	if begins(s0, store.ScopeIdentity, "", blocked) {
		t.Error("a second identity stage began beside the first")
	}
	if begins(s0, store.ScopeAppend, "", blocked) {
		t.Error("a second append began beside the first")
	}
	ctx, cancel := context.WithTimeout(t.Context(), blocked)
	defer cancel()
	if tx, err := other0.Begin(ctx); err == nil {
		tx.Rollback()
		t.Error("a ScopeAll transaction began beside the interpreters")
	}
	if _, err := s0.BeginScope(t.Context(), store.ScopeShard, "not a version!"); err == nil {
		t.Error("BeginScope accepted an invalid version name")
	}
}

// A ScopeAll transaction keeps interpreters out until it ends.
func TestScopeAllExcludesInterpreters(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	a := open(t, url, ns, postgres.Options{})
	b := open(t, url, ns, postgres.Options{})
	tx, err := a.Begin(t.Context())
	must(t, err)
	defer tx.Rollback()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if tx2, err := b.BeginScope(ctx, store.ScopeShard, "v1"); err == nil {
		tx2.Rollback()
		t.Error("an interpreter began beside a ScopeAll transaction")
	}
	must(t, tx.Rollback())
	tx3, err := b.BeginScope(t.Context(), store.ScopeShard, "v1")
	must(t, err)
	must(t, tx3.Rollback())
}
