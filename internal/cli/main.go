package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/defacto-dev/defacto"
)

// Exit codes (docs/cli.md).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	ExitPartial = 3
)

// Options are the global settings and I/O every command receives.
type Options struct {
	Project    string // --project, default "."
	Database   string // --database or DEFACTO_DATABASE
	Namespace  string // --namespace or DEFACTO_NAMESPACE
	Output     string // table, json, jsonl or csv
	LogLevel   string // debug, info, warn, error
	LogFormat  string // console or json
	DeadLetter string // --dead-letter FILE
	BatchSize  int    // ingest --batch-size; 0 is the engine default

	// Now is the engine clock from DEFACTO_NOW; zero means the system clock.
	Now time.Time

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// StdinTerminal and StderrTerminal report whether those streams are
	// terminals (no piped input; progress bars allowed).
	StdinTerminal  bool
	StderrTerminal bool

	Logger *slog.Logger
}

// configHook, when set (by tests), adjusts every engine Config before Open:
// the CLI itself never exposes the identity salt.
var configHook func(*defacto.Config)

// Config returns the engine configuration the global flags describe.
func (o *Options) Config() *defacto.Config {
	c := &defacto.Config{
		Database:  o.Database,
		Namespace: o.Namespace,
		Logger:    o.Logger,
		BatchSize: o.BatchSize,
	}
	if !o.Now.IsZero() {
		now := o.Now
		c.Clock = func() time.Time { return now }
	}
	if o.DeadLetter != "" {
		c.DeadLetter = defacto.DeadLetterFile{Path: o.DeadLetter}
	}
	if configHook != nil {
		configHook(c)
	}
	return c
}

// Open opens the engine on the project directory, which registers its
// definitions as the active version (never builds).
func (o *Options) Open(ctx context.Context) (*defacto.Engine, error) {
	if err := checkProject(o.Project); err != nil {
		return nil, err
	}
	eng, err := defacto.Open(ctx, o.Project, o.Config())
	if err != nil {
		return nil, openError(err)
	}
	return eng, nil
}

// now is the engine clock.
func (o *Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now().UTC()
	}
	return o.Now
}

// Error is a failure with its exit code. An empty Msg means the command has
// already reported it (e.g. an ingest result with failures), so Main prints
// nothing more.
type Error struct {
	Code int
	Msg  string
	Hint string
}

func (e *Error) Error() string { return e.Msg }

func usageErrorf(format string, args ...any) *Error {
	return &Error{Code: ExitUsage, Msg: fmt.Sprintf(format, args...)}
}

// Main runs the defacto command line with args (without the program name)
// and returns the exit code. env reads environment variables; isTerminal
// reports whether a file descriptor is a terminal (used for streams that
// have an Fd method, such as *os.File).
func Main(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer, isTerminal func(fd uintptr) bool) int {
	if env == nil {
		env = func(string) string { return "" }
	}
	if isTerminal == nil {
		isTerminal = func(uintptr) bool { return false }
	}
	o := &Options{
		Project:   ".",
		Database:  env("DEFACTO_DATABASE"),
		Namespace: env("DEFACTO_NAMESPACE"),
		LogLevel:  "warn",
		LogFormat: "console",
		Stdin:     stdin,
		Stdout:    stdout,
		Stderr:    stderr,
	}
	term := func(s any) bool {
		f, ok := s.(interface{ Fd() uintptr })
		return ok && isTerminal(f.Fd())
	}
	o.StdinTerminal, o.StderrTerminal = term(stdin), term(stderr)

	inv, err := parse(args, o)
	if err == nil && inv.help {
		inv.writeHelp(stdout)
		return ExitOK
	}
	if err == nil {
		err = o.finish(env, term(stdout), inv.spec)
	}
	if err == nil {
		err = inv.cmd.Run(ctx, o)
	}
	if err == nil {
		return ExitOK
	}
	return report(stderr, err, inv)
}

// finish validates the global settings after parsing and applies defaults
// that depend on the environment.
func (o *Options) finish(env func(string) string, stdoutTerminal bool, sp *spec) error {
	if o.Output == "" {
		o.Output = "json"
		if stdoutTerminal {
			o.Output = "table"
		}
	}
	switch o.Output {
	case "table", "json", "jsonl":
	case "csv":
		if !sp.rows {
			return usageErrorf("--output csv applies to commands that print rows (table, history, relationships, ledger events, definitions list); use table, json or jsonl for %s", sp.name)
		}
	default:
		return usageErrorf("invalid value %q for --output: use table, json, jsonl or csv%s", o.Output, didYouMean(o.Output, []string{"table", "json", "jsonl", "csv"}, ""))
	}
	var level slog.Level
	switch strings.ToLower(o.LogLevel) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return usageErrorf("invalid value %q for --log-level: use debug, info, warn or error", o.LogLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.LogFormat {
	case "console", "text":
		o.Logger = slog.New(slog.NewTextHandler(o.Stderr, hopts))
	case "json":
		o.Logger = slog.New(slog.NewJSONHandler(o.Stderr, hopts))
	default:
		return usageErrorf("invalid value %q for --log-format: use console or json", o.LogFormat)
	}
	if s := env("DEFACTO_NOW"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return usageErrorf("DEFACTO_NOW=%q is not an RFC 3339 instant (e.g. 2024-03-15T00:00:00Z)", s)
		}
		o.Now = t.UTC()
	}
	return nil
}

// report prints err once on stderr and returns its exit code.
func report(stderr io.Writer, err error, inv *invocation) int {
	var e *Error
	if !errors.As(err, &e) {
		e = libraryError(err)
	}
	if e.Msg != "" {
		fmt.Fprintf(stderr, "defacto: %s\n", e.Msg)
		hint := e.Hint
		if hint == "" && e.Code == ExitUsage {
			hint = "run `defacto --help` for usage"
			if inv != nil && inv.spec != nil {
				hint = fmt.Sprintf("run `defacto %s --help` for usage", inv.spec.name)
			}
		}
		if hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", hint)
		}
	}
	if e.Code == ExitOK {
		return ExitFailure
	}
	return e.Code
}

// libraryError turns an engine error into a failure with a hint where the
// fix is obvious.
func libraryError(err error) *Error {
	e := &Error{Code: ExitFailure, Msg: err.Error()}
	switch {
	case errors.Is(err, context.Canceled):
		e.Msg = "interrupted"
	case errors.Is(err, defacto.ErrBuildRequired):
		e.Hint = "run `defacto build`"
	}
	return e
}

// checkProject refuses directories that hold no definitions, before the
// engine creates a database in them.
func checkProject(dir string) error {
	if hasDefinitions(dir) {
		return nil
	}
	msg := fmt.Sprintf("%s is not a defacto project: it has no entities/, sources/ or schemas/ directory", dir)
	if _, err := os.Stat(dir); err != nil {
		msg = fmt.Sprintf("project directory %s does not exist", dir)
	}
	return &Error{Code: ExitFailure, Msg: msg, Hint: "run `defacto init` to scaffold a project, or pass --project DIR"}
}

// openError explains a failure to open the project.
func openError(err error) error {
	e := libraryError(err)
	var de *defacto.DefinitionError
	if errors.As(err, &de) {
		e.Hint = "fix the definitions; `defacto validate` checks them without a database"
	}
	return e
}

// hasDefinitions reports whether dir has any definition sub-directory.
func hasDefinitions(dir string) bool {
	for _, sub := range []string{"entities", "sources", "schemas", "events"} {
		if fi, err := os.Stat(dir + string(os.PathSeparator) + sub); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}
