package storetest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

func testMeta(f *fixture) {
	f.read(func(tx store.Tx) {
		if v, ok, err := tx.Meta(f.ctx, "absent"); err != nil || ok || v != "" {
			f.t.Errorf("Meta(absent) = %q, %v, %v; want \"\", false, nil", v, ok, err)
		}
	})
	f.write(func(tx store.Tx) {
		f.must(tx.SetMeta(f.ctx, "k", "one"))
		f.must(tx.SetMeta(f.ctx, "k", "two"))
		f.must(tx.SetMeta(f.ctx, "empty", ""))
		// A transaction reads its own writes.
		if v, ok, err := tx.Meta(f.ctx, "k"); err != nil || !ok || v != "two" {
			f.t.Errorf("Meta(k) in the writing transaction = %q, %v, %v", v, ok, err)
		}
	})
	f.read(func(tx store.Tx) {
		for k, want := range map[string]string{"k": "two", "empty": ""} {
			if v, ok, err := tx.Meta(f.ctx, k); err != nil || !ok || v != want {
				f.t.Errorf("Meta(%s) = %q, %v, %v; want %q, true, nil", k, v, ok, err, want)
			}
		}
	})
}

func testTransactions(f *fixture) {
	// Rollback discards.
	tx, err := f.s.Begin(f.ctx)
	f.must(err)
	f.must(tx.SetMeta(f.ctx, "x", "1"))
	f.must(tx.Rollback())
	if err := tx.Rollback(); err != nil {
		f.t.Errorf("second Rollback = %v, want nil", err)
	}
	f.read(func(tx store.Tx) {
		if _, ok, _ := tx.Meta(f.ctx, "x"); ok {
			f.t.Error("a rolled-back write is visible")
		}
	})

	// Commit publishes; Rollback after Commit is a no-op; a second Commit
	// fails.
	tx, err = f.s.Begin(f.ctx)
	f.must(err)
	f.must(tx.SetMeta(f.ctx, "y", "1"))
	f.must(tx.Commit())
	if err := tx.Rollback(); err != nil {
		f.t.Errorf("Rollback after Commit = %v, want nil", err)
	}
	if err := tx.Commit(); err == nil {
		f.t.Error("second Commit succeeded")
	}
	f.read(func(tx store.Tx) {
		if v, ok, _ := tx.Meta(f.ctx, "y"); !ok || v != "1" {
			f.t.Error("a committed write is not visible")
		}
	})

	// Read transactions cannot write, and return f's error.
	sentinel := errors.New("sentinel")
	err = f.s.Read(f.ctx, func(tx store.Tx) error {
		if err := tx.SetMeta(f.ctx, "z", "1"); err == nil {
			f.t.Error("SetMeta in a read transaction succeeded")
		}
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		f.t.Errorf("Read returned %v, want the function's error", err)
	}
	f.read(func(tx store.Tx) {
		if _, ok, _ := tx.Meta(f.ctx, "z"); ok {
			f.t.Error("a read transaction wrote")
		}
	})

	// Readers are not blocked by an open writer and do not see its writes.
	w, err := f.s.Begin(f.ctx)
	f.must(err)
	f.must(w.SetMeta(f.ctx, "pending", "1"))
	f.read(func(tx store.Tx) {
		if _, ok, _ := tx.Meta(f.ctx, "pending"); ok {
			f.t.Error("a reader sees an uncommitted write")
		}
	})
	f.must(w.Rollback())

	// Close is idempotent (the wiring closes again at cleanup).
	s2 := f.open(f.t)
	first := s2.Close()
	if second := s2.Close(); (first == nil) != (second == nil) {
		f.t.Errorf("Close twice = %v, then %v", first, second)
	}
}

func testVersions(f *fixture) {
	defs := f.set.Canonical
	// Canonical JSON with the things jsonb would reorder or reformat.
	other := []byte(`{"a":[1,2.5,"x\"y",true,null],"bb":{"c":-0.125,"d":{}},"é":"ü"}`)
	recs := []store.VersionRecord{
		{Name: "v1", Definitions: defs, ContentHash: "c1", EntitiesHash: "e1", IdentityHash: "i1",
			SourceHashes: map[string]string{"shop": "s1", "app": "s2"}, CreatedAt: base},
		{Name: "v0", Definitions: defs, ContentHash: "c0", EntitiesHash: "e0", IdentityHash: "i0", CreatedAt: base},
		{Name: "a9", Definitions: other, ContentHash: "c2", EntitiesHash: "e2", IdentityHash: "i2",
			SourceHashes: map[string]string{}, CreatedAt: base + 1},
	}
	f.read(func(tx store.Tx) {
		if v, err := tx.Version(f.ctx, "v1"); err != nil || v != nil {
			f.t.Errorf("Version(unknown) = %v, %v; want nil, nil", v, err)
		}
		if vs, err := tx.Versions(f.ctx); err != nil || len(vs) != 0 {
			f.t.Errorf("Versions() on an empty namespace = %v, %v", vs, err)
		}
	})
	f.write(func(tx store.Tx) {
		for i := range recs {
			f.must(tx.PutVersion(f.ctx, &recs[i]))
		}
	})
	// By creation time, then name.
	wantOrder := []string{"v0", "v1", "a9"}
	f.read(func(tx store.Tx) {
		vs, err := tx.Versions(f.ctx)
		f.must(err)
		var names []string
		for _, v := range vs {
			names = append(names, v.Name)
		}
		if !reflect.DeepEqual(names, wantOrder) {
			f.t.Errorf("Versions() order = %v, want %v", names, wantOrder)
		}
		vn, err := tx.VersionNames(f.ctx)
		f.must(err)
		if !reflect.DeepEqual(vn, wantOrder) {
			f.t.Errorf("VersionNames() = %v, want %v", vn, wantOrder)
		}
		for _, want := range recs {
			got, err := tx.Version(f.ctx, want.Name)
			f.must(err)
			if got == nil {
				f.t.Fatalf("Version(%s) = nil", want.Name)
			}
			if !bytes.Equal(got.Definitions, want.Definitions) {
				f.t.Errorf("Version(%s).Definitions =\n  %s\nwant canonical JSON back byte for byte\n  %s", want.Name, got.Definitions, want.Definitions)
			}
			if len(want.SourceHashes) == 0 {
				if len(got.SourceHashes) != 0 {
					f.t.Errorf("Version(%s).SourceHashes = %v, want empty", want.Name, got.SourceHashes)
				}
				got.SourceHashes, want.SourceHashes = nil, nil
			}
			got.Definitions, want.Definitions = nil, nil
			if !reflect.DeepEqual(*got, want) {
				f.t.Errorf("Version(%s) = %+v, want %+v", want.Name, *got, want)
			}
		}
	})
	active := func(want string) {
		f.t.Helper()
		f.read(func(tx store.Tx) {
			vs, err := tx.Versions(f.ctx)
			f.must(err)
			var on []string
			for _, v := range vs {
				if v.Active {
					on = append(on, v.Name)
				}
			}
			if strings.Join(on, ",") != want {
				f.t.Errorf("active versions = %v, want %s", on, want)
			}
		})
	}
	f.write(func(tx store.Tx) { f.must(tx.SetActive(f.ctx, "v1")) })
	active("v1")
	f.write(func(tx store.Tx) { f.must(tx.SetActive(f.ctx, "v0")) })
	active("v0")
	f.fails("SetActive(unknown)", func(tx store.Tx) error { return tx.SetActive(f.ctx, "nope") })
	active("v0")
	// PutVersion replaces.
	f.write(func(tx store.Tx) {
		r := recs[2]
		r.EntitiesHash, r.Active = "e2b", false
		f.must(tx.PutVersion(f.ctx, &r))
	})
	f.read(func(tx store.Tx) {
		v, err := tx.Version(f.ctx, "a9")
		f.must(err)
		if v.EntitiesHash != "e2b" {
			f.t.Errorf("PutVersion did not replace: %+v", v)
		}
	})
}

func testBuildState(f *fixture) {
	f.ensure(v1, f.set)
	f.read(func(tx store.Tx) {
		if b, err := tx.BuildState(f.ctx, v1, 0); err != nil || b != nil {
			f.t.Errorf("BuildState(none) = %+v, %v; want nil, nil", b, err)
		}
	})
	b0 := store.BuildState{Version: v1, ShardID: 0, TotalShards: 1, Cursor: 42, Dirty: true, EntitiesHash: "eh",
		IdentityEpoch: 3, NormalizationEpoch: 4, TickHorizon: store.NoTime, LastBuildTime: store.NoTime}
	b1 := store.BuildState{Version: v1, ShardID: 1, TotalShards: 2, Cursor: 7, Built: true, EntitiesHash: "eh",
		TickHorizon: base - 5, LastBuildTime: base + 123_456, LastBuildMode: "incremental", TickPending: true}
	f.write(func(tx store.Tx) {
		f.must(tx.PutBuildState(f.ctx, &b0))
		f.must(tx.PutBuildState(f.ctx, &b1))
	})
	check := func(want store.BuildState) {
		f.t.Helper()
		f.read(func(tx store.Tx) {
			got, err := tx.BuildState(f.ctx, want.Version, want.ShardID)
			f.must(err)
			if got == nil || *got != want {
				f.t.Errorf("BuildState(%s, %d) = %+v, want %+v", want.Version, want.ShardID, got, want)
			}
		})
	}
	check(b0)
	check(b1)
	b0.Cursor, b0.Dirty, b0.Built, b0.TickHorizon, b0.LastBuildTime, b0.LastBuildMode = 99, false, true, base, base+1, "full"
	b0.TickPending = true
	f.write(func(tx store.Tx) { f.must(tx.PutBuildState(f.ctx, &b0)) })
	check(b0)
	check(b1)
}

func testEnsureVersionStore(f *fixture) {
	f.ensure(v1, f.set)
	// Idempotent.
	f.write(func(tx store.Tx) { f.must(tx.EnsureVersionStore(f.ctx, v1, f.set)) })
	// The store exists with its views: empty.
	for _, rel := range []string{"customer_history", "customer_history_all", "order_history", "rel_places_history",
		"rel_places_history_all", "rel_placed_by_history", "relationships", "merged_ids", longEntity + "_history",
		"rel_a_very_long_relationship_type_of_40_char_history_all"} {
		if n := f.count(v1, `SELECT count(*) FROM `+f.s.Dialect().Table(v1, rel)); n != 0 {
			f.t.Errorf("%s has %d rows in a new store", rel, n)
		}
	}
	// A store made for other definitions is refused, not mixed.
	err := f.fails("EnsureVersionStore with other definitions", func(tx store.Tx) error {
		return tx.EnsureVersionStore(f.ctx, v1, plain)
	})
	if !errors.Is(err, store.ErrForeign) {
		f.t.Errorf("EnsureVersionStore with other definitions = %v, want an error wrapping store.ErrForeign", err)
	}
	// A set without relationships still has a typed, empty relationships
	// view (history.md §1).
	f.ensure("v2", plain)
	if n := f.count("v2", `SELECT count(*) FROM `+f.s.Dialect().Table("v2", "relationships")); n != 0 {
		f.t.Errorf("relationships of a set without relationships has %d rows", n)
	}
	// Writing a version store needs a write transaction.
	err = f.s.Read(f.ctx, func(tx store.Tx) error { return tx.EnsureVersionStore(f.ctx, "v3", f.set) })
	if err == nil {
		f.t.Error("EnsureVersionStore in a read transaction succeeded")
	}
}

func testQuery(f *fixture) {
	f.ensure(v1, f.set)
	d := f.s.Dialect()
	if d.Placeholder(1) != "$1" || d.Placeholder(12) != "$12" {
		f.t.Errorf("Placeholder = %s, %s; want $1, $12 (history.md §6)", d.Placeholder(1), d.Placeholder(12))
	}
	if q := d.Quote(`a"b`); q != `"a""b"` {
		f.t.Errorf(`Quote(a"b) = %s`, q)
	}
	row := store.HistoryRow{EntityID: "c1", State: "lead", Props: make([]value.Value, 5), ValidFrom: base,
		ValidTo: store.NoTime, LastEventTime: store.NoTime, StateEnteredTime: base, CreatedTime: base, EventSeq: 3}
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "c1", Now: base + 9,
			Insert: []store.HistoryRow{row}}))
	})
	// Unqualified names resolve to the version's store; qualified ones work
	// through Dialect.Table; instants bind as the dialect says.
	if n := f.count(v1, `SELECT count(*) FROM customer_history`); n != 1 {
		f.t.Errorf("unqualified customer_history: %d rows, want 1", n)
	}
	rows := f.queryRows(f.s, v1, `SELECT customer_id, valid_from, recorded_at FROM `+d.Table(v1, "customer_history")+
		` WHERE customer_id = `+d.Placeholder(1)+` AND valid_from <= `+d.Placeholder(2), "c1", instantArg(d, base))
	if len(rows) != 1 || rows[0][0] != "c1" || instant(f.t, rows[0][1]) != base || instant(f.t, rows[0][2]) != base+9 {
		f.t.Errorf("qualified query = %v", rows)
	}
	// Query is read-only, whatever SQL it is given.
	if rs, err := f.s.Query(f.ctx, v1, `DELETE FROM customer_history_all`); err == nil {
		for rs.Next() {
		}
		err = rs.Err()
		rs.Close()
		if err == nil {
			f.t.Error("DELETE through Query succeeded")
		}
	}
	if n := f.count(v1, `SELECT count(*) FROM customer_history_all`); n != 1 {
		f.t.Errorf("after a refused DELETE: %d rows, want 1", n)
	}
	// Connections go back to the pool when rows are closed.
	for range 30 {
		f.count(v1, `SELECT count(*) FROM merged_ids`)
	}
}

// Undisturbed is true exactly when no other connection wrote since this
// Store's previous call: never on the first call, again after a write of
// this Store, not after a write of a second Store on the same database.
func testUndisturbed(f *fixture) {
	f.write(func(tx store.Tx) { f.must(tx.EnsureVersionStore(f.ctx, v1, f.set)) })
	ask := func(s store.Store) bool {
		var ok bool
		writeTo(f.t, s, func(tx store.Tx) {
			var err error
			ok, err = tx.Undisturbed(f.ctx, v1)
			f.must(err)
			f.must(tx.SetMeta(f.ctx, "undisturbed_probe", "x"))
		})
		return ok
	}
	if ask(f.s) {
		f.t.Error("first Undisturbed = true, want false (nothing seen before)")
	}
	if !ask(f.s) {
		f.t.Error("Undisturbed after this Store's own write = false, want true")
	}
	other := f.reopen()
	if other == nil {
		return
	}
	defer other.Close()
	writeTo(f.t, other, func(tx store.Tx) { f.must(tx.SetMeta(f.ctx, "undisturbed_probe", "y")) })
	if ask(f.s) {
		f.t.Error("Undisturbed after another connection's write = true, want false")
	}
	if !ask(f.s) {
		f.t.Error("Undisturbed after this Store's own write again = false, want true")
	}
	var ro bool
	f.must(f.s.Read(f.ctx, func(tx store.Tx) error {
		var err error
		ro, err = tx.Undisturbed(f.ctx, v1)
		return err
	}))
	if ro {
		f.t.Error("Undisturbed in a read transaction = true, want false")
	}
}
