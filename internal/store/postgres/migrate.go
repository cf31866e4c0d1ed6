package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/defacto-dev/defacto/internal/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema step; files are named NNNN_what.sql and
// applied in ascending NNNN. Applied steps are never edited: a change is a
// new file.
type migration struct {
	version int
	name    string
	sql     string
}

var migrations = mustLoadMigrations()

// FormatVersion is the newest namespace format this code writes
// (meta.format_version).
var FormatVersion = migrations[len(migrations)-1].version

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
			panic("postgres: bad migration file name " + base)
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
			panic(fmt.Sprintf("postgres: migrations must be numbered 1, 2, …; found %s at position %d", m.name, i+1))
		}
	}
	return ms
}

// querier is what classify needs from a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// nsState is what classify finds of the namespace.
type nsState struct {
	format      int // 0: no schema, or an empty one
	totalShards int // 0: not recorded
}

// classify inspects the namespace schema. A schema holding relations that
// are not a defacto namespace, or one written by newer code, is an error
// wrapping store.ErrForeign.
func (s *Store) classify(ctx context.Context, q querier) (nsState, error) {
	foreign := func(detail string) error {
		return fmt.Errorf("postgres: open namespace %s on %s: %w: %s", s.ns, s.where, store.ErrForeign, detail)
	}
	var st nsState
	var relations int
	var hasMeta bool
	err := q.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')),
			to_regclass($2) IS NOT NULL`, s.ns, s.n.meta).Scan(&relations, &hasMeta)
	if err != nil {
		return st, s.errorf("open: read catalog", err)
	}
	if relations == 0 {
		return st, nil
	}
	if !hasMeta {
		return st, foreign(fmt.Sprintf("schema %s has %d relation(s) but no defacto meta table", s.ns, relations))
	}
	rows, err := q.Query(ctx, `SELECT "key", "value" FROM `+s.n.meta+` WHERE "key" IN ('format_version', 'total_shards')`)
	if err != nil {
		return st, foreign("its meta table is not defacto's (" + err.Error() + ")")
	}
	meta := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return st, foreign("its meta table is not defacto's (" + err.Error() + ")")
		}
		meta[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, foreign("its meta table is not defacto's (" + err.Error() + ")")
	}
	raw, ok := meta["format_version"]
	if !ok {
		return st, foreign("its meta table has no format_version")
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v <= 0 {
		return st, foreign(fmt.Sprintf("format_version %q is not a positive integer", raw))
	}
	if v > FormatVersion {
		return st, foreign(fmt.Sprintf("format_version %d is newer than this build of defacto supports (%d); upgrade defacto", v, FormatVersion))
	}
	st.format = v
	if raw, ok := meta["total_shards"]; ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return st, fmt.Errorf("postgres: open namespace %s on %s: meta total_shards %q is not a positive integer", s.ns, s.where, raw)
		}
		st.totalShards = n
	}
	return st, nil
}

// migrate brings the namespace to FormatVersion and records total_shards
// on first use. An up-to-date namespace is recognized without any lock;
// otherwise the work runs in one transaction under the ddl lock, so
// concurrent openers serialize and the later ones find it done.
func (s *Store) migrate(ctx context.Context) error {
	st, err := s.classify(ctx, s.w)
	if err != nil {
		return err
	}
	if st.format != FormatVersion || st.totalShards == 0 {
		if st, err = s.migrateLocked(ctx); err != nil {
			return err
		}
	}
	if st.totalShards != s.opts.TotalShards {
		return fmt.Errorf("postgres: open namespace %s on %s: Options.TotalShards %d does not match the namespace's %d (fixed at its first open)",
			s.ns, s.where, s.opts.TotalShards, st.totalShards)
	}
	if err := s.w.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, 'sequence')`, s.n.ledger).Scan(&s.n.ledgerSeq); err != nil {
		return s.errorf("open: find the ledger sequence", err)
	}
	return nil
}

func (s *Store) migrateLocked(ctx context.Context) (nsState, error) {
	tx, err := s.w.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nsState{}, s.errorf("open: begin migration", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.keys.ddl); err != nil {
		return nsState{}, s.errorf("open: take the ddl lock", err)
	}
	st, err := s.classify(ctx, tx)
	if err != nil {
		return st, err
	}
	if st.format == 0 {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.n.schema); err != nil {
			return st, s.errorf("open: create schema", err)
		}
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, s.n.schema); err != nil {
		return st, s.errorf("open: set search_path", err)
	}
	for _, m := range migrations[st.format:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return st, s.errorf("open: migration "+m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.n.meta+` ("key", "value") VALUES ('format_version', $1)
			ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"`, strconv.Itoa(m.version)); err != nil {
			return st, s.errorf("open: migration "+m.name, err)
		}
		s.log.Info("applied migration", "migration", m.name)
		st.format = m.version
	}
	if st.totalShards == 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.n.meta+` ("key", "value") VALUES ('total_shards', $1)`,
			strconv.Itoa(s.opts.TotalShards)); err != nil {
			return st, s.errorf("open: record total_shards", err)
		}
		st.totalShards = s.opts.TotalShards
	}
	if err := tx.Commit(ctx); err != nil {
		return st, s.errorf("open: commit migration", err)
	}
	return st, nil
}
