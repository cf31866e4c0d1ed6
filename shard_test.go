package defacto_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
)

// shardOpen opens the crash workload's project on a PostgreSQL namespace.
func shardOpen(t *testing.T, url, ns string, shard, total int) *defacto.Engine {
	t.Helper()
	defs, err := defacto.LoadDefinitions(crashProject)
	if err != nil {
		t.Fatal(err)
	}
	e, err := defacto.OpenDefinitions(context.Background(), defs, &defacto.Config{
		Database: url, Namespace: ns, Clock: func() time.Time { return crashClock },
		Salt: crashSalt, BatchSize: 200, ShardID: shard, TotalShards: total,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// The union of N shards' builds equals one unsharded build, byte for byte:
// each shard interprets only the entities whose id hashes to it, merges
// across shards reach both owners, and all of them write one version store.
func TestShardedBuildsEqualUnsharded(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	ctx := context.Background()
	url := pgtest.URL(t)
	ingest := func(e *defacto.Engine) {
		for i, s := range crashWorkload() {
			if s.op != "ingest" {
				continue
			}
			if _, err := e.Ingest(ctx, s.source, s.events, defacto.AppendOnly); err != nil {
				t.Fatalf("step %d %v: %v", i, s, err)
			}
		}
	}
	// Cursors are per shard, so the status section differs by design.
	dump := func(e *defacto.Engine) []crashSection { return dumpWithoutStatus(t, e) }

	single := shardOpen(t, url, pgtest.Namespace(t, url), 0, 0)
	ingest(single)
	if _, err := single.Build(ctx, defacto.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	want := dump(single)

	const total = 3
	ns := pgtest.Namespace(t, url)
	shards := make([]*defacto.Engine, total)
	for i := range shards {
		shards[i] = shardOpen(t, url, ns, i, total)
	}
	ingest(shards[0])
	for i, e := range shards {
		res, err := e.Build(ctx, defacto.BuildOptions{})
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		if res.EventsProcessed == 0 {
			t.Errorf("shard %d processed nothing: the workload should reach every shard", i)
		}
	}
	for i, e := range shards {
		if d := crashCompare(want, dump(e)); len(d) > 0 {
			t.Fatalf("union of %d shard builds (read through shard %d) differs from the unsharded build:\n%s", total, i, strings.Join(d, "\n"))
		}
	}

	// The shard count is fixed by the namespace's first open.
	defs, _ := defacto.LoadDefinitions(crashProject)
	_, err := defacto.OpenDefinitions(ctx, defs, &defacto.Config{Database: url, Namespace: ns, ShardID: 0, TotalShards: 4})
	if !errors.Is(err, defacto.ErrConfig) && !errors.Is(err, defacto.ErrStorage) {
		t.Fatalf("reopen with another shard count: %v", err)
	}
}

func TestShardConfigErrors(t *testing.T) {
	defs, err := defacto.LoadDefinitions("examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  defacto.Config
		want string
	}{
		{defacto.Config{ShardID: 1}, "without TotalShards"},
		{defacto.Config{ShardID: 3, TotalShards: 3}, "ShardID"},
		{defacto.Config{ShardID: -1, TotalShards: 3}, "ShardID"},
		{defacto.Config{TotalShards: 2000}, "TotalShards"},
		{defacto.Config{TotalShards: 2, Database: t.TempDir() + "/x.db"}, "sharding needs PostgreSQL"},
	} {
		_, err := defacto.OpenDefinitions(context.Background(), defs, &c.cfg)
		if !errors.Is(err, defacto.ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
}

// On PostgreSQL too, a full rebuild reproduces inline ingest exactly: after
// appending the workload and building in full, and after rebuilding in full
// over the inline result (which exercises the read-ahead of the next group
// and the comparison with stored rows).
func TestFullRebuildEqualsInlinePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	ctx := context.Background()
	url := pgtest.URL(t)
	ingest := func(e *defacto.Engine, mode defacto.IngestMode) {
		for i, s := range crashWorkload() {
			if s.op != "ingest" {
				continue
			}
			if _, err := e.Ingest(ctx, s.source, s.events, mode); err != nil {
				t.Fatalf("step %d %v: %v", i, s, err)
			}
		}
	}
	// Build modes and counters differ by design.
	dump := func(e *defacto.Engine) []crashSection { return dumpWithoutStatus(t, e) }
	full := func(e *defacto.Engine) {
		res, err := e.Build(ctx, defacto.BuildOptions{Full: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mode != defacto.ModeFull {
			t.Fatalf("build mode %s, want FULL", res.Mode)
		}
	}

	inline := shardOpen(t, url, pgtest.Namespace(t, url), 0, 0)
	ingest(inline, defacto.Process)
	if _, err := inline.Tick(ctx, nil); err != nil {
		t.Fatal(err)
	}
	want := dump(inline)
	full(inline)
	if d := crashCompare(want, dump(inline)); len(d) > 0 {
		t.Fatalf("full rebuild over the inline result changed it:\n%s", strings.Join(d, "\n"))
	}

	appended := shardOpen(t, url, pgtest.Namespace(t, url), 0, 0)
	ingest(appended, defacto.AppendOnly)
	full(appended)
	if d := crashCompare(want, dump(appended)); len(d) > 0 {
		t.Fatalf("append + full build differs from inline ingest + tick:\n%s", strings.Join(d, "\n"))
	}

	// More customers than one rebuild group (1000 entities), so groups are
	// read ahead of their transactions.
	var bulk []defacto.Event
	for i := range 2500 {
		day := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
		email := fmt.Sprintf("bulk%04d@example.com", i)
		bulk = append(bulk,
			defacto.Event{"type": "signup", "timestamp": day.Format(time.RFC3339), "email": email, "phone": fmt.Sprintf("+1-666-%04d", i)},
			defacto.Event{"type": "subscribe", "timestamp": day.Add(time.Hour).Format(time.RFC3339), "email": email, "plan": "pro", "mrr": 49})
	}
	if _, err := inline.Ingest(ctx, "app", bulk, defacto.Process); err != nil {
		t.Fatal(err)
	}
	before := dump(inline)
	full(inline)
	if d := crashCompare(before, dump(inline)); len(d) > 0 {
		t.Fatalf("full rebuild of %d+ entities over the inline result changed it:\n%s", len(bulk)/2, strings.Join(d, "\n"))
	}
}

// dumpWithoutStatus is crashDump without its build-status section.
func dumpWithoutStatus(t *testing.T, e *defacto.Engine) []crashSection {
	t.Helper()
	all, err := crashDump(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	var out []crashSection
	for _, s := range all {
		if s.name != "status" {
			out = append(out, s)
		}
	}
	return out
}
