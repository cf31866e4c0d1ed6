package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
)

// openTest opens a store at dir/defacto.db and closes it with the test.
func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(dir, "defacto.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// write runs f in a write transaction and commits.
func write(t *testing.T, s *Store, f func(store.Tx)) {
	t.Helper()
	tx, err := s.Begin(t.Context())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback()
	f(tx)
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// read runs f in a read transaction.
func read(t *testing.T, s *Store, f func(store.Tx)) {
	t.Helper()
	if err := s.Read(t.Context(), func(tx store.Tx) error { f(tx); return nil }); err != nil {
		t.Fatalf("Read: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rawDB opens a plain connection to path for assertions behind the
// store's back.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db := sql.OpenDB(newConnector(path, roleProbe, DefaultBusyTimeout))
	t.Cleanup(func() { db.Close() })
	return db
}

func prop(name string, ty definition.Type) *definition.Property {
	return &definition.Property{Name: name, Type: ty}
}

// longEntity is 40 characters, the longest entity type name, so its index
// names exceed 63 bytes.
const longEntity = "a_very_long_entity_type_name_of_40_chars"

// testSet builds a small definition set by hand: customers place orders.
func testSet() *definition.Set {
	customer := &definition.Entity{
		Name: "customer",
		Properties: []*definition.Property{
			prop("name", definition.TypeString),
			prop("visits", definition.TypeInteger),
			prop("score", definition.TypeNumber),
			prop("vip", definition.TypeBoolean),
			prop("renewed_at", definition.TypeDateTime),
		},
		Relationships: []*definition.Relationship{{
			Type: "places", Target: "order", Cardinality: definition.HasMany,
			Properties: []*definition.Property{prop("channel", definition.TypeString), prop("weight", definition.TypeNumber)},
		}},
	}
	order := &definition.Entity{
		Name:       "order",
		Properties: []*definition.Property{prop("total", definition.TypeNumber)},
		Relationships: []*definition.Relationship{{
			Type: "placed_by", Target: "customer", Cardinality: definition.BelongsTo,
		}},
	}
	long := &definition.Entity{
		Name:       longEntity,
		Properties: []*definition.Property{prop("x", definition.TypeInteger)},
		Relationships: []*definition.Relationship{{
			Type: "a_very_long_relationship_type_of_40_char", Target: longEntity, Cardinality: definition.ManyToMany,
		}},
	}
	set := &definition.Set{Entities: []*definition.Entity{long, customer, order}, ContentHash: "hash-1"}
	set.Index()
	return set
}

// plainSet has one entity and no relationships.
func plainSet() *definition.Set {
	set := &definition.Set{
		Entities:    []*definition.Entity{{Name: "thing", Properties: []*definition.Property{prop("n", definition.TypeInteger)}}},
		ContentHash: "hash-plain",
	}
	set.Index()
	return set
}

// ensure creates the version store v for set.
func ensure(t *testing.T, s *Store, v string, set *definition.Set) {
	t.Helper()
	write(t, s, func(tx store.Tx) {
		must(t, tx.PutVersion(t.Context(), &store.VersionRecord{Name: v, Definitions: []byte("{}"), ContentHash: set.ContentHash}))
		must(t, tx.EnsureVersionStore(t.Context(), v, set))
	})
}

// queryPlan returns the EXPLAIN QUERY PLAN details of q against version v,
// joined with "; ".
func queryPlan(t *testing.T, s *Store, v, q string) string {
	t.Helper()
	rows, err := s.Query(context.Background(), v, `EXPLAIN QUERY PLAN `+q)
	must(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		must(t, rows.Scan(&id, &parent, &notused, &detail))
		plan = append(plan, detail)
	}
	must(t, rows.Err())
	return strings.Join(plan, "; ")
}

// storeTx returns the *sql.Tx of stx that holds version v's store, for raw
// SQL into it.
func storeTx(t *testing.T, stx store.Tx, v string) *sql.Tx {
	t.Helper()
	side, err := stx.(*tx).on(t.Context(), v, false)
	must(t, err)
	return side.tx
}

// failedWrite runs f in a write transaction and commits it, returning the
// first error of Begin, f and Commit: a queued version-store write fails at
// the latest when its transaction commits.
func failedWrite(t *testing.T, s *Store, f func(store.Tx) error) error {
	t.Helper()
	tx, err := s.Begin(t.Context())
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}
