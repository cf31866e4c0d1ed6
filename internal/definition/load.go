package definition

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The three kinds of definitions, as named in the in-memory form.
const (
	kindEntities = "entities"
	kindSources  = "sources"
	kindSchemas  = "schemas"
)

var kinds = []string{kindEntities, kindSources, kindSchemas}

// singular names a definition kind in messages.
var singular = map[string]string{kindEntities: "entity", kindSources: "source", kindSchemas: "schema"}

// rawDef is one definition found in a file, before decoding.
type rawDef struct {
	name string
	file string
	k, v *yaml.Node
}

// loader holds the state of one load: the problems found, where every
// element was written, and the side information validation needs after all
// definitions are decoded.
type loader struct {
	file   string
	probs  []Problem
	nerr   int // errors among probs
	pos    map[string]pos
	keyPos map[string]pos
	// misspelled holds the paths of members written under a misspelled key
	// (already reported as unknown), so they are not reported missing too.
	misspelled map[string]bool
	// evBroken marks source events whose mappings did not decode cleanly:
	// checks against their outputs would only repeat those errors.
	evBroken map[*SourceEvent]bool
	// outputsUnknown marks event types some of whose producers are broken.
	outputsUnknown map[string]bool
	visits         int
	depth          int
	exhausted      bool

	defs map[string][]rawDef // by kind, in file order
	seen map[string]map[string]rawDef

	set      *Set
	entities map[string]*entityInfo
	schemas  map[string]*Schema

	relPaths map[*Relationship]string
	evPaths  map[*SourceEvent]string
	mapPaths map[*Mapping]string

	exprs   []exprSite
	froms   []fromSite
	relates []relateSite
}

func newLoader() *loader {
	return &loader{
		pos:            map[string]pos{},
		keyPos:         map[string]pos{},
		misspelled:     map[string]bool{},
		evBroken:       map[*SourceEvent]bool{},
		outputsUnknown: map[string]bool{},
		defs:           map[string][]rawDef{},
		seen:           map[string]map[string]rawDef{},
		entities:       map[string]*entityInfo{},
		schemas:        map[string]*Schema{},
		relPaths:       map[*Relationship]string{},
		evPaths:        map[*SourceEvent]string{},
		mapPaths:       map[*Mapping]string{},
	}
}

// LoadDir loads the project directory dir: the .yaml and .yml files directly
// inside its optional sub-directories entities/, sources/ and schemas/ (or
// its alias events/), each in ascending byte order of file name.
//
// It returns the validated set and the validation result. When the set has
// errors the set is nil and the error is an *Error (errors.Is ErrInvalid);
// an unreadable directory yields an I/O error and a nil Result.
func LoadDir(dir string) (*Set, *Result, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("definitions: %w", err)
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("definitions: %s is not a directory", dir)
	}
	files := map[string][]byte{}
	var names []string
	for _, sub := range []string{kindEntities, kindSources, kindSchemas, "events"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, nil, fmt.Errorf("definitions: %w", err)
		}
		// os.ReadDir sorts by file name, i.e. in byte order.
		for _, e := range entries {
			n := e.Name()
			if !strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".yml") {
				continue
			}
			p := filepath.Join(dir, sub, n)
			st, err := os.Stat(p) // follows symlinks
			if err != nil {
				return nil, nil, fmt.Errorf("definitions: %w", err)
			}
			if !st.Mode().IsRegular() {
				continue
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, nil, fmt.Errorf("definitions: %w", err)
			}
			key := sub + "/" + n
			files[key] = data
			names = append(names, key)
		}
	}
	l := newLoader()
	for _, key := range names {
		sub, _, _ := strings.Cut(key, "/")
		l.file = filepath.Join(dir, filepath.FromSlash(key))
		l.readDefinitionFile(sub, files[key])
	}
	return l.finish()
}

// LoadFiles loads a project given as file contents keyed by slash-separated
// paths relative to the project directory ("entities/customer.yaml"). Files
// outside the definition sub-directories, or not ending in .yaml or .yml,
// are ignored, like LoadDir ignores them.
func LoadFiles(files map[string][]byte) (*Set, *Result, error) {
	var names []string
	for name := range files {
		sub, base, ok := strings.Cut(name, "/")
		if !ok || strings.Contains(base, "/") {
			continue
		}
		switch sub {
		case kindEntities, kindSources, kindSchemas, "events":
		default:
			continue
		}
		if strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml") {
			names = append(names, name)
		}
	}
	order := map[string]int{kindEntities: 0, kindSources: 1, kindSchemas: 2, "events": 3}
	slices.SortFunc(names, func(a, b string) int {
		sa, fa, _ := strings.Cut(a, "/")
		sb, fb, _ := strings.Cut(b, "/")
		if order[sa] != order[sb] {
			return order[sa] - order[sb]
		}
		return strings.Compare(fa, fb)
	})
	l := newLoader()
	for _, name := range names {
		sub, _, _ := strings.Cut(name, "/")
		l.file = name
		l.readDefinitionFile(sub, files[name])
	}
	return l.finish()
}

// LoadBytes loads an in-memory set {entities: …, sources: …, schemas: …}
// written in YAML or JSON (JSON is YAML). filename is only used in problem
// positions and may be empty.
func LoadBytes(data []byte, filename string) (*Set, *Result, error) {
	l := newLoader()
	l.file = filename
	l.readSet(l.parseDoc(data))
	return l.finish()
}

// readSet collects the definitions of an in-memory set's root node.
func (l *loader) readSet(root *yaml.Node) {
	if root != nil && !l.isNull(root) {
		if members, ok := l.mapping(root, ""); ok {
			for _, e := range members {
				if !contains(kinds, e.key) {
					l.problemAt(e.k, KindUnknownKey, e.key, fmt.Sprintf("unknown member %q of the definition set%s", e.key, didYouMeanOr(e.key, kinds)))
					continue
				}
				l.mark(e.key, e.k, l.resolveQuiet(e.v))
				if l.isNull(e.v) {
					continue
				}
				defs, ok := l.mapping(e.v, e.key)
				if !ok {
					continue
				}
				for _, d := range defs {
					l.addDef(e.key, d)
				}
			}
		}
	}
}

// LoadCanonical loads a set stored in canonical form (Set.Canonical). It is
// LoadBytes with the result reduced to an error: stored versions were
// validated when registered, so a problem here means corruption or a
// validator change, and the caller cannot do much with warnings.
func LoadCanonical(data []byte) (*Set, error) {
	s, _, err := LoadBytes(data, "")
	return s, err
}

// readDefinitionFile reads one file of a project sub-directory: a mapping of
// definition names to definitions.
func (l *loader) readDefinitionFile(sub string, data []byte) {
	kind := sub
	if sub == "events" {
		kind = kindSchemas
	}
	root := l.parseDoc(data)
	if root == nil {
		return
	}
	defs, ok := l.mapping(root, kind)
	if !ok {
		return
	}
	for _, d := range defs {
		l.addDef(kind, d)
	}
}

// addDef registers one definition, rejecting a second one of the same name.
func (l *loader) addDef(kind string, e entry) {
	path := join(kind, e.key)
	d := rawDef{name: e.key, file: l.file, k: e.k, v: e.v}
	if l.seen[kind] == nil {
		l.seen[kind] = map[string]rawDef{}
	}
	if first, dup := l.seen[kind][e.key]; dup {
		l.problemAt(e.k, KindDuplicate, path, fmt.Sprintf("%s %q is defined twice: first at %s:%d:%d", singular[kind], e.key,
			first.file, first.k.Line, first.k.Column))
		return
	}
	l.seen[kind][e.key] = d
	l.defs[kind] = append(l.defs[kind], d)
	l.mark(path, e.k, l.resolveQuiet(e.v))
}

// finish decodes every collected definition, validates the whole set and,
// when it is valid, derives the canonical form and hashes.
func (l *loader) finish() (*Set, *Result, error) {
	l.set = &Set{}
	if !l.exhausted {
		l.decodeAll()
	}
	if !l.exhausted {
		l.validate()
	}
	res := newResult(l.probs)
	if !res.Valid {
		return nil, res, &Error{Problems: res.Errors}
	}
	l.set.Index()
	l.set.computeFeeds()
	l.set.seal()
	return l.set, res, nil
}

// errs counts the errors found so far; callers compare counts to learn
// whether decoding one part of a definition failed.
func (l *loader) errs() int { return l.nerr }

// decodeAll decodes definitions in ascending name order per kind (the order
// of the Set's slices); each definition's problems carry its own file.
func (l *loader) decodeAll() {
	for _, kind := range kinds {
		defs := slices.Clone(l.defs[kind])
		slices.SortStableFunc(defs, func(a, b rawDef) int { return strings.Compare(a.name, b.name) })
		for _, d := range defs {
			if l.exhausted {
				return
			}
			l.file = d.file
			path := join(kind, d.name)
			switch kind {
			case kindEntities:
				if info := l.decodeEntity(d.name, d.v, path); info != nil {
					l.entities[d.name] = info
					l.set.Entities = append(l.set.Entities, info.e)
				}
			case kindSources:
				if s := l.decodeSource(d.name, d.v, path); s != nil {
					l.set.Sources = append(l.set.Sources, s)
				}
			case kindSchemas:
				if s := l.decodeSchema(d.name, d.v, path); s != nil {
					l.schemas[d.name] = s
					l.set.Schemas = append(l.set.Schemas, s)
				}
			}
		}
	}
}
