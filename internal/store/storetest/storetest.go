// Package storetest is the conformance suite of the storage contract
// (store.Store and store.Tx): every behaviour the engine relies on, written
// once and run against every backend, in the spirit of fstest.TestFS.
//
//	func TestSQLite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { … })
//	}
//
// The suite expresses the contract, not one backend's accidents. Where the
// backends legitimately differ it checks only what both promise:
//
//   - JSON columns (ledger data, raw, hints, working state) keep their value,
//     not their bytes: key order and whitespace may change. Definitions are
//     canonical JSON in and canonical JSON out.
//   - Ledger sequences increase in input order and are never reused; a
//     rolled-back append may or may not leave a gap.
//   - Keys created by one event come back from EntityKeys in an
//     unspecified order (only created_seq orders them).
//   - Merges of one event come back from MergesInRange in execution order,
//     which identity.md §4 defines (entity types ascending, losers by
//     birth_seq); the suite inserts them in that order.
//   - Text orders (AllEntities, LedgerSources, DueStates ties) are byte
//     order whatever the database's collation.
//   - After a method returns an error the transaction is rolled back: what
//     a failed call left behind inside its transaction is unspecified.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// Run runs the conformance suite. open returns a Store on an empty database
// of the backend under test and arranges for its cleanup.
//
// Reopening: a second call of open within the same test must return a new
// Store on the same database (as a restarted process would see it). The
// suite probes this; an open that returns a fresh database instead makes the
// durability checks skip with a message.
//
// Subtests run in parallel, each on its own database.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(newFixture(t, open))
		})
	}
}

var cases = []struct {
	name string
	run  func(*fixture)
}{
	{"Meta", testMeta},
	{"Transactions", testTransactions},
	{"Versions", testVersions},
	{"BuildState", testBuildState},
	{"EnsureVersionStore", testEnsureVersionStore},
	{"LedgerAppend", testLedgerAppend},
	{"LedgerAppendLarge", testLedgerAppendLarge},
	{"LedgerDedup", testLedgerDedup},
	{"LedgerCounts", testLedgerCounts},
	{"LedgerRewrite", testLedgerRewrite},
	{"EntityEvents", testEntityEvents},
	{"BatchedReads", testBatchedReads},
	{"IdentityKeys", testIdentityKeys},
	{"Entities", testEntities},
	{"Links", testLinks},
	{"Merge", testMerge},
	{"MergeRefusals", testMergeRefusals},
	{"MergeOrder", testMergeOrder},
	{"ResetIdentity", testResetIdentity},
	{"PendingCounts", testPendingCounts},
	{"WorkingState", testWorkingState},
	{"DueStates", testDueStates},
	{"History", testHistory},
	{"WriteHistories", testWriteHistories},
	{"HistoryCurrentBeliefUnique", testHistoryUnique},
	{"MergedIDs", testMergedIDs},
	{"RetireEntity", testRetireEntity},
	{"StoredEntities", testStoredEntities},
	{"TypedRoundTrip", testTypedRoundTrip},
	{"TypedRoundTripLarge", testTypedRoundTripLarge},
	{"Relationships", testRelationships},
	{"RelationshipViews", testRelationshipViews},
	{"Pending", testPending},
	{"Failures", testFailures},
	{"EraseLinks", testEraseLinks},
	{"EraseIdentityAndHistory", testEraseIdentityAndHistory},
	{"Erasures", testErasures},
	{"Query", testQuery},
	{"Reopen", testReopen},
	{"Undisturbed", testUndisturbed},
}

// Definitions of the suite: every property type on an entity and on a
// relationship, and a relationship back.
const defsYAML = `
entities:
  customer:
    starts: lead
    identity: {email: {}}
    properties:
      name: {type: string}
      visits: {type: integer}
      score: {type: number}
      vip: {type: boolean}
      renewed_at: {type: datetime}
    states:
      lead:
        when:
          signup: {effects: [create]}
    relationships:
      - type: places
        target: order
        cardinality: has_many
        properties: {channel: {type: string}, weight: {type: number}, qty: {type: integer}, gift: {type: boolean}, at: {type: datetime}}
  order:
    starts: placed
    identity: {order_id: {}}
    properties: {total: {type: number}}
    states:
      placed:
        when:
          order_placed: {effects: [create]}
    relationships: [{type: placed_by, target: customer, cardinality: belongs_to}]
  # The longest names (definitions.md §2): index names pass 63 bytes.
  a_very_long_entity_type_name_of_40_chars:
    starts: on
    identity: {code: {}}
    properties: {x: {type: integer}}
    states:
      on:
        when:
          signup: {effects: [create]}
    relationships:
      - {type: a_very_long_relationship_type_of_40_char, target: a_very_long_entity_type_name_of_40_chars, cardinality: many_to_many}
sources:
  shop:
    event_type: kind
    timestamp: at
    events:
      signup: {mappings: {email: email, code: code}, hints: {customer: [email], a_very_long_entity_type_name_of_40_chars: [code]}}
      order_placed: {mappings: {order_id: order_id, email: email}, hints: {order: [order_id], customer: [email]}}
`

// longEntity is the 40-character entity type of the suite's definitions.
const longEntity = "a_very_long_entity_type_name_of_40_chars"

// plainYAML has no relationships at all.
const plainYAML = `
entities:
  thing:
    starts: on
    identity: {code: {}}
    properties: {n: {type: integer}}
    states:
      on:
        when:
          made: {effects: [create]}
sources:
  app:
    event_type: kind
    timestamp: at
    events:
      made: {mappings: {code: code}, hints: {thing: [code]}}
`

var (
	setsOnce       sync.Once
	mainSet, plain *definition.Set
	setsErr        error
)

func loadSets() {
	var res *definition.Result
	if mainSet, res, setsErr = definition.LoadBytes([]byte(defsYAML), "x.yaml"); setsErr != nil {
		setsErr = fmt.Errorf("suite definitions: %w (%v)", setsErr, res)
		return
	}
	if plain, res, setsErr = definition.LoadBytes([]byte(plainYAML), "plain.yaml"); setsErr != nil {
		setsErr = fmt.Errorf("suite definitions: %w (%v)", setsErr, res)
	}
}

// v1 is the version every subtest's store is created for.
const v1 = "v1"

// base is an instant (2023-11-14T22:13:20Z) with room for µs offsets.
const base int64 = 1_700_000_000_000_000

// fixture is one subtest's store and definitions.
type fixture struct {
	t        *testing.T
	ctx      context.Context
	open     func(*testing.T) store.Store
	s        store.Store
	set      *definition.Set
	customer *definition.Entity
	order    *definition.Entity
	places   *definition.Relationship
	placedBy *definition.Relationship
}

func newFixture(t *testing.T, open func(*testing.T) store.Store) *fixture {
	t.Helper()
	setsOnce.Do(loadSets)
	if setsErr != nil {
		t.Fatal(setsErr)
	}
	f := &fixture{t: t, ctx: t.Context(), open: open, set: mainSet}
	f.s = open(t)
	f.customer, f.order = mainSet.Entity("customer"), mainSet.Entity("order")
	f.places, f.placedBy = f.customer.Relationship("places"), f.order.Relationship("placed_by")
	return f
}

// write runs fn in a write transaction and commits.
func (f *fixture) write(fn func(tx store.Tx)) {
	f.t.Helper()
	writeTo(f.t, f.s, fn)
}

func writeTo(t *testing.T, s store.Store, fn func(tx store.Tx)) {
	t.Helper()
	tx, err := s.Begin(t.Context())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback()
	fn(tx)
	if t.Failed() {
		t.FailNow()
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// read runs fn in a read transaction.
func (f *fixture) read(fn func(tx store.Tx)) {
	f.t.Helper()
	readFrom(f.t, f.s, fn)
}

func readFrom(t *testing.T, s store.Store, fn func(tx store.Tx)) {
	t.Helper()
	if err := s.Read(t.Context(), func(tx store.Tx) error { fn(tx); return nil }); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// fails runs fn in a write transaction that must fail (fn returns the
// error of the call under test) and rolls it back. The failure may also
// come from Commit: a backend may report a write's error at a later call of
// the transaction (store.Tx).
func (f *fixture) fails(what string, fn func(tx store.Tx) error) error {
	f.t.Helper()
	tx, err := f.s.Begin(f.ctx)
	if err != nil {
		f.t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback()
	err = fn(tx)
	if err == nil {
		err = tx.Commit()
	}
	if err == nil {
		f.t.Fatalf("%s: succeeded, want an error", what)
	}
	return err
}

// ensure registers version v for set and creates its store.
func (f *fixture) ensure(v string, set *definition.Set) {
	f.t.Helper()
	f.write(func(tx store.Tx) {
		f.must(tx.PutVersion(f.ctx, &store.VersionRecord{Name: v, Definitions: set.Canonical, ContentHash: set.ContentHash,
			EntitiesHash: set.EntitiesHash, IdentityHash: set.IdentityHash, SourceHashes: set.SourceHashes, CreatedAt: base}))
		f.must(tx.EnsureVersionStore(f.ctx, v, set))
	})
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// reopen returns a second Store on the fixture's database, or nil (after
// logging why) when open cannot reopen.
func (f *fixture) reopen() store.Store {
	f.t.Helper()
	f.write(func(tx store.Tx) { f.must(tx.SetMeta(f.ctx, "storetest_reopen_probe", "1")) })
	s := f.open(f.t)
	var ok bool
	readFrom(f.t, s, func(tx store.Tx) {
		_, found, err := tx.Meta(f.ctx, "storetest_reopen_probe")
		f.must(err)
		ok = found
	})
	if !ok {
		f.t.Log("open returned a fresh database on the second call; durability checks skipped")
		s.Close()
		return nil
	}
	return s
}

// --- values and rows ---

// ev returns a live ledger row.
func ev(id, source string, at int64) store.LedgerRow {
	return store.LedgerRow{EventID: id, Source: source, EventType: "signup", Time: at,
		Data: []byte(`{"email":"` + id + `@example.com"}`), Raw: []byte(`{"kind":"signup"}`),
		Hints: []byte(`{}`), IngestedAt: at + 1}
}

// sameValue is value equality that also keeps the kind: Int 1 and Float 1
// differ here, since types must round-trip.
func sameValue(a, b value.Value) bool { return a.Kind() == b.Kind() && value.Equal(a, b) }

func fmtValues(vs []value.Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.Kind().String() + ":" + v.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func sameValues(a, b []value.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameValue(a[i], b[i]) {
			return false
		}
	}
	return true
}

func fmtHistory(r store.HistoryRow) string {
	return fmt.Sprintf("{%s %s %s from=%d to=%d merged=%q last=%d entered=%d created=%d seq=%d rec=%d}",
		r.EntityID, r.State, fmtValues(r.Props), r.ValidFrom, r.ValidTo, r.MergedInto, r.LastEventTime,
		r.StateEnteredTime, r.CreatedTime, r.EventSeq, r.RecordedAt)
}

func sameHistory(a, b store.HistoryRow) bool {
	pa, pb := a.Props, b.Props
	a.Props, b.Props = nil, nil
	return reflect.DeepEqual(a, b) && sameValues(pa, pb)
}

// checkHistory compares rows exactly, property kinds included.
func checkHistory(t *testing.T, what string, got, want []store.HistoryRow) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = sameHistory(got[i], want[i])
	}
	if !ok {
		var g, w []string
		for _, r := range got {
			g = append(g, fmtHistory(r))
		}
		for _, r := range want {
			w = append(w, fmtHistory(r))
		}
		t.Errorf("%s =\n  %s\nwant\n  %s", what, strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

func fmtRel(r store.RelRow) string {
	return fmt.Sprintf("{%s→%s %s from=%d to=%d seq=%d rec=%d}", r.SourceID, r.TargetID, fmtValues(r.Props),
		r.ValidFrom, r.ValidTo, r.EventSeq, r.RecordedAt)
}

func checkRels(t *testing.T, what string, got, want []store.RelRow) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		a, b := got[i], want[i]
		pa, pb := a.Props, b.Props
		a.Props, b.Props = nil, nil
		ok = reflect.DeepEqual(a, b) && sameValues(pa, pb)
	}
	if !ok {
		var g, w []string
		for _, r := range got {
			g = append(g, fmtRel(r))
		}
		for _, r := range want {
			w = append(w, fmtRel(r))
		}
		t.Errorf("%s =\n  %s\nwant\n  %s", what, strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

// jsonEqual compares JSON documents by value; nil equals only nil.
func jsonEqual(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(normalizeNumbers(x), normalizeNumbers(y))
}

// normalizeNumbers renders json.Numbers through float64 or int64 so 1.50 and
// 1.5 compare equal.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	}
	return v
}

// checkLedger compares ledger rows, JSON columns by value.
func checkLedger(t *testing.T, what string, got, want []store.LedgerRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows %v, want %d %v", what, len(got), seqsOf(got), len(want), seqsOf(want))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case w.Data == nil:
			w.Data = []byte("null") // stores keep a nil Data as JSON null
		case len(w.Data) == 0 && len(g.Data) == 0: // left out by the read (forIdentity)
			w.Data, g.Data = nil, nil
		}
		jsonOK := jsonEqual(g.Data, w.Data) && jsonEqual(g.DataTypes, w.DataTypes) && jsonEqual(g.Raw, w.Raw) && jsonEqual(g.Hints, w.Hints)
		g.Data, g.DataTypes, g.Raw, g.Hints = nil, nil, nil, nil
		w.Data, w.DataTypes, w.Raw, w.Hints = nil, nil, nil, nil
		if !jsonOK || !reflect.DeepEqual(g, w) {
			t.Errorf("%s[%d] =\n  %+v (json equal: %v)\nwant\n  %+v", what, i, got[i], jsonOK, want[i])
		}
	}
}

func seqsOf(rows []store.LedgerRow) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.Seq
	}
	return out
}

// instant converts a scanned instant column of a raw query to µs, whatever
// the dialect (integer µs or a time); NULL gives store.NoTime.
func instant(t *testing.T, x any) int64 {
	t.Helper()
	switch v := x.(type) {
	case nil:
		return store.NoTime
	case int64:
		return v
	case time.Time:
		return v.UnixMicro()
	}
	t.Fatalf("instant column scanned as %T", x)
	return 0
}

// instantArg binds µs as an instant for raw queries of d.
func instantArg(d store.Dialect, us int64) any {
	if d.InstantsAsMicros() {
		return us
	}
	return time.UnixMicro(us).UTC()
}

// queryRows runs a raw query and returns its rows as []any.
func (f *fixture) queryRows(s store.Store, version, q string, args ...any) [][]any {
	f.t.Helper()
	rows, err := s.Query(f.ctx, version, q, args...)
	if err != nil {
		f.t.Fatalf("Query %s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	f.must(err)
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		f.must(rows.Scan(ptrs...))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	f.must(rows.Err())
	return out
}

// count runs a SELECT count(*) query.
func (f *fixture) count(version, q string, args ...any) int64 {
	f.t.Helper()
	rows := f.queryRows(f.s, version, q, args...)
	if len(rows) != 1 || len(rows[0]) != 1 {
		f.t.Fatalf("%s: want one value, got %v", q, rows)
	}
	switch n := rows[0][0].(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	}
	f.t.Fatalf("%s: count scanned as %T", q, rows[0][0])
	return 0
}
