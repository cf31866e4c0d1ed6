package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/defacto-dev/defacto/internal/store"
)

// tx implements store.Tx on one *sql.Tx. It is used by one goroutine at a
// time, like the engine's batch it serves.
//
// A write transaction spans two connections (package comment): tx runs on
// the writer and holds the main file, and side, begun on first use, runs on
// the store writer and holds the version stores. Methods that touch a
// version store switch to the side with on; a read transaction has one
// connection with everything attached and is its own side.
type tx struct {
	s        *Store
	tx       *sql.Tx
	readOnly bool
	done     bool

	side   *tx        // version-store side of a write transaction; nil until used
	isSide bool       // this is the side
	sd     *sideState // the side's queue and written versions (side.go)

	// undo holds the build records as they were before this transaction
	// wrote them (nil: no record), by version and shard (side.go).
	undo map[string]map[int]*store.BuildState

	cache    *stmtCache           // the pool's statements
	stmts    map[string]*sql.Stmt // statements of this transaction, closed with it
	attached map[string]bool      // version stores known to be attached on this connection
}

var _ store.Tx = (*tx)(nil)

func newTx(s *Store, t *sql.Tx, readOnly bool) *tx {
	c := s.wcache
	if readOnly {
		c = s.rcache
	}
	return &tx{s: s, tx: t, readOnly: readOnly, cache: c}
}

// Commit commits: the main file first, then the version stores, once the
// writes queued on them have run. A transaction that wrote version stores
// first writes their commit marks (see the package comment), so a failure
// or crash between the two commits is detected. A transaction that used a
// version store began after the store commit an earlier CommitPipelined
// left running had ended; one that did not may commit before it.
func (t *tx) Commit() error {
	if t.done {
		return fmt.Errorf("sqlite: commit: %w", sql.ErrTxDone)
	}
	side := t.side
	if side == nil {
		// A store commit an earlier CommitPipelined left running goes on:
		// this transaction did not touch the store.
		t.done = true
		if err := t.tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: commit: %w", err)
		}
		return nil
	}
	ctx := context.Background()
	err := side.stop()
	if vs := side.touchedVersions(); err == nil && len(vs) > 0 {
		var mark string
		if mark, err = newMark(); err == nil {
			err = t.dropUndo(ctx, vs)
		}
		if err == nil {
			err = t.writeMainMarks(ctx, vs, mark)
		}
		if err == nil {
			err = side.writeStoreMarks(ctx, vs, mark)
		}
	}
	if err != nil {
		_ = t.Rollback()
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	t.done, side.done = true, true
	if err := t.tx.Commit(); err != nil {
		_ = side.tx.Rollback()
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	if err := side.tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit version stores: %w", err)
	}
	return nil
}

// Rollback rolls back both sides, after the side's queued writes have run;
// after Commit or Rollback it is a no-op returning nil, so callers can
// always defer it.
func (t *tx) Rollback() error {
	var errs []error
	if side := t.side; side != nil && !side.done {
		_ = side.stop() // a failed queued write changes nothing here
		side.done = true
		if side.tx != nil {
			if err := side.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
				errs = append(errs, fmt.Errorf("sqlite: rollback version stores: %w", err))
			}
		}
	}
	if !t.done {
		t.done = true
		if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
			errs = append(errs, fmt.Errorf("sqlite: rollback: %w", err))
		}
	}
	return errors.Join(errs...)
}

// stmt returns a prepared statement for query: the store's cached one
// (stmtcache.go) bound to this transaction, or one prepared for it.
func (t *tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if ps := t.cache.get(query); ps != nil {
		st = t.tx.StmtContext(ctx, ps)
	} else {
		var err error
		if st, err = t.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
	}
	if t.stmts == nil {
		t.stmts = make(map[string]*sql.Stmt)
	}
	t.stmts[query] = st
	return st, nil
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		// Surface the prepare error through Scan.
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// schema attaches version store v to this transaction's connection if
// needed and returns its quoted schema name. create allows creating the file
// (EnsureVersionStore only).
func (t *tx) schema(ctx context.Context, v string, create bool) (string, error) {
	if !t.attached[v] {
		if err := t.s.attach(ctx, t.tx, v, create && !t.readOnly); err != nil {
			return "", err
		}
		if t.attached == nil {
			t.attached = make(map[string]bool)
		}
		t.attached[v] = true
	}
	return quote(v), nil
}

// writeTo is schema for writes: it records v for the commit marks.
func (t *tx) writeTo(ctx context.Context, v string) (string, error) {
	sc, err := t.schema(ctx, v, false)
	if err != nil {
		return "", err
	}
	if t.sd != nil {
		t.markTouched(v)
	}
	return sc, nil
}

// markKey is the meta key holding the commit mark of version store v.
func markKey(v string) string { return "store_mark/" + v }

// newMark returns a fresh random commit mark.
func newMark() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// writeMainMarks stores mark in the main file for each version of vs; the
// side stores the same mark in each store (writeStoreMarks), in the same
// transaction.
func (t *tx) writeMainMarks(ctx context.Context, vs []string, mark string) error {
	slices.Sort(vs)
	for _, v := range vs {
		if err := t.setMeta(ctx, markKey(v), mark); err != nil {
			return fmt.Errorf("write commit mark of %s: %w", v, err)
		}
	}
	return nil
}

func (t *tx) writeStoreMarks(ctx context.Context, vs []string, mark string) error {
	for _, v := range vs {
		if _, err := t.schema(ctx, v, false); err != nil {
			return fmt.Errorf("write commit mark of %s: %w", v, err)
		}
		if _, err := t.exec(ctx, `INSERT INTO `+quote(v)+`.store_meta ("key", "value") VALUES ('mark', ?)
			ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"`, mark); err != nil {
			return fmt.Errorf("write commit mark of %s: %w", v, err)
		}
	}
	return nil
}

// torn reports whether the commit marks of version store v disagree, i.e. a
// transaction committed in one file but not the other, or the store file was
// replaced, and returns the store's mark ("" when the store has none).
func (t *tx) torn(ctx context.Context, v string) (storeMark string, torn bool, err error) {
	mainMark, _, err := t.getMeta(ctx, markKey(v))
	if err != nil {
		return "", false, err
	}
	t, err = t.on(ctx, v, false)
	if errors.Is(err, errNoStore) {
		return "", true, nil
	}
	if err != nil {
		return "", false, err
	}
	sc, err := t.schema(ctx, v, false)
	if errors.Is(err, errNoStore) {
		return "", true, nil
	}
	if err != nil {
		return "", false, err
	}
	var exists int
	if err := t.queryRow(ctx, `SELECT count(*) FROM `+sc+`.sqlite_schema WHERE type = 'table' AND name = 'store_meta'`).Scan(&exists); err != nil {
		return "", false, err
	}
	if exists > 0 {
		err := t.queryRow(ctx, `SELECT "value" FROM `+sc+`.store_meta WHERE "key" = 'mark'`).Scan(&storeMark)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", false, err
		}
	}
	return storeMark, mainMark != storeMark, nil
}

// Batch limits. maxParams is SQLite's historic minimum variable limit, valid
// for any build; IN lists use chunks of inChunk values.
const (
	maxParams = 999
	inChunk   = 500
)

// params returns "?, ?, …" with n placeholders.
func params(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// rowParams returns "(?, …), (?, …)" for rows rows of cols placeholders.
func rowParams(rows, cols int) string {
	one := "(" + params(cols) + ")"
	return strings.Repeat(one+", ", rows-1) + one
}

// chunked calls f with consecutive chunks of xs of at most n elements.
func chunked[T any](xs []T, n int, f func([]T) error) error {
	for len(xs) > 0 {
		k := min(n, len(xs))
		if err := f(xs[:k]); err != nil {
			return err
		}
		xs = xs[k:]
	}
	return nil
}

// pow2Chunks is chunked with chunk sizes that are powers of two (the largest
// that fits, then smaller ones), so a multi-row statement built per chunk
// has one of a few texts and its prepared form is reused (stmtcache.go).
func pow2Chunks[T any](xs []T, n int, f func([]T) error) error {
	for len(xs) > 0 {
		k := 1
		for k*2 <= min(n, len(xs)) {
			k *= 2
		}
		if err := f(xs[:k]); err != nil {
			return err
		}
		xs = xs[k:]
	}
	return nil
}

// insertRows writes xs with multi-row statements "head VALUES (…), (…)
// tail", in pow2Chunks within SQLite's parameter limit; row appends the
// ncols values of one element to args.
func insertRows[T any](ctx context.Context, t *tx, head, tail string, ncols int, xs []T, row func(args []any, x T) ([]any, error)) error {
	return pow2Chunks(xs, maxParams/ncols, func(c []T) error {
		args := make([]any, 0, len(c)*ncols)
		for _, x := range c {
			var err error
			if args, err = row(args, x); err != nil {
				return err
			}
		}
		_, err := t.exec(ctx, head+` VALUES `+rowParams(len(c), ncols)+tail, args...)
		return err
	})
}

// inChunks is chunked for IN lists: a chunk is padded to the next power of
// two (capped at n) by repeating its last element, which leaves the IN
// condition unchanged and the statement text one of a few.
func inChunks[T any](xs []T, n int, f func([]T) error) error {
	return chunked(xs, n, func(c []T) error {
		size := 1
		for size < len(c) {
			size *= 2
		}
		size = min(size, n)
		if size == len(c) {
			return f(c)
		}
		p := make([]T, size)
		copy(p, c)
		for i := len(c); i < size; i++ {
			p[i] = c[len(c)-1]
		}
		return f(p)
	})
}

// anys converts xs to bind arguments.
func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
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

// Nullable conversions between the store's sentinel conventions and SQL
// NULL.

func nullTime(us int64) any {
	if us == store.NoTime {
		return nil
	}
	return us
}

func timeOf(n sql.NullInt64) int64 {
	if !n.Valid {
		return store.NoTime
	}
	return n.Int64
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(i int64) any {
	if i == 0 {
		return nil
	}
	return i
}

// jsonText binds JSON bytes to a TEXT column (STRICT rejects BLOBs); nil
// binds NULL.
func jsonText(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func bytesOf(n sql.NullString) []byte {
	if !n.Valid {
		return nil
	}
	return []byte(n.String)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Undisturbed compares PRAGMA data_version of the main file with the value
// the previous call for version saw: SQLite changes a connection's
// data_version exactly when another connection commits to that file. The
// main file stands for the version store too, because every transaction
// that writes a store also writes the store's commit mark into main
// (writeMarks), so the store's own connection is not asked, and a
// transaction that does not touch the store does not wait for the store
// commit a CommitPipelined left running. Only write transactions ask (they
// hold the main file's write lock, so nothing changes until they end),
// always on the writer connection. database/sql replaces that connection
// only after a driver.ErrBadConn, which this driver reports for a closed
// connection; the new connection's counter starts over, so a false
// "undisturbed" would need another writer in that very gap and equal
// counters by chance (accepted).
func (t *tx) Undisturbed(ctx context.Context, version string) (bool, error) {
	if t.readOnly {
		return false, nil
	}
	var dv int64
	if err := t.queryRow(ctx, `PRAGMA main.data_version`).Scan(&dv); err != nil {
		return false, fmt.Errorf("sqlite: data_version: %w", err)
	}
	t.s.dvMu.Lock()
	defer t.s.dvMu.Unlock()
	prev, ok := t.s.dataVersions[version]
	if t.s.dataVersions == nil {
		t.s.dataVersions = map[string]int64{}
	}
	t.s.dataVersions[version] = dv
	return ok && prev == dv, nil
}
