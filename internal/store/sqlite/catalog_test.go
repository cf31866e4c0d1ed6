package sqlite

import (
	"reflect"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
)

func TestVersions(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	write(t, s, func(tx store.Tx) {
		must(t, tx.PutVersion(ctx, &store.VersionRecord{Name: "v2", Definitions: []byte(`{"b":1}`), ContentHash: "c2",
			SourceHashes: map[string]string{"shop": "h"}, CreatedAt: 20}))
		must(t, tx.PutVersion(ctx, &store.VersionRecord{Name: "v1", Definitions: []byte(`{"a":1}`), ContentHash: "c1", CreatedAt: 10}))
		must(t, tx.SetActive(ctx, "v1"))
		must(t, tx.SetActive(ctx, "v2"))
		if err := tx.SetActive(ctx, "nope"); err == nil {
			t.Error("activating an unknown version succeeded")
		}
	})
	read(t, s, func(tx store.Tx) {
		vs, err := tx.Versions(ctx)
		must(t, err)
		if len(vs) != 2 || vs[0].Name != "v1" || vs[1].Name != "v2" {
			t.Fatalf("Versions = %+v", vs)
		}
		if vs[0].Active || !vs[1].Active {
			t.Errorf("active flags = %v, %v; want only v2", vs[0].Active, vs[1].Active)
		}
		want := store.VersionRecord{Name: "v2", Definitions: []byte(`{"b":1}`), ContentHash: "c2",
			SourceHashes: map[string]string{"shop": "h"}, Active: true, CreatedAt: 20}
		if !reflect.DeepEqual(vs[1], want) {
			t.Errorf("v2 = %+v, want %+v", vs[1], want)
		}
		v, err := tx.Version(ctx, "none")
		must(t, err)
		if v != nil {
			t.Errorf("unknown version = %+v, want nil", v)
		}
	})
}

func TestBuildState(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	ensure(t, s, "v1", plainSet())
	read(t, s, func(tx store.Tx) {
		b, err := tx.BuildState(ctx, "v1", 0)
		must(t, err)
		if b != nil {
			t.Fatalf("BuildState before any = %+v", b)
		}
	})
	want := store.BuildState{Version: "v1", TotalShards: 1, Cursor: 42, Built: true, EntitiesHash: "e",
		IdentityEpoch: 2, NormalizationEpoch: 3, TickHorizon: store.NoTime, LastBuildTime: 1000, LastBuildMode: "full"}
	write(t, s, func(tx store.Tx) { must(t, tx.PutBuildState(ctx, &want)) })
	read(t, s, func(tx store.Tx) {
		b, err := tx.BuildState(ctx, "v1", 0)
		must(t, err)
		if b == nil || !reflect.DeepEqual(*b, want) {
			t.Fatalf("BuildState = %+v, want %+v", b, want)
		}
	})
	want.Cursor, want.TickHorizon, want.Dirty = 50, 77, true
	write(t, s, func(tx store.Tx) { must(t, tx.PutBuildState(ctx, &want)) })
	read(t, s, func(tx store.Tx) {
		b, err := tx.BuildState(ctx, "v1", 0)
		must(t, err)
		if !reflect.DeepEqual(*b, want) {
			t.Fatalf("BuildState = %+v, want %+v", b, want)
		}
	})
}
