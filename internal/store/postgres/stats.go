package postgres

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Planner statistics.
//
// A namespace's tables start empty and grow by orders of magnitude in their
// first minutes, while PostgreSQL has no statistics for them until an
// ANALYZE: autovacuum runs one only after its naptime (1 min by default),
// and not at all where it is switched off. Without statistics the planner
// estimates "col IS NULL" at 0.5% of the rows, so the partial indexes that
// define live ledger rows (duplicate_of IS NULL AND normalize_error IS NULL)
// and current belief (superseded_at IS NULL) look nearly empty. It then
// drives every join from a full scan of such an index: reading one entity's
// events scanned the whole live ledger (measured: 40–180 ms per call at 20k
// events, instead of 0.1 ms), and key lookups by = ANY($1) became seq scans.
//
// So a Store analyzes the namespace's tables itself, the way autovacuum
// would but sooner: when a write transaction begins, at most once per
// statsCheckInterval, every table of the namespace and of its version
// stores whose rows changed since its last ANALYZE by at least
// statsMinRows and statsGrowth × its row count is analyzed. Tables
// therefore get statistics once they hold a few hundred rows and again each
// time they have grown about fourfold, which bounds the total work to a
// small multiple of one ANALYZE of the final size. The check and the
// ANALYZE run in the background on a writer-pool session of their own: the
// writer does not wait for them (they had been 7% of an ingest's wall
// time), and the server does the work while the client prepares the next
// statements. Columns of type json or jsonb (event payloads, working state)
// are left out: no engine query filters on them, and they are most of the
// cost of an ANALYZE. SKIP_LOCKED leaves a table that another session is
// analyzing or vacuuming to that session.

const (
	statsCheckInterval = time.Second
	statsListInterval  = time.Minute
	statsMinRows       = 200
	statsGrowth        = 3.0
)

// statsKeeper rate-limits the statistics check of one Store and remembers
// the namespace's tables between checks.
type statsKeeper struct {
	mu     sync.Mutex
	next   time.Time
	listed time.Time
	relist atomic.Bool // a version store was created since the last listing
	oids   []uint32
	names  []string // per oid: "schema"."table" (columns to analyze)
}

// listTablesSQL lists the tables of the namespace ($1) and of the version
// stores registered in versions, each with its oid and the ANALYZE target
// "schema"."table" (columns). It reads pg_class in full, which on a server
// with a lot of DDL churn and no autovacuum took 15 ms, so the list is kept
// for statsListInterval, or until this Store creates a version store.
func listTablesSQL(versions string) string {
	return `SELECT c.oid, format('%I.%I (%s)', n.nspname, c.relname,
		(SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
		 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid NOT IN ('jsonb'::regtype, 'json'::regtype)))
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind = 'r' AND (n.nspname = $1 OR n.nspname IN (SELECT $1 || '_' || version FROM ` + versions + `))`
}

// staleTablesSQL picks, among the oids $1, the tables whose modifications
// since the last ANALYZE reach max($2, $3 × reltuples); reltuples is -1 for
// a table never analyzed. It returns their indexes in $1 (1-based).
const staleTablesSQL = `SELECT u.i FROM unnest($1::oid[]) WITH ORDINALITY AS u(oid, i)
	JOIN pg_class c ON c.oid = u.oid
	WHERE pg_stat_get_mod_since_analyze(u.oid) >= greatest($2, c.reltuples * $3)`

// maintainStats starts an analysis of the stale tables of the namespace
// in the background when the last check is older than statsCheckInterval
// and none is running. It never fails the caller: statistics only steer
// plans, so an error is logged and the next check retries. Close cancels
// a running one and waits for it to end.
func (s *Store) maintainStats() {
	k := &s.stats
	if !k.mu.TryLock() {
		return // a check of this Store is running
	}
	now := time.Now()
	if now.Before(k.next) || s.bgCtx.Err() != nil {
		k.mu.Unlock()
		return
	}
	k.next = now.Add(statsCheckInterval)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer k.mu.Unlock()
		if err := s.analyzeStale(s.bgCtx, now); err != nil && s.bgCtx.Err() == nil {
			s.log.Warn("refreshing planner statistics failed", "error", err)
		}
	}()
}

func (s *Store) analyzeStale(ctx context.Context, now time.Time) error {
	k := &s.stats
	if k.relist.Swap(false) || len(k.oids) == 0 || now.Sub(k.listed) > statsListInterval {
		rows, err := s.w.Query(ctx, listTablesSQL(s.n.versions), s.ns)
		if err != nil {
			return err
		}
		k.oids, k.names = k.oids[:0], k.names[:0]
		var (
			oid  uint32
			name string
		)
		if _, err := pgx.ForEachRow(rows, []any{&oid, &name}, func() error {
			k.oids, k.names = append(k.oids, oid), append(k.names, name)
			return nil
		}); err != nil {
			return err
		}
		k.listed = now
	}
	rows, err := s.w.Query(ctx, staleTablesSQL, k.oids, statsMinRows, statsGrowth)
	if err != nil {
		return err
	}
	idx, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(idx) == 0 {
		return err
	}
	tables := make([]string, len(idx))
	for i, j := range idx {
		tables[i] = k.names[j-1]
	}
	_, err = s.w.Exec(ctx, `ANALYZE (SKIP_LOCKED) `+strings.Join(tables, ", "))
	return err
}
