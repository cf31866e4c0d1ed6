package sqlite

import (
	"reflect"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
)

// seedIdentity appends events 1..6 and creates customers A, B, C with keys
// and links: A owns events 1 and 4, B owns 2 and 5, C owns 3 and 6.
func seedIdentity(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	write(t, s, func(tx store.Tx) {
		rows := []store.LedgerRow{ev("e1", "shop", 60), ev("e2", "shop", 50), ev("e3", "shop", 40),
			ev("e4", "shop", 30), ev("e5", "shop", 20), ev("e6", "shop", 10)}
		must(t, tx.Append(ctx, rows))
		for i, id := range []string{"A", "B", "C"} {
			must(t, tx.InsertEntities(ctx, []store.EntityRecord{{ID: id, Type: "customer", BirthSeq: int64(i + 1),
				Status: store.StatusActive, ShardHash: uint32(100 + i)}}))
		}
		must(t, tx.InsertKeys(ctx, []store.KeyRecord{
			{Hash: "kA1", EntityType: "customer", Field: "email", EntityID: "A", Value: "a@x", HasValue: true, CreatedSeq: 1},
			{Hash: "kA0", EntityType: "customer", Field: "phone", EntityID: "A", CreatedSeq: 1},
			{Hash: "kB1", EntityType: "customer", Field: "email", EntityID: "B", Value: "b@x", HasValue: true, CreatedSeq: 2},
			{Hash: "kC1", EntityType: "customer", Field: "email", EntityID: "C", Value: "c@x", HasValue: true, CreatedSeq: 3},
		}))
		var links []store.Link
		for seq, id := range map[int64]string{1: "A", 2: "B", 3: "C", 4: "A", 5: "B", 6: "C"} {
			links = append(links, store.Link{Seq: seq, EntityType: "customer", EntityID: id, ResolvedID: id,
				ShardHash: uint32(100 + id[0] - 'A')})
		}
		must(t, tx.InsertLinks(ctx, links))
	})
}

func TestIdentityRows(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	seedIdentity(t, s)
	read(t, s, func(tx store.Tx) {
		keys, err := tx.LookupKeys(ctx, []string{"kA1", "kA0", "nope", "kA1"})
		must(t, err)
		if len(keys) != 2 || keys["kA1"].EntityID != "A" || !keys["kA1"].HasValue || keys["kA1"].Value != "a@x" {
			t.Errorf("LookupKeys = %+v", keys)
		}
		if k := keys["kA0"]; k.HasValue || k.Value != "" {
			t.Errorf("sensitive key = %+v, want no value", k)
		}
		ek, err := tx.EntityKeys(ctx, "A")
		must(t, err)
		if len(ek) != 2 || ek[0].Hash != "kA1" || ek[1].Hash != "kA0" {
			t.Errorf("EntityKeys(A) = %+v, want creation order kA1, kA0", ek)
		}
		ents, err := tx.Entities(ctx, []string{"A", "C", "Z"})
		must(t, err)
		want := store.EntityRecord{ID: "C", Type: "customer", BirthSeq: 3, Status: store.StatusActive, ShardHash: 102}
		if len(ents) != 2 || !reflect.DeepEqual(ents["C"], want) {
			t.Errorf("Entities = %+v", ents)
		}
		all, err := tx.AllEntities(ctx)
		must(t, err)
		if len(all) != 3 || all[0].ID != "A" || all[2].ID != "C" {
			t.Errorf("AllEntities = %+v", all)
		}
		links, err := tx.LinksInRange(ctx, 2, 5)
		must(t, err)
		if len(links) != 3 || links[0].Seq != 3 || links[2].Seq != 5 || links[0].ShardHash != 102 {
			t.Errorf("LinksInRange(2, 5] = %+v", links)
		}
		n, err := tx.CountLinks(ctx, "A")
		must(t, err)
		if n != 2 {
			t.Errorf("CountLinks(A) = %d", n)
		}
		evs, err := tx.EntityEvents(ctx, "A", 4)
		must(t, err)
		// Event 4 (t=30) sorts before event 1 (t=60).
		if len(evs) != 2 || evs[0].Seq != 4 || evs[1].Seq != 1 {
			t.Errorf("EntityEvents(A) = %+v", evs)
		}
		evs, err = tx.EntityEvents(ctx, "A", 3)
		must(t, err)
		if len(evs) != 1 || evs[0].Seq != 1 {
			t.Errorf("EntityEvents(A, 3) = %+v", evs)
		}
		un, res, err := tx.PendingCounts(ctx, 2, 4)
		must(t, err)
		if un != 2 || res != 2 {
			t.Errorf("PendingCounts(2, 4) = %d, %d; want 2, 2", un, res)
		}
	})
}

func TestMergeChain(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	seedIdentity(t, s)
	write(t, s, func(tx store.Tx) {
		must(t, tx.ApplyMerge(ctx, store.MergeRecord{From: "B", Into: "C", EntityType: "customer", Kind: store.MergeAuto,
			MergeSeq: 5, MergedAt: 20, RecordedAt: 1000}, 102))
		must(t, tx.ApplyMerge(ctx, store.MergeRecord{From: "C", Into: "A", EntityType: "customer", Kind: store.MergeExplicit,
			Reason: "same person", MergeSeq: 6, MergedAt: 10, RecordedAt: 1001}, 100))
	})
	read(t, s, func(tx store.Tx) {
		for _, h := range []string{"kA1", "kB1", "kC1"} {
			k, err := tx.LookupKeys(ctx, []string{h})
			must(t, err)
			if k[h].EntityID != "A" {
				t.Errorf("key %s points to %s, want A", h, k[h].EntityID)
			}
		}
		links, err := tx.LinksInRange(ctx, 0, 6)
		must(t, err)
		for _, l := range links {
			if l.EntityID != "A" || l.ShardHash != 100 {
				t.Errorf("link %d = %+v, want entity A shard 100", l.Seq, l)
			}
		}
		if links[1].ResolvedID != "B" || links[2].ResolvedID != "C" {
			t.Errorf("resolved ids changed: %+v", links)
		}
		ents, err := tx.Entities(ctx, []string{"A", "B", "C"})
		must(t, err)
		if ents["B"].Status != store.StatusMerged || ents["B"].MergedInto != "C" ||
			ents["C"].Status != store.StatusMerged || ents["C"].MergedInto != "A" || ents["A"].Status != store.StatusActive {
			t.Errorf("entities after merges = %+v", ents)
		}
		if ents["C"].BirthSeq != 2 || ents["A"].BirthSeq != 1 {
			t.Errorf("birth seqs = C %d, A %d; want 2, 1", ents["C"].BirthSeq, ents["A"].BirthSeq)
		}
		ms, err := tx.MergesInRange(ctx, 5, 6)
		must(t, err)
		if len(ms) != 1 || ms[0].From != "C" || ms[0].Reason != "same person" || ms[0].Kind != store.MergeExplicit {
			t.Errorf("MergesInRange(5, 6] = %+v", ms)
		}
		for _, id := range []string{"A", "B", "C"} {
			comp, err := tx.MergeComponent(ctx, id)
			must(t, err)
			if len(comp) != 2 || comp[0].From != "B" || comp[1].From != "C" {
				t.Errorf("MergeComponent(%s) = %+v", id, comp)
			}
		}
		evs, err := tx.ResolvedEvents(ctx, []string{"B", "C"}, 6)
		must(t, err)
		if len(evs) != 3 || evs[0].Seq != 5 || evs[1].Seq != 3 || evs[2].Seq != 2 {
			t.Errorf("ResolvedEvents(B, C; < 6) = %+v", evs)
		}
		evs, err = tx.EntityEvents(ctx, "A", 6)
		must(t, err)
		if len(evs) != 6 || evs[0].Seq != 6 {
			t.Errorf("EntityEvents(A) after merges = %d rows", len(evs))
		}
	})

	// Merging an already merged loser, or into a merged winner, fails.
	tx, err := s.Begin(ctx)
	must(t, err)
	defer tx.Rollback()
	if err := tx.ApplyMerge(ctx, store.MergeRecord{From: "B", Into: "A", EntityType: "customer", MergeSeq: 7}, 1); err == nil {
		t.Error("merging a merged entity succeeded")
	}
	if err := tx.ApplyMerge(ctx, store.MergeRecord{From: "A", Into: "B", EntityType: "customer", MergeSeq: 7}, 1); err == nil {
		t.Error("merging into a merged entity succeeded")
	}
}

func TestResetIdentity(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	seedIdentity(t, s)
	write(t, s, func(tx store.Tx) {
		must(t, tx.ApplyMerge(ctx, store.MergeRecord{From: "B", Into: "A", EntityType: "customer", MergeSeq: 5}, 1))
		must(t, tx.ResetIdentity(ctx))
	})
	read(t, s, func(tx store.Tx) {
		all, err := tx.AllEntities(ctx)
		must(t, err)
		links, err := tx.LinksInRange(ctx, 0, 100)
		must(t, err)
		keys, err := tx.LookupKeys(ctx, []string{"kA1"})
		must(t, err)
		ms, err := tx.MergesInRange(ctx, 0, 100)
		must(t, err)
		if len(all)+len(links)+len(keys)+len(ms) != 0 {
			t.Errorf("identity left after reset: %d entities, %d links, %d keys, %d merges", len(all), len(links), len(keys), len(ms))
		}
		head, err := tx.LedgerHead(ctx)
		must(t, err)
		if head != 6 {
			t.Errorf("ledger touched by reset: head %d", head)
		}
	})
}
