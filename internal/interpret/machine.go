package interpret

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// loopLimit bounds the firings of one evaluation (interpretation.md §8).
const loopLimit = 10000

// Machine is the interpreter of one entity type under one definition set. It
// is immutable once built and safe for concurrent use by many Runs.
type Machine struct {
	ent    *definition.Entity
	rels   map[string]*definition.Relationship
	res    Resolver
	starts *definition.State
	states map[string]*stateInfo
	nprops int
	path   string // entities.<name>
}

type stateInfo struct {
	def  *definition.State
	keys []string // fired keys "<state>/<i>", by position in After
	path string
}

// NewMachine prepares the interpreter of ent. rels holds every relationship
// type of the definition set by name (relate properties are typed by it; the
// entity's own declarations are the fallback). r resolves relate targets; it
// may be nil when the entity has no relate effects.
func NewMachine(ent *definition.Entity, rels map[string]*definition.Relationship, r Resolver) *Machine {
	m := &Machine{
		ent:    ent,
		rels:   rels,
		res:    r,
		starts: ent.State(ent.Starts),
		states: make(map[string]*stateInfo, len(ent.States)),
		nprops: len(ent.Properties),
		path:   "entities." + ent.Name,
	}
	for _, st := range ent.States {
		si := &stateInfo{def: st, path: m.path + ".states." + st.Name, keys: make([]string, len(st.After))}
		for i := range st.After {
			si.keys[i] = st.Name + "/" + strconv.Itoa(i)
		}
		m.states[st.Name] = si
	}
	return m
}

// computeLoc is the definition path of a computed property's expression.
func (m *Machine) computeLoc(p *definition.Property) string {
	return m.path + ".properties." + p.Name + ".compute"
}

// relationship returns the definition of relationship type t.
func (m *Machine) relationship(t string) *definition.Relationship {
	if r := m.rels[t]; r != nil {
		return r
	}
	return m.ent.Relationship(t)
}

// due returns rule tr's due instant and reference for st (D6, §8).
func due(st *State, tr *definition.TimeRule) (d, ref int64, ok bool) {
	switch tr.Type {
	case definition.RuleInactivity:
		ref = max(st.LastEventTime, st.StateEnteredTime)
	case definition.RuleStateDuration:
		ref = st.StateEnteredTime
	case definition.RuleExpiration:
		ref = st.CreatedTime
	default:
		return 0, 0, false
	}
	if tr.Threshold > 0 && ref > math.MaxInt64-tr.Threshold {
		return 0, 0, false // beyond any representable instant: never due
	}
	d = ref + tr.Threshold
	if tr.Type == definition.RuleExpiration && d < st.StateEnteredTime {
		// A firing never predates the state it leaves.
		d = st.StateEnteredTime
	}
	return d, ref, true
}

// candidate reports whether rule i of si has not fired for ref yet.
func (si *stateInfo) candidate(st *State, i int, ref int64) bool {
	v, ok := st.Fired[si.keys[i]]
	return !ok || v != ref
}

// next returns the candidate rule with the smallest due instant (ties: lowest
// index), or -1.
func (si *stateInfo) next(st *State) (i int, d, ref int64) {
	i = -1
	for j, tr := range si.def.After {
		dj, rj, ok := due(st, tr)
		if !ok || !si.candidate(st, j, rj) {
			continue
		}
		if i < 0 || dj < d {
			i, d, ref = j, dj, rj
		}
	}
	return i, d, ref
}

// NextDeadline returns the smallest due instant among the candidate time
// rules of st's current state; ok is false when there is none.
func (m *Machine) NextDeadline(st *State) (int64, bool) {
	if st == nil {
		return 0, false
	}
	si := m.states[st.State]
	if si == nil {
		return 0, false
	}
	i, d, _ := si.next(st)
	return d, i >= 0
}

// Recompute rebuilds an entity from scratch (interpretation.md §4): it starts
// absent, applies events in (Time, Seq) order and fires time rules up to
// horizon. events is not modified.
func (m *Machine) Recompute(entityID string, events []*Event, horizon int64) *Run {
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b *Event) int {
		if c := cmp.Compare(a.Time, b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	r := m.Start(entityID, nil, nil, nil)
	for _, ev := range sorted {
		r.Apply(ev)
	}
	r.Advance(horizon)
	return r
}

// Start begins a run on a stored state (nil = absent). The run takes
// ownership of st and mutates it in place; callers that need the stored image
// afterwards keep a Clone. base is the entity's stored open row (nil if none):
// rows equal to it are not re-emitted and consolidation treats it as the
// predecessor; it is only read. baseRels are the entity's stored open
// relationship rows; the slice is not modified.
func (m *Machine) Start(entityID string, st *State, base *Row, baseRels []RelRow) *Run {
	r := &Run{State: st, m: m, id: entityID, base: base}
	if n := m.nprops; n <= smallProps {
		r.sv.props = r.svBuf[:n:n]
		r.arena = r.svBuf[n : 2*n : 2*n]
		r.writers = r.wrBuf[:n:n]
	} else {
		r.sv.props = make([]value.Value, n)
		r.writers = make([]*definition.Effect, n)
	}
	r.Rows = r.rowBuf[:0:1]
	r.entScope.r = r
	r.env.Event = &r.evScope
	r.env.Entity = &r.entScope
	if st != nil && len(st.Props) != m.nprops {
		// Defensive: a state stored under other definitions; missing
		// properties read as Null.
		p := make([]value.Value, m.nprops)
		copy(p, st.Props)
		st.Props = p
	}
	if base != nil {
		r.seqTime, r.seq, r.hasSeq = base.ValidFrom, base.EventSeq, true
	}
	if len(baseRels) > 0 {
		r.baseRels = slices.Clone(baseRels)
		r.open = make([]openRel, len(baseRels))
		for i := range baseRels {
			r.open[i] = openRel{base: true, idx: i}
		}
	}
	return r
}
