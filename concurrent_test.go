package defacto_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/defacto-dev/defacto"
	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
)

const (
	concChildEnv = "DEFACTO_CONCURRENT_CHILD"
	concURLEnv   = "DEFACTO_CONCURRENT_URL"
	concNSEnv    = "DEFACTO_CONCURRENT_NAMESPACE"
)

// TestConcurrentChild is one writer process of TestConcurrentProcesses: it
// ingests the whole crash workload with processing.
func TestConcurrentChild(t *testing.T) {
	if os.Getenv(concChildEnv) != "1" {
		t.Skip("runs only as a child of TestConcurrentProcesses")
	}
	e := shardOpen(t, os.Getenv(concURLEnv), os.Getenv(concNSEnv), 0, 0)
	for i, s := range crashWorkload() {
		if s.op != "ingest" {
			continue
		}
		if _, err := e.Ingest(context.Background(), s.source, s.events, defacto.Process); err != nil {
			t.Fatalf("step %d %v: %v", i, s, err)
		}
	}
}

// Several OS processes ingesting the same events into one PostgreSQL
// namespace at once never store an event twice, never create an entity
// twice and never lose a merge: the result has exactly the events, entities
// and merges of one process ingesting alone.
func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() || os.Getenv(concChildEnv) == "1" {
		t.Skip("skipped with -short and in children")
	}
	ctx := context.Background()
	url := pgtest.URL(t)

	alone := shardOpen(t, url, pgtest.Namespace(t, url), 0, 0)
	for _, s := range crashWorkload() {
		if s.op == "ingest" {
			if _, err := alone.Ingest(ctx, s.source, s.events, defacto.Process); err != nil {
				t.Fatal(err)
			}
		}
	}

	ns := pgtest.Namespace(t, url)
	shared := shardOpen(t, url, ns, 0, 0) // creates the namespace before the race
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const writers = 3
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(exe, "-test.run=^TestConcurrentChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), concChildEnv+"=1", concURLEnv+"="+url, concNSEnv+"="+ns)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("writer %d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := shared.Build(ctx, defacto.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want func(*defacto.Engine) (int64, error)
	}{
		{"ledger events", func(e *defacto.Engine) (int64, error) { return e.Count(ctx, "", true) }, nil},
		{"customers", func(e *defacto.Engine) (int64, error) { return e.Table("customer").Count(ctx) }, nil},
		{"orders", func(e *defacto.Engine) (int64, error) { return e.Table("order").Count(ctx) }, nil},
		{"merged customers", func(e *defacto.Engine) (int64, error) {
			return e.History("customer").ResolveMerges().Where("merged_into", "is not null", nil).Where("valid_to", "is not null", nil).Count(ctx)
		}, nil},
	} {
		want, err := c.got(alone)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.got(shared)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || want == 0 {
			t.Errorf("%s: %d with %d concurrent writers, %d alone", c.name, got, writers, want)
		}
	}
	st, err := shared.BuildStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.DuplicateEvents != 0 || st.PendingEvents != 0 {
		t.Errorf("status: %+v", st)
	}
}
