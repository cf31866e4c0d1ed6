//go:build !cgo

package sqlitedriver_test

import sd "github.com/defacto-dev/defacto/bench/sqlitedriver"

// Without cgo github.com/mattn/go-sqlite3 is only a stub that fails at
// Open, so it is not imported and its benchmarks are skipped.
var mattn = sd.Driver{Name: "mattn", Skip: "github.com/mattn/go-sqlite3 needs cgo (built with CGO_ENABLED=0)"}
