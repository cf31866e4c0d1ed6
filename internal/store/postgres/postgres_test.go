package postgres_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/store/postgres"
	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
)

// childEnv makes the test binary a writer process of TestConcurrentProcesses
// instead of running tests.
const childEnv = "DEFACTO_PGTEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(child(spec))
	}
	os.Exit(m.Run())
}

// child runs the writer workload as a second process: it opens the store,
// says "ready", waits for "go" on stdin, works and exits 0 on success.
func child(spec string) int {
	url, ns, ok := strings.Cut(spec, " ")
	if !ok {
		fmt.Fprintln(os.Stderr, "bad child spec")
		return 2
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, url, postgres.Options{Namespace: ns})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	fmt.Println("ready")
	if line, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil || line != "go\n" {
		fmt.Fprintln(os.Stderr, "no go signal:", line, err)
		return 1
	}
	if err := workload(ctx, s, "proc", iterations); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func open(t *testing.T, url, ns string, opts postgres.Options) *postgres.Store {
	t.Helper()
	opts.Namespace = ns
	s, err := postgres.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// raw connects behind the store's back.
func raw(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLockKey(t *testing.T) {
	t.Parallel()
	if got := postgres.LockKey("defacto", "identity"); got != 3663776782870078401 {
		t.Errorf(`LockKey("defacto", "identity") = %d, want 3663776782870078401 (scale.md §2)`, got)
	}
	seen := map[int64]string{}
	for _, ns := range []string{"defacto", "other"} {
		for _, p := range []string{"ddl", "definitions", "append", "identity", "build/v1/0", "process/v1/0", "relay"} {
			k := postgres.LockKey(ns, p)
			if prev, ok := seen[k]; ok {
				t.Errorf("LockKey(%s, %s) = LockKey of %s", ns, p, prev)
			}
			seen[k] = ns + "/" + p
		}
	}
	// The separator keeps ("ab", "c") and ("a", "bc") apart.
	if postgres.LockKey("ab", "c") == postgres.LockKey("a", "bc") {
		t.Error("LockKey ignores the separator")
	}
}

// Options are checked before any connection is made.
func TestOpenValidatesOptions(t *testing.T) {
	t.Parallel()
	const unreachable = "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=1"
	for _, c := range []struct {
		opts postgres.Options
		want string
	}{
		{postgres.Options{Namespace: "Defacto"}, "Options.Namespace"},
		{postgres.Options{Namespace: "1st"}, "Options.Namespace"},
		{postgres.Options{Namespace: "a-b"}, "Options.Namespace"},
		{postgres.Options{Namespace: `a"b`}, "Options.Namespace"},
		{postgres.Options{Namespace: "_x"}, "Options.Namespace"},
		{postgres.Options{Namespace: strings.Repeat("a", 31)}, "Options.Namespace"},
		{postgres.Options{ShardID: 1}, "Options.ShardID"},
		{postgres.Options{ShardID: -1, TotalShards: 2}, "Options.ShardID"},
		{postgres.Options{ShardID: 4, TotalShards: 4}, "Options.ShardID"},
		{postgres.Options{TotalShards: -2}, "Options.TotalShards"},
		{postgres.Options{TotalShards: 1025}, "Options.TotalShards"},
	} {
		s, err := postgres.Open(t.Context(), unreachable, c.opts)
		if err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", c.opts)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%+v) = %v, want an error naming %s", c.opts, err, c.want)
		}
	}
	// The longest valid name is accepted (and fails later, connecting).
	_, err := postgres.Open(t.Context(), unreachable, postgres.Options{Namespace: "a" + strings.Repeat("_9", 14) + "z"})
	if err == nil || strings.Contains(err.Error(), "Options.Namespace") {
		t.Errorf("30-character namespace: %v", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := postgres.Open(t.Context(), "postgres://someone:s3cretpw@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", postgres.Options{})
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if !strings.Contains(err.Error(), "connect") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error does not say what failed where: %v", err)
	}
	if strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("error leaks the password: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open took %v to fail", d)
	}
	if _, err := postgres.Open(t.Context(), "postgres://x:s3cretpw@[bad", postgres.Options{}); err == nil ||
		strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("invalid URL: %v", err)
	}
}

func TestOpenBadCredentials(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	cfg, err := pgx.ParseConfig(url)
	must(t, err)
	for _, c := range []struct{ what, url string }{
		{"unknown role", strings.Replace(url, "://"+cfg.User+"@", "://defacto_no_such_role:pw@", 1)},
		{"unknown database", strings.Replace(url, "/"+cfg.Database, "/defacto_no_such_db", 1)},
	} {
		if c.url == url {
			t.Fatalf("%s: could not rewrite %s", c.what, url)
		}
		s, err := postgres.Open(t.Context(), c.url, postgres.Options{Namespace: "t_never"})
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", c.what)
			continue
		}
		if !strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: %v", c.what, err)
		}
		t.Logf("%s: %v", c.what, err)
	}
}

func TestDialect(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	s := open(t, url, ns, postgres.Options{})
	d := s.Dialect()
	// Sessions run in UTC (scale.md §1).
	rows, err := s.Query(t.Context(), "", `SELECT current_setting('TimeZone')`)
	must(t, err)
	var tz string
	for rows.Next() {
		must(t, rows.Scan(&tz))
	}
	rows.Close()
	if tz != "UTC" {
		t.Errorf("session TimeZone = %q, want UTC", tz)
	}
	if got, want := d.Table("v1", "customer_history"), `"`+ns+`_v1"."customer_history"`; got != want {
		t.Errorf("Table = %s, want %s", got, want)
	}
	if d.InstantsAsMicros() {
		t.Error("InstantsAsMicros = true, want false (timestamptz)")
	}
}

func TestFormatVersions(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	s := open(t, url, ns, postgres.Options{})
	s.Close()
	c := raw(t, url)
	var v string
	must(t, c.QueryRow(t.Context(), `SELECT value FROM "`+ns+`".meta WHERE key = 'format_version'`).Scan(&v))
	if v != fmt.Sprint(postgres.FormatVersion) {
		t.Errorf("format_version = %s, want %d", v, postgres.FormatVersion)
	}
	// Reopening an up-to-date namespace changes nothing.
	open(t, url, ns, postgres.Options{}).Close()

	// A namespace written by newer code is refused.
	_, err := c.Exec(t.Context(), `UPDATE "`+ns+`".meta SET value = $1 WHERE key = 'format_version'`, fmt.Sprint(postgres.FormatVersion+1))
	must(t, err)
	_, err = postgres.Open(t.Context(), url, postgres.Options{Namespace: ns})
	if !errors.Is(err, store.ErrForeign) || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer format = %v, want an error wrapping store.ErrForeign that says newer", err)
	}
	// So is garbage.
	_, err = c.Exec(t.Context(), `UPDATE "`+ns+`".meta SET value = 'x' WHERE key = 'format_version'`)
	must(t, err)
	if _, err = postgres.Open(t.Context(), url, postgres.Options{Namespace: ns}); !errors.Is(err, store.ErrForeign) {
		t.Errorf("Open of a garbled format = %v, want store.ErrForeign", err)
	}
}

func TestForeignSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	c := raw(t, url)

	// A schema of someone else's tables is refused, and left alone.
	ns := pgtest.Namespace(t, url)
	_, err := c.Exec(t.Context(), `CREATE SCHEMA "`+ns+`"; CREATE TABLE "`+ns+`".accounts (id int)`)
	must(t, err)
	if _, err := postgres.Open(t.Context(), url, postgres.Options{Namespace: ns}); !errors.Is(err, store.ErrForeign) {
		t.Errorf("Open of a foreign schema = %v, want store.ErrForeign", err)
	}
	var n int
	must(t, c.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, ns).Scan(&n))
	if n != 1 {
		t.Errorf("refusing a foreign schema changed it: %d tables", n)
	}

	// A meta table without format_version is refused too.
	ns2 := pgtest.Namespace(t, url)
	_, err = c.Exec(t.Context(), `CREATE SCHEMA "`+ns2+`"; CREATE TABLE "`+ns2+`".meta (key text, value text)`)
	must(t, err)
	if _, err := postgres.Open(t.Context(), url, postgres.Options{Namespace: ns2}); !errors.Is(err, store.ErrForeign) {
		t.Errorf("Open of a schema with a foreign meta table = %v, want store.ErrForeign", err)
	}

	// An empty schema (made by an administrator) is adopted.
	ns3 := pgtest.Namespace(t, url)
	_, err = c.Exec(t.Context(), `CREATE SCHEMA "`+ns3+`"`)
	must(t, err)
	open(t, url, ns3, postgres.Options{})
}

// Concurrent first opens of one namespace serialize on the ddl lock.
func TestConcurrentFirstOpen(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), url, postgres.Options{Namespace: ns})
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestShards(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	s1 := open(t, url, ns, postgres.Options{ShardID: 1, TotalShards: 4})
	// total_shards is fixed by the first open.
	for _, o := range []postgres.Options{{}, {ShardID: 1, TotalShards: 2}} {
		o.Namespace = ns
		if s, err := postgres.Open(t.Context(), url, o); err == nil || !strings.Contains(err.Error(), "TotalShards") {
			if s != nil {
				s.Close()
			}
			t.Errorf("Open with %d shards of a 4-shard namespace = %v", o.TotalShards, err)
		}
	}
	s3 := open(t, url, ns, postgres.Options{ShardID: 3, TotalShards: 4})

	set := shardSet(t)
	tx, err := s1.Begin(t.Context())
	must(t, err)
	defer tx.Rollback()
	var links []store.Link
	var states []store.StateRecord
	for h := range uint32(8) {
		id := fmt.Sprintf("e%d", h)
		hash := h + 4_000_000_000 - 4_000_000_000%4 // high hashes keep their residue mod 4
		links = append(links, store.Link{Seq: int64(h) + 1, EntityType: "thing", EntityID: id, ShardHash: hash})
		states = append(states, store.StateRecord{EntityID: id, EntityType: "thing", ShardHash: hash, Status: store.StatusActive,
			Data: []byte(`{}`), NextDeadline: int64(h)})
	}
	must(t, tx.InsertLinks(t.Context(), links))
	must(t, tx.PutVersion(t.Context(), &store.VersionRecord{Name: "v1", Definitions: set.Canonical, ContentHash: set.ContentHash}))
	must(t, tx.EnsureVersionStore(t.Context(), "v1", set))
	must(t, tx.PutStates(t.Context(), "v1", states))
	must(t, tx.Commit())

	for _, c := range []struct {
		s    *postgres.Store
		want string
	}{{s1, "e1 e5"}, {s3, "e3 e7"}} {
		must(t, c.s.Read(t.Context(), func(tx store.Tx) error {
			got, err := tx.LinksInRange(t.Context(), 0, 100)
			if err != nil {
				return err
			}
			var ids []string
			for _, l := range got {
				ids = append(ids, l.EntityID)
			}
			if strings.Join(ids, " ") != c.want {
				t.Errorf("LinksInRange on a shard = %v, want %s", ids, c.want)
			}
			due, err := tx.DueStates(t.Context(), "v1", 100, store.DueKey{Deadline: store.NoTime}, 100)
			if err != nil {
				return err
			}
			ids = nil
			for _, s := range due {
				ids = append(ids, s.EntityID)
			}
			if strings.Join(ids, " ") != c.want {
				t.Errorf("DueStates on a shard = %v, want %s", ids, c.want)
			}
			return nil
		}))
	}
}

// Begin takes the writer locks at once: a second writer waits, honouring
// its context; readers never wait.
func TestBeginWaitsForTheWriter(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	a := open(t, url, ns, postgres.Options{})
	b := open(t, url, ns, postgres.Options{})
	tx, err := a.Begin(t.Context())
	must(t, err)
	defer tx.Rollback()
	must(t, tx.SetMeta(t.Context(), "k", "v"))

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if tx2, err := b.Begin(ctx); err == nil {
		tx2.Rollback()
		t.Fatal("a second writer began while the first held the locks")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("the second writer gave up after %v, before its context ended", d)
	}
	must(t, b.Read(t.Context(), func(tx store.Tx) error {
		_, ok, err := tx.Meta(t.Context(), "k")
		if ok {
			t.Error("a reader sees an uncommitted write")
		}
		return err
	}))
	// Once the first writer ends, the second proceeds and sees its work.
	done := make(chan error, 1)
	go func() {
		tx2, err := b.Begin(t.Context())
		if err == nil {
			v, _, err2 := tx2.Meta(t.Context(), "k")
			if err2 == nil && v != "v" {
				err2 = fmt.Errorf("second writer read %q, want the first's commit", v)
			}
			err = errors.Join(err2, tx2.Rollback())
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	must(t, tx.Commit())
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the second writer did not proceed after the first committed")
	}
}

// iterations is the number of write transactions per worker.
const iterations = 25

// workload is one writer of the concurrency tests: each transaction
// deduplicates and appends two events (one only this worker sends, one
// every worker sends), then resolves their identity keys the way the
// identity stage does (look up, create unknown entities and keys, link).
// Without the writer locks, concurrent workers would append the shared
// event twice or race on keys and entities.
func workload(ctx context.Context, s store.Store, worker string, n int) error {
	for i := range n {
		if err := func() error {
			tx, err := s.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			ids := []string{fmt.Sprintf("%s-%d", worker, i), fmt.Sprintf("shared-%d", i)}
			live, _, err := tx.KnownEventIDs(ctx, ids)
			if err != nil {
				return err
			}
			var rows []store.LedgerRow
			for _, id := range ids {
				if !live[id] {
					rows = append(rows, store.LedgerRow{EventID: id, Source: "load", EventType: "x",
						Time: int64(i), Data: []byte(`{}`), IngestedAt: int64(i)})
				}
			}
			if err := tx.Append(ctx, rows); err != nil {
				return err
			}
			for _, r := range rows {
				hashes := []string{fmt.Sprintf("shared-key-%d", i%7), "key-" + r.EventID}
				known, err := tx.LookupKeys(ctx, hashes)
				if err != nil {
					return err
				}
				entity := ""
				for _, h := range hashes {
					if k, ok := known[h]; ok {
						entity = k.EntityID
						break
					}
				}
				if entity == "" {
					entity = "ent-" + hashes[0]
					if err := tx.InsertEntities(ctx, []store.EntityRecord{{ID: entity, Type: "thing", BirthSeq: r.Seq}}); err != nil {
						return err
					}
				}
				var fresh []store.KeyRecord
				for _, h := range hashes {
					if _, ok := known[h]; !ok {
						fresh = append(fresh, store.KeyRecord{Hash: h, EntityType: "thing", Field: "k", EntityID: entity, CreatedSeq: r.Seq})
					}
				}
				if err := tx.InsertKeys(ctx, fresh); err != nil {
					return err
				}
				if err := tx.InsertLinks(ctx, []store.Link{{Seq: r.Seq, EntityType: "thing", EntityID: entity}}); err != nil {
					return err
				}
			}
			return tx.Commit()
		}(); err != nil {
			return fmt.Errorf("%s, transaction %d: %w", worker, i, err)
		}
	}
	return nil
}

// verify checks what workers left: every event once, every key once and
// pointing at an entity, every event linked.
func verify(t *testing.T, url, ns string, workers []string) {
	t.Helper()
	c := raw(t, url)
	q := func(sql string) int64 {
		t.Helper()
		var n int64
		must(t, c.QueryRow(t.Context(), strings.ReplaceAll(sql, "NS", `"`+ns+`"`)).Scan(&n))
		return n
	}
	wantEvents := int64((len(workers) + 1) * iterations)
	if n := q(`SELECT count(*) FROM NS.ledger`); n != wantEvents {
		t.Errorf("ledger has %d rows, want %d", n, wantEvents)
	}
	if n := q(`SELECT count(*) FROM (SELECT event_id FROM NS.ledger GROUP BY event_id HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d event ids appear more than once in the ledger", n)
	}
	if n := q(`SELECT count(*) FROM (SELECT "sequence" FROM NS.ledger GROUP BY "sequence" HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d sequences appear more than once", n)
	}
	if n := q(`SELECT count(*) FROM NS.identity`); n != wantEvents+7 {
		t.Errorf("identity has %d keys, want %d", n, wantEvents+7)
	}
	if n := q(`SELECT count(*) FROM NS.ledger l WHERE NOT EXISTS (SELECT 1 FROM NS.identity i WHERE i.key_hash = 'key-' || l.event_id)`); n != 0 {
		t.Errorf("%d events lost their identity key", n)
	}
	if n := q(`SELECT count(*) FROM NS.identity i WHERE NOT EXISTS (SELECT 1 FROM NS.entity_ids e WHERE e.entity_id = i.entity_id)`); n != 0 {
		t.Errorf("%d identity keys point at no entity", n)
	}
	if n := q(`SELECT count(*) FROM NS.entity_ids`); n != 7 {
		t.Errorf("%d entities, want 7 (one per shared key)", n)
	}
	if n := q(`SELECT count(*) FROM NS.ledger l WHERE NOT EXISTS (SELECT 1 FROM NS.event_entities e WHERE e."sequence" = l."sequence")`); n != 0 {
		t.Errorf("%d events are not linked", n)
	}
}

// Two Stores on one namespace, several goroutines each, write at once.
func TestConcurrentStores(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	stores := []*postgres.Store{open(t, url, ns, postgres.Options{}), open(t, url, ns, postgres.Options{})}
	var workers []string
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for si, s := range stores {
		for w := range 3 {
			name := fmt.Sprintf("s%dw%d", si, w)
			workers = append(workers, name)
			wg.Go(func() {
				if err := workload(t.Context(), s, name, iterations); err != nil {
					errs <- err
				}
			})
		}
	}
	// Readers run beside the writers.
	wg.Go(func() {
		for range 20 {
			if err := stores[1].Read(t.Context(), func(tx store.Tx) error {
				_, err := tx.LedgerHead(t.Context())
				return err
			}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	verify(t, url, ns, workers)
}

// A second OS process (this test binary, re-executed) writes to the same
// namespace while this one does.
func TestConcurrentProcesses(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	s := open(t, url, ns, postgres.Options{}) // creates the namespace first

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+url+" "+ns)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start: %q, %v\n%s", line, err, stderr.String())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Go(func() {
			if err := workload(t.Context(), s, fmt.Sprintf("main%d", w), iterations); err != nil {
				errs <- err
			}
		})
	}
	_, err = stdin.Write([]byte("go\n"))
	must(t, err)
	wg.Wait()
	childErr := cmd.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if childErr != nil {
		t.Fatalf("child process: %v\n%s", childErr, stderr.String())
	}
	verify(t, url, ns, []string{"main0", "main1", "proc"})
}

func shardSet(t *testing.T) *definition.Set {
	t.Helper()
	set, res, err := definition.LoadBytes([]byte(`
entities:
  thing:
    starts: on
    identity: {code: {}}
    states:
      on:
        when:
          made: {effects: [create]}
sources:
  app:
    event_type: kind
    timestamp: at
    events:
      made: {mappings: {code: code}, hints: {thing: [code]}}
`), "shard.yaml")
	if err != nil {
		t.Fatalf("definitions: %v (%v)", err, res)
	}
	return set
}

// TestStatisticsInTheBackground: once a table has grown past the threshold,
// a write transaction that begins starts an ANALYZE without waiting for it,
// and the statistics appear while the store goes on; Close stops the upkeep.
func TestStatisticsInTheBackground(t *testing.T) {
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	ctx := t.Context()
	s := open(t, url, ns, postgres.Options{})
	tx, err := s.Begin(ctx)
	must(t, err)
	rows := make([]store.LedgerRow, 500)
	for i := range rows {
		rows[i] = store.LedgerRow{EventID: fmt.Sprintf("e%d", i), Source: "s", EventType: "x", Data: []byte(`{}`)}
	}
	must(t, tx.Append(ctx, rows))
	must(t, tx.Commit())
	// The first Begin checked an empty namespace; the next check is due a
	// second later, and sees the inserts only once the server has flushed
	// the inserting session's counters, which PostgreSQL may defer by up to
	// 10 s on a busy server. So write transactions keep beginning, as they
	// would in use, each checking at most once a second.
	c := raw(t, url)
	var tuples float64
	next := time.Now().Add(1100 * time.Millisecond)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(next) {
			tx, err = s.Begin(ctx)
			must(t, err)
			must(t, tx.Rollback())
			next = time.Now().Add(1100 * time.Millisecond)
		}
		if err := c.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, ns+".ledger").Scan(&tuples); err != nil {
			t.Fatal(err)
		}
		if tuples == 500 {
			break
		}
	}
	if tuples != 500 {
		t.Errorf("ledger of 500 rows: reltuples %v, want 500 (analyzed)", tuples)
	}
	must(t, s.Close())
}

// TestJSONBWorkingState: version stores made before working state became
// json keep a jsonb column; writes reach it through PostgreSQL's assignment
// cast and reads return the same document.
func TestJSONBWorkingState(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	s := open(t, url, ns, postgres.Options{})
	ctx := t.Context()
	ensureV1(t, s, shardSet(t))
	c := raw(t, url)
	var typ string
	must(t, c.QueryRow(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attname = 'data'`, ns+"_v1.entity_state").Scan(&typ))
	if typ != "json" {
		t.Errorf("new store: entity_state.data is %s, want json", typ)
	}
	if _, err := c.Exec(ctx, `ALTER TABLE `+ns+`_v1.entity_state ALTER COLUMN data TYPE jsonb`); err != nil {
		t.Fatal(err)
	}
	want := store.StateRecord{EntityID: "e1", EntityType: "thing", Status: store.StatusActive,
		Data: []byte(`{"a":[1,2.5,"x"],"b":null}`), NextDeadline: store.NoTime}
	for i := range 2 { // an insert, then an update of the same row
		tx, err := s.Begin(ctx)
		must(t, err)
		must(t, tx.PutStates(ctx, "v1", []store.StateRecord{want}))
		got, err := tx.States(ctx, "v1", []string{"e1"})
		must(t, err)
		must(t, tx.Commit())
		var doc, wantDoc any
		must(t, json.Unmarshal(got["e1"].Data, &doc))
		must(t, json.Unmarshal(want.Data, &wantDoc))
		if !reflect.DeepEqual(doc, wantDoc) || got["e1"].Status != want.Status {
			t.Errorf("write %d to a jsonb store: read back %+v (%s), want %s", i, got["e1"], got["e1"].Data, want.Data)
		}
	}
}

// A version store of format 1 has an index of open history rows; ensuring
// it again drops the index, records format 2, and OpenRows reads the unique
// current index instead.
func TestStoreFormat1LosesOpenIndex(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ns := pgtest.Namespace(t, url)
	s := open(t, url, ns, postgres.Options{})
	ctx := t.Context()
	set := shardSet(t)
	ensureV1(t, s, set)
	c := raw(t, url)
	sc := ns + "_v1"
	openIndex := func() (n int) {
		must(t, c.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'thing_history_all_open'`, sc).Scan(&n))
		return n
	}
	if openIndex() != 0 {
		t.Fatal("a new store has an open-row index")
	}
	for _, q := range []string{
		`CREATE INDEX thing_history_all_open ON ` + sc + `.thing_history_all (thing_id) WHERE superseded_at IS NULL AND valid_to IS NULL`,
		`UPDATE ` + sc + `.store_meta SET value = '1' WHERE key = 'format_version'`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	ensureV1(t, s, set)
	var f string
	must(t, c.QueryRow(ctx, `SELECT value FROM `+sc+`.store_meta WHERE key = 'format_version'`).Scan(&f))
	if openIndex() != 0 || f != "2" {
		t.Errorf("after ensuring a format-1 store: %d open-row indexes, format %s; want none and 2", openIndex(), f)
	}
}

// ensureV1 registers set as version v1 of s and ensures its store.
func ensureV1(t *testing.T, s *postgres.Store, set *definition.Set) {
	t.Helper()
	ctx := t.Context()
	tx, err := s.Begin(ctx)
	must(t, err)
	must(t, tx.PutVersion(ctx, &store.VersionRecord{Name: "v1", Definitions: set.Canonical, ContentHash: set.ContentHash}))
	must(t, tx.EnsureVersionStore(ctx, "v1", set))
	must(t, tx.Commit())
}
