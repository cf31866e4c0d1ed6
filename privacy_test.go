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
