package defacto_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
)

func quickstartLoaded(t *testing.T) *defacto.Engine {
	t.Helper()
	d := openQuickstart(t, nil)
	f, err := os.Open("examples/quickstart/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := d.IngestReader(context.Background(), "app", f, defacto.Process, nil); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestQueryFiltersAndTypes(t *testing.T) {
	ctx := context.Background()
	d := quickstartLoaded(t)
	rows, err := d.History("customer").Where("plan", "=", "free").Where("valid_from", ">=", "2024-01-02").
		Select("email", "customer_state", "valid_from", "event_sequence").OrderBy("valid_from", true).Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Len() != 2 || rows.Value(0, "customer_state") != "churned" {
		t.Fatalf("rows:\n%v", rows)
	}
	if _, ok := rows.Value(0, "valid_from").(time.Time); !ok {
		t.Fatalf("valid_from is %T, want time.Time", rows.Value(0, "valid_from"))
	}
	if seq, ok := rows.Value(0, "event_sequence").(int64); !ok || seq != 4 {
		t.Fatalf("event_sequence = %v (%T)", rows.Value(0, "event_sequence"), rows.Value(0, "event_sequence"))
	}
	n, err := d.Table("customer").Where("email", "in", []string{"alice@example.com", "zed@x.io"}).Count(ctx)
	if err != nil || n != 1 {
		t.Fatalf("in: %d %v", n, err)
	}
	n, err = d.History("customer").Where("valid_to", "is null", nil).Count(ctx)
	if err != nil || n != 2 {
		t.Fatalf("is null: %d %v", n, err)
	}
	// Text is parsed as the column's type, as the CLI passes every value:
	// the same rows as the typed value.
	for _, tc := range []struct {
		op    string
		text  string
		typed any
	}{{">", "2", int64(2)}, {">", " 2 ", int64(2)}, {">=", "2.5", 2.5}, {"<", "3", int64(3)}, {"=", "1", int64(1)}} {
		n, err := d.History("customer").Where("event_sequence", tc.op, tc.text).Count(ctx)
		want, werr := d.History("customer").Where("event_sequence", tc.op, tc.typed).Count(ctx)
		if err != nil || werr != nil || n != want || want == 0 {
			t.Errorf("event_sequence %s %q: %d rows (%v); %v gives %d (%v)", tc.op, tc.text, n, err, tc.typed, want, werr)
		}
	}
	var csv bytes.Buffer
	rows, _ = d.Table("customer").Select("email", "plan", "valid_to").OrderBy("email", false).Execute(ctx)
	if err := rows.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if want := "email,plan,valid_to\nalice@example.com,pro,\nbob@example.com,free,\n"; csv.String() != want {
		t.Fatalf("csv:\n%s", csv.String())
	}
}

func TestQueryErrors(t *testing.T) {
	ctx := context.Background()
	d := quickstartLoaded(t)
	_, err := d.Table("customer").Where("pln", "=", "x").Execute(ctx)
	if !errors.Is(err, defacto.ErrQuery) || !strings.Contains(err.Error(), "did you mean 'plan'") || !strings.Contains(err.Error(), "available:") {
		t.Fatalf("unknown column: %v", err)
	}
	if _, err := d.Table("customer").Where("plan", "~", "x").Execute(ctx); !errors.Is(err, defacto.ErrQuery) {
		t.Fatalf("bad operator: %v", err)
	}
	if _, err := d.Table("customer").Where("valid_from", "<", 12).Execute(ctx); !errors.Is(err, defacto.ErrQuery) {
		t.Fatalf("bad instant value: %v", err)
	}
	for _, v := range []string{"four", "", "NaN", "1e999"} {
		if _, err := d.Table("customer").Where("event_sequence", ">", v).Execute(ctx); !errors.Is(err, defacto.ErrQuery) ||
			!strings.Contains(err.Error(), "event_sequence") {
			t.Fatalf("event_sequence > %q: %v, want a query error naming the column", v, err)
		}
	}
	if _, err := d.History("customer").AsOf("yesterday").Execute(ctx); !errors.Is(err, defacto.ErrValidation) {
		t.Fatalf("bad as-of: %v", err)
	}
	if _, err := d.Table("custmer").Execute(ctx); !errors.Is(err, defacto.ErrNotFound) || !strings.Contains(err.Error(), "customer") {
		t.Fatalf("unknown entity: %v", err)
	}
	sql, args, err := d.History("customer").AsOf("2024-01-10").Where("plan", "=", "free").SQL()
	if err != nil || !strings.Contains(sql, "valid_from <=") || len(args) != 3 {
		t.Fatalf("SQL(): %s %v %v", sql, args, err)
	}
}

// Reads running while the engine closes end cleanly: each returns its rows,
// ErrClosed, or a storage error of the closed store; none panics or hangs.
func TestReadsRacingClose(t *testing.T) {
	ctx := context.Background()
	d := quickstartLoaded(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Go(func() {
			for range 50 {
				n, err := d.Table("customer").Count(ctx)
				if err == nil && n != 2 {
					err = fmt.Errorf("%d customers", n)
				}
				if err == nil {
					_, err = d.BuildStatus(ctx)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	t.Logf("%d of 4 readers stopped at an error", len(errs))
	for err := range errs {
		if !errors.Is(err, defacto.ErrClosed) && !errors.Is(err, defacto.ErrStorage) {
			t.Errorf("a read racing Close: %v, want ErrClosed or ErrStorage", err)
		}
	}
}
