package storetest

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/defacto-dev/defacto/internal/store"
)

// appendRows appends rows in one committed transaction and returns them
// with their sequences.
func (f *fixture) appendRows(rows ...store.LedgerRow) []store.LedgerRow {
	f.t.Helper()
	f.write(func(tx store.Tx) { f.must(tx.Append(f.ctx, rows)) })
	return rows
}

func testLedgerAppend(f *fixture) {
	f.read(func(tx store.Tx) {
		if h, err := tx.LedgerHead(f.ctx); err != nil || h != 0 {
			f.t.Errorf("LedgerHead of an empty ledger = %d, %v", h, err)
		}
	})
	a := ev("e1", "shop", base+30)
	a.Data = []byte(`{"email": "a@example.com", "n": 1.5, "big": 12345678901234567, "nested": {"z": [1, 2, {"y": null}], "a": "ü\u00e9\"q"}}`)
	a.DataTypes = []byte(`{"when":"t"}`)
	a.Raw = []byte(`{"kind":"signup","at":"2024-01-01T00:00:00Z","extra":[true,false]}`)
	a.Hints = []byte(`{"customer":{"email":{"k":"abc","v":"a@example.com"}}}`)
	b := ev("e2", "shop", -1_000_001) // before 1970, odd µs
	b.Data, b.Raw, b.Hints = nil, nil, nil
	c := ev("m1", "_defacto", base+123_456)
	rows := f.appendRows(a, b, c)
	if !(rows[0].Seq > 0 && rows[0].Seq < rows[1].Seq && rows[1].Seq < rows[2].Seq) {
		f.t.Fatalf("Append sequences %v are not increasing in input order", seqsOf(rows))
	}
	more := f.appendRows(ev("e3", "shop", base))
	if more[0].Seq <= rows[2].Seq {
		f.t.Errorf("a later Append got sequence %d, not above %d", more[0].Seq, rows[2].Seq)
	}
	all := append(slices.Clone(rows), more...)
	f.read(func(tx store.Tx) {
		h, err := tx.LedgerHead(f.ctx)
		f.must(err)
		if h != more[0].Seq {
			f.t.Errorf("LedgerHead = %d, want %d", h, more[0].Seq)
		}
		got, err := tx.Events(f.ctx, []int64{all[3].Seq, all[0].Seq, all[0].Seq, 999_999, all[1].Seq, all[2].Seq})
		f.must(err)
		checkLedger(f.t, "Events", got, all)
		if got, err := tx.Events(f.ctx, nil); err != nil || len(got) != 0 {
			f.t.Errorf("Events(nil) = %v, %v", got, err)
		}
		after, err := tx.EventsAfter(f.ctx, all[0].Seq, 2)
		f.must(err)
		checkLedger(f.t, "EventsAfter(limit 2)", after, forIdentity(all[1:3]))
		everything, err := tx.AllEvents(f.ctx, 0, 100)
		f.must(err)
		checkLedger(f.t, "AllEvents", everything, all)
		ids, _, err := tx.KnownEventIDs(f.ctx, []string{"e1", "zz", "e2", "e1", "m1"})
		f.must(err)
		if want := map[string]bool{"e1": true, "e2": true, "m1": true}; !reflect.DeepEqual(ids, want) {
			f.t.Errorf("KnownEventIDs: live %v, want %v", ids, want)
		}
		if ids, erased, err := tx.KnownEventIDs(f.ctx, nil); err != nil || len(ids)+len(erased) != 0 {
			f.t.Errorf("KnownEventIDs(nil) = %v, %v, %v", ids, erased, err)
		}
	})
	// A rolled-back append reuses nothing committed: later sequences stay
	// above the head (a gap is allowed).
	tx, err := f.s.Begin(f.ctx)
	f.must(err)
	lost := []store.LedgerRow{ev("lost", "shop", base)}
	f.must(tx.Append(f.ctx, lost))
	f.must(tx.Rollback())
	next := f.appendRows(ev("e4", "shop", base))
	if next[0].Seq <= more[0].Seq {
		f.t.Errorf("sequence after a rollback = %d, not above the head %d", next[0].Seq, more[0].Seq)
	}
	f.read(func(tx store.Tx) {
		if ids, _, _ := tx.KnownEventIDs(f.ctx, []string{"lost"}); len(ids) != 0 {
			f.t.Error("a rolled-back ledger row is visible")
		}
	})
	// Appending nothing is allowed.
	f.write(func(tx store.Tx) { f.must(tx.Append(f.ctx, nil)) })
}

// A large append (the PostgreSQL store COPYs one of 64 rows or more)
// stores every kind of row as a small one does.
func testLedgerAppendLarge(f *fixture) {
	var rows []store.LedgerRow
	for i := range 300 {
		r := ev(fmt.Sprintf("e%03d", i), "shop", base+int64(i)*7)
		switch i % 5 {
		case 1:
			r.Data = []byte(`{"email": "x@example.com", "n": 1.5, "big": 12345678901234567, "nested": {"z": [1, 2, {"y": null}], "a": "ü\u00e9\"q\\"}}`)
			r.DataTypes = []byte(`{"when":"t"}`)
			r.Hints = []byte(`{"customer":{"email":{"k":"abc","v":"x@example.com"}}}`)
		case 2:
			r.Data, r.Raw, r.Hints = nil, nil, nil
		case 3:
			r.NormalizeError = "timestamp: not a date: \"yesterday\""
			r.Redacted = true
		case 4:
			r.Source, r.Time = "_defacto", -1_000_001
		}
		rows = append(rows, r)
	}
	rows = f.appendRows(rows...)
	for i := 1; i < len(rows); i++ {
		if rows[i].Seq <= rows[i-1].Seq {
			f.t.Fatalf("sequences not increasing in input order at row %d: %d after %d", i, rows[i].Seq, rows[i-1].Seq)
		}
	}
	f.read(func(tx store.Tx) {
		got, err := tx.AllEvents(f.ctx, 0, 1000)
		f.must(err)
		checkLedger(f.t, "AllEvents after a large append", got, rows)
	})
}

func testLedgerDedup(f *fixture) {
	rows := f.appendRows(ev("e1", "shop", base), ev("e2", "shop", base+1))
	// A second live row with the same event id violates the unique index
	// (ingestion.md §8).
	f.fails("Append of a live duplicate event id", func(tx store.Tx) error {
		return tx.Append(f.ctx, []store.LedgerRow{ev("e1", "shop", base+2)})
	})
	// Duplicates marked as such, and rows that failed re-normalization, may
	// repeat an event id; neither is live.
	dup := ev("e1", "shop", base+3)
	dup.DuplicateOf = rows[0].Seq
	bad := ev("e2", "shop", base+4)
	bad.NormalizeError = "timestamp: not a date"
	extra := f.appendRows(dup, bad)
	f.read(func(tx store.Tx) {
		got, err := tx.Events(f.ctx, []int64{rows[0].Seq, extra[0].Seq, extra[1].Seq})
		f.must(err)
		checkLedger(f.t, "Events over live and non-live rows", got, rows[:1])
		after, err := tx.EventsAfter(f.ctx, 0, 10)
		f.must(err)
		checkLedger(f.t, "EventsAfter over live and non-live rows", after, forIdentity(rows))
		all, err := tx.AllEvents(f.ctx, rows[1].Seq, 10)
		f.must(err)
		checkLedger(f.t, "AllEvents", all, extra)
		live, dups, err := tx.LedgerStats(f.ctx)
		f.must(err)
		if live != 2 || dups != 1 {
			f.t.Errorf("LedgerStats = %d live, %d duplicates; want 2, 1", live, dups)
		}
	})
	// Erased event ids are remembered.
	f.write(func(tx store.Tx) { f.must(tx.DeleteEvents(f.ctx, []int64{rows[1].Seq, extra[1].Seq}, 7)) })
	f.read(func(tx store.Tx) {
		live, erased, err := tx.KnownEventIDs(f.ctx, []string{"e1", "e2", "zz", "e1"})
		f.must(err)
		if want := map[string]bool{"e2": true}; !reflect.DeepEqual(erased, want) {
			f.t.Errorf("KnownEventIDs: erased %v, want %v", erased, want)
		}
		if want := map[string]bool{"e1": true}; !reflect.DeepEqual(live, want) {
			f.t.Errorf("KnownEventIDs: live %v, want %v", live, want)
		}
		all, err := tx.AllEvents(f.ctx, 0, 10)
		f.must(err)
		checkLedger(f.t, "AllEvents after DeleteEvents", all, []store.LedgerRow{rows[0], extra[0]})
	})
}

func testLedgerCounts(f *fixture) {
	rows := f.appendRows(ev("a", "shop", base), ev("b", "shop", base), ev("c", "Zed", base), ev("d", "_defacto", base),
		ev("e", "crm", base))
	dup := ev("a", "crm", base)
	dup.DuplicateOf = rows[0].Seq
	f.appendRows(dup)
	f.read(func(tx store.Tx) {
		for _, c := range []struct {
			source string
			all    bool
			want   int64
		}{{"shop", false, 2}, {"crm", false, 1}, {"_defacto", false, 1}, {"none", false, 0}, {"", false, 4}, {"", true, 5}} {
			n, err := tx.CountLive(f.ctx, c.source, c.all)
			f.must(err)
			if n != c.want {
				f.t.Errorf("CountLive(%q, %v) = %d, want %d", c.source, c.all, n, c.want)
			}
		}
		srcs, err := tx.LedgerSources(f.ctx)
		f.must(err)
		// Byte order, whatever the collation.
		if want := []string{"Zed", "_defacto", "crm", "shop"}; !reflect.DeepEqual(srcs, want) {
			f.t.Errorf("LedgerSources = %v, want %v", srcs, want)
		}
	})
}

func testLedgerRewrite(f *fixture) {
	rows := f.appendRows(ev("e1", "shop", base), ev("e2", "shop", base+1))
	f.write(func(tx store.Tx) {
		r := rows[0]
		r.EventID, r.EventType, r.Time = "e1b", "order_placed", base+50
		r.Data, r.DataTypes, r.Hints = []byte(`{"order_id":"o1"}`), []byte(`{"x":"d"}`), nil
		f.must(tx.UpdateNormalized(f.ctx, r))
		r2 := rows[1]
		r2.DuplicateOf, r2.NormalizeError = rows[0].Seq, ""
		f.must(tx.UpdateNormalized(f.ctx, r2))
	})
	f.fails("UpdateNormalized of an unknown row", func(tx store.Tx) error {
		return tx.UpdateNormalized(f.ctx, store.LedgerRow{Seq: 999_999, EventID: "x", Data: []byte(`{}`)})
	})
	want0 := rows[0]
	want0.EventID, want0.EventType, want0.Time = "e1b", "order_placed", base+50
	want0.Data, want0.DataTypes, want0.Hints = []byte(`{"order_id":"o1"}`), []byte(`{"x":"d"}`), nil
	want1 := rows[1]
	want1.DuplicateOf = rows[0].Seq
	f.read(func(tx store.Tx) {
		all, err := tx.AllEvents(f.ctx, 0, 10)
		f.must(err)
		checkLedger(f.t, "AllEvents after UpdateNormalized", all, []store.LedgerRow{want0, want1})
	})
	// Redaction rewrites the payload (raw included) and marks the row.
	f.write(func(tx store.Tx) {
		r := want0
		r.Data, r.DataTypes, r.Raw, r.Hints = []byte(`{}`), nil, []byte(`{"kind":"x"}`), []byte(`{"order":{}}`)
		f.must(tx.UpdatePayload(f.ctx, r))
	})
	want0.Data, want0.DataTypes, want0.Raw, want0.Hints, want0.Redacted = []byte(`{}`), nil, []byte(`{"kind":"x"}`), []byte(`{"order":{}}`), true
	f.read(func(tx store.Tx) {
		got, err := tx.Events(f.ctx, []int64{want0.Seq})
		f.must(err)
		checkLedger(f.t, "Events after UpdatePayload", got, []store.LedgerRow{want0})
	})
}

func testEntityEvents(f *fixture) {
	// Timestamps out of sequence order, with a tie.
	rows := f.appendRows(ev("e1", "shop", base+30), ev("e2", "shop", base+10), ev("e3", "shop", base+20),
		ev("e4", "shop", base+10), ev("e5", "shop", base+5))
	s := seqsOf(rows)
	// e5 becomes a duplicate: not live, never returned.
	f.write(func(tx store.Tx) {
		r := rows[4]
		r.DuplicateOf = s[0]
		f.must(tx.UpdateNormalized(f.ctx, r))
		// c2 was merged into c1 and p1 into o1: their links moved to the
		// winners and keep their first owner.
		f.must(tx.InsertEntities(f.ctx, []store.EntityRecord{
			{ID: "c1", Type: "customer", BirthSeq: s[0]},
			{ID: "c2", Type: "customer", BirthSeq: s[1], Status: store.StatusMerged, MergedInto: "c1"},
			{ID: "o1", Type: "order", BirthSeq: s[1]},
			{ID: "p1", Type: "order", BirthSeq: s[1], Status: store.StatusMerged, MergedInto: "o1"},
		}))
		f.must(tx.InsertLinks(f.ctx, []store.Link{
			{Seq: s[0], EntityType: "customer", EntityID: "c1"},
			{Seq: s[1], EntityType: "customer", EntityID: "c1", ResolvedID: "c2"},
			{Seq: s[1], EntityType: "order", EntityID: "o1", ResolvedID: "p1"},
			{Seq: s[2], EntityType: "customer", EntityID: "c1"},
			{Seq: s[3], EntityType: "customer", EntityID: "c1", ResolvedID: "c2"},
			{Seq: s[4], EntityType: "customer", EntityID: "c1"},
		}))
	})
	f.read(func(tx store.Tx) {
		got, err := tx.EntityEvents(f.ctx, "c1", s[3])
		f.must(err)
		// (timestamp, sequence): e2 and e4 tie at +10.
		checkLedger(f.t, "EntityEvents(c1)", got, []store.LedgerRow{rows[1], rows[3], rows[2], rows[0]})
		got, err = tx.EntityEvents(f.ctx, "c1", s[2])
		f.must(err)
		checkLedger(f.t, "EntityEvents(c1, max e3)", got, []store.LedgerRow{rows[1], rows[2], rows[0]})
		got, err = tx.EntityEvents(f.ctx, "nobody", s[4])
		f.must(err)
		checkLedger(f.t, "EntityEvents(nobody)", got, nil)
		got, err = tx.ResolvedEvents(f.ctx, []string{"c2", "c1"}, s[3])
		f.must(err)
		checkLedger(f.t, "ResolvedEvents(c1, c2)", got, []store.LedgerRow{rows[1], rows[2], rows[0]})
		got, err = tx.ResolvedEvents(f.ctx, []string{"c2"}, s[4]+1)
		f.must(err)
		checkLedger(f.t, "ResolvedEvents(c2)", got, []store.LedgerRow{rows[1], rows[3]})
		// e2 was first resolved to both c2 (customer) and p1 (order): once.
		got, err = tx.ResolvedEvents(f.ctx, []string{"c2", "p1"}, s[4]+1)
		f.must(err)
		checkLedger(f.t, "ResolvedEvents(c2, p1)", got, []store.LedgerRow{rows[1], rows[3]})
		got, err = tx.ResolvedEvents(f.ctx, nil, s[4])
		f.must(err)
		checkLedger(f.t, "ResolvedEvents(nil)", got, nil)
	})
}
