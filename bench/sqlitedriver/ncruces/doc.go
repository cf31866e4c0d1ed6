// Package ncruces runs the sqlitedriver benchmark with
// github.com/ncruces/go-sqlite3 (SQLite compiled to Wasm and translated to
// Go by wasm2go; no cgo). It is a separate package because that driver and
// github.com/mattn/go-sqlite3 both register the database/sql name
// "sqlite3", which panics in one binary. Only test files use the driver.
package ncruces
