package defacto_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
	_ "modernc.org/sqlite"
)

// Invalid lifecycle operations return a typed error and change nothing.
func TestLifecycleBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openShowcase(t, dir)
	defer d.Close()
	alice, err := d.Lookup(ctx, "customer", "alice@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := d.Lookup(ctx, "customer", "bob@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	order, err := d.Lookup(ctx, "order", "ORD-001", "")
	if err != nil {
		t.Fatal(err)
	}
	before, err := d.Count(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		kind error
		text string
	}{
		{"merge into itself", func() error { _, err := d.Merge(ctx, alice, alice, ""); return err }, defacto.ErrValidation, "itself"},
		{"merge across types", func() error { _, err := d.Merge(ctx, alice, order, ""); return err }, defacto.ErrValidation, "of different types"},
		{"merge unknown id", func() error { _, err := d.Merge(ctx, "nope", bob, ""); return err }, defacto.ErrNotFound, "nope"},
		{"erase unknown id", func() error { _, err := d.Erase(ctx, "nope"); return err }, defacto.ErrNotFound, "nope"},
		{"redact unknown id", func() error { _, err := d.Redact(ctx, "nope"); return err }, defacto.ErrNotFound, "nope"},
		{"activate unknown version", func() error { _, err := d.Activate(ctx, "v9"); return err }, defacto.ErrNotFound, "v9"},
		{"tick before the last tick", func() error { _, err := d.Tick(ctx, "2024-01-01"); return err }, defacto.ErrValidation, "before the last tick"},
		{"tick bad instant", func() error { _, err := d.Tick(ctx, "soon"); return err }, defacto.ErrValidation, "soon"},
		{"timeline unknown id", func() error { _, err := d.Timeline(ctx, "nope"); return err }, defacto.ErrNotFound, "nope"},
		{"hints unknown id", func() error { _, err := d.Hints(ctx, "nope"); return err }, defacto.ErrNotFound, "nope"},
	}
	if _, err := d.Tick(ctx, "2024-03-10"); err != nil { // sets the tick horizon
		t.Fatal(err)
	}
	for _, c := range cases {
		err := c.call()
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %v, want %v containing %q", c.name, err, c.kind, c.text)
		}
	}
	after, err := d.Count(ctx, "", true)
	if err != nil || after != before {
		t.Fatalf("ledger changed: %d → %d (%v)", before, after, err)
	}
	// A merged-away id cannot be merged again, and the message names its
	// canonical entity.
	if _, err := d.Merge(ctx, bob, alice, "same person"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Merge(ctx, bob, alice, ""); !errors.Is(err, defacto.ErrNotFound) || !strings.Contains(err.Error(), alice) {
		t.Fatalf("merge of a merged id: %v", err)
	}
	// Into an erased entity.
	if _, err := d.Erase(ctx, alice); err != nil {
		t.Fatal(err)
	}
	carol, err := d.Ingest(ctx, "app", []defacto.Event{{"type": "signup", "timestamp": "2024-03-09T10:00:00Z", "email": "dora@example.com", "phone": "+1-555-0999"}}, defacto.Process)
	if err != nil || carol.EventsIngested != 1 {
		t.Fatalf("%+v %v", carol, err)
	}
	dora, _ := d.Lookup(ctx, "customer", "dora@example.com", "")
	if _, err := d.Merge(ctx, dora, alice, ""); !errors.Is(err, defacto.ErrNotFound) {
		t.Fatalf("merge into erased: %v", err)
	}
}

// A draft that makes the definitions invalid cannot be registered.
func TestDraftInvalidCannotRegister(t *testing.T) {
	ctx := context.Background()
	d := openQuickstart(t, nil)
	dr, err := d.Draft(ctx, "broken", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := dr.RemoveState("customer", "churned"); err != nil {
		t.Fatal(err)
	}
	if v := dr.Validate(); v.Valid || len(v.Errors) == 0 {
		t.Fatalf("validation: %+v", v)
	}
	if _, err := dr.Register(ctx); !errors.Is(err, defacto.ErrDefinition) || !strings.Contains(err.Error(), "churned") {
		t.Fatalf("register: %v", err)
	}
	vs, err := d.Versions(ctx)
	if err != nil || len(vs) != 1 {
		t.Fatalf("versions: %+v %v", vs, err)
	}
}

// Two engines on one file serialize their writes: the second sees what the
// first appended.
func TestTwoEnginesShareOneFile(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "defacto.db")
	a := openQuickstart(t, &defacto.Config{Database: db})
	b := openQuickstart(t, &defacto.Config{Database: db})
	if _, err := a.Ingest(ctx, "app", []defacto.Event{{"type": "signup", "timestamp": "2024-01-01", "email": "a@x.io"}}, defacto.AppendOnly); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := b.Build(ctx, defacto.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != defacto.ModeIncremental || res.EventsProcessed != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("build from the second engine: %+v", res)
	}
}

// A build while another process holds the write lock waits for the busy
// timeout, then fails with a storage error that says the database is locked,
// and changes nothing.
func TestBuildWhileLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 5 s busy timeout")
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "defacto.db")
	d := openQuickstart(t, &defacto.Config{Database: db})
	if _, err := d.Ingest(ctx, "app", []defacto.Event{{"type": "signup", "timestamp": "2024-01-01", "email": "a@x.io"}}, defacto.AppendOnly); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, err = d.Build(ctx, defacto.BuildOptions{})
	if !errors.Is(err, defacto.ErrStorage) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("build under a foreign lock: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	st, err := d.BuildStatus(ctx)
	if err != nil || st.PendingEvents != 1 || st.Cursor != 0 {
		t.Fatalf("status after the failed build: %+v %v", st, err)
	}
	if res, err := d.Build(ctx, defacto.BuildOptions{}); err != nil || res.EventsProcessed != 1 {
		t.Fatalf("build after the lock is gone: %+v %v", res, err)
	}
}
