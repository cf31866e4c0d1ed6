package sqlite

import (
	"reflect"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

func TestStoredAndRetire(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	set := testSet()
	ensure(t, s, "v1", set)
	cust, order := set.Entity("customer"), set.Entity("order")
	five := []value.Value{value.Null, value.Null, value.Null, value.Null, value.Null}
	write(t, s, func(stx store.Tx) {
		must(t, stx.WriteHistory(ctx, "v1", cust, &store.HistoryWrite{EntityID: "c1", Now: 1,
			Insert: []store.HistoryRow{row("c1", 10, 20, five), row("c1", 20, store.NoTime, five)}}))
		must(t, stx.WriteHistory(ctx, "v1", order, &store.HistoryWrite{EntityID: "o1", Now: 1,
			Insert: []store.HistoryRow{row("o1", 10, store.NoTime, []value.Value{value.Float(1)})}}))
		must(t, stx.PutStates(ctx, "v1", []store.StateRecord{
			{EntityID: "c1", EntityType: "customer", Status: store.StatusActive, Data: []byte(`{}`), NextDeadline: store.NoTime},
			{EntityID: "g1", EntityType: "order", Status: store.StatusActive, Data: []byte(`{}`), NextDeadline: store.NoTime},
		}))
		must(t, stx.InsertMergedID(ctx, "v1", store.MergedID{EntityID: "c1", EntityType: "customer", MergedInto: "c9", CanonicalID: "c9", MergedAt: 5}))
		_, err := storeTx(t, stx, "v1").ExecContext(ctx, `INSERT INTO "v1"."rel_places_history_all"
			(source_id, target_id, relationship_type, valid_from, recorded_at) VALUES ('c1', 'o1', 'places', 10, 1)`)
		must(t, err)
	})
	read(t, s, func(tx store.Tx) {
		got, err := tx.StoredEntities(ctx, "v1")
		must(t, err)
		if want := map[string]string{"c1": "customer", "o1": "order", "g1": "order"}; !reflect.DeepEqual(got, want) {
			t.Errorf("StoredEntities = %v, want %v", got, want)
		}
	})
	write(t, s, func(tx store.Tx) {
		n, err := tx.RetireEntity(ctx, "v1", cust, "c1", 50)
		must(t, err)
		if n != 3 {
			t.Errorf("RetireEntity superseded %d rows, want 3 (2 entity + 1 relationship)", n)
		}
	})
	read(t, s, func(tx store.Tx) {
		cur, err := tx.CurrentRows(ctx, "v1", cust, "c1")
		must(t, err)
		st, err := tx.States(ctx, "v1", []string{"c1", "g1"})
		must(t, err)
		if len(cur) != 0 || len(st) != 1 {
			t.Errorf("after retire: %d current rows, states %v", len(cur), st)
		}
		got, err := tx.StoredEntities(ctx, "v1")
		must(t, err)
		if _, ok := got["c1"]; ok {
			t.Errorf("StoredEntities after retire = %v: an entity with only superseded rows has nothing left to retire", got)
		}
	})
	rows, err := s.Query(ctx, "v1", `SELECT count(*) FROM "v1"."merged_ids"`)
	must(t, err)
	var n int
	rows.Next()
	must(t, rows.Scan(&n))
	rows.Close()
	if n != 0 {
		t.Errorf("merged_ids row survived retire")
	}
}

func TestDueStates(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	ensure(t, s, "v1", plainSet())
	st := func(id string, deadline int64, status string) store.StateRecord {
		return store.StateRecord{EntityID: id, EntityType: "thing", ShardHash: uint32(len(id)), Status: status,
			Data: []byte(`{"id":"` + id + `"}`), NextDeadline: deadline}
	}
	write(t, s, func(tx store.Tx) {
		must(t, tx.PutStates(ctx, "v1", []store.StateRecord{st("a", 30, "active"), st("b", 10, "active"),
			st("c", 10, "active"), st("d", store.NoTime, "active"), st("e", 5, store.StatusMerged), st("f", 100, "active")}))
		// Upsert moves a deadline.
		must(t, tx.PutStates(ctx, "v1", []store.StateRecord{st("f", 20, "active")}))
	})
	start := store.DueKey{Deadline: store.NoTime}
	read(t, s, func(tx store.Tx) {
		ids := func(due []store.StateRecord) []string {
			var out []string
			for _, d := range due {
				out = append(out, d.EntityID)
			}
			return out
		}
		due, err := tx.DueStates(ctx, "v1", 30, start, 10)
		must(t, err)
		if want := []string{"b", "c", "f", "a"}; !reflect.DeepEqual(ids(due), want) {
			t.Errorf("DueStates = %v, want %v", ids(due), want)
		}
		due, err = tx.DueStates(ctx, "v1", 30, start, 2)
		must(t, err)
		if len(due) != 2 || string(due[0].Data) != `{"id":"b"}` || due[0].NextDeadline != 10 {
			t.Errorf("DueStates limit 2 = %+v", due)
		}
		// Continuing after the last key read.
		due, err = tx.DueStates(ctx, "v1", 30, store.DueKey{Deadline: 10, EntityID: "b"}, 2)
		must(t, err)
		if want := []string{"c", "f"}; !reflect.DeepEqual(ids(due), want) {
			t.Errorf("DueStates after (10, b) = %v, want %v", ids(due), want)
		}
	})
	// Both queries read the deadline index in order (no sort step), and the
	// continuation seeks to its key instead of skipping the entries before.
	for _, c := range []struct{ where, want string }{
		{``, `entity_state_next_deadline (next_deadline>? AND next_deadline<?)`},
		{` AND ("next_deadline", "entity_id") > (10, 'b')`, `entity_state_next_deadline ((next_deadline,entity_id)>(?,?) AND next_deadline<?)`},
	} {
		p := queryPlan(t, s, "v1", `SELECT "entity_id" FROM "v1"."entity_state"
			WHERE "next_deadline" IS NOT NULL AND "next_deadline" <= 30`+c.where+` AND "status" = 'active'
			ORDER BY "next_deadline", "entity_id" LIMIT 10`)
		if !strings.Contains(p, c.want) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("plan = %s, want a search of %s", p, c.want)
		}
	}
}
