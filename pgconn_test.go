package defacto_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/defacto-dev/defacto"
	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
)

// withAppName returns rawURL with application_name set, so a test can find
// its engine's server sessions in pg_stat_activity.
func withAppName(t *testing.T, rawURL string) (string, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	app := "defacto_test_" + hex.EncodeToString(b[:])
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String(), app
}

// terminateInTx waits until a session of application app is inside a write
// transaction and terminates it; it reports whether it did before done.
// Write transactions are those holding the namespace's advisory locks: the
// store's background statistics upkeep runs ANALYZE in a transaction of its
// own on the same pool, and terminating that one does not touch the ingest
// (it made this test fail now and then).
func terminateInTx(admin, app string, done <-chan struct{}) (bool, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	for {
		select {
		case <-done:
			return false, nil
		default:
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE application_name = $1 AND xact_start IS NOT NULL
				AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)) t`, app).Scan(&n); err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
		time.Sleep(time.Millisecond)
	}
}

// A connection dropped in the middle of an ingest loses nothing: the chunk
// in flight is rolled back and reported as an error, the chunks before it
// stay committed, and running the same input again appends only what is
// missing, ending in exactly the state of an undisturbed run.
func TestPostgresConnectionDroppedMidIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	ctx := context.Background()
	base := pgtest.URL(t)
	// Postgres sequences are not transactional: the rolled-back chunk leaves
	// a gap, so sequence numbers differ from the undisturbed run's; compare
	// everything else.
	t.Setenv(crashIgnoreEnv, "event_sequence")
	comparable := func(secs []crashSection) []crashSection {
		var out []crashSection
		for _, s := range secs {
			if s.name != "events" && s.name != "status" {
				out = append(out, s)
			}
		}
		return out
	}
	var events []defacto.Event
	for _, s := range crashWorkload() {
		if s.op == "ingest" && s.source == "app" {
			events = append(events, s.events...)
		}
	}
	if len(events) < 300 {
		t.Fatalf("workload too small: %d app events", len(events))
	}

	want := shardOpen(t, base, pgtest.Namespace(t, base), 0, 0)
	clean, err := want.Ingest(ctx, "app", events, defacto.Process)
	if err != nil {
		t.Fatal(err)
	}
	wantDump, err := crashDump(ctx, want)
	if err != nil {
		t.Fatal(err)
	}

	dbURL, app := withAppName(t, base)
	e := shardOpen(t, dbURL, pgtest.Namespace(t, base), 0, 0)
	var lines []string
	for _, ev := range events {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	input := strings.Join(lines, "\n")
	// Terminate a session of the engine while it is inside a transaction,
	// once the first chunk has committed.
	started, done := make(chan struct{}), make(chan struct{})
	type outcome struct {
		killed bool
		err    error
	}
	killer := make(chan outcome, 1)
	go func() {
		<-started
		k, err := terminateInTx(base, app, done)
		killer <- outcome{k, err}
	}()
	var once sync.Once
	res, err := e.IngestReader(ctx, "app", strings.NewReader(input), defacto.Process, &defacto.ReadOptions{
		Progress: func(int, int64) { once.Do(func() { close(started) }) },
	})
	once.Do(func() { close(started) })
	close(done)
	k := <-killer
	if k.err != nil {
		t.Fatal(k.err)
	}
	if !k.killed {
		t.Skip("the ingest ended before a session could be terminated inside a transaction")
	}
	if err == nil {
		t.Fatalf("ingest survived its session being terminated inside a transaction: %d ingested", res.EventsIngested)
	}
	if !errors.Is(err, defacto.ErrStorage) {
		t.Fatalf("error is not ErrStorage: %v", err)
	}
	committed := res.EventsIngested
	if committed == 0 || committed >= len(events) {
		t.Fatalf("committed %d of %d events before the drop; want some but not all", committed, len(events))
	}

	// The pool replaces dead connections; the re-run skips what landed.
	res, err = e.IngestReader(ctx, "app", strings.NewReader(input), defacto.Process, nil)
	if err != nil {
		t.Fatal(err)
	}
	if committed+res.EventsIngested != clean.EventsIngested || res.DuplicatesSkipped != committed+clean.DuplicatesSkipped {
		t.Fatalf("re-run: %d duplicates, %d ingested after %d committed; an undisturbed run ingested %d with %d duplicates",
			res.DuplicatesSkipped, res.EventsIngested, committed, clean.EventsIngested, clean.DuplicatesSkipped)
	}
	got, err := crashDump(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if d := crashCompare(comparable(wantDump), comparable(got)); len(d) > 0 {
		t.Fatalf("state after drop and re-run differs from an undisturbed run:\n%s", strings.Join(d, "\n"))
	}
}

// libpq's PG* environment variables fill what a postgres:// URL leaves out.
func TestPostgresLibpqEnvironment(t *testing.T) {
	base := pgtest.URL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGHOST", u.Hostname())
	t.Setenv("PGPORT", u.Port())
	t.Setenv("PGUSER", u.User.Username())
	t.Setenv("PGDATABASE", strings.TrimPrefix(u.Path, "/"))
	t.Setenv("PGSSLMODE", "disable")
	ns := pgtest.Namespace(t, base)
	e := shardOpen(t, "postgres://", ns, 0, 0)
	res, err := e.Ingest(context.Background(), "app", []defacto.Event{
		{"type": "signup", "email": "env@x.io", "timestamp": "2024-01-01T00:00:00Z"},
	}, defacto.AppendOnly)
	if err != nil || res.EventsIngested != 1 {
		t.Fatalf("ingest through PG* variables: %+v %v", res, err)
	}
}
