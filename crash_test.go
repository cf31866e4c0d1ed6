package defacto_test

// Crash recovery, tested for real (builds.md §4–§5): a child test process
// (this test binary, running TestCrashChild) runs a deterministic workload
// (inline ingests, append-only ingests with incremental builds, a forced
// full build) against the showcase project and is killed with SIGKILL at a
// random moment; the parent then reopens the same database, runs the same
// workload again from the start (events already stored come back as
// duplicates), builds, and compares every table, every history, every
// relationship, every entity's ledger events, the ledger counts and the
// build cursors with a clean reference run, as JSON, byte for byte.
//
// Kill moments are drawn (seeded) over the run time of one uninterrupted
// child, one per equal slice, and anchored at the progress line the child
// printed last before that moment, so that they follow the workload's steps
// even when a loaded machine slows the child down.
//
//	go test -run 'TestCrash|TestFullRebuild' .            # 20 kill points
//	DEFACTO_CRASH_POINTS=200 go test -run TestCrashRecovery -timeout 30m .
//
// DEFACTO_CRASH_SEED changes the seed of the kill moments.
// DEFACTO_CRASH_KEEP=<dir> keeps, for every kill point that does not match
// or whose reopened database needed a full build, the killed database (as
// the kill left it), the child's output and, on a mismatch, both JSON dumps.
// DEFACTO_CRASH_IGNORE_COLUMNS=a,b leaves those columns out of every
// comparison (a diagnostic aid: it shows what else differs).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
)

const (
	crashChildEnv  = "DEFACTO_CRASH_CHILD" // "1": TestCrashChild runs the workload
	crashDBEnv     = "DEFACTO_CRASH_DB"    // database file of the child
	crashPointsEnv = "DEFACTO_CRASH_POINTS"
	crashSeedEnv   = "DEFACTO_CRASH_SEED"
	crashKeepEnv   = "DEFACTO_CRASH_KEEP"
	crashIgnoreEnv = "DEFACTO_CRASH_IGNORE_COLUMNS"

	crashProject   = "examples/showcase"
	crashCustomers = 300
	crashWorkSeed  = 20240701 // seed of the workload (never changes)
	crashKillSeed  = 7        // default seed of the kill moments
	crashBatchSize = 50       // Config.BatchSize: records per ingest transaction
)

// crashClock is the fixed engine clock: after every event of the workload,
// so the closing ticks of builds fire trial and inactivity rules.
var crashClock = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

// crashSalt is the fixed identity salt, so ids are the same in every run.
var crashSalt = func() []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = byte(i*37 + 11)
	}
	return s
}()

// crashStep is one call of the workload.
type crashStep struct {
	op     string // "ingest", "build", "build-full"
	source string
	mode   defacto.IngestMode
	events []defacto.Event
	label  string
}

func (s crashStep) String() string {
	if s.op != "ingest" {
		return s.op + " (" + s.label + ")"
	}
	m := "append-only"
	if s.mode == defacto.Process {
		m = "process"
	}
	return fmt.Sprintf("ingest %s %s %d events (%s)", s.source, m, len(s.events), s.label)
}

// crashEvent is one raw record with its source and event time.
type crashEvent struct {
	source string
	at     time.Time
	rec    defacto.Event
}

func crashTS(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// crashEvents generates the raw records of the workload in delivery order:
// signups, subscriptions, logins, upgrades (some not changing the plan, a
// few with a plan that cannot be stored: interpretation failures),
// cancellations, orders with their shipping (some shipped events delivered
// before their order, a few orders placed before their customer signs up),
// a few events delivered late (after later events of their entity, and after
// time rules fired), a few signups sharing a phone with another customer
// (automatic merges) and a few records sent twice.
func crashEvents() []crashEvent {
	rng := rand.New(rand.NewPCG(crashWorkSeed, 1))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	end := crashClock.Add(-24 * time.Hour)
	at := func(from time.Time, maxDays int) time.Time {
		return from.Add(time.Duration(1+rng.IntN(maxDays*86400)) * time.Second)
	}
	plans := []struct {
		name string
		mrr  int
	}{{"starter", 19}, {"pro", 49}, {"enterprise", 199}}
	email := func(i int) string { return fmt.Sprintf("cust%03d@example.com", i) }
	phone := func(i int) string { return fmt.Sprintf("+1-555-%04d", i) }
	var evs []crashEvent
	app := func(t time.Time, typ string, kv ...any) {
		r := defacto.Event{"type": typ, "timestamp": crashTS(t)}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i].(string)] = kv[i+1]
		}
		evs = append(evs, crashEvent{"app", t, r})
	}
	billing := func(t time.Time, typ string, kv ...any) {
		r := defacto.Event{"event": typ, "created_at": crashTS(t)}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i].(string)] = kv[i+1]
		}
		evs = append(evs, crashEvent{"billing", t, r})
	}
	signups := make([]time.Time, crashCustomers)
	orders := 0
	for i := range crashCustomers {
		t0 := at(base, 150)
		signups[i] = t0
		mail := email(i)
		if i%17 == 5 {
			mail = strings.ToUpper(mail[:1]) + mail[1:] // identity normalizes the case
		}
		app(t0, "signup", "email", mail, "phone", phone(i))
		if rng.IntN(10) < 8 {
			// Some subscribe after the 14-day trial ran out: churned first.
			tsub := at(t0, 18)
			p := plans[rng.IntN(len(plans))]
			app(tsub, "subscribe", "email", email(i), "plan", p.name, "mrr", p.mrr)
			last := tsub
			for range rng.IntN(7) {
				tl := at(tsub, 100)
				if tl.After(end) {
					continue
				}
				app(tl, "login", "email", email(i))
				if tl.After(last) {
					last = tl
				}
			}
			if rng.IntN(10) < 3 {
				tu := at(tsub, 60)
				q := plans[rng.IntN(len(plans))] // sometimes the same plan: guard false
				app(tu, "upgrade", "email", email(i), "plan", q.name, "mrr", q.mrr)
			}
			if i%41 == 7 {
				// A plan that is not a string: the set effect fails.
				app(at(tsub, 30), "upgrade", "email", email(i), "plan", 3, "mrr", 10)
			}
			if rng.IntN(10) == 0 {
				app(at(last, 30), "cancel", "email", email(i))
			}
		}
		if rng.IntN(10) < 3 || i%29 == 3 {
			for n := range 1 + rng.IntN(3) {
				orders++
				id := fmt.Sprintf("ORD-%04d", orders)
				tc := at(t0, 60)
				if i%29 == 3 && n == 0 {
					// Ordered before signing up: the customer is a ghost
					// until the signup, then recomputed.
					tc = t0.Add(-time.Duration(1+rng.IntN(3*86400)) * time.Second)
				}
				billing(tc, "order.created", "id", id, "customer_email", email(i),
					"amount", float64(rng.IntN(50000))/100, "line_item_count", 1+rng.IntN(5))
				if rng.IntN(10) < 8 {
					tsh := at(tc, 4)
					billing(tsh, "order.shipped", "id", id)
					if rng.IntN(10) < 7 {
						billing(at(tsh, 6), "order.delivered", "id", id)
					}
				}
			}
		}
		if i%9 == 4 {
			// Logins of someone who never signed up: a ghost, ignored.
			app(at(base, 170), "login", "email", fmt.Sprintf("ghost%03d@example.com", i))
		}
	}
	// Merges: a second signup carrying one customer's email and another's
	// phone proves they are the same person. Two pairs signed up early
	// (merged before the full build), six late, each of whose customers
	// orders something between signing up and the merge (a relate to the
	// loser, streamed before the merge).
	bySignup := make([]int, crashCustomers)
	for i := range bySignup {
		bySignup[i] = i
	}
	sort.SliceStable(bySignup, func(x, y int) bool { return signups[bySignup[x]].Before(signups[bySignup[y]]) })
	for k := range 8 {
		var a, b int
		if k < 2 {
			a, b = bySignup[10+k*37], bySignup[20+k*41]
		} else {
			a, b = bySignup[crashCustomers-10-k*7], bySignup[crashCustomers-13-k*7]
		}
		later := signups[a]
		if signups[b].After(later) {
			later = signups[b]
		}
		t := at(later, 12)
		if k >= 2 {
			for _, c := range []int{a, b} {
				orders++
				span := int(t.Sub(signups[c]) / time.Second)
				tc := signups[c].Add(time.Duration(1+rng.IntN(max(1, span-1))) * time.Second)
				billing(tc, "order.created", "id", fmt.Sprintf("ORD-%04d", orders), "customer_email", email(c),
					"amount", float64(rng.IntN(50000))/100, "line_item_count", 1+rng.IntN(5))
			}
		}
		app(t, "signup", "email", strings.ToUpper(email(a)[:4])+email(a)[4:], "phone", phone(b))
	}
	// Delivery order: by timestamp, then perturbed.
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	// Late arrivals: a few events move far back in delivery order.
	for range 60 {
		i := rng.IntN(len(evs) - 400)
		e := evs[i]
		j := i + 100 + rng.IntN(300)
		copy(evs[i:j], evs[i+1:j+1])
		evs[j] = e
	}
	// Out of order: a few order_shipped delivered before their order, and a
	// few orders delivered before their customer's signup.
	for i := len(evs) - 1; i > 0; i-- {
		if evs[i].source == "billing" && rng.IntN(12) == 0 {
			j := max(0, i-1-rng.IntN(40))
			e := evs[i]
			copy(evs[j+1:i+1], evs[j:i])
			evs[j] = e
		}
	}
	// Records sent twice (same raw record: same event id).
	for range 25 {
		i := rng.IntN(len(evs) - 50)
		j := i + 1 + rng.IntN(len(evs)-i-1)
		dup := evs[i]
		evs = append(evs[:j], append([]crashEvent{dup}, evs[j:]...)...)
	}
	return evs
}

// crashWorkload cuts the delivery order into calls: inline ingests in small
// batches, append-only ingests followed by a build, a forced full build,
// more inline ingests, another append-only segment and build, and a last
// inline segment after the last build.
var crashWorkload = sync.OnceValue(func() []crashStep {
	evs := crashEvents()
	var steps []crashStep
	segment := func(part []crashEvent, per int, mode defacto.IngestMode, label string) {
		for i := 0; i < len(part); i += per {
			chunk := part[i:min(i+per, len(part))]
			for _, src := range []string{"app", "billing"} {
				var recs []defacto.Event
				for _, e := range chunk {
					if e.source == src {
						recs = append(recs, e.rec)
					}
				}
				if len(recs) > 0 {
					steps = append(steps, crashStep{op: "ingest", source: src, mode: mode, events: recs, label: label})
				}
			}
		}
	}
	n := len(evs)
	cut := func(f float64) int { return int(float64(n) * f) }
	segment(evs[:cut(0.30)], 60, defacto.Process, "A inline")
	segment(evs[cut(0.30):cut(0.50)], 150, defacto.AppendOnly, "B append")
	steps = append(steps, crashStep{op: "build", label: "B build"})
	steps = append(steps, crashStep{op: "build-full", label: "C full build"})
	segment(evs[cut(0.50):cut(0.80)], 60, defacto.Process, "D inline")
	segment(evs[cut(0.80):cut(0.93)], 150, defacto.AppendOnly, "E append")
	steps = append(steps, crashStep{op: "build", label: "E build"})
	segment(evs[cut(0.93):], 40, defacto.Process, "F inline")
	return steps
})

func crashOpen(ctx context.Context, db string) (*defacto.Engine, error) {
	defs, err := defacto.LoadDefinitions(crashProject)
	if err != nil {
		return nil, err
	}
	return defacto.OpenDefinitions(ctx, defs, &defacto.Config{
		Database:  db,
		Clock:     func() time.Time { return crashClock },
		Salt:      crashSalt,
		BatchSize: crashBatchSize,
	})
}

// crashStats counts what a run of the workload exercised.
type crashStats struct {
	duplicates, late, merges, failed int
}

// crashRun runs the workload; progress, when set, is told before and after
// every step, and stats, when set, counts. It returns the mode of every
// build that ran (explicit, or automatic before an inline ingest).
func crashRun(ctx context.Context, e *defacto.Engine, stats *crashStats, progress func(i int, s crashStep, done bool)) ([]string, error) {
	var modes []string
	for i, s := range crashWorkload() {
		if progress != nil {
			progress(i, s, false)
		}
		switch s.op {
		case "ingest":
			res, err := e.Ingest(ctx, s.source, s.events, s.mode)
			if err != nil {
				return modes, fmt.Errorf("step %d %v: %w", i, s, err)
			}
			if res.EventsReceived != len(s.events) {
				return modes, fmt.Errorf("step %d %v: received %d of %d", i, s, res.EventsReceived, len(s.events))
			}
			if res.Build != nil {
				modes = append(modes, "auto:"+res.Build.Mode)
			}
			if stats != nil {
				stats.duplicates += res.DuplicatesSkipped
				stats.late += res.LateArrivals
				stats.merges += res.MergesDetected
				stats.failed += res.InterpretationFailures
			}
		case "build", "build-full":
			res, err := e.Build(ctx, defacto.BuildOptions{Full: s.op == "build-full"})
			if err != nil {
				return modes, fmt.Errorf("step %d %v: %w", i, s, err)
			}
			modes = append(modes, res.Mode)
			if stats != nil {
				stats.late += res.LateArrivals
				stats.merges += res.MergesDetected
			}
		}
		if progress != nil {
			progress(i, s, true)
		}
	}
	return modes, nil
}

// crashSection is one named part of a dump, as JSON.
type crashSection struct {
	name string
	json []byte
}

// crashDump renders everything observable: every entity type's table,
// history (plain and with merges resolved), every relationship type's full
// history, every entity's ledger events, ledger counts and the build
// status's cursors and counts. recorded_at is left out.
func crashDump(ctx context.Context, e *defacto.Engine) ([]crashSection, error) {
	var out []crashSection
	ignore := strings.Split(os.Getenv(crashIgnoreEnv), ",")
	add := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, crashSection{name, b})
		return nil
	}
	rowsJSON := func(name string, q *defacto.Query) (*defacto.Rows, error) {
		probe, err := q.Limit(1).Execute(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var cols []string
		for _, c := range probe.Columns() {
			if c != "recorded_at" && !slices.Contains(ignore, c) {
				cols = append(cols, c)
			}
		}
		rows, err := q.Select(cols...).Execute(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := rows.WriteJSON(&buf); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, crashSection{name, buf.Bytes()})
		return rows, nil
	}
	ids := map[string]bool{}
	for _, ent := range []string{"customer", "order"} {
		if _, err := rowsJSON("table/"+ent, e.Table(ent)); err != nil {
			return nil, err
		}
		hist, err := rowsJSON("history/"+ent, e.History(ent))
		if err != nil {
			return nil, err
		}
		for i := range hist.Len() {
			ids[hist.Value(i, ent+"_id").(string)] = true
		}
		if _, err := rowsJSON("history-resolved/"+ent, e.History(ent).ResolveMerges().
			OrderBy("canonical_id", false).OrderBy(ent+"_id", false).OrderBy("valid_from", false)); err != nil {
			return nil, err
		}
	}
	for _, rel := range []string{"placed", "placed_by"} {
		q := e.Relationships(rel).History().OrderBy("source_id", false).OrderBy("target_id", false).
			OrderBy("valid_from", false).OrderBy("event_sequence", false)
		if _, err := rowsJSON("relationships/"+rel, q); err != nil {
			return nil, err
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	events := map[string][]defacto.LedgerEvent{}
	for _, id := range sorted {
		evs, err := e.EventsFor(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("events of %s: %w", id, err)
		}
		events[id] = evs
	}
	if err := add("events", events); err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	for _, c := range []struct {
		source string
		all    bool
	}{{"", false}, {"", true}, {"app", false}, {"billing", false}, {"_defacto", false}} {
		n, err := e.Count(ctx, c.source, c.all)
		if err != nil {
			return nil, fmt.Errorf("count %q: %w", c.source, err)
		}
		counts[fmt.Sprintf("%s/all=%v", c.source, c.all)] = n
	}
	if err := add("ledger", counts); err != nil {
		return nil, err
	}
	st, err := e.BuildStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("build status: %w", err)
	}
	status := map[string]any{
		"built": st.Built, "dirty": st.Dirty, "cursor": st.Cursor, "identity_cursor": st.IdentityCursor,
		"ledger_head": st.LedgerHead, "live_events": st.LiveEvents, "duplicate_events": st.DuplicateEvents,
		"failed_events": st.FailedEvents, "pending_events": st.PendingEvents, "tick_horizon": st.TickHorizon,
		"needed_mode": st.NeededMode,
	}
	if err := add("status", status); err != nil {
		return nil, err
	}
	return out, nil
}

// crashCompare reports every section of got that differs from want, with
// the first differing rows.
func crashCompare(want, got []crashSection) []string {
	var diffs []string
	if len(want) != len(got) {
		return []string{fmt.Sprintf("%d sections, want %d", len(got), len(want))}
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.name != g.name {
			diffs = append(diffs, fmt.Sprintf("section %d is %s, want %s", i, g.name, w.name))
			continue
		}
		if bytes.Equal(w.json, g.json) {
			continue
		}
		diffs = append(diffs, fmt.Sprintf("%s differs:\n%s", w.name, crashRowDiff(w.json, g.json)))
	}
	return diffs
}

// crashRowDiff describes how two JSON documents differ: for arrays of rows,
// the count and the first differing rows; otherwise both documents
// (shortened).
func crashRowDiff(want, got []byte) string {
	var wr, gr []json.RawMessage
	if json.Unmarshal(want, &wr) != nil || json.Unmarshal(got, &gr) != nil {
		// Objects: compare member by member.
		var wm, gm map[string]json.RawMessage
		if json.Unmarshal(want, &wm) == nil && json.Unmarshal(got, &gm) == nil {
			var b strings.Builder
			keys := map[string]bool{}
			for k := range wm {
				keys[k] = true
			}
			for k := range gm {
				keys[k] = true
			}
			var ks []string
			for k := range keys {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			shown := 0
			for _, k := range ks {
				if !bytes.Equal(crashCompact(wm[k]), crashCompact(gm[k])) && shown < 8 {
					shown++
					fmt.Fprintf(&b, "  %s: got %s\n       want %s\n", k, crashShorten(crashCompact(gm[k]), 600), crashShorten(crashCompact(wm[k]), 600))
				}
			}
			return b.String()
		}
		return fmt.Sprintf("  got  %s\n  want %s", crashShorten(got, 600), crashShorten(want, 600))
	}
	var b strings.Builder
	if len(wr) != len(gr) {
		fmt.Fprintf(&b, "  %d rows, want %d\n", len(gr), len(wr))
	}
	shown := 0
	for i := 0; i < max(len(wr), len(gr)) && shown < 6; i++ {
		var w, g []byte
		if i < len(wr) {
			w = crashCompact(wr[i])
		}
		if i < len(gr) {
			g = crashCompact(gr[i])
		}
		if !bytes.Equal(w, g) {
			shown++
			fmt.Fprintf(&b, "  row %d:\n    got  %s\n    want %s\n", i, g, w)
		}
	}
	return b.String()
}

func crashCompact(b []byte) []byte {
	if b == nil {
		return []byte("(none)")
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

func crashShorten(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

func crashWriteDump(dir string, secs []crashSection) error {
	for _, s := range secs {
		p := filepath.Join(dir, strings.ReplaceAll(s.name, "/", "_")+".json")
		if err := os.WriteFile(p, s.json, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// crashReference runs the workload on a fresh database in this process,
// builds, and dumps.
// crashMark is how far the ledger and the interpretation cursor are.
type crashMark struct{ head, cursor int64 }

// crashReference runs the workload on a fresh database in this process,
// builds, and dumps. It also returns the ledger head and cursor after every
// step.
func crashReference(t *testing.T, ctx context.Context, db string) ([]crashSection, []crashMark, []string, crashStats) {
	t.Helper()
	e, err := crashOpen(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var stats crashStats
	marks := make([]crashMark, len(crashWorkload()))
	modes, err := crashRun(ctx, e, &stats, func(i int, _ crashStep, done bool) {
		if !done {
			return
		}
		st, err := e.BuildStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		marks[i] = crashMark{st.LedgerHead, st.Cursor}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Build(ctx, defacto.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	dump, err := crashDump(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	return dump, marks, modes, stats
}

// TestCrashChild is the child process of TestCrashRecovery: it runs the
// workload against the database named by DEFACTO_CRASH_DB, printing one
// line before and after every step, and is killed somewhere along the way.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		t.Skip("child process of TestCrashRecovery (set " + crashChildEnv + "=1)")
	}
	ctx := context.Background()
	fmt.Println("crash-child: open")
	e, err := crashOpen(ctx, os.Getenv(crashDBEnv))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("crash-child: opened")
	_, err = crashRun(ctx, e, nil, func(i int, s crashStep, done bool) {
		if done {
			fmt.Printf("crash-child: done %d\n", i)
		} else {
			fmt.Printf("crash-child: step %d %v\n", i, s)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("crash-child: finished")
}

// crashLine is one line of the child's output and when the parent read it,
// counted from the child's start.
type crashLine struct {
	at   time.Duration
	text string
}

// crashKill says when to kill a child: offset after the child printed the
// line anchor ("" = after its start).
type crashKill struct {
	anchor string
	offset time.Duration
}

// crashChild runs the child on db; with a kill plan it sends SIGKILL when
// the plan says. It returns the child's output lines and whether it was
// killed before finishing.
func crashChild(t *testing.T, db string, kill *crashKill) (lines []crashLine, killed bool) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestCrashChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDBEnv+"="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var mu sync.Mutex
	var sent bool
	var timer *time.Timer
	arm := func(d time.Duration) {
		timer = time.AfterFunc(d, func() {
			mu.Lock()
			sent = true
			mu.Unlock()
			_ = cmd.Process.Signal(syscall.SIGKILL)
		})
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if kill != nil && kill.anchor == "" {
		arm(kill.offset)
	}
	mu.Unlock()
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, crashLine{time.Since(start), sc.Text()})
			if kill != nil && timer == nil && sc.Text() == kill.anchor {
				arm(kill.offset)
			}
			mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	<-read
	werr := cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	finished := false
	for _, l := range lines {
		finished = finished || l.text == "crash-child: finished"
	}
	var ee *exec.ExitError
	switch {
	case finished && (werr == nil || sent): // a kill that came too late
		return lines, false
	case sent && errors.As(werr, &ee) && !finished:
		return lines, true
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%8v %s\n", l.at.Round(time.Millisecond), l.text)
	}
	t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", werr, b.String(), stderr.String())
	return nil, false
}

// crashPlan turns a moment u of the uninterrupted child's run (whose
// output was ref) into a kill plan anchored at the last progress line
// printed before u, so that kills spread over the workload's steps in
// proportion to their run time even when a loaded machine slows the child.
func crashPlan(ref []crashLine, u time.Duration) *crashKill {
	k := &crashKill{offset: u}
	for _, l := range ref {
		if l.at > u {
			break
		}
		if strings.HasPrefix(l.text, "crash-child: ") && l.text != "crash-child: finished" {
			k.anchor, k.offset = l.text, u-l.at
		}
	}
	return k
}

// crashLastStep describes where the child was when killed.
func crashLastStep(lines []crashLine) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if l, ok := strings.CutPrefix(lines[i].text, "crash-child: "); ok {
			if strings.HasPrefix(l, "done ") {
				return "after " + l
			}
			return "during " + l
		}
	}
	return "before open"
}

// crashResumed is the outcome of crashResume.
type crashResumed struct {
	needed string    // detection right after reopening: mode [reasons]
	found  crashMark // ledger head and cursor right after reopening
	modes  []string  // builds run by the rerun and the final build
	dump   []crashSection
}

// crashResume reopens a (possibly killed) database, runs the workload again
// from the start, builds and dumps. It also reports what the database held
// and what detection asked for right after reopening.
func crashResume(ctx context.Context, db string) (*crashResumed, error) {
	e, err := crashOpen(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("reopen: %w", err)
	}
	defer e.Close()
	st, err := e.BuildStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("build status after reopen: %w", err)
	}
	r := &crashResumed{needed: st.NeededMode, found: crashMark{st.LedgerHead, st.Cursor}}
	if st.NeededMode == defacto.ModeFull || st.Dirty {
		r.needed += " [" + strings.Join(st.NeededReasons, "; ") + "]"
	}
	if r.modes, err = crashRun(ctx, e, nil, nil); err != nil {
		return r, fmt.Errorf("resumed workload: %w", err)
	}
	res, err := e.Build(ctx, defacto.BuildOptions{})
	if err != nil {
		return r, fmt.Errorf("final build: %w", err)
	}
	r.modes = append(r.modes, res.Mode)
	r.dump, err = crashDump(ctx, e)
	return r, err
}

// crashProgress returns the last step the child finished and the last one
// it started (-1: none).
func crashProgress(lines []crashLine) (done, started int) {
	done, started = -1, -1
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l.text, "crash-child: done "); ok {
			done, _ = strconv.Atoi(rest)
		} else if rest, ok := strings.CutPrefix(l.text, "crash-child: step "); ok {
			n, _, _ := strings.Cut(rest, " ")
			started, _ = strconv.Atoi(n)
		}
	}
	return done, started
}

// crashCheckFound checks what a reopened database held against the
// reference's marks: every event of a finished ingest is there (nothing
// acknowledged is lost), nothing beyond the step in progress is, and the
// cursor is at least where the last finished step left it.
func crashCheckFound(marks []crashMark, lines []crashLine, found crashMark) error {
	done, started := crashProgress(lines)
	var lo, hi crashMark
	if done >= 0 {
		lo = marks[done]
	}
	if started >= 0 {
		hi = marks[started]
	}
	if started < done { // between steps, or finished
		hi = lo
	}
	switch {
	case found.head < lo.head:
		return fmt.Errorf("ledger head %d after reopening, but step %d had finished with head %d: acknowledged events lost",
			found.head, done, lo.head)
	case found.head > hi.head:
		return fmt.Errorf("ledger head %d after reopening, beyond %d, the head after step %d in progress", found.head, hi.head, started)
	case found.cursor < lo.cursor:
		return fmt.Errorf("cursor %d after reopening, but step %d had finished with cursor %d: the cursor moved back",
			found.cursor, done, lo.cursor)
	}
	return nil
}

func crashModeRank(m string) int {
	m, _, _ = strings.Cut(m, " ")
	for i, x := range []string{defacto.ModeSkip, defacto.ModeIncremental, defacto.ModeFull,
		defacto.ModeFullWithIdentityReset, defacto.ModeFullRenormalize} {
		if m == x {
			return i
		}
	}
	return 99
}

// TestCrashRecovery kills a child running the workload at K random moments
// (DEFACTO_CRASH_POINTS, default 20) and checks that every killed database
// reopens, needs at most a FULL build, and after the same workload is run
// again and built, equals a clean run exactly.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns and kills processes; skipped with -short")
	}
	if os.Getenv(crashChildEnv) == "1" {
		t.Skip("in the child")
	}
	points := 20
	if v := os.Getenv(crashPointsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive integer", crashPointsEnv, v)
		}
		points = n
	}
	seed := uint64(crashKillSeed)
	if v := os.Getenv(crashSeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", crashSeedEnv, v)
		}
		seed = n
	}
	keep := os.Getenv(crashKeepEnv)
	ctx := context.Background()
	steps := crashWorkload()
	nev := 0
	for _, s := range steps {
		nev += len(s.events)
	}

	t0 := time.Now()
	want, marks, refModes, st := crashReference(t, ctx, filepath.Join(t.TempDir(), "defacto.db"))
	t.Logf("reference: %d steps, %d records (%d sent twice), builds %v, %d late arrivals, %d merges, %d interpretation failures, in %v",
		len(steps), nev, st.duplicates, refModes, st.late, st.merges, st.failed, time.Since(t0).Round(time.Millisecond))
	var wantStatus string
	for _, s := range want {
		if s.name == "status" || s.name == "ledger" {
			wantStatus += " " + string(crashCompact(s.json))
		}
	}
	t.Logf("reference state:%s", wantStatus)

	// One uninterrupted child: its output times the steps, which spreads
	// the kill moments, and its result (another process, same workload,
	// resumed like the killed ones) must equal the reference as well.
	db0 := filepath.Join(t.TempDir(), "defacto.db")
	ref, _ := crashChild(t, db0, nil)
	full := ref[len(ref)-1].at
	t.Logf("uninterrupted child: %v", full.Round(time.Millisecond))
	if r, err := crashResume(ctx, db0); err != nil {
		t.Fatalf("uninterrupted child: %v", err)
	} else {
		if err := crashCheckFound(marks, ref, r.found); err != nil {
			t.Errorf("uninterrupted child: %v", err)
		}
		if d := crashCompare(want, r.dump); len(d) > 0 {
			t.Errorf("uninterrupted child, reopened (needed %s), rerun and built (%v), differs from the clean run:\n%s",
				r.needed, r.modes, strings.Join(d, "\n"))
		}
	}

	// Kill moments: one in each of `points` equal slices of the child's run
	// time, at a seeded random place in the slice.
	rng := rand.New(rand.NewPCG(seed, uint64(points)))
	plans := make([]*crashKill, points)
	moments := make([]time.Duration, points)
	for k := range plans {
		moments[k] = time.Duration((float64(k) + rng.Float64()) / float64(points) * float64(full))
		plans[k] = crashPlan(ref, moments[k])
	}
	type outcome struct {
		where, needed string
		modes         []string
		killed        bool
		took          time.Duration
	}
	results := make([]outcome, points)
	t.Run("kill", func(t *testing.T) {
		for k := range points {
			t.Run(fmt.Sprintf("%03d", k), func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				dir := t.TempDir()
				db := filepath.Join(dir, "defacto.db")
				lines, killed := crashChild(t, db, plans[k])
				where := crashLastStep(lines)
				if !killed {
					where = "not killed: child finished first"
				}
				label := fmt.Sprintf("kill %d (%v into the run, %v after %q), %s", k, moments[k].Round(time.Millisecond),
					plans[k].offset.Round(time.Millisecond), plans[k].anchor, where)
				var kd string
				if keep != "" {
					kd = filepath.Join(keep, fmt.Sprintf("kill-%03d", k))
					if err := os.CopyFS(filepath.Join(kd, "killed"), os.DirFS(dir)); err != nil {
						t.Logf("keep: %v", err)
					}
					var b strings.Builder
					for _, l := range lines {
						fmt.Fprintf(&b, "%8v %s\n", l.at.Round(time.Millisecond), l.text)
					}
					_ = os.WriteFile(filepath.Join(kd, "child.log"), []byte(b.String()), 0o644)
				}
				r, err := crashResume(ctx, db)
				if err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				needed := r.needed
				results[k] = outcome{where: where, needed: needed, modes: r.modes, killed: killed, took: time.Since(start)}
				// An inline ingest's chunks leave their version-store commit
				// running beside the next chunk; a kill in between must cost
				// an incremental build, not a full one (store_undo,
				// docs/design.md).
				if strings.Contains(where, " inline)") && crashModeRank(needed) >= crashModeRank(defacto.ModeFull) {
					t.Errorf("%s: reopened needing %s; a kill during an inline ingest must not need a full build", label, needed)
				}
				if err := crashCheckFound(marks, lines, r.found); err != nil {
					t.Errorf("%s: %v", label, err)
				}
				if crashModeRank(needed) > crashModeRank(defacto.ModeFull) {
					t.Errorf("%s: reopened database needs %s, want at most FULL", label, needed)
				}
				got := r.dump
				if d := crashCompare(want, got); len(d) > 0 {
					msg := fmt.Sprintf("%s: after reopen (needed %s), rerun and build (%v), state differs from the clean run:\n%s",
						label, needed, r.modes, strings.Join(d, "\n"))
					if kd != "" {
						_ = os.MkdirAll(filepath.Join(kd, "got"), 0o755)
						_ = os.MkdirAll(filepath.Join(kd, "want"), 0o755)
						_ = crashWriteDump(filepath.Join(kd, "got"), got)
						_ = crashWriteDump(filepath.Join(kd, "want"), want)
						msg += "\nkept in " + kd
					}
					t.Error(msg)
				} else if kd != "" && crashModeRank(needed) < crashModeRank(defacto.ModeFull) {
					_ = os.RemoveAll(kd) // kept: mismatches, and reopens that needed a full build
				}
			})
		}
	})
	seen := map[string]int{}
	killedN := 0
	for k, r := range results {
		if r.needed == "" {
			continue
		}
		mode, _, _ := strings.Cut(r.needed, " ")
		seen[mode]++
		if r.killed {
			killedN++
		}
		t.Logf("kill %2d at %6v %-58s → reopened needing %s; builds on rerun %v (%v)", k,
			moments[k].Round(time.Millisecond), r.where, r.needed, r.modes, r.took.Round(100*time.Millisecond))
	}
	t.Logf("%d of %d children killed before finishing; modes needed after reopening: %v", killedN, points, seen)
}

// TestFullRebuildEqualsInline: the workload ingested inline into one
// database (then ticked at the engine clock, as builds end) and appended to
// another then built FULL give identical tables, histories, relationships
// and ledgers: full builds reproduce streaming.
func TestFullRebuildEqualsInline(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	if os.Getenv(crashChildEnv) == "1" {
		t.Skip("in the child")
	}
	ctx := context.Background()
	run := func(mode defacto.IngestMode) []crashSection {
		e, err := crashOpen(ctx, filepath.Join(t.TempDir(), "defacto.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		for i, s := range crashWorkload() {
			if s.op != "ingest" {
				continue
			}
			if _, err := e.Ingest(ctx, s.source, s.events, mode); err != nil {
				t.Fatalf("step %d %v: %v", i, s, err)
			}
		}
		if mode == defacto.Process {
			if _, err := e.Tick(ctx, nil); err != nil {
				t.Fatal(err)
			}
		} else {
			res, err := e.Build(ctx, defacto.BuildOptions{Full: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Mode != defacto.ModeFull {
				t.Errorf("build mode %s, want FULL", res.Mode)
			}
		}
		dump, err := crashDump(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		return dump
	}
	inline := run(defacto.Process)
	rebuilt := run(defacto.AppendOnly)
	if d := crashCompare(inline, rebuilt); len(d) > 0 {
		t.Errorf("full rebuild (got) differs from inline ingest + tick (want):\n%s", strings.Join(d, "\n"))
	}
}
