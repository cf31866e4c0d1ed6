package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Run executes one scenario against d, which must be a driver for a fresh,
// empty database. It skips the scenario (t.Skip, naming the file and the
// tags) when it carries any of skipTags. Failed expectations are reported
// with t.Errorf and the run continues; an unexpected step error or a broken
// scenario stops it with t.Fatalf.
func Run(t *testing.T, s *Scenario, d Driver, skipTags []string) {
	t.Helper()
	runTB(t, s, d, skipTags)
}

// tb is the part of *testing.T the runner uses (a fake in unit tests).
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	FailNow()
	Context() context.Context
}

func runTB(t tb, s *Scenario, d Driver, skipTags []string) {
	t.Helper()
	if tags := Skipped(s, skipTags); len(tags) > 0 {
		t.Skipf("skipped %s: tags %s", filepath.Base(s.File), strings.Join(tags, ", "))
		return
	}
	r := &run{
		t:           t,
		s:           s,
		d:           d,
		ctx:         t.Context(),
		defs:        s.Defs,
		defsYAML:    s.Definitions,
		cfg:         s.Config,
		handles:     map[string]string{},
		versionDefs: map[string]versionDef{},
		step:        -1,
		lastStep:    -1,
	}
	defer func() {
		if err := d.Close(); err != nil {
			t.Logf("%s: close: %v", filepath.Base(s.File), err)
		}
	}()
	r.exec()
}

type versionDef struct {
	yaml []byte
	defs *Defs
}

type run struct {
	t   tb
	s   *Scenario
	d   Driver
	ctx context.Context

	defs     *Defs
	defsYAML []byte
	cfg      Config

	handles     map[string]string
	versionDefs map[string]versionDef

	step       int // index of the running step
	lastStep   int // index of the most recent step that is not capture/clock/expect
	lastResult any
	lastErr    *StepError
	errPending bool // lastErr not yet asserted by an expect
	errChecked bool // an expect since lastStep asserted error
}

// fatalStop aborts the scenario.
type fatalStop struct{}

func (r *run) where() string {
	file := filepath.Base(r.s.File)
	if r.step < 0 {
		return file + ": open"
	}
	st := r.s.Steps[r.step]
	return fmt.Sprintf("%s: steps[%d] (%s, line %d)", file, r.step, st.Kind, st.Line)
}

func (r *run) errorf(format string, args ...any) {
	r.t.Helper()
	r.t.Errorf("%s: %s", r.where(), fmt.Sprintf(format, args...))
}

func (r *run) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Errorf("%s: %s", r.where(), fmt.Sprintf(format, args...))
	panic(fatalStop{})
}

func (r *run) exec() {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(fatalStop); ok {
				r.t.FailNow()
				return
			}
			panic(v)
		}
	}()
	r.d.SetClock(r.s.Clock)
	if !r.s.HasOpen {
		if err := r.d.Open(r.ctx, r.defsYAML, r.cfg); err != nil {
			r.fatalf("opening the engine failed: %v", err)
		}
	}
	for i, st := range r.s.Steps {
		r.step = i
		if st.Kind != StepExpect && r.errPending {
			r.fatalf("steps[%d] (%s) failed and no expect asserted the error: %v", r.lastStep, r.s.Steps[r.lastStep].Kind, r.lastErr)
		}
		r.runStep(st)
	}
	if r.errPending {
		r.fatalf("steps[%d] (%s) failed and no expect asserted the error: %v", r.lastStep, r.s.Steps[r.lastStep].Kind, r.lastErr)
	}
}

func (r *run) record(res map[string]any, err error) {
	r.lastStep = r.step
	if res != nil {
		r.lastResult = res
	} else {
		r.lastResult = nil
	}
	r.lastErr = AsStepError(err)
	r.errPending = err != nil
	r.errChecked = false
}

// stepRef resolves a ref of a step body; it must resolve.
func (r *run) stepRef(text string) string {
	ref, err := ParseRef(text, r.defs)
	if err != nil {
		r.fatalf("%v", err)
	}
	id, ok, err := r.resolve(ref)
	if err != nil {
		r.fatalf("resolving %q: %v", text, err)
	}
	if !ok {
		r.fatalf("ref %q does not resolve", text)
	}
	return id
}

func (r *run) runStep(st *Step) {
	ctx := r.ctx
	switch st.Kind {
	case StepOpen:
		r.record(nil, r.d.Open(ctx, r.defsYAML, r.cfg))
	case StepValidate:
		defs := st.Definitions
		if defs == nil {
			defs = r.defsYAML
		}
		r.record(r.d.Validate(ctx, defs))
	case StepIngest:
		r.record(r.d.Ingest(ctx, st.Source, st.Events, st.Process))
	case StepBuild:
		r.record(r.d.Build(ctx, st.Full, st.FromRaw))
	case StepTick:
		r.record(r.d.Tick(ctx, st.AsOf))
	case StepMerge:
		from, into := r.stepRef(st.From), r.stepRef(st.Into)
		r.record(r.d.Merge(ctx, from, into, st.Reason))
	case StepErase:
		r.record(r.d.Erase(ctx, r.stepRef(st.Entity)))
	case StepRedact:
		r.record(r.d.Redact(ctx, r.stepRef(st.Entity)))
	case StepRegister:
		res, err := r.d.Register(ctx, st.Version, st.Definitions)
		if err == nil {
			r.versionDefs[st.Version] = versionDef{yaml: st.Definitions, defs: st.Defs}
		}
		r.record(res, err)
	case StepActivate:
		name := r.versionName(st.Version)
		res, err := r.d.Activate(ctx, name)
		if err == nil {
			if vd, ok := r.versionDefs[name]; ok {
				r.defs, r.defsYAML = vd.defs, vd.yaml
			}
		}
		r.record(res, err)
	case StepEval:
		r.record(r.d.Eval(ctx, st.Expr, st.Event, st.Object, st.Value))
	case StepReopen:
		var cfg *Config
		if st.Config != nil {
			c := r.cfg
			if st.Config.BatchSize != 0 {
				c.BatchSize = st.Config.BatchSize
			}
			if st.Config.AutoBuild != nil {
				c.AutoBuild = st.Config.AutoBuild
			}
			if st.Config.Salt != "" {
				c.Salt = st.Config.Salt
			}
			cfg = &c
		}
		err := r.d.Reopen(ctx, st.Definitions, cfg)
		if err == nil {
			if st.Definitions != nil {
				r.defs, r.defsYAML = st.Defs, st.Definitions
			}
			if cfg != nil {
				r.cfg = *cfg
			}
		}
		r.record(nil, err)
	case StepCapture:
		for _, c := range st.Captures {
			if c.Ref == "version active" {
				v, err := r.d.ActiveVersion(ctx)
				if err != nil {
					r.fatalf("capture %s: active version: %v", c.Name, err)
				}
				r.handles[c.Name] = v
				r.versionDefs[v] = versionDef{yaml: r.defsYAML, defs: r.defs}
				continue
			}
			r.handles[c.Name] = r.stepRef(c.Ref)
		}
	case StepClock:
		r.d.SetClock(st.Clock)
	case StepExpect:
		r.expect(st)
	default:
		r.fatalf("unknown step kind %q", st.Kind)
	}
}

// versionName resolves a version handle ($name) or returns the literal.
func (r *run) versionName(s string) string {
	if strings.HasPrefix(s, "$") {
		v, ok := r.handles[s[1:]]
		if !ok {
			r.fatalf("unknown version handle %q", s)
		}
		return v
	}
	return s
}

// resolve resolves a parsed ref. ok is false for a by ref that does not
// resolve now.
func (r *run) resolve(ref Ref) (id string, ok bool, err error) {
	switch ref.Kind {
	case RefHandle:
		v, found := r.handles[ref.Name]
		if !found {
			return "", false, fmt.Errorf("handle $%s was never captured", ref.Name)
		}
		return v, true, nil
	case RefID:
		return ref.Value, true, nil
	}
	id, err = r.d.Lookup(r.ctx, ref.Type, ref.Value, ref.Field)
	if err != nil {
		se := AsStepError(err)
		if se.Kind == "" || se.Kind == "not_found" {
			return "", false, nil
		}
		return "", false, fmt.Errorf("Lookup(%s, %q, %s): %v", ref.Type, ref.Value, ref.Field, err)
	}
	return id, true, nil
}

// prep resolves the refs, version handles and $name tokens of an expected
// value according to its place.
func (r *run) prep(v any, p *place) (any, error) {
	switch x := v.(type) {
	case string:
		switch {
		case p.ref:
			ref, err := ParseRef(x, r.defs)
			if err != nil {
				return nil, err
			}
			id, ok, err := r.resolve(ref)
			if err != nil {
				return nil, err
			}
			return refVal{text: x, id: id, ok: ok}, nil
		case p.version:
			if strings.HasPrefix(x, "$") {
				h, ok := r.handles[x[1:]]
				if !ok {
					return nil, fmt.Errorf("version handle %s was never captured", x)
				}
				return h, nil
			}
		case p.subst:
			return Substitute(x, r.handles), nil
		}
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			pe, err := r.prep(e, p)
			if err != nil {
				return nil, err
			}
			out[i] = pe
		}
		return out, nil
	case map[string]any:
		if name, arg, ok := asMatcher(x); ok {
			switch name {
			case "ne", "one_of", "includes", "gt", "gte", "lt", "lte":
				pa, err := r.prep(arg, p)
				if err != nil {
					return nil, err
				}
				return map[string]any{name: pa}, nil
			}
			return x, nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "mentions" {
				out[k] = e
				continue
			}
			pe, err := r.prep(e, p.child(k))
			if err != nil {
				return nil, err
			}
			out[k] = pe
		}
		return out, nil
	}
	return v, nil
}

// ---- places ----

var systemInstantColumns = []string{"valid_from", "valid_to", "last_event_time", "state_entered_time", "created_time", "recorded_at"}

var (
	refPlace     = &place{ref: true}
	instantPlace = &place{instant: true}
	versionPlace = &place{version: true}
	substPlace   = func() *place {
		p := &place{subst: true}
		p.member = func(string) *place { return p }
		return p
	}()
)

func resultPlace() *place {
	p := &place{}
	p.member = func(k string) *place {
		switch k {
		case "entity_id", "from_entity_id", "into_entity_id", "erased_ids", "entity_ids":
			return refPlace
		case "as_of", "tick_horizon", "last_build_time":
			return instantPlace
		case "copied_from":
			return versionPlace
		}
		return p
	}
	return p
}

func statusPlace() *place {
	return &place{member: func(k string) *place {
		switch k {
		case "tick_horizon", "last_build_time":
			return instantPlace
		case "version":
			return versionPlace
		}
		return plain
	}}
}

// rowPlace is the place of an entity row of entity type e.
func (r *run) rowPlace(e string) *place {
	var props map[string]string
	if ed := r.defs.Entities[e]; ed != nil {
		props = ed.Properties
	}
	return &place{
		member: func(k string) *place {
			switch k {
			case "id", "merged_into", "canonical_id":
				return refPlace
			}
			if slices.Contains(systemInstantColumns, k) || props[k] == "datetime" {
				return instantPlace
			}
			return plain
		},
		alias: func(k string) []string {
			switch k {
			case "id":
				return []string{e + "_id"}
			case "state":
				return []string{e + "_state"}
			}
			return nil
		},
	}
}

func (r *run) relPlace(relType string) *place {
	var props map[string]string
	if rd := r.defs.Relationships[relType]; rd != nil {
		props = rd.Properties
	}
	return &place{
		member: func(k string) *place {
			switch k {
			case "source", "target", "original_target", "source_id", "target_id", "original_target_id":
				return refPlace
			case "valid_from", "valid_to", "recorded_at":
				return instantPlace
			}
			if props[k] == "datetime" {
				return instantPlace
			}
			return plain
		},
		alias: func(k string) []string {
			switch k {
			case "source", "target", "original_target":
				return []string{k + "_id"}
			}
			return nil
		},
	}
}

func (r *run) relatedPlace(relType string) *place {
	target := ""
	var relProps map[string]string
	if rd := r.defs.Relationships[relType]; rd != nil {
		target, relProps = rd.Target, rd.Properties
	}
	row := r.rowPlace(target)
	return &place{
		member: func(k string) *place {
			if k == "relationship_valid_from" {
				return instantPlace
			}
			if p, ok := strings.CutPrefix(k, "rel_"); ok && relProps[p] == "datetime" {
				return instantPlace
			}
			return row.member(k)
		},
		alias: row.alias,
	}
}

var graphRowPlace = &place{
	member: func(k string) *place {
		if k == "entity" || k == "entity_id" {
			return refPlace
		}
		return plain
	},
	alias: func(k string) []string {
		if k == "entity" {
			return []string{"entity_id"}
		}
		return nil
	},
}

var eventPlace = &place{
	member: func(k string) *place {
		switch k {
		case "timestamp":
			return instantPlace
		case "data":
			return substPlace
		}
		return plain
	},
}

var timelinePlace = &place{
	member: func(k string) *place {
		switch k {
		case "canonical_id", "entity_id":
			return refPlace
		}
		return plain
	},
}

var entryPlace = &place{
	member: func(k string) *place {
		switch k {
		case "timestamp", "valid_to":
			return instantPlace
		case "effects", "effects_include":
			return substPlace
		}
		return plain
	},
}

// ---- expectations ----

// check is one expectation being evaluated: it collects mismatch lines.
type check struct {
	label string
	lines []string
}

func (c *check) add(lines ...string) { c.lines = append(c.lines, lines...) }
func (c *check) addf(format string, args ...any) {
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}

func (r *run) report(c *check) {
	r.t.Helper()
	if len(c.lines) > 0 {
		r.errorf("%s failed:\n    %s", c.label, strings.Join(c.lines, "\n    "))
	}
}

func (r *run) expect(st *Step) {
	for _, e := range st.Expectations {
		label := fmt.Sprintf("expect.%s (line %d)", e.Kind, e.Line)
		switch e.Kind {
		case "result":
			r.expectResult(label, e.Value)
		case "error":
			r.expectError(label, e.Value)
		case "identity":
			for i, a := range asList(e.Value) {
				r.expectIdentity(fmt.Sprintf("%s[%d]", label, i), a)
			}
		case "graph":
			for i, q := range asList(e.Value) {
				r.expectGraph(fmt.Sprintf("%s[%d]", label, i), q)
			}
		default:
			items := asList(e.Value)
			for i, item := range items {
				l := label
				if _, isList := e.Value.([]any); isList {
					l = fmt.Sprintf("%s[%d]", label, i)
				}
				switch e.Kind {
				case "table", "history", "as_of":
					r.expectQuery(l, e.Kind, item)
				case "ledger":
					r.expectLedger(l, item)
				case "build_status":
					r.expectStatus(l, item)
				case "relationships":
					r.expectRelationships(l, item)
				case "timeline":
					r.expectTimeline(l, item)
				case "versions":
					r.expectVersions(l, item)
				}
			}
		}
	}
	if r.errPending && !r.errChecked {
		r.fatalf("steps[%d] (%s) failed and this expect does not assert error: %v", r.lastStep, r.s.Steps[r.lastStep].Kind, r.lastErr)
	}
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// mapping checks that v is a mapping with only allowed keys.
func mapping(c *check, v any, allowed ...string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.addf("scenario error: expected a mapping, got %s", show(v))
		return nil, false
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) {
			c.addf("scenario error: unknown key %q (allowed: %s)", k, strings.Join(allowed, ", "))
			return nil, false
		}
	}
	return m, true
}

func (r *run) lastLabel() string {
	if r.lastStep < 0 || r.lastStep >= len(r.s.Steps) {
		return "no step"
	}
	return fmt.Sprintf("steps[%d] (%s)", r.lastStep, r.s.Steps[r.lastStep].Kind)
}

func (r *run) expectResult(label string, v any) {
	c := &check{label: label}
	defer r.report(c)
	if r.lastErr != nil {
		c.addf("%s failed: %v", r.lastLabel(), r.lastErr)
		return
	}
	if r.lastResult == nil {
		c.addf("%s has no result", r.lastLabel())
		return
	}
	p := resultPlace()
	exp, err := r.prep(v, p)
	if err != nil {
		c.addf("scenario error: %v", err)
		return
	}
	if lines := matchValue(exp, r.lastResult, true, p, "result"); len(lines) > 0 {
		c.add(lines...)
		c.addf("actual result of %s: %s", r.lastLabel(), show(r.lastResult))
	}
}

func (r *run) expectError(label string, v any) {
	c := &check{label: label}
	defer r.report(c)
	r.errChecked = true
	r.errPending = false
	if v == nil {
		if r.lastErr != nil {
			c.addf("%s failed: %v", r.lastLabel(), r.lastErr)
		}
		return
	}
	m, ok := mapping(c, v, "kind", "contains")
	if !ok {
		return
	}
	if r.lastErr == nil {
		c.addf("%s succeeded, expected an error %s; result %s", r.lastLabel(), show(v), show(r.lastResult))
		return
	}
	if k, ok := m["kind"]; ok {
		ks, _ := k.(string)
		if r.lastErr.Kind != "" && r.lastErr.Kind != ks {
			c.addf("error kind: expected %s, got %s (%s)", ks, r.lastErr.Kind, r.lastErr.Message)
		}
	}
	if cv, ok := m["contains"]; ok {
		for _, s := range asList(cv) {
			str, _ := s.(string)
			str = Substitute(str, r.handles)
			if !containsFold(r.lastErr.Message, str) {
				c.addf("error text does not contain %q (case-insensitive): %q", str, r.lastErr.Message)
			}
		}
	}
}

// queryRows runs an entity query and applies of and where.
func (r *run) expectQuery(label, kind string, v any) {
	c := &check{label: label}
	defer r.report(c)
	allowed := []string{"entity", "of", "where", "count", "rows", "match", "ordered"}
	if kind == KindAsOf {
		allowed = append(allowed, "at")
	}
	if kind != KindTable {
		allowed = append(allowed, "resolve_merges")
	}
	m, ok := mapping(c, v, allowed...)
	if !ok {
		return
	}
	entity, _ := m["entity"].(string)
	if entity == "" {
		c.addf("scenario error: entity is required")
		return
	}
	c.label = fmt.Sprintf("%s [%s]", label, entity)
	q := EntityQuery{Entity: entity, Kind: kind}
	if kind == KindAsOf {
		q.At, _ = m["at"].(string)
		if q.At == "" {
			c.addf("scenario error: at is required")
			return
		}
	}
	if b, ok := m["resolve_merges"].(bool); ok {
		q.ResolveMerges = b
	}
	rows, err := r.d.Query(r.ctx, q)
	if err != nil {
		c.addf("query %+v failed: %v", q, err)
		return
	}
	p := r.rowPlace(entity)
	actual := make([]any, len(rows))
	for i, row := range rows {
		actual[i] = row
	}
	actual, ok = r.filter(c, actual, m, p, entity+"_id")
	if !ok {
		return
	}
	_, hasOf := m["of"]
	r.checkRows(c, m, actual, p, entity+"_id", hasOf)
}

// filter applies of (on idColumn) and where.
func (r *run) filter(c *check, rows []any, m map[string]any, p *place, idColumn string) ([]any, bool) {
	if of, ok := m["of"]; ok {
		exp, err := r.prep(of, refPlace)
		if err != nil {
			c.addf("scenario error: of: %v", err)
			return nil, false
		}
		rv, _ := exp.(refVal)
		if !rv.ok {
			c.addf("of: ref %q does not resolve", rv.text)
			return nil, false
		}
		var out []any
		for _, row := range rows {
			if id, _ := row.(map[string]any)[idColumn].(string); id == rv.id {
				out = append(out, row)
			}
		}
		rows = out
	}
	if w, ok := m["where"]; ok {
		wm, isMap := w.(map[string]any)
		if !isMap {
			c.addf("scenario error: where must be a mapping")
			return nil, false
		}
		exp, err := r.prep(wm, p)
		if err != nil {
			c.addf("scenario error: where: %v", err)
			return nil, false
		}
		if u := unresolvedRefs(exp); len(u) > 0 {
			c.addf("where: ref %q does not resolve", u[0])
			return nil, false
		}
		var out []any
		for _, row := range rows {
			if len(matchValue(exp, row, true, p, "")) == 0 {
				out = append(out, row)
			}
		}
		rows = out
	}
	return rows, true
}

// checkRows checks count and rows (match, ordered) of a row set.
func (r *run) checkRows(c *check, m map[string]any, actual []any, p *place, idColumn string, orderedDefault bool) {
	failed := false
	if cnt, ok := m["count"]; ok {
		if lines := matchValue(cnt, json.Number(fmt.Sprint(len(actual))), true, plain, "count"); len(lines) > 0 {
			c.add(lines...)
			failed = true
		}
	}
	if rv, ok := m["rows"]; ok {
		expRows, isList := rv.([]any)
		if !isList {
			c.addf("scenario error: rows must be a list")
			return
		}
		exp, err := r.prep(expRows, p)
		if err != nil {
			c.addf("scenario error: rows: %v", err)
			return
		}
		ordered := orderedDefault
		if o, ok := m["ordered"].(bool); ok {
			ordered = o
		}
		contains := false
		if mm, ok := m["match"].(string); ok {
			switch mm {
			case "contains":
				contains = true
			case "exact":
			default:
				c.addf("scenario error: match must be exact or contains")
				return
			}
		}
		if ordered {
			sortRows(actual, idColumn)
		}
		cmp := func(e, a any) []string { return matchValue(e, a, true, p, "") }
		if lines := matchList(exp.([]any), actual, ordered, contains, cmp, "rows"); len(lines) > 0 {
			c.add(lines...)
			failed = true
		}
	}
	if failed {
		c.add(dumpRows(actual)...)
	}
}

// sortRows sorts rows by valid_from (as instants), then id.
func sortRows(rows []any, idColumn string) {
	key := func(row any) (time.Time, string, string) {
		m, _ := row.(map[string]any)
		vf, _ := m["valid_from"].(string)
		t, _ := parseInstant(vf)
		id, _ := m[idColumn].(string)
		return t, vf, id
	}
	sort.SliceStable(rows, func(i, j int) bool {
		ti, vi, ii := key(rows[i])
		tj, vj, ij := key(rows[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		if vi != vj {
			return vi < vj
		}
		return ii < ij
	})
}

func dumpRows(rows []any) []string {
	const max = 40
	out := []string{fmt.Sprintf("actual rows (%d):", len(rows))}
	for i, row := range rows {
		if i == max {
			out = append(out, fmt.Sprintf("  ... %d more", len(rows)-max))
			break
		}
		out = append(out, "  "+show(row))
	}
	return out
}

// ---- identity ----

func (r *run) expectIdentity(label string, v any) {
	c := &check{label: label}
	defer r.report(c)
	m, ok := v.(map[string]any)
	if !ok {
		c.addf("scenario error: an identity assertion must be a mapping")
		return
	}
	c.label = fmt.Sprintf("%s %s", label, show(m))
	ref := func(key string, x any) (refVal, bool) {
		s, isStr := x.(string)
		if !isStr {
			c.addf("scenario error: %s must be a ref", key)
			return refVal{}, false
		}
		parsed, err := ParseRef(s, r.defs)
		if err != nil {
			c.addf("scenario error: %v", err)
			return refVal{}, false
		}
		id, ok, err := r.resolve(parsed)
		if err != nil {
			c.addf("%v", err)
			return refVal{}, false
		}
		return refVal{text: s, id: id, ok: ok}, true
	}
	must := func(key string, x any) (refVal, bool) {
		rv, ok := ref(key, x)
		if ok && !rv.ok {
			c.addf("ref %q does not resolve", rv.text)
			return rv, false
		}
		return rv, ok
	}
	refs := func(key string) ([]refVal, bool) {
		list, isList := m[key].([]any)
		if !isList {
			c.addf("scenario error: %s must be a list of refs", key)
			return nil, false
		}
		var out []refVal
		good := true
		for _, x := range list {
			rv, ok := must(key, x)
			good = good && ok
			out = append(out, rv)
		}
		return out, good
	}
	switch {
	case has(m, "same"):
		if _, ok := mapping(c, v, "same"); !ok {
			return
		}
		rs, ok := refs("same")
		if !ok {
			return
		}
		for _, x := range rs[1:] {
			if x.id != rs[0].id {
				c.addf("expected one id, got %s", showRefs(rs))
				return
			}
		}
	case has(m, "different"):
		if _, ok := mapping(c, v, "different"); !ok {
			return
		}
		rs, ok := refs("different")
		if !ok {
			return
		}
		for i := range rs {
			for j := i + 1; j < len(rs); j++ {
				if rs[i].id == rs[j].id {
					c.addf("expected pairwise different ids, got %s", showRefs(rs))
					return
				}
			}
		}
	case has(m, "hints_of"):
		if _, ok := mapping(c, v, "hints_of", "hints", "not_found"); !ok {
			return
		}
		rv, ok := must("hints_of", m["hints_of"])
		if !ok {
			return
		}
		res, err := r.d.Hints(r.ctx, rv.id)
		if nf, _ := m["not_found"].(bool); nf {
			if err == nil {
				c.addf("Hints(%s) succeeded, expected not found: %s", rv.id, show(res))
			} else if k := AsStepError(err).Kind; k != "" && k != "not_found" {
				c.addf("Hints(%s): expected not found, got %v", rv.id, err)
			}
			return
		}
		if err != nil {
			c.addf("Hints(%s) failed: %v", rv.id, err)
			return
		}
		exp, _ := m["hints"].(map[string]any)
		actHints, _ := res["hints"].(map[string]any)
		for _, f := range sortedKeys(exp) {
			av, present := actHints[f]
			if !present {
				av, present = []any{}, true
			}
			c.add(matchValue(exp[f], av, present, plain, "hints."+f)...)
		}
		if len(c.lines) > 0 {
			c.addf("actual hints: %s", show(res))
		}
	case has(m, "ref"):
		if _, ok := mapping(c, v, "ref", "exists", "equals", "not_equals", "id"); !ok {
			return
		}
		rv, ok := ref("ref", m["ref"])
		if !ok {
			return
		}
		if ex, ok := m["exists"]; ok {
			want, _ := ex.(bool)
			got, err := r.exists(rv, m["ref"].(string))
			if err != nil {
				c.addf("%v", err)
				return
			}
			if got != want {
				c.addf("exists: expected %v, got %v (%s)", want, got, show(rv))
			}
		}
		if _, ok := m["equals"]; ok {
			if !rv.ok {
				c.addf("ref %q does not resolve", rv.text)
				return
			}
			o, ok := must("equals", m["equals"])
			if ok && o.id != rv.id {
				c.addf("expected equal ids: %s vs %s", show(rv), show(o))
			}
		}
		if _, ok := m["not_equals"]; ok {
			if !rv.ok {
				c.addf("ref %q does not resolve", rv.text)
				return
			}
			o, ok := must("not_equals", m["not_equals"])
			if ok && o.id == rv.id {
				c.addf("expected different ids: %s vs %s", show(rv), show(o))
			}
		}
		if lit, ok := m["id"]; ok {
			if !rv.ok {
				c.addf("ref %q does not resolve", rv.text)
				return
			}
			if s, _ := lit.(string); s != rv.id {
				c.addf("expected id %s, got %s", show(lit), show(rv))
			}
		}
	default:
		c.addf("scenario error: unknown identity assertion")
	}
}

// exists: a by ref resolves; a $handle or id ref is a known, active entity
// (its Hints succeed).
func (r *run) exists(rv refVal, text string) (bool, error) {
	if !rv.ok {
		return false, nil
	}
	parsed, _ := ParseRef(text, r.defs)
	if parsed.Kind == RefBy {
		return true, nil
	}
	_, err := r.d.Hints(r.ctx, rv.id)
	if err == nil {
		return true, nil
	}
	if k := AsStepError(err).Kind; k == "" || k == "not_found" {
		return false, nil
	}
	return false, fmt.Errorf("Hints(%s): %v", rv.id, err)
}

func has(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func showRefs(rs []refVal) string {
	parts := make([]string, len(rs))
	for i, x := range rs {
		parts[i] = show(x)
	}
	return strings.Join(parts, ", ")
}

// ---- ledger ----

func (r *run) expectLedger(label string, v any) {
	c := &check{label: label}
	defer r.report(c)
	m, ok := mapping(c, v, "count", "count_all", "count_by_source", "events_for")
	if !ok {
		return
	}
	count := func(key, source string, all bool, exp any) {
		n, err := r.d.Count(r.ctx, source, all)
		if err != nil {
			c.addf("%s: Count(%q, %v) failed: %v", key, source, all, err)
			return
		}
		c.add(matchValue(exp, json.Number(fmt.Sprint(n)), true, plain, key)...)
	}
	if e, ok := m["count"]; ok {
		count("count", "", false, e)
	}
	if e, ok := m["count_all"]; ok {
		count("count_all", "", true, e)
	}
	if e, ok := m["count_by_source"]; ok {
		bs, isMap := e.(map[string]any)
		if !isMap {
			c.addf("scenario error: count_by_source must be a mapping")
			return
		}
		for _, src := range sortedKeys(bs) {
			count("count_by_source."+src, src, false, bs[src])
		}
	}
	if e, ok := m["events_for"]; ok {
		for i, item := range asList(e) {
			r.eventsFor(c, fmt.Sprintf("events_for[%d]", i), item)
		}
	}
}

func (r *run) eventsFor(c *check, label string, v any) {
	m, ok := mapping(c, v, "of", "count", "event_types", "events", "match", "not_found")
	if !ok {
		return
	}
	of, err := r.prep(m["of"], refPlace)
	if err != nil {
		c.addf("%s: scenario error: %v", label, err)
		return
	}
	rv, _ := of.(refVal)
	if !rv.ok {
		c.addf("%s: ref %q does not resolve", label, rv.text)
		return
	}
	label = fmt.Sprintf("%s (of %s)", label, show(rv))
	events, err := r.d.EventsFor(r.ctx, rv.id)
	if nf, _ := m["not_found"].(bool); nf {
		if err == nil {
			c.addf("%s: EventsFor succeeded with %d events, expected not found", label, len(events))
		} else if k := AsStepError(err).Kind; k != "" && k != "not_found" {
			c.addf("%s: expected not found, got %v", label, err)
		}
		return
	}
	if err != nil {
		c.addf("%s: EventsFor failed: %v", label, err)
		return
	}
	contains := m["match"] == "contains"
	var lines []string
	if cnt, ok := m["count"]; ok {
		lines = append(lines, matchValue(cnt, json.Number(fmt.Sprint(len(events))), true, plain, label+".count")...)
	}
	act := make([]any, len(events))
	types := make([]any, len(events))
	for i, e := range events {
		act[i] = e
		types[i] = e["event_type"]
	}
	if et, ok := m["event_types"]; ok {
		list, _ := et.([]any)
		cmp := func(e, a any) []string { return matchValue(e, a, true, plain, "") }
		lines = append(lines, matchList(list, types, true, contains, cmp, label+".event_types")...)
	}
	if ev, ok := m["events"]; ok {
		exp, err := r.prep(ev, eventPlace)
		if err != nil {
			c.addf("%s: scenario error: %v", label, err)
			return
		}
		list, _ := exp.([]any)
		cmp := func(e, a any) []string { return matchValue(e, a, true, eventPlace, "") }
		lines = append(lines, matchList(list, act, true, contains, cmp, label+".events")...)
	}
	if len(lines) > 0 {
		c.add(lines...)
		c.add(dumpRows(act)...)
	}
}

// ---- build status ----

func (r *run) expectStatus(label string, v any) {
	c := &check{label: label}
	defer r.report(c)
	st, err := r.d.BuildStatus(r.ctx)
	if err != nil {
		c.addf("BuildStatus failed: %v", err)
		return
	}
	p := statusPlace()
	exp, err := r.prep(v, p)
	if err != nil {
		c.addf("scenario error: %v", err)
		return
	}
	if lines := matchValue(exp, st, true, p, "build_status"); len(lines) > 0 {
		c.add(lines...)
		c.addf("actual build status: %s", show(st))
	}
}

// ---- relationships ----

func (r *run) expectRelationships(label string, v any) {
	c := &check{label: label}
	defer r.report(c)
	m, ok := mapping(c, v, "type", "history", "where", "count", "rows", "match")
	if !ok {
		return
	}
	typ, _ := m["type"].(string)
	hist, _ := m["history"].(bool)
	c.label = fmt.Sprintf("%s [%s]", label, typ)
	rows, err := r.d.Relationships(r.ctx, typ, hist)
	if err != nil {
		c.addf("Relationships(%s, history=%v) failed: %v", typ, hist, err)
		return
	}
	p := r.relPlace(typ)
	actual := make([]any, len(rows))
	for i, row := range rows {
		actual[i] = row
	}
	actual, ok = r.filter(c, actual, m, p, "source_id")
	if !ok {
		return
	}
	r.checkRows(c, m, actual, p, "source_id", false)
}

// ---- timeline ----

func (r *run) expectTimeline(label string, v any) {
	c := &check{label: label}
	defer r.report(c)
	m, ok := mapping(c, v, "of", "entity_type", "canonical_id", "count", "entries", "match", "not_found")
	if !ok {
		return
	}
	of, err := r.prep(m["of"], refPlace)
	if err != nil {
		c.addf("scenario error: of: %v", err)
		return
	}
	rv, _ := of.(refVal)
	if !rv.ok {
		c.addf("of: ref %q does not resolve", rv.text)
		return
	}
	c.label = fmt.Sprintf("%s (of %s)", label, show(rv))
	tl, err := r.d.Timeline(r.ctx, rv.id)
	if nf, _ := m["not_found"].(bool); nf {
		if err == nil {
			c.addf("Timeline succeeded, expected not found: %s", show(tl))
		} else if k := AsStepError(err).Kind; k != "" && k != "not_found" {
			c.addf("expected not found, got %v", err)
		}
		return
	}
	if err != nil {
		c.addf("Timeline failed: %v", err)
		return
	}
	top := map[string]any{}
	for _, k := range []string{"entity_type", "canonical_id"} {
		if x, ok := m[k]; ok {
			top[k] = x
		}
	}
	exp, err := r.prep(top, timelinePlace)
	if err != nil {
		c.addf("scenario error: %v", err)
		return
	}
	c.add(matchValue(exp, tl, true, timelinePlace, "timeline")...)
	entries, _ := tl["entries"].([]any)
	if cnt, ok := m["count"]; ok {
		c.add(matchValue(cnt, json.Number(fmt.Sprint(len(entries))), true, plain, "count")...)
	}
	if ev, ok := m["entries"]; ok {
		expEntries, err := r.prep(ev, entryPlace)
		if err != nil {
			c.addf("scenario error: entries: %v", err)
			return
		}
		list, _ := expEntries.([]any)
		c.add(matchList(list, entries, true, m["match"] == "contains", matchEntry, "entries")...)
	}
	if len(c.lines) > 0 {
		c.add(dumpRows(entries)...)
	}
}

// matchEntry compares one timeline entry; effects_include: each string
// equals one of the descriptions.
func matchEntry(e, a any) []string {
	em, ok := e.(map[string]any)
	if !ok {
		return matchValue(e, a, true, entryPlace, "")
	}
	inc, hasInc := em["effects_include"]
	if hasInc {
		cp := make(map[string]any, len(em))
		for k, v := range em {
			if k != "effects_include" {
				cp[k] = v
			}
		}
		em = cp
	}
	out := matchValue(em, a, true, entryPlace, "")
	if hasInc {
		am, _ := a.(map[string]any)
		effects, _ := am["effects"].([]any)
		for _, want := range asList(inc) {
			found := false
			for _, got := range effects {
				if got == want {
					found = true
					break
				}
			}
			if !found {
				out = append(out, fmt.Sprintf("effects_include: %s is not among the effects %s", show(want), show(effects)))
			}
		}
	}
	return out
}

// ---- versions ----

func (r *run) expectVersions(label string, v any) {
	c := &check{label: label}
	defer r.report(c)
	m, ok := mapping(c, v, "count", "includes", "active")
	if !ok {
		return
	}
	exp, err := r.prep(m, &place{member: func(string) *place { return versionPlace }})
	if err != nil {
		c.addf("scenario error: %v", err)
		return
	}
	em := exp.(map[string]any)
	if _, ok := em["count"]; ok || has(em, "includes") {
		vs, err := r.d.Versions(r.ctx)
		if err != nil {
			c.addf("Versions failed: %v", err)
			return
		}
		names := make([]any, len(vs))
		for i, x := range vs {
			names[i] = x["version"]
		}
		if cnt, ok := em["count"]; ok {
			c.add(matchValue(cnt, json.Number(fmt.Sprint(len(vs))), true, plain, "count")...)
		}
		if inc, ok := em["includes"]; ok {
			c.add(matchValue(map[string]any{"includes": inc}, names, true, plain, "includes")...)
		}
		if len(c.lines) > 0 {
			c.addf("actual versions: %s", show(names))
		}
	}
	if act, ok := em["active"]; ok {
		name, err := r.d.ActiveVersion(r.ctx)
		if err != nil {
			c.addf("ActiveVersion failed: %v", err)
			return
		}
		c.add(matchValue(act, name, true, plain, "active")...)
	}
}

// ---- graph ----

func (r *run) expectGraph(label string, v any) {
	c := &check{label: label}
	defer r.report(c)
	m, ok := v.(map[string]any)
	if !ok {
		c.addf("scenario error: a graph query must be a mapping")
		return
	}
	op, _ := m["op"].(string)
	c.label = fmt.Sprintf("%s %s", label, show(m))
	must := func(key string) (string, bool) {
		x, err := r.prep(m[key], refPlace)
		if err != nil {
			c.addf("scenario error: %s: %v", key, err)
			return "", false
		}
		rv, _ := x.(refVal)
		if !rv.ok {
			c.addf("%s: ref %q does not resolve", key, rv.text)
			return "", false
		}
		return rv.id, true
	}
	intArg := func(key string, def int) int {
		if n, ok := m[key].(json.Number); ok {
			i, err := n.Int64()
			if err == nil {
				return int(i)
			}
		}
		return def
	}
	q := GraphQuery{Op: op}
	var rowPlace *place
	var ok2 bool
	switch op {
	case GraphNeighbors:
		if _, ok := mapping(c, v, "op", "of", "direction", "rows"); !ok {
			return
		}
		if q.Of, ok2 = must("of"); !ok2 {
			return
		}
		q.Direction = "both"
		if d, ok := m["direction"].(string); ok {
			q.Direction = d
		}
		rowPlace = graphRowPlace
	case GraphPath:
		if _, ok := mapping(c, v, "op", "from", "to", "max_depth", "path"); !ok {
			return
		}
		if q.From, ok2 = must("from"); !ok2 {
			return
		}
		if q.To, ok2 = must("to"); !ok2 {
			return
		}
		q.MaxDepth = intArg("max_depth", 0)
	case GraphRelated:
		if _, ok := mapping(c, v, "op", "of", "type", "rows"); !ok {
			return
		}
		if q.Of, ok2 = must("of"); !ok2 {
			return
		}
		q.Type, _ = m["type"].(string)
		rowPlace = r.relatedPlace(q.Type)
	case GraphTraverse:
		if _, ok := mapping(c, v, "op", "of", "type", "depth", "directed", "rows"); !ok {
			return
		}
		if q.Of, ok2 = must("of"); !ok2 {
			return
		}
		q.Type, _ = m["type"].(string)
		q.Depth = intArg("depth", 1)
		q.Directed = true
		if d, ok := m["directed"].(bool); ok {
			q.Directed = d
		}
		rowPlace = graphRowPlace
	default:
		c.addf("scenario error: unknown graph op %q", op)
		return
	}
	res, err := r.d.Graph(r.ctx, q)
	if err != nil {
		c.addf("Graph(%+v) failed: %v", q, err)
		return
	}
	act, _ := res.([]any)
	if res == nil {
		act = []any{}
	}
	if op == GraphPath {
		exp, err := r.prep(m["path"], refPlace)
		if err != nil {
			c.addf("scenario error: path: %v", err)
			return
		}
		c.add(matchValue(exp, act, true, refPlace, "path")...)
		return
	}
	exp, err := r.prep(m["rows"], rowPlace)
	if err != nil {
		c.addf("scenario error: rows: %v", err)
		return
	}
	list, _ := exp.([]any)
	cmp := func(e, a any) []string { return matchValue(e, a, true, rowPlace, "") }
	if lines := matchList(list, act, false, false, cmp, "rows"); len(lines) > 0 {
		c.add(lines...)
		c.add(dumpRows(act)...)
	}
}
