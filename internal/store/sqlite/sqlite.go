// Package sqlite is the SQLite backend of the store: one namespace per main
// database file, plus one attached file per version store (history.md §1),
// on the pure-Go modernc.org/sqlite driver.
//
// # Connections
//
// A Store keeps three database/sql pools, all in WAL mode:
//
//   - the writer pool holds exactly one connection, on the main file. Every
//     write transaction (Begin) runs there as BEGIN IMMEDIATE, so writers of
//     this process queue in database/sql, where waiting honours the context,
//     and only writers of other processes meet the busy timeout.
//   - the store writer pool holds exactly one connection whose main
//     database is private and empty, with the version stores attached. A
//     write transaction that touches a version store opens its second half
//     there (side.go), also as BEGIN IMMEDIATE. The two halves cannot share
//     a connection: BEGIN IMMEDIATE write-locks every file of its
//     connection, and SQLite writes one connection's statements one at a
//     time. On two connections the version store's writes and commit run
//     on a goroutine of their own, beside the engine's next chunk on the
//     main file (CommitPipelined). Locks are always taken main file first,
//     so writers of several processes cannot deadlock.
//   - the reader pool holds several query_only connections for Read and
//     Query, with main and the version stores they name, so reads run
//     beside writers on their WAL snapshot and can never write, whatever
//     SQL they are given.
//
// Attachments belong to a connection, and the set of version stores grows
// while connections live, so a connection is not set up with every store when
// it opens: each transaction or query that names a version attaches that
// store to its connection if needed (attach.go), which costs one lookup in
// pragma_database_list the first time a transaction uses the version.
//
// # Atomicity across files
//
// The main file and a version store commit separately (in WAL mode SQLite
// commits even one connection's multi-file transaction file by file), so a
// failure or crash between the two commits could leave a version store out
// of step with the namespace (history written without the cursor that
// covers it, or the reverse). Every transaction that writes a version store,
// or writes its build state, therefore also writes one random commit mark
// to the store and to the main file (meta key store_mark/<version>); the
// main file commits first, and the store commits only after it succeeded.
// BuildState reports a version whose marks differ, or whose store file is
// gone, as dirty, which makes the next build a full one (builds.md §5) —
// unless the store is exactly one pipelined commit behind (a crash or
// failure while its commit ran beside the next transaction, or a reader
// looking while it runs): then it returns the build records from before
// that commit, kept in an undo record (side.go), and the next build redoes
// the commit's interpretation.
//
// # SQL
//
// Instants are INTEGER µs, JSON is TEXT, booleans INTEGER 0/1; every table is
// STRICT. Identifiers taken from definitions are always double-quoted and
// values always bound. Raw queries use $1, $2, … (the driver binds $N to the
// N-th positional argument), matching Postgres (history.md §6).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/defacto-dev/defacto/internal/store"
)

// DefaultBusyTimeout is how long a connection waits for another process's
// lock before failing, when Options.BusyTimeout is zero.
const DefaultBusyTimeout = 5 * time.Second

// Options configures Open.
type Options struct {
	// Namespace names the installation. A SQLite file holds exactly one
	// namespace, so the name is informational here. Default "defacto".
	Namespace string
	// Logger receives migrations and attachments (never values); nil
	// discards.
	Logger *slog.Logger
	// BusyTimeout bounds waits for locks held by other processes; zero
	// means DefaultBusyTimeout.
	BusyTimeout time.Duration
}

// Store is one namespace in one SQLite file. It implements store.Store and
// is safe for concurrent use.
type Store struct {
	path string // absolute path of the main file
	opts Options
	log  *slog.Logger

	w  *sql.DB // writer pool: one connection on the main file, BEGIN IMMEDIATE
	sw *sql.DB // store writer pool: one connection on the version stores, BEGIN IMMEDIATE
	r  *sql.DB // reader pool: query_only connections

	wcache, swcache, rcache *stmtCache // statements kept across transactions, per pool

	// retune is set when a version store was attached, so the next
	// transaction on the store writer runs tuneStores first.
	retune atomic.Bool

	dvMu         sync.Mutex
	dataVersions map[string]int64 // version → data_version of main, see Undisturbed

	hist sync.Map // histKey → *histSQL, see history.go

	pendMu  sync.Mutex
	pending *tx // the side whose store commit a CommitPipelined left running

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens the namespace in the SQLite file at path, creating and
// initializing it when the file is missing or empty, and applying pending
// migrations. A file that is not a defacto database, or was written by a
// newer format, yields an error wrapping store.ErrForeign that names path.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("sqlite: open %s: is a directory", abs)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if opts.Namespace == "" {
		opts.Namespace = "defacto"
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: abs, opts: opts, log: log.With("component", "store/sqlite")}
	if err := s.probe(ctx); err != nil {
		return nil, err
	}

	s.w = onePool(newConnector(abs, roleWriter, opts.BusyTimeout))
	s.sw = onePool(newConnector(abs, roleStoreWriter, opts.BusyTimeout))

	// One reader per core, and one more: a full rebuild reads ahead on two
	// sessions and lists the stored ids beside them.
	readers := min(max(runtime.GOMAXPROCS(0), 2), 8) + 1
	s.r = sql.OpenDB(newConnector(abs, roleReader, opts.BusyTimeout))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	s.wcache, s.swcache, s.rcache = newStmtCache(s.w), newStmtCache(s.sw), newStmtCache(s.r)

	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// onePool returns a pool that keeps exactly one connection for good: a
// writer's attachments and prepared statements live on it.
func onePool(c *connector) *sql.DB {
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db
}

// probe classifies the file through a connection that changes nothing, so a
// foreign database is rejected before the writer pool switches it to WAL.
func (s *Store) probe(ctx context.Context) error {
	db := sql.OpenDB(newConnector(s.path, roleProbe, s.opts.BusyTimeout))
	defer db.Close()
	_, err := s.classify(ctx, db)
	return err
}

// Begin starts a write transaction (BEGIN IMMEDIATE on the writer
// connection). The transaction ends when ctx is done.
func (s *Store) Begin(ctx context.Context) (store.Tx, error) {
	if err := s.pendingFailed(); err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	s.wcache.warm(ctx)
	t, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	return newTx(s, t, false), nil
}

// Read runs f in a read transaction on a reader connection: one consistent
// snapshot, and any write f attempts fails.
func (s *Store) Read(ctx context.Context, f func(store.Tx) error) error {
	s.rcache.warm(ctx)
	t, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	tx := newTx(s, t, true)
	defer tx.Rollback()
	return f(tx)
}

// Query runs one read-only statement on a reader connection with version's
// store attached. Bind parameters are $1, $2, … (or ?) for args in order.
// The statement is its own read transaction; the connection returns to the
// pool when the rows are closed.
func (s *Store) Query(ctx context.Context, version string, query string, args ...any) (*sql.Rows, error) {
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query: %w", err)
	}
	if version != "" {
		if err := s.attach(ctx, conn, version, false); err != nil {
			conn.Close()
			return nil, fmt.Errorf("sqlite: query version %s: %w", version, err)
		}
	}
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlite: query: %w", err)
	}
	// Conn.Close waits until rows is closed (the rows hold the Conn's read
	// lock), then returns the connection to the pool.
	go conn.Close()
	return rows, nil
}

// Dialect describes SQLite SQL for the query compiler.
func (s *Store) Dialect() store.Dialect { return dialect{} }

// AfterErase truncates the WAL of the main file and of every version store
// (privacy.md §5), so erased bytes survive in no file. It fails when a reader
// keeps a WAL from being truncated for longer than the busy timeout.
func (s *Store) AfterErase(ctx context.Context) error {
	fail := func(err error) error { return fmt.Errorf("sqlite: after erase: %w", err) }
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	versions, err := s.existingStores(ctx, conn)
	if err != nil {
		return fail(fmt.Errorf("list version stores: %w", err))
	}
	if err := s.truncateWAL(ctx, conn, "main"); err != nil {
		return fail(err)
	}
	// Version stores are attached on the store writer only (package comment).
	sconn, err := s.sw.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	defer sconn.Close()
	for _, v := range versions {
		if err := s.attach(ctx, sconn, v, false); err != nil {
			return fail(err)
		}
		if err := s.truncateWAL(ctx, sconn, v); err != nil {
			return fail(err)
		}
	}
	return nil
}

// truncateAttempt bounds one attempt of truncateWAL.
const truncateAttempt = 50 * time.Millisecond

// truncateWAL checkpoints schema's WAL into its file and truncates the WAL.
//
// A truncating checkpoint holds the write lock while it waits for readers
// of older snapshots to end. A reader that ends its snapshot only once it
// has begun a write transaction (a full rebuild's read-ahead, which moves
// to a new snapshot when its next group's transaction finds that another
// connection committed) would wait for that lock while the checkpoint waits
// for it, until one busy timeout expired. So the checkpoint runs in short
// attempts that let writers in between, until the busy timeout is spent.
func (s *Store) truncateWAL(ctx context.Context, conn *sql.Conn, schema string) error {
	setBusy := func(ctx context.Context, d time.Duration) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", d.Milliseconds()))
		return err
	}
	if err := setBusy(ctx, truncateAttempt); err != nil {
		return fmt.Errorf("checkpoint %s: %w", schema, err)
	}
	defer func() {
		// The pooled connection gets its own setting back, even when ctx
		// ended meanwhile.
		_ = setBusy(context.WithoutCancel(ctx), s.opts.BusyTimeout)
	}()
	deadline := time.Now().Add(s.opts.BusyTimeout)
	for {
		var busy, logFrames, checkpointed int
		if err := conn.QueryRowContext(ctx, `PRAGMA `+quote(schema)+`.wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
			return fmt.Errorf("checkpoint %s: %w", schema, err)
		}
		if busy == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("checkpoint %s: WAL still in use by a reader", schema)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("checkpoint %s: %w", schema, ctx.Err())
		case <-time.After(truncateAttempt / 5):
		}
	}
}

// Close releases both pools. It is idempotent; later calls return the first
// call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		errs := []error{s.settle()}
		if s.wcache != nil {
			s.wcache.close()
			s.swcache.close()
			s.rcache.close()
		}
		for _, db := range []*sql.DB{s.r, s.sw, s.w} {
			if db != nil {
				errs = append(errs, db.Close())
			}
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// dialect implements store.Dialect.
type dialect struct{}

// Placeholder returns $n: modernc binds $N to the N-th positional argument,
// and $N is also Postgres syntax, so compiled SQL reads the same on both.
func (dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (dialect) Quote(name string) string { return quote(name) }

func (dialect) InstantsAsMicros() bool { return true }

// Table qualifies name with the schema the version store is attached under.
func (dialect) Table(version, name string) string { return quote(version) + "." + quote(name) }
