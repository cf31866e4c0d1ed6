package defacto_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/defacto-dev/defacto"
)

func TestDraftEditDiffImpactRegister(t *testing.T) {
	ctx := context.Background()
	defs, err := defacto.LoadDefinitions("examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	d, err := defacto.OpenDefinitions(ctx, defs, &defacto.Config{Database: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Ingest(ctx, "app", []defacto.Event{{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io"}}, defacto.Process); err != nil {
		t.Fatal(err)
	}
	dr, err := d.Draft(ctx, "v2", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := dr.AddProperty("customer", "name", map[string]any{"type": "string"}); err != nil {
		t.Fatal(err)
	}
	if err := dr.AddProperty("customer", "name", map[string]any{"type": "string"}); !errors.Is(err, defacto.ErrDefinition) {
		t.Fatalf("duplicate property: %v", err)
	}
	if err := dr.AddState("customer", "paused", nil); err != nil {
		t.Fatal(err)
	}
	if err := dr.AddTransition("customer", "active", "pause", "paused"); err != nil {
		t.Fatal(err)
	}
	if err := dr.AddTransition("customer", "active", "pause", "paused"); !errors.Is(err, defacto.ErrDefinition) {
		t.Fatalf("second handler for one type: %v", err)
	}
	if err := dr.AddHandler("customer", "nope", "x", map[string]any{"effects": []any{"create"}}); !errors.Is(err, defacto.ErrDefinition) {
		t.Fatalf("unknown state: %v", err)
	}
	// The handler's event type is produced by no source: a warning, not an
	// error; the draft stays valid.
	if v := dr.Validate(); !v.Valid {
		t.Fatalf("draft invalid: %+v", v.Errors)
	}
	diff := dr.Diff()
	if diff.Entities == nil || !reflect.DeepEqual(diff.Entities.Modified, []string{"customer"}) {
		t.Fatalf("diff: %+v", diff.Entities)
	}
	ch := diff.Entities.Changes["customer"]
	if !reflect.DeepEqual(ch.Properties.Added, []string{"name"}) || !reflect.DeepEqual(ch.States.Added, []string{"paused"}) ||
		!reflect.DeepEqual(ch.States.Changed, []string{"active"}) || ch.IdentityChanged {
		t.Fatalf("entity diff: %+v %+v %+v", ch.Properties, ch.States, ch)
	}
	imp, err := dr.Impact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Mode != defacto.ModeFull {
		t.Fatalf("impact: %+v", imp)
	}
	reg, err := dr.Register(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Version != "v2" || reg.PredictedMode != defacto.ModeFull {
		t.Fatalf("register: %+v", reg)
	}
	res, err := d.Activate(ctx, "v2")
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != defacto.ModeFull || res.EventsProcessed != 1 {
		t.Fatalf("activate: %+v", res)
	}
	rows, err := d.Table("customer").Select("email", "name").Execute(ctx)
	if err != nil || rows.Len() != 1 || rows.Value(0, "name") != nil {
		t.Fatalf("table after activate: %v %v", rows, err)
	}
	if _, err := d.Activate(ctx, "nope"); !errors.Is(err, defacto.ErrNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
}
