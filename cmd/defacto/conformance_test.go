package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/defacto-dev/defacto/internal/scenario"
)

// binary is the defacto command built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "defacto-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "defacto")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building defacto:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cliSkipped are the tags a CLI runner always skips
// (testdata/conformance/README.md §3): the CLI takes its definitions from
// the project directory, cannot set config keys and has no graph commands.
var cliSkipped = []string{"versions", "engine-config", "graph"}

// rootConformance is the library's conformance test, whose
// libraryUnsupported list names the tags the engine cannot run yet.
var rootConformance = filepath.Join("..", "..", "conformance_test.go")

// cliUnsupported is used when rootConformance has no libraryUnsupported:
// tags of features the engine does not implement yet (this run uses SQLite).
var cliUnsupported = []string{"postgres-only"}

// engineUnsupported reads libraryUnsupported from the library's conformance
// test, so that the CLI runs exactly what the library runs and the list
// lives in one place.
func engineUnsupported() ([]string, string) {
	f, err := parser.ParseFile(token.NewFileSet(), rootConformance, nil, parser.SkipObjectResolution)
	if err != nil {
		return cliUnsupported, "cliUnsupported"
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, sp := range gd.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if name.Name != "libraryUnsupported" || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.CompositeLit)
				if !ok {
					continue
				}
				var tags []string
				for _, el := range lit.Elts {
					if bl, ok := el.(*ast.BasicLit); ok && bl.Kind == token.STRING {
						if tag, err := strconv.Unquote(bl.Value); err == nil {
							tags = append(tags, tag)
						}
					}
				}
				return tags, "libraryUnsupported"
			}
		}
	}
	return cliUnsupported, "cliUnsupported"
}

// TestConformance runs every conformance scenario through the defacto
// binary, one process per engine call (README §10).
//
// DEFACTO_SCENARIOS names another scenario directory; DEFACTO_CONFORMANCE_SKIP,
// when set, replaces the engine's unsupported tags (comma-separated; empty
// runs everything the CLI can run).
func TestConformance(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "conformance", "scenarios")
	if d := os.Getenv("DEFACTO_SCENARIOS"); d != "" {
		dir = d
	}
	if testing.Short() {
		t.Skip("runs one process per engine call; skipped with -short")
	}
	skip := append([]string{}, cliSkipped...)
	source := "DEFACTO_CONFORMANCE_SKIP"
	if v, ok := os.LookupEnv("DEFACTO_CONFORMANCE_SKIP"); ok {
		for _, tag := range strings.Split(v, ",") {
			if tag = strings.TrimSpace(tag); tag != "" {
				skip = append(skip, tag)
			}
		}
	} else {
		var unsupported []string
		unsupported, source = engineUnsupported()
		for _, tag := range unsupported {
			if !slices.Contains(skip, tag) {
				skip = append(skip, tag)
			}
		}
	}
	all, err := scenario.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, s := range all {
		if tags := scenario.Skipped(s, skip); len(tags) > 0 {
			skipped = append(skipped, fmt.Sprintf("%s (%s)", filepath.Base(s.File), strings.Join(tags, ", ")))
		}
	}
	t.Logf("CLI conformance: %d scenarios, %d run, %d skipped by tag (skipped tags: %s; engine gaps from %s)",
		len(all), len(all)-len(skipped), len(skipped), strings.Join(skip, ", "), source)
	for _, s := range skipped {
		t.Logf("  skipped %s", s)
	}
	for _, s := range all {
		t.Run(strings.TrimSuffix(filepath.Base(s.File), ".yaml"), func(t *testing.T) {
			t.Parallel()
			scenario.Run(t, s, newCLIDriver(t.TempDir()), skip)
		})
	}
}

// cliDriver implements scenario.Driver by running the defacto binary with
// --output json and DEFACTO_NOW, on a project directory holding the
// scenario's definitions (entities/all.yaml, sources/all.yaml,
// schemas/all.yaml).
type cliDriver struct {
	root    string // scratch directory of the scenario
	project string // the project directory (its .defacto/ holds the database)
	now     time.Time
	files   int // counter for generated file names
}

func newCLIDriver(root string) *cliDriver {
	return &cliDriver{root: root, project: filepath.Join(root, "project")}
}

// run runs defacto with args on project and returns stdout, stderr and the
// exit code; err is set only when the process could not run.
func (d *cliDriver) run(ctx context.Context, project string, args ...string) (stdout []byte, stderr string, code int, err error) {
	full := append([]string{"--project", project, "--output", "json"}, args...)
	cmd := exec.CommandContext(ctx, binary, full...)
	cmd.Env = append(cleanEnv(), "DEFACTO_NOW="+d.now.Format(time.RFC3339Nano))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.Bytes(), errb.String(), ee.ExitCode(), nil
	}
	if err != nil {
		return nil, "", -1, err
	}
	return out.Bytes(), errb.String(), 0, nil
}

// cleanEnv is the environment without defacto settings that would point the
// binary elsewhere.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DEFACTO_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// stepError turns a failed invocation into the runner's error: the CLI
// cannot tell sentinel kinds apart (exit 1 for all), so Kind is empty.
func stepError(args []string, stderr string, code int) error {
	msg := strings.TrimSpace(stderr)
	if msg == "" {
		msg = fmt.Sprintf("defacto %s: exit %d with no message", strings.Join(args, " "), code)
	}
	return &scenario.StepError{Message: msg}
}

// call runs a command that prints JSON on success.
func (d *cliDriver) call(ctx context.Context, args ...string) (any, error) {
	out, stderr, code, err := d.run(ctx, d.project, args...)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, stepError(args, stderr, code)
	}
	v, err := scenario.DecodeJSON(out)
	if err != nil {
		return nil, fmt.Errorf("defacto %s: stdout is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v, nil
}

func (d *cliDriver) object(ctx context.Context, args ...string) (map[string]any, error) {
	v, err := d.call(ctx, args...)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("defacto %s: expected a JSON object, got %T", strings.Join(args, " "), v)
	}
	return m, nil
}

func (d *cliDriver) objects(ctx context.Context, args ...string) ([]map[string]any, error) {
	v, err := d.call(ctx, args...)
	if err != nil {
		return nil, err
	}
	return scenario.ToJSONObjects(v)
}

// resultOrError is for commands that print their result even when they exit
// non-zero (validate: 1; ingest: 1 or 3): a JSON object on stdout is the
// result, anything else an error.
func (d *cliDriver) resultOrError(ctx context.Context, project string, args ...string) (map[string]any, error) {
	out, stderr, code, err := d.run(ctx, project, args...)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(out)) > 0 {
		if v, err := scenario.DecodeJSON(out); err == nil {
			if m, ok := v.(map[string]any); ok {
				return m, nil
			}
		}
	}
	if code == 0 {
		return nil, fmt.Errorf("defacto %s: exit 0 without a JSON result", strings.Join(args, " "))
	}
	return nil, stepError(args, stderr, code)
}

// writeDefinitions splits a definition set {entities, sources, schemas} into
// the project layout, replacing earlier definitions.
func writeDefinitions(project string, defs []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(defs, &doc); err != nil {
		return fmt.Errorf("definitions: %v", err)
	}
	members := map[string]*yaml.Node{}
	if len(doc.Content) == 1 {
		top := doc.Content[0]
		if top.Kind != yaml.MappingNode {
			return fmt.Errorf("definitions: not a mapping")
		}
		for i := 0; i+1 < len(top.Content); i += 2 {
			members[top.Content[i].Value] = top.Content[i+1]
		}
	}
	for k := range members {
		if k != "entities" && k != "sources" && k != "schemas" {
			return fmt.Errorf("definitions: member %q cannot be written as a project directory", k)
		}
	}
	for _, kind := range []string{"entities", "sources", "schemas"} {
		sub := filepath.Join(project, kind)
		if err := os.RemoveAll(sub); err != nil {
			return err
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		n := members[kind]
		if n == nil || n.Tag == "!!null" || (n.Kind == yaml.MappingNode && len(n.Content) == 0) {
			continue
		}
		data, err := yaml.Marshal(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sub, "all.yaml"), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Open writes the definitions and runs `status`, which opens the engine:
// the definitions become the active version while the ledger is empty.
func (d *cliDriver) Open(ctx context.Context, defs []byte, cfg scenario.Config) error {
	if err := checkConfig(&cfg); err != nil {
		return err
	}
	if err := writeDefinitions(d.project, defs); err != nil {
		return err
	}
	_, err := d.call(ctx, "status")
	return err
}

// checkConfig rejects settings the CLI cannot express (such scenarios carry
// the engine-config tag and are skipped). BatchSize never changes results,
// so it is ignored.
func checkConfig(cfg *scenario.Config) error {
	if cfg == nil {
		return nil
	}
	if cfg.AutoBuild != nil || cfg.Salt != "" {
		return &scenario.StepError{Message: "the CLI cannot set auto_build or salt (tag engine-config)"}
	}
	return nil
}

// Reopen rewrites the definitions when given; the engine then opens them
// with `status`, as the next command would.
func (d *cliDriver) Reopen(ctx context.Context, defs []byte, cfg *scenario.Config) error {
	if err := checkConfig(cfg); err != nil {
		return err
	}
	if defs != nil {
		if err := writeDefinitions(d.project, defs); err != nil {
			return err
		}
	}
	_, err := d.call(ctx, "status")
	return err
}

// Close has nothing to release: every command closes its engine.
func (d *cliDriver) Close() error { return nil }

func (d *cliDriver) SetClock(t time.Time) { d.now = t }

func (d *cliDriver) Validate(ctx context.Context, defs []byte) (map[string]any, error) {
	d.files++
	dir := filepath.Join(d.root, fmt.Sprintf("validate-%d", d.files))
	if err := writeDefinitions(dir, defs); err != nil {
		return nil, err
	}
	return d.resultOrError(ctx, dir, "validate")
}

func (d *cliDriver) Ingest(ctx context.Context, source string, events []json.RawMessage, process bool) (map[string]any, error) {
	var buf bytes.Buffer
	for _, ev := range events {
		// One compact object per line; json.Compact keeps numbers as written.
		if err := json.Compact(&buf, ev); err != nil {
			return nil, fmt.Errorf("event %s: %v", ev, err)
		}
		buf.WriteByte('\n')
	}
	d.files++
	path := filepath.Join(d.root, fmt.Sprintf("events-%d.jsonl", d.files))
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	args := []string{"ingest", source, path}
	if process {
		args = append(args, "--process")
	}
	return d.resultOrError(ctx, d.project, args...)
}

func (d *cliDriver) Build(ctx context.Context, full, fromRaw bool) (map[string]any, error) {
	args := []string{"build"}
	if full {
		args = append(args, "--full")
	}
	if fromRaw {
		args = append(args, "--from-raw")
	}
	return d.object(ctx, args...)
}

func (d *cliDriver) Tick(ctx context.Context, asOf string) (map[string]any, error) {
	if asOf == "" {
		return d.object(ctx, "tick")
	}
	return d.object(ctx, "tick", "--as-of", asOf)
}

func (d *cliDriver) Merge(ctx context.Context, from, into, reason string) (map[string]any, error) {
	return d.object(ctx, "merge", "--reason", reason, "--", from, into)
}

func (d *cliDriver) Erase(ctx context.Context, id string) (map[string]any, error) {
	return d.object(ctx, "erase", "--", id)
}

func (d *cliDriver) Redact(ctx context.Context, id string) (map[string]any, error) {
	return d.object(ctx, "redact", "--", id)
}

var errLibraryOnly = &scenario.StepError{Message: "register and activate are library operations (tag versions)"}

func (d *cliDriver) Register(context.Context, string, []byte) (map[string]any, error) {
	return nil, errLibraryOnly
}

func (d *cliDriver) Activate(context.Context, string) (map[string]any, error) {
	return nil, errLibraryOnly
}

func (d *cliDriver) Eval(ctx context.Context, expr string, event, entity json.RawMessage, value *string) (map[string]any, error) {
	args := []string{"eval"}
	if event != nil {
		args = append(args, "--event", string(event))
	}
	if entity != nil {
		args = append(args, "--entity", string(entity))
	}
	if value != nil {
		args = append(args, "--value", *value)
	}
	// eval needs no project: run it where no definitions are.
	out, stderr, code, err := d.run(ctx, d.root, append(args, "--", expr)...)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, stepError(args, stderr, code)
	}
	v, err := scenario.DecodeJSON(out)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("eval: expected a JSON object, got %s", out)
	}
	return m, nil
}

func (d *cliDriver) Query(ctx context.Context, q scenario.EntityQuery) ([]map[string]any, error) {
	args := []string{"history"}
	if q.Kind == scenario.KindTable {
		args = []string{"table"}
	}
	if q.Kind == scenario.KindAsOf {
		args = append(args, "--as-of", q.At)
	}
	if q.ResolveMerges {
		args = append(args, "--resolve-merges")
	}
	return d.objects(ctx, append(args, "--", q.Entity)...)
}

func (d *cliDriver) Relationships(ctx context.Context, relType string, history bool) ([]map[string]any, error) {
	args := []string{"relationships"}
	if history {
		args = append(args, "--history")
	}
	return d.objects(ctx, append(args, "--", relType)...)
}

func (d *cliDriver) Timeline(ctx context.Context, id string) (map[string]any, error) {
	return d.object(ctx, "timeline", "--", id)
}

func (d *cliDriver) Lookup(ctx context.Context, entityType, value, field string) (string, error) {
	args := []string{"lookup"}
	if field != "" {
		args = append(args, "--field", field)
	}
	m, err := d.object(ctx, append(args, "--", entityType, value)...)
	if err != nil {
		return "", err
	}
	id, _ := m["entity_id"].(string)
	if id == "" {
		return "", fmt.Errorf("lookup: no entity_id in %v", m)
	}
	return id, nil
}

func (d *cliDriver) Hints(ctx context.Context, id string) (map[string]any, error) {
	return d.object(ctx, "hints", "--", id)
}

func (d *cliDriver) Count(ctx context.Context, source string, all bool) (int64, error) {
	args := []string{"ledger", "count"}
	if source != "" {
		args = append(args, "--source", source)
	}
	if all {
		args = append(args, "--all")
	}
	m, err := d.object(ctx, args...)
	if err != nil {
		return 0, err
	}
	n, ok := m["count"].(json.Number)
	if !ok {
		return 0, fmt.Errorf("ledger count: no count in %v", m)
	}
	return n.Int64()
}

func (d *cliDriver) EventsFor(ctx context.Context, id string) ([]map[string]any, error) {
	return d.objects(ctx, "ledger", "events", "--", id)
}

func (d *cliDriver) BuildStatus(ctx context.Context) (map[string]any, error) {
	return d.object(ctx, "status")
}

func (d *cliDriver) Versions(ctx context.Context) ([]map[string]any, error) {
	return d.objects(ctx, "definitions", "list")
}

func (d *cliDriver) ActiveVersion(ctx context.Context) (string, error) {
	vs, err := d.Versions(ctx)
	if err != nil {
		return "", err
	}
	for _, v := range vs {
		if v["active"] == true {
			name, _ := v["version"].(string)
			return name, nil
		}
	}
	return "", &scenario.StepError{Message: "no active version"}
}

func (d *cliDriver) Graph(context.Context, scenario.GraphQuery) (any, error) {
	return nil, &scenario.StepError{Message: "the CLI has no graph commands (tag graph)"}
}
