package sqlite

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
)

func ev(id, source string, ts int64) store.LedgerRow {
	return store.LedgerRow{EventID: id, Source: source, EventType: "signup", Time: ts,
		Data: []byte(`{"email":"a@example.com"}`), Raw: []byte(`{"type":"signup"}`), Hints: []byte(`{}`), IngestedAt: 99}
}

func TestLedgerAppendAndLookups(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	rows := []store.LedgerRow{ev("e1", "shop", 30), ev("e2", "shop", 10), ev("e3", "crm", 20), ev("m1", "_defacto", 40)}
	rows[2].DataTypes = []byte(`{"/total":"float"}`)
	write(t, s, func(tx store.Tx) { must(t, tx.Append(ctx, rows)) })
	for i, r := range rows {
		if r.Seq != int64(i+1) {
			t.Fatalf("row %d Seq = %d", i, r.Seq)
		}
	}

	// A second live row with the same event id violates the dedup index; a
	// duplicate (duplicate_of set) may share it.
	tx, err := s.Begin(ctx)
	must(t, err)
	if err := tx.Append(ctx, []store.LedgerRow{ev("e1", "shop", 1)}); err == nil {
		t.Error("second live row with the same event id accepted")
	}
	must(t, tx.Rollback())
	dup := ev("e1", "shop", 1)
	dup.DuplicateOf = 1
	failed := ev("e9", "shop", 5)
	failed.NormalizeError = "bad timestamp"
	write(t, s, func(tx store.Tx) { must(t, tx.Append(ctx, []store.LedgerRow{dup, failed})) })

	read(t, s, func(tx store.Tx) {
		live, _, err := tx.KnownEventIDs(ctx, []string{"e1", "e2", "e9", "zz", "e1"})
		must(t, err)
		if !reflect.DeepEqual(live, map[string]bool{"e1": true, "e2": true}) {
			t.Errorf("KnownEventIDs: live %v", live)
		}
		head, err := tx.LedgerHead(ctx)
		must(t, err)
		if head != 6 {
			t.Errorf("LedgerHead = %d, want 6", head)
		}
		for _, c := range []struct {
			source string
			all    bool
			want   int64
		}{{"", false, 3}, {"", true, 4}, {"shop", false, 2}, {"_defacto", false, 1}} {
			n, err := tx.CountLive(ctx, c.source, c.all)
			must(t, err)
			if n != c.want {
				t.Errorf("CountLive(%q, %v) = %d, want %d", c.source, c.all, n, c.want)
			}
		}
		got, err := tx.Events(ctx, []int64{5, 3, 1, 6, 100})
		must(t, err)
		if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 3 {
			t.Fatalf("Events = %+v", got)
		}
		if !reflect.DeepEqual(got[1], withSeq(rows[2], 3)) {
			t.Errorf("row 3 = %+v\nwant %+v", got[1], withSeq(rows[2], 3))
		}
		after, err := tx.EventsAfter(ctx, 1, 2)
		must(t, err)
		if len(after) != 2 || after[0].Seq != 2 || after[1].Seq != 3 {
			t.Errorf("EventsAfter = %+v", after)
		}
		all, err := tx.AllEvents(ctx, 0, 100)
		must(t, err)
		if len(all) != 6 || all[4].DuplicateOf != 1 || all[5].NormalizeError != "bad timestamp" {
			t.Errorf("AllEvents = %+v", all)
		}
		liveN, dups, err := tx.LedgerStats(ctx)
		must(t, err)
		if liveN != 4 || dups != 1 {
			t.Errorf("LedgerStats = %d, %d", liveN, dups)
		}
		srcs, err := tx.LedgerSources(ctx)
		must(t, err)
		if !reflect.DeepEqual(srcs, []string{"_defacto", "crm", "shop"}) {
			t.Errorf("LedgerSources = %v", srcs)
		}
	})
}

func withSeq(r store.LedgerRow, seq int64) store.LedgerRow {
	r.Seq = seq
	return r
}

func TestLedgerBatchesBeyondChunk(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	n := 2*inChunk + 37
	rows := make([]store.LedgerRow, n)
	ids := make([]string, n)
	seqs := make([]int64, n)
	for i := range rows {
		ids[i] = fmt.Sprintf("ev-%05d", i)
		rows[i] = ev(ids[i], "shop", int64(n-i))
		seqs[i] = int64(n - i)
	}
	write(t, s, func(tx store.Tx) { must(t, tx.Append(ctx, rows)) })
	write(t, s, func(stx store.Tx) {
		_, err := stx.(*tx).tx.ExecContext(ctx, `INSERT INTO erased_events (event_id, erasure_id) VALUES ('gone', 1)`)
		must(t, err)
	})
	read(t, s, func(tx store.Tx) {
		live, erased, err := tx.KnownEventIDs(ctx, append(ids, "gone"))
		must(t, err)
		if len(live) != n {
			t.Errorf("KnownEventIDs found %d of %d live", len(live), n)
		}
		if len(erased) != 1 || !erased["gone"] {
			t.Errorf("KnownEventIDs: erased %v", erased)
		}
		got, err := tx.Events(ctx, seqs)
		must(t, err)
		if len(got) != n {
			t.Fatalf("Events returned %d rows, want %d", len(got), n)
		}
		for i, r := range got {
			if r.Seq != int64(i+1) {
				t.Fatalf("Events not ascending at %d: %d", i, r.Seq)
			}
		}
	})
}

func TestUpdateNormalized(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	rows := []store.LedgerRow{ev("e1", "shop", 1), ev("e2", "shop", 2)}
	write(t, s, func(tx store.Tx) { must(t, tx.Append(ctx, rows)) })
	upd := rows[1]
	upd.EventID, upd.EventType, upd.Time, upd.Data, upd.DuplicateOf = "e1", "renamed", 7, []byte(`{}`), 1
	write(t, s, func(tx store.Tx) {
		must(t, tx.UpdateNormalized(ctx, upd))
		if err := tx.UpdateNormalized(ctx, store.LedgerRow{Seq: 99, Data: []byte(`{}`)}); err == nil {
			t.Error("updating a missing row succeeded")
		}
	})
	read(t, s, func(tx store.Tx) {
		all, err := tx.AllEvents(ctx, 0, 10)
		must(t, err)
		if !reflect.DeepEqual(all[1], upd) {
			t.Errorf("row = %+v\nwant %+v", all[1], upd)
		}
	})
}

// Reads by first owner (ResolvedEvents, LinksOf) go through the entity_id
// index of event_entities, which keeps no index of resolved_entity_id.
func TestReadsByFirstOwnerUseTheOwnerIndex(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ensure(t, s, "v1", testSet())
	for _, q := range []string{
		ownersOf(2) + `SELECT ` + ledgerColsOf + ` FROM ledger l WHERE l."sequence" IN (SELECT "sequence" FROM event_entities
			WHERE entity_id IN (SELECT id FROM owner) AND resolved_entity_id IN ('a', 'b') AND "sequence" < 9)`,
		ownersOf(1) + `SELECT e."sequence" FROM event_entities e WHERE e."sequence" IN (SELECT "sequence" FROM event_entities
			WHERE entity_id IN (SELECT id FROM owner) AND (entity_id IN ('a') OR resolved_entity_id IN ('a')))`,
	} {
		q = strings.NewReplacer("(?)", "('a')").Replace(q)
		p := queryPlan(t, s, "v1", q)
		if !strings.Contains(p, "SEARCH event_entities USING INDEX event_entities_entity_id") || strings.Contains(p, "SCAN event_entities") {
			t.Errorf("plan = %s, want a search of event_entities_entity_id", p)
		}
	}
}
