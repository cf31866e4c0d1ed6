package storetest

import (
	"reflect"
	"slices"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// relRow is a places row with null properties; the source comes from the
// write.
func relRow(target string, from, to int64) store.RelRow {
	return store.RelRow{TargetID: target, Props: make([]value.Value, 5), ValidFrom: from, ValidTo: to, EventSeq: 4}
}

func withChannel(r store.RelRow, ch string) store.RelRow {
	r.Props = make([]value.Value, 5)
	r.Props[0] = value.String(ch)
	return r
}

func src(r store.RelRow, id string, recorded int64) store.RelRow {
	r.SourceID, r.RecordedAt = id, recorded
	return r
}

func testRelationships(f *fixture) {
	f.ensure(v1, f.set)
	t10, t20 := base+10, base+20
	typed := relRow("o3", t10, store.NoTime)
	typed.Props = []value.Value{value.String("shop ✓"), value.Float(2.25), value.Int(-3), value.Bool(true), value.DateTime(base + 7)}
	typed.EventSeq = 0
	f.write(func(tx store.Tx) {
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c1", Now: base + 100,
			Insert: []store.RelRow{relRow("o2", t10, store.NoTime), relRow("o1", t10, store.NoTime), typed}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c2", Now: base + 100,
			Insert: []store.RelRow{relRow("o1", t10, store.NoTime)}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c3", Now: base + 100}))
	})
	f.read(func(tx store.Tx) {
		open, err := tx.OpenRelRows(f.ctx, v1, f.places, []string{"c1", "c2", "zz", "c1"})
		f.must(err)
		checkRels(f.t, "OpenRelRows[c1]", open["c1"], []store.RelRow{
			src(relRow("o1", t10, store.NoTime), "c1", base+100), src(relRow("o2", t10, store.NoTime), "c1", base+100),
			src(typed, "c1", base+100)})
		checkRels(f.t, "OpenRelRows[c2]", open["c2"], []store.RelRow{src(relRow("o1", t10, store.NoTime), "c2", base+100)})
		if len(open) != 2 {
			f.t.Errorf("OpenRelRows returned sources %v, want c1 and c2", slices.Collect(mapKeys(open)))
		}
		if open, err := tx.OpenRelRows(f.ctx, v1, f.places, nil); err != nil || len(open) != 0 {
			f.t.Errorf("OpenRelRows(nil) = %v, %v", open, err)
		}
	})
	// Close o1 in place with a successor; supersede o2 and replace it.
	f.write(func(tx store.Tx) {
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c1", Now: base + 200,
			Close:     map[store.RelKey]int64{{TargetID: "o1", ValidFrom: t10}: t20},
			Supersede: []store.RelKey{{TargetID: "o2", ValidFrom: t10}},
			Insert:    []store.RelRow{relRow("o1", t20, store.NoTime), withChannel(relRow("o2", t10, store.NoTime), "phone")}}))
	})
	f.read(func(tx store.Tx) {
		cur, err := tx.CurrentRelRows(f.ctx, v1, f.places, "c1")
		f.must(err)
		checkRels(f.t, "CurrentRelRows(c1)", cur, []store.RelRow{
			src(relRow("o1", t10, t20), "c1", base+100),
			src(relRow("o1", t20, store.NoTime), "c1", base+200),
			src(withChannel(relRow("o2", t10, store.NoTime), "phone"), "c1", base+200),
			src(typed, "c1", base+100)})
		open, err := tx.OpenRelRows(f.ctx, v1, f.places, []string{"c1"})
		f.must(err)
		if len(open["c1"]) != 3 {
			f.t.Errorf("OpenRelRows(c1) after the change = %d rows, want 3", len(open["c1"]))
		}
		if cur, err := tx.CurrentRelRows(f.ctx, v1, f.places, "nobody"); err != nil || len(cur) != 0 {
			f.t.Errorf("CurrentRelRows(nobody) = %v, %v", cur, err)
		}
	})
	if n := f.count(v1, `SELECT count(*) FROM rel_places_history_all`); n != 6 {
		f.t.Errorf("rel_places_history_all has %d rows, want 6 (one superseded)", n)
	}
	// One current row per (source, target, valid_from).
	f.fails("a second current relationship row", func(tx store.Tx) error {
		return tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c2", Now: base + 300,
			Insert: []store.RelRow{relRow("o1", t10, store.NoTime)}})
	})
	f.fails("a relationship row with a wrong property count", func(tx store.Tx) error {
		r := relRow("o9", t10, store.NoTime)
		r.Props = nil
		return tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c2", Now: base + 300, Insert: []store.RelRow{r}})
	})
	// A relationship without properties.
	f.write(func(tx store.Tx) {
		f.must(tx.WriteRelationships(f.ctx, v1, f.placedBy, &store.RelWrite{SourceID: "o1", Now: base,
			Insert: []store.RelRow{{TargetID: "c1", ValidFrom: t10, ValidTo: store.NoTime, EventSeq: 2}}}))
	})
	f.read(func(tx store.Tx) {
		cur, err := tx.CurrentRelRows(f.ctx, v1, f.placedBy, "o1")
		f.must(err)
		checkRels(f.t, "CurrentRelRows(placed_by)", cur, []store.RelRow{{SourceID: "o1", TargetID: "c1", Props: []value.Value{},
			ValidFrom: t10, ValidTo: store.NoTime, EventSeq: 2, RecordedAt: base}})
	})
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// The relationship views (history.md §3): canonical targets, hidden merged
// sources, and the union view with entity types.
func testRelationshipViews(f *fixture) {
	f.ensure(v1, f.set)
	f.write(func(tx store.Tx) {
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c1", Now: base,
			Insert: []store.RelRow{relRow("o1", base, store.NoTime), relRow("o2", base, base+5)}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c2", Now: base,
			Insert: []store.RelRow{relRow("o1", base, store.NoTime)}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.placedBy, &store.RelWrite{SourceID: "o1", Now: base,
			Insert: []store.RelRow{{TargetID: "c1", ValidFrom: base, ValidTo: store.NoTime}}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.placedBy, &store.RelWrite{SourceID: "o2", Now: base,
			Insert: []store.RelRow{{TargetID: "c2", ValidFrom: base, ValidTo: store.NoTime}}}))
		// o1 closed into o9 (its own rows hidden, rows to it show o9); c2
		// closed into c1.
		f.must(tx.InsertMergedID(f.ctx, v1, store.MergedID{EntityID: "o1", EntityType: "order", MergedInto: "o9", MergedAt: base}))
		f.must(tx.InsertMergedID(f.ctx, v1, store.MergedID{EntityID: "c2", EntityType: "customer", MergedInto: "c1", MergedAt: base}))
	})
	rows := f.queryRows(f.s, v1, `SELECT source_id, target_id, original_target_id, relationship_type FROM rel_places_history
		ORDER BY source_id, original_target_id`)
	want := [][]any{{"c1", "o9", "o1", "places"}, {"c1", "o2", "o2", "places"}}
	if !reflect.DeepEqual(rows, want) {
		f.t.Errorf("rel_places_history = %v, want %v", rows, want)
	}
	rows = f.queryRows(f.s, v1, `SELECT source_id, source_type, relationship_type, target_id, target_type, original_target_id
		FROM relationships ORDER BY relationship_type, source_id, original_target_id`)
	want = [][]any{
		{"o2", "order", "placed_by", "c1", "customer", "c2"},
		{"c1", "customer", "places", "o9", "order", "o1"},
		{"c1", "customer", "places", "o2", "order", "o2"},
	}
	if !reflect.DeepEqual(rows, want) {
		f.t.Errorf("relationships = %v, want %v", rows, want)
	}
}

func testPending(f *fixture) {
	f.ensure(v1, f.set)
	ps := []store.PendingRelation{
		{SourceID: "c1", Type: "places", EventSeq: 5, KeyHashes: []string{"h1", "h2"}},
		{SourceID: "c2", Type: "places", EventSeq: 6, KeyHashes: []string{"h2"}},
		{SourceID: "B0", Type: "places", EventSeq: 6, KeyHashes: []string{"h2"}},
	}
	f.write(func(tx store.Tx) {
		f.must(tx.AddPending(f.ctx, v1, ps))
		f.must(tx.AddPending(f.ctx, v1, ps[:1])) // again: no-op
		f.must(tx.AddPending(f.ctx, v1, nil))
	})
	check := func(hashes []string, want []string) {
		f.t.Helper()
		f.read(func(tx store.Tx) {
			got, err := tx.PendingSources(f.ctx, v1, hashes)
			f.must(err)
			if len(got) == 0 && len(want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, want) {
				f.t.Errorf("PendingSources(%v) = %v, want %v", hashes, got, want)
			}
		})
	}
	check([]string{"h2"}, []string{"B0", "c1", "c2"})
	check([]string{"h1", "h9"}, []string{"c1"})
	check(nil, nil)
	f.write(func(tx store.Tx) {
		f.must(tx.ClearPending(f.ctx, v1, "c1"))
		f.must(tx.ClearPending(f.ctx, v1, "nobody"))
	})
	check([]string{"h1", "h2"}, []string{"B0", "c2"})
	// The batched clear of a rebuild group.
	f.write(func(tx store.Tx) {
		f.must(tx.AddPending(f.ctx, v1, ps))
		f.must(tx.ClearPendingOf(f.ctx, v1, []string{"c1", "nobody", "c2", "c1"}))
		f.must(tx.ClearPendingOf(f.ctx, v1, nil))
	})
	check([]string{"h1", "h2"}, []string{"B0"})
}

func testFailures(f *fixture) {
	f.ensure(v1, f.set)
	rows := f.appendRows(ev("e1", "shop", base), ev("e2", "shop", base), ev("e3", "shop", base))
	s := seqsOf(rows)
	failed := func(want int64) {
		f.t.Helper()
		f.read(func(tx store.Tx) {
			n, err := tx.CountFailedEvents(f.ctx, v1)
			f.must(err)
			if n != want {
				f.t.Errorf("CountFailedEvents = %d, want %d", n, want)
			}
		})
	}
	failed(0)
	f.write(func(tx store.Tx) {
		f.must(tx.SetFailures(f.ctx, v1, "c1", []int64{s[0], s[1]}, false))
		f.must(tx.SetFailures(f.ctx, v1, "c2", []int64{s[1], s[2]}, false))
		f.must(tx.SetFailures(f.ctx, v1, "c2", []int64{s[2]}, false)) // again: no-op
	})
	failed(3) // distinct sequences
	// Only live events count.
	f.write(func(tx store.Tx) {
		r := rows[2]
		r.DuplicateOf = s[0]
		f.must(tx.UpdateNormalized(f.ctx, r))
	})
	failed(2)
	// A recompute replaces an entity's failures.
	f.write(func(tx store.Tx) { f.must(tx.SetFailures(f.ctx, v1, "c1", nil, true)) })
	failed(1)
	f.write(func(tx store.Tx) { f.must(tx.SetFailures(f.ctx, v1, "c2", []int64{s[0]}, true)) })
	failed(1)
	// The batched clear of a rebuild group removes the failures of its ids
	// only.
	f.write(func(tx store.Tx) {
		f.must(tx.SetFailures(f.ctx, v1, "c1", []int64{s[1]}, false))
		f.must(tx.SetFailures(f.ctx, v1, "c3", []int64{s[0]}, false))
	})
	failed(2)
	f.write(func(tx store.Tx) {
		f.must(tx.ClearFailuresOf(f.ctx, v1, []string{"c1", "c2", "nobody"}))
		f.must(tx.ClearFailuresOf(f.ctx, v1, nil))
	})
	failed(1)
	f.write(func(tx store.Tx) { f.must(tx.ClearFailuresOf(f.ctx, v1, []string{"c3"})) })
	failed(0)
}

// erasureFixture: four events; e1 → c1; e2 → c1 and o1; e3 → c2 first
// resolved to c1; e4 → o2 only.
func (f *fixture) erasureFixture() []int64 {
	f.t.Helper()
	f.ensure(v1, f.set)
	rows := f.appendRows(ev("e1", "shop", base), ev("e2", "shop", base), ev("e3", "shop", base), ev("e4", "shop", base))
	s := seqsOf(rows)
	f.write(func(tx store.Tx) {
		f.must(tx.InsertLinks(f.ctx, []store.Link{
			{Seq: s[0], EntityType: "customer", EntityID: "c1"},
			{Seq: s[1], EntityType: "customer", EntityID: "c1"},
			{Seq: s[1], EntityType: "order", EntityID: "o1"},
			{Seq: s[2], EntityType: "customer", EntityID: "c2", ResolvedID: "c1"},
			{Seq: s[3], EntityType: "order", EntityID: "o2"},
		}))
	})
	return s
}

func testEraseLinks(f *fixture) {
	s := f.erasureFixture()
	f.write(func(tx store.Tx) {
		// e3's link moved to c2 when c1 was merged into it.
		f.must(tx.InsertEntities(f.ctx, []store.EntityRecord{
			{ID: "c1", Type: "customer", BirthSeq: s[0], Status: store.StatusMerged, MergedInto: "c2"},
			{ID: "c2", Type: "customer", BirthSeq: s[0]},
			{ID: "o1", Type: "order", BirthSeq: s[1]},
			{ID: "o2", Type: "order", BirthSeq: s[3]},
		}))
	})
	f.read(func(tx store.Tx) {
		got, err := tx.LinksOf(f.ctx, []string{"c1"})
		f.must(err)
		for _, ls := range got {
			slices.SortFunc(ls, func(a, b store.Link) int {
				if a.EntityType < b.EntityType {
					return -1
				}
				return 1
			})
		}
		want := map[int64][]store.Link{
			s[0]: {{Seq: s[0], EntityType: "customer", EntityID: "c1", ResolvedID: "c1"}},
			s[1]: {{Seq: s[1], EntityType: "customer", EntityID: "c1", ResolvedID: "c1"},
				{Seq: s[1], EntityType: "order", EntityID: "o1", ResolvedID: "o1"}},
			s[2]: {{Seq: s[2], EntityType: "customer", EntityID: "c2", ResolvedID: "c1"}},
		}
		if !reflect.DeepEqual(got, want) {
			f.t.Errorf("LinksOf(c1) = %+v, want %+v", got, want)
		}
		if got, err := tx.LinksOf(f.ctx, nil); err != nil || len(got) != 0 {
			f.t.Errorf("LinksOf(nil) = %v, %v", got, err)
		}
	})
	// Shared row e2 loses only its link to the component.
	f.write(func(tx store.Tx) {
		f.must(tx.DeleteLinks(f.ctx, []int64{s[1], s[3]}, []string{"c1"}))
		f.must(tx.DeleteEvents(f.ctx, []int64{s[0], s[2]}, 42))
	})
	f.read(func(tx store.Tx) {
		links, err := tx.LinksInRange(f.ctx, 0, s[3])
		f.must(err)
		want := []store.Link{{Seq: s[1], EntityType: "order", EntityID: "o1", ResolvedID: "o1"},
			{Seq: s[3], EntityType: "order", EntityID: "o2", ResolvedID: "o2"}}
		if !reflect.DeepEqual(links, want) {
			f.t.Errorf("links after erasure = %+v, want %+v", links, want)
		}
		live, erased, err := tx.KnownEventIDs(f.ctx, []string{"e1", "e2", "e3", "e4"})
		f.must(err)
		if want := map[string]bool{"e2": true, "e4": true}; !reflect.DeepEqual(live, want) {
			f.t.Errorf("live events after erasure = %v, want %v", live, want)
		}
		if want := map[string]bool{"e1": true, "e3": true}; !reflect.DeepEqual(erased, want) {
			f.t.Errorf("erased events = %v, want %v", erased, want)
		}
	})
}

func testEraseIdentityAndHistory(f *fixture) {
	f.erasureFixture()
	f.entities("customer", map[string]int64{"c1": 1, "c2": 3, "c3": 5})
	f.write(func(tx store.Tx) {
		f.must(tx.InsertKeys(f.ctx, []store.KeyRecord{key("k1", "customer", "email", "c1", "a", 1),
			key("k2", "customer", "email", "c2", "b", 3), key("k3", "customer", "email", "c3", "c", 5)}))
		f.must(tx.ApplyMerge(f.ctx, merge("c2", "c1", "customer", 3), 1))
		// History of c1 (one superseded row), of o1, relationship rows both
		// ways, bookkeeping.
		f.must(tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "c1", Now: base,
			Insert: []store.HistoryRow{hrow("c1", base, store.NoTime)}}))
		f.must(tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "c1", Now: base + 1,
			Supersede: []int64{base}, Insert: []store.HistoryRow{withName(hrow("c1", base, store.NoTime), "n")}}))
		f.must(tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "c3", Now: base,
			Insert: []store.HistoryRow{hrow("c3", base, store.NoTime)}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c1", Now: base,
			Insert: []store.RelRow{relRow("o1", base, store.NoTime)}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.placedBy, &store.RelWrite{SourceID: "o1", Now: base,
			Insert: []store.RelRow{{TargetID: "c1", ValidFrom: base, ValidTo: store.NoTime}, {TargetID: "c3", ValidFrom: base, ValidTo: store.NoTime}}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c3", Now: base,
			Insert: []store.RelRow{relRow("o1", base, store.NoTime)}}))
		f.must(tx.PutStates(f.ctx, v1, []store.StateRecord{state("c1", base, store.StatusActive), state("c3", base, store.StatusActive)}))
		f.must(tx.InsertMergedID(f.ctx, v1, store.MergedID{EntityID: "c1", EntityType: "customer", MergedInto: "c3", MergedAt: base}))
		f.must(tx.AddPending(f.ctx, v1, []store.PendingRelation{{SourceID: "c1", Type: "places", EventSeq: 1, KeyHashes: []string{"h"}}}))
		f.must(tx.SetFailures(f.ctx, v1, "c1", []int64{1}, false))
	})
	f.write(func(tx store.Tx) {
		keys, merges, err := tx.DeleteIdentity(f.ctx, []string{"c1", "c2"})
		f.must(err)
		if keys != 2 || merges != 1 {
			f.t.Errorf("DeleteIdentity = %d keys, %d merges; want 2, 1", keys, merges)
		}
		n, err := tx.DeleteEntity(f.ctx, v1, f.customer, "c1")
		f.must(err)
		// Two history rows (one superseded), c1→o1 and o1→c1.
		if n != 4 {
			f.t.Errorf("DeleteEntity(c1) = %d rows, want 4", n)
		}
		if n, err := tx.DeleteEntity(f.ctx, v1, f.customer, "nobody"); err != nil || n != 0 {
			f.t.Errorf("DeleteEntity(nobody) = %d, %v", n, err)
		}
	})
	f.read(func(tx store.Tx) {
		es, _ := tx.Entities(f.ctx, []string{"c1", "c2", "c3"})
		if len(es) != 1 || es["c3"].ID != "c3" {
			f.t.Errorf("entities after DeleteIdentity = %v, want only c3", es)
		}
		keys, _ := tx.LookupKeys(f.ctx, []string{"k1", "k2", "k3"})
		if len(keys) != 1 {
			f.t.Errorf("keys after DeleteIdentity = %v, want only k3", keys)
		}
		if ms, _ := tx.MergesInRange(f.ctx, 0, 100); len(ms) != 0 {
			f.t.Errorf("merges after DeleteIdentity = %v", ms)
		}
		if st, _ := tx.States(f.ctx, v1, []string{"c1", "c3"}); len(st) != 1 {
			f.t.Errorf("working state after DeleteEntity = %v, want only c3", st)
		}
		if p, _ := tx.PendingSources(f.ctx, v1, []string{"h"}); len(p) != 0 {
			f.t.Errorf("pending after DeleteEntity = %v", p)
		}
		if n, _ := tx.CountFailedEvents(f.ctx, v1); n != 0 {
			f.t.Errorf("failures after DeleteEntity = %d", n)
		}
		stored, _ := tx.StoredEntities(f.ctx, v1)
		if _, ok := stored["c1"]; ok {
			f.t.Errorf("c1 still stored after DeleteEntity: %v", stored)
		}
		cur, _ := tx.CurrentRelRows(f.ctx, v1, f.placedBy, "o1")
		if len(cur) != 1 || cur[0].TargetID != "c3" {
			f.t.Errorf("placed_by of o1 after DeleteEntity(c1) = %+v, want only → c3", cur)
		}
	})
	if n := f.count(v1, `SELECT count(*) FROM customer_history_all WHERE customer_id = $1`, "c1"); n != 0 {
		f.t.Errorf("c1 keeps %d history rows", n)
	}
	if n := f.count(v1, `SELECT count(*) FROM merged_ids`); n != 0 {
		f.t.Errorf("merged_ids keeps %d rows", n)
	}
	// Purge: all history of c3 and its outgoing rows; incoming rows stay.
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "c3", Now: base + 2,
			Supersede: []int64{base}, Insert: []store.HistoryRow{withName(hrow("c3", base, store.NoTime), "x")}}))
		f.must(tx.PurgeHistory(f.ctx, v1, f.customer, "c3"))
	})
	if n := f.count(v1, `SELECT count(*) FROM customer_history_all WHERE customer_id = $1`, "c3"); n != 0 {
		f.t.Errorf("c3 keeps %d history rows after PurgeHistory", n)
	}
	if n := f.count(v1, `SELECT count(*) FROM rel_places_history_all WHERE source_id = $1`, "c3"); n != 0 {
		f.t.Errorf("c3 keeps %d outgoing rows after PurgeHistory", n)
	}
	if n := f.count(v1, `SELECT count(*) FROM rel_placed_by_history_all WHERE target_id = $1`, "c3"); n != 1 {
		f.t.Errorf("PurgeHistory(c3) removed incoming rows: %d left, want 1", n)
	}
}

func testErasures(f *fixture) {
	e1 := store.Erasure{RequestedEntityID: "c1", EntityType: "customer", ErasedIDs: []string{"c1", "c2"},
		EventsDeleted: 3, ErasedAt: base}
	e2 := store.Erasure{RequestedEntityID: "c2", EntityType: "customer", ErasedIDs: []string{"c2"}, ErasedAt: base + 5}
	f.read(func(tx store.Tx) {
		if e, err := tx.ErasureOf(f.ctx, "c1"); err != nil || e != nil {
			f.t.Errorf("ErasureOf on no erasures = %+v, %v", e, err)
		}
	})
	f.write(func(tx store.Tx) {
		var err error
		e1.ID, err = tx.InsertErasure(f.ctx, &e1)
		f.must(err)
		e2.ID, err = tx.InsertErasure(f.ctx, &e2)
		f.must(err)
		if e1.ID <= 0 || e2.ID <= e1.ID {
			f.t.Errorf("erasure ids %d, %d: want positive and increasing", e1.ID, e2.ID)
		}
		e1.EventsScrubbed, e1.IdentityKeysDeleted, e1.HistoryRowsDeleted, e1.EntitiesRecomputed = 4, 5, 6, 7
		e1.ErasedIDs = append(e1.ErasedIDs, "c3")
		f.must(tx.UpdateErasure(f.ctx, &e1))
	})
	f.read(func(tx store.Tx) {
		// The latest erasure listing the id; ids, request, type and time
		// are what the record of an erased id needs.
		for id, want := range map[string]store.Erasure{"c1": e1, "c2": e2, "c3": e1} {
			got, err := tx.ErasureOf(f.ctx, id)
			f.must(err)
			if got == nil || got.ID != want.ID || got.RequestedEntityID != want.RequestedEntityID ||
				got.EntityType != want.EntityType || got.ErasedAt != want.ErasedAt || !slices.Equal(got.ErasedIDs, want.ErasedIDs) {
				f.t.Errorf("ErasureOf(%s) = %+v, want %+v", id, got, want)
			}
		}
		if e, err := tx.ErasureOf(f.ctx, "nobody"); err != nil || e != nil {
			f.t.Errorf("ErasureOf(nobody) = %+v, %v", e, err)
		}
	})
}
