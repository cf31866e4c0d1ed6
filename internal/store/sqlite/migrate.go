package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/defacto-dev/defacto/internal/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema step; files are named NNNN_what.sql and
// applied in ascending NNNN. Applied steps are never edited: a change is a new
// file.
type migration struct {
	version int
	name    string
	sql     string
}

var migrations = mustLoadMigrations()

// formatVersion is the newest namespace format this code writes.
var formatVersion = migrations[len(migrations)-1].version

func mustLoadMigrations() []migration {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	var ms []migration
	for _, f := range files {
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			panic("sqlite: bad migration file name " + base)
		}
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			panic(fmt.Sprintf("sqlite: migrations must be numbered 1, 2, …; found %s at position %d", m.name, i+1))
		}
	}
	return ms
}

// queryer is what classify needs from a *sql.DB, *sql.Conn or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// classify inspects the main file and returns its format version: 0 for an
// empty file. Anything that is not a defacto namespace, or is one written by
// newer code, is an error wrapping store.ErrForeign that names the path.
func (s *Store) classify(ctx context.Context, q queryer) (int, error) {
	foreign := func(detail string) error {
		return fmt.Errorf("sqlite: open %s: %w: %s", s.path, store.ErrForeign, detail)
	}
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		if c := sqliteCode(err); c == codeNotADB || c == codeCorrupt {
			return 0, foreign("the file is not a SQLite database or is corrupt (" + err.Error() + ")")
		}
		return 0, fmt.Errorf("sqlite: open %s: read schema: %w", s.path, err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: open %s: read schema: %w", s.path, err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: open %s: read schema: %w", s.path, err)
	}
	if len(tables) == 0 {
		return 0, nil
	}
	hasMeta := false
	for _, t := range tables {
		hasMeta = hasMeta || t == "meta"
	}
	if !hasMeta {
		return 0, foreign(fmt.Sprintf("the database has %d table(s) but no defacto meta table", len(tables)))
	}
	var raw string
	err = q.QueryRowContext(ctx, `SELECT "value" FROM meta WHERE "key" = 'format_version'`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, foreign("its meta table has no format_version")
	}
	if err != nil {
		return 0, foreign("its meta table is not defacto's (" + err.Error() + ")")
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v <= 0 {
		return 0, foreign(fmt.Sprintf("format_version %q is not a positive integer", raw))
	}
	if v > formatVersion {
		return 0, foreign(fmt.Sprintf("format_version %d is newer than this build of defacto supports (%d); upgrade defacto", v, formatVersion))
	}
	return v, nil
}

// migrate brings the namespace to formatVersion in one BEGIN IMMEDIATE
// transaction, so concurrent openers of a fresh file serialize and the second
// finds the work done.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: open %s: begin migration: %w", s.path, err)
	}
	defer tx.Rollback()
	cur, err := s.classify(ctx, tx)
	if err != nil {
		return err
	}
	if cur == formatVersion {
		return nil
	}
	for _, m := range migrations[cur:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("sqlite: open %s: migration %s: %w", s.path, m.name, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO meta ("key", "value") VALUES ('format_version', ?)
			 ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"`,
			strconv.Itoa(m.version)); err != nil {
			return fmt.Errorf("sqlite: open %s: migration %s: %w", s.path, m.name, err)
		}
		s.log.Info("applied migration", "path", s.path, "migration", m.name)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: open %s: commit migration: %w", s.path, err)
	}
	return nil
}
