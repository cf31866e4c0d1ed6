package sqlite

import (
	"reflect"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// row builds a thing/customer history row with the given props (nil: one
// Int property n = valid_from).
func row(id string, from, to int64, props []value.Value) store.HistoryRow {
	if props == nil {
		props = []value.Value{value.Int(from)}
	}
	return store.HistoryRow{EntityID: id, State: "active", Props: props, ValidFrom: from, ValidTo: to,
		LastEventTime: from, StateEnteredTime: from, CreatedTime: 1, EventSeq: from}
}

func TestWriteHistory(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	set := plainSet()
	ent := set.Entity("thing")
	ensure(t, s, "v1", set)

	// Batch 1: one open row at 10.
	write(t, s, func(tx store.Tx) {
		must(t, tx.WriteHistory(ctx, "v1", ent, &store.HistoryWrite{EntityID: "t1", Now: 100,
			Insert: []store.HistoryRow{row("t1", 10, store.NoTime, nil)}}))
	})
	// Batch 2: an event at 20 closes it in place and opens the next.
	write(t, s, func(tx store.Tx) {
		must(t, tx.WriteHistory(ctx, "v1", ent, &store.HistoryWrite{EntityID: "t1", Now: 200,
			Close:  map[int64]int64{10: 20},
			Insert: []store.HistoryRow{row("t1", 20, store.NoTime, nil)}}))
	})
	// Batch 3: a late arrival changes the row at 20 (same valid_from) and
	// adds one at 30: supersede, then insert, never two current rows at 20.
	write(t, s, func(tx store.Tx) {
		must(t, tx.WriteHistory(ctx, "v1", ent, &store.HistoryWrite{EntityID: "t1", Now: 300,
			Supersede: []int64{20},
			Insert: []store.HistoryRow{
				row("t1", 20, 30, []value.Value{value.Int(99)}),
				row("t1", 30, store.NoTime, nil),
			}}))
	})
	read(t, s, func(tx store.Tx) {
		cur, err := tx.CurrentRows(ctx, "v1", ent, "t1")
		must(t, err)
		want := []store.HistoryRow{
			withRec(row("t1", 10, 20, nil), 100),
			withRec(row("t1", 20, 30, []value.Value{value.Int(99)}), 300),
			withRec(row("t1", 30, store.NoTime, nil), 300),
		}
		if !reflect.DeepEqual(cur, want) {
			t.Fatalf("CurrentRows =\n%+v\nwant\n%+v", cur, want)
		}
		open, err := tx.OpenRows(ctx, "v1", ent, []string{"t1", "t2"})
		must(t, err)
		if len(open) != 1 || open["t1"].ValidFrom != 30 {
			t.Errorf("OpenRows = %+v", open)
		}
	})
	check := func() {
		t.Helper()
		rows, err := s.Query(ctx, "v1", `SELECT "valid_from", "recorded_at", "superseded_at" FROM "v1"."thing_history_all" ORDER BY rowid`)
		must(t, err)
		var got [][3]any
		for rows.Next() {
			var a, b, c any
			must(t, rows.Scan(&a, &b, &c))
			got = append(got, [3]any{a, b, c})
		}
		rows.Close()
		want := [][3]any{{int64(10), int64(100), nil}, {int64(20), int64(200), int64(300)}, {int64(20), int64(300), nil}, {int64(30), int64(300), nil}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("history_all = %v, want %v", got, want)
		}
	}
	check()

	// A plan that does not match the stored rows fails, at the latest at
	// commit, and commits nothing.
	for name, w := range map[string]*store.HistoryWrite{
		"superseding a missing row": {EntityID: "t1", Now: 400, Supersede: []int64{25}},
		"a second current row at the same valid_from": {EntityID: "t1", Now: 400,
			Insert: []store.HistoryRow{row("t1", 30, store.NoTime, nil)}},
	} {
		if err := failedWrite(t, s, func(tx store.Tx) error { return tx.WriteHistory(ctx, "v1", ent, w) }); err == nil {
			t.Errorf("%s succeeded", name)
		}
	}
	check()
}

func withRec(r store.HistoryRow, at int64) store.HistoryRow {
	r.RecordedAt = at
	return r
}

func TestTypedValuesRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := t.Context()
	set := testSet()
	ensure(t, s, "v1", set)
	ent := set.Entity("customer")
	props := []value.Value{value.String("Ada"), value.Int(1 << 60), value.Float(2.5), value.Bool(true), value.DateTime(1_700_000_000_123_456)}
	nulls := []value.Value{value.Null, value.Null, value.Null, value.Null, value.Null}
	// Ints are accepted for number properties and integral Floats for integers.
	loose := []value.Value{value.String(""), value.Float(3), value.Int(4), value.Bool(false), value.DateTime(-1)}
	write(t, s, func(tx store.Tx) {
		must(t, tx.WriteHistory(ctx, "v1", ent, &store.HistoryWrite{EntityID: "c1", Now: 1,
			Insert: []store.HistoryRow{row("c1", 10, 20, props), row("c1", 20, 30, nulls), row("c1", 30, store.NoTime, loose)}}))
	})
	must(t, s.Close())

	s2 := openTest(t, dir)
	read(t, s2, func(tx store.Tx) {
		cur, err := tx.CurrentRows(ctx, "v1", ent, "c1")
		must(t, err)
		if len(cur) != 3 {
			t.Fatalf("%d rows", len(cur))
		}
		check := func(got, want []value.Value) {
			t.Helper()
			for i := range want {
				if got[i].Kind() != want[i].Kind() || !value.Equal(got[i], want[i]) {
					t.Errorf("prop %d = %#v, want %#v", i, got[i], want[i])
				}
			}
		}
		check(cur[0].Props, props)
		check(cur[1].Props, nulls)
		check(cur[2].Props, []value.Value{value.String(""), value.Int(3), value.Float(4), value.Bool(false), value.DateTime(-1)})
	})

	for _, bad := range [][]value.Value{
		{value.Int(1), value.Null, value.Null, value.Null, value.Null},     // Int in a string property
		{value.Null, value.Float(1.5), value.Null, value.Null, value.Null}, // fraction in an integer
		{value.Null, value.Null, value.String("x"), value.Null, value.Null},
		{value.Null, value.Null, value.Null, value.Int(1), value.Null},
		{value.Null, value.Null, value.Null, value.Null, value.Int(5)},
		{value.Null},
	} {
		err := failedWrite(t, s2, func(tx store.Tx) error {
			return tx.WriteHistory(ctx, "v1", ent, &store.HistoryWrite{EntityID: "c2", Now: 1,
				Insert: []store.HistoryRow{row("c2", 10, store.NoTime, bad)}})
		})
		if err == nil {
			t.Errorf("props %v accepted", bad)
		}
	}
}

func TestMergedIDsAndRelationshipView(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	set := testSet()
	ensure(t, s, "v1", set)
	write(t, s, func(stx store.Tx) {
		// No Tx method writes relationship rows yet; insert them directly.
		_, err := storeTx(t, stx, "v1").ExecContext(ctx, `INSERT INTO "v1"."rel_places_history_all"
			(source_id, target_id, relationship_type, channel, weight, valid_from, recorded_at) VALUES
			('c1', 'o1', 'places', 'web', 1.5, 10, 1), ('c2', 'o2', 'places', NULL, NULL, 10, 1)`)
		must(t, err)
		must(t, stx.InsertMergedID(ctx, "v1", store.MergedID{EntityID: "o1", EntityType: "order", MergedInto: "o3", CanonicalID: "o3", MergedAt: 5}))
		must(t, stx.InsertMergedID(ctx, "v1", store.MergedID{EntityID: "o3", EntityType: "order", MergedInto: "o4", CanonicalID: "o4", MergedAt: 6}))
		must(t, stx.InsertMergedID(ctx, "v1", store.MergedID{EntityID: "c2", EntityType: "customer", MergedInto: "c1", CanonicalID: "c1", MergedAt: 7}))
		// Replays are no-ops.
		must(t, stx.InsertMergedID(ctx, "v1", store.MergedID{EntityID: "o3", EntityType: "order", MergedInto: "o4", CanonicalID: "o4", MergedAt: 6}))
	})
	rows, err := s.Query(ctx, "v1", `SELECT entity_id, canonical_id FROM "v1"."merged_ids" ORDER BY entity_id`)
	must(t, err)
	got := map[string]string{}
	for rows.Next() {
		var a, b string
		must(t, rows.Scan(&a, &b))
		got[a] = b
	}
	rows.Close()
	if !reflect.DeepEqual(got, map[string]string{"o1": "o4", "o3": "o4", "c2": "c1"}) {
		t.Errorf("merged_ids canonical = %v", got)
	}
	rows, err = s.Query(ctx, "v1", `SELECT source_id, source_type, target_id, target_type, original_target_id FROM "v1"."relationships"`)
	must(t, err)
	var rels [][5]string
	for rows.Next() {
		var r [5]string
		must(t, rows.Scan(&r[0], &r[1], &r[2], &r[3], &r[4]))
		rels = append(rels, r)
	}
	rows.Close()
	// c2 was merged away, so its rows are hidden; o1's target is canonical o4.
	if want := [][5]string{{"c1", "customer", "o4", "order", "o1"}}; !reflect.DeepEqual(rels, want) {
		t.Errorf("relationships = %v, want %v", rels, want)
	}
}
