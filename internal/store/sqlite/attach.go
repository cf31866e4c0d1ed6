package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// versionName is the rule of definitions.md §7. "main" and "temp" also match
// it but are SQLite's own schema names, so they cannot name an attachment.
var versionName = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,31}$`)

func checkVersion(v string) error {
	if !versionName.MatchString(v) {
		return fmt.Errorf("invalid version name %q (want %s)", v, versionName)
	}
	if v == "main" || v == "temp" {
		return fmt.Errorf("version name %q is reserved by SQLite", v)
	}
	return nil
}

// storePath is the version store file of v: <main stem>.<v>.db beside the
// main file (history.md §1).
func (s *Store) storePath(v string) string {
	dir, base := filepath.Split(s.path)
	return filepath.Join(dir, strings.TrimSuffix(base, filepath.Ext(base))+"."+v+".db")
}

// errNoStore reports a version store that was never created.
var errNoStore = errors.New("version store does not exist")

// execQueryer is the part of *sql.Conn and *sql.Tx attach needs.
type execQueryer interface {
	queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// attach makes version v's store available on the connection behind q as
// schema "<v>". Attachments belong to a connection and outlive transactions,
// so this runs once per connection and version; later calls only look. ATTACH
// works inside an open transaction; a transaction that has already begun
// holds no lock on the new file until it touches it.
//
// When the file is missing attach fails with errNoStore, unless create is
// set, in which case the file is first created in WAL mode (which cannot be
// switched on inside a transaction, and is persistent once set).
func (s *Store) attach(ctx context.Context, q execQueryer, v string, create bool) error {
	if err := checkVersion(v); err != nil {
		return err
	}
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM pragma_database_list WHERE name = ?`, v).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	p := s.storePath(v)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return fmt.Errorf("%w: %s", errNoStore, p)
		}
		if err := s.createStoreFile(ctx, p); err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
	} else if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `ATTACH ? AS `+quote(v), p); err != nil {
		return fmt.Errorf("attach %s: %w", p, err)
	}
	for _, pragma := range storeSettings {
		if _, err := q.ExecContext(ctx, `PRAGMA `+quote(v)+`.`+pragma); err != nil {
			return fmt.Errorf("attach %s: %w", p, err)
		}
	}
	s.retune.Store(true)
	s.log.Debug("attached version store", "version", v, "path", p)
	return nil
}

// createStoreFile creates an empty database file in WAL mode through a
// short-lived connection of its own.
func (s *Store) createStoreFile(ctx context.Context, p string) error {
	dc, err := drv.Open((&url.URL{Scheme: "file", Path: p}).String())
	if err != nil {
		return err
	}
	defer dc.Close()
	ex := dc.(driver.ExecerContext)
	for _, q := range []string{
		fmt.Sprintf("PRAGMA busy_timeout = %d", s.opts.BusyTimeout.Milliseconds()),
		"PRAGMA journal_mode = WAL",
	} {
		if _, err := ex.ExecContext(ctx, q, nil); err != nil {
			return err
		}
	}
	return nil
}

// existingStores lists the versions registered in the namespace whose store
// file exists.
func (s *Store) existingStores(ctx context.Context, q queryer) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM definition_versions ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		if checkVersion(v) != nil {
			continue
		}
		if _, err := os.Stat(s.storePath(v)); err == nil {
			vs = append(vs, v)
		}
	}
	return vs, rows.Err()
}

// quote returns name as a double-quoted SQL identifier.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// storeSettings are applied to each attached version store: the settings
// main gets per connection (conn.go), since ATTACH starts with SQLite's
// defaults (a 2 MiB page cache, no memory map).
var storeSettings = []string{"secure_delete = ON", "cache_size = -32768", "mmap_size = " + mmapSize}

// tuneStores sets synchronous = NORMAL on the version stores attached to
// the store writer's connection conn, as main has: ATTACH starts at FULL (an
// fsync of the store's WAL on every commit), and SQLite refuses to change
// the level inside a transaction, where attach may run. beginStores calls it
// outside any transaction when a store was attached since the last call
// (Store.retune).
func (s *Store) tuneStores(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, `SELECT name FROM pragma_database_list WHERE name NOT IN ('main', 'temp')`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, n := range names {
		var level int
		if err := conn.QueryRowContext(ctx, `PRAGMA `+quote(n)+`.synchronous`).Scan(&level); err != nil {
			return err
		}
		if level == 1 { // NORMAL
			continue
		}
		if _, err := conn.ExecContext(ctx, `PRAGMA `+quote(n)+`.synchronous = NORMAL`); err != nil {
			return err
		}
	}
	return nil
}
