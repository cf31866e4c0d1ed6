package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers "sqlite": the engine's driver, without its private functions
)

// Snapshot is every row the engine left in the tables that carry data
// (ledger, identity, entity_ids, event_entities, merge_log; history,
// entity_state, merged_ids of the version store), read back with SQL, plus
// the DDL of both files.
type Snapshot struct {
	MainDDL, StoreDDL []string
	Tables            []*Table
	Chunks            int // ceil(ledger head / batch)
	LedgerRows        int
}

// Table is the rows of one table, each assigned to the chunk (transaction)
// of the ledger row that produced it.
type Table struct {
	Schema, Name string
	Cols         []string
	Rows         [][]any
	Chunk        []int // per row
}

// Rows counts every row of the snapshot.
func (s *Snapshot) Rows() int {
	n := 0
	for _, t := range s.Tables {
		n += len(t.Rows)
	}
	return n
}

// bookkeeping tables are not part of the floor: they hold a handful of rows
// the engine rewrites per transaction (cursors, marks, versions).
var bookkeeping = map[string]bool{
	"meta": true, "definition_versions": true, "build_state": true, "store_meta": true, "sqlite_sequence": true,
}

// chunkExpr says which ledger sequence produced a row of a table (aliased
// t): the row goes into that sequence's chunk. NULL (or a table not listed)
// means the last chunk.
func chunkExpr(schema, table string) string {
	switch {
	case schema == "main" && (table == "ledger" || table == "event_entities"):
		return `"sequence"`
	case schema == "main" && table == "identity":
		return `created_seq`
	case schema == "main" && table == "entity_ids":
		return `birth_seq`
	case schema == "main" && table == "merge_log":
		return `merge_seq`
	case table == "entity_state":
		return `json_extract(data, '$.last_applied_seq')`
	case table == "merged_ids":
		return `(SELECT m.merge_seq FROM main.merge_log m WHERE m.from_entity_id = entity_id)`
	case strings.HasSuffix(table, "_history_all"):
		return historyChunkExpr(schema+`."`+table+`"`, `"`+strings.TrimSuffix(table, "_history_all")+`_id"`)
	case table == "pending_relations":
		return `event_sequence`
	}
	return `NULL`
}

// historyChunkExpr is the sequence that produced a history row of table
// (aliased t, entity id column id): its event's, or for a row no event
// produced (a time rule fired before the entity's next event) the sequence
// of the entity's next current row, whose event made the engine fire the
// rule and write both rows in its chunk. Only rows with neither go to the
// last chunk; filing every fired row there would let the floors append them
// all at the end, which no ingest can.
func historyChunkExpr(table, id string) string {
	return `COALESCE(t.event_sequence, (SELECT n.event_sequence FROM ` + table + ` n WHERE n.` + id + ` = t.` + id + `
		AND n.superseded_at IS NULL AND n.valid_from > t.valid_from AND n.event_sequence IS NOT NULL
		ORDER BY n.valid_from LIMIT 1))`
}

// dsn is the connection string of a harness SQLite connection: WAL, a busy
// timeout and BEGIN IMMEDIATE transactions; the floor applies the engine's
// other settings (Pragmas) itself.
func dsn(path string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: path}
	q := "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	if readOnly {
		q = "_pragma=busy_timeout(5000)&_pragma=query_only(ON)"
	}
	u.RawQuery = q
	return u.String()
}

// openOne opens path on a single-connection pool (attachments and prepared
// statements stay on that connection, as in the engine's writer pool).
func openOne(path string, readOnly bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, readOnly))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	return db, db.Ping()
}

// ReadSnapshot reads the DDL and data rows of the closed engine database in
// dir (DBPath and StorePath), filing rows into chunks of batch ledger rows,
// one floor transaction each.
func ReadSnapshot(ctx context.Context, dir string, batch int) (*Snapshot, error) {
	db, err := openOne(DBPath(dir), true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `ATTACH ? AS `+Version, StorePath(dir)); err != nil {
		return nil, err
	}
	s := &Snapshot{}
	var head int64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max("sequence"), 0), count(*) FROM ledger`).Scan(&head, &s.LedgerRows); err != nil {
		return nil, err
	}
	s.Chunks = max(1, int((head+int64(batch)-1)/int64(batch)))
	for _, schema := range []string{"main", Version} {
		rows, err := db.QueryContext(ctx, `SELECT type, name, sql FROM `+schema+`.sqlite_master
			WHERE sql IS NOT NULL ORDER BY rowid`)
		if err != nil {
			return nil, err
		}
		var tables []string
		for rows.Next() {
			var typ, name, ddl string
			if err := rows.Scan(&typ, &name, &ddl); err != nil {
				rows.Close()
				return nil, err
			}
			if strings.HasPrefix(name, "sqlite_") {
				continue // made by SQLite itself (sqlite_sequence)
			}
			if typ == "table" && !bookkeeping[name] {
				tables = append(tables, name) // bookkeeping tables are created, never filled
			}
			if schema == "main" {
				s.MainDDL = append(s.MainDDL, ddl)
			} else {
				s.StoreDDL = append(s.StoreDDL, ddl)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, name := range tables {
			t, err := readTable(ctx, db, schema, name, s.Chunks, batch)
			if err != nil {
				return nil, fmt.Errorf("read %s.%s: %w", schema, name, err)
			}
			s.Tables = append(s.Tables, t)
		}
	}
	return s, nil
}

func readTable(ctx context.Context, db *sql.DB, schema, name string, chunks, batch int) (*Table, error) {
	q := `SELECT ` + chunkExpr(schema, name) + `, t.* FROM ` + schema + `."` + name + `" t`
	if schema == "main" && name == "ledger" {
		q += ` ORDER BY "sequence"`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	t := &Table{Schema: schema, Name: name, Cols: cols[1:]}
	for rows.Next() {
		vals, err := scanAny(rows, len(cols))
		if err != nil {
			return nil, err
		}
		chunk := chunks - 1
		if seq, ok := vals[0].(int64); ok && seq > 0 {
			chunk = min(int((seq-1)/int64(batch)), chunks-1)
		}
		t.Rows = append(t.Rows, vals[1:])
		t.Chunk = append(t.Chunk, chunk)
	}
	return t, rows.Err()
}

// scanAny scans the current row of n columns into driver values.
func scanAny(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

// FloorResult is one timed raw insert of a snapshot.
type FloorResult struct {
	Span
	Rows    int
	Chunks  int
	ByTable map[string]time.Duration
}

// Floor prepares a floor database in dir (PrepareFloor) and times one raw
// insert of the snapshot into it. name names its CPU profile (-profiledir).
func Floor(ctx context.Context, s *Snapshot, dir string, o FloorOptions, p *Pragmas, name string) (*FloorResult, error) {
	f, err := PrepareFloor(ctx, s, dir, o, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	stop := startProfile(name)
	sp, err := f.Insert(ctx)
	if stop(); err != nil {
		return nil, err
	}
	return &FloorResult{Span: sp, Rows: f.rows, Chunks: len(f.chunks), ByTable: f.ByTable}, f.Close()
}

// FloorDB is an empty database pair with the snapshot's schema, statements
// prepared and rows grouped by transaction, ready for one timed Insert.
type FloorDB struct {
	db     *sql.DB
	store  *sql.DB // with FloorOptions.Split: the version store's own connection
	stmts  []*sql.Stmt
	chunks [][]floorPart
	rows   int
	// ByTable is the wall time Insert spent executing each table's
	// statements (commits excluded), by "schema.table".
	ByTable map[string]time.Duration
}

type floorPart struct {
	table string
	st    *sql.Stmt
	query string
	rows  [][]any
}

// FloorOptions selects what a floor writes.
type FloorOptions struct {
	// Keep selects the tables to write (nil: all).
	Keep func(*Table) bool
	// Pattern adds the writes of the engine's chunk pattern (pattern.go).
	Pattern bool
	// Split commits the main file's rows and the version store's on two
	// connections, each chunk's store transaction beside the next chunk's
	// main one (insertSplit): what a design that commits the two files
	// separately could reach. The engine commits both in one transaction.
	Split bool
}

// PrepareFloor creates an empty database pair in dir with the snapshot's
// DDL (main file and attached version store, both in WAL mode, on one
// connection with the settings p, by default DefaultPragmas), prepares one
// single-row INSERT per table and groups the rows of the tables o.Keep
// selects by chunk; with o.Pattern also the closes and working-state
// upserts of the write pattern. Nothing of this is timed.
func PrepareFloor(ctx context.Context, s *Snapshot, dir string, o FloorOptions, p *Pragmas) (_ *FloorDB, err error) {
	keep := o.Keep
	if p == nil {
		p = DefaultPragmas()
	}
	mainPath := filepath.Join(dir, "floor.db")
	storePath := filepath.Join(dir, "floor."+Version+".db")
	for _, path := range []string{mainPath, storePath} {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
				return nil, err
			}
		}
	}
	// The version store is made in its own file first, as the engine does
	// (WAL is set when the file is created).
	sdb, err := openOne(storePath, false)
	if err != nil {
		return nil, err
	}
	for _, q := range s.StoreDDL {
		if _, err := sdb.ExecContext(ctx, q); err != nil {
			sdb.Close()
			return nil, fmt.Errorf("store DDL %q: %w", q, err)
		}
	}
	if err := sdb.Close(); err != nil {
		return nil, err
	}
	db, err := openOne(mainPath, false)
	if err != nil {
		return nil, err
	}
	f := &FloorDB{db: db}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	for _, q := range s.MainDDL {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("main DDL %q: %w", q, err)
		}
	}
	if _, err := db.ExecContext(ctx, `ATTACH ? AS `+Version, storePath); err != nil {
		return nil, err
	}
	for _, q := range p.statements() {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}

	var tables []*Table
	for _, t := range s.Tables {
		if len(t.Rows) > 0 && (keep == nil || keep(t)) {
			tables = append(tables, t)
		}
	}
	// Main tables first, ledger first: the order the engine writes in.
	slices.SortStableFunc(tables, func(a, b *Table) int {
		rank := func(t *Table) int {
			switch {
			case t.Schema == "main" && t.Name == "ledger":
				return 0
			case t.Schema == "main":
				return 1
			}
			return 2
		}
		return rank(a) - rank(b)
	})
	f.chunks = make([][]floorPart, s.Chunks)
	queries := map[*sql.Stmt]string{}
	prepare := func(q string) (*sql.Stmt, error) {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("prepare %s: %w", q, err)
		}
		f.stmts = append(f.stmts, st)
		queries[st] = q
		return st, nil
	}
	if o.Split {
		// The store's connection attaches it under its usual name, so the
		// statements read the same; its own main file stays empty.
		if f.store, err = openOne(filepath.Join(dir, "split.db"), false); err != nil {
			return nil, err
		}
		if _, err := f.store.ExecContext(ctx, `ATTACH ? AS `+Version, storePath); err != nil {
			return nil, err
		}
		for _, q := range p.statements() {
			if _, err := f.store.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	// add appends one part per chunk of rows (nil entries skipped).
	add := func(label string, st *sql.Stmt, byChunk [][][]any, count bool) {
		for c, rows := range byChunk {
			if len(rows) > 0 {
				f.chunks[c] = append(f.chunks[c], floorPart{table: label, st: st, query: queries[st], rows: rows})
				if count {
					f.rows += len(rows)
				}
			}
		}
	}
	var pat *pattern
	if o.Pattern {
		pat = planPattern(s)
	}
	for _, t := range tables {
		cols := make([]string, len(t.Cols))
		for j, c := range t.Cols {
			cols[j] = `"` + c + `"`
		}
		name := t.Schema + `."` + t.Name + `"`
		label := t.Schema + "." + t.Name
		ins := `INSERT INTO ` + name + ` (` + strings.Join(cols, ", ") + `) VALUES (` +
			strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + `)`
		if pat != nil && t == pat.state {
			// Every chunk upserts the states of the entities it touched.
			set := make([]string, 0, len(cols))
			for _, c := range cols[1:] {
				set = append(set, c+` = excluded.`+c)
			}
			st, err := prepare(ins + ` ON CONFLICT (` + cols[0] + `) DO UPDATE SET ` + strings.Join(set, ", "))
			if err != nil {
				return nil, err
			}
			add(label+" (upserts)", st, pat.states, false)
			f.rows += len(t.Rows)
			continue
		}
		rowsOf := t.Rows
		if pat != nil && pat.rows[t] != nil {
			st, err := prepare(`UPDATE ` + name + ` SET "valid_to" = ? WHERE ` + cols[0] +
				` = ? AND "valid_from" = ? AND "superseded_at" IS NULL`)
			if err != nil {
				return nil, err
			}
			add(label+" (closes)", st, pat.closes[t], false)
			rowsOf = pat.rows[t]
		}
		st, err := prepare(ins)
		if err != nil {
			return nil, err
		}
		byChunk := make([][][]any, s.Chunks)
		for j, row := range rowsOf {
			byChunk[t.Chunk[j]] = append(byChunk[t.Chunk[j]], row)
		}
		add(label, st, byChunk, true)
	}
	return f, nil
}

// Rows is the number of rows Insert writes.
func (f *FloorDB) Rows() int { return f.rows }

// Insert writes every prepared row, one BEGIN IMMEDIATE transaction per
// chunk. It can run once.
func (f *FloorDB) Insert(ctx context.Context) (Span, error) {
	f.ByTable = map[string]time.Duration{}
	if f.store != nil {
		return timed(func() error { return f.insertSplit(ctx) })
	}
	return timed(func() error {
		for _, parts := range f.chunks {
			tx, err := f.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			for _, p := range parts {
				t0 := time.Now()
				st := tx.StmtContext(ctx, p.st)
				for _, row := range p.rows {
					if _, err := st.ExecContext(ctx, row...); err != nil {
						tx.Rollback()
						return err
					}
				}
				f.ByTable[p.table] += time.Since(t0)
			}
			t0 := time.Now()
			if err := tx.Commit(); err != nil {
				return err
			}
			f.ByTable["commit"] += time.Since(t0)
		}
		return nil
	})
}

// insertSplit writes the main file's rows of each chunk in one transaction
// on the main connection, and the version store's in one on the store's
// connection, after the chunk's main transaction and beside the next one.
// ByTable is not kept.
func (f *FloorDB) insertSplit(ctx context.Context) error {
	// BEGIN IMMEDIATE takes the write lock of every attached file, so the
	// main connection must not hold the store.
	if _, err := f.db.ExecContext(ctx, `DETACH `+Version); err != nil {
		return err
	}
	run := func(db *sql.DB, parts []floorPart, store bool) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, p := range parts {
			if strings.HasPrefix(p.table, Version+".") != store {
				continue
			}
			st := tx.StmtContext(ctx, p.st)
			if store { // the prepared statements belong to the main connection
				if st, err = tx.PrepareContext(ctx, p.query); err != nil {
					return err
				}
			}
			for _, row := range p.rows {
				if _, err := st.ExecContext(ctx, row...); err != nil {
					return err
				}
			}
		}
		return tx.Commit()
	}
	ready := make(chan int, len(f.chunks)) // chunks whose main transaction committed
	storeErr := make(chan error, 1)
	go func() {
		var err error
		for k := range ready {
			if err == nil {
				err = run(f.store, f.chunks[k], true)
			}
		}
		storeErr <- err
	}()
	var err error
	for k, parts := range f.chunks {
		if err = run(f.db, parts, false); err != nil {
			break
		}
		ready <- k
	}
	close(ready)
	return errors.Join(err, <-storeErr)
}

// Close closes the statements and the database.
func (f *FloorDB) Close() error {
	if f.store != nil {
		f.store.Close()
		f.store = nil
	}
	if f.db == nil {
		return nil
	}
	for _, st := range f.stmts {
		st.Close()
	}
	err := f.db.Close()
	f.db = nil
	return err
}

// ScanLedger times the raw read of a ledger: SELECT every ledger row of the
// closed engine database in dir and json-decode its data (and data_types,
// when present) into Go maps, on a connection with the main-file settings
// of p (nil: SQLite's defaults). It returns the rows read.
func ScanLedger(ctx context.Context, dir string, p *Pragmas) (int, Span, error) {
	db, err := openOne(DBPath(dir), true)
	if err != nil {
		return 0, Span{}, err
	}
	defer db.Close()
	if p != nil {
		for _, q := range (&Pragmas{Main: p.Main}).statements() {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return 0, Span{}, fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	var n int
	sp, err := timed(func() error {
		n, err = scanLedger(ctx, db)
		return err
	})
	return n, sp, err
}

func scanLedger(ctx context.Context, db *sql.DB) (int, error) {
	rows, err := db.QueryContext(ctx, `SELECT "sequence", event_id, source, event_type, "timestamp", data, data_types
		FROM ledger ORDER BY "sequence"`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			seq, ts        int64
			id, src, typ   string
			data           []byte
			types          sql.RawBytes
			decoded, tmeta map[string]any
		)
		if err := rows.Scan(&seq, &id, &src, &typ, &ts, &data, &types); err != nil {
			return 0, err
		}
		if err := json.Unmarshal(data, &decoded); err != nil {
			return 0, fmt.Errorf("ledger row %d: %w", seq, err)
		}
		if len(types) > 0 {
			if err := json.Unmarshal(types, &tmeta); err != nil {
				return 0, fmt.Errorf("ledger row %d: %w", seq, err)
			}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return n, nil
}
