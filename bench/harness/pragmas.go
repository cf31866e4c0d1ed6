package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/defacto-dev/defacto/internal/store/sqlite"
)

// Pragmas are the SQLite settings of an engine connection, read from a
// live connection of the engine's own store, so the floor always runs with
// what the engine runs with, whatever the engine's connector sets today.
type Pragmas struct {
	// Conn holds connection-wide settings (temp_store, wal_autocheckpoint,
	// foreign_keys), Main those of the main file and Store those of the
	// attached version store (journal_mode, synchronous, secure_delete,
	// cache_size, mmap_size).
	Conn, Main, Store map[string]string
}

var (
	connPragmas   = []string{"temp_store", "wal_autocheckpoint", "foreign_keys"}
	schemaPragmas = []string{"journal_mode", "synchronous", "secure_delete", "cache_size", "mmap_size"}
)

// ReadEnginePragmas opens the (closed) engine database in dir through the
// engine's SQLite store and reads the settings of one of its connections
// with the version store attached. The store's readers are set up like its
// writer, plus query_only.
func ReadEnginePragmas(ctx context.Context, dir string) (*Pragmas, error) {
	st, err := sqlite.Open(ctx, DBPath(dir), sqlite.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	p := &Pragmas{Conn: map[string]string{}, Main: map[string]string{}, Store: map[string]string{}}
	// Every reader connection of the store is set up alike, so it does not
	// matter which one answers each statement.
	read := func(q string) (string, error) {
		rows, err := st.Query(ctx, Version, q)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var v any
		if !rows.Next() {
			return "", fmt.Errorf("%s: no row: %v", q, rows.Err())
		}
		if err := rows.Scan(&v); err != nil {
			return "", err
		}
		return fmt.Sprint(v), rows.Close()
	}
	for _, name := range connPragmas {
		if p.Conn[name], err = read(`PRAGMA ` + name); err != nil {
			return nil, err
		}
	}
	for _, name := range schemaPragmas {
		if p.Main[name], err = read(`PRAGMA main.` + name); err != nil {
			return nil, err
		}
		if p.Store[name], err = read(`PRAGMA ` + Version + `.` + name); err != nil {
			return nil, err
		}
	}
	// The engine's writer sets its attached stores to the main file's
	// synchronous level once they are attached (sqlite tuneStores); the
	// readers that answered above keep ATTACH's default, FULL.
	p.Store["synchronous"] = p.Main["synchronous"]
	return p, nil
}

// DefaultPragmas is what the floor uses without an engine to copy from
// (the settings the brief of the floor names).
func DefaultPragmas() *Pragmas {
	return &Pragmas{
		Conn:  map[string]string{"foreign_keys": "0"},
		Main:  map[string]string{"journal_mode": "wal", "synchronous": "1", "secure_delete": "1"},
		Store: map[string]string{"journal_mode": "wal", "synchronous": "1", "secure_delete": "1"},
	}
}

// statements returns the PRAGMA statements that apply p to a connection
// whose version store is attached as Version: connection-wide and main
// settings (before any transaction) and then the store's.
func (p *Pragmas) statements() []string {
	var out []string
	for _, name := range connPragmas {
		if v, ok := p.Conn[name]; ok {
			out = append(out, `PRAGMA `+name+` = `+v)
		}
	}
	for _, schema := range []string{"main", Version} {
		m := p.Main
		if schema != "main" {
			m = p.Store
		}
		for _, name := range schemaPragmas {
			if v, ok := m[name]; ok && name != "journal_mode" { // WAL is set when a file is created
				out = append(out, `PRAGMA `+schema+`.`+name+` = `+v)
			}
		}
	}
	return out
}

// String renders p compactly for the report.
func (p *Pragmas) String() string {
	var b strings.Builder
	part := func(label string, m map[string]string, names []string) {
		b.WriteString(label)
		for _, n := range names {
			if v, ok := m[n]; ok {
				fmt.Fprintf(&b, " %s=%s", n, v)
			}
		}
	}
	part("connection:", p.Conn, connPragmas)
	part("; main:", p.Main, schemaPragmas)
	part("; store:", p.Store, schemaPragmas)
	return b.String()
}
