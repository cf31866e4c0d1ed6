package defacto

import (
	"log/slog"
	"regexp"
	"runtime"
	"time"
)

// Defaults for Config fields left at their zero value.
const (
	DefaultNamespace = "defacto"
	DefaultBatchSize = 5000
)

// Config tunes an engine. A nil *Config, or any zero field, means the
// documented default.
type Config struct {
	// Database is where state lives. Empty: a SQLite file
	// <project>/.defacto/defacto.db (a temporary file for in-memory
	// definitions). A bare path or "sqlite:" URL selects SQLite;
	// "postgres:"/"postgresql:" selects PostgreSQL.
	Database string

	// Namespace names one independent installation (default "defacto").
	Namespace string

	// Version names the opened definitions (default: the first 8 characters
	// of their content hash).
	Version string

	// BatchSize is the number of records per ingest chunk, each chunk one
	// transaction, and of ledger events per identity step of a build (at
	// least 1000 there). Default 5000: the spec's 100 made an inline ingest
	// write almost five times as many pages (docs/design.md).
	BatchSize int

	// Workers is reserved for parallel interpretation across entities
	// (default: number of CPUs). The engine currently interprets on the
	// calling goroutine, since commits, not CPU, bound a chunk; results will
	// never depend on it.
	Workers int

	// ShardID and TotalShards split interpretation across processes on
	// PostgreSQL (scale.md §3): this process owns the entities whose id
	// hashes to ShardID modulo TotalShards. Both are set together;
	// TotalShards 0 means unsharded. TotalShards is fixed by the
	// namespace's first open.
	ShardID, TotalShards int

	// ManualBuild turns automatic builds off: processing calls that need a
	// full build return ErrBuildRequired instead of running it.
	ManualBuild bool

	// Clock is the engine clock (default: system clock, UTC). It never
	// supplies now() during interpretation, which is event time. An ingest
	// call may call it from two goroutines at once.
	Clock func() time.Time

	// Salt is the namespace's identity salt (32 bytes), used only when the
	// namespace is created (default: random). Ids derive from it.
	Salt []byte

	// DeadLetter receives every failure of every result (default none).
	DeadLetter DeadLetter

	// Logger receives structured logs; it never receives field values
	// (default: discard).
	Logger *slog.Logger
}

// DeadLetter is a sink for failed events. DeadLetterFile is the one kind
// available now.
type DeadLetter interface{ deadLetterKind() string }

// DeadLetterFile appends one JSON object per failure to Path (JSON Lines),
// creating parent directories.
type DeadLetterFile struct{ Path string }

func (DeadLetterFile) deadLetterKind() string { return "file" }

var namespaceRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,29}$`)

// resolved returns a copy with defaults filled in, or an ErrConfig error
// naming the bad field.
func (c *Config) resolved() (Config, error) {
	var r Config
	if c != nil {
		r = *c
	}
	if r.Namespace == "" {
		r.Namespace = DefaultNamespace
	}
	if !namespaceRE.MatchString(r.Namespace) {
		return r, errorf(ErrConfig, "config: Namespace %q must match %s", r.Namespace, namespaceRE)
	}
	if r.BatchSize == 0 {
		r.BatchSize = DefaultBatchSize
	}
	if r.BatchSize < 0 {
		return r, errorf(ErrConfig, "config: BatchSize must be positive, got %d", r.BatchSize)
	}
	if r.Workers == 0 {
		r.Workers = runtime.NumCPU()
	}
	if r.Workers < 0 {
		return r, errorf(ErrConfig, "config: Workers must be positive, got %d", r.Workers)
	}
	if r.Clock == nil {
		r.Clock = func() time.Time { return time.Now().UTC() }
	}
	if r.Salt != nil && len(r.Salt) != 32 {
		return r, errorf(ErrConfig, "config: Salt must be 32 bytes, got %d", len(r.Salt))
	}
	if r.Version != "" && !versionRE.MatchString(r.Version) {
		return r, errorf(ErrConfig, "config: Version %q must match %s", r.Version, versionRE)
	}
	if r.DeadLetter != nil {
		if _, ok := r.DeadLetter.(DeadLetterFile); !ok {
			return r, errorf(ErrConfig, "config: unsupported DeadLetter kind %T", r.DeadLetter)
		}
	}
	if r.TotalShards == 0 && r.ShardID != 0 {
		return r, errorf(ErrConfig, "config: ShardID %d given without TotalShards", r.ShardID)
	}
	if r.TotalShards < 0 || r.TotalShards > 1024 {
		return r, errorf(ErrConfig, "config: TotalShards must be between 1 and 1024, got %d", r.TotalShards)
	}
	if r.TotalShards > 0 && (r.ShardID < 0 || r.ShardID >= r.TotalShards) {
		return r, errorf(ErrConfig, "config: ShardID must be in [0, %d), got %d", r.TotalShards, r.ShardID)
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

var versionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,31}$`)
