package defacto

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/identity"
	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/normalize"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/store/postgres"
	"github.com/defacto-dev/defacto/internal/store/sqlite"
)

// totalShards is the namespace's shard count (1 when unsharded).
func (e *Engine) totalShards() int {
	if e.cfg.TotalShards > 1 {
		return e.cfg.TotalShards
	}
	return 1
}

// owns reports whether this process interprets entity id (scale.md §3).
func (e *Engine) owns(id string) bool {
	if !e.sharded {
		return true
	}
	return int(identity.ShardHash(id)%uint32(e.cfg.TotalShards)) == e.cfg.ShardID
}

// Meta keys of the namespace (scale.md §1).
const (
	metaSalt               = "salt"
	metaIdentityCursor     = "identity_cursor"
	metaIdentityEpoch      = "identity_epoch"
	metaIdentityRecord     = "identity_record"
	metaNormalizationEpoch = "normalization_epoch"
	metaNormalizationRec   = "normalization_record"
	metaLastBuiltVersion   = "last_built_version"
	metaTotalShards        = "total_shards"
	metaLedgerSources      = "ledger_sources"
)

// Engine is an open defacto namespace: definitions plus a database. It is
// safe for concurrent use. Write calls (ingest, build, tick, merge, erase,
// activation) are serialized. Reads (queries, timelines, graphs, exports,
// status) wait for a write call in progress, except for an ingest's chunk
// commits: they run beside those, on what is committed, also while an
// ingest streams from a reader that stays open.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	st     store.Store
	tmpDir string // removed at Close (in-memory definitions without Database)
	salt   []byte

	// cur is the active version with everything derived from its
	// definitions. Activate replaces it as a whole, so a reader on another
	// goroutine sees one version's definitions, machines and name, never a
	// mix; writers (under mu) read it as they please.
	cur atomic.Pointer[active]

	postgres bool // the backend is PostgreSQL
	sharded  bool // TotalShards > 1

	dead *deadLetterWriter
	// mergesSkipped counts merge directives skipped by the identity stage
	// (reset by each build, under the write lock).
	mergesSkipped int

	// mu serializes write calls in this process. excl is held with it for
	// the whole call, except while an ingest commits its chunks: reads pass
	// through excl (isClosed), so they wait for an activation, a build or an
	// erasure to finish, as they always did, but not for an ingest that
	// lasts as long as its input stream.
	mu       sync.Mutex
	excl     sync.RWMutex
	exclHeld bool        // excl is held by the write call holding mu
	closed   atomic.Bool // set by Close, under mu
	// settled says that the last write call of this engine was a Process
	// ingest that succeeded, so the build-mode detection of the next one
	// would find no build to run unless another connection committed since
	// (see ingest). begin clears it and keeps its value in wasSettled for
	// the call it starts. Both under mu.
	settled, wasSettled bool
	// notedSources holds the sources this engine has seen in the
	// namespace's ledger-sources record, which only grows (under mu).
	notedSources map[string]bool

	// Test seams of builds: groupSize, when set, replaces
	// rebuildGroupSize, and afterGroup runs after each commit of a full
	// rebuild's group i, or of an incremental build's step (i = -1).
	groupSize  int
	afterGroup func(i int)
}

// active is the engine's view of one definition version.
type active struct {
	version  string
	defs     *definition.Set
	norm     *normalize.Normalizer
	machines map[string]*interpret.Machine
	rels     map[string]*definition.Relationship // every relationship type
	relOwner map[string]*definition.Entity       // relationship type → declaring entity
	relres   *relateResolver
}

// act returns the active version's view.
func (e *Engine) act() *active { return e.cur.Load() }

// Definitions is a parsed, validated definition set.
type Definitions struct {
	set      *definition.Set
	dir      string
	warnings []Problem
}

// Problem is one validation finding with its place.
type Problem = definition.Problem

// Warnings returns the non-blocking problems found while loading.
func (d *Definitions) Warnings() []Problem { return d.warnings }

// DefinitionError lists every problem of an invalid definition set. It
// matches ErrDefinition.
type DefinitionError struct {
	Problems []Problem
}

func (e *DefinitionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid definitions (%d error", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString(")")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(formatProblem(p))
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrDefinition) hold.
func (e *DefinitionError) Unwrap() error { return ErrDefinition }

func formatProblem(p Problem) string {
	var loc string
	switch {
	case p.File != "" && p.Line > 0:
		loc = fmt.Sprintf("%s:%d:%d: ", p.File, p.Line, p.Column)
	case p.File != "":
		loc = p.File + ": "
	}
	if p.Path != "" {
		loc += p.Path + ": "
	}
	return loc + p.Message
}

// ValidationResult is the outcome of validating definitions.
type ValidationResult struct {
	Valid    bool      `json:"valid"`
	Errors   []Problem `json:"errors"`
	Warnings []Problem `json:"warnings"`
}

func toValidation(res *definition.Result) *ValidationResult {
	v := &ValidationResult{Valid: res.Valid, Errors: res.Errors, Warnings: res.Warnings}
	if v.Errors == nil {
		v.Errors = []Problem{}
	}
	if v.Warnings == nil {
		v.Warnings = []Problem{}
	}
	return v
}

// ValidateDir validates the definitions of a project directory. It needs no
// database.
func ValidateDir(dir string) *ValidationResult {
	_, res, err := definition.LoadDir(dir)
	return validationOf(res, err)
}

// ValidateBytes validates an in-memory definition set (YAML or JSON).
func ValidateBytes(data []byte) *ValidationResult {
	_, res, err := definition.LoadBytes(data, "")
	return validationOf(res, err)
}

func validationOf(res *definition.Result, err error) *ValidationResult {
	if res != nil {
		return toValidation(res)
	}
	return &ValidationResult{Errors: []Problem{{Severity: "error", Kind: "load", Message: err.Error()}}, Warnings: []Problem{}}
}

// LoadDefinitions loads and validates a project directory (entities/,
// sources/, schemas/).
func LoadDefinitions(dir string) (*Definitions, error) {
	set, res, err := definition.LoadDir(dir)
	if err := definitionsErr(res, err); err != nil {
		return nil, err
	}
	return &Definitions{set: set, dir: dir, warnings: res.Warnings}, nil
}

// ParseDefinitions parses and validates an in-memory definition set: YAML
// or JSON of the form {entities: …, sources: …, schemas: …}.
func ParseDefinitions(data []byte) (*Definitions, error) {
	set, res, err := definition.LoadBytes(data, "")
	if err := definitionsErr(res, err); err != nil {
		return nil, err
	}
	return &Definitions{set: set, warnings: res.Warnings}, nil
}

func definitionsErr(res *definition.Result, err error) error {
	if res != nil && !res.Valid {
		return &DefinitionError{Problems: res.Errors}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errorf(ErrDefinition, "definitions: %v", err)
		}
		var de *definition.Error
		if errors.As(err, &de) {
			return &DefinitionError{Problems: de.Problems}
		}
		return errorf(ErrDefinition, "definitions: %v", err)
	}
	return nil
}

// Open opens (creating on first use) the engine for a project directory:
// its definitions are loaded from entities/, sources/ and schemas/, and the
// database defaults to <project>/.defacto/defacto.db. Opening registers the
// definitions if their content is new and makes them the active version; it
// never builds.
func Open(ctx context.Context, project string, cfg *Config) (*Engine, error) {
	defs, err := LoadDefinitions(project)
	if err != nil {
		return nil, err
	}
	return OpenDefinitions(ctx, defs, cfg)
}

// OpenDefinitions opens the engine with already loaded definitions. Without
// Config.Database, definitions from a directory use <dir>/.defacto/ and
// in-memory ones a temporary database removed at Close.
func OpenDefinitions(ctx context.Context, defs *Definitions, cfg *Config) (*Engine, error) {
	c, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: c, log: c.Logger}
	e.cur.Store(&active{defs: defs.set})
	path, err := e.databasePath(defs)
	if err != nil {
		return nil, err
	}
	st, err := e.openStore(ctx, path)
	if err != nil {
		e.cleanup()
		return nil, err
	}
	e.st = st
	if e.postgres && c.TotalShards > 1 {
		e.sharded = true
	}
	if c.DeadLetter != nil {
		e.dead = newDeadLetterWriter(c.DeadLetter.(DeadLetterFile).Path, c.Namespace, c.Logger)
	}
	if err := e.init(ctx); err != nil {
		_ = e.Close()
		return nil, err
	}
	e.log.Info("opened", "database", path, "version", e.act().version)
	return e, nil
}

// openStore opens the backend the database path or URL names.
func (e *Engine) openStore(ctx context.Context, path string) (store.Store, error) {
	c := e.cfg
	if e.postgres {
		st, err := postgres.Open(ctx, path, postgres.Options{Namespace: c.Namespace, Logger: c.Logger,
			ShardID: c.ShardID, TotalShards: c.TotalShards})
		if err != nil {
			if errors.Is(err, store.ErrForeign) {
				return nil, errorf(ErrConfig, "database %s: %v", redactURL(path), err)
			}
			return nil, &StorageError{Op: "open database " + redactURL(path), Err: err}
		}
		return st, nil
	}
	if c.TotalShards > 1 {
		return nil, errorf(ErrConfig, "config: sharding needs PostgreSQL; SQLite serializes all writers in one file")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, storageErr("create database directory", err)
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{Namespace: c.Namespace, Logger: c.Logger})
	if err != nil {
		if errors.Is(err, store.ErrForeign) {
			return nil, errorf(ErrConfig, "database %s: %v", path, err)
		}
		return nil, storageErr("open database", err)
	}
	return st, nil
}

func (e *Engine) databasePath(defs *Definitions) (string, error) {
	db := e.cfg.Database
	switch {
	case strings.HasPrefix(db, "postgres:"), strings.HasPrefix(db, "postgresql:"):
		e.postgres = true
		return db, nil
	case strings.HasPrefix(db, "sqlite:"):
		db = strings.TrimPrefix(db, "sqlite:")
		db = strings.TrimPrefix(db, "//")
		if db == "" {
			return "", errorf(ErrConfig, "config: Database %q names no file", e.cfg.Database)
		}
		return db, nil
	case strings.Contains(db, "://"):
		return "", errorf(ErrConfig, "config: Database %q: unknown scheme (use a path, sqlite:, postgres: or postgresql:)", redactURL(db))
	case db != "":
		return db, nil
	case defs.dir != "":
		return filepath.Join(defs.dir, ".defacto", "defacto.db"), nil
	}
	dir, err := os.MkdirTemp("", "defacto-")
	if err != nil {
		return "", storageErr("create temporary database", err)
	}
	e.tmpDir = dir
	return filepath.Join(dir, "defacto.db"), nil
}

// redactURL hides a password in a database URL before it reaches a message.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	creds := u[scheme+3 : at]
	if i := strings.Index(creds, ":"); i >= 0 {
		return u[:scheme+3] + creds[:i] + ":***" + u[at:]
	}
	return u
}

func (e *Engine) cleanup() {
	if e.tmpDir != "" {
		_ = os.RemoveAll(e.tmpDir)
		e.tmpDir = ""
	}
}

// Close releases the database. It is idempotent: later calls return
// ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.excl.Lock()
	defer e.excl.Unlock()
	if e.closed.Load() {
		return ErrClosed
	}
	e.closed.Store(true)
	var err error
	if e.dead != nil {
		err = errors.Join(err, e.dead.Close())
	}
	if e.st != nil {
		err = errors.Join(err, e.st.Close())
	}
	e.cleanup()
	if err != nil {
		return storageErr("close", err)
	}
	return nil
}

// Version returns the name of the active definition version.
func (e *Engine) Version() string { return e.act().version }

// init prepares the namespace and registers the definitions as the active
// version (builds.md §5, D1).
func (e *Engine) init(ctx context.Context) error {
	return e.write(ctx, "open", func(tx store.Tx) error {
		saltHex, ok, err := tx.Meta(ctx, metaSalt)
		if err != nil {
			return err
		}
		if !ok {
			salt := e.cfg.Salt
			if salt == nil {
				salt = make([]byte, 32)
				if _, err := rand.Read(salt); err != nil {
					return fmt.Errorf("generate salt: %w", err)
				}
			}
			saltHex = hex.EncodeToString(salt)
			for k, v := range map[string]string{
				metaSalt: saltHex, metaIdentityCursor: "0", metaIdentityEpoch: "0",
				metaNormalizationEpoch: "0", metaLedgerSources: "[]",
			} {
				if err := tx.SetMeta(ctx, k, v); err != nil {
					return err
				}
			}
		}
		e.salt, err = hex.DecodeString(saltHex)
		if err != nil || len(e.salt) != 32 {
			return fmt.Errorf("meta: salt is not 32 hex-encoded bytes")
		}
		return e.registerActive(ctx, tx)
	})
}

// setActive makes version, with definitions set, the engine's active view.
func (e *Engine) setActive(version string, set *definition.Set) {
	a := &active{
		version: version, defs: set, norm: normalize.New(set),
		rels: map[string]*definition.Relationship{}, relOwner: map[string]*definition.Entity{},
		machines: make(map[string]*interpret.Machine, len(set.Entities)),
		relres:   &relateResolver{e: e},
	}
	for _, ent := range set.Entities {
		for _, r := range ent.Relationships {
			a.rels[r.Type] = r
			a.relOwner[r.Type] = ent
		}
	}
	for _, ent := range set.Entities {
		a.machines[ent.Name] = interpret.NewMachine(ent, a.rels, a.relres)
	}
	e.cur.Store(a)
}

// write runs f in one write transaction, committing on success. The
// transaction excludes every other writer of the namespace (store.ScopeAll).
func (e *Engine) write(ctx context.Context, op string, f func(tx store.Tx) error) error {
	return e.writeScope(ctx, op, store.ScopeAll, f)
}

// writeScope is write for a transaction that changes only what scope
// allows, so that on a backend with parallel writers (PostgreSQL) it
// excludes only the writers it conflicts with: shard processes interpret
// at the same time, and appends go on beside them (scale.md §2). f must
// stay inside scope; backends with one writer ignore it.
func (e *Engine) writeScope(ctx context.Context, op string, scope store.Scope, f func(tx store.Tx) error) error {
	return e.writeTx(ctx, op, scope, false, f)
}

// writeTx is writeScope; pipelined lets a store that can (SQLite) return
// before the version store's commit has ended (store.PipelinedCommitter):
// the caller must then call settle before its results are read.
func (e *Engine) writeTx(ctx context.Context, op string, scope store.Scope, pipelined bool, f func(tx store.Tx) error) error {
	var (
		tx  store.Tx
		err error
	)
	if sb, ok := e.st.(store.ScopedBeginner); ok && scope != store.ScopeAll {
		tx, err = sb.BeginScope(ctx, scope, e.act().version)
	} else {
		tx, err = e.st.Begin(ctx)
	}
	if err != nil {
		return storageErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := f(tx); err != nil {
		return wrapOp(op, err)
	}
	commit := tx.Commit
	if pc, ok := tx.(store.PipelinedCommitter); ok && pipelined {
		commit = pc.CommitPipelined
	}
	if err := commit(); err != nil {
		return storageErr(op+": commit", err)
	}
	return nil
}

// settle waits for a version-store commit left running by a pipelined
// writeTx and returns its failure as a storage error of op. The events of
// that transaction are in the ledger; the next build or processing call
// interprets them again (docs/design.md, batch atomicity).
func (e *Engine) settle(ctx context.Context, op string) error {
	if s, ok := e.st.(store.Settler); ok {
		if err := s.Settle(ctx); err != nil {
			return storageErr(op+": commit of the version store (the events are in the ledger and will be interpreted by the next build or processing call)", err)
		}
	}
	return nil
}

// wrapOp keeps typed engine errors as they are and marks anything else as a
// storage failure of op.
func wrapOp(op string, err error) error {
	var ke *kindError
	var de *DefinitionError
	if errors.As(err, &ke) || errors.As(err, &de) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return storageErr(op, err)
}

// begin checks the engine is usable and takes the write lock.
func (e *Engine) begin() (func(), error) {
	e.mu.Lock()
	if e.closed.Load() {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	e.excl.Lock()
	e.exclHeld = true
	e.wasSettled, e.settled = e.settled, false
	return func() {
		e.shareWithReads()
		e.mu.Unlock()
	}, nil
}

// shareWithReads lets reads run beside the rest of the write call that
// holds mu (an ingest's chunk commits); excludeReads takes them back.
func (e *Engine) shareWithReads() {
	if e.exclHeld {
		e.exclHeld = false
		e.excl.Unlock()
	}
}

func (e *Engine) excludeReads() {
	if !e.exclHeld {
		e.excl.Lock()
		e.exclHeld = true
	}
}
