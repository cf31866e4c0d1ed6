package defacto_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
)

func openQuickstart(t testing.TB, cfg *defacto.Config) *defacto.Engine {
	t.Helper()
	defs, err := defacto.LoadDefinitions("examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil {
		cfg = &defacto.Config{}
	}
	if cfg.Database == "" {
		cfg.Database = filepath.Join(t.TempDir(), "defacto.db")
	}
	if cfg.Clock == nil {
		cfg.Clock = func() time.Time { return time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC) }
	}
	d, err := defacto.OpenDefinitions(context.Background(), defs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// One broken line never loses the good ones: it becomes a failure naming
// its line, goes to the dead-letter file with its text, and the rest lands.
func TestIngestReaderBadLinesAndDeadLetters(t *testing.T) {
	dl := filepath.Join(t.TempDir(), "dead", "letters.jsonl")
	d := openQuickstart(t, &defacto.Config{DeadLetter: defacto.DeadLetterFile{Path: dl}, BatchSize: 2})
	input := strings.Join([]string{
		`{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io"}`,
		`{"type": "signup", "timestamp": `, // broken JSON
		``,
		`[1, 2]`, // not an object
		`{"type": "sigup", "timestamp": "2024-01-01T10:00:00Z", "email": "b@x.io"}`,
		`{"type": "signup", "timestamp": 1704103200000, "email": "c@x.io"}`, // ms as seconds
		`{"type": "signup", "timestamp": "2024-01-02T10:00:00Z", "email": "d@x.io"}`,
		`{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io"}`, // duplicate
	}, "\n")
	res, err := d.IngestReader(context.Background(), "app", strings.NewReader(input), defacto.Process, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.EventsReceived != 7 || res.EventsIngested != 2 || res.EventsFailed != 4 || res.DuplicatesSkipped != 1 {
		t.Fatalf("counts: %+v", res)
	}
	if got := res.EventsIngested + res.DuplicatesSkipped + res.EventsFailed + res.EventsIgnored + res.ErasedSkipped; got != res.EventsReceived {
		t.Fatalf("invariant broken: %d != %d", got, res.EventsReceived)
	}
	want := []struct {
		index int
		text  string
		raw   any // the text of input that is not an object, else the object
	}{
		{1, "line 2: invalid JSON: unexpected EOF", `{"type": "signup", "timestamp":`},
		{2, "line 4: expected a JSON object, got Array", `[1, 2]`},
		{3, "unknown event type 'sigup'", map[string]any{"type": "sigup", "timestamp": "2024-01-01T10:00:00Z", "email": "b@x.io"}},
		{4, "out of range for unit 's'", map[string]any{"type": "signup", "timestamp": int64(1704103200000), "email": "c@x.io"}},
	}
	for i, w := range want {
		f := res.Failures[i]
		if f.Index != w.index || f.Stage != defacto.StageNormalize || !strings.Contains(f.Message, w.text) {
			t.Errorf("failure %d: %+v, want index %d containing %q", i, f, w.index, w.text)
		}
		if !reflect.DeepEqual(f.Raw, w.raw) {
			t.Errorf("failure %d: raw %#v, want %#v", i, f.Raw, w.raw)
		}
	}
	f, err := os.Open(dl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines int
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["namespace"] != "defacto" || rec["stage"] != "normalize" || rec["recorded_at"] == "" || rec["raw"] == nil {
			t.Fatalf("dead letter: %v", rec)
		}
		if lines == 0 && rec["raw"] != `{"type": "signup", "timestamp":` {
			t.Fatalf("dead letter of the broken line: raw %#v, want its text", rec["raw"])
		}
	}
	if lines != 4 {
		t.Fatalf("dead letters: %d lines, want 4", lines)
	}
}

// A JSON array that is cut short, or followed by more data, never loses
// what follows silently: the elements before land, and the rest is a
// failure.
func TestIngestJSONArrayTruncatedOrFollowed(t *testing.T) {
	ctx := context.Background()
	signup := `{"type":"signup","timestamp":"2024-01-01","email":"a@x.io"}`
	for _, tc := range []struct {
		name, input, message string
	}{
		{"cut short", `[` + signup + `,`, "element 1: invalid JSON"},
		{"cut after an element", `[` + signup, "invalid JSON array"},
		{"a second array", `[` + signup + "]\n[" + signup + `]`, "unexpected data after the JSON array"},
		{"a stray object", `[` + signup + `] {"type":"signup"}`, "unexpected data after the JSON array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openQuickstart(t, nil)
			res, err := d.IngestReader(ctx, "app", strings.NewReader(tc.input), defacto.AppendOnly, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.EventsIngested != 1 || res.EventsFailed != 1 || res.EventsReceived != 2 ||
				!strings.Contains(res.Failures[0].Message, tc.message) || res.Failures[0].Index != 1 {
				t.Fatalf("%+v, want 1 ingested and 1 failure at index 1 containing %q", res, tc.message)
			}
		})
	}
	d := openQuickstart(t, nil)
	res, err := d.IngestReader(ctx, "app", strings.NewReader("[\n"+signup+"\n]\n\t \n"), defacto.AppendOnly, nil)
	if err != nil || res.EventsIngested != 1 || res.EventsFailed != 0 {
		t.Fatalf("an array with trailing white space: %+v, %v", res, err)
	}
}

// An event the engine cannot read back (a number out of range) fails with
// its JSON kept in the failure, so the dead letter holds it; the rest lands.
func TestIngestEventNotReadableKeepsItsJSON(t *testing.T) {
	d := openQuickstart(t, nil)
	res, err := d.Ingest(context.Background(), "app", []defacto.Event{
		{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io", "score": json.Number("1e999")},
		{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "b@x.io"},
	}, defacto.AppendOnly)
	if err != nil || res.EventsIngested != 1 || res.EventsFailed != 1 {
		t.Fatalf("%+v, %v; want one ingested, one failed", res, err)
	}
	f := res.Failures[0]
	raw, _ := f.Raw.(string)
	if f.Index != 0 || !strings.Contains(f.Message, "out of range") || !strings.Contains(raw, `"score":1e999`) {
		t.Fatalf("failure %+v: want index 0, the range error and the record's JSON", f)
	}
}

func TestIngestJSONArrayAndUnknownSource(t *testing.T) {
	d := openQuickstart(t, nil)
	ctx := context.Background()
	res, err := d.IngestReader(ctx, "app", strings.NewReader(`[{"type":"signup","timestamp":"2024-01-01","email":"a@x.io"}, 3]`), defacto.AppendOnly, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.EventsIngested != 1 || res.EventsFailed != 1 || res.EventsProcessed != 0 {
		t.Fatalf("%+v", res)
	}
	_, err = d.Ingest(ctx, "ap", nil, defacto.Process)
	if !errors.Is(err, defacto.ErrNotFound) || !strings.Contains(err.Error(), "did you mean 'app'") {
		t.Fatalf("unknown source: %v", err)
	}
	n, err := d.Count(ctx, "", false)
	if err != nil || n != 1 {
		t.Fatalf("count %d %v", n, err)
	}
}

// A file that is not a defacto database is refused with a clear error, and
// left untouched.
func TestOpenForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.db")
	junk := []byte("this is not a database, just some notes\n")
	if err := os.WriteFile(path, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	defs, err := defacto.LoadDefinitions("examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	_, err = defacto.OpenDefinitions(context.Background(), defs, &defacto.Config{Database: path})
	if !errors.Is(err, defacto.ErrConfig) || !strings.Contains(err.Error(), path) {
		t.Fatalf("open foreign file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(junk) {
		t.Fatal("foreign file was modified")
	}
}

func TestConfigErrors(t *testing.T) {
	defs, err := defacto.LoadDefinitions("examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  defacto.Config
		want string
	}{
		{defacto.Config{Namespace: "Bad-Name"}, "Namespace"},
		{defacto.Config{Salt: []byte{1, 2}}, "Salt"},
		{defacto.Config{BatchSize: -1}, "BatchSize"},
		{defacto.Config{Database: "mysql://x"}, "unknown scheme"},
		{defacto.Config{Version: "Not Valid"}, "Version"},
	} {
		_, err := defacto.OpenDefinitions(context.Background(), defs, &c.cfg)
		if !errors.Is(err, defacto.ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
}

// Close is idempotent and everything after it reports ErrClosed.
func TestClosed(t *testing.T) {
	d := openQuickstart(t, nil)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); !errors.Is(err, defacto.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	if _, err := d.Ingest(context.Background(), "app", nil, defacto.Process); !errors.Is(err, defacto.ErrClosed) {
		t.Fatalf("ingest after close: %v", err)
	}
	if _, err := d.Table("customer").Execute(context.Background()); !errors.Is(err, defacto.ErrClosed) {
		t.Fatalf("query after close: %v", err)
	}
}

// A live stream that goes quiet has its partial chunk committed after
// FlushAfter, long before BatchSize records or the end of input arrive.
func TestIngestReaderFlushesWhenInputIdles(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "defacto.db")
	d := openQuickstart(t, &defacto.Config{Database: db, BatchSize: 1000})
	pr, pw := io.Pipe()
	committed := make(chan int, 4)
	type out struct {
		res *defacto.IngestResult
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := d.IngestReader(ctx, "app", pr, defacto.Process, &defacto.ReadOptions{
			FlushAfter: 20 * time.Millisecond,
			Progress:   func(records int, _ int64) { committed <- records },
		})
		done <- out{res, err}
	}()
	if _, err := io.WriteString(pw, `{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io"}`+"\n"+
		`{"type": "signup", "timestamp": "2024-01-01T11:00:00Z", "email": "b@x.io"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-committed:
		if n != 2 {
			t.Fatalf("first commit after %d records, want 2", n)
		}
	case <-time.After(20 * time.Second):
		_ = pw.Close()
		t.Fatal("the two records of an idle stream were not committed")
	}
	// Committed means queryable, here by a second engine (another process,
	// say), while the stream is still open.
	reader := openQuickstart(t, &defacto.Config{Database: db})
	rows, err := reader.Table("customer").Execute(ctx)
	if err != nil || rows.Len() != 2 {
		t.Fatalf("customers while the stream is open: %v %v", rows, err)
	}
	// And by the ingesting engine itself: reads do not wait for the
	// ingest call, which lasts as long as the stream.
	type result struct {
		n   int64
		err error
	}
	same := make(chan result, 1)
	go func() {
		n, err := d.Table("customer").Count(ctx)
		if err == nil {
			_, err = d.BuildStatus(ctx)
		}
		same <- result{n, err}
	}()
	select {
	case r := <-same:
		if r.err != nil || r.n != 2 {
			t.Fatalf("customers from the ingesting engine: %d, %v", r.n, r.err)
		}
	case <-time.After(20 * time.Second):
		_ = pw.Close()
		t.Fatal("a query on the ingesting engine waited for the open stream")
	}
	if _, err := io.WriteString(pw, `{"type": "signup", "timestamp": "2024-01-01T12:00:00Z", "email": "c@x.io"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	o := <-done
	if o.err != nil || o.res.EventsIngested != 3 || o.res.EventsProcessed != 3 {
		t.Fatalf("result %+v, %v", o.res, o.err)
	}
}

// Cancelling the context ends an ingest whose input is idle.
func TestIngestReaderIdleInputHonoursCancel(t *testing.T) {
	d := openQuickstart(t, nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := d.IngestReader(ctx, "app", pr, defacto.Process, nil)
		done <- err
	}()
	if _, err := io.WriteString(pw, `{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("IngestReader did not return after its context was cancelled")
	}
}

// failingReader serves its text, then fails instead of ending.
type failingReader struct {
	text string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.text == "" {
		return 0, r.err
	}
	n := copy(p, r.text)
	r.text = r.text[n:]
	return n, nil
}

// A read error ends the call with that error: the full chunks before it
// are committed and counted, the partial chunk at the error is not.
func TestIngestReaderReadError(t *testing.T) {
	for _, after := range []time.Duration{0, -1} { // with and without the idle flush
		d := openQuickstart(t, &defacto.Config{BatchSize: 2})
		broken := errors.New("disk on fire")
		r := &failingReader{err: broken, text: `{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io"}
{"type": "signup", "timestamp": "2024-01-01T11:00:00Z", "email": "b@x.io"}
{"type": "signup", "timestamp": "2024-01-01T12:00:00Z", "email": "c@x.io"}
`}
		res, err := d.IngestReader(context.Background(), "app", r, defacto.Process, &defacto.ReadOptions{FlushAfter: after})
		if !errors.Is(err, broken) {
			t.Fatalf("FlushAfter %v: err %v, want the reader's", after, err)
		}
		if res == nil || res.EventsReceived != 2 || res.EventsIngested != 2 || res.EventsProcessed != 2 {
			t.Fatalf("FlushAfter %v: result %+v, want the first chunk of 2", after, res)
		}
		rows, qerr := d.Table("customer").Execute(context.Background())
		if qerr != nil || rows.Len() != 2 {
			t.Fatalf("FlushAfter %v: %v customers (%v), want 2", after, rows, qerr)
		}
	}
}

// A processing call right after another one of the same engine skips the
// build-mode detection only while no other connection commits: a second
// engine that re-normalizes the ledger in between makes the first engine's
// next call re-normalize it back first, as detection always did.
func TestProcessAfterProcessStillSeesOtherWriters(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { testProcessAfterProcess(t, be.config(t)) })
	}
}

// backends are the two storage backends a test or benchmark can run on:
// a SQLite file of its own, or a namespace of its own on the test
// PostgreSQL server (DEFACTO_TEST_DATABASE_URL).
var backends = []struct {
	name   string
	config func(testing.TB) *defacto.Config
}{
	{"sqlite", func(tb testing.TB) *defacto.Config {
		return &defacto.Config{Database: filepath.Join(tb.TempDir(), "defacto.db")}
	}},
	{"postgres", func(tb testing.TB) *defacto.Config {
		url := pgtest.URL(tb)
		return &defacto.Config{Database: url, Namespace: pgtest.Namespace(tb, url)}
	}},
}

func testProcessAfterProcess(t *testing.T, cfg *defacto.Config) {
	ctx := context.Background()
	a := openQuickstart(t, cfg)
	signup := func(email string) []defacto.Event {
		return []defacto.Event{{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": email}}
	}
	for i, email := range []string{"a@x.io", "b@x.io"} {
		res, err := a.Ingest(ctx, "app", signup(email), defacto.Process)
		if err != nil || res.EventsProcessed != 1 || res.Build != nil {
			t.Fatalf("call %d: %+v, %v; want one event processed and no build", i, res, err)
		}
	}

	renormalizeElsewhere(t, cfg)

	res, err := a.Ingest(ctx, "app", signup("c@x.io"), defacto.Process)
	if err != nil || res.Build == nil || res.Build.Mode != defacto.ModeFullRenormalize ||
		!strings.Contains(strings.Join(res.Build.Reasons, "; "), "re-normalized by another build") {
		t.Fatalf("first engine after the other's re-normalization: build %+v, %v; want a %s build first", res.Build, err, defacto.ModeFullRenormalize)
	}
	res, err = a.Ingest(ctx, "app", signup("d@x.io"), defacto.Process)
	if err != nil || res.Build != nil || res.EventsProcessed != 1 {
		t.Fatalf("the call after: %+v, %v; want one event processed and no build", res, err)
	}
	n, err := a.Table("customer").Count(ctx)
	if err != nil || n != 4 {
		t.Fatalf("customers: %d, %v; want 4", n, err)
	}
}

// renormalizeElsewhere has a second engine on cfg's database, with the
// quickstart's source mapped differently, re-normalize the whole ledger
// under its own version, so the first engine's version then needs a full
// re-normalization too.
func renormalizeElsewhere(t *testing.T, cfg *defacto.Config) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("examples/quickstart")); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "sources", "app.yaml")
	src, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), "signup:\n      mappings: { email: email }", "signup:\n      mappings: { email: email, plan: plan }", 1)
	if changed == string(src) {
		t.Fatal("the quickstart's signup mapping moved; update the test")
	}
	if err := os.WriteFile(app, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	defs, err := defacto.LoadDefinitions(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := defacto.OpenDefinitions(ctx, defs, &defacto.Config{Database: cfg.Database, Namespace: cfg.Namespace, Clock: cfg.Clock})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := b.Build(ctx, defacto.BuildOptions{}); err != nil || res.Mode != defacto.ModeFullRenormalize {
		t.Fatalf("second engine's build: %+v, %v; want %s", res, err, defacto.ModeFullRenormalize)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// When another connection commits between two processing calls, the second
// call still runs the detection it skipped: also when it has no input, and
// also when the build it then needs is left to the caller (ManualBuild),
// in which case nothing of the call is committed.
func TestProcessSkipFallbacks(t *testing.T) {
	ctx := context.Background()
	signup := []defacto.Event{{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io"}}
	for _, manual := range []bool{false, true} {
		cfg := &defacto.Config{Database: filepath.Join(t.TempDir(), "defacto.db"), ManualBuild: manual}
		a := openQuickstart(t, cfg)
		if _, err := a.Ingest(ctx, "app", signup, defacto.Process); err != nil {
			t.Fatal(err)
		}
		renormalizeElsewhere(t, cfg)
		if !manual {
			res, err := a.Ingest(ctx, "app", nil, defacto.Process)
			if err != nil || res.Build == nil || res.Build.Mode != defacto.ModeFullRenormalize {
				t.Fatalf("empty call after another engine's re-normalization: %+v, %v; want a %s build", res, err, defacto.ModeFullRenormalize)
			}
			continue
		}
		second := []defacto.Event{{"type": "signup", "timestamp": "2024-01-02T10:00:00Z", "email": "b@x.io"}}
		if _, err := a.Ingest(ctx, "app", second, defacto.Process); !errors.Is(err, defacto.ErrBuildRequired) {
			t.Fatalf("ManualBuild call after another engine's re-normalization: %v, want ErrBuildRequired", err)
		}
		if n, err := a.Count(ctx, "", false); err != nil || n != 1 {
			t.Fatalf("ledger after the refused call: %d events, %v; want 1", n, err)
		}
	}
}

// A chunk whose version-store writes fail after its ledger rows committed
// (SQLite commits a chunk's store beside the next chunk): Ingest reports a
// storage error, no event is lost, and sending the same input again
// reports duplicates and interprets what the failed chunk missed, ending
// exactly where an undisturbed run ends (docs/design.md, batch atomicity).
// The failure is real: a trigger in the version store file refuses bob's
// first history row.
func TestIngestStoreCommitFailureLosesNothing(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile("examples/quickstart/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var events []defacto.Event
	for line := range strings.Lines(string(b)) {
		var ev defacto.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}

	// The whole history with every column, and the build state; the same
	// salt makes the same ids.
	dump := func(e *defacto.Engine) string {
		t.Helper()
		rows, err := e.History("customer").OrderBy("customer_id", false).OrderBy("valid_from", false).Execute(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := rows.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		st, err := e.BuildStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\ncursor %d, dirty %v, pending %d, live %d", st.Cursor, st.Dirty, st.PendingEvents, st.LiveEvents)
		return b.String()
	}
	clean := openQuickstart(t, &defacto.Config{BatchSize: 1, Salt: crashSalt})
	if _, err := clean.Ingest(ctx, "app", events, defacto.Process); err != nil {
		t.Fatal(err)
	}
	want := dump(clean)

	dir := t.TempDir()
	e := openQuickstart(t, &defacto.Config{Database: filepath.Join(dir, "defacto.db"), BatchSize: 1, Salt: crashSalt})
	st, err := e.BuildStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", filepath.Join(dir, "defacto."+st.Version+".db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TRIGGER boom BEFORE INSERT ON customer_history_all
		WHEN NEW.email = 'bob@example.com' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	_, err = e.Ingest(ctx, "app", events, defacto.Process)
	if !errors.Is(err, defacto.ErrStorage) || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("ingest over a failing version store: %v; want ErrStorage with the store's error", err)
	}
	landed, err := e.Count(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if landed < 2 { // alice's signup, and bob's whose history failed
		t.Fatalf("%d events in the ledger after the failure; want at least 2", landed)
	}

	if _, err := raw.Exec(`DROP TRIGGER boom`); err != nil {
		t.Fatal(err)
	}
	res, err := e.Ingest(ctx, "app", events, defacto.Process)
	if err != nil {
		t.Fatal(err)
	}
	if int64(res.DuplicatesSkipped) != landed {
		t.Errorf("second call: %d duplicates; want the %d events that landed", res.DuplicatesSkipped, landed)
	}
	if got := dump(e); got != want {
		t.Errorf("after the retry:\n%s\nwant, as an undisturbed run ends:\n%s", got, want)
	}
}
