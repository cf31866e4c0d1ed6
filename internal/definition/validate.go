package definition

import (
	"fmt"
	"slices"
	"strings"

	"github.com/defacto-dev/defacto/internal/expr"
)

// producer is one source event config producing a normalized event type.
type producer struct {
	src  *Source
	ev   *SourceEvent
	path string
}

// validate runs the checks that need the whole set: references between
// definitions, expressions against their contexts, reachability, computed
// properties, and the warnings of definitions.md §6.
func (l *loader) validate() {
	producers := map[string][]producer{}
	outputs := map[string]map[string]bool{}
	for _, s := range l.set.Sources {
		for _, ev := range s.Events {
			if l.evBroken[ev] {
				// Its outputs are unknown: checking event fields against
				// them would only echo the mapping errors.
				l.outputsUnknown[ev.Name] = true
			}
			producers[ev.Name] = append(producers[ev.Name], producer{src: s, ev: ev, path: l.evPaths[ev]})
			if outputs[ev.Name] == nil {
				outputs[ev.Name] = map[string]bool{}
			}
			for _, m := range ev.Mappings {
				outputs[ev.Name][m.Field] = true
			}
		}
	}
	entityNames := make([]string, 0, len(l.set.Entities))
	for _, e := range l.set.Entities {
		entityNames = append(entityNames, e.Name)
	}

	l.checkRelationships(entityNames)
	l.checkHints(entityNames)
	l.checkSchemas(producers)
	l.checkRelates(producers, outputs)
	l.checkExpressions(producers, outputs)
	for _, e := range l.set.Entities {
		info := l.entityInfoOf(e)
		l.checkStates(info)
		l.computeOrder(info)
	}
	l.warnings(producers)
}

func (l *loader) entityInfoOf(e *Entity) *entityInfo { return l.entities[e.Name] }

var inverses = map[string][]string{
	HasMany:    {BelongsTo},
	HasOne:     {BelongsTo},
	BelongsTo:  {HasMany, HasOne},
	ManyToMany: {ManyToMany},
}

func (l *loader) checkRelationships(entityNames []string) {
	for _, info := range l.entities {
		for _, r := range info.e.Relationships {
			if r.Target == "" || r.Cardinality == "" || l.entities[r.Target] == nil {
				info.relsBroken = true
			}
		}
	}
	owner := map[string]string{} // relationship type → declaring entity
	for _, e := range l.set.Entities {
		for _, r := range e.Relationships {
			rp := l.relPaths[r]
			if first, dup := owner[r.Type]; dup {
				l.errorf(KindDuplicate, join(rp, "type"), "relationship type %q is already declared by entity %q; relationship types are unique across all entities", r.Type, first)
				continue
			}
			owner[r.Type] = e.Name
		}
	}
	for _, e := range l.set.Entities {
		for _, r := range e.Relationships {
			rp := l.relPaths[r]
			if r.Target == "" {
				continue
			}
			target := l.entities[r.Target]
			if target == nil {
				l.errorf(KindUnknownEntity, join(rp, "target"), "relationship %q targets %q: no such entity type%s", r.Type, r.Target, didYouMean(r.Target, entityNames))
				continue
			}
			if r.Cardinality == "" || target.relsBroken {
				continue
			}
			found := false
			for _, back := range target.e.Relationships {
				if back == r {
					// Only a many_to_many self-relationship is its own inverse.
					found = found || (r.Cardinality == ManyToMany && r.Target == e.Name)
					continue
				}
				if back.Target == e.Name && contains(inverses[r.Cardinality], back.Cardinality) {
					found = true
				}
			}
			if found {
				continue
			}
			want := strings.Join(inverses[r.Cardinality], " or ")
			if r.Target == e.Name {
				l.errorf(KindMissingInverse, rp, "relationship %q (%s %s %s) has no inverse: a %s self-relationship needs a second relationship of %q with target %q and cardinality %s",
					r.Type, e.Name, r.Cardinality, r.Target, r.Cardinality, e.Name, e.Name, want)
			} else {
				l.errorf(KindMissingInverse, rp, "relationship %q (%s %s %s) has no inverse: entity %q must declare a relationship with target %q and cardinality %s",
					r.Type, e.Name, r.Cardinality, r.Target, r.Target, e.Name, want)
			}
		}
	}
}

func (l *loader) checkHints(entityNames []string) {
	for _, s := range l.set.Sources {
		for _, ev := range s.Events {
			for _, h := range ev.Hints {
				hp := join(join(l.evPaths[ev], "hints"), h.Entity)
				info := l.entities[h.Entity]
				if info == nil {
					l.keyErrorf(KindUnknownEntity, hp, "hints name entity type %q: no such entity type%s", h.Entity, didYouMean(h.Entity, entityNames))
					continue
				}
				if info.identityBroken {
					continue
				}
				idNames := identityNames(info.e)
				for i, f := range h.Fields {
					if !contains(idNames, f) {
						l.errorf(KindUnknownField, index(hp, i), "hint field %q is not an identity field of %q%s", f, h.Entity, didYouMeanOr(f, idNames))
					}
				}
			}
		}
	}
}

func identityNames(e *Entity) []string {
	out := make([]string, len(e.Identity))
	for i, f := range e.Identity {
		out[i] = f.Name
	}
	return out
}

func (l *loader) checkSchemas(producers map[string][]producer) {
	for _, sc := range l.set.Schemas {
		declared := map[string]bool{}
		for _, f := range sc.Fields {
			declared[f.Name] = true
		}
		for _, p := range producers[sc.EventType] {
			produced := map[string]bool{}
			for _, m := range p.ev.Mappings {
				produced[m.Field] = true
				if !declared[m.Field] {
					l.keyErrorf(KindSchemaMismatch, l.mapPaths[m], "mapping output %q of event %q of source %q is not declared by the schema of %q",
						m.Field, p.ev.Name, p.src.Name, sc.EventType)
				}
			}
			for _, f := range sc.Fields {
				if f.Required && !produced[f.Name] && !l.evBroken[p.ev] {
					l.errorf(KindSchemaMismatch, join(p.path, "mappings"), "the schema of %q requires field %q, which event %q of source %q does not map",
						sc.EventType, f.Name, p.ev.Name, p.src.Name)
				}
			}
		}
	}
}

// checkRelates checks relate hints against the target's identity and the
// sources, and fills in the default hints.
func (l *loader) checkRelates(producers map[string][]producer, outputs map[string]map[string]bool) {
	for _, rs := range l.relates {
		if rs.rel == nil || rs.r.Target == "" || rs.r.Target != rs.rel.Target {
			continue
		}
		target := l.entities[rs.r.Target]
		if target == nil || target.identityBroken {
			continue
		}
		hp := join(rs.path, "hints")
		if rs.explicit {
			idNames := identityNames(target.e)
			for i, f := range rs.r.Hints {
				fp := index(join(hp, rs.r.Target), i)
				if !contains(idNames, f) {
					l.errorf(KindUnknownField, fp, "relate hint field %q is not an identity field of %q%s", f, rs.r.Target, didYouMeanOr(f, idNames))
					continue
				}
				if len(producers[rs.event]) > 0 && !l.outputsUnknown[rs.event] && !outputs[rs.event][f] {
					l.errorf(KindUnknownField, fp, "relate hint field %q is not mapped by any source for event %q", f, rs.event)
				}
			}
			continue
		}
		// Default: what the sources of this event type hint for the target,
		// as one list in the target's identity-field order (relate looks the
		// keys up in that order and takes the first known one).
		hinted := map[string]bool{}
		ok := true
		for _, p := range producers[rs.event] {
			var h *Hint
			for _, x := range p.ev.Hints {
				if x.Entity == rs.r.Target {
					h = x
				}
			}
			if h == nil {
				l.errorf(KindRelateHints, rs.path, "relate %q has no hints and event %q of source %q hints nothing for %q; add hints: {%s: [...]} to the relate or hint %q in the source",
					rs.r.Type, rs.event, p.src.Name, rs.r.Target, rs.r.Target, rs.r.Target)
				ok = false
				continue
			}
			for _, f := range h.Fields {
				hinted[f] = true
			}
		}
		if !ok {
			continue
		}
		for _, f := range target.e.Identity {
			if hinted[f.Name] {
				rs.r.Hints = append(rs.r.Hints, f.Name)
			}
		}
	}
}

var rootLacks = map[exprCtx]string{
	ctxHandler:   "handler expressions see event.* and entity.*",
	ctxComputed:  "computed properties see only entity.*",
	ctxTimeRule:  "time rules have no event; they see only entity.*",
	ctxMapping:   "mapping computes see only the raw record as event.*",
	ctxNormalize: "normalize expressions see only value (the hint value)",
}

func rootAllowed(c exprCtx, r expr.Root) bool {
	switch c {
	case ctxHandler:
		return r == expr.RootEvent || r == expr.RootEntity
	case ctxComputed, ctxTimeRule:
		return r == expr.RootEntity
	case ctxMapping:
		return r == expr.RootEvent
	case ctxNormalize:
		return r == expr.RootValue
	}
	return false
}

func (l *loader) checkExpressions(producers map[string][]producer, outputs map[string]map[string]bool) {
	for _, s := range l.exprs {
		for _, ref := range s.prog.Refs() {
			if !rootAllowed(s.ctx, ref.Root) {
				l.problem(SeverityError, KindRoot, s.path, fmt.Sprintf("%s is not available here: %s", ref.Root, rootLacks[s.ctx]), ref.Pos, false)
				continue
			}
			switch {
			case ref.Root == expr.RootEntity && s.entity != nil:
				if len(ref.Path) == 0 {
					// The whole entity: every property is read.
					for _, p := range s.entity.e.Properties {
						s.entity.reads[p.Name] = true
					}
					continue
				}
				name := ref.Path[0]
				s.entity.reads[name] = true
				if s.entity.e.props[name] == nil && !s.entity.propsBroken && !contains(implicitEntityFields, name) {
					l.problem(SeverityError, KindUnknownProperty, s.path, fmt.Sprintf("entity.%s: entity %q has no property %q%s",
						name, s.entity.e.Name, name, didYouMean(name, propertyCandidates(s.entity.e))), ref.Pos, false)
				}
			case ref.Root == expr.RootEvent && s.ctx == ctxHandler:
				if len(ref.Path) == 0 || len(producers[s.event]) == 0 || l.outputsUnknown[s.event] {
					continue
				}
				name := ref.Path[0]
				if !outputs[s.event][name] && !contains(implicitEventFields, name) {
					l.problem(SeverityError, KindUnknownField, s.path, fmt.Sprintf("event.%s: no source maps a field %q for event %q%s",
						name, name, s.event, didYouMean(name, eventCandidates(outputs[s.event]))), ref.Pos, false)
				}
			}
		}
	}
	for _, f := range l.froms {
		name := f.vs.FromPath[0]
		switch f.vs.FromRoot {
		case expr.RootEntity:
			f.entity.reads[name] = true
			if f.entity.e.props[name] == nil && !f.entity.propsBroken && !contains(implicitEntityFields, name) {
				l.errorf(KindUnknownProperty, f.path, "from %q: entity %q has no property %q%s", f.vs.FromText, f.entity.e.Name, name, didYouMean(name, propertyCandidates(f.entity.e)))
			}
		case expr.RootEvent:
			if len(producers[f.event]) > 0 && !l.outputsUnknown[f.event] && !outputs[f.event][name] && !contains(implicitEventFields, name) {
				l.errorf(KindUnknownField, f.path, "from %q: no source maps a field %q for event %q%s", f.vs.FromText, name, f.event, didYouMean(name, eventCandidates(outputs[f.event])))
			}
		}
	}
}

func propertyCandidates(e *Entity) []string {
	out := make([]string, 0, len(e.Properties)+len(implicitEntityFields))
	for _, p := range e.Properties {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return append(out, implicitEntityFields...)
}

func eventCandidates(fields map[string]bool) []string {
	out := make([]string, 0, len(fields))
	for f := range fields {
		out = append(out, f)
	}
	slices.Sort(out)
	return append(out, implicitEventFields...)
}

// checkStates checks the starts state, reachability and dead ends.
func (l *loader) checkStates(info *entityInfo) {
	e := info.e
	if e.Starts == "" || info.uncertain {
		return
	}
	var start *State
	for _, st := range e.States {
		if st.Name == e.Starts {
			start = st
		}
	}
	creates := false
	for _, h := range start.When {
		creates = creates || h.Creates
	}
	if !creates {
		l.errorf(KindNoCreate, join(info.path, "starts"), "starts state %q has no when handler with a create effect, so no %s could ever be created", e.Starts, e.Name)
	}
	// Reachability over transition edges; always transitions leave every state.
	edges := map[string][]string{}
	var always []string
	for _, t := range info.transitions {
		if t.always {
			always = append(always, t.to)
		} else {
			edges[t.from] = append(edges[t.from], t.to)
		}
	}
	reached := map[string]bool{e.Starts: true}
	queue := []string{e.Starts}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, to := range append(slices.Clone(edges[s]), always...) {
			if !reached[to] {
				reached[to] = true
				queue = append(queue, to)
			}
		}
	}
	for _, st := range e.States {
		sp := join(join(info.path, "states"), st.Name)
		if !reached[st.Name] {
			l.keyErrorf(KindUnreachableState, sp, "state %q is unreachable: no transition, time rule or always handler leads to it from the starts state %q", st.Name, e.Starts)
			continue
		}
		if st.Name == e.Starts {
			continue
		}
		out := false
		for _, to := range append(slices.Clone(edges[st.Name]), always...) {
			out = out || to != st.Name
		}
		if !out {
			l.keyWarnf(KindDeadEnd, sp, "state %q has no outgoing transition: entities that reach it stay there (fine for a final state)", st.Name)
		}
	}
}

// computeOrder orders computed properties by dependency (ties: definition
// order) and reports cycles, naming them.
func (l *loader) computeOrder(info *entityInfo) {
	e := info.e
	deps := map[*Property][]*Property{}
	var computed []*Property
	for _, p := range e.Properties {
		if p.Compute != nil {
			computed = append(computed, p)
		}
	}
	if len(computed) == 0 {
		return
	}
	for _, p := range computed {
		for _, ref := range p.Compute.Refs() {
			if ref.Root != expr.RootEntity || len(ref.Path) == 0 {
				continue
			}
			if q := e.props[ref.Path[0]]; q != nil && q.Compute != nil && !slices.Contains(deps[p], q) {
				deps[p] = append(deps[p], q)
			}
		}
	}
	done := map[*Property]bool{}
	for len(e.ComputeOrder) < len(computed) {
		progress := false
		for _, p := range computed {
			if done[p] {
				continue
			}
			ready := true
			for _, q := range deps[p] {
				ready = ready && done[q]
			}
			if ready {
				done[p] = true
				e.ComputeOrder = append(e.ComputeOrder, p)
				progress = true
				break // restart so ties go to the earliest definition
			}
		}
		if !progress {
			break
		}
	}
	// Whatever is left sits on or behind a cycle. Report each cycle once,
	// starting from its earliest property.
	reported := map[*Property]bool{}
	for _, p := range computed {
		if done[p] || reported[p] {
			continue
		}
		cycle := findCycle(p, deps)
		if cycle == nil {
			continue
		}
		names := make([]string, len(cycle))
		fresh := false
		for i, q := range cycle {
			names[i] = q.Name
			fresh = fresh || !reported[q]
			reported[q] = true
		}
		if !fresh {
			continue
		}
		names = append(names, cycle[0].Name)
		l.errorf(KindComputedCycle, join(join(join(info.path, "properties"), cycle[0].Name), "compute"),
			"computed properties depend on each other in a cycle: %s", strings.Join(names, " → "))
	}
	if len(e.ComputeOrder) < len(computed) {
		e.ComputeOrder = nil
	}
}

// findCycle returns the shortest dependency cycle through p, or nil when p
// only depends on a cycle without being on one.
func findCycle(p *Property, deps map[*Property][]*Property) []*Property {
	prev := map[*Property]*Property{}
	queue := []*Property{p}
	seen := map[*Property]bool{p: true}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		for _, d := range deps[q] {
			if d == p {
				var cycle []*Property
				for x := q; x != nil; x = prev[x] {
					cycle = append(cycle, x)
				}
				slices.Reverse(cycle)
				return cycle
			}
			if !seen[d] {
				seen[d] = true
				prev[d] = q
				queue = append(queue, d)
			}
		}
	}
	return nil
}

// warnings adds the warnings of definitions.md §6 that need the whole set.
func (l *loader) warnings(producers map[string][]producer) {
	// Which event types each entity uses: handlers, and relates (whose
	// target's hint the event must carry).
	handles := map[string]map[string]bool{}
	use := func(entity, event string) {
		if handles[entity] == nil {
			handles[entity] = map[string]bool{}
		}
		handles[entity][event] = true
	}
	produced := make([]string, 0, len(producers))
	for t := range producers {
		produced = append(produced, t)
	}
	slices.Sort(produced)
	for _, e := range l.set.Entities {
		for _, h := range allHandlers(e) {
			use(e.Name, h.EventType)
			if len(producers[h.EventType]) == 0 {
				l.keyWarnf(KindUnproducedEvent, h.Path, "no source produces event type %q, so this handler never runs%s", h.EventType, didYouMean(h.EventType, produced))
			}
		}
	}
	for _, rs := range l.relates {
		if rs.r.Target != "" && rs.event != "" {
			use(rs.r.Target, rs.event)
		}
	}
	for _, s := range l.set.Sources {
		for _, ev := range s.Events {
			for _, h := range ev.Hints {
				if l.entities[h.Entity] != nil && !handles[h.Entity][ev.Name] {
					l.keyWarnf(KindUnusedHint, join(join(l.evPaths[ev], "hints"), h.Entity),
						"event %q hints entity %q, which handles %q nowhere", ev.Name, h.Entity, ev.Name)
				}
			}
		}
	}
	if len(l.set.Schemas) > 0 {
		for _, t := range produced {
			if l.schemas[t] == nil {
				l.keyWarnf(KindMissingSchema, producers[t][0].path, "event type %q has no schema while other event types have one", t)
			}
		}
	}
	for _, e := range l.set.Entities {
		info := l.entities[e.Name]
		warned := map[string]bool{}
		for _, w := range info.writes {
			p := e.props[w.prop]
			if p == nil || warned[w.prop] || info.reads[w.prop] || p.Sensitive != "" || contains(identityNames(e), w.prop) {
				continue
			}
			warned[w.prop] = true
			l.keyWarnf(KindUnreadProperty, join(join(info.path, "properties"), w.prop),
				"property %q is written by effects but read by no expression, from: entity.%s or computed property", w.prop, w.prop)
		}
	}
}

// allHandlers lists every when handler of every state, then the always handlers.
func allHandlers(e *Entity) []*Handler {
	var out []*Handler
	for _, st := range e.States {
		out = append(out, st.When...)
	}
	return append(out, e.Always...)
}
