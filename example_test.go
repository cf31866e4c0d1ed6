package defacto_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/defacto-dev/defacto"
)

// The quickstart: four events in, then current state, state as of a date,
// and full history.
func Example_quickstart() {
	ctx := context.Background()
	defs, err := defacto.LoadDefinitions("examples/quickstart")
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "defacto-example-")
	defer os.RemoveAll(dir)
	clock := func() time.Time { return time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC) }
	d, err := defacto.OpenDefinitions(ctx, defs, &defacto.Config{Database: filepath.Join(dir, "defacto.db"), Clock: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	f, _ := os.Open("examples/quickstart/events.jsonl")
	defer f.Close()
	res, err := d.IngestReader(ctx, "app", bufio.NewReader(f), defacto.Process, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ingested:", res.EventsIngested, "processed:", res.EventsProcessed)

	rows, _ := d.Table("customer").Select("email", "customer_state", "plan").OrderBy("email", false).Execute(ctx)
	fmt.Print(rows)
	rows, _ = d.History("customer").AsOf("2024-01-10").Select("email", "customer_state", "plan").OrderBy("email", false).Execute(ctx)
	fmt.Print(rows)
	rows, _ = d.History("customer").Select("email", "customer_state", "plan", "valid_from", "valid_to").OrderBy("valid_from", false).Execute(ctx)
	fmt.Print(rows)
	// Output:
	// ingested: 4 processed: 4
	// email              customer_state  plan
	// -----------------  --------------  ----
	// alice@example.com  active          pro
	// bob@example.com    churned         free
	// (2 rows)
	// email              customer_state  plan
	// -----------------  --------------  ----
	// alice@example.com  active          free
	// bob@example.com    active          free
	// (2 rows)
	// email              customer_state  plan  valid_from                 valid_to
	// -----------------  --------------  ----  -------------------------  -------------------------
	// alice@example.com  active          free  2024-01-01T10:00:00+00:00  2024-01-15T09:00:00+00:00
	// bob@example.com    active          free  2024-01-05T14:00:00+00:00  2024-03-01T12:00:00+00:00
	// alice@example.com  active          pro   2024-01-15T09:00:00+00:00  -
	// bob@example.com    churned         free  2024-03-01T12:00:00+00:00  -
	// (4 rows)
}
