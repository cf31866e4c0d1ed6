package defacto

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/scenario"
	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
)

// libraryUnsupported lists the scenario tags (testdata/conformance/README.md
// §3) the library cannot run yet; scenarios carrying any of them are skipped
// and listed. Shrink it as features land.
var libraryUnsupported = []string{}

// TestConformance runs every conformance scenario against the library on
// both backends: each scenario on a fresh SQLite file, and in a fresh
// PostgreSQL namespace that is dropped afterwards (the server comes from
// DEFACTO_TEST_DATABASE_URL; unreachable fails under CI, skips otherwise).
// Scenarios tagged sqlite-only or postgres-only run on that backend only.
//
// DEFACTO_SCENARIOS names another scenario directory (e.g. a draft corpus);
// DEFACTO_CONFORMANCE_SKIP, when set, replaces libraryUnsupported (a
// comma-separated tag list; empty runs everything).
func TestConformance(t *testing.T) {
	dir := filepath.Join("testdata", "conformance", "scenarios")
	if d := os.Getenv("DEFACTO_SCENARIOS"); d != "" {
		dir = d
	}
	unsupported := libraryUnsupported
	if v, ok := os.LookupEnv("DEFACTO_CONFORMANCE_SKIP"); ok {
		unsupported = nil
		for _, tag := range strings.Split(v, ",") {
			if tag = strings.TrimSpace(tag); tag != "" {
				unsupported = append(unsupported, tag)
			}
		}
	}
	all, err := scenario.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, s := range all {
		if tags := scenario.Skipped(s, unsupported); len(tags) > 0 {
			skipped = append(skipped, fmt.Sprintf("%s (%s)", filepath.Base(s.File), strings.Join(tags, ", ")))
		}
	}
	t.Logf("conformance: %d scenarios, %d run, %d skipped by tag (unsupported: %s)",
		len(all), len(all)-len(skipped), len(skipped), strings.Join(unsupported, ", "))
	for _, s := range skipped {
		t.Logf("  skipped %s", s)
	}
	t.Run("sqlite", func(t *testing.T) {
		for _, s := range all {
			t.Run(strings.TrimSuffix(filepath.Base(s.File), ".yaml"), func(t *testing.T) {
				t.Parallel()
				scenario.Run(t, s, &libraryDriver{dir: t.TempDir()}, append(unsupported, "postgres-only"))
			})
		}
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		for _, s := range all {
			t.Run(strings.TrimSuffix(filepath.Base(s.File), ".yaml"), func(t *testing.T) {
				t.Parallel()
				d := &libraryDriver{dir: t.TempDir(), url: url, namespace: pgtest.Namespace(t, url)}
				scenario.Run(t, s, d, append(unsupported, "sqlite-only"))
			})
		}
	})
}

// libraryDriver drives the Go library (scenario.Driver).
type libraryDriver struct {
	dir string
	// url and namespace select PostgreSQL instead of a SQLite file in dir.
	url, namespace string

	mu  sync.Mutex
	now time.Time

	e    *Engine
	defs []byte
	cfg  scenario.Config
}

var _ scenario.Driver = (*libraryDriver)(nil)

func (d *libraryDriver) clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

func (d *libraryDriver) SetClock(t time.Time) {
	d.mu.Lock()
	d.now = t.UTC()
	d.mu.Unlock()
}

// errorKinds maps sentinels to the kinds of README §7.2.
var errorKinds = []struct {
	err  error
	kind string
}{
	{ErrNotFound, "not_found"},
	{ErrDefinition, "definition"},
	{ErrValidation, "validation"},
	{ErrConfig, "config"},
	{ErrQuery, "query"},
	{ErrBuildRequired, "build_required"},
	{ErrAssertion, "assertion"},
	{ErrClosed, "closed"},
	{ErrStorage, "storage"},
}

// stepErr converts a library error to a *scenario.StepError; an error that
// matches no sentinel gets the kind "unclassified", so that it fails every
// kind assertion.
func stepErr(err error) error {
	if err == nil {
		return nil
	}
	var se *scenario.StepError
	if errors.As(err, &se) {
		return se
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return &scenario.StepError{Kind: k.kind, Message: err.Error()}
		}
	}
	return &scenario.StepError{Kind: "unclassified", Message: err.Error()}
}

// object converts a result (and its error) to the generic JSON form.
func object(v any, err error) (map[string]any, error) {
	if err != nil {
		return nil, stepErr(err)
	}
	m, err := scenario.ToJSONObject(v)
	if err != nil {
		return nil, &scenario.StepError{Kind: "unclassified", Message: "result: " + err.Error()}
	}
	return m, nil
}

func objects(v any, err error) ([]map[string]any, error) {
	if err != nil {
		return nil, stepErr(err)
	}
	if r, ok := v.(interface{ Maps() []map[string]any }); ok {
		v = r.Maps()
	}
	m, err := scenario.ToJSONObjects(v)
	if err != nil {
		return nil, &scenario.StepError{Kind: "unclassified", Message: "result: " + err.Error()}
	}
	return m, nil
}

func (d *libraryDriver) config(c scenario.Config) (*Config, error) {
	cfg := &Config{
		Database:  filepath.Join(d.dir, "defacto.db"),
		BatchSize: c.BatchSize,
		Clock:     d.clock,
	}
	if d.url != "" {
		cfg.Database, cfg.Namespace = d.url, d.namespace
	}
	if c.AutoBuild != nil {
		cfg.ManualBuild = !*c.AutoBuild
	}
	if c.Salt != "" {
		salt, err := hex.DecodeString(c.Salt)
		if err != nil {
			return nil, &scenario.StepError{Kind: "config", Message: "salt: " + err.Error()}
		}
		cfg.Salt = salt
	}
	return cfg, nil
}

func (d *libraryDriver) open(ctx context.Context, defs []byte, c scenario.Config) error {
	cfg, err := d.config(c)
	if err != nil {
		return err
	}
	parsed, err := ParseDefinitions(defs)
	if err != nil {
		return stepErr(err)
	}
	e, err := OpenDefinitions(ctx, parsed, cfg)
	if err != nil {
		return stepErr(err)
	}
	d.e, d.defs, d.cfg = e, defs, c
	return nil
}

func (d *libraryDriver) Open(ctx context.Context, defs []byte, cfg scenario.Config) error {
	if d.e != nil {
		return &scenario.StepError{Kind: "validation", Message: "the engine is already open"}
	}
	return d.open(ctx, defs, cfg)
}

func (d *libraryDriver) Reopen(ctx context.Context, defs []byte, cfg *scenario.Config) error {
	if d.e != nil {
		if err := d.e.Close(); err != nil {
			return stepErr(err)
		}
		d.e = nil
	}
	if defs == nil {
		defs = d.defs
	}
	c := d.cfg
	if cfg != nil {
		c = *cfg
	}
	return d.open(ctx, defs, c)
}

func (d *libraryDriver) Close() error {
	if d.e == nil {
		return nil
	}
	err := d.e.Close()
	d.e = nil
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// engine returns the open engine or a closed error.
func (d *libraryDriver) engine() (*Engine, error) {
	if d.e == nil {
		return nil, &scenario.StepError{Kind: "closed", Message: "the engine is not open"}
	}
	return d.e, nil
}

func (d *libraryDriver) Validate(ctx context.Context, defs []byte) (map[string]any, error) {
	return object(ValidateBytes(defs), nil)
}

func (d *libraryDriver) Ingest(ctx context.Context, source string, events []json.RawMessage, process bool) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	evs := make([]Event, len(events))
	for i, raw := range events {
		v, err := scenario.DecodeJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("event %d: %v", i, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("event %d is not a JSON object", i)
		}
		evs[i] = m
	}
	mode := AppendOnly
	if process {
		mode = Process
	}
	return object(e.Ingest(ctx, source, evs, mode))
}

func (d *libraryDriver) Build(ctx context.Context, full, fromRaw bool) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return object(e.Build(ctx, BuildOptions{Full: full, FromRaw: fromRaw}))
}

func (d *libraryDriver) Tick(ctx context.Context, asOf string) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	var at any
	if asOf != "" {
		at = asOf
	}
	return object(e.Tick(ctx, at))
}

func (d *libraryDriver) Merge(ctx context.Context, from, into, reason string) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return object(e.Merge(ctx, from, into, reason))
}

func (d *libraryDriver) Erase(ctx context.Context, id string) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return object(e.Erase(ctx, id))
}

func (d *libraryDriver) Redact(ctx context.Context, id string) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return object(e.Redact(ctx, id))
}

func (d *libraryDriver) Register(ctx context.Context, version string, defs []byte) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	parsed, err := ParseDefinitions(defs)
	if err != nil {
		return nil, err
	}
	return object(e.Register(ctx, version, parsed))
}

func (d *libraryDriver) Activate(ctx context.Context, version string) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return object(e.Activate(ctx, version))
}

func (d *libraryDriver) Eval(ctx context.Context, expr string, event, entity json.RawMessage, value *string) (map[string]any, error) {
	in := EvalInput{Value: value, Now: d.clock()}
	for _, b := range []struct {
		raw json.RawMessage
		dst *map[string]any
	}{{event, &in.Event}, {entity, &in.Entity}} {
		if b.raw == nil {
			continue
		}
		v, err := scenario.DecodeJSON(b.raw)
		if err != nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("eval roots must be JSON objects")
		}
		*b.dst = m
	}
	v, err := Eval(expr, in)
	if err != nil {
		return nil, stepErr(err)
	}
	return object(map[string]any{"value": v}, nil)
}

func (d *libraryDriver) Query(ctx context.Context, q scenario.EntityQuery) ([]map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	var query *Query
	switch q.Kind {
	case scenario.KindTable:
		query = e.Table(q.Entity)
	case scenario.KindHistory:
		query = e.History(q.Entity)
	case scenario.KindAsOf:
		query = e.History(q.Entity).AsOf(q.At)
	default:
		return nil, fmt.Errorf("unknown query kind %q", q.Kind)
	}
	if q.ResolveMerges {
		query = query.ResolveMerges()
	}
	rows, err := query.Execute(ctx)
	if err != nil {
		return nil, stepErr(err)
	}
	return objects(rows.Maps(), nil)
}

func (d *libraryDriver) Relationships(ctx context.Context, relType string, history bool) ([]map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	query := e.Relationships(relType)
	if history {
		query = query.History()
	}
	rows, err := query.Execute(ctx)
	if err != nil {
		return nil, stepErr(err)
	}
	return objects(rows.Maps(), nil)
}

func (d *libraryDriver) Timeline(ctx context.Context, id string) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return object(e.Timeline(ctx, id))
}

func (d *libraryDriver) Lookup(ctx context.Context, entityType, value, field string) (string, error) {
	e, err := d.engine()
	if err != nil {
		return "", err
	}
	id, err := e.Lookup(ctx, entityType, value, field)
	return id, stepErr(err)
}

func (d *libraryDriver) Hints(ctx context.Context, id string) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return object(e.Hints(ctx, id))
}

func (d *libraryDriver) Count(ctx context.Context, source string, all bool) (int64, error) {
	e, err := d.engine()
	if err != nil {
		return 0, err
	}
	n, err := e.Count(ctx, source, all)
	return n, stepErr(err)
}

func (d *libraryDriver) EventsFor(ctx context.Context, id string) ([]map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return objects(e.EventsFor(ctx, id))
}

func (d *libraryDriver) BuildStatus(ctx context.Context) (map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return object(e.BuildStatus(ctx))
}

func (d *libraryDriver) Versions(ctx context.Context) ([]map[string]any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	return objects(e.Versions(ctx))
}

func (d *libraryDriver) ActiveVersion(ctx context.Context) (string, error) {
	e, err := d.engine()
	if err != nil {
		return "", err
	}
	return e.Version(), nil
}

func (d *libraryDriver) Graph(ctx context.Context, q scenario.GraphQuery) (any, error) {
	e, err := d.engine()
	if err != nil {
		return nil, err
	}
	var res any
	switch q.Op {
	case scenario.GraphNeighbors:
		res, err = e.Neighbors(ctx, q.Of, q.Direction)
	case scenario.GraphPath:
		res, err = e.Path(ctx, q.From, q.To, q.MaxDepth) // 0 = the default, 20
	case scenario.GraphRelated:
		res, err = e.Related(ctx, q.Of, q.Type)
	case scenario.GraphTraverse:
		res, err = e.Traverse(ctx, q.Of, q.Type, q.Depth, q.Directed)
	default:
		return nil, fmt.Errorf("unknown graph op %q", q.Op)
	}
	if err != nil {
		return nil, stepErr(err)
	}
	if r, ok := res.(interface{ Maps() []map[string]any }); ok {
		res = r.Maps()
	}
	g, err := scenario.ToJSON(res)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return []any{}, nil
	}
	return g, nil
}
