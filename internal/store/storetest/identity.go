package storetest

import (
	"reflect"
	"slices"

	"github.com/defacto-dev/defacto/internal/store"
)

func key(hash, typ, field, id, val string, seq int64) store.KeyRecord {
	return store.KeyRecord{Hash: hash, EntityType: typ, Field: field, EntityID: id, Value: val, HasValue: val != "", CreatedSeq: seq}
}

func testIdentityKeys(f *fixture) {
	k1 := key("k1", "customer", "email", "c1", "a@example.com", 1)
	k2 := key("k2", "customer", "phone", "c1", "", 2) // sensitive: no value
	k3 := key("k3", "customer", "email", "c2", "b@example.com", 1)
	k4 := key("k4", "customer", "code", "c1", "x", 1)
	f.write(func(tx store.Tx) {
		f.must(tx.InsertKeys(f.ctx, []store.KeyRecord{k1, k2, k3, k4}))
		f.must(tx.InsertKeys(f.ctx, nil))
	})
	f.fails("InsertKeys of a known hash", func(tx store.Tx) error {
		return tx.InsertKeys(f.ctx, []store.KeyRecord{key("k1", "customer", "email", "c9", "z", 9)})
	})
	f.read(func(tx store.Tx) {
		got, err := tx.LookupKeys(f.ctx, []string{"k1", "k2", "zz", "k1"})
		f.must(err)
		if want := map[string]store.KeyRecord{"k1": k1, "k2": k2}; !reflect.DeepEqual(got, want) {
			f.t.Errorf("LookupKeys = %+v, want %+v", got, want)
		}
		if got, err := tx.LookupKeys(f.ctx, nil); err != nil || len(got) != 0 {
			f.t.Errorf("LookupKeys(nil) = %v, %v", got, err)
		}
		// Creation order; keys of one event in an unspecified order.
		keys, err := tx.EntityKeys(f.ctx, "c1")
		f.must(err)
		if len(keys) != 3 || keys[2] != k2 || !slices.IsSortedFunc(keys, func(a, b store.KeyRecord) int { return int(a.CreatedSeq - b.CreatedSeq) }) {
			f.t.Errorf("EntityKeys(c1) = %+v, want k1 and k4 (seq 1), then k2 (seq 2)", keys)
		}
		if !slices.Contains(keys, k1) || !slices.Contains(keys, k4) {
			f.t.Errorf("EntityKeys(c1) = %+v, want k1 and k4 among them", keys)
		}
		if keys, err := tx.EntityKeys(f.ctx, "nobody"); err != nil || len(keys) != 0 {
			f.t.Errorf("EntityKeys(nobody) = %v, %v", keys, err)
		}
		for _, c := range []struct {
			lo, hi int64
			want   []string
		}{{0, 1, []string{"k1", "k3", "k4"}}, {1, 2, []string{"k2"}}, {2, 9, nil}} {
			got, err := tx.KeysCreatedInRange(f.ctx, c.lo, c.hi)
			f.must(err)
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				f.t.Errorf("KeysCreatedInRange(%d, %d) = %v, want %v", c.lo, c.hi, got, c.want)
			}
		}
	})
}

func testEntities(f *fixture) {
	c1 := store.EntityRecord{ID: "c1", Type: "customer", BirthSeq: 5, ShardHash: 4_000_000_000}
	b9 := store.EntityRecord{ID: "B9", Type: "customer", BirthSeq: 1, Status: store.StatusActive}
	c2 := store.EntityRecord{ID: "c2", Type: "customer", BirthSeq: 7, Status: store.StatusMerged, MergedInto: "c1", ShardHash: 17}
	f.write(func(tx store.Tx) {
		f.must(tx.InsertEntities(f.ctx, []store.EntityRecord{c1, b9}))
		f.must(tx.InsertEntities(f.ctx, []store.EntityRecord{c2}))
		f.must(tx.InsertEntities(f.ctx, nil))
	})
	f.fails("InsertEntities of a known id", func(tx store.Tx) error { return tx.InsertEntities(f.ctx, []store.EntityRecord{c1}) })
	c1.Status = store.StatusActive // "" means active
	f.read(func(tx store.Tx) {
		got, err := tx.Entities(f.ctx, []string{"c1", "B9", "zz", "c1"})
		f.must(err)
		if want := map[string]store.EntityRecord{"c1": c1, "B9": b9}; !reflect.DeepEqual(got, want) {
			f.t.Errorf("Entities = %+v, want %+v", got, want)
		}
		if got, err := tx.Entities(f.ctx, nil); err != nil || len(got) != 0 {
			f.t.Errorf("Entities(nil) = %v, %v", got, err)
		}
		all, err := tx.AllEntities(f.ctx)
		f.must(err)
		// Ascending by id in byte order: "B9" < "c1".
		if want := []store.EntityRecord{b9, c1, c2}; !reflect.DeepEqual(all, want) {
			f.t.Errorf("AllEntities = %+v, want %+v", all, want)
		}
	})
}

func testLinks(f *fixture) {
	links := []store.Link{
		{Seq: 5, EntityType: "order", EntityID: "o1", ResolvedID: "o0", ShardHash: 3},
		{Seq: 5, EntityType: "customer", EntityID: "c1", ShardHash: 1},
		{Seq: 6, EntityType: "customer", EntityID: "c2", ShardHash: 4_000_000_000},
		{Seq: 7, EntityType: "customer", EntityID: "c1", ShardHash: 1},
	}
	f.write(func(tx store.Tx) {
		f.must(tx.InsertLinks(f.ctx, links))
		f.must(tx.InsertLinks(f.ctx, nil))
	})
	f.fails("InsertLinks of a known (sequence, type)", func(tx store.Tx) error {
		return tx.InsertLinks(f.ctx, []store.Link{{Seq: 5, EntityType: "customer", EntityID: "c9"}})
	})
	// ResolvedID defaults to EntityID.
	links[1].ResolvedID, links[2].ResolvedID, links[3].ResolvedID = "c1", "c2", "c1"
	f.read(func(tx store.Tx) {
		for id, want := range map[string]int64{"c1": 2, "o1": 1, "o0": 0, "nobody": 0} {
			n, err := tx.CountLinks(f.ctx, id)
			f.must(err)
			if n != want {
				f.t.Errorf("CountLinks(%s) = %d, want %d", id, n, want)
			}
		}
		// By sequence, then entity type; lo exclusive, hi inclusive.
		got, err := tx.LinksInRange(f.ctx, 4, 6)
		f.must(err)
		if want := []store.Link{links[1], links[0], links[2]}; !reflect.DeepEqual(got, want) {
			f.t.Errorf("LinksInRange(4, 6) = %+v, want %+v", got, want)
		}
		got, err = tx.LinksInRange(f.ctx, 5, 7)
		f.must(err)
		if want := []store.Link{links[2], links[3]}; !reflect.DeepEqual(got, want) {
			f.t.Errorf("LinksInRange(5, 7) = %+v, want %+v", got, want)
		}
		for _, c := range []struct {
			seq       int64
			typ, want string
		}{{5, "order", "o0"}, {5, "customer", "c1"}, {6, "order", ""}, {99, "customer", ""}} {
			id, err := tx.ResolvedAt(f.ctx, c.seq, c.typ)
			f.must(err)
			if id != c.want {
				f.t.Errorf("ResolvedAt(%d, %s) = %q, want %q", c.seq, c.typ, id, c.want)
			}
		}
		got, err = tx.LinksInRange(f.ctx, 7, 100)
		f.must(err)
		if len(got) != 0 {
			f.t.Errorf("LinksInRange(7, 100) = %+v, want none", got)
		}
	})
}

// entities inserts active entities of type typ with the given birth
// sequences, by id.
func (f *fixture) entities(typ string, births map[string]int64) {
	f.t.Helper()
	f.write(func(tx store.Tx) {
		ids := make([]string, 0, len(births))
		for id := range births {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		recs := make([]store.EntityRecord, len(ids))
		for i, id := range ids {
			recs[i] = store.EntityRecord{ID: id, Type: typ, BirthSeq: births[id], ShardHash: 9}
		}
		f.must(tx.InsertEntities(f.ctx, recs))
	})
}

func merge(from, into, typ string, seq int64) store.MergeRecord {
	return store.MergeRecord{From: from, Into: into, EntityType: typ, Kind: store.MergeAuto, MergeSeq: seq,
		MergedAt: base + seq, RecordedAt: base + seq + 1}
}

func testMerge(f *fixture) {
	f.entities("customer", map[string]int64{"W": 10, "L": 3, "M": 30, "X": 1})
	f.write(func(tx store.Tx) {
		f.must(tx.InsertKeys(f.ctx, []store.KeyRecord{
			key("kW", "customer", "email", "W", "w", 10), key("kL1", "customer", "email", "L", "l", 3),
			key("kL2", "customer", "phone", "L", "", 4)}))
		f.must(tx.InsertLinks(f.ctx, []store.Link{
			{Seq: 11, EntityType: "customer", EntityID: "L", ShardHash: 2},
			{Seq: 12, EntityType: "customer", EntityID: "L", ResolvedID: "L2", ShardHash: 2},
			{Seq: 13, EntityType: "customer", EntityID: "W", ShardHash: 1}}))
	})
	m1 := merge("L", "W", "customer", 20)
	m1.Kind = "" // defaults to auto
	f.write(func(tx store.Tx) { f.must(tx.ApplyMerge(f.ctx, m1, 77)) })
	m1.Kind = store.MergeAuto
	f.read(func(tx store.Tx) {
		keys, err := tx.LookupKeys(f.ctx, []string{"kL1", "kL2", "kW"})
		f.must(err)
		for h, k := range keys {
			if k.EntityID != "W" {
				f.t.Errorf("key %s points to %s after the merge, want W", h, k.EntityID)
			}
		}
		es, err := tx.Entities(f.ctx, []string{"L", "W"})
		f.must(err)
		if l := es["L"]; l.Status != store.StatusMerged || l.MergedInto != "W" || l.BirthSeq != 3 {
			f.t.Errorf("loser after merge = %+v", l)
		}
		if w := es["W"]; w.Status != store.StatusActive || w.MergedInto != "" || w.BirthSeq != 3 {
			f.t.Errorf("winner after merge = %+v, want birth lowered to 3", w)
		}
		links, err := tx.LinksInRange(f.ctx, 10, 13)
		f.must(err)
		want := []store.Link{
			{Seq: 11, EntityType: "customer", EntityID: "W", ResolvedID: "L", ShardHash: 77},
			{Seq: 12, EntityType: "customer", EntityID: "W", ResolvedID: "L2", ShardHash: 77},
			{Seq: 13, EntityType: "customer", EntityID: "W", ResolvedID: "W", ShardHash: 1}}
		if !reflect.DeepEqual(links, want) {
			f.t.Errorf("links after merge = %+v, want %+v", links, want)
		}
		if n, _ := tx.CountLinks(f.ctx, "W"); n != 3 {
			f.t.Errorf("CountLinks(W) = %d, want 3", n)
		}
		ms, err := tx.MergesInRange(f.ctx, 0, 100)
		f.must(err)
		if !reflect.DeepEqual(ms, []store.MergeRecord{m1}) {
			f.t.Errorf("MergesInRange = %+v, want %+v", ms, m1)
		}
		for _, r := range [][2]int64{{20, 100}, {0, 19}} {
			if ms, _ := tx.MergesInRange(f.ctx, r[0], r[1]); len(ms) != 0 {
				f.t.Errorf("MergesInRange(%d, %d) = %+v, want none", r[0], r[1], ms)
			}
		}
	})
	m2 := merge("M", "W", "customer", 25)
	m2.Kind, m2.Reason = store.MergeExplicit, "same person"
	m3 := merge("W", "X", "customer", 30)
	f.write(func(tx store.Tx) {
		f.must(tx.ApplyMerge(f.ctx, m2, 77))
		f.must(tx.ApplyMerge(f.ctx, m3, 5))
	})
	f.read(func(tx store.Tx) {
		for _, id := range []string{"L", "M", "W", "X"} {
			comp, err := tx.MergeComponent(f.ctx, id)
			f.must(err)
			if want := []store.MergeRecord{m1, m2, m3}; !reflect.DeepEqual(comp, want) {
				f.t.Errorf("MergeComponent(%s) = %+v, want %+v", id, comp, want)
			}
		}
		if comp, err := tx.MergeComponent(f.ctx, "nobody"); err != nil || len(comp) != 0 {
			f.t.Errorf("MergeComponent(nobody) = %v, %v", comp, err)
		}
		keys, err := tx.EntityKeys(f.ctx, "X")
		f.must(err)
		if len(keys) != 3 {
			f.t.Errorf("after the chain X has %d keys, want 3", len(keys))
		}
		es, _ := tx.Entities(f.ctx, []string{"X"})
		if es["X"].BirthSeq != 1 {
			f.t.Errorf("X = %+v", es["X"])
		}
	})
}

func testMergeRefusals(f *fixture) {
	f.entities("customer", map[string]int64{"A": 1, "B": 2, "C": 3})
	f.write(func(tx store.Tx) { f.must(tx.ApplyMerge(f.ctx, merge("C", "B", "customer", 10), 1)) })
	for _, c := range []struct {
		what string
		m    store.MergeRecord
	}{
		{"into itself", merge("A", "A", "customer", 11)},
		{"an already merged loser", merge("C", "A", "customer", 11)},
		{"an unknown loser", merge("Z", "A", "customer", 11)},
		{"into a merged winner", merge("A", "C", "customer", 11)},
		{"into an unknown winner", merge("A", "Z", "customer", 11)},
	} {
		f.fails("ApplyMerge "+c.what, func(tx store.Tx) error { return tx.ApplyMerge(f.ctx, c.m, 1) })
	}
	f.read(func(tx store.Tx) {
		es, err := tx.Entities(f.ctx, []string{"A", "B", "C"})
		f.must(err)
		if es["A"].Status != store.StatusActive || es["B"].Status != store.StatusActive || es["C"].MergedInto != "B" {
			f.t.Errorf("refused merges changed entities: %+v", es)
		}
		if ms, _ := tx.MergesInRange(f.ctx, 0, 100); len(ms) != 1 {
			f.t.Errorf("refused merges left merge-log rows: %+v", ms)
		}
	})
}

// Merges of one event come back in execution order (identity.md §4):
// entity types ascending, then losers by ascending birth_seq. The suite
// executes them in that order, so a backend may either keep insertion order
// or derive it.
func testMergeOrder(f *fixture) {
	f.entities("customer", map[string]int64{"W": 1, "b-first": 5, "a-second": 7, "C": 9})
	f.entities("order", map[string]int64{"OW": 2, "OA": 4})
	ma := merge("b-first", "W", "customer", 50)
	mb := merge("a-second", "W", "customer", 50)
	mo := merge("OA", "OW", "order", 50)
	mc := merge("C", "W", "customer", 40)
	f.write(func(tx store.Tx) {
		for _, m := range []store.MergeRecord{ma, mb, mo} {
			f.must(tx.ApplyMerge(f.ctx, m, 1))
		}
	})
	f.write(func(tx store.Tx) { f.must(tx.ApplyMerge(f.ctx, mc, 1)) })
	f.read(func(tx store.Tx) {
		ms, err := tx.MergesInRange(f.ctx, 0, 100)
		f.must(err)
		if want := []store.MergeRecord{mc, ma, mb, mo}; !reflect.DeepEqual(ms, want) {
			f.t.Errorf("MergesInRange =\n  %+v\nwant\n  %+v", ms, want)
		}
		comp, err := tx.MergeComponent(f.ctx, "W")
		f.must(err)
		if want := []store.MergeRecord{mc, ma, mb}; !reflect.DeepEqual(comp, want) {
			f.t.Errorf("MergeComponent(W) =\n  %+v\nwant\n  %+v", comp, want)
		}
	})
}

func testResetIdentity(f *fixture) {
	rows := f.appendRows(ev("e1", "shop", base))
	f.entities("customer", map[string]int64{"A": 1, "B": 2})
	f.write(func(tx store.Tx) {
		f.must(tx.InsertKeys(f.ctx, []store.KeyRecord{key("k", "customer", "email", "A", "a", 1)}))
		f.must(tx.InsertLinks(f.ctx, []store.Link{{Seq: rows[0].Seq, EntityType: "customer", EntityID: "A"}}))
		f.must(tx.ApplyMerge(f.ctx, merge("B", "A", "customer", rows[0].Seq), 1))
	})
	f.write(func(tx store.Tx) { f.must(tx.ResetIdentity(f.ctx)) })
	f.read(func(tx store.Tx) {
		keys, _ := tx.LookupKeys(f.ctx, []string{"k"})
		all, _ := tx.AllEntities(f.ctx)
		links, _ := tx.LinksInRange(f.ctx, 0, 100)
		merges, _ := tx.MergesInRange(f.ctx, 0, 100)
		if len(keys)+len(all)+len(links)+len(merges) != 0 {
			f.t.Errorf("after ResetIdentity: keys %v, entities %v, links %v, merges %v", keys, all, links, merges)
		}
		if n, _ := tx.CountLive(f.ctx, "", true); n != 1 {
			f.t.Errorf("ResetIdentity touched the ledger: %d live events", n)
		}
	})
}

func testPendingCounts(f *fixture) {
	rows := f.appendRows(ev("e1", "shop", base), ev("e2", "shop", base), ev("e3", "shop", base), ev("e4", "shop", base),
		ev("e5", "shop", base))
	s := seqsOf(rows)
	f.write(func(tx store.Tx) {
		r := rows[4]
		r.DuplicateOf = s[0]
		f.must(tx.UpdateNormalized(f.ctx, r))
		f.must(tx.InsertLinks(f.ctx, []store.Link{
			{Seq: s[0], EntityType: "customer", EntityID: "c"},
			{Seq: s[1], EntityType: "customer", EntityID: "c"},
			{Seq: s[1], EntityType: "order", EntityID: "o"},
			{Seq: s[2], EntityType: "customer", EntityID: "c"}}))
	})
	f.read(func(tx store.Tx) {
		// Unresolved: live above the identity cursor (e4; e5 is a duplicate).
		// Resolved: live and linked in (cursor, identity cursor] (e2, e3),
		// each once.
		u, r, err := tx.PendingCounts(f.ctx, s[0], s[2])
		f.must(err)
		if u != 1 || r != 2 {
			f.t.Errorf("PendingCounts = %d unresolved, %d resolved; want 1, 2", u, r)
		}
	})
}
