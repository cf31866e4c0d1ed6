package defacto_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
)

// openShowcase opens the showcase project on a fresh database in dir and
// ingests its three event files with processing.
func openShowcase(t *testing.T, dir string) *defacto.Engine {
	t.Helper()
	ctx := context.Background()
	defs, err := defacto.LoadDefinitions("examples/showcase")
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC) }
	d, err := defacto.OpenDefinitions(ctx, defs, &defacto.Config{Database: filepath.Join(dir, "defacto.db"), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ source, file string }{{"app", "app.jsonl"}, {"billing", "billing.jsonl"}, {"app", "merge.jsonl"}} {
		in, err := os.Open(filepath.Join("examples/showcase", f.file))
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.IngestReader(ctx, f.source, in, defacto.Process, nil)
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.EventsFailed != 0 {
			t.Fatalf("%s: %d events failed: %+v", f.file, res.EventsFailed, res.Failures)
		}
	}
	return d
}

// After Erase, the erased identity values occur nowhere in the bytes of any
// database file (main, version stores, -wal, -shm): secure_delete and a WAL
// checkpoint make deletion physical, not only logical.
func TestEraseLeavesNoBytes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openShowcase(t, dir)
	defer d.Close()

	// Carol's second signup merged her into alice: erasing alice cascades.
	alice, err := d.Lookup(ctx, "customer", "alice@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"alice@example.com", "carol@work.com", "+1-555-0001", "+1-555-0003"}
	if found := grepDir(t, dir, secrets); len(found) == 0 {
		t.Fatal("test is vacuous: the values are not in the database before erasure")
	}
	res, err := d.Erase(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if res.EntitiesErased != 2 || res.EventsDeleted == 0 {
		t.Fatalf("erase result: %+v", res)
	}
	if found := grepDir(t, dir, secrets); len(found) > 0 {
		t.Fatalf("erased values still in database files: %v", found)
	}
	if _, err := d.Lookup(ctx, "customer", "alice@example.com", ""); !errors.Is(err, defacto.ErrNotFound) {
		t.Fatalf("lookup after erase: %v", err)
	}
	if _, err := d.Erase(ctx, alice); !errors.Is(err, defacto.ErrNotFound) || !strings.Contains(err.Error(), "erased") {
		t.Fatalf("second erase: %v", err)
	}
}

func grepDir(t *testing.T, dir string, needles []string) []string {
	t.Helper()
	var found []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				found = append(found, e.Name()+": "+n)
			}
		}
	}
	return found
}

// Versions that are not active keep no copy either: with the showcase built
// under two versions, erasing under the second leaves none of the values in
// any file (the first version's store included), and the first version,
// activated again, rebuilds in full without the erased entities.
func TestEraseReachesInactiveVersions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openShowcase(t, dir)
	defer d.Close()
	v1 := d.Version()
	registerV2(t, d)
	if _, err := d.Activate(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	alice, err := d.Lookup(ctx, "customer", "alice@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"alice@example.com", "carol@work.com", "+1-555-0001", "+1-555-0003"}
	found := grepDir(t, dir, secrets)
	inV1 := false
	for _, f := range found {
		inV1 = inV1 || strings.Contains(f, "."+v1+".db")
	}
	if !inV1 {
		t.Fatalf("test is vacuous: the values are not in %s's store before erasure: %v", v1, found)
	}
	res, err := d.Erase(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if found := grepDir(t, dir, secrets); len(found) > 0 {
		t.Fatalf("erased values still in database files: %v", found)
	}
	before, err := d.Table("customer").Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Activate(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	if b.Mode == defacto.ModeSkip || b.Mode == defacto.ModeIncremental {
		t.Fatalf("activating %s after an erasure: mode %s, want a full build", v1, b.Mode)
	}
	after, err := d.Table("customer").Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("%s has %d customers after its rebuild, %s had %d (erased %v)", v1, after, "v2", before, res.ErasedIDs)
	}
	for _, id := range res.ErasedIDs {
		if n, err := d.Table("customer").Where("customer_id", "=", id).Count(ctx); err != nil || n != 0 {
			t.Fatalf("erased %s is back in %s: %d rows, %v", id, v1, n, err)
		}
	}
	if found := grepDir(t, dir, secrets); len(found) > 0 {
		t.Fatalf("erased values back after rebuilding %s: %v", v1, found)
	}
}

// Redact reaches versions that are not active too: the masked email is gone
// from every file, the first version's store included.
func TestRedactReachesInactiveVersions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openShowcase(t, dir)
	defer d.Close()
	registerV2(t, d)
	if _, err := d.Activate(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	bob, err := d.Lookup(ctx, "customer", "bob@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	secret := []string{"bob@example.com"}
	if len(grepDir(t, dir, secret)) < 2 {
		t.Fatalf("test is vacuous: %v", grepDir(t, dir, secret))
	}
	if _, err := d.Redact(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if found := grepDir(t, dir, secret); len(found) > 0 {
		t.Fatalf("redacted value still in database files: %v", found)
	}
}

// registerV2 registers version "v2": the active definitions plus a string
// property "nickname" on customer.
func registerV2(t *testing.T, d *defacto.Engine) {
	t.Helper()
	ctx := context.Background()
	dr, err := d.Draft(ctx, "v2", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := dr.AddProperty("customer", "nickname", map[string]any{"type": "string"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dr.Register(ctx); err != nil {
		t.Fatal(err)
	}
}
