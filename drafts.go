package defacto

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"sort"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/store"
)

// Draft is a mutable copy of a stored definition version, to be registered
// under a new name. Edits check only their own preconditions and leave the
// draft unchanged when they fail; whole-set validation waits for Validate or
// Register, so multi-step edits may pass through incomplete states.
type Draft struct {
	e       *Engine
	name    string
	base    map[string]any
	doc     map[string]any
	baseSet *definition.Set
}

// Draft starts a draft named version based on basedOn ("" = the active
// version).
func (e *Engine) Draft(ctx context.Context, version, basedOn string) (*Draft, error) {
	if basedOn == "" {
		basedOn = e.act().version
	}
	raw, err := e.Definitions(ctx, basedOn)
	if err != nil {
		return nil, err
	}
	base, err := decodeDoc(raw)
	if err != nil {
		return nil, err
	}
	doc, _ := decodeDoc(raw)
	set, res, err := definition.LoadBytes(raw, basedOn+".json")
	if err := definitionsErr(res, err); err != nil {
		return nil, err
	}
	return &Draft{e: e, name: version, base: base, doc: doc, baseSet: set}, nil
}

func decodeDoc(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, errorf(ErrDefinition, "stored definitions: %v", err)
	}
	for _, k := range []string{"entities", "sources", "schemas"} {
		if _, ok := m[k].(map[string]any); !ok {
			m[k] = map[string]any{}
		}
	}
	return m, nil
}

func (d *Draft) kind(k string) map[string]any { return d.doc[k].(map[string]any) }

func (d *Draft) entity(name string) (map[string]any, error) {
	ent, ok := d.kind("entities")[name].(map[string]any)
	if !ok {
		return nil, errorf(ErrDefinition, "draft: no entity '%s'%s", name, suggestion(name, keys(d.kind("entities"))))
	}
	return ent, nil
}

// normalizeSpec turns a Go value into the JSON shapes the document holds.
func normalizeSpec(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errorf(ErrDefinition, "draft: element is not JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, errorf(ErrDefinition, "draft: %v", err)
	}
	return out, nil
}

// orderedList is the canonical encoding of an ordered map: a list of
// single-member objects.
func orderedIndex(list []any, name string) int {
	for i, item := range list {
		if m, ok := item.(map[string]any); ok {
			if _, ok := m[name]; ok {
				return i
			}
		}
	}
	return -1
}

// AddProperty adds property name with spec ({type: …, default: …}) to an
// entity.
func (d *Draft) AddProperty(entity, name string, spec map[string]any) error {
	ent, err := d.entity(entity)
	if err != nil {
		return err
	}
	props, _ := ent["properties"].([]any)
	if orderedIndex(props, name) >= 0 {
		return errorf(ErrDefinition, "draft: entity '%s' already has property '%s'", entity, name)
	}
	if _, ok := spec["type"]; !ok {
		return errorf(ErrDefinition, "draft: property '%s' needs a type", name)
	}
	if err := checkExprs(spec, "compute"); err != nil {
		return err
	}
	v, err := normalizeSpec(spec)
	if err != nil {
		return err
	}
	ent["properties"] = append(props, map[string]any{name: v})
	return nil
}

// RemoveProperty removes a property from an entity.
func (d *Draft) RemoveProperty(entity, name string) error {
	ent, err := d.entity(entity)
	if err != nil {
		return err
	}
	props, _ := ent["properties"].([]any)
	i := orderedIndex(props, name)
	if i < 0 {
		return errorf(ErrDefinition, "draft: entity '%s' has no property '%s'", entity, name)
	}
	ent["properties"] = append(append([]any{}, props[:i]...), props[i+1:]...)
	return nil
}

func (d *Draft) states(entity string) (map[string]any, error) {
	ent, err := d.entity(entity)
	if err != nil {
		return nil, err
	}
	st, ok := ent["states"].(map[string]any)
	if !ok {
		st = map[string]any{}
		ent["states"] = st
	}
	return st, nil
}

// AddState adds a state (spec may be nil for a terminal state).
func (d *Draft) AddState(entity, name string, spec map[string]any) error {
	st, err := d.states(entity)
	if err != nil {
		return err
	}
	if _, ok := st[name]; ok {
		return errorf(ErrDefinition, "draft: entity '%s' already has state '%s'", entity, name)
	}
	var v any = map[string]any{}
	if spec != nil {
		if v, err = normalizeSpec(spec); err != nil {
			return err
		}
	}
	st[name] = v
	return nil
}

// RemoveState removes a state.
func (d *Draft) RemoveState(entity, name string) error {
	st, err := d.states(entity)
	if err != nil {
		return err
	}
	if _, ok := st[name]; !ok {
		return errorf(ErrDefinition, "draft: entity '%s' has no state '%s'%s", entity, name, suggestion(name, keys(st)))
	}
	delete(st, name)
	return nil
}

// AddTransition adds a handler whose only effect is a transition to `to`.
func (d *Draft) AddTransition(entity, state, eventType, to string) error {
	return d.AddHandler(entity, state, eventType, map[string]any{
		"effects": []any{map[string]any{"transition": map[string]any{"to": to}}},
	})
}

// AddHandler adds a handler for eventType in state; an error if the state
// already handles that type.
func (d *Draft) AddHandler(entity, state, eventType string, handler map[string]any) error {
	st, err := d.states(entity)
	if err != nil {
		return err
	}
	s, ok := st[state].(map[string]any)
	if !ok {
		if _, exists := st[state]; !exists {
			return errorf(ErrDefinition, "draft: entity '%s' has no state '%s'%s", entity, state, suggestion(state, keys(st)))
		}
		s = map[string]any{}
	}
	when, _ := s["when"].(map[string]any)
	if when == nil {
		when = map[string]any{}
	}
	if _, ok := when[eventType]; ok {
		return errorf(ErrDefinition, "draft: state '%s' of '%s' already handles '%s'", state, entity, eventType)
	}
	if _, ok := handler["effects"]; !ok {
		return errorf(ErrDefinition, "draft: a handler needs effects")
	}
	if err := checkExprs(handler, "guard"); err != nil {
		return err
	}
	v, err := normalizeSpec(handler)
	if err != nil {
		return err
	}
	when[eventType] = v
	s["when"] = when
	st[state] = s
	return nil
}

// UpdateIdentity replaces an entity's identity block: an ordered list of
// {field: config} objects, as in the canonical form, or a map for a single
// field.
func (d *Draft) UpdateIdentity(entity string, block any) error {
	ent, err := d.entity(entity)
	if err != nil {
		return err
	}
	v, err := normalizeSpec(block)
	if err != nil {
		return err
	}
	ent["identity"] = v
	return nil
}

// Set replaces or adds a whole entity, source or schema (kind "entities",
// "sources" or "schemas").
func (d *Draft) Set(kind, name string, spec any) error {
	m, ok := d.doc[kind].(map[string]any)
	if !ok {
		return errorf(ErrDefinition, "draft: unknown kind '%s' (entities, sources, schemas)", kind)
	}
	v, err := normalizeSpec(spec)
	if err != nil {
		return err
	}
	m[name] = v
	return nil
}

// Remove deletes a whole entity, source or schema.
func (d *Draft) Remove(kind, name string) error {
	m, ok := d.doc[kind].(map[string]any)
	if !ok {
		return errorf(ErrDefinition, "draft: unknown kind '%s' (entities, sources, schemas)", kind)
	}
	if _, ok := m[name]; !ok {
		return errorf(ErrDefinition, "draft: no %s '%s'%s", kind, name, suggestion(name, keys(m)))
	}
	delete(m, name)
	return nil
}

func checkExprs(spec map[string]any, keys ...string) error {
	for _, k := range keys {
		if s, ok := spec[k].(string); ok {
			if _, err := expr.Parse(s); err != nil {
				return errorf(ErrDefinition, "draft: %s: %v", k, err)
			}
		}
	}
	return nil
}

func (d *Draft) bytes() []byte {
	b, _ := json.Marshal(d.doc)
	return b
}

// Validate runs full validation on the draft.
func (d *Draft) Validate() *ValidationResult { return ValidateBytes(d.bytes()) }

// Impact predicts the build activating the draft would run.
func (d *Draft) Impact(ctx context.Context) (*Impact, error) {
	defs, err := ParseDefinitions(d.bytes())
	if err != nil {
		return nil, err
	}
	out := &Impact{}
	err = d.e.st.Read(ctx, func(tx store.Tx) error {
		det, err := detectFor(ctx, tx, defs.set, d.name, d.e.cfg.ShardID, BuildOptions{})
		if err != nil {
			return err
		}
		out.Mode, out.Reasons = det.mode, det.reasons
		return nil
	})
	if err != nil {
		return nil, storageErr("draft impact", err)
	}
	return out, nil
}

// Impact is a predicted build.
type Impact struct {
	Mode    string   `json:"mode"`
	Reasons []string `json:"reasons"`
}

// Register registers the draft under its name.
func (d *Draft) Register(ctx context.Context) (*RegisterResult, error) {
	defs, err := ParseDefinitions(d.bytes())
	if err != nil {
		return nil, err
	}
	return d.e.Register(ctx, d.name, defs)
}

// Diff lists the changes of the draft against its base.
func (d *Draft) Diff() *DefinitionDiff { return diffDocs(d.base, d.doc) }

// DefinitionDiff is the set of changes between two definition versions.
type DefinitionDiff struct {
	Entities *KindDiff `json:"entities,omitempty"`
	Sources  *KindDiff `json:"sources,omitempty"`
	Schemas  *KindDiff `json:"schemas,omitempty"`
}

// KindDiff lists added, removed and modified names of one kind.
type KindDiff struct {
	Added    []string               `json:"added,omitempty"`
	Removed  []string               `json:"removed,omitempty"`
	Modified []string               `json:"modified,omitempty"`
	Changes  map[string]*EntityDiff `json:"changes,omitempty"`
}

// EntityDiff details the changes of one modified entity.
type EntityDiff struct {
	Properties           *MemberDiff `json:"properties,omitempty"`
	States               *MemberDiff `json:"states,omitempty"`
	IdentityChanged      bool        `json:"identity_changed,omitempty"`
	RelationshipsChanged bool        `json:"relationships_changed,omitempty"`
	AlwaysChanged        bool        `json:"always_changed,omitempty"`
	StartsChanged        bool        `json:"starts_changed,omitempty"`
}

// MemberDiff lists added, removed and changed members.
type MemberDiff struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

func (m *MemberDiff) empty() bool { return len(m.Added)+len(m.Removed)+len(m.Changed) == 0 }

// DiffVersions compares two stored versions.
func (e *Engine) DiffVersions(ctx context.Context, a, b string) (*DefinitionDiff, error) {
	ra, err := e.Definitions(ctx, a)
	if err != nil {
		return nil, err
	}
	rb, err := e.Definitions(ctx, b)
	if err != nil {
		return nil, err
	}
	da, err := decodeDoc(ra)
	if err != nil {
		return nil, err
	}
	db, err := decodeDoc(rb)
	if err != nil {
		return nil, err
	}
	return diffDocs(da, db), nil
}

func diffDocs(a, b map[string]any) *DefinitionDiff {
	out := &DefinitionDiff{}
	for _, kind := range []string{"entities", "sources", "schemas"} {
		ma, _ := a[kind].(map[string]any)
		mb, _ := b[kind].(map[string]any)
		kd := &KindDiff{}
		for _, n := range keys(mb) {
			if _, ok := ma[n]; !ok {
				kd.Added = append(kd.Added, n)
			} else if !reflect.DeepEqual(ma[n], mb[n]) {
				kd.Modified = append(kd.Modified, n)
				if kind == "entities" {
					if kd.Changes == nil {
						kd.Changes = map[string]*EntityDiff{}
					}
					kd.Changes[n] = diffEntity(ma[n], mb[n])
				}
			}
		}
		for _, n := range keys(ma) {
			if _, ok := mb[n]; !ok {
				kd.Removed = append(kd.Removed, n)
			}
		}
		if len(kd.Added)+len(kd.Removed)+len(kd.Modified) == 0 {
			continue
		}
		switch kind {
		case "entities":
			out.Entities = kd
		case "sources":
			out.Sources = kd
		default:
			out.Schemas = kd
		}
	}
	return out
}

func diffEntity(a, b any) *EntityDiff {
	ea, _ := a.(map[string]any)
	eb, _ := b.(map[string]any)
	d := &EntityDiff{
		IdentityChanged:      !reflect.DeepEqual(ea["identity"], eb["identity"]),
		RelationshipsChanged: !reflect.DeepEqual(ea["relationships"], eb["relationships"]),
		AlwaysChanged:        !reflect.DeepEqual(ea["always"], eb["always"]),
		StartsChanged:        !reflect.DeepEqual(ea["starts"], eb["starts"]),
	}
	if p := diffMembers(orderedMap(ea["properties"]), orderedMap(eb["properties"])); !p.empty() {
		d.Properties = p
	}
	sa, _ := ea["states"].(map[string]any)
	sb, _ := eb["states"].(map[string]any)
	if s := diffMembers(sa, sb); !s.empty() {
		d.States = s
	}
	return d
}

// orderedMap flattens the canonical list-of-single-member-objects form.
func orderedMap(v any) map[string]any {
	out := map[string]any{}
	switch x := v.(type) {
	case []any:
		for _, item := range x {
			if m, ok := item.(map[string]any); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		}
	case map[string]any:
		return x
	}
	return out
}

func diffMembers(a, b map[string]any) *MemberDiff {
	d := &MemberDiff{}
	for _, n := range keys(b) {
		if _, ok := a[n]; !ok {
			d.Added = append(d.Added, n)
		} else if !reflect.DeepEqual(a[n], b[n]) {
			d.Changed = append(d.Changed, n)
		}
	}
	for _, n := range keys(a) {
		if _, ok := b[n]; !ok {
			d.Removed = append(d.Removed, n)
		}
	}
	sort.Strings(d.Added)
	return d
}
