package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/defacto-dev/defacto/internal/store"
)

// tx implements store.Tx on one pgx.Tx. It is used by one goroutine at a
// time, like the engine's batch it serves.
type tx struct {
	s        *Store
	tx       *pipe // pipelines writes nobody waits for (pipeline.go)
	n        *names
	readOnly bool
	done     bool
	newStore bool  // EnsureVersionStore ran: relist tables for statistics at commit
	epoch    int64 // write epoch taken at BEGIN (write transactions)
}

var _ store.Tx = (*tx)(nil)

func newTx(s *Store, t pgx.Tx, readOnly bool) *tx {
	return &tx{s: s, tx: &pipe{tx: t}, n: &s.n, readOnly: readOnly}
}

// Commit commits. It is not bound to the context of the calls made in the
// transaction, so a cancelled batch context cannot leave it half done.
func (t *tx) Commit() error {
	if t.done {
		return fmt.Errorf("postgres: commit: %w", pgx.ErrTxClosed)
	}
	t.done = true
	if err := t.tx.Commit(context.Background()); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	if t.newStore {
		t.s.stats.relist.Store(true)
	}
	return nil
}

// Rollback rolls back; after Commit or Rollback it is a no-op returning nil,
// so callers can always defer it.
func (t *tx) Rollback() error {
	if t.done {
		return nil
	}
	t.done = true
	if err := t.tx.Rollback(context.Background()); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres: rollback: %w", err)
	}
	return nil
}

func (t *tx) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.readOnly {
		return pgconn.CommandTag{}, errReadOnly
	}
	return t.tx.Exec(ctx, sql, args...)
}

// later queues a write whose result nobody needs before the next statement
// that returns one (pipeline.go); what names it in errors.
func (t *tx) later(what, sql string, args ...any) error {
	if t.readOnly {
		return errReadOnly
	}
	t.tx.later(what, sql, args...)
	return nil
}

// copyRows is the least number of rows a bulk insert writes with COPY.
// COPY costs two round trips of its own (the column types, then the data)
// and first sends the statements held back, where an INSERT … FROM unnest
// travels with the next statement; but the server stores a ledger chunk's
// rows (wide, with jsonb) with COPY in half the INSERT's time, and history
// rows in a third. For the narrow rows of links the two cost the same, and
// the round trips decide (bench/README, eighth session).
const copyRows = 64

// copyIn writes n rows into schema.table (both unquoted): with COPY when
// n >= copyRows, after the statements held back, which must run first, and
// reporting COPY's error at once; otherwise with insert (an INSERT … FROM
// unnest of args) held back like any write.
func (t *tx) copyIn(ctx context.Context, what, schema, table string, cols []string, n int, row func(i int) ([]any, error),
	insert string, args ...any) error {
	if t.readOnly {
		return errReadOnly
	}
	if n < copyRows {
		t.tx.later(what, insert, args...)
		return nil
	}
	if err := t.tx.flush(ctx); err != nil {
		return err
	}
	_, err := t.tx.tx.CopyFrom(ctx, pgx.Identifier{schema, table}, cols, pgx.CopyFromSlice(n, row))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (t *tx) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.tx.Query(ctx, sql, args...)
}

func (t *tx) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.tx.QueryRow(ctx, sql, args...)
}

// writable fails in a read transaction, before any SQL is sent.
func (t *tx) writable() error {
	if t.readOnly {
		return errReadOnly
	}
	return nil
}

// shardCond restricts col (a shard_hash column) to this Store's shard; it
// is empty for an unsharded Store. Both numbers are validated integers.
func (t *tx) shardCond(col string) string {
	if t.s.opts.TotalShards <= 1 {
		return ""
	}
	return fmt.Sprintf(" AND %s %% %d = %d", col, t.s.opts.TotalShards, t.s.opts.ShardID)
}

// vschema returns the quoted schema of version v's store.
func (t *tx) vschema(v string) (string, error) {
	if !versionRule.MatchString(v) {
		return "", fmt.Errorf("invalid version name %q (want %s)", v, versionRule)
	}
	return t.s.versionSchema(v), nil
}

// uniq returns xs without duplicates, keeping first occurrences.
func uniq[T comparable](xs []T) []T {
	seen := make(map[T]bool, len(xs))
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Conversions between the store's sentinel conventions and SQL NULL.
// Instants cross the boundary as int64 µs and are bound as time.Time.

func ts(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullTS(us int64) *time.Time {
	if us == store.NoTime {
		return nil
	}
	t := ts(us)
	return &t
}

func usOf(t pgtype.Timestamptz) int64 {
	if !t.Valid {
		return store.NoTime
	}
	return t.Time.UnixMicro()
}

func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullInt(i int64) *int64 {
	if i == 0 {
		return nil
	}
	return &i
}

// jsonText binds JSON bytes as text for a ::jsonb cast; nil binds NULL.
func jsonText(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// jsonData is jsonText for NOT NULL columns: nil binds JSON null.
func jsonData(b []byte) string {
	if b == nil {
		return "null"
	}
	return string(b)
}
