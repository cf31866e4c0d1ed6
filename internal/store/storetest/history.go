package storetest

import (
	"fmt"
	"math"
	"reflect"
	"slices"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

func state(id string, deadline int64, status string) store.StateRecord {
	return store.StateRecord{EntityID: id, EntityType: "customer", ShardHash: 123, Status: status,
		Data: []byte(`{"state":"lead","props":[1,"x"],"rev":1}`), NextDeadline: deadline}
}

func checkStates(f *fixture, what string, got []store.StateRecord, want []store.StateRecord) {
	f.t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = jsonEqual(g.Data, w.Data)
		g.Data, w.Data = nil, nil
		ok = ok && reflect.DeepEqual(g, w)
	}
	if !ok {
		f.t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func testWorkingState(f *fixture) {
	f.ensure(v1, f.set)
	s1 := state("s1", store.NoTime, store.StatusActive)
	s2 := state("s2", base+10, store.StatusActive)
	s2.Data = []byte(`{"state": "active", "fired": {"a": 1}, "props": [null, 2.5, "ü"], "rev": 7}`)
	s2.ShardHash = 4_000_000_000
	stale := state("s2", base, store.StatusActive)
	f.write(func(tx store.Tx) {
		// Of two records for one entity, the last wins.
		f.must(tx.PutStates(f.ctx, v1, []store.StateRecord{stale, s1, s2}))
		f.must(tx.PutStates(f.ctx, v1, nil))
	})
	f.read(func(tx store.Tx) {
		got, err := tx.States(f.ctx, v1, []string{"s1", "s2", "zz", "s1"})
		f.must(err)
		checkStates(f, "States", []store.StateRecord{got["s1"], got["s2"]}, []store.StateRecord{s1, s2})
		if len(got) != 2 {
			f.t.Errorf("States returned %d records, want 2", len(got))
		}
		if got, err := tx.States(f.ctx, v1, nil); err != nil || len(got) != 0 {
			f.t.Errorf("States(nil) = %v, %v", got, err)
		}
	})
	// Overwrite.
	s1b := state("s1", base+3, store.StatusMerged)
	s1b.Data = []byte(`{"state":"gone"}`)
	f.write(func(tx store.Tx) { f.must(tx.PutStates(f.ctx, v1, []store.StateRecord{s1b})) })
	f.read(func(tx store.Tx) {
		got, err := tx.States(f.ctx, v1, []string{"s1"})
		f.must(err)
		checkStates(f, "States after overwrite", []store.StateRecord{got["s1"]}, []store.StateRecord{s1b})
	})
}

func testDueStates(f *fixture) {
	f.ensure(v1, f.set)
	states := []store.StateRecord{
		state("late", base+20, store.StatusActive),
		state("none", store.NoTime, store.StatusActive),
		state("b", base+5, store.StatusActive),
		state("B", base+5, store.StatusActive), // "B" < "a" < "b" in byte order
		state("a", base+5, store.StatusActive),
		state("merged", base+1, store.StatusMerged),
		state("first", base-7, store.StatusActive),
		state("edge", base+10, store.StatusActive),
	}
	f.write(func(tx store.Tx) { f.must(tx.PutStates(f.ctx, v1, states)) })
	ids := func(rs []store.StateRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.EntityID)
		}
		return out
	}
	start := store.DueKey{Deadline: store.NoTime}
	f.read(func(tx store.Tx) {
		for _, c := range []struct {
			asOf  int64
			after store.DueKey
			limit int
			want  []string
		}{
			{base + 10, start, 100, []string{"first", "B", "a", "b", "edge"}},
			{base + 10, start, 2, []string{"first", "B"}},
			{base - 8, start, 100, nil},
			{base + 100, start, 100, []string{"first", "B", "a", "b", "edge", "late"}},
			// Continuing after a key: ties on the deadline by id, in byte order.
			{base + 10, store.DueKey{Deadline: base + 5, EntityID: "B"}, 2, []string{"a", "b"}},
			{base + 10, store.DueKey{Deadline: base + 5, EntityID: "b"}, 100, []string{"edge"}},
			{base + 10, store.DueKey{Deadline: base - 7, EntityID: "first"}, 100, []string{"B", "a", "b", "edge"}},
			{base + 10, store.DueKey{Deadline: base + 4, EntityID: "zzz"}, 1, []string{"B"}},
			{base + 10, store.DueKey{Deadline: base + 10, EntityID: "edge"}, 100, nil},
		} {
			got, err := tx.DueStates(f.ctx, v1, c.asOf, c.after, c.limit)
			f.must(err)
			if !reflect.DeepEqual(ids(got), c.want) {
				f.t.Errorf("DueStates(%d, %+v, %d) = %v, want %v", c.asOf-base, c.after, c.limit, ids(got), c.want)
			}
			for _, s := range got {
				if s.NextDeadline == store.NoTime || s.ShardHash != 123 || s.EntityType != "customer" || !jsonEqual(s.Data, states[0].Data) {
					f.t.Errorf("DueStates record %+v", s)
				}
			}
		}
	})
}

// hrow is a customer history row with null properties.
func hrow(id string, from, to int64) store.HistoryRow {
	return store.HistoryRow{EntityID: id, State: "lead", Props: make([]value.Value, 5), ValidFrom: from, ValidTo: to,
		LastEventTime: from, StateEnteredTime: from, CreatedTime: base, EventSeq: 1}
}

func withName(r store.HistoryRow, name string) store.HistoryRow {
	r.Props = make([]value.Value, 5)
	r.Props[0] = value.String(name)
	return r
}

func rec(r store.HistoryRow, at int64) store.HistoryRow {
	r.RecordedAt = at
	return r
}

func testHistory(f *fixture) {
	f.ensure(v1, f.set)
	ent := f.customer
	t10, t20, t30 := base+10, base+20, base+30
	// Batch 1: one open row.
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base + 100,
			Insert: []store.HistoryRow{hrow("", t10, store.NoTime)}})) // "" means the write's entity
	})
	// Batch 2: closed in place, successor inserted.
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base + 200,
			Close:  map[int64]int64{t10: t20},
			Insert: []store.HistoryRow{hrow("c1", t20, store.NoTime)}}))
	})
	// Batch 3: a late arrival changes the row at 20 and adds one at 30.
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base + 300,
			Supersede: []int64{t20},
			Insert:    []store.HistoryRow{withName(hrow("c1", t20, t30), "late"), hrow("c1", t30, store.NoTime)}}))
	})
	want := []store.HistoryRow{
		rec(hrow("c1", t10, t20), base+100),
		rec(withName(hrow("c1", t20, t30), "late"), base+300),
		rec(hrow("c1", t30, store.NoTime), base+300),
	}
	f.read(func(tx store.Tx) {
		cur, err := tx.CurrentRows(f.ctx, v1, ent, "c1")
		f.must(err)
		checkHistory(f.t, "CurrentRows(c1)", cur, want)
		open, err := tx.OpenRows(f.ctx, v1, ent, []string{"c1", "c2", "c1"})
		f.must(err)
		if len(open) != 1 || !sameHistory(open["c1"], want[2]) {
			f.t.Errorf("OpenRows = %+v, want c1's row at 30", open)
		}
		if cur, err := tx.CurrentRows(f.ctx, v1, ent, "nobody"); err != nil || len(cur) != 0 {
			f.t.Errorf("CurrentRows(nobody) = %v, %v", cur, err)
		}
		if open, err := tx.OpenRows(f.ctx, v1, ent, nil); err != nil || len(open) != 0 {
			f.t.Errorf("OpenRows(nil) = %v, %v", open, err)
		}
	})
	// An entity whose last row is closed has no open row; one whose later
	// rows were superseded has its earlier row open again, while the
	// superseded row at 40 still has no valid_to.
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistories(f.ctx, v1, ent, []*store.HistoryWrite{
			{EntityID: "c3", Now: base + 400, Insert: []store.HistoryRow{hrow("c3", t10, t20)}},
			{EntityID: "c4", Now: base + 400, Insert: []store.HistoryRow{hrow("c4", t10, base+40), hrow("c4", base+40, store.NoTime)}},
		}))
	})
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c4", Now: base + 500,
			Supersede: []int64{t10, base + 40}, Insert: []store.HistoryRow{withName(hrow("c4", t10, store.NoTime), "again")}}))
	})
	f.read(func(tx store.Tx) {
		open, err := tx.OpenRows(f.ctx, v1, ent, []string{"c1", "c3", "c4"})
		f.must(err)
		if len(open) != 2 || !sameHistory(open["c1"], want[2]) ||
			!sameHistory(open["c4"], rec(withName(hrow("c4", t10, store.NoTime), "again"), base+500)) {
			f.t.Errorf("OpenRows(c1, c3, c4) = %+v, want c1's row at 30 and c4's row at 10", open)
		}
	})
	// Transaction time: the superseded row survives with both instants.
	rows := f.queryRows(f.s, v1, `SELECT valid_from, valid_to, recorded_at, superseded_at FROM customer_history_all
		WHERE customer_id = 'c1' ORDER BY valid_from, recorded_at`)
	type tt struct{ from, to, rec, sup int64 }
	var got []tt
	for _, r := range rows {
		got = append(got, tt{instant(f.t, r[0]), instant(f.t, r[1]), instant(f.t, r[2]), instant(f.t, r[3])})
	}
	wantTT := []tt{
		{t10, t20, base + 100, store.NoTime},
		{t20, store.NoTime, base + 200, base + 300},
		{t20, t30, base + 300, store.NoTime},
		{t30, store.NoTime, base + 300, store.NoTime},
	}
	if !reflect.DeepEqual(got, wantTT) {
		f.t.Errorf("customer_history_all = %+v, want %+v", got, wantTT)
	}
	// Plans made from other rows than the stored ones fail.
	f.fails("WriteHistory superseding a missing row", func(tx store.Tx) error {
		return tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base + 400, Supersede: []int64{base + 15}})
	})
	f.fails("WriteHistory superseding an already superseded row", func(tx store.Tx) error {
		return tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c2", Now: base + 400, Supersede: []int64{t20}})
	})
	f.fails("WriteHistory closing a missing row", func(tx store.Tx) error {
		return tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base + 400, Close: map[int64]int64{base + 15: t30}})
	})
	f.fails("WriteHistory with a wrong property count", func(tx store.Tx) error {
		r := hrow("c1", base+40, store.NoTime)
		r.Props = r.Props[:2]
		return tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base + 400, Insert: []store.HistoryRow{r}})
	})
	f.read(func(tx store.Tx) {
		cur, err := tx.CurrentRows(f.ctx, v1, ent, "c1")
		f.must(err)
		checkHistory(f.t, "CurrentRows after refused plans", cur, want)
	})
	// Merge labels: merged_into and the closed last row round-trip; the
	// view hides a merged-away entity's rows.
	f.write(func(tx store.Tx) {
		r := hrow("c1", t30, base+35)
		r.MergedInto, r.LastEventTime, r.EventSeq = "c9", store.NoTime, 0
		f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base + 500,
			Supersede: []int64{t30}, Insert: []store.HistoryRow{r}}))
	})
	f.read(func(tx store.Tx) {
		cur, err := tx.CurrentRows(f.ctx, v1, ent, "c1")
		f.must(err)
		r := rec(hrow("c1", t30, base+35), base+500)
		r.MergedInto, r.LastEventTime, r.EventSeq = "c9", store.NoTime, 0
		checkHistory(f.t, "CurrentRows after the merge label", cur[2:], []store.HistoryRow{r})
	})
	if n := f.count(v1, `SELECT count(*) FROM customer_history WHERE customer_id = $1`, "c1"); n != 2 {
		f.t.Errorf("customer_history shows %d rows of c1, want 2 (the merge-labelled row hidden)", n)
	}
}

// WriteHistories applies several entities' plans at once, each as
// WriteHistory would, with each write's own Now.
func testWriteHistories(f *fixture) {
	f.ensure(v1, f.set)
	ent := f.customer
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistories(f.ctx, v1, ent, []*store.HistoryWrite{
			{EntityID: "a", Now: base + 1, Insert: []store.HistoryRow{hrow("a", base+10, store.NoTime)}},
			{EntityID: "b", Now: base + 2, Insert: []store.HistoryRow{hrow("", base+10, base+20), hrow("b", base+20, store.NoTime)}},
			{EntityID: "c", Now: base + 3},
		}))
		f.must(tx.WriteHistories(f.ctx, v1, ent, nil))
	})
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistories(f.ctx, v1, ent, []*store.HistoryWrite{
			{EntityID: "a", Now: base + 4, Close: map[int64]int64{base + 10: base + 30},
				Insert: []store.HistoryRow{hrow("a", base+30, store.NoTime)}},
			{EntityID: "b", Now: base + 5, Supersede: []int64{base + 20},
				Insert: []store.HistoryRow{withName(hrow("b", base+20, store.NoTime), "new")}},
		}))
	})
	f.read(func(tx store.Tx) {
		a, err := tx.CurrentRows(f.ctx, v1, ent, "a")
		f.must(err)
		checkHistory(f.t, "CurrentRows(a)", a, []store.HistoryRow{rec(hrow("a", base+10, base+30), base+1), rec(hrow("a", base+30, store.NoTime), base+4)})
		b, err := tx.CurrentRows(f.ctx, v1, ent, "b")
		f.must(err)
		checkHistory(f.t, "CurrentRows(b)", b, []store.HistoryRow{rec(hrow("b", base+10, base+20), base+2), rec(withName(hrow("b", base+20, store.NoTime), "new"), base+5)})
	})
	// One entity's stale plan fails the whole call.
	f.fails("WriteHistories with one stale plan", func(tx store.Tx) error {
		return tx.WriteHistories(f.ctx, v1, ent, []*store.HistoryWrite{
			{EntityID: "a", Now: base + 6, Supersede: []int64{base + 30}, Insert: []store.HistoryRow{hrow("a", base+30, store.NoTime)}},
			{EntityID: "b", Now: base + 6, Close: map[int64]int64{base + 99: base + 100}},
		})
	})
	if n := f.count(v1, `SELECT count(*) FROM customer_history_all`); n != 5 {
		f.t.Errorf("customer_history_all has %d rows, want 5", n)
	}
}

// The unique current-belief index (history.md §2): one current row per
// (entity, valid_from), any number of superseded ones; also on the entity
// type whose index names are shortened.
func testHistoryUnique(f *fixture) {
	f.ensure(v1, f.set)
	long := f.set.Entity(longEntity)
	lrow := func(name string) store.HistoryRow {
		return store.HistoryRow{EntityID: "l1", State: "on", Props: []value.Value{value.Int(int64(len(name)))}, ValidFrom: base,
			ValidTo: store.NoTime, LastEventTime: store.NoTime, StateEnteredTime: base, CreatedTime: base}
	}
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, long, &store.HistoryWrite{EntityID: "l1", Now: base, Insert: []store.HistoryRow{lrow("a")}}))
	})
	f.fails("a second current row of the long entity type", func(tx store.Tx) error {
		return tx.WriteHistory(f.ctx, v1, long, &store.HistoryWrite{EntityID: "l1", Now: base, Insert: []store.HistoryRow{lrow("bb")}})
	})
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, long, &store.HistoryWrite{EntityID: "l1", Now: base + 1, Supersede: []int64{base},
			Insert: []store.HistoryRow{lrow("bb")}}))
	})
	ent := f.customer
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base,
			Insert: []store.HistoryRow{hrow("c1", base+10, store.NoTime)}}))
	})
	f.fails("a second current row at one valid_from", func(tx store.Tx) error {
		return tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base + 1,
			Insert: []store.HistoryRow{withName(hrow("c1", base+10, store.NoTime), "dup")}})
	})
	f.fails("two current rows at one valid_from in one insert", func(tx store.Tx) error {
		return tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c2", Now: base + 1,
			Insert: []store.HistoryRow{hrow("c2", base, base+10), hrow("c2", base, store.NoTime)}})
	})
	for i := range 3 {
		f.write(func(tx store.Tx) {
			f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base + int64(i) + 1,
				Supersede: []int64{base + 10}, Insert: []store.HistoryRow{withName(hrow("c1", base+10, store.NoTime), "v")}}))
		})
	}
	// Another entity may use the same instant.
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c2", Now: base,
			Insert: []store.HistoryRow{hrow("c2", base+10, store.NoTime)}}))
	})
	if n := f.count(v1, `SELECT count(*) FROM customer_history_all WHERE customer_id = $1`, "c1"); n != 4 {
		f.t.Errorf("c1 has %d rows in customer_history_all, want 4", n)
	}
	if n := f.count(v1, `SELECT count(*) FROM customer_history WHERE customer_id = $1`, "c1"); n != 1 {
		f.t.Errorf("c1 has %d current rows, want 1", n)
	}
}

func testMergedIDs(f *fixture) {
	f.ensure(v1, f.set)
	f.write(func(tx store.Tx) {
		f.must(tx.InsertMergedID(f.ctx, v1, store.MergedID{EntityID: "A", EntityType: "customer", MergedInto: "B", MergedAt: base}))
		f.must(tx.InsertMergedID(f.ctx, v1, store.MergedID{EntityID: "Z", EntityType: "customer", MergedInto: "Y", CanonicalID: "Y", MergedAt: base}))
	})
	f.write(func(tx store.Tx) {
		// B closes into C: A's canonical id follows.
		m := store.MergedID{EntityID: "B", EntityType: "customer", MergedInto: "C", CanonicalID: "C", MergedAt: base + 5}
		f.must(tx.InsertMergedID(f.ctx, v1, m))
		f.must(tx.InsertMergedID(f.ctx, v1, m)) // replay: no-op
	})
	rows := f.queryRows(f.s, v1, `SELECT entity_id, entity_type, merged_into, canonical_id, merged_at FROM merged_ids ORDER BY entity_id`)
	var got [][5]any
	for _, r := range rows {
		got = append(got, [5]any{r[0], r[1], r[2], r[3], instant(f.t, r[4])})
	}
	want := [][5]any{{"A", "customer", "B", "C", base}, {"B", "customer", "C", "C", base + 5}, {"Z", "customer", "Y", "Y", base}}
	if !reflect.DeepEqual(got, want) {
		f.t.Errorf("merged_ids = %v, want %v", got, want)
	}
}

func testRetireEntity(f *fixture) {
	f.ensure(v1, f.set)
	ent := f.customer
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c1", Now: base,
			Insert: []store.HistoryRow{hrow("c1", base+10, base+20), hrow("c1", base+20, store.NoTime)}}))
		f.must(tx.WriteHistory(f.ctx, v1, ent, &store.HistoryWrite{EntityID: "c2", Now: base,
			Insert: []store.HistoryRow{hrow("c2", base+10, store.NoTime)}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c1", Now: base,
			Insert: []store.RelRow{relRow("o1", base+10, store.NoTime)}}))
		f.must(tx.PutStates(f.ctx, v1, []store.StateRecord{state("c1", base+50, store.StatusActive), state("c2", store.NoTime, store.StatusActive)}))
		f.must(tx.InsertMergedID(f.ctx, v1, store.MergedID{EntityID: "c1", EntityType: "customer", MergedInto: "c2", MergedAt: base}))
	})
	var n int
	f.write(func(tx store.Tx) {
		var err error
		n, err = tx.RetireEntity(f.ctx, v1, ent, "c1", base+999)
		f.must(err)
	})
	if n != 3 {
		f.t.Errorf("RetireEntity superseded %d rows, want 3 (two entity rows, one relationship row)", n)
	}
	f.read(func(tx store.Tx) {
		if cur, _ := tx.CurrentRows(f.ctx, v1, ent, "c1"); len(cur) != 0 {
			f.t.Errorf("a retired entity has current rows: %+v", cur)
		}
		if rels, _ := tx.CurrentRelRows(f.ctx, v1, f.places, "c1"); len(rels) != 0 {
			f.t.Errorf("a retired entity has current relationship rows: %+v", rels)
		}
		if st, _ := tx.States(f.ctx, v1, []string{"c1", "c2"}); len(st) != 1 {
			f.t.Errorf("working state after retire = %v, want only c2", st)
		}
		if cur, _ := tx.CurrentRows(f.ctx, v1, ent, "c2"); len(cur) != 1 {
			f.t.Errorf("retiring c1 touched c2: %+v", cur)
		}
		// Its superseded rows stay, but nothing is left to retire.
		stored, err := tx.StoredEntities(f.ctx, v1)
		f.must(err)
		if _, ok := stored["c1"]; ok || stored["c2"] != "customer" {
			f.t.Errorf("StoredEntities after retire = %v, want c2 and not c1", stored)
		}
	})
	if n := f.count(v1, `SELECT count(*) FROM merged_ids`); n != 0 {
		f.t.Errorf("merged_ids keeps %d rows after retire", n)
	}
	if n := f.count(v1, `SELECT count(*) FROM customer_history_all WHERE superseded_at IS NOT NULL`); n != 2 {
		f.t.Errorf("%d superseded rows after retire, want 2", n)
	}
	f.write(func(tx store.Tx) {
		n, err := tx.RetireEntity(f.ctx, v1, ent, "nobody", base)
		f.must(err)
		if n != 0 {
			f.t.Errorf("RetireEntity(nobody) = %d", n)
		}
	})
}

func testStoredEntities(f *fixture) {
	f.ensure(v1, f.set)
	f.read(func(tx store.Tx) {
		got, err := tx.StoredEntities(f.ctx, v1)
		f.must(err)
		if len(got) != 0 {
			f.t.Errorf("StoredEntities of an empty store = %v", got)
		}
	})
	f.write(func(tx store.Tx) {
		f.must(tx.PutStates(f.ctx, v1, []store.StateRecord{state("ghost", store.NoTime, store.StatusActive)}))
		f.must(tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "c1", Now: base,
			Insert: []store.HistoryRow{hrow("c1", base, store.NoTime)}}))
		o := store.HistoryRow{EntityID: "o1", State: "placed", Props: []value.Value{value.Float(2)}, ValidFrom: base,
			ValidTo: store.NoTime, LastEventTime: store.NoTime, StateEnteredTime: base, CreatedTime: base}
		f.must(tx.WriteHistory(f.ctx, v1, f.order, &store.HistoryWrite{EntityID: "o1", Now: base, Insert: []store.HistoryRow{o}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c1", Now: base,
			Insert: []store.RelRow{relRow("o7", base, store.NoTime)}}))
	})
	f.read(func(tx store.Tx) {
		got, err := tx.StoredEntities(f.ctx, v1)
		f.must(err)
		// Relationship targets are not stored entities.
		if want := map[string]string{"ghost": "customer", "c1": "customer", "o1": "order"}; !reflect.DeepEqual(got, want) {
			f.t.Errorf("StoredEntities = %v, want %v", got, want)
		}
	})
}

// typedRows exercises every property type: extremes, precision, nulls and
// the permitted conversions.
func typedRows() (in, want []store.HistoryRow) {
	mk := func(from int64, props ...value.Value) store.HistoryRow {
		r := hrow("t1", from, store.NoTime)
		r.Props = props
		return r
	}
	in = []store.HistoryRow{
		mk(base+1, value.String(`Zoë "quoted" ✓ 'single' \ back`), value.Int(9_007_199_254_740_993), value.Float(0.1),
			value.Bool(false), value.DateTime(base+123_457)),
		mk(base+2, value.String(""), value.Int(math.MinInt64+1), value.Float(-1.5e300), value.Bool(true),
			value.DateTime(-1_000_000_001)),
		mk(base+3, value.Null, value.Null, value.Null, value.Null, value.Null),
		// Permitted conversions: an integral Float into an integer, an Int
		// into a number.
		mk(base+4, value.String("x"), value.Float(42), value.Int(7), value.Bool(true), value.DateTime(0)),
	}
	want = make([]store.HistoryRow, len(in))
	copy(want, in)
	want[3] = mk(base+4, value.String("x"), value.Int(42), value.Float(7), value.Bool(true), value.DateTime(0))
	for i := range in {
		in[i].ValidTo = base + int64(i) + 2
		want[i].ValidTo = in[i].ValidTo
		want[i].RecordedAt = base + 1000
	}
	in[3].ValidTo, want[3].ValidTo = store.NoTime, store.NoTime
	return in, want
}

func testTypedRoundTrip(f *fixture) {
	f.ensure(v1, f.set)
	in, want := typedRows()
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "t1", Now: base + 1000, Insert: in}))
	})
	f.read(func(tx store.Tx) {
		cur, err := tx.CurrentRows(f.ctx, v1, f.customer, "t1")
		f.must(err)
		checkHistory(f.t, "typed CurrentRows", cur, want)
	})
	// Raw queries see the columns typed (history.md §1); booleans may come
	// back as 0/1 on backends without a boolean type.
	rows := f.queryRows(f.s, v1, `SELECT name, visits, score, vip, renewed_at FROM customer_history WHERE valid_from = $1`,
		instantArg(f.s.Dialect(), base+1))
	if len(rows) != 1 {
		f.t.Fatalf("raw typed query returned %d rows", len(rows))
	}
	r := rows[0]
	vip := r[3]
	if b, ok := vip.(bool); ok {
		vip = map[bool]int64{false: 0, true: 1}[b]
	}
	if r[0] != `Zoë "quoted" ✓ 'single' \ back` || r[1] != int64(9_007_199_254_740_993) || r[2] != 0.1 || vip != int64(0) ||
		instant(f.t, r[4]) != base+123_457 {
		f.t.Errorf("raw typed row = %#v", r)
	}
	// Wrong kinds are refused, never converted silently.
	for i, bad := range [][]value.Value{
		{value.Int(1), value.Null, value.Null, value.Null, value.Null},
		{value.Null, value.Float(1.5), value.Null, value.Null, value.Null},
		{value.Null, value.String("1"), value.Null, value.Null, value.Null},
		{value.Null, value.Null, value.String("0.1"), value.Null, value.Null},
		{value.Null, value.Null, value.Null, value.Int(1), value.Null},
		{value.Null, value.Null, value.Null, value.Null, value.String("2024-01-01T00:00:00Z")},
	} {
		f.fails("WriteHistory with a wrongly typed property", func(tx store.Tx) error {
			r := hrow("bad", base+int64(i), store.NoTime)
			r.Props = bad
			return tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "bad", Now: base, Insert: []store.HistoryRow{r}})
		})
	}
}

// A write of many rows at once (the PostgreSQL store COPYs one of 64 rows
// or more) stores every property type as a small one does, after the
// supersedes and closes it carries.
func testTypedRoundTripLarge(f *fixture) {
	f.ensure(v1, f.set)
	in, want := typedRows()
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%02d", i)
	}
	withID := func(rows []store.HistoryRow, id string) []store.HistoryRow {
		out := slices.Clone(rows)
		for i := range out {
			out[i].EntityID = id
		}
		return out
	}
	// First the open rows, which the large write closes or supersedes.
	f.write(func(tx store.Tx) {
		var ws []*store.HistoryWrite
		for _, id := range ids {
			ws = append(ws, &store.HistoryWrite{EntityID: id, Now: base + 500,
				Insert: []store.HistoryRow{hrow(id, base, store.NoTime), hrow(id, base+1, store.NoTime)}})
		}
		f.must(tx.WriteHistories(f.ctx, v1, f.customer, ws))
	})
	f.write(func(tx store.Tx) {
		var ws []*store.HistoryWrite
		for _, id := range ids {
			ws = append(ws, &store.HistoryWrite{EntityID: id, Now: base + 1000, Close: map[int64]int64{base: base + 1},
				Supersede: []int64{base + 1}, Insert: withID(in, id)})
		}
		f.must(tx.WriteHistories(f.ctx, v1, f.customer, ws))
	})
	f.read(func(tx store.Tx) {
		got, err := tx.CurrentRowsOf(f.ctx, v1, f.customer, ids, false)
		f.must(err)
		for _, id := range ids {
			closed := hrow(id, base, base+1)
			closed.RecordedAt = base + 500
			checkHistory(f.t, "rows of "+id+" after a large write", got[id], append([]store.HistoryRow{closed}, withID(want, id)...))
		}
	})
}

// testReopen checks that everything survives a restart: meta, ledger,
// identity, typed history and relationship rows, working state.
func testReopen(f *fixture) {
	f.ensure(v1, f.set)
	in, want := typedRows()
	rel := relRow("o1", base, store.NoTime)
	rel.Props = []value.Value{value.String("web"), value.Int(3), value.Float(2), value.Bool(false), value.DateTime(-5)}
	relWant := rel
	relWant.Props = []value.Value{value.String("web"), value.Float(3), value.Int(2), value.Bool(false), value.DateTime(-5)}
	relWant.SourceID, relWant.RecordedAt = "t1", base+1000
	rows := f.appendRows(ev("e1", "shop", base))
	st := state("t1", base+5, store.StatusActive)
	f.write(func(tx store.Tx) {
		f.must(tx.SetMeta(f.ctx, "salt", "00ff"))
		f.must(tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "t1", Now: base + 1000, Insert: in}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "t1", Now: base + 1000, Insert: []store.RelRow{rel}}))
		f.must(tx.PutStates(f.ctx, v1, []store.StateRecord{st}))
		f.must(tx.InsertKeys(f.ctx, []store.KeyRecord{key("k", "customer", "email", "t1", "", 1)}))
	})
	s := f.reopen()
	if s == nil {
		return
	}
	f.must(f.s.Close())
	defer s.Close()
	readFrom(f.t, s, func(tx store.Tx) {
		if v, ok, err := tx.Meta(f.ctx, "salt"); err != nil || !ok || v != "00ff" {
			f.t.Errorf("Meta(salt) after reopen = %q, %v, %v", v, ok, err)
		}
		cur, err := tx.CurrentRows(f.ctx, v1, f.customer, "t1")
		f.must(err)
		checkHistory(f.t, "typed CurrentRows after reopen", cur, want)
		rels, err := tx.CurrentRelRows(f.ctx, v1, f.places, "t1")
		f.must(err)
		checkRels(f.t, "CurrentRelRows after reopen", rels, []store.RelRow{relWant})
		evs, err := tx.Events(f.ctx, seqsOf(rows))
		f.must(err)
		checkLedger(f.t, "Events after reopen", evs, rows)
		sts, err := tx.States(f.ctx, v1, []string{"t1"})
		f.must(err)
		checkStates(f, "States after reopen", []store.StateRecord{sts["t1"]}, []store.StateRecord{st})
		keys, err := tx.LookupKeys(f.ctx, []string{"k"})
		f.must(err)
		if k := keys["k"]; k.HasValue || k.EntityID != "t1" {
			f.t.Errorf("key after reopen = %+v", k)
		}
	})
	// The reopened store writes on: sequences continue above the old head.
	writeTo(f.t, s, func(tx store.Tx) {
		more := []store.LedgerRow{ev("e2", "shop", base)}
		f.must(tx.Append(f.ctx, more))
		if more[0].Seq <= rows[0].Seq {
			f.t.Errorf("sequence after reopen = %d, not above %d", more[0].Seq, rows[0].Seq)
		}
		f.must(tx.EnsureVersionStore(f.ctx, v1, f.set))
	})
}
