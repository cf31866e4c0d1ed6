// Package sqlitedriver holds a benchmark that compares SQLite drivers for
// Go (pure-Go modernc.org/sqlite, cgo github.com/mattn/go-sqlite3 and,
// in the ncruces sub-package, the wasm2go-translated
// github.com/ncruces/go-sqlite3) on defacto's storage pattern: an
// append-only ledger, identity rows, SCD2 history rows and entity state,
// all in one WAL-mode SQLite file.
//
// This file holds the driver-independent workload. The driver imports live
// in the _test.go files, so importing this package pulls in no driver; see
// README.md for the method and the numbers.
package sqlitedriver

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/defacto-dev/defacto/internal/procstat"
)

// Workload sizes. They are constants so that every driver does exactly the
// same work: with -benchtime Nx the final database of each driver is
// byte-for-byte the same sequence of statements.
const (
	// EventsPerTx is the size of one ingest chunk: one BEGIN IMMEDIATE
	// transaction.
	EventsPerTx = 100
	// TxPerOp is the number of chunks in one benchmark iteration of the
	// write benchmark.
	TxPerOp = 10
	// EventsPerOp is the number of events in one write iteration.
	EventsPerOp = EventsPerTx * TxPerOp
	// SeedCustomers is the number of customers that exist (identity,
	// open history row, state) before the write benchmark starts.
	SeedCustomers = 20_000
	// NewCustomerEvery: 1 event in NewCustomerEvery is the first event of
	// a new customer (identity miss, identity INSERT).
	NewCustomerEvery = 5
	// ScanRows is the number of ledger rows of the read benchmark.
	ScanRows = 100_000

	// baseTS is 2025-01-01T00:00:00Z in µs.
	baseTS = int64(1_735_689_600_000_000)
)

// Driver describes one database/sql driver under test.
type Driver struct {
	// Name is the short name used in benchmark names ("modernc", ...).
	Name string
	// SQLName is the name the driver registered with database/sql.
	SQLName string
	// DSN returns the data source name for a database file. It must set
	// WAL, synchronous=NORMAL, secure_delete=ON, a busy timeout, and make
	// BeginTx issue BEGIN IMMEDIATE, for every connection of the pool.
	DSN func(path string) string
	// Skip, when not empty, is why the driver is not available in this
	// build (for example mattn/go-sqlite3 without cgo).
	Skip string
}

// PragmaDSN builds a "file:" DSN that sets the pragmas through repeated
// _pragma parameters (the syntax of modernc.org/sqlite and
// ncruces/go-sqlite3) plus _txlock=immediate.
func PragmaDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=secure_delete(ON)&_txlock=immediate"
}

// Open opens path with d, limited to one connection (defacto has one
// writer; a single connection also keeps prepared statements on one conn).
func Open(d Driver, path string) (*sql.DB, error) {
	db, err := sql.Open(d.SQLName, d.DSN(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Config is what a connection reports about itself.
type Config struct {
	SQLiteVersion string
	JournalMode   string
	Synchronous   int64 // 1 = NORMAL
	SecureDelete  int64 // 1 = ON
	BusyTimeout   int64 // ms
}

// ReadConfig queries the settings the benchmark relies on.
func ReadConfig(db *sql.DB) (Config, error) {
	var c Config
	q := []struct {
		sql string
		dst any
	}{
		{"SELECT sqlite_version()", &c.SQLiteVersion},
		{"PRAGMA journal_mode", &c.JournalMode},
		{"PRAGMA synchronous", &c.Synchronous},
		{"PRAGMA secure_delete", &c.SecureDelete},
		{"PRAGMA busy_timeout", &c.BusyTimeout},
	}
	for _, x := range q {
		if err := db.QueryRow(x.sql).Scan(x.dst); err != nil {
			return c, fmt.Errorf("%s: %w", x.sql, err)
		}
	}
	return c, nil
}

// CheckConfig returns an error unless c is what the benchmark requires.
func CheckConfig(c Config) error {
	if !strings.EqualFold(c.JournalMode, "wal") || c.Synchronous != 1 || c.SecureDelete != 1 || c.BusyTimeout <= 0 {
		return fmt.Errorf("connection not configured as required: %+v", c)
	}
	return nil
}

// Schema is the DDL: STRICT tables shaped like defacto's storage.
var Schema = []string{
	`CREATE TABLE ledger (
		sequence        INTEGER PRIMARY KEY AUTOINCREMENT,
		event_id        TEXT NOT NULL,
		source          TEXT NOT NULL,
		event_type      TEXT NOT NULL,
		timestamp       INTEGER NOT NULL,
		data            TEXT NOT NULL,
		data_types      TEXT,
		raw             TEXT NOT NULL,
		hints           TEXT,
		duplicate_of    INTEGER,
		normalize_error TEXT,
		redacted        INTEGER NOT NULL DEFAULT 0,
		ingested_at     INTEGER NOT NULL
	) STRICT`,
	`CREATE UNIQUE INDEX ledger_event_id ON ledger (event_id) WHERE duplicate_of IS NULL`,
	`CREATE INDEX ledger_timestamp ON ledger (timestamp, sequence)`,
	`CREATE TABLE identity (
		key_hash    TEXT PRIMARY KEY,
		entity_type TEXT NOT NULL,
		entity_id   TEXT NOT NULL,
		first_seen  INTEGER NOT NULL
	) STRICT`,
	`CREATE TABLE event_entities (
		sequence    INTEGER NOT NULL,
		entity_type TEXT NOT NULL,
		entity_id   TEXT NOT NULL,
		PRIMARY KEY (sequence, entity_type)
	) STRICT`,
	`CREATE TABLE customer_history_all (
		history_id    INTEGER PRIMARY KEY,
		customer_id   TEXT NOT NULL,
		email         TEXT,
		name          TEXT,
		plan          TEXT,
		country       TEXT,
		mrr_cents     INTEGER,
		seats         INTEGER,
		active        INTEGER,
		score         REAL,
		valid_from    INTEGER NOT NULL,
		valid_to      INTEGER,
		superseded_at INTEGER,
		sequence      INTEGER NOT NULL
	) STRICT`,
	`CREATE UNIQUE INDEX customer_history_open ON customer_history_all (customer_id, valid_from) WHERE superseded_at IS NULL`,
	`CREATE TABLE entity_state (
		entity_type   TEXT NOT NULL,
		entity_id     TEXT NOT NULL,
		state         TEXT NOT NULL,
		last_sequence INTEGER NOT NULL,
		updated_at    INTEGER NOT NULL,
		PRIMARY KEY (entity_type, entity_id)
	) STRICT`,
}

// The statements of the write pattern, in the order they run per event.
const (
	sqlInsertLedger = `INSERT INTO ledger (event_id, source, event_type, timestamp, data, data_types, raw, hints,
		duplicate_of, normalize_error, redacted, ingested_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, ?)`
	sqlSelectIdentity = `SELECT entity_id FROM identity WHERE key_hash = ?`
	sqlInsertIdentity = `INSERT INTO identity (key_hash, entity_type, entity_id, first_seen) VALUES (?, 'customer', ?, ?)`
	sqlInsertEventEnt = `INSERT INTO event_entities (sequence, entity_type, entity_id) VALUES (?, 'customer', ?)`
	sqlCloseHistory   = `UPDATE customer_history_all SET valid_to = ? WHERE customer_id = ? AND superseded_at IS NULL AND valid_to IS NULL`
	sqlInsertHistory  = `INSERT INTO customer_history_all (customer_id, email, name, plan, country, mrr_cents, seats, active, score,
		valid_from, valid_to, superseded_at, sequence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)`
	sqlUpsertState = `INSERT INTO entity_state (entity_type, entity_id, state, last_sequence, updated_at)
		VALUES ('customer', ?, ?, ?, ?)
		ON CONFLICT (entity_type, entity_id) DO UPDATE SET
			state = excluded.state, last_sequence = excluded.last_sequence, updated_at = excluded.updated_at`
)

// StatementsPerEvent is the average number of statements one event runs:
// ledger INSERT, identity SELECT, event_entities INSERT, history INSERT,
// state UPSERT, plus the identity INSERT for new customers and the history
// UPDATE for known ones (exactly one of the two).
const StatementsPerEvent = 6

// ---------------------------------------------------------------------------
// Deterministic data.

// Event is one generated event with everything the write pattern needs.
type Event struct {
	Seq        int64 // 1-based position in the stream
	EventID    string
	Source     string
	EventType  string
	Timestamp  int64
	IngestedAt int64
	Data       string
	Raw        string
	Hints      string

	Customer    int // customer number
	CustomerID  string
	KeyHash     string
	NewCustomer bool

	Email, Name, Plan, Country string
	MRRCents, Seats            int64
	Active                     bool
	Score                      float64
	State                      string
}

// Gen produces the deterministic event stream. Event n (1-based) belongs to
// a new customer when n%NewCustomerEvery == 0, otherwise to a known customer
// picked by a fixed-seed PRNG.
type Gen struct {
	seq       int64
	customers int // customers known so far
	rng       uint64
	buf       []byte
}

// NewGen returns a generator positioned after the seed: `customers`
// customers already exist and `seq` events were generated.
func NewGen(customers int, seq int64) *Gen {
	return &Gen{seq: seq, customers: customers, rng: 0x9E3779B97F4A7C15 ^ uint64(seq)}
}

func (g *Gen) next64() uint64 { // splitmix64
	g.rng += 0x9E3779B97F4A7C15
	z := g.rng
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

var (
	plans     = [...]string{"free", "starter", "pro", "business", "enterprise"}
	countries = [...]string{"DE", "FR", "US", "GB", "NL", "SE", "ES", "IT", "CA", "JP"}
	sources   = [...]string{"stripe", "app", "crm"}
	types     = [...]string{"customer.updated", "subscription.changed", "seat.added", "login"}
)

// CustomerID is the id of customer n.
func CustomerID(n int) string { return fmt.Sprintf("cus_%07d", n) }

// CustomerEmail is the e-mail of customer n.
func CustomerEmail(n int) string { return fmt.Sprintf("user%07d@example.com", n) }

// KeyHash is the identity key hash of customer n (sha256 hex of the key).
func KeyHash(n int) string {
	h := sha256.Sum256([]byte("customer\x00email\x00" + CustomerEmail(n)))
	return hex.EncodeToString(h[:])
}

// Next returns the next event.
func (g *Gen) Next() Event {
	g.seq++
	n := g.seq
	var e Event
	e.Seq = n
	if n%NewCustomerEvery == 0 {
		e.Customer = g.customers
		e.NewCustomer = true
		g.customers++
	} else {
		e.Customer = int(g.next64() % uint64(g.customers))
	}
	r := g.next64()
	h := sha256.Sum256(strconv.AppendInt([]byte("event\x00"), n, 10))
	e.EventID = hex.EncodeToString(h[:])
	e.Source = sources[r%3]
	e.EventType = types[(r>>8)%4]
	// One event per second, distinct sub-second jitter: valid_from is
	// strictly increasing per customer, so the open-row index stays unique.
	e.Timestamp = baseTS + n*1_000_000 + int64((r>>16)%1000)
	e.IngestedAt = e.Timestamp + 250_000
	e.CustomerID = CustomerID(e.Customer)
	e.KeyHash = KeyHash(e.Customer)
	e.Email = CustomerEmail(e.Customer)
	e.Name = fmt.Sprintf("Customer %d", e.Customer)
	e.Plan = plans[(r>>24)%5]
	e.Country = countries[(r>>32)%10]
	e.MRRCents = int64((r>>40)%500) * 100
	e.Seats = int64((r>>48)%50) + 1
	e.Active = (r>>56)%8 != 0
	e.Score = float64((r>>20)%1000) / 1000

	b := g.buf[:0]
	// data: the normalized event, ~150 bytes of JSON.
	b = append(b, `{"customer_id":"`...)
	b = append(b, e.CustomerID...)
	b = append(b, `","email":"`...)
	b = append(b, e.Email...)
	b = append(b, `","plan":"`...)
	b = append(b, e.Plan...)
	b = append(b, `","mrr_cents":`...)
	b = strconv.AppendInt(b, e.MRRCents, 10)
	b = append(b, `,"seats":`...)
	b = strconv.AppendInt(b, e.Seats, 10)
	b = append(b, `,"country":"`...)
	b = append(b, e.Country...)
	b = append(b, `","active":`...)
	b = strconv.AppendBool(b, e.Active)
	b = append(b, `,"score":`...)
	b = strconv.AppendFloat(b, e.Score, 'g', -1, 64)
	b = append(b, '}')
	e.Data = string(b)

	// raw: the source payload, ~200 bytes of JSON.
	b = b[:0]
	b = append(b, `{"id":"evt_`...)
	b = append(b, e.EventID[:24]...)
	b = append(b, `","type":"`...)
	b = append(b, e.EventType...)
	b = append(b, `","object":{"customer":"`...)
	b = append(b, e.CustomerID...)
	b = append(b, `","email":"`...)
	b = append(b, e.Email...)
	b = append(b, `","plan":{"id":"`...)
	b = append(b, e.Plan...)
	b = append(b, `","amount":`...)
	b = strconv.AppendInt(b, e.MRRCents, 10)
	b = append(b, `},"quantity":`...)
	b = strconv.AppendInt(b, e.Seats, 10)
	b = append(b, `,"address":{"country":"`...)
	b = append(b, e.Country...)
	b = append(b, `"}}}`...)
	e.Raw = string(b)

	// hints: ~150 bytes of JSON.
	b = b[:0]
	b = append(b, `{"identity":{"customer":{"email":"`...)
	b = append(b, e.Email...)
	b = append(b, `"}},"received_via":"webhook","schema_version":3,"trace":"`...)
	b = append(b, e.EventID[24:56]...)
	b = append(b, `"}`...)
	e.Hints = string(b)

	// state: the entity's current state, ~230 bytes of JSON.
	b = b[:0]
	b = append(b, `{"customer_id":"`...)
	b = append(b, e.CustomerID...)
	b = append(b, `","email":"`...)
	b = append(b, e.Email...)
	b = append(b, `","name":"`...)
	b = append(b, e.Name...)
	b = append(b, `","plan":"`...)
	b = append(b, e.Plan...)
	b = append(b, `","country":"`...)
	b = append(b, e.Country...)
	b = append(b, `","mrr_cents":`...)
	b = strconv.AppendInt(b, e.MRRCents, 10)
	b = append(b, `,"seats":`...)
	b = strconv.AppendInt(b, e.Seats, 10)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, e.Active)
	b = append(b, `,"score":`...)
	b = strconv.AppendFloat(b, e.Score, 'g', -1, 64)
	b = append(b, `,"last_event":"`...)
	b = append(b, e.EventType...)
	b = append(b, `"}`...)
	e.State = string(b)
	g.buf = b
	return e
}

// ---------------------------------------------------------------------------
// Write pattern.

// Writer runs the write pattern. Its statements are prepared once on the
// (single) connection and bound to each transaction with Tx.StmtContext,
// which reuses the prepared statement of that connection.
type Writer struct {
	db    *sql.DB
	stmts [7]*sql.Stmt
}

// NewWriter prepares the statements of the write pattern.
func NewWriter(db *sql.DB) (*Writer, error) {
	w := &Writer{db: db}
	for i, q := range [...]string{sqlInsertLedger, sqlSelectIdentity, sqlInsertIdentity, sqlInsertEventEnt,
		sqlCloseHistory, sqlInsertHistory, sqlUpsertState} {
		s, err := db.Prepare(q)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		w.stmts[i] = s
	}
	return w, nil
}

// Close releases the prepared statements.
func (w *Writer) Close() {
	for _, s := range w.stmts {
		if s != nil {
			s.Close()
		}
	}
}

// WriteChunk writes events in one BEGIN IMMEDIATE transaction.
func (w *Writer) WriteChunk(ctx context.Context, events []Event) error {
	tx, err := w.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE through _txlock
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var st [7]*sql.Stmt
	for i, s := range w.stmts {
		st[i] = tx.StmtContext(ctx, s)
	}
	insLedger, selIdent, insIdent, insEnt, closeHist, insHist, upState :=
		st[0], st[1], st[2], st[3], st[4], st[5], st[6]
	for i := range events {
		e := &events[i]
		res, err := insLedger.ExecContext(ctx, e.EventID, e.Source, e.EventType, e.Timestamp, e.Data, nil,
			e.Raw, e.Hints, e.IngestedAt)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return err
		}
		var entityID string
		switch err := selIdent.QueryRowContext(ctx, e.KeyHash).Scan(&entityID); err {
		case nil:
			if e.NewCustomer {
				return fmt.Errorf("identity of new customer %d already exists", e.Customer)
			}
		case sql.ErrNoRows:
			if !e.NewCustomer {
				return fmt.Errorf("identity of customer %d missing", e.Customer)
			}
			entityID = e.CustomerID
			if _, err := insIdent.ExecContext(ctx, e.KeyHash, entityID, e.Timestamp); err != nil {
				return fmt.Errorf("identity: %w", err)
			}
		default:
			return fmt.Errorf("identity lookup: %w", err)
		}
		if _, err := insEnt.ExecContext(ctx, seq, entityID); err != nil {
			return fmt.Errorf("event_entities: %w", err)
		}
		if !e.NewCustomer {
			res, err := closeHist.ExecContext(ctx, e.Timestamp, entityID)
			if err != nil {
				return fmt.Errorf("close history: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return fmt.Errorf("close history of %s: %d rows, %v", entityID, n, err)
			}
		}
		if _, err := insHist.ExecContext(ctx, entityID, e.Email, e.Name, e.Plan, e.Country, e.MRRCents, e.Seats,
			e.Active, e.Score, e.Timestamp, seq); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		if _, err := upState.ExecContext(ctx, entityID, e.State, seq, e.IngestedAt); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	return tx.Commit()
}

// CreateSchema runs the DDL.
func CreateSchema(db *sql.DB) error {
	for _, q := range Schema {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// SeedCustomersTx inserts customers [0, n): identity, open history row and
// state, as if each had one earlier event at a time before baseTS.
func SeedCustomersTx(db *sql.DB, n int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	insIdent, err := tx.Prepare(sqlInsertIdentity)
	if err != nil {
		return err
	}
	insHist, err := tx.Prepare(sqlInsertHistory)
	if err != nil {
		return err
	}
	upState, err := tx.Prepare(sqlUpsertState)
	if err != nil {
		return err
	}
	for c := range n {
		id := CustomerID(c)
		ts := baseTS - int64(n-c)*1_000_000
		if _, err := insIdent.Exec(KeyHash(c), id, ts); err != nil {
			return err
		}
		if _, err := insHist.Exec(id, CustomerEmail(c), fmt.Sprintf("Customer %d", c), "free", "DE", 0, 1, true, 0.5,
			ts, 0); err != nil {
			return err
		}
		state := `{"customer_id":"` + id + `","email":"` + CustomerEmail(c) + `","plan":"free"}`
		if _, err := upState.Exec(id, state, 0, ts); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// InsertLedgerOnly appends the next n events of g to the ledger only, in
// transactions of chunk events (used to build the read benchmark's file).
func InsertLedgerOnly(db *sql.DB, g *Gen, n, chunk int) error {
	for done := 0; done < n; {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		ins, err := tx.Prepare(sqlInsertLedger)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i := 0; i < chunk && done < n; i, done = i+1, done+1 {
			e := g.Next()
			if _, err := ins.Exec(e.EventID, e.Source, e.EventType, e.Timestamp, e.Data, nil, e.Raw, e.Hints,
				e.IngestedAt); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Read pattern.

// EventData is the decoded "data" column of the generated events.
type EventData = map[string]any

// ScanLedger reads the whole ledger in sequence order. With decode it
// unmarshals every data column into a map[string]any (defacto's data is
// schema-driven, not a static Go type). It returns the row count.
func ScanLedger(ctx context.Context, db *sql.DB, decode bool) (int, error) {
	rows, err := db.QueryContext(ctx, `SELECT sequence, event_id, timestamp, data FROM ledger ORDER BY sequence`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var (
		n       int
		seq, ts int64
		eventID string
		data    sql.RawBytes
		lastSeq int64
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &eventID, &ts, &data); err != nil {
			return n, err
		}
		if seq <= lastSeq || len(eventID) != 64 {
			return n, fmt.Errorf("bad row %d %q", seq, eventID)
		}
		lastSeq = seq
		if decode {
			var m EventData
			if err := json.Unmarshal(data, &m); err != nil {
				return n, fmt.Errorf("row %d: %w", seq, err)
			}
			if _, ok := m["seats"].(float64); !ok {
				return n, fmt.Errorf("row %d: no seats in %s", seq, data)
			}
		} else if len(data) < 2 || data[0] != '{' {
			return n, fmt.Errorf("row %d: data %q", seq, data)
		}
		n++
	}
	return n, rows.Err()
}

// ---------------------------------------------------------------------------
// Database templates, built once per process and copied per benchmark so
// that every driver starts from the same bytes.

var templates struct {
	sync.Mutex
	dir   string
	files map[string]string
	err   map[string]error
}

// Template kinds.
const (
	TemplateWrite = "write" // schema + SeedCustomers customers
	TemplateScan  = "scan"  // schema + ScanRows ledger rows
)

// TemplateBuiltWith records which driver built each template.
var TemplateBuiltWith = map[string]string{}

func buildTemplate(d Driver, kind, path string) error {
	db, err := Open(d, path)
	if err != nil {
		return err
	}
	if err := CreateSchema(db); err != nil {
		db.Close()
		return err
	}
	switch kind {
	case TemplateWrite:
		err = SeedCustomersTx(db, SeedCustomers)
	case TemplateScan:
		err = InsertLedgerOnly(db, NewGen(SeedCustomers, 0), ScanRows, 10_000)
	default:
		err = fmt.Errorf("unknown template %q", kind)
	}
	if err == nil {
		_, err = db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// CopyTemplate copies the template database of kind into dir and returns
// its path. The first call for a kind builds the template with d.
func CopyTemplate(d Driver, kind, dir string) (string, error) {
	templates.Lock()
	defer templates.Unlock()
	if templates.files == nil {
		templates.files = map[string]string{}
		templates.err = map[string]error{}
	}
	if err := templates.err[kind]; err != nil {
		return "", err
	}
	src, ok := templates.files[kind]
	if !ok {
		if templates.dir == "" {
			dir, err := os.MkdirTemp("", "sqlitedriver-template-")
			if err != nil {
				return "", err
			}
			templates.dir = dir
		}
		src = filepath.Join(templates.dir, kind+".db")
		if err := buildTemplate(d, kind, src); err != nil {
			templates.err[kind] = err
			return "", fmt.Errorf("build %s template with %s: %w", kind, d.Name, err)
		}
		templates.files[kind] = src
		TemplateBuiltWith[kind] = d.Name
	}
	dst := filepath.Join(dir, kind+".db")
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return dst, out.Close()
}

// RemoveTemplates deletes the template directory (call from TestMain).
func RemoveTemplates() {
	templates.Lock()
	defer templates.Unlock()
	if templates.dir != "" {
		os.RemoveAll(templates.dir)
		templates.dir = ""
		templates.files = nil
	}
}

// ---------------------------------------------------------------------------
// Benchmark bodies shared by this package's tests and the ncruces
// sub-package.

// Result is one benchmark measurement.
type Result struct {
	Bench, Driver string
	PerSec        float64 // events/s or rows/s
	CPUPerUnit    float64 // process CPU µs per event or per 1000 rows
}

var results struct {
	sync.Mutex
	list []Result
}

func record(bench, driver string, v, cpu float64) {
	results.Lock()
	results.list = append(results.list, Result{bench, driver, v, cpu})
	results.Unlock()
}

// Results returns the measurements recorded so far.
func Results() []Result {
	results.Lock()
	defer results.Unlock()
	return append([]Result(nil), results.list...)
}

// OpenFresh copies the template kind into b.TempDir(), opens it with d and
// checks the connection settings. It skips b when d is not available.
func OpenFresh(b testing.TB, d Driver, kind string) *sql.DB {
	b.Helper()
	if d.Skip != "" {
		b.Skip(d.Skip)
	}
	path, err := CopyTemplate(d, kind, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	db, err := Open(d, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	cfg, err := ReadConfig(db)
	if err != nil {
		b.Fatal(err)
	}
	if err := CheckConfig(cfg); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchWrite measures the write pattern: each iteration writes TxPerOp
// transactions of EventsPerTx events. Reports events/s. cacheKiB, when
// not 0, sets PRAGMA cache_size to that many KiB (SQLite's default is
// 2000 KiB); label names the variant in the summary.
func BenchWrite(b *testing.B, d Driver, label string, cacheKiB int) {
	db := OpenFresh(b, d, TemplateWrite)
	if cacheKiB != 0 {
		// One connection that is never closed: the pragma sticks.
		if _, err := db.Exec(fmt.Sprintf("PRAGMA cache_size = -%d", cacheKiB)); err != nil {
			b.Fatal(err)
		}
	}
	w, err := NewWriter(db)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	g := NewGen(SeedCustomers, 0)
	ctx := context.Background()
	chunk := make([]Event, EventsPerTx)
	events := 0
	b.ReportAllocs()
	cpu0 := procstat.Process()
	for b.Loop() {
		for range TxPerOp {
			for i := range chunk {
				chunk[i] = g.Next()
			}
			if err := w.WriteChunk(ctx, chunk); err != nil {
				b.Fatal(err)
			}
			events += len(chunk)
		}
	}
	cpu := float64((procstat.Process() - cpu0).Microseconds()) / float64(events)
	perSec := float64(events) / b.Elapsed().Seconds()
	b.ReportMetric(perSec, "events/s")
	b.ReportMetric(cpu, "cpu-µs/event")
	record(label, d.Name, perSec, cpu)

	// Not timed: the database holds exactly what was written.
	var ledger, hist, open, idents int
	for _, c := range []struct {
		q   string
		dst *int
	}{
		{`SELECT count(*) FROM ledger`, &ledger},
		{`SELECT count(*) FROM customer_history_all`, &hist},
		{`SELECT count(*) FROM customer_history_all WHERE valid_to IS NULL AND superseded_at IS NULL`, &open},
		{`SELECT count(*) FROM identity`, &idents},
	} {
		if err := db.QueryRow(c.q).Scan(c.dst); err != nil {
			b.Fatal(err)
		}
	}
	if ledger != events || hist != SeedCustomers+events || idents != SeedCustomers+events/NewCustomerEvery || open != idents {
		b.Fatalf("after %d events: ledger=%d history=%d open=%d identity=%d", events, ledger, hist, open, idents)
	}
}

// BenchScan measures a full scan of the ScanRows-row ledger; with decode
// the data column is JSON-decoded. Reports rows/s.
func BenchScan(b *testing.B, d Driver, decode bool) {
	db := OpenFresh(b, d, TemplateScan)
	ctx := context.Background()
	rows := 0
	b.ReportAllocs()
	cpu0 := procstat.Process()
	for b.Loop() {
		n, err := ScanLedger(ctx, db, decode)
		if err != nil {
			b.Fatal(err)
		}
		if n != ScanRows {
			b.Fatalf("scanned %d rows, want %d", n, ScanRows)
		}
		rows += n
	}
	cpu := float64((procstat.Process() - cpu0).Microseconds()) / float64(rows) * 1000
	perSec := float64(rows) / b.Elapsed().Seconds()
	b.ReportMetric(perSec, "rows/s")
	b.ReportMetric(cpu, "cpu-µs/krow")
	name := "Scan/raw"
	if decode {
		name = "Scan/decode"
	}
	record(name, d.Name, perSec, cpu)
}

// Main runs the tests and benchmarks of m, prints a summary of the
// recorded measurements (median per driver and the ratio to modernc, when
// modernc ran in the same process), removes the templates and returns the
// exit code. Call it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	RemoveTemplates()
	if rs := Results(); len(rs) > 0 {
		fmt.Print(Summary(rs))
	}
	return code
}

// Summary formats rs: per benchmark and driver the median, min and max
// throughput, the median process CPU time per unit (µs per event for
// writes, per 1000 rows for scans), and the ratios of the medians to
// modernc's (throughput ratio > 1 and CPU ratio < 1 favour the driver).
func Summary(rs []Result) string {
	type key struct{ bench, driver string }
	type vals struct{ perSec, cpu []float64 }
	m := map[key]*vals{}
	var order []key
	for _, r := range rs {
		k := key{r.Bench, r.Driver}
		v, ok := m[k]
		if !ok {
			v = &vals{}
			m[k] = v
			order = append(order, k)
		}
		v.perSec = append(v.perSec, r.PerSec)
		v.cpu = append(v.cpu, r.CPUPerUnit)
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].bench < order[j].bench })
	sorted := func(v []float64) []float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return s
	}
	median := func(v []float64) float64 {
		s := sorted(v)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nsummary: median of runs; ratio = median / modernc's median\n")
	fmt.Fprintf(&sb, "%-20s %-8s %4s %12s %12s %12s %7s %9s %7s\n",
		"bench", "driver", "runs", "median/s", "min/s", "max/s", "ratio", "cpu-µs", "cpu")
	for _, k := range order {
		v := m[k]
		s := sorted(v.perSec)
		ratio, cpuRatio := "-", "-"
		if base, ok := m[key{k.bench, "modernc"}]; ok {
			ratio = fmt.Sprintf("%.2fx", median(v.perSec)/median(base.perSec))
			if c := median(base.cpu); c > 0 {
				cpuRatio = fmt.Sprintf("%.2fx", median(v.cpu)/c)
			}
		}
		fmt.Fprintf(&sb, "%-20s %-8s %4d %12.0f %12.0f %12.0f %7s %9.1f %7s\n",
			k.bench, k.driver, len(s), median(v.perSec), s[0], s[len(s)-1], ratio, median(v.cpu), cpuRatio)
	}
	fmt.Fprintf(&sb, "(/s = events/s for Write, rows/s for Scan; cpu-µs = process CPU per event for Write, per 1000 rows for Scan)\n")
	for _, kind := range []string{TemplateWrite, TemplateScan} {
		if d, ok := TemplateBuiltWith[kind]; ok {
			fmt.Fprintf(&sb, "(%s template built with %s, copied per benchmark)\n", kind, d)
		}
	}
	return sb.String()
}

// CheckDriver is a quick functional test of d on a small database: the
// connection settings, the write pattern, the read pattern, and that
// BeginTx really takes the write lock (BEGIN IMMEDIATE).
func CheckDriver(t *testing.T, d Driver) {
	t.Helper()
	if d.Skip != "" {
		t.Skip(d.Skip)
	}
	path := filepath.Join(t.TempDir(), "check.db")
	db, err := Open(d, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg, err := ReadConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckConfig(cfg); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: SQLite %s, %+v", d.Name, cfg.SQLiteVersion, cfg)
	if err := CreateSchema(db); err != nil {
		t.Fatal(err)
	}
	const customers, chunks = 100, 3
	if err := SeedCustomersTx(db, customers); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(db)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	g := NewGen(customers, 0)
	ctx := context.Background()
	for range chunks {
		chunk := make([]Event, EventsPerTx)
		for i := range chunk {
			chunk[i] = g.Next()
		}
		if err := w.WriteChunk(ctx, chunk); err != nil {
			t.Fatal(err)
		}
	}
	var stateSeq int64
	if err := db.QueryRow(`SELECT max(last_sequence) FROM entity_state`).Scan(&stateSeq); err != nil {
		t.Fatal(err)
	}
	if stateSeq != chunks*EventsPerTx {
		t.Errorf("entity_state max(last_sequence) = %d, want %d", stateSeq, chunks*EventsPerTx)
	}
	n, err := ScanLedger(ctx, db, true)
	if err != nil || n != chunks*EventsPerTx {
		t.Fatalf("scan: %d rows, %v", n, err)
	}

	// BEGIN IMMEDIATE: while tx holds the write lock, a second connection
	// with no busy timeout cannot begin.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	db2, err := Open(d, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, err := db2.Exec(`PRAGMA busy_timeout = 0`); err != nil {
		t.Fatal(err)
	}
	if tx2, err := db2.BeginTx(ctx, nil); err == nil {
		tx2.Rollback()
		t.Fatalf("%s: second BeginTx succeeded while the first holds the lock: BeginTx is not BEGIN IMMEDIATE", d.Name)
	} else {
		t.Logf("second writer refused as expected: %v", err)
	}
}
