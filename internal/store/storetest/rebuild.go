package storetest

import (
	"fmt"

	"github.com/defacto-dev/defacto/internal/store"
)

// withoutRaw is rows as EventsOfEntities returns them: without Raw and
// Hints.
func withoutRaw(rows []store.LedgerRow) []store.LedgerRow {
	return stripped(rows, func(r *store.LedgerRow) { r.Raw, r.Hints = nil, nil })
}

// forIdentity is rows as EventsAfter returns them: without DataTypes and
// Raw, and without Data except on merge directives.
func forIdentity(rows []store.LedgerRow) []store.LedgerRow {
	return stripped(rows, func(r *store.LedgerRow) {
		r.DataTypes, r.Raw = nil, nil
		if r.Source != "_defacto" {
			r.Data = []byte{} // left out: checkLedger wants none
		}
	})
}

// stripped returns copies of rows, each with strip applied.
func stripped(rows []store.LedgerRow, strip func(*store.LedgerRow)) []store.LedgerRow {
	out := make([]store.LedgerRow, len(rows))
	for i, r := range rows {
		strip(&r)
		out[i] = r
	}
	return out
}

// testBatchedReads checks the batched reads of a full rebuild
// (EventsOfEntities, CurrentRowsOf, CurrentRelRowsOf) against the
// per-entity reads they stand for, over more ids than one statement of a
// chunking backend takes, with ids out of order and ids of other entities
// between them (SQLite reads the range between the least and the greatest
// id for consecutive ids, and must drop those), both for consecutive ids
// and for scattered ones.
func testBatchedReads(f *fixture) {
	f.ensure(v1, f.set)
	// Timestamps out of sequence order, with a tie; e5 becomes a duplicate
	// and e6 is a reserved type, which the batched read keeps like
	// EntityEvents does.
	reserved := ev("e6", "_defacto", base+1)
	reserved.EventType = "_defacto_merge"
	rows := f.appendRows(ev("e1", "shop", base+30), ev("e2", "shop", base+10), ev("e3", "shop", base+20),
		ev("e4", "shop", base+10), ev("e5", "shop", base+5), reserved)
	s := seqsOf(rows)
	// One event each (an event links to one entity per type).
	var many []string
	var manyRows []store.LedgerRow
	for i := range 600 {
		many = append(many, fmt.Sprintf("m%04d", i))
		manyRows = append(manyRows, ev(fmt.Sprintf("x%04d", i), "shop", base+int64(i%7)))
	}
	ms := seqsOf(f.appendRows(manyRows...))
	f.write(func(tx store.Tx) {
		r := rows[4]
		r.DuplicateOf = s[0]
		f.must(tx.UpdateNormalized(f.ctx, r))
		links := []store.Link{
			{Seq: s[0], EntityType: "customer", EntityID: "c1"},
			{Seq: s[1], EntityType: "customer", EntityID: "c1", ResolvedID: "c2"},
			{Seq: s[1], EntityType: "order", EntityID: "o1"},
			{Seq: s[2], EntityType: "customer", EntityID: "c1"},
			{Seq: s[3], EntityType: "customer", EntityID: "c2"},
			{Seq: s[4], EntityType: "customer", EntityID: "c1"},
			{Seq: s[5], EntityType: "customer", EntityID: "c2"},
		}
		for i, id := range many {
			links = append(links, store.Link{Seq: ms[i], EntityType: "customer", EntityID: id})
		}
		f.must(tx.InsertLinks(f.ctx, links))
		// History: c1 has three current rows (one superseded below), c2 one.
		f.must(tx.WriteHistories(f.ctx, v1, f.customer, []*store.HistoryWrite{
			{EntityID: "c1", Now: base + 100, Insert: []store.HistoryRow{hrow("c1", base+30, store.NoTime),
				hrow("c1", base+10, base+20), hrow("c1", base+20, base+30)}},
			{EntityID: "c2", Now: base + 100, Insert: []store.HistoryRow{hrow("c2", base+10, store.NoTime)}},
		}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c1", Now: base + 100,
			Insert: []store.RelRow{relRow("o2", base+10, store.NoTime), relRow("o1", base+20, store.NoTime),
				relRow("o1", base+10, base+20)}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c2", Now: base + 100,
			Insert: []store.RelRow{relRow("o1", base+10, store.NoTime)}}))
	})
	f.write(func(tx store.Tx) {
		f.must(tx.WriteHistory(f.ctx, v1, f.customer, &store.HistoryWrite{EntityID: "c1", Now: base + 200,
			Supersede: []int64{base + 20}, Insert: []store.HistoryRow{withName(hrow("c1", base+20, base+30), "late")}}))
		f.must(tx.WriteRelationships(f.ctx, v1, f.places, &store.RelWrite{SourceID: "c1", Now: base + 200,
			Supersede: []store.RelKey{{TargetID: "o2", ValidFrom: base + 10}}}))
	})
	ids := append([]string{"c1", "nobody", "c2", "o1", "c1"}, many...)
	// Both ways of finding the ids: a range scan (consecutive) and seeks.
	for _, consecutive := range []bool{true, false} {
		f.read(func(tx store.Tx) {
			for _, upTo := range []int64{s[2], ms[len(ms)-1]} {
				got, err := tx.EventsOfEntities(f.ctx, ids, consecutive, upTo)
				f.must(err)
				nonEmpty := map[string]bool{}
				for _, id := range ids {
					want, err := tx.EntityEvents(f.ctx, id, upTo)
					f.must(err)
					want = withoutRaw(want)
					checkLedger(f.t, fmt.Sprintf("EventsOfEntities[%s] (max %d)", id, upTo), got[id], want)
					if len(want) > 0 {
						nonEmpty[id] = true
					}
				}
				if len(got) != len(nonEmpty) {
					f.t.Errorf("EventsOfEntities (max %d) returned %d ids, want %d", upTo, len(got), len(nonEmpty))
				}
			}
			got, err := tx.EventsOfEntities(f.ctx, ids, consecutive, ms[len(ms)-1])
			f.must(err)
			checkLedger(f.t, "EventsOfEntities[c1]", got["c1"], withoutRaw([]store.LedgerRow{rows[1], rows[2], rows[0]}))
			checkLedger(f.t, "EventsOfEntities[c2]", got["c2"], withoutRaw([]store.LedgerRow{rows[5], rows[3]}))
			if got, err := tx.EventsOfEntities(f.ctx, nil, consecutive, s[5]); err != nil || len(got) != 0 {
				f.t.Errorf("EventsOfEntities(nil) = %v, %v", got, err)
			}

			cur, err := tx.CurrentRowsOf(f.ctx, v1, f.customer, ids, consecutive)
			f.must(err)
			for _, id := range []string{"c1", "c2", "nobody"} {
				want, err := tx.CurrentRows(f.ctx, v1, f.customer, id)
				f.must(err)
				checkHistory(f.t, "CurrentRowsOf["+id+"]", cur[id], want)
			}
			checkHistory(f.t, "CurrentRowsOf[c1]", cur["c1"], []store.HistoryRow{rec(hrow("c1", base+10, base+20), base+100),
				rec(withName(hrow("c1", base+20, base+30), "late"), base+200), rec(hrow("c1", base+30, store.NoTime), base+100)})
			if len(cur) != 2 {
				f.t.Errorf("CurrentRowsOf returned %d ids, want c1 and c2", len(cur))
			}
			if cur, err := tx.CurrentRowsOf(f.ctx, v1, f.customer, nil, consecutive); err != nil || len(cur) != 0 {
				f.t.Errorf("CurrentRowsOf(nil) = %v, %v", cur, err)
			}

			rels, err := tx.CurrentRelRowsOf(f.ctx, v1, f.places, ids, consecutive)
			f.must(err)
			for _, id := range []string{"c1", "c2", "nobody"} {
				want, err := tx.CurrentRelRows(f.ctx, v1, f.places, id)
				f.must(err)
				checkRels(f.t, "CurrentRelRowsOf["+id+"]", rels[id], want)
			}
			checkRels(f.t, "CurrentRelRowsOf[c1]", rels["c1"], []store.RelRow{src(relRow("o1", base+10, base+20), "c1", base+100),
				src(relRow("o1", base+20, store.NoTime), "c1", base+100)})
			if len(rels) != 2 {
				f.t.Errorf("CurrentRelRowsOf returned %d sources, want c1 and c2", len(rels))
			}
			if rels, err := tx.CurrentRelRowsOf(f.ctx, v1, f.places, nil, consecutive); err != nil || len(rels) != 0 {
				f.t.Errorf("CurrentRelRowsOf(nil) = %v, %v", rels, err)
			}
		})
	}
}
