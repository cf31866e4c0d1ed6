package sqlitedriver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sd "github.com/defacto-dev/defacto/bench/sqlitedriver"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// modernc is the pure-Go driver; mattn is defined in driver_mattn_test.go
// (cgo builds) or driver_nocgo_test.go (CGO_ENABLED=0: skipped).
var modernc = sd.Driver{Name: "modernc", SQLName: "sqlite", DSN: sd.PragmaDSN}

var drivers = []*sd.Driver{&modernc, &mattn}

func TestMain(m *testing.M) { os.Exit(sd.Main(m)) }

// BenchmarkWrite runs the ingest write pattern with SQLite's default page
// cache (2 MB, smaller than the working set: the pattern is then bound by
// page I/O through the OS cache) and with a 64 MiB cache (the working set
// fits: CPU-bound, the driver overhead shows more).
func BenchmarkWrite(b *testing.B) {
	for _, v := range []struct {
		name     string
		cacheKiB int
	}{{"cache=default", 0}, {"cache=64MiB", 64 << 10}} {
		for _, d := range drivers {
			b.Run(v.name+"/"+d.Name, func(b *testing.B) { sd.BenchWrite(b, *d, "Write/"+v.name, v.cacheKiB) })
		}
	}
}

func BenchmarkScan(b *testing.B) {
	for _, mode := range []string{"raw", "decode"} {
		for _, d := range drivers {
			b.Run(mode+"/"+d.Name, func(b *testing.B) { sd.BenchScan(b, *d, mode == "decode") })
		}
	}
}

func TestDrivers(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.Name, func(t *testing.T) { sd.CheckDriver(t, *d) })
	}
}

func TestGen(t *testing.T) {
	g1, g2 := sd.NewGen(sd.SeedCustomers, 0), sd.NewGen(sd.SeedCustomers, 0)
	var data, raw, hints, state, news int
	const n = 1000
	for range n {
		a, b := g1.Next(), g2.Next()
		if a != b {
			t.Fatalf("generator is not deterministic: %+v != %+v", a, b)
		}
		if len(a.EventID) != 64 || len(a.KeyHash) != 64 {
			t.Fatalf("event id %q key hash %q", a.EventID, a.KeyHash)
		}
		data, raw, hints, state = data+len(a.Data), raw+len(a.Raw), hints+len(a.Hints), state+len(a.State)
		if a.NewCustomer {
			news++
		}
	}
	t.Logf("average bytes: data %d raw %d hints %d state %d; new customers %d/%d", data/n, raw/n, hints/n, state/n, news, n)
	if data/n < 120 || data/n > 180 || raw/n < 170 || raw/n > 230 || hints/n < 120 || hints/n > 180 {
		t.Errorf("sizes off the brief (data ~150, raw ~200, hints ~150): %d %d %d", data/n, raw/n, hints/n)
	}
	if news != n/sd.NewCustomerEvery {
		t.Errorf("new customers %d, want %d", news, n/sd.NewCustomerEvery)
	}
}

// TestQueryPlans checks that the per-event statements use the intended
// indexes (a full scan would make the benchmark measure the wrong thing).
func TestQueryPlans(t *testing.T) {
	db, err := sd.Open(modernc, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sd.CreateSchema(db); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		`SELECT entity_id FROM identity WHERE key_hash = 'x'`:                                                                 "sqlite_autoindex_identity_1",
		`UPDATE customer_history_all SET valid_to = 1 WHERE customer_id = 'x' AND superseded_at IS NULL AND valid_to IS NULL`: "customer_history_open",
	} {
		rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, want) {
			t.Errorf("%s: plan %q does not use %s", q, p, want)
		}
	}
}

// BenchmarkGenerate measures the event generator alone (it runs inside the
// timed write loop): one op generates EventsPerOp events, like one
// BenchmarkWrite op.
func BenchmarkGenerate(b *testing.B) {
	g := sd.NewGen(sd.SeedCustomers, 0)
	var sink int
	for b.Loop() {
		for range sd.EventsPerOp {
			sink += len(g.Next().Data)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sd.EventsPerOp)/1000, "µs/event")
	_ = sink
}
