package defacto_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/defacto-dev/defacto"
)

// Engine is safe for concurrent use, Activate included: queries, lookups and
// status reads running while versions are activated back and forth see one
// version's definitions at a time and never fail (run it with -race).
func TestActivateWhileQuerying(t *testing.T) {
	ctx := context.Background()
	d := openQuickstart(t, nil)
	v1 := d.Version()
	if _, err := d.Ingest(ctx, "app", []defacto.Event{
		{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io"},
		{"type": "upgrade", "timestamp": "2024-01-02T10:00:00Z", "email": "a@x.io", "plan": "pro"},
	}, defacto.Process); err != nil {
		t.Fatal(err)
	}
	registerV2(t, d)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var queries atomic.Int64
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := d.Table("customer").Execute(ctx); err != nil {
					t.Errorf("query during activate: %v", err)
					return
				}
				if _, err := d.Lookup(ctx, "customer", "a@x.io", ""); err != nil {
					t.Errorf("lookup during activate: %v", err)
					return
				}
				if _, err := d.BuildStatus(ctx); err != nil {
					t.Errorf("build status during activate: %v", err)
					return
				}
				if v := d.Version(); v != v1 && v != "v2" {
					t.Errorf("version %q", v)
					return
				}
				queries.Add(1)
			}
		}()
	}
	for i := range 6 {
		to := "v2"
		if i%2 == 1 {
			to = v1
		}
		if _, err := d.Activate(ctx, to); err != nil {
			t.Fatalf("activate %s: %v", to, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if queries.Load() == 0 {
		t.Fatal("no query ran during the activations")
	}
}
