// Package postgres is the PostgreSQL backend of the store, on pgx v5: one
// namespace is the schema "<namespace>", and each version store the schema
// "<namespace>_<version>" (scale.md §1, history.md §1).
//
// # Connections
//
// A Store keeps three pgxpool pools on the server, every session in
// TimeZone UTC:
//
//   - the writer pool serves Begin and BeginScope. Every write transaction
//     runs at READ COMMITTED and takes, as its first statements, the
//     transaction-scoped advisory locks of its store.Scope (lock.go, in
//     the order listed there):
//
//     ScopeAll       append, identity, shards (exclusive)
//     ScopeAppend    append
//     ScopeIdentity  identity
//     ScopeShard     shards (shared), process/<version>/<shard>
//
//     ScopeAll (Begin) serializes a writer against every other one, as
//     SQLite's BEGIN IMMEDIATE does, which is what most of the engine's
//     pipeline is written against. The narrower scopes let the writers
//     that touch disjoint state run side by side: appends keep the ledger
//     in sequence order under append alone, the identity stage is one at a
//     time under identity, and each shard interprets under its own process
//     lock, so shard processes build in parallel (scale.md §2–3).
//     READ COMMITTED is required, not merely allowed: each statement after
//     the locks sees every transaction committed before they were granted,
//     whereas a REPEATABLE READ snapshot would be taken by the first lock
//     statement itself, before the wait.
//
//   - the reader pool serves Read: REPEATABLE READ READ ONLY transactions, so
//     one Read sees one snapshot and never waits for a writer.
//
//   - the query pool serves Query through database/sql (pgx stdlib), because
//     the contract returns *sql.Rows. Its sessions default to read-only
//     transactions, and each query first sets search_path to the version
//     store's schema, so unqualified names in raw SQL (history.md §6) resolve
//     there. Statements are described on every call rather than cached, since
//     the same text means different columns in different version stores.
//
// # SQL
//
// Namespace tables are always schema-qualified, never found through
// search_path. Instants are timestamptz and cross the boundary as int64 µs
// (store.NoTime for NULL); JSON columns are jsonb, which keeps values but not
// bytes: key order and whitespace come back as PostgreSQL renders them, and
// the canonical definitions of a version are re-rendered canonically on read.
// Batched writes bind one array per column and insert from unnest, so every
// statement has one text whatever the row count and pgx caches it once per
// connection; batched reads bind = ANY($1) arrays.
//
// Transactional DDL means a transaction that writes a version store and the
// namespace commits both or neither: the commit marks the SQLite backend
// needs do not exist here.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/defacto-dev/defacto/internal/store"
)

// DefaultNamespace is the namespace when Options.Namespace is empty.
const DefaultNamespace = "defacto"

// MaxShards is the largest TotalShards (scale.md §3).
const MaxShards = 1024

// DefaultConnectTimeout bounds establishing one connection when the URL sets
// no connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// namespaceRule is the namespace name rule of scale.md §1; 30 characters
// leave room for "_" and a 32-character version name within PostgreSQL's
// 63-byte identifiers.
var namespaceRule = regexp.MustCompile(`^[a-z][a-z0-9_]{0,29}$`)

// versionRule is the version name rule of definitions.md §7.
var versionRule = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,31}$`)

// Options configures Open.
type Options struct {
	// Namespace names the installation: the schema holding the namespace
	// tables, and the prefix of every version store schema. It must match
	// ^[a-z][a-z0-9_]{0,29}$. Default DefaultNamespace.
	Namespace string
	// Logger receives migrations and version store creation (never values);
	// nil discards.
	Logger *slog.Logger
	// ShardID and TotalShards select the shard this Store processes
	// (scale.md §3): 0 ≤ ShardID < TotalShards ≤ MaxShards. TotalShards 0
	// means 1 (unsharded). TotalShards must equal the namespace's, which is
	// fixed by its first open.
	ShardID, TotalShards int
}

// Store is one namespace in one PostgreSQL database. It implements
// store.Store and is safe for concurrent use.
type Store struct {
	ns   string // namespace name, unquoted
	opts Options
	log  *slog.Logger
	n    names
	keys *lockKeys
	// where describes the server for messages (never the password).
	where string

	w  *pgxpool.Pool // writers: READ COMMITTED + advisory locks
	r  *pgxpool.Pool // Read: REPEATABLE READ READ ONLY
	qp *pgxpool.Pool // Query: read-only sessions, describe-exec
	qd *sql.DB       // database/sql over qp

	hist  sync.Map    // histKey → *histSQL (history.go)
	stats statsKeeper // planner statistics upkeep (stats.go)
	// bg is the store's own work in the background (statistics upkeep),
	// canceled through stopBg and waited for by Close.
	bg     sync.WaitGroup
	bgCtx  context.Context
	stopBg context.CancelFunc
	epochs epochs   // write epochs seen by Undisturbed (undisturbed.go)
	rels   sync.Map // relKey → *relSQL (lifecycle.go)

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Store          = (*Store)(nil)
	_ store.ScopedBeginner = (*Store)(nil)
)

// names holds the schema-qualified namespace tables.
type names struct {
	schema                           string // quoted namespace schema
	meta, versions, buildState       string
	ledger, ledgerSeq                string
	identity, entityIDs, links       string
	mergeLog, erasures, erasedEvents string
	epoch                            string // the write_epoch sequence, as a text literal for nextval/currval
}

func newNames(ns string) names {
	sc := quote(ns)
	q := func(t string) string { return sc + "." + quote(t) }
	return names{
		schema: sc, meta: q("meta"), versions: q("definition_versions"), buildState: q("build_state"),
		ledger: q("ledger"), identity: q("identity"), entityIDs: q("entity_ids"), links: q("event_entities"),
		mergeLog: q("merge_log"), erasures: q("erasures"), erasedEvents: q("erased_events"),
		epoch: "'" + strings.ReplaceAll(q("write_epoch"), "'", "''") + "'",
	}
}

// Open opens namespace opts.Namespace in the database at url (a
// postgres:// URL or a key=value DSN), creating the namespace schema on
// first use and applying pending migrations under the ddl lock. A namespace
// schema that is not defacto's, or was written by a newer format, yields an
// error wrapping store.ErrForeign.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if !namespaceRule.MatchString(opts.Namespace) {
		return nil, fmt.Errorf("postgres: open: Options.Namespace %q is not a valid namespace name (want %s)",
			opts.Namespace, namespaceRule)
	}
	if opts.TotalShards == 0 {
		opts.TotalShards = 1
	}
	if opts.TotalShards < 1 || opts.TotalShards > MaxShards {
		return nil, fmt.Errorf("postgres: open: Options.TotalShards %d is out of range (1 to %d)", opts.TotalShards, MaxShards)
	}
	if opts.ShardID < 0 || opts.ShardID >= opts.TotalShards {
		return nil, fmt.Errorf("postgres: open: Options.ShardID %d is out of range (0 to %d for %d shards)",
			opts.ShardID, opts.TotalShards-1, opts.TotalShards)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can quote the URL; keep only the kind of problem.
		return nil, fmt.Errorf("postgres: open: invalid database URL: %s", redactErr(err, url))
	}
	cc := base.ConnConfig
	s := &Store{
		ns:    opts.Namespace,
		opts:  opts,
		log:   log.With("component", "store/postgres", "namespace", opts.Namespace),
		n:     newNames(opts.Namespace),
		keys:  newLockKeys(opts.Namespace),
		where: fmt.Sprintf("%s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database),
	}
	s.bgCtx, s.stopBg = context.WithCancel(context.Background())
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	cc.RuntimeParams["timezone"] = "UTC"
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "defacto"
	}
	readers := int32(max(4, runtime.GOMAXPROCS(0)))

	wc := base.Copy()
	wc.MaxConns = 4
	rc := base.Copy()
	rc.MaxConns = readers
	rc.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	qc := base.Copy()
	qc.MaxConns = readers
	qc.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	qc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec

	fail := func(err error) (*Store, error) {
		s.Close()
		return nil, err
	}
	if s.w, err = pgxpool.NewWithConfig(ctx, wc); err != nil {
		return fail(s.errorf("connect", err))
	}
	if s.r, err = pgxpool.NewWithConfig(ctx, rc); err != nil {
		return fail(s.errorf("connect", err))
	}
	if s.qp, err = pgxpool.NewWithConfig(ctx, qc); err != nil {
		return fail(s.errorf("connect", err))
	}
	s.qd = stdlib.OpenDBFromPool(s.qp)
	if err := s.w.Ping(ctx); err != nil {
		return fail(s.errorf("connect", err))
	}
	if err := s.migrate(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// errorf wraps err with the operation and the server, never the password.
func (s *Store) errorf(op string, err error) error {
	return fmt.Errorf("postgres: namespace %s on %s: %s: %w", s.ns, s.where, op, err)
}

// redactErr renders err without url's password.
func redactErr(err error, url string) string {
	msg := err.Error()
	if i := strings.Index(url, "://"); i >= 0 {
		if at := strings.LastIndex(url, "@"); at > i {
			creds := url[i+3 : at]
			if _, pw, ok := strings.Cut(creds, ":"); ok && pw != "" {
				msg = strings.ReplaceAll(msg, pw, "xxxxx")
			}
		}
	}
	return msg
}

// Namespace returns the namespace name.
func (s *Store) Namespace() string { return s.ns }

// Begin starts a write transaction of store.ScopeAll: it excludes every
// other writer of the namespace until it ends.
func (s *Store) Begin(ctx context.Context) (store.Tx, error) {
	return s.BeginScope(ctx, store.ScopeAll, "")
}

// BeginScope starts a write transaction that holds, until it ends, the
// transaction-level advisory locks of scope (see the package comment),
// taken in the order of lock.go before any other statement. version names
// the version store of a store.ScopeShard transaction. Waiting for the
// locks honours ctx.
func (s *Store) BeginScope(ctx context.Context, scope store.Scope, version string) (store.Tx, error) {
	const (
		excl   = `SELECT pg_advisory_xact_lock($1)`
		shared = `SELECT pg_advisory_xact_lock_shared($1)`
	)
	// BEGIN and the lock statements travel in one round trip; the
	// transaction starts once the locks are granted.
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	switch scope {
	case store.ScopeAll:
		b.Queue(excl, s.keys.append)
		b.Queue(excl, s.keys.identity)
		b.Queue(excl, s.keys.shards)
	case store.ScopeAppend:
		b.Queue(excl, s.keys.append)
	case store.ScopeIdentity:
		b.Queue(excl, s.keys.identity)
	case store.ScopeShard:
		if !versionRule.MatchString(version) {
			return nil, fmt.Errorf("postgres: begin: invalid version name %q (want %s)", version, versionRule)
		}
		b.Queue(shared, s.keys.shards)
		b.Queue(excl, s.keys.processKey(s.ns, version, s.opts.ShardID))
	default:
		return nil, fmt.Errorf("postgres: begin: unknown write scope %d", scope)
	}
	// After the locks: epochs are taken in the order writers got through.
	// The value answers Undisturbed without another round trip.
	var epoch int64
	b.Queue(`SELECT nextval(` + s.n.epoch + `)`).QueryRow(func(r pgx.Row) error { return r.Scan(&epoch) })
	s.maintainStats()
	br := s.w.SendBatch(ctx, b)
	t := br.Tx()
	if err := br.Close(); err != nil {
		_ = t.Rollback(context.Background()) // returns the connection
		return nil, s.errorf("begin: take writer locks", err)
	}
	tx := newTx(s, t, false)
	tx.epoch = epoch
	return tx, nil
}

// Read runs f in a REPEATABLE READ READ ONLY transaction: one snapshot, and
// any write f attempts fails.
func (s *Store) Read(ctx context.Context, f func(store.Tx) error) error {
	t, err := s.r.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.errorf("begin read", err)
	}
	tx := newTx(s, t, true)
	defer tx.Rollback()
	return f(tx)
}

// Query runs one read-only statement with search_path set to version's
// store (the namespace schema when version is ""). Bind parameters are $1,
// $2, …. The connection returns to the pool when the rows are closed.
func (s *Store) Query(ctx context.Context, version string, query string, args ...any) (*sql.Rows, error) {
	path := s.n.schema
	if version != "" {
		if !versionRule.MatchString(version) {
			return nil, fmt.Errorf("postgres: query: invalid version name %q (want %s)", version, versionRule)
		}
		path = s.versionSchema(version)
	}
	conn, err := s.qd.Conn(ctx)
	if err != nil {
		return nil, s.errorf("query", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT set_config('search_path', $1, false)`, path); err != nil {
		conn.Close()
		return nil, s.errorf("query: set search_path", err)
	}
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("postgres: query: %w", err)
	}
	// Conn.Close waits until rows is closed, then returns the connection.
	go conn.Close()
	return rows, nil
}

// versionSchema is the quoted schema of version v's store.
func (s *Store) versionSchema(v string) string { return quote(s.ns + "_" + v) }

// Dialect describes PostgreSQL SQL for the query compiler.
func (s *Store) Dialect() store.Dialect { return dialect{ns: s.ns} }

// AfterErase does nothing: deletion on PostgreSQL is logical until the
// operator's vacuuming and retention overwrite it (privacy.md §5, decision).
func (s *Store) AfterErase(ctx context.Context) error { return nil }

// Close closes the pools. It waits for transactions still open and rows
// still unread to end, like database/sql's Close. It is idempotent; later
// calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopBg()
		s.bg.Wait()
		if s.qd != nil {
			s.closeErr = s.qd.Close()
		}
		for _, p := range []*pgxpool.Pool{s.qp, s.r, s.w} {
			if p != nil {
				p.Close()
			}
		}
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("postgres: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// dialect implements store.Dialect.
type dialect struct{ ns string }

func (dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (dialect) Quote(name string) string { return quote(name) }

// InstantsAsMicros is false: instants are timestamptz, bound as time.Time.
func (dialect) InstantsAsMicros() bool { return false }

// Table qualifies name with the schema of version's store.
func (d dialect) Table(version, name string) string {
	return quote(d.ns+"_"+version) + "." + quote(name)
}

// quote returns name as a double-quoted SQL identifier.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

var errReadOnly = errors.New("read-only transaction")
