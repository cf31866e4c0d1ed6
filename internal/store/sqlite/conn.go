package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	msqlite "modernc.org/sqlite"
)

// drv is this package's private modernc driver: the SQL functions registered
// on it (functions.go) reach only connections opened by defacto, never the
// process-wide "sqlite" driver other code may use.
var drv = newDriver()

// role selects the per-connection setup of a pool.
type role int

const (
	roleWriter      role = iota // BEGIN IMMEDIATE transactions on the main file
	roleStoreWriter             // BEGIN IMMEDIATE on the attached version stores only
	roleReader                  // query_only: reads can never write
	roleProbe                   // no setup beyond the busy timeout; see Store.probe
)

// connector opens physical connections for one pool of a Store and applies
// the per-connection pragmas. Attachments are made later, on demand, by the
// code that needs a version store (attach.go), because the set of version
// stores grows while connections live.
type connector struct {
	dsn     string
	role    role
	timeout time.Duration
}

func newConnector(path string, r role, timeout time.Duration) *connector {
	u := url.URL{Scheme: "file", Path: path}
	if r == roleStoreWriter {
		// The store writer's main database is private and empty: BEGIN
		// IMMEDIATE write-locks every file of the connection, so the main
		// file must not be one of them (see the package comment).
		u = url.URL{Scheme: "file", Opaque: ":memory:"}
	}
	if r == roleWriter || r == roleStoreWriter {
		// Read transactions (TxOptions.ReadOnly) still start with a plain
		// BEGIN; see modernc.org/sqlite newTx.
		u.RawQuery = "_txlock=immediate"
	}
	return &connector{dsn: u.String(), role: r, timeout: timeout}
}

func (c *connector) Driver() driver.Driver { return drv }

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	ex, ok := dc.(driver.ExecerContext)
	if !ok {
		dc.Close()
		return nil, errors.New("sqlite: driver connection cannot execute statements")
	}
	for _, p := range c.pragmas() {
		if _, err := ex.ExecContext(ctx, p, nil); err != nil {
			dc.Close()
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return dc, nil
}

// pragmas lists the per-connection settings. busy_timeout comes first so the
// journal-mode switch of a fresh file waits for a concurrent opener instead of
// failing. secure_delete without a schema name applies to main; version stores
// get theirs when attached (attach.go).
func (c *connector) pragmas() []string {
	busy := fmt.Sprintf("PRAGMA busy_timeout = %d", c.timeout.Milliseconds())
	if c.role == roleProbe {
		return []string{busy}
	}
	p := []string{
		busy,
		"PRAGMA journal_mode = WAL",
		"PRAGMA synchronous = NORMAL",
		"PRAGMA foreign_keys = OFF",
		"PRAGMA secure_delete = ON",
		// Statement journals and sorts stay in memory: on disk they cost a
		// write syscall per page on every multi-row statement.
		"PRAGMA temp_store = MEMORY",
		// 32 MiB of page cache per connection (the default is 2 MiB), so
		// indexes of a large namespace stay resident.
		"PRAGMA cache_size = -32768",
		// Checkpoint every 10 000 WAL pages (40 MiB) instead of 1000: a
		// chunk dirties pages of some 20 B-trees, and the default threshold
		// runs a checkpoint inside every few commits, copying hot pages again.
		"PRAGMA wal_autocheckpoint = 10000",
		// Reads through a memory map: a connection's page cache is emptied
		// whenever another connection committed, so without it every read
		// transaction after a commit re-reads its pages with pread.
		"PRAGMA mmap_size = " + mmapSize,
	}
	if c.role == roleReader {
		p = append(p, "PRAGMA query_only = ON")
	}
	return p
}

// mmapSize is the memory map of each database file (main and attached
// stores): 1 GiB of address space, of which only what the file holds is
// mapped.
const mmapSize = "1073741824"

// SQLite primary result codes this package inspects.
const (
	codeCorrupt = 11
	codeNotADB  = 26
)

// sqliteCode returns the primary SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *msqlite.Error
	if errors.As(err, &e) {
		return e.Code() & 0xff
	}
	return 0
}

// WriterSettings returns the statements that give a plain connection the
// settings of a Store's writer connection, for a version store attached as
// schema: the connection pragmas, then those the writer applies to an
// attached store (attach, tuneStores). Benchmarks use it to measure raw SQL
// under the engine's own settings.
func WriterSettings(schema string) []string {
	c := &connector{role: roleWriter, timeout: 5 * time.Second}
	out := c.pragmas()
	for _, p := range append(slices.Clone(storeSettings), "synchronous = NORMAL") {
		out = append(out, "PRAGMA "+quote(schema)+"."+p)
	}
	return out
}
