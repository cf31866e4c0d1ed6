// Package scenario loads conformance scenarios and checks their
// expectations, independent of how the engine is driven.
//
// A scenario (testdata/conformance/README.md) is one YAML file holding a
// definition set, a list of steps and the expectations on the engine's
// answers. LoadDir and Load parse the files; Run executes one scenario
// against a Driver (the Go library or the CLI) and reports every failed
// expectation with the file, the step and a precise diff.
package scenario

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is one parsed scenario file.
type Scenario struct {
	File   string // path as given to Load
	ID     string
	Name   string
	Tags   []string
	Covers []string
	What   string
	Notes  string

	Clock     time.Time
	ClockText string
	Config    Config

	// Definitions is the scenario's definition set as YAML; Defs its
	// entity summary (types, identity fields, property types).
	Definitions []byte
	Defs        *Defs

	Steps []*Step
	// HasOpen is true when an open step opens the engine (nothing is open
	// before it).
	HasOpen bool
}

// Step kinds.
const (
	StepOpen     = "open"
	StepValidate = "validate"
	StepIngest   = "ingest"
	StepBuild    = "build"
	StepTick     = "tick"
	StepMerge    = "merge"
	StepErase    = "erase"
	StepRedact   = "redact"
	StepRegister = "register"
	StepActivate = "activate"
	StepEval     = "eval"
	StepReopen   = "reopen"
	StepCapture  = "capture"
	StepClock    = "clock"
	StepExpect   = "expect"
)

// Step is one parsed step. Only the fields of its Kind are set; refs are
// kept as written and resolved when the step runs.
type Step struct {
	Index int // position in steps, from 0
	Line  int
	Kind  string

	// ingest
	Source  string
	Process bool
	Events  []json.RawMessage
	// build
	Full, FromRaw bool
	// tick
	AsOf string
	// merge (refs)
	From, Into, Reason string
	// erase, redact (ref)
	Entity string
	// register (literal), activate (literal or version handle)
	Version string
	// validate, register, reopen: nil when absent
	Definitions []byte
	Defs        *Defs
	// reopen: nil when absent
	Config *Config
	// eval
	Expr          string
	Event, Object json.RawMessage // Object is the eval step's entity
	Value         *string
	// capture
	Captures []Capture
	// clock
	Clock time.Time
	// expect
	Expectations []*Expectation
}

// Capture binds a handle to a ref (or "version active").
type Capture struct {
	Name string
	Ref  string
}

// Expectation is one expectation kind of an expect step with its value in
// generic form (README §7).
type Expectation struct {
	Kind  string
	Line  int
	Value any
}

// Defs summarizes a definition set for the runner: which entity types and
// identity fields refs may name, and which columns hold instants.
type Defs struct {
	Entities      map[string]*EntityDef
	Relationships map[string]*RelationshipDef // by relationship type
}

// EntityDef is one entity type.
type EntityDef struct {
	Name       string
	Identity   []string
	Properties map[string]string // name → type
}

// RelationshipDef is one relationship type.
type RelationshipDef struct {
	Type       string
	Source     string // declaring entity
	Target     string
	Properties map[string]string // name → type
}

// HasIdentity reports whether the entity type has the identity field.
func (e *EntityDef) HasIdentity(field string) bool { return slices.Contains(e.Identity, field) }

var fileRE = regexp.MustCompile(`^(\d{3})-([a-z0-9]+(?:-[a-z0-9]+)*)\.yaml$`)

// LoadDir loads every scenario file (NNN-name.yaml) of dir, in file order.
func LoadDir(dir string) ([]*Scenario, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	var errs []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		s, err := Load(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out = append(out, s)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// Load parses one scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.File = path
	if m := fileRE.FindStringSubmatch(filepath.Base(path)); m != nil {
		if s.ID != m[1] {
			return nil, fmt.Errorf("%s: id %q differs from the file name prefix %q", path, s.ID, m[1])
		}
		if s.Name != m[2] {
			return nil, fmt.Errorf("%s: name %q differs from the file name %q", path, s.Name, m[2])
		}
	}
	return s, nil
}

// Parse parses scenario YAML.
func Parse(data []byte) (*Scenario, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	root := resolveAlias(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = resolveAlias(root.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("a scenario must be a YAML mapping")
	}
	s := &Scenario{}
	seen := map[string]bool{}
	var stepsNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i].Value, resolveAlias(root.Content[i+1])
		if seen[k] {
			return nil, fmt.Errorf("line %d: duplicate key %q", root.Content[i].Line, k)
		}
		seen[k] = true
		var err error
		switch k {
		case "id":
			s.ID, err = scalarString(v)
		case "name":
			s.Name, err = scalarString(v)
		case "tags":
			s.Tags, err = stringList(v)
		case "covers":
			s.Covers, err = stringList(v)
		case "what":
			s.What, err = scalarString(v)
		case "notes":
			s.Notes, err = scalarString(v)
		case "clock":
			s.ClockText, err = scalarString(v)
			if err == nil {
				s.Clock, err = parseInstant(s.ClockText)
			}
		case "config":
			var c *Config
			c, err = parseConfig(v)
			if c != nil {
				s.Config = *c
			}
		case "definitions":
			s.Definitions, s.Defs, err = parseDefinitions(v)
		case "steps":
			stepsNode = v
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", v.Line, k, err)
		}
	}
	for _, k := range []string{"id", "name", "tags", "covers", "what", "clock", "definitions", "steps"} {
		if !seen[k] {
			return nil, fmt.Errorf("missing required key %q", k)
		}
	}
	if stepsNode.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: steps must be a list", stepsNode.Line)
	}
	for i, n := range stepsNode.Content {
		st, err := parseStep(resolveAlias(n))
		if err != nil {
			return nil, fmt.Errorf("steps[%d] (line %d): %w", i, n.Line, err)
		}
		st.Index = i
		if st.Kind == StepOpen {
			s.HasOpen = true
		}
		s.Steps = append(s.Steps, st)
	}
	return s, nil
}

// Skipped returns the tags of s that are in skipTags (nil when the scenario
// runs).
func Skipped(s *Scenario, skipTags []string) []string {
	var out []string
	for _, t := range s.Tags {
		if slices.Contains(skipTags, t) {
			out = append(out, t)
		}
	}
	return out
}

func parseInstant(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not an RFC 3339 instant with offset: %q", s)
	}
	return t, nil
}

func scalarString(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("expected a scalar")
	}
	return n.Value, nil
}

func stringList(n *yaml.Node) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("expected a list")
	}
	out := []string{}
	for _, c := range n.Content {
		c = resolveAlias(c)
		if c.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: expected a string", c.Line)
		}
		out = append(out, c.Value)
	}
	return out, nil
}

// mappingPairs returns the key/value pairs of a mapping node, rejecting
// duplicate keys.
func mappingPairs(n *yaml.Node) ([][2]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	var out [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolveAlias(n.Content[i])
		if seen[k.Value] {
			return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, resolveAlias(n.Content[i+1])})
	}
	return out, nil
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func parseConfig(n *yaml.Node) (*Config, error) {
	if isNull(n) {
		return &Config{}, nil
	}
	pairs, err := mappingPairs(n)
	if err != nil {
		return nil, err
	}
	c := &Config{}
	for _, p := range pairs {
		k, v := p[0].Value, p[1]
		switch k {
		case "batch_size":
			if v.ShortTag() != "!!int" {
				return nil, fmt.Errorf("batch_size must be an integer")
			}
			c.BatchSize, err = strconv.Atoi(v.Value)
			if err != nil {
				return nil, fmt.Errorf("batch_size: %w", err)
			}
		case "auto_build":
			var b bool
			if v.ShortTag() != "!!bool" {
				return nil, fmt.Errorf("auto_build must be a boolean")
			}
			if err := v.Decode(&b); err != nil {
				return nil, err
			}
			c.AutoBuild = &b
		case "salt":
			if v.Kind != yaml.ScalarNode || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(v.Value) {
				return nil, fmt.Errorf("salt must be 64 lower-case hex characters")
			}
			c.Salt = v.Value
		default:
			return nil, fmt.Errorf("unknown config key %q", k)
		}
	}
	return c, nil
}

// parseDefinitions re-encodes a definition node as YAML and summarizes it.
func parseDefinitions(n *yaml.Node) ([]byte, *Defs, error) {
	data, err := NodeYAML(n)
	if err != nil {
		return nil, nil, err
	}
	defs, err := summarizeDefs(n)
	if err != nil {
		return nil, nil, err
	}
	return data, defs, nil
}

// summarizeDefs reads what the runner needs from a definition set. It is
// lenient: invalid definitions (validation scenarios) give what can be read.
func summarizeDefs(n *yaml.Node) (*Defs, error) {
	var raw struct {
		Entities map[string]struct {
			Identity   map[string]any `yaml:"identity"`
			Properties map[string]struct {
				Type string `yaml:"type"`
			} `yaml:"properties"`
			Relationships []struct {
				Type       string `yaml:"type"`
				Target     string `yaml:"target"`
				Properties map[string]struct {
					Type string `yaml:"type"`
				} `yaml:"properties"`
			} `yaml:"relationships"`
		} `yaml:"entities"`
	}
	defs := &Defs{Entities: map[string]*EntityDef{}, Relationships: map[string]*RelationshipDef{}}
	if err := n.Decode(&raw); err != nil {
		return defs, nil // invalid shape: validation scenarios only
	}
	// identity field order: read it from the node to keep definition order.
	order := identityOrder(n)
	for name, e := range raw.Entities {
		ed := &EntityDef{Name: name, Properties: map[string]string{}}
		if o, ok := order[name]; ok {
			ed.Identity = o
		} else {
			for f := range e.Identity {
				ed.Identity = append(ed.Identity, f)
			}
			sort.Strings(ed.Identity)
		}
		for p, def := range e.Properties {
			ed.Properties[p] = def.Type
		}
		defs.Entities[name] = ed
		for _, r := range e.Relationships {
			rd := &RelationshipDef{Type: r.Type, Source: name, Target: r.Target, Properties: map[string]string{}}
			for p, def := range r.Properties {
				rd.Properties[p] = def.Type
			}
			defs.Relationships[r.Type] = rd
		}
	}
	return defs, nil
}

func identityOrder(n *yaml.Node) map[string][]string {
	out := map[string][]string{}
	ents := child(n, "entities")
	if ents == nil || ents.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(ents.Content); i += 2 {
		id := child(resolveAlias(ents.Content[i+1]), "identity")
		if id == nil || id.Kind != yaml.MappingNode {
			continue
		}
		var fields []string
		for j := 0; j+1 < len(id.Content); j += 2 {
			fields = append(fields, id.Content[j].Value)
		}
		out[ents.Content[i].Value] = fields
	}
	return out
}

func child(n *yaml.Node, key string) *yaml.Node {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolveAlias(n.Content[i+1])
		}
	}
	return nil
}

// checkKeys rejects keys of a step body outside allowed and reports missing
// required ones.
func checkKeys(pairs [][2]*yaml.Node, allowed []string, required ...string) error {
	have := map[string]bool{}
	for _, p := range pairs {
		if !slices.Contains(allowed, p[0].Value) {
			return fmt.Errorf("line %d: unknown key %q (allowed: %s)", p[0].Line, p[0].Value, strings.Join(allowed, ", "))
		}
		have[p[0].Value] = true
	}
	for _, r := range required {
		if !have[r] {
			return fmt.Errorf("missing required key %q", r)
		}
	}
	return nil
}

func boolValue(n *yaml.Node) (bool, error) {
	if n.ShortTag() != "!!bool" {
		return false, fmt.Errorf("line %d: expected a boolean", n.Line)
	}
	var b bool
	err := n.Decode(&b)
	return b, err
}

func parseStep(n *yaml.Node) (*Step, error) {
	pairs, err := mappingPairs(n)
	if err != nil {
		return nil, err
	}
	if len(pairs) != 1 {
		return nil, fmt.Errorf("a step must be a mapping with exactly one key")
	}
	kind, body := pairs[0][0].Value, pairs[0][1]
	st := &Step{Kind: kind, Line: pairs[0][0].Line}
	var bp [][2]*yaml.Node
	switch kind {
	case StepClock:
		s, err := scalarString(body)
		if err != nil {
			return nil, err
		}
		st.Clock, err = parseInstant(s)
		return st, err
	case StepExpect:
		bp, err = mappingPairs(body)
		if err != nil {
			return nil, err
		}
		for _, p := range bp {
			if !slices.Contains(expectationKinds, p[0].Value) {
				return nil, fmt.Errorf("line %d: unknown expectation kind %q", p[0].Line, p[0].Value)
			}
			v, err := NodeValue(p[1])
			if err != nil {
				return nil, err
			}
			st.Expectations = append(st.Expectations, &Expectation{Kind: p[0].Value, Line: p[0].Line, Value: v})
		}
		return st, nil
	}
	if isNull(body) {
		bp = nil
	} else if bp, err = mappingPairs(body); err != nil {
		return nil, err
	}
	get := func(k string) *yaml.Node {
		for _, p := range bp {
			if p[0].Value == k {
				return p[1]
			}
		}
		return nil
	}
	str := func(k string) (string, error) {
		v := get(k)
		if v == nil {
			return "", nil
		}
		return scalarString(v)
	}
	switch kind {
	case StepOpen:
		return st, checkKeys(bp, nil)
	case StepValidate:
		if err := checkKeys(bp, []string{"definitions"}); err != nil {
			return nil, err
		}
		if d := get("definitions"); d != nil {
			st.Definitions, st.Defs, err = parseDefinitions(d)
		}
		return st, err
	case StepIngest:
		if err := checkKeys(bp, []string{"source", "process", "events"}, "source", "process", "events"); err != nil {
			return nil, err
		}
		if st.Source, err = str("source"); err != nil {
			return nil, err
		}
		if st.Process, err = boolValue(get("process")); err != nil {
			return nil, err
		}
		ev := get("events")
		if isNull(ev) {
			ev = &yaml.Node{Kind: yaml.SequenceNode}
		}
		if ev.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("line %d: events must be a list", ev.Line)
		}
		st.Events = []json.RawMessage{}
		for _, e := range ev.Content {
			raw, err := NodeToJSON(e)
			if err != nil {
				return nil, err
			}
			st.Events = append(st.Events, raw)
		}
		return st, nil
	case StepBuild:
		if err := checkKeys(bp, []string{"full", "from_raw"}); err != nil {
			return nil, err
		}
		if v := get("full"); v != nil {
			if st.Full, err = boolValue(v); err != nil {
				return nil, err
			}
		}
		if v := get("from_raw"); v != nil {
			if st.FromRaw, err = boolValue(v); err != nil {
				return nil, err
			}
		}
		return st, nil
	case StepTick:
		if err := checkKeys(bp, []string{"as_of"}); err != nil {
			return nil, err
		}
		st.AsOf, err = str("as_of")
		return st, err
	case StepMerge:
		if err := checkKeys(bp, []string{"from", "into", "reason"}, "from", "into"); err != nil {
			return nil, err
		}
		if st.From, err = str("from"); err != nil {
			return nil, err
		}
		if st.Into, err = str("into"); err != nil {
			return nil, err
		}
		st.Reason, err = str("reason")
		return st, err
	case StepErase, StepRedact:
		if err := checkKeys(bp, []string{"entity"}, "entity"); err != nil {
			return nil, err
		}
		st.Entity, err = str("entity")
		return st, err
	case StepRegister:
		if err := checkKeys(bp, []string{"version", "definitions"}, "version", "definitions"); err != nil {
			return nil, err
		}
		if st.Version, err = str("version"); err != nil {
			return nil, err
		}
		st.Definitions, st.Defs, err = parseDefinitions(get("definitions"))
		return st, err
	case StepActivate:
		if err := checkKeys(bp, []string{"version"}, "version"); err != nil {
			return nil, err
		}
		st.Version, err = str("version")
		return st, err
	case StepEval:
		if err := checkKeys(bp, []string{"expr", "event", "entity", "value"}, "expr"); err != nil {
			return nil, err
		}
		if st.Expr, err = str("expr"); err != nil {
			return nil, err
		}
		if v := get("event"); v != nil {
			if st.Event, err = NodeToJSON(v); err != nil {
				return nil, err
			}
		}
		if v := get("entity"); v != nil {
			if st.Object, err = NodeToJSON(v); err != nil {
				return nil, err
			}
		}
		if v := get("value"); v != nil {
			s, err := scalarString(v)
			if err != nil {
				return nil, err
			}
			st.Value = &s
		}
		return st, nil
	case StepReopen:
		if err := checkKeys(bp, []string{"definitions", "config"}); err != nil {
			return nil, err
		}
		if d := get("definitions"); d != nil {
			if st.Definitions, st.Defs, err = parseDefinitions(d); err != nil {
				return nil, err
			}
		}
		if c := get("config"); c != nil {
			if st.Config, err = parseConfig(c); err != nil {
				return nil, err
			}
		}
		return st, nil
	case StepCapture:
		if len(bp) == 0 {
			return nil, fmt.Errorf("capture needs at least one handle")
		}
		for _, p := range bp {
			ref, err := scalarString(p[1])
			if err != nil {
				return nil, err
			}
			if !handleNameRE.MatchString(p[0].Value) {
				return nil, fmt.Errorf("line %d: invalid handle name %q", p[0].Line, p[0].Value)
			}
			st.Captures = append(st.Captures, Capture{Name: p[0].Value, Ref: ref})
		}
		return st, nil
	}
	return nil, fmt.Errorf("unknown step %q", kind)
}

var expectationKinds = []string{
	"result", "error", "table", "history", "as_of", "identity", "ledger",
	"build_status", "relationships", "timeline", "versions", "graph",
}

var handleNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
