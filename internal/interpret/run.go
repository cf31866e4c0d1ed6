package interpret

import (
	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/value"
)

// Run is one session of applying events to one entity. Its exported fields
// are up to date after every Apply and Advance.
type Run struct {
	State *State // nil while the entity is absent

	// Rows are the new history rows, ascending by ValidFrom and consolidated:
	// one per instant holding the final state at that instant (H1), and a row
	// equal in state and properties to its predecessor (base included) is
	// dropped. A row at the base row's instant replaces the base row.
	Rows []Row
	// RelRows are the relationship rows this run opened (closed ones have
	// Open=false and ValidTo set).
	RelRows []RelRow
	// RelClose are stored open relationship rows (from baseRels) this run
	// closed, with ValidTo set. ValidTo == ValidFrom means the stored row was
	// replaced at its own instant (H1: the final fact at an instant wins):
	// storage supersedes it instead of closing it, and a RelRows row with the
	// same (type, target, valid_from) may take its place.
	RelClose []RelRow
	// Pending are the relates of applied events whose target keys are all
	// unknown (identity.md §8).
	Pending []Pending
	// Failures are the failed event applications and firings, in order.
	Failures []Failure

	Created bool // the entity was created by this run
	Changed bool // Rows is not empty
	Applied int  // events applied to an existing or created entity, fired or not

	RulesFired  int // committed time-rule firings
	Transitions int // committed firings that changed the state

	// Err is a Resolver error. It aborts the run: later calls do nothing and
	// the results must be discarded.
	Err error

	m        *Machine
	id       string
	base     *Row
	baseRels []RelRow
	open     []openRel // open relationship rows: base ones and this run's

	sv      saved                // S0 of the current application
	writers []*definition.Effect // last effect that assigned each property in the current application
	facts   []fact               // relationship facts of the current application
	pend    []Pending            // pending relates of the current application

	evScope  eventScope
	entScope entityScope
	env      expr.Env

	// seq is the sequence of the last event whose application changed the
	// entity at instant seqTime; firings at that instant keep it.
	seqTime, seq int64
	hasSeq       bool

	arena []value.Value // backing store for row property images

	// Inline buffers: a run on an entity with few properties needs a single
	// allocation until it produces its second row.
	svBuf  [2 * smallProps]value.Value // S0 properties, then the first row image
	wrBuf  [smallProps]*definition.Effect
	rowBuf [1]Row
}

// smallProps is the property count up to which Run's inline buffers serve.
const smallProps = 16

// saved is S0: the working state before an application, minus the fired
// marks (which survive a rolled-back firing).
type saved struct {
	absent bool
	st     State
	props  []value.Value
}

// failure is a runtime error or violation of one application.
type failure struct {
	field, loc, msg string
}

func (r *Run) save() {
	clear(r.writers)
	st := r.State
	r.sv.absent = st == nil
	if st == nil {
		return
	}
	r.sv.st = *st
	copy(r.sv.props, st.Props)
}

func (r *Run) restore() {
	if r.sv.absent {
		r.State = nil
		return
	}
	st := r.State
	props, fired := st.Props, st.Fired
	*st = r.sv.st
	st.Props, st.Fired = props, fired
	copy(props, r.sv.props)
}

// differs reports whether the state or a property differs from S0.
func (r *Run) differs() bool {
	st := r.State
	if st.State != r.sv.st.State {
		return true
	}
	for i, v := range st.Props {
		if !value.Equal(v, r.sv.props[i]) {
			return true
		}
	}
	return false
}

// Apply applies one event (interpretation.md §3). Events must come in (Time,
// Seq) order and none may precede what the state already applied or fired:
// detecting late arrivals and recomputing is the engine's job.
func (r *Run) Apply(ev *Event) {
	if r.Err != nil {
		return
	}
	m := r.m
	t := ev.Time
	if r.State != nil {
		r.evaluate(t) // these firings stand even if ev fails
	}
	existed := r.State != nil
	var h *definition.Handler
	if existed {
		if si := m.states[r.State.State]; si != nil {
			h = si.def.Handler(ev.Type)
		}
	} else if m.starts != nil {
		if c := m.starts.Handler(ev.Type); c != nil && c.Creates {
			h = c
		}
	}
	if !existed && h == nil {
		return // ignored: not a failure, not counted
	}

	r.save()
	r.evScope.ev = ev
	r.env.Now = t
	r.facts = r.facts[:0]
	r.pend = r.pend[:0]

	fired := false
	var f *failure
	if h != nil {
		fired, f = r.runHandler(h, t)
	}
	if f == nil && r.Err == nil && r.State != nil {
		if a := m.ent.AlwaysHandler(ev.Type); a != nil {
			var fa bool
			fa, f = r.runHandler(a, t)
			fired = fired || fa
		}
	}
	if f == nil && r.Err == nil && fired && r.State != nil {
		r.State.LastEventTime = t
		f = r.compute()
		if f == nil {
			f = r.checkConstraints(existed)
		}
	}
	r.evScope.ev = nil
	switch {
	case r.Err != nil:
		r.restore()
		return
	case f != nil:
		r.restore()
		r.Failures = append(r.Failures, Failure{
			EventSeq: ev.Seq, EventID: ev.ID, EventType: ev.Type, Source: ev.Source,
			Field: f.field, Location: f.loc, Message: f.msg,
		})
	case r.State != nil:
		if !existed {
			r.Created = true
		}
		if !existed || fired && r.differs() {
			r.seqTime, r.seq, r.hasSeq = t, ev.Seq, true
			r.emit(t, ev.Seq)
		}
		if len(r.facts) > 0 || len(r.pend) > 0 {
			r.commitFacts(t, ev.Seq)
		}
	}
	if st := r.State; st != nil {
		st.LastAppliedTime, st.LastAppliedSeq = t, ev.Seq
		r.Applied++
		r.refreshDeadline()
	}
}

// EntityID returns the id of the entity the run interprets.
func (r *Run) EntityID() string { return r.id }

// Advance fires the time rules due up to upto (interpretation.md §8).
func (r *Run) Advance(upto int64) {
	if r.Err != nil || r.State == nil {
		return
	}
	r.evaluate(upto)
	r.refreshDeadline()
}

func (r *Run) refreshDeadline() {
	st := r.State
	st.NextDeadline, st.HasDeadline = r.m.NextDeadline(st)
	if !st.HasDeadline {
		st.NextDeadline = 0
	}
}

// runHandler evaluates h's guard and, when it holds, runs its effects.
func (r *Run) runHandler(h *definition.Handler, now int64) (bool, *failure) {
	if h.Guard != nil {
		ok, err := h.Guard.EvalBool(&r.env)
		if err != nil {
			return false, &failure{loc: h.Path + ".guard", msg: "guard: " + err.Error()}
		}
		if !ok {
			return false, nil
		}
	}
	for _, eff := range h.Effects {
		if f := r.runEffect(eff, now); f != nil || r.Err != nil {
			return true, f
		}
	}
	return true, nil
}

// compute evaluates the computed properties in dependency order (§7).
func (r *Run) compute() *failure {
	st := r.State
	for _, p := range r.m.ent.ComputeOrder {
		v, err := p.Compute.Eval(&r.env)
		if err != nil {
			return &failure{field: p.Name, loc: r.m.computeLoc(p), msg: "compute " + p.Name + ": " + err.Error()}
		}
		v, msg := convert(p, v)
		if msg != "" {
			return &failure{field: p.Name, loc: r.m.computeLoc(p), msg: msg}
		}
		st.Props[p.Index] = v
		r.writers[p.Index] = nil
	}
	return nil
}

// checkConstraints checks every property whose value differs from S0 (all of
// them for a new entity), in definition order.
func (r *Run) checkConstraints(existed bool) *failure {
	st := r.State
	for i, p := range r.m.ent.Properties {
		v := st.Props[i]
		if existed && value.Equal(v, r.sv.props[i]) {
			continue
		}
		if msg := violation(p, v, "property"); msg != "" {
			loc := r.m.path + ".properties." + p.Name
			if p.Compute != nil {
				loc = r.m.computeLoc(p)
			} else if w := r.writers[i]; w != nil {
				loc = w.Path
			}
			return &failure{field: p.Name, loc: loc, msg: msg}
		}
	}
	return nil
}

// emit records the row image of the working state at instant t (§7).
func (r *Run) emit(t, seq int64) {
	st := r.State
	var spare []value.Value
	if n := len(r.Rows); n > 0 && r.Rows[n-1].ValidFrom == t {
		spare = r.Rows[n-1].Props // one row per instant: the final state wins
		r.Rows = r.Rows[:n-1]
	}
	prev := r.base
	if n := len(r.Rows); n > 0 {
		prev = &r.Rows[n-1]
	}
	img := Row{
		State: st.State, ValidFrom: t, EventSeq: seq,
		LastEventTime: st.LastEventTime, StateEnteredTime: st.StateEnteredTime, CreatedTime: st.CreatedTime,
	}
	if prev != nil {
		same := prev.State == img.State && propsEqual(prev.Props, st.Props)
		if prev.ValidFrom == t {
			// prev is the stored base row at this very instant: the new
			// image replaces it unless it is identical in every column.
			same = same && prev.LastEventTime == img.LastEventTime &&
				prev.StateEnteredTime == img.StateEnteredTime &&
				prev.CreatedTime == img.CreatedTime && prev.EventSeq == img.EventSeq
		}
		if same {
			r.Changed = len(r.Rows) > 0
			return
		}
	}
	if spare == nil {
		spare = r.alloc()
	}
	copy(spare, st.Props)
	img.Props = spare
	r.Rows = append(r.Rows, img)
	r.Changed = true
}

// alloc returns a property buffer for one row image, carved from a chunk so
// that a run producing many rows allocates rarely.
func (r *Run) alloc() []value.Value {
	n := r.m.nprops
	if n == 0 {
		return []value.Value{}
	}
	if len(r.arena) < n {
		k := min(len(r.Rows)+1, 32)
		r.arena = make([]value.Value, n*k)
	}
	b := r.arena[:n:n]
	r.arena = r.arena[n:]
	return b
}

func propsEqual(a, b []value.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !value.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// eventScope exposes an event's mapped fields and its implicit fields
// (expressions.md §1) without allocating.
type eventScope struct{ ev *Event }

// Field implements expr.Scope.
func (s *eventScope) Field(name string) (value.Value, bool) {
	ev := s.ev
	if ev == nil {
		return value.Null, false
	}
	if v, ok := ev.Data[name]; ok {
		return v, true
	}
	switch name {
	case "timestamp":
		return value.DateTime(ev.Time), true
	case "type":
		return value.String(ev.Type), true
	case "source":
		return value.String(ev.Source), true
	case "id":
		return value.String(ev.ID), true
	}
	return value.Null, false
}

// entityScope exposes the working state's properties and implicit fields;
// it is empty while the entity is absent.
type entityScope struct{ r *Run }

// Field implements expr.Scope.
func (s *entityScope) Field(name string) (value.Value, bool) {
	st := s.r.State
	if st == nil {
		return value.Null, false
	}
	if p := s.r.m.ent.Property(name); p != nil {
		return st.Props[p.Index], true
	}
	switch name {
	case "id":
		return value.String(st.EntityID), true
	case "state":
		return value.String(st.State), true
	case "created_time":
		return value.DateTime(st.CreatedTime), true
	case "state_entered_time":
		return value.DateTime(st.StateEnteredTime), true
	case "last_event_time":
		return value.DateTime(st.LastEventTime), true
	}
	return value.Null, false
}

// Object gives the bare `event` root its mapped fields (expr's optional
// whole-root view).
func (s *eventScope) Object() value.Value {
	if s.ev == nil {
		return value.Null
	}
	return value.Object(s.ev.Data)
}

// Object gives the bare `entity` root its properties; rare, so it may
// allocate.
func (s *entityScope) Object() value.Value {
	st := s.r.State
	if st == nil {
		return value.Null
	}
	m := make(map[string]value.Value, len(st.Props))
	for i, p := range s.r.m.ent.Properties {
		m[p.Name] = st.Props[i]
	}
	return value.Object(m)
}
