// Package cli is the defacto command line.
//
// Main parses the global flags and one command, opens the engine on the
// project directory when the command needs it, runs the command and maps the
// outcome to an exit code: 0 success, 1 failure, 2 usage error, 3 partial
// success (an ingest where some records failed and the rest landed).
//
// Each command is a plain type with flags, positional arguments and a Run
// method that writes its output through *Options (stdout, stderr and the
// output format). Results print as pretty JSON (--output json), one JSON line
// (jsonl) or readable "key: value" lines (table); query rows print through
// defacto.Rows in all four formats. The output contract is documented in
// docs/cli.md and pinned by the golden tests in testdata/golden.
package cli
