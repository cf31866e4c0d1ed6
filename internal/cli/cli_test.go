package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/* with the current output")

const testNow = "2024-03-15T00:00:00Z"

func TestMain(m *testing.M) {
	flag.Parse()
	// A fixed salt makes entity ids, and so row order, reproducible. The
	// CLI has no salt flag; the hook exists for tests only.
	salt := make([]byte, 32)
	for i := range salt {
		salt[i] = byte(i)
	}
	configHook = func(c *defacto.Config) { c.Salt = salt }
	os.Exit(m.Run())
}

// quickstart copies the quickstart example into a temporary project.
func quickstart(t *testing.T) string {
	t.Helper()
	return copyProject(t, filepath.Join("..", "..", "testdata", "conformance", "examples", "quickstart"))
}

func copyProject(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// transcript is one CLI invocation and what it produced.
type transcript struct {
	args           []string
	stdin          string
	stdout, stderr string
	code           int
}

// run runs Main in-process in the project dir with DEFACTO_NOW set.
func run(t *testing.T, dir, stdin string, args ...string) transcript {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := map[string]string{"DEFACTO_NOW": testNow}
	full := append([]string{"--project", dir}, args...)
	code := Main(context.Background(), full, func(k string) string { return env[k] },
		strings.NewReader(stdin), &stdout, &stderr, nil)
	return transcript{args: args, stdin: stdin, stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// timingRE matches the wall-clock measurements of results, which differ on
// every run.
var timingRE = regexp.MustCompile(`("?(?:normalize|append|identity|interpret|write|total|renormalize|tick|duration)"?: ?)[0-9][0-9.eE+-]*`)

func (tr transcript) String(dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ defacto %s\n", strings.Join(quoteArgs(tr.args), " "))
	if tr.stdin != "" {
		fmt.Fprintf(&b, "--- stdin\n%s", tr.stdin)
	}
	fmt.Fprintf(&b, "--- stdout\n%s", tr.stdout)
	if tr.stdout != "" && !strings.HasSuffix(tr.stdout, "\n") {
		b.WriteString("\n(no newline at end)\n")
	}
	fmt.Fprintf(&b, "--- stderr\n%s", tr.stderr)
	fmt.Fprintf(&b, "--- exit %d\n", tr.code)
	s := timingRE.ReplaceAllString(b.String(), "${1}0")
	return strings.ReplaceAll(s, dir, "$PROJECT")
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \"'{}()*$<>|;&") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// golden compares the transcripts with testdata/golden/name.txt, or
// rewrites it with -update.
func golden(t *testing.T, name, dir string, trs ...transcript) {
	t.Helper()
	var b strings.Builder
	for i, tr := range trs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(tr.String(dir))
	}
	got := b.String()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking):\n%s", path, diff(string(want), got))
	}
}

// diff shows the first differing lines.
func diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %q\n  got:  %q", i+1, w, g)
		}
	}
	return "(no line differs)"
}

func wantCode(t *testing.T, tr transcript, code int) {
	t.Helper()
	if tr.code != code {
		t.Errorf("defacto %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tr.args, " "), tr.code, code, tr.stdout, tr.stderr)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := quickstart(t)
	ok1 := run(t, dir, "", "validate", "--output", "table")
	ok2 := run(t, dir, "", "validate", "--output", "json")
	wantCode(t, ok1, 0)
	wantCode(t, ok2, 0)
	golden(t, "validate_ok", dir, ok1, ok2)

	bad := copyProject(t, filepath.Join("testdata", "invalid"))
	bad1 := run(t, bad, "", "validate", "--output", "table")
	bad2 := run(t, bad, "", "validate", "--output", "json")
	wantCode(t, bad1, 1)
	wantCode(t, bad2, 1)
	// Every other command refuses to open invalid definitions.
	bad3 := run(t, bad, "", "table", "customer")
	wantCode(t, bad3, 1)
	golden(t, "validate_invalid", bad, bad1, bad2, bad3)

	empty := t.TempDir()
	none := run(t, empty, "", "validate")
	wantCode(t, none, 1)
	golden(t, "validate_not_a_project", empty, none)
}

func TestIngestAndQuery(t *testing.T) {
	t.Parallel()
	dir := quickstart(t)
	events := filepath.Join(dir, "events.jsonl") // relative paths are to the working directory
	ing := run(t, dir, "", "ingest", "app", events, "--process", "--output", "json")
	wantCode(t, ing, 0)
	if ing.code != 0 {
		t.FailNow()
	}
	golden(t, "ingest_process_json", dir, ing)

	var trs []transcript
	for _, q := range [][]string{
		{"table", "customer"},
		{"history", "customer", "--as-of", "2024-01-10"},
		{"history", "customer"},
	} {
		for _, format := range []string{"table", "json", "jsonl", "csv"} {
			tr := run(t, dir, "", append(append([]string{}, q...), "--output", format)...)
			wantCode(t, tr, 0)
			trs = append(trs, tr)
		}
		golden(t, "query_"+strings.Join(q[:min(len(q), 3)], "_"), dir, trs...)
		trs = nil
	}

	filters := []transcript{
		run(t, dir, "", "table", "customer", "--where", "plan=pro", "--output", "csv"),
		run(t, dir, "", "history", "customer", "--where", "customer_state!=active", "--limit", "1", "--output", "jsonl"),
		run(t, dir, "", "table", "customer", "--where", "nope=1"),
		run(t, dir, "", "table", "customer", "--where", "plan"),
	}
	wantCode(t, filters[0], 0)
	wantCode(t, filters[1], 0)
	wantCode(t, filters[2], 1)
	wantCode(t, filters[3], 2)
	golden(t, "query_filters", dir, filters...)
	// A number given as text compares as a number.
	if tr := run(t, dir, "", "table", "customer", "--where", "event_sequence>=1", "-o", "csv"); tr.code != 0 || strings.Count(tr.stdout, "\n") != 3 {
		t.Errorf("--where event_sequence>=1: exit %d, stdout %q (stderr %q); want the header and both customers", tr.code, tr.stdout, tr.stderr)
	}
	// -o is --output, before or after the command.
	for _, args := range [][]string{
		{"-o", "csv", "table", "customer", "--where", "plan=pro"},
		{"table", "customer", "--where", "plan=pro", "-o", "csv"},
	} {
		if tr := run(t, dir, "", args...); tr.code != 0 || tr.stdout != filters[0].stdout {
			t.Errorf("defacto %s: exit %d, stdout %q; want --output csv's %q", strings.Join(args, " "), tr.code, tr.stdout, filters[0].stdout)
		}
	}

	ledger := []transcript{
		run(t, dir, "", "ledger", "count"),
		run(t, dir, "", "ledger", "count", "--source", "app", "--output", "table"),
		run(t, dir, "", "ledger", "count", "--all", "--output", "jsonl"),
		run(t, dir, "", "ledger", "count", "--source", "billing"),
	}
	wantCode(t, ledger[3], 1)
	golden(t, "ledger_count", dir, ledger...)

	id := lookupID(t, dir, "alice@example.com")
	ident := []transcript{
		run(t, dir, "", "lookup", "customer", "alice@example.com"),
		run(t, dir, "", "lookup", "customer", "nobody@example.com"),
		run(t, dir, "", "hints", id, "--output", "table"),
		run(t, dir, "", "ledger", "events", id, "--output", "table"),
		run(t, dir, "", "ledger", "events", id),
		run(t, dir, "", "timeline", id, "--output", "table"),
	}
	wantCode(t, ident[1], 1)
	golden(t, "identity", dir, ident...)

	status := []transcript{
		run(t, dir, "", "status", "--output", "table"),
		run(t, dir, "", "definitions", "plan"),
		run(t, dir, "", "definitions", "list", "--output", "table"),
		run(t, dir, "", "build"),
	}
	golden(t, "status", dir, status...)
}

func lookupID(t *testing.T, dir, email string) string {
	t.Helper()
	tr := run(t, dir, "", "lookup", "customer", email, "--output", "jsonl")
	wantCode(t, tr, 0)
	_, rest, _ := strings.Cut(tr.stdout, `"entity_id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	if id == "" {
		t.Fatalf("no entity id in %q", tr.stdout)
	}
	return id
}

// --batch-size changes how many records each transaction commits, never
// what lands: one record per transaction gives the default's state.
func TestIngestBatchSize(t *testing.T) {
	t.Parallel()
	var tables []string
	for _, size := range []string{"1", "0"} {
		dir := quickstart(t)
		ing := run(t, dir, "", "ingest", "app", filepath.Join(dir, "events.jsonl"), "--process", "--batch-size", size)
		wantCode(t, ing, 0)
		tr := run(t, dir, "", "history", "customer", "--output", "jsonl")
		wantCode(t, tr, 0)
		tables = append(tables, tr.stdout)
	}
	if tables[0] != tables[1] || tables[0] == "" {
		t.Fatalf("history with --batch-size 1:\n%s\nwith the default:\n%s", tables[0], tables[1])
	}
}

func TestIngestTableOutput(t *testing.T) {
	t.Parallel()
	dir := quickstart(t)
	events := filepath.Join(dir, "events.jsonl")
	ing := run(t, dir, "", "ingest", "app", events, "--process", "--output", "table")
	wantCode(t, ing, 0)
	// Ingesting the same file again skips every record as a duplicate.
	again := run(t, dir, "", "ingest", "app", events, "--process", "--output", "table")
	wantCode(t, again, 0)
	golden(t, "ingest_process_table", dir, ing, again)
}

func TestIngestFailures(t *testing.T) {
	t.Parallel()
	dir := quickstart(t)
	partial := "{\"type\": \"signup\", \"timestamp\": \"2024-01-01T10:00:00Z\", \"email\": \"carol@example.com\"}\nnot json\n{\"type\": \"refund\", \"timestamp\": \"2024-01-02T10:00:00Z\", \"email\": \"carol@example.com\"}\n"
	allBad := "{\"type\": \"signup\"}\n"
	trs := []transcript{
		run(t, dir, partial, "ingest", "app", "-", "--process"),
		run(t, dir, allBad, "ingest", "app", "--output", "table"),
		run(t, dir, "", "ingest", "billing", filepath.Join(dir, "events.jsonl")),
		run(t, dir, "", "ingest", "app", filepath.Join(dir, "missing.jsonl")),
		run(t, dir, "", "ingest", "app", "-", "-"),
	}
	wantCode(t, trs[0], 3)
	wantCode(t, trs[1], 1)
	wantCode(t, trs[2], 1)
	wantCode(t, trs[3], 1)
	wantCode(t, trs[4], 2)
	golden(t, "ingest_failures", dir, trs...)
}

func TestStaleWarning(t *testing.T) {
	t.Parallel()
	dir := quickstart(t)
	trs := []transcript{
		run(t, dir, "", "ingest", "app", filepath.Join(dir, "events.jsonl"), "--output", "jsonl"),
		run(t, dir, "", "table", "customer", "--output", "json"),
		run(t, dir, "", "build", "--output", "table"),
		run(t, dir, "", "table", "customer", "--output", "csv"),
	}
	for _, tr := range trs {
		wantCode(t, tr, 0)
	}
	if !strings.Contains(trs[1].stderr, "4 events not yet processed; run `defacto build`") {
		t.Errorf("no stale warning on stderr: %q", trs[1].stderr)
	}
	if trs[1].stdout != "[]\n" {
		t.Errorf("stale JSON output = %q, want the unchanged (empty) rows", trs[1].stdout)
	}
	// Changing the definitions makes the next query warn about a full build.
	path := filepath.Join(dir, "entities", "customer.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("default: free"), []byte("default: basic"), 1)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	trs = append(trs, run(t, dir, "", "table", "customer", "--output", "csv"))
	wantCode(t, trs[4], 0)
	golden(t, "stale_warning", dir, trs...)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := quickstart(t)
	cases := []struct {
		args []string
		code int
	}{
		{[]string{}, 2},
		{[]string{"tabel", "customer"}, 2},
		{[]string{"table", "customer", "--limt", "3"}, 2},
		{[]string{"--process", "ingest", "app"}, 2},
		{[]string{"table"}, 2},
		{[]string{"merge", "only-one"}, 2},
		{[]string{"table", "customer", "extra"}, 2},
		{[]string{"table", "customer", "--limit", "many"}, 2},
		{[]string{"ledger"}, 2},
		{[]string{"ledger", "cuont"}, 2},
		{[]string{"status", "--output", "csv"}, 2},
		{[]string{"status", "--output", "yaml"}, 2},
		{[]string{"status", "--log-level", "loud"}, 2},
		{[]string{"ingest", "app", "--batch-size", "-5"}, 2},
		{[]string{"table", "custmer"}, 1},
	}
	var trs []transcript
	for _, c := range cases {
		tr := run(t, dir, "", c.args...)
		wantCode(t, tr, c.code)
		trs = append(trs, tr)
	}
	golden(t, "usage_errors", dir, trs...)
}

func TestHelp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	trs := []transcript{
		run(t, dir, "", "--help"),
		run(t, dir, "", "ingest", "--help"),
		run(t, dir, "", "help", "history"),
		run(t, dir, "", "ledger", "-h"),
	}
	for _, tr := range trs {
		wantCode(t, tr, 0)
	}
	golden(t, "help", dir, trs...)
}

func TestEval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // eval needs no project
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"eval", "1 + 2 * 3"}, 0},
		{[]string{"eval", "now()"}, 0},
		{[]string{"eval", "event.amount * 2", "--event", `{"amount": 21}`}, 0},
		{[]string{"eval", "event.id", "--event", `{"id": 1705312800123456789}`}, 0},
		{[]string{"eval", "entity.plan == 'pro'", "--entity", `{"plan": "pro"}`, "--output", "table"}, 0},
		{[]string{"eval", "str::to_lowercase(str::trim(value))", "--value", "  Alice@Example.COM "}, 0},
		{[]string{"eval", "event.missing", "--event", `{}`}, 0},
		{[]string{"eval", "--", "-1"}, 0},
		{[]string{"eval", "1 +"}, 1},
		{[]string{"eval", "event.a", "--event", `[1]`}, 2},
		{[]string{"eval"}, 2},
	}
	var trs []transcript
	for _, c := range cases {
		tr := run(t, dir, "", c.args...)
		wantCode(t, tr, c.code)
		trs = append(trs, tr)
	}
	golden(t, "eval", dir, trs...)
}

// TestInit checks that the scaffold is a working quickstart.
func TestInit(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "proj")
	trs := []transcript{
		run(t, dir, "", "init", "--output", "table"),
		run(t, dir, "", "validate", "--output", "table"),
	}
	trs = append(trs, run(t, dir, "", "ingest", "app", filepath.Join(dir, "events.jsonl"), "--process", "--output", "jsonl"))
	trs = append(trs,
		run(t, dir, "", "table", "customer", "--output", "table"),
		run(t, dir, "", "init"),
	)
	for i, code := range []int{0, 0, 0, 0, 1} {
		wantCode(t, trs[i], code)
	}
	golden(t, "init", dir, trs...)

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "README.md"), []byte("# Mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := run(t, ".", "", "init", other, "--output", "json")
	wantCode(t, tr, 0)
	readme, _ := os.ReadFile(filepath.Join(other, "README.md"))
	if !strings.HasPrefix(string(readme), "# Mine\n\n") || !strings.Contains(string(readme), "defacto validate") {
		t.Errorf("README after init = %q", readme)
	}
}

func TestWhereParse(t *testing.T) {
	for in, want := range map[string][3]string{
		"plan=pro":       {"plan", "=", "pro"},
		"plan!=pro":      {"plan", "!=", "pro"},
		"n>=3":           {"n", ">=", "3"},
		"n<3":            {"n", "<", "3"},
		"email=a=b@x.io": {"email", "=", "a=b@x.io"},
		"plan=":          {"plan", "=", ""},
	} {
		c, op, v, err := parseWhere(in)
		if err != nil || [3]string{c, op, v} != want {
			t.Errorf("parseWhere(%q) = %q %q %q %v, want %q", in, c, op, v, err, want)
		}
	}
	for _, bad := range []string{"plan", "=x", ""} {
		if _, _, _, err := parseWhere(bad); err == nil {
			t.Errorf("parseWhere(%q) succeeded", bad)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"tabel", "table"},
		{"histroy", "history"},
		{"hist", "history"},
		{"xyzzy", ""},
	} {
		got := didYouMean(c.in, commandNames(), "")
		want := ""
		if c.want != "" {
			want = "; did you mean " + c.want + "?"
		}
		if got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", c.in, got, want)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := newProgressBar(&buf, "ingest app", 1000)
	p.update(10, 500)
	p.finish()
	if !strings.Contains(buf.String(), " 50%") || !strings.HasSuffix(buf.String(), "\r\033[K") {
		t.Errorf("progress output %q", buf.String())
	}
	var nilBar *progressBar
	nilBar.update(1, 1)
	nilBar.finish()
}

// fakeTerminal is a buffer that claims to be a terminal.
type fakeTerminal struct{ bytes.Buffer }

func (*fakeTerminal) Fd() uintptr { return 1 }

// TestTerminalDefaults checks the defaults that depend on terminals: table
// output on a terminal, a progress bar on a terminal stderr, json otherwise.
func TestTerminalDefaults(t *testing.T) {
	t.Parallel()
	dir := quickstart(t)
	env := func(k string) string {
		if k == "DEFACTO_NOW" {
			return testNow
		}
		return ""
	}
	isTerm := func(uintptr) bool { return true }
	var stdout, stderr fakeTerminal
	code := Main(context.Background(), []string{"--project", dir, "ingest", "app", filepath.Join(dir, "events.jsonl"), "--process"},
		env, strings.NewReader(""), &stdout, &stderr, isTerm)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "events_received: 4\n") {
		t.Errorf("terminal stdout is not table output: %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), "ingest app [") || !strings.HasSuffix(stderr.String(), "\r\033[K") {
		t.Errorf("no progress bar on the terminal stderr: %q", stderr.String())
	}

	// JSON output never draws a progress bar.
	stdout.Reset()
	stderr.Reset()
	code = Main(context.Background(), []string{"--project", dir, "--output", "json", "ingest", "app", filepath.Join(dir, "events.jsonl")},
		env, strings.NewReader(""), &stdout, &stderr, isTerm)
	if code != 0 || stderr.Len() != 0 {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, stderr.String())
	}

	// Without files, a terminal stdin is not read: it would wait forever.
	var out, errb bytes.Buffer
	code = Main(context.Background(), []string{"--project", dir, "ingest", "app"}, env, &fakeTerminal{}, &out, &errb, isTerm)
	if code != 2 || !strings.Contains(errb.String(), "no events") {
		t.Errorf("ingest from a terminal stdin: exit %d, stderr %q", code, errb.String())
	}

	// Not a terminal: JSON by default.
	out.Reset()
	code = Main(context.Background(), []string{"--project", dir, "ledger", "count"}, env, strings.NewReader(""), &out, &errb, nil)
	if code != 0 || out.String() != "{\n  \"count\": 4\n}\n" {
		t.Errorf("default output off a terminal: exit %d, %q", code, out.String())
	}
}

func TestDefinitionVersions(t *testing.T) {
	t.Parallel()
	dir := quickstart(t)
	wantCode(t, run(t, dir, "", "ingest", "app", filepath.Join(dir, "events.jsonl"), "--process"), 0)
	first := run(t, dir, "", "definitions", "list", "--output", "jsonl")
	v1 := jsonField(t, first.stdout, "version")

	path := filepath.Join(dir, "entities", "customer.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("    email: { type: string }\n"), []byte("    email: { type: string }\n    country: { type: string }\n"), 1)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	trs := []transcript{
		run(t, dir, "", "definitions", "plan", "--output", "table"),
		run(t, dir, "", "definitions", "list", "--output", "csv"),
	}
	v2 := jsonField(t, run(t, dir, "", "status", "--output", "jsonl").stdout, "version")
	trs = append(trs,
		run(t, dir, "", "definitions", "diff", v1, v2),
		run(t, dir, "", "definitions", "diff", v1, v1),
		run(t, dir, "", "definitions", "diff", v1, "nope"),
		run(t, dir, "", "build", "--output", "table"),
	)
	for i, code := range []int{0, 0, 0, 0, 1, 0} {
		wantCode(t, trs[i], code)
	}
	golden(t, "definitions", dir, trs...)
}

func TestEraseRedact(t *testing.T) {
	t.Parallel()
	dir := quickstart(t)
	wantCode(t, run(t, dir, "", "ingest", "app", filepath.Join(dir, "events.jsonl"), "--process"), 0)
	bob := lookupID(t, dir, "bob@example.com")
	alice := lookupID(t, dir, "alice@example.com")
	trs := []transcript{
		run(t, dir, "", "erase", bob),
		run(t, dir, "", "lookup", "customer", "bob@example.com"),
		run(t, dir, "", "erase", bob),
		run(t, dir, "", "ledger", "count", "--output", "table"),
		run(t, dir, "", "redact", alice, "--output", "table"),
		run(t, dir, "", "table", "customer", "--output", "csv"),
	}
	for i, code := range []int{0, 1, 1, 0, 0, 0} {
		wantCode(t, trs[i], code)
	}
	golden(t, "erase_redact", dir, trs...)
}

// jsonField extracts a string member from one line of JSON.
func jsonField(t *testing.T, line, key string) string {
	t.Helper()
	_, rest, _ := strings.Cut(line, `"`+key+`":"`)
	v, _, _ := strings.Cut(rest, `"`)
	if v == "" {
		t.Fatalf("no %s in %q", key, line)
	}
	return v
}
