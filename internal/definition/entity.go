package definition

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/value"
)

// exprCtx is the context an expression is evaluated in (expressions.md §1);
// it decides which roots exist.
type exprCtx int

const (
	ctxHandler   exprCtx = iota // guards, conditions, set/relate computes: event + entity
	ctxComputed                 // computed properties: entity
	ctxTimeRule                 // time-rule conditions and computes: entity
	ctxMapping                  // mapping computes: the raw record as event
	ctxNormalize                // identity normalize: value
)

// Where a handler sits; it decides which effects it may hold.
type handlerWhere int

const (
	inWhen handlerWhere = iota
	inAlways
	inTimeRule
)

// entityInfo is an entity under construction plus what validation needs.
type entityInfo struct {
	e     *Entity
	path  string
	start string // the starts value as written

	transitions []transitionSite
	writes      []writeSite
	reads       map[string]bool // properties read by expressions and from: entity.*

	// Set when a part failed to decode, so that checks depending on that
	// part do not pile follow-up errors on the one already reported.
	uncertain      bool // some handler, effect or transition is unknown: skip reachability and creation checks
	relsBroken     bool // some relationship is incomplete: skip inverse checks towards this entity
	identityBroken bool // the identity block is incomplete: skip hint-field checks
	propsBroken    bool // the properties block did not decode: skip unknown-property errors
	statesBroken   bool // the states block did not decode: skip unknown-state errors
}

type transitionSite struct {
	path   string
	from   string // state, "" for always handlers
	to     string
	always bool
}

type writeSite struct {
	path string
	prop string
}

// exprSite is a parsed expression awaiting the checks that need the whole set.
type exprSite struct {
	path   string
	prog   *expr.Program
	ctx    exprCtx
	entity *entityInfo // entity contexts
	event  string      // handler context: the event type
	prop   *Property   // computed property whose compute this is
}

// fromSite is a `from: event.… / entity.…` of a set effect or a relate property.
type fromSite struct {
	path   string
	vs     *ValueSource
	ctx    exprCtx
	entity *entityInfo
	event  string
}

// relateSite is a relate effect awaiting its cross-entity checks.
type relateSite struct {
	path     string
	r        *Relate
	rel      *Relationship
	entity   *entityInfo
	event    string
	explicit bool // hints written in the effect
}

// handlerCtx carries what decoding one handler's effects needs.
type handlerCtx struct {
	info   *entityInfo
	event  string // "" in time rules
	where  handlerWhere
	starts bool // a when handler of the starts state
}

var implicitEntityFields = []string{"id", "state", "created_time", "state_entered_time", "last_event_time"}
var implicitEventFields = []string{"timestamp", "type", "source", "id"}

func (l *loader) decodeEntity(name string, n *yaml.Node, path string) *entityInfo {
	l.checkName(name, nameEntity, "entity type", "", path)
	if l.isNull(n) {
		l.errorf(KindMissing, path, "entity %q is empty: it needs starts, identity and states", name)
		return nil
	}
	f, ok := l.fields(n, path, "starts", "identity", "properties", "states", "relationships", "always")
	if !ok {
		return nil
	}
	e := &Entity{Name: name}
	info := &entityInfo{e: e, path: path, reads: map[string]bool{}}

	// starts is read first so that handlers know whether they are in the
	// starting state; whether it names a state is checked after the states.
	if en, ok := f["starts"]; ok && !l.isNull(en.v) {
		if s, ok := l.nonEmptyStr(en.v, join(path, "starts")); ok {
			info.start = s
		}
	} else {
		l.errorf(KindMissing, join(path, "starts"), "entity %q needs starts: the state new entities begin in", name)
	}

	n0 := l.errs()
	l.decodeIdentity(info, f, path)
	info.identityBroken = l.errs() > n0 || l.misspelled[join(path, "identity")]
	firstSite := len(l.exprs)
	info.propsBroken = l.misspelled[join(path, "properties")]
	if en, ok := f["properties"]; ok && !l.isNull(en.v) {
		members, ok := l.orderedMapping(en.v, join(path, "properties"))
		info.propsBroken = info.propsBroken || !ok
		for _, m := range members {
			pp := join(join(path, "properties"), m.key)
			l.mark(pp, m.k, l.resolveQuiet(m.v))
			if p := l.decodeProperty(m.key, m.v, pp, name, false); p != nil {
				e.Properties = append(e.Properties, p)
			}
		}
	}
	for i := firstSite; i < len(l.exprs); i++ {
		l.exprs[i].entity = info // computed properties' computes
	}
	e.props = map[string]*Property{}
	for i, p := range e.Properties {
		p.Index = i
		e.props[p.Name] = p
	}
	for _, id := range e.Identity {
		if p := e.props[id.Name]; p != nil && p.Sensitive != "" {
			id.Sensitive = true
		}
	}
	n0 = l.errs()
	if en, ok := f["relationships"]; ok && !l.isNull(en.v) {
		items, _ := l.list(en.v, join(path, "relationships"))
		for i, item := range items {
			if r := l.decodeRelationship(item, index(join(path, "relationships"), i)); r != nil {
				e.Relationships = append(e.Relationships, r)
			}
		}
	}
	info.relsBroken = l.errs() > n0 || l.misspelled[join(path, "relationships")]
	e.rels = map[string]*Relationship{}
	for _, r := range e.Relationships {
		if _, dup := e.rels[r.Type]; !dup {
			e.rels[r.Type] = r
		}
	}

	l.decodeStates(info, f, path)
	if l.misspelled[join(path, "always")] {
		info.uncertain = true
	}
	if en, ok := f["always"]; ok && !l.isNull(en.v) {
		ap := join(path, "always")
		members, ok := l.mapping(en.v, ap)
		info.uncertain = info.uncertain || !ok
		for _, m := range members {
			hp := join(ap, m.key)
			l.mark(hp, m.k, l.resolveQuiet(m.v))
			l.checkName(m.key, nameOther, "event type", "", hp)
			if h := l.decodeHandler(m.v, hp, &handlerCtx{info: info, event: m.key, where: inAlways}); h == nil {
				info.uncertain = true
			} else {
				e.Always = append(e.Always, h)
				for _, t := range transitionsOf(h.Effects) {
					info.transitions = append(info.transitions, transitionSite{path: t.Path + ".transition.to", to: t.To, always: true})
				}
			}
		}
	}

	// References to states, now that every state is known.
	declared := make(map[string]bool, len(e.States))
	for _, st := range e.States {
		declared[st.Name] = true
	}
	sorted := slices.Sorted(maps.Keys(declared))
	if info.start != "" && !info.statesBroken {
		if !declared[info.start] {
			l.errorf(KindUnknownState, join(path, "starts"), "starts %q: no such state%s", info.start, didYouMean(info.start, sorted))
		} else {
			e.Starts = info.start
		}
	}
	for _, t := range info.transitions {
		if !declared[t.to] && !info.statesBroken {
			info.uncertain = true
			l.errorf(KindUnknownState, t.path, "transition to %q: no such state%s", t.to, didYouMean(t.to, sorted))
		}
	}
	return info
}

func (l *loader) decodeIdentity(info *entityInfo, f map[string]entry, path string) {
	ip := join(path, "identity")
	en, ok := f["identity"]
	if !ok || l.isNull(en.v) {
		l.errorf(KindMissing, ip, "entity %q needs identity: at least one identity field", info.e.Name)
		return
	}
	members, ok := l.orderedMapping(en.v, ip)
	if !ok {
		return
	}
	if len(members) == 0 {
		l.errorf(KindMissing, ip, "entity %q needs at least one identity field", info.e.Name)
		return
	}
	for _, m := range members {
		fp := join(ip, m.key)
		l.mark(fp, m.k, l.resolveQuiet(m.v))
		l.checkName(m.key, nameOther, "identity field", "", fp)
		id := &IdentityField{Name: m.key, Match: MatchExact}
		info.e.Identity = append(info.e.Identity, id)
		if l.isNull(m.v) {
			continue
		}
		cf, ok := l.fields(m.v, fp, "match", "normalize")
		if !ok {
			continue
		}
		if c, ok := cf["match"]; ok {
			if s, ok := l.str(c.v, join(fp, "match")); ok {
				if s != MatchExact && s != MatchCaseInsensitive {
					l.errorf(KindInvalidValue, join(fp, "match"), "match %q is not allowed; expected %q or %q%s",
						s, MatchExact, MatchCaseInsensitive, didYouMean(s, []string{MatchCaseInsensitive, MatchExact}))
				} else {
					id.Match = s
				}
			}
		}
		if c, ok := cf["normalize"]; ok && !l.isNull(c.v) {
			id.Normalize = l.compile(c.v, join(fp, "normalize"), exprSite{ctx: ctxNormalize, entity: info})
		}
	}
}

// decodeProperty decodes an entity property or, with rel, a relationship
// property (which only takes type, default, allowed, min and max).
func (l *loader) decodeProperty(name string, n *yaml.Node, path, entity string, rel bool) *Property {
	if rel {
		l.checkName(name, nameRelProperty, "relationship property", "", path)
	} else {
		l.checkName(name, nameProperty, "property", entity, path)
	}
	// A property that fails to decode is still declared (without a type),
	// so that references to it do not add errors of their own.
	p := &Property{Name: name}
	if l.isNull(n) {
		l.errorf(KindMissing, join(path, "type"), "property %q needs a type (one of %s)", name, strings.Join(types, ", "))
		return p
	}
	keys := []string{"type", "default", "allowed", "min", "max", "compute", "sensitive", "treatment"}
	if rel {
		keys = keys[:5]
	}
	f, ok := l.fields(n, path, keys...)
	if !ok {
		return p
	}
	typeOK := false
	if en, ok := f["type"]; ok && !l.isNull(en.v) {
		if s, ok := l.str(en.v, join(path, "type")); ok {
			if contains(types, s) {
				p.Type, typeOK = Type(s), true
			} else {
				l.errorf(KindInvalidValue, join(path, "type"), "property %q has unknown type %q; expected one of %s%s",
					name, s, strings.Join(types, ", "), didYouMean(s, types))
			}
		}
	} else {
		l.errorf(KindMissing, join(path, "type"), "property %q needs a type (one of %s)", name, strings.Join(types, ", "))
	}
	numeric := p.Type == TypeInteger || p.Type == TypeNumber

	if en, ok := f["allowed"]; ok {
		ap := join(path, "allowed")
		items, ok := l.list(en.v, ap)
		if ok && len(items) == 0 {
			l.errorf(KindMissing, ap, "allowed must list at least one value")
		}
		for i, item := range items {
			v, ok := l.literal(item, index(ap, i))
			if !ok || !typeOK {
				continue
			}
			if v.IsNull() {
				l.errorf(KindType, index(ap, i), "allowed values must not be null")
				continue
			}
			cv, ok := compatible(p.Type, v)
			if !ok {
				l.errorf(KindType, index(ap, i), "allowed value %s is not compatible with type %s", literalText(v), p.Type)
				continue
			}
			if slices.ContainsFunc(p.Allowed, func(x value.Value) bool { return value.Equal(x, cv) }) {
				l.errorf(KindDuplicate, index(ap, i), "allowed value %s is listed twice", literalText(v))
				continue
			}
			p.Allowed = append(p.Allowed, cv)
		}
	}
	for _, k := range []string{"min", "max"} {
		en, ok := f[k]
		if !ok {
			continue
		}
		v, ok := l.number(en.v, join(path, k))
		if !ok {
			continue
		}
		if typeOK && !numeric {
			l.errorf(KindType, join(path, k), "%s is only allowed on integer and number properties; %q is %s", k, name, p.Type)
			continue
		}
		x, _ := v.Number()
		if k == "min" {
			p.Min = &x
		} else {
			p.Max = &x
		}
	}
	if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
		l.errorf(KindConstraint, join(path, "min"), "min %s is greater than max %s", value.FormatFloat(*p.Min), value.FormatFloat(*p.Max))
		p.Min, p.Max = nil, nil // the default cannot be judged against them
	}
	if en, ok := f["default"]; ok {
		dp := join(path, "default")
		if v, ok := l.literal(en.v, dp); ok && typeOK && !v.IsNull() {
			if cv, ok := compatible(p.Type, v); !ok {
				l.errorf(KindType, dp, "default %s of property %q is not compatible with type %s", literalText(v), name, p.Type)
			} else {
				p.Default = cv
				l.checkConstraints(p, cv, dp, "default")
			}
		}
	}
	if rel {
		return p
	}
	if en, ok := f["compute"]; ok && !l.isNull(en.v) {
		p.Compute = l.compile(en.v, join(path, "compute"), exprSite{ctx: ctxComputed, prop: p})
		if _, hasDefault := f["default"]; hasDefault && !l.isNull(f["default"].v) {
			l.warnf(KindComputedDefault, join(path, "default"),
				"default of computed property %q has no effect: the compute overwrites it before any row is written", name)
		}
	}
	if en, ok := f["sensitive"]; ok && !l.isNull(en.v) {
		sp := join(path, "sensitive")
		r := l.resolve(en.v)
		switch {
		case r == nil:
		case r.Kind == yaml.ScalarNode && r.ShortTag() == "!!bool":
			if b, _ := l.boolean(r, sp); b {
				p.Sensitive = "true"
			}
		default:
			if s, ok := l.str(r, sp); ok {
				switch {
				case strings.TrimSpace(s) == "":
					l.errorf(KindInvalidValue, sp, "sensitive must be true or a non-empty label such as pii")
				case s != "pii" && s != "phi" && s != "pci":
					l.warnf(KindUnknownSensitiveLabel, sp, "sensitive label %q is not one of pii, phi, pci%s", s, didYouMean(s, []string{"pii", "phi", "pci"}))
					p.Sensitive = s
				default:
					p.Sensitive = s
				}
			}
		}
	}
	if en, ok := f["treatment"]; ok && !l.isNull(en.v) {
		tp := join(path, "treatment")
		if s, ok := l.str(en.v, tp); ok {
			treatments := []string{TreatmentHash, TreatmentMask, TreatmentRedact}
			switch {
			case !contains(treatments, s):
				l.errorf(KindInvalidValue, tp, "treatment %q is not allowed; expected hash, mask or redact%s", s, didYouMean(s, treatments))
			case p.Sensitive == "":
				l.warnf(KindTreatmentWithoutSensitive, tp, "treatment %q has no effect: property %q is not sensitive", s, name)
			default:
				p.Treatment = s
			}
		}
	}
	if p.Sensitive != "" && p.Treatment == "" {
		p.Treatment = TreatmentRedact
	}
	return p
}

// checkConstraints reports a literal outside the property's allowed, min or max.
func (l *loader) checkConstraints(p *Property, v value.Value, path, what string) {
	if v.IsNull() {
		return
	}
	if len(p.Allowed) > 0 && !slices.ContainsFunc(p.Allowed, func(x value.Value) bool { return value.Equal(x, v) }) {
		l.errorf(KindConstraint, path, "%s %s of %q is not one of its allowed values", what, literalText(v), p.Name)
	}
	if x, ok := v.Number(); ok {
		if p.Min != nil && x < *p.Min {
			l.errorf(KindConstraint, path, "%s %s of %q is below its min %s", what, literalText(v), p.Name, value.FormatFloat(*p.Min))
		}
		if p.Max != nil && x > *p.Max {
			l.errorf(KindConstraint, path, "%s %s of %q is above its max %s", what, literalText(v), p.Name, value.FormatFloat(*p.Max))
		}
	}
}

var cardinalities = []string{HasMany, HasOne, BelongsTo, ManyToMany}

func (l *loader) decodeRelationship(n *yaml.Node, path string) *Relationship {
	f, ok := l.fields(n, path, "type", "target", "cardinality", "properties")
	if !ok {
		return nil
	}
	r := &Relationship{}
	valid := true
	if en, ok := f["type"]; ok && !l.isNull(en.v) {
		if s, ok := l.str(en.v, join(path, "type")); ok {
			r.Type = s
			l.checkNameOf(s, nameRelationship, "relationship type", "", join(path, "type"), false)
		} else {
			valid = false
		}
	} else {
		l.errorf(KindMissing, join(path, "type"), "a relationship needs a type (its name)")
		valid = false
	}
	if en, ok := f["target"]; ok && !l.isNull(en.v) {
		if s, ok := l.nonEmptyStr(en.v, join(path, "target")); ok {
			r.Target = s
		}
	} else {
		l.errorf(KindMissing, join(path, "target"), "relationship %q needs a target entity type", r.Type)
	}
	if en, ok := f["cardinality"]; ok && !l.isNull(en.v) {
		if s, ok := l.str(en.v, join(path, "cardinality")); ok {
			if contains(cardinalities, s) {
				r.Cardinality = s
			} else {
				l.errorf(KindInvalidValue, join(path, "cardinality"), "cardinality %q is not allowed; expected one of %s%s",
					s, strings.Join(cardinalities, ", "), didYouMean(s, cardinalities))
			}
		}
	} else {
		l.errorf(KindMissing, join(path, "cardinality"), "relationship %q needs a cardinality (one of %s)", r.Type, strings.Join(cardinalities, ", "))
	}
	if en, ok := f["properties"]; ok && !l.isNull(en.v) {
		pp := join(path, "properties")
		members, _ := l.orderedMapping(en.v, pp)
		for _, m := range members {
			mp := join(pp, m.key)
			l.mark(mp, m.k, l.resolveQuiet(m.v))
			if p := l.decodeProperty(m.key, m.v, mp, "", true); p != nil {
				r.Properties = append(r.Properties, p)
			}
		}
		for i, p := range r.Properties {
			p.Index = i
		}
	}
	if !valid {
		return nil
	}
	l.relPaths[r] = path
	return r
}

func (l *loader) decodeStates(info *entityInfo, f map[string]entry, path string) {
	sp := join(path, "states")
	en, ok := f["states"]
	if !ok || l.isNull(en.v) {
		info.uncertain, info.statesBroken = true, true
		l.errorf(KindMissing, sp, "entity %q needs states", info.e.Name)
		return
	}
	members, ok := l.mapping(en.v, sp)
	if !ok {
		info.uncertain, info.statesBroken = true, true
		return
	}
	if len(members) == 0 {
		l.errorf(KindMissing, sp, "entity %q needs at least one state", info.e.Name)
		return
	}
	for _, m := range members {
		stp := join(sp, m.key)
		l.mark(stp, m.k, l.resolveQuiet(m.v))
		l.checkName(m.key, nameOther, "state", "", stp)
		st := &State{Name: m.key}
		info.e.States = append(info.e.States, st)
		if l.isNull(m.v) {
			continue
		}
		sf, ok := l.fields(m.v, stp, "when", "after")
		if !ok || l.misspelled[join(stp, "when")] || l.misspelled[join(stp, "after")] {
			info.uncertain = true
		}
		if !ok {
			continue
		}
		if w, ok := sf["when"]; ok && !l.isNull(w.v) {
			wp := join(stp, "when")
			handlers, ok := l.mapping(w.v, wp)
			info.uncertain = info.uncertain || !ok
			for _, h := range handlers {
				hp := join(wp, h.key)
				l.mark(hp, h.k, l.resolveQuiet(h.v))
				l.checkName(h.key, nameOther, "event type", "", hp)
				hc := &handlerCtx{info: info, event: h.key, where: inWhen, starts: m.key == info.start}
				if hd := l.decodeHandler(h.v, hp, hc); hd == nil {
					info.uncertain = true
				} else {
					st.When = append(st.When, hd)
					for _, t := range transitionsOf(hd.Effects) {
						info.transitions = append(info.transitions, transitionSite{path: t.Path + ".transition.to", from: st.Name, to: t.To})
					}
				}
			}
		}
		if a, ok := sf["after"]; ok && !l.isNull(a.v) {
			ap := join(stp, "after")
			items, ok := l.list(a.v, ap)
			info.uncertain = info.uncertain || !ok
			for i, item := range items {
				if tr := l.decodeTimeRule(info, item, index(ap, i)); tr == nil {
					info.uncertain = true
				} else {
					tr.Index = len(st.After)
					st.After = append(st.After, tr)
					for _, t := range transitionsOf(tr.Effects) {
						info.transitions = append(info.transitions, transitionSite{path: t.Path + ".transition.to", from: st.Name, to: t.To})
					}
				}
			}
		}
	}
}

func transitionsOf(effects []*Effect) []*Effect {
	var out []*Effect
	for _, ef := range effects {
		if ef.Kind == EffectTransition && ef.To != "" {
			out = append(out, ef)
		}
	}
	return out
}

var timeRuleTypes = []string{RuleInactivity, RuleExpiration, RuleStateDuration}

func (l *loader) decodeTimeRule(info *entityInfo, n *yaml.Node, path string) *TimeRule {
	f, ok := l.fields(n, path, "type", "threshold", "effects")
	if !ok {
		return nil
	}
	tr := &TimeRule{Path: path}
	if en, ok := f["type"]; ok && !l.isNull(en.v) {
		if s, ok := l.str(en.v, join(path, "type")); ok {
			if contains(timeRuleTypes, s) {
				tr.Type = s
			} else {
				l.errorf(KindInvalidValue, join(path, "type"), "time rule type %q is not allowed; expected one of %s%s",
					s, strings.Join(timeRuleTypes, ", "), didYouMean(s, timeRuleTypes))
			}
		}
	} else {
		l.errorf(KindMissing, join(path, "type"), "a time rule needs a type (one of %s)", strings.Join(timeRuleTypes, ", "))
	}
	tp := join(path, "threshold")
	if en, ok := f["threshold"]; ok && !l.isNull(en.v) {
		r := l.resolve(en.v)
		switch {
		case r == nil:
		case r.Kind == yaml.ScalarNode && (r.ShortTag() == "!!int" || r.ShortTag() == "!!float"):
			l.errorf(KindThreshold, tp, "threshold %s is a number; write it as a string with a unit d, h, m or s (e.g. \"%sd\")", r.Value, r.Value)
		default:
			if s, ok := l.str(r, tp); ok {
				if us, err := parseThreshold(s); err != nil {
					l.errorf(KindThreshold, tp, "%s", err.Error())
				} else {
					tr.Threshold = us
				}
			}
		}
	} else {
		l.errorf(KindMissing, tp, "a time rule needs a threshold such as \"14d\"")
	}
	tr.Effects = l.decodeEffectList(f, path, &handlerCtx{info: info, where: inTimeRule})
	return tr
}

// decodeHandler decodes a when or always handler.
func (l *loader) decodeHandler(n *yaml.Node, path string, hc *handlerCtx) *Handler {
	if l.isNull(n) {
		l.errorf(KindMissing, join(path, "effects"), "handler %q needs effects", hc.event)
		return nil
	}
	f, ok := l.fields(n, path, "guard", "effects")
	if !ok {
		return nil
	}
	h := &Handler{EventType: hc.event, Path: path}
	if en, ok := f["guard"]; ok && !l.isNull(en.v) {
		h.Guard = l.compile(en.v, join(path, "guard"), exprSite{ctx: ctxHandler, entity: hc.info, event: hc.event})
	}
	h.Effects = l.decodeEffectList(f, path, hc)
	for _, ef := range h.Effects {
		if ef.Kind == EffectCreate {
			h.Creates = true
		}
	}
	return h
}

// decodeEffectList decodes the effects member of a handler or time rule and
// checks where each effect kind may appear.
func (l *loader) decodeEffectList(f map[string]entry, path string, hc *handlerCtx) []*Effect {
	ep := join(path, "effects")
	en, ok := f["effects"]
	if !ok || l.isNull(en.v) {
		hc.info.uncertain = true
		l.errorf(KindMissing, ep, "effects are required and must not be empty")
		return nil
	}
	items, ok := l.list(en.v, ep)
	if !ok {
		hc.info.uncertain = true
		return nil
	}
	if len(items) == 0 {
		l.errorf(KindMissing, ep, "effects must not be empty")
		return nil
	}
	var out []*Effect
	beforeCreate := true
	for i, item := range items {
		ef := l.decodeEffect(item, index(ep, i), hc)
		if ef == nil {
			hc.info.uncertain = true
			continue
		}
		switch {
		case hc.where == inTimeRule && ef.Kind != EffectTransition && ef.Kind != EffectSet && ef.Kind != EffectIncrement:
			l.errorf(KindPlacement, ef.Path, "%s is not allowed in a time rule: only transition, set and increment are", ef.Kind)
		case ef.Kind == EffectCreate && hc.where == inAlways:
			l.errorf(KindPlacement, ef.Path, "create is not allowed in always handlers: they run only for existing entities")
		case ef.Kind == EffectCreate && hc.starts && !beforeCreate:
			// reported once, at the first create
		case ef.Kind == EffectCreate && hc.starts:
			for _, prev := range out {
				if prev.Kind != EffectRelate {
					l.errorf(KindPlacement, ef.Path, "in a handler of the starts state only relate may precede create; %s at %s comes first", prev.Kind, prev.Path)
					break
				}
			}
		}
		if ef.Kind == EffectCreate {
			beforeCreate = false
		}
		out = append(out, ef)
	}
	return out
}

var effectKinds = []string{string(EffectCreate), string(EffectTransition), string(EffectSet), string(EffectIncrement), string(EffectRelate)}

func (l *loader) decodeEffect(n *yaml.Node, path string, hc *handlerCtx) *Effect {
	r := l.resolve(n)
	if r == nil {
		return nil
	}
	if r.Kind == yaml.ScalarNode {
		if s, ok := l.str(r, path); ok {
			if s == string(EffectCreate) {
				return &Effect{Kind: EffectCreate, Path: path}
			}
			l.errorf(KindStructure, path, "effect %q: an effect is the string create or a mapping with one key (%s)%s",
				s, strings.Join(effectKinds, ", "), didYouMean(s, effectKinds))
		}
		return nil
	}
	members, ok := l.mapping(r, path)
	if !ok {
		return nil
	}
	if len(members) != 1 {
		keys := make([]string, len(members))
		for i, m := range members {
			keys[i] = m.key
		}
		l.errorf(KindStructure, path, "an effect is a mapping with exactly one key (the effect kind), got %s; a condition goes inside the effect body",
			strings.Join(keys, ", "))
		return nil
	}
	m := members[0]
	bp := join(path, m.key)
	l.mark(bp, m.k, l.resolveQuiet(m.v))
	ef := &Effect{Kind: EffectKind(m.key), Path: path}
	switch ef.Kind {
	case EffectCreate:
		if !l.isNull(m.v) {
			if body := l.resolve(m.v); body == nil || body.Kind != yaml.MappingNode || len(body.Content) > 0 {
				l.errorf(KindStructure, bp, "create takes no options: write create, {create: null} or {create: {}}")
				return nil
			}
		}
		return ef
	case EffectTransition:
		f, ok := l.fields(m.v, bp, "to", "condition")
		if !ok {
			return nil
		}
		l.condition(ef, f, bp, hc)
		if en, ok := f["to"]; ok && !l.isNull(en.v) {
			if s, ok := l.nonEmptyStr(en.v, join(bp, "to")); ok {
				ef.To = s
			}
		} else {
			l.errorf(KindMissing, join(bp, "to"), "transition needs to: the target state")
		}
		return ef
	case EffectSet:
		return l.decodeSet(ef, m.v, bp, hc)
	case EffectIncrement:
		return l.decodeIncrement(ef, m.v, bp, hc)
	case EffectRelate:
		return l.decodeRelate(ef, m.v, bp, hc)
	}
	l.problemAt(m.k, KindUnknownKey, bp, fmt.Sprintf("unknown effect %q%s", m.key, didYouMeanOr(m.key, effectKinds)))
	return nil
}

// exprCtxOf is the expression context of a handler's or time rule's effects.
func (hc *handlerCtx) exprCtx() exprCtx {
	if hc.where == inTimeRule {
		return ctxTimeRule
	}
	return ctxHandler
}

func (l *loader) condition(ef *Effect, f map[string]entry, bp string, hc *handlerCtx) {
	if en, ok := f["condition"]; ok && !l.isNull(en.v) {
		ef.Condition = l.compile(en.v, join(bp, "condition"), exprSite{ctx: hc.exprCtx(), entity: hc.info, event: hc.event})
	}
}

// targetProperty resolves the property a set or increment writes.
func (l *loader) targetProperty(f map[string]entry, bp, kind string, hc *handlerCtx) (*Property, bool) {
	pp := join(bp, "property")
	en, ok := f["property"]
	if !ok || l.isNull(en.v) {
		l.errorf(KindMissing, pp, "%s needs property: the property to write", kind)
		return nil, false
	}
	name, ok := l.nonEmptyStr(en.v, pp)
	if !ok {
		return nil, false
	}
	e := hc.info.e
	p := e.props[name]
	if p == nil && hc.info.propsBroken {
		return nil, true
	}
	if p == nil {
		names := make([]string, 0, len(e.Properties))
		for _, q := range e.Properties {
			names = append(names, q.Name)
		}
		slices.Sort(names)
		l.errorf(KindUnknownProperty, pp, "%s of %q: entity %q has no such property%s", kind, name, e.Name, didYouMean(name, names))
		return nil, true
	}
	hc.info.writes = append(hc.info.writes, writeSite{path: pp, prop: name})
	if p.Compute != nil {
		l.errorf(KindComputedWrite, pp, "%s of %q: it is a computed property, its compute sets it", kind, name)
	}
	return p, true
}

func (l *loader) decodeSet(ef *Effect, n *yaml.Node, bp string, hc *handlerCtx) *Effect {
	f, ok := l.fields(n, bp, "property", "from", "value", "compute", "condition")
	if !ok {
		return nil
	}
	l.condition(ef, f, bp, hc)
	p, _ := l.targetProperty(f, bp, "set", hc)
	if p != nil {
		ef.Property = p.Name
	} else if en, ok := f["property"]; ok {
		ef.Property = l.resolveQuiet(en.v).Value
	}
	var pt Type
	if p != nil {
		pt = p.Type
	}
	l.valueSource(&ef.Source, f, bp, hc, pt, func(v value.Value, vp string) {
		if p != nil {
			l.checkConstraints(p, v, vp, "value")
		}
	}, fmt.Sprintf("property %q", ef.Property))
	return ef
}

// valueSource reads exactly one of from, value and compute. t is the type a
// value literal must be compatible with ("" when unknown).
func (l *loader) valueSource(vs *ValueSource, f map[string]entry, bp string, hc *handlerCtx, t Type, check func(value.Value, string), owner string) {
	var given []string
	for _, k := range []string{"from", "value", "compute"} {
		if _, ok := f[k]; ok {
			given = append(given, k)
		}
	}
	switch len(given) {
	case 0:
		if !l.misspelled[join(bp, "from")] && !l.misspelled[join(bp, "value")] && !l.misspelled[join(bp, "compute")] {
			l.errorf(KindMissing, bp, "needs one of from, value or compute")
		}
		return
	case 1:
	default:
		l.errorf(KindConflict, join(bp, given[1]), "%s and %s are both given; use exactly one of from, value or compute", given[0], given[1])
		return
	}
	en := f[given[0]]
	p := join(bp, given[0])
	switch given[0] {
	case "from":
		s, ok := l.nonEmptyStr(en.v, p)
		if !ok {
			return
		}
		l.parseFrom(vs, s, p, hc)
	case "value":
		v, ok := l.literal(en.v, p)
		if !ok {
			return
		}
		vs.HasValue = true
		if t == "" {
			vs.Value = v
			return
		}
		cv, ok := compatible(t, v)
		if !ok {
			l.errorf(KindType, p, "value %s is not compatible with %s of type %s", literalText(v), owner, t)
			return
		}
		vs.Value = cv
		check(cv, p)
	case "compute":
		if l.isNull(en.v) {
			l.errorf(KindMissing, p, "compute must be an expression")
			return
		}
		vs.Compute = l.compile(en.v, p, exprSite{ctx: hc.exprCtx(), entity: hc.info, event: hc.event})
	}
}

// fromSegRE is one segment of a from reference: a name or an array index.
var fromSegRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*|[0-9]+)$`)

// parseFrom parses `event.<path>` or `entity.<property>`.
func (l *loader) parseFrom(vs *ValueSource, s, p string, hc *handlerCtx) {
	segs := strings.Split(s, ".")
	root := segs[0]
	rest := segs[1:]
	var r expr.Root
	switch root {
	case "event":
		if hc.where == inTimeRule {
			l.errorf(KindRoot, p, "from %q: time rules have no event; use entity.<property>", s)
			return
		}
		r = expr.RootEvent
	case "entity":
		r = expr.RootEntity
	default:
		l.errorf(KindInvalidValue, p, "from %q must start with event. or entity.", s)
		return
	}
	if len(rest) == 0 {
		l.errorf(KindInvalidValue, p, "from %q must name a field, e.g. %s.plan", s, root)
		return
	}
	for _, seg := range rest {
		if !fromSegRE.MatchString(seg) {
			l.errorf(KindInvalidValue, p, "from %q: segment %q must be a name or a non-negative integer", s, seg)
			return
		}
	}
	if root == "entity" && len(rest) != 1 {
		l.errorf(KindInvalidValue, p, "from %q: entity references name one property, e.g. entity.plan", s)
		return
	}
	vs.FromRoot, vs.FromPath, vs.FromText = r, rest, s
	l.froms = append(l.froms, fromSite{path: p, vs: vs, ctx: hc.exprCtx(), entity: hc.info, event: hc.event})
}

func (l *loader) decodeIncrement(ef *Effect, n *yaml.Node, bp string, hc *handlerCtx) *Effect {
	f, ok := l.fields(n, bp, "property", "by", "condition")
	if !ok {
		return nil
	}
	l.condition(ef, f, bp, hc)
	p, _ := l.targetProperty(f, bp, "increment", hc)
	if p != nil {
		ef.Property = p.Name
		if p.Type != "" && p.Type != TypeInteger && p.Type != TypeNumber {
			l.errorf(KindType, join(bp, "property"), "increment of %q: the property is %s; only integer and number properties can be incremented", p.Name, p.Type)
			p = nil
		}
	}
	ef.By = value.Int(1)
	if en, ok := f["by"]; ok {
		v, ok := l.number(en.v, join(bp, "by"))
		if !ok {
			return ef
		}
		// An integral float is stored as Int so that the canonical form
		// (which writes 2.0 as 2) reloads to the same value.
		if v.Kind() == value.KindFloat {
			if i, ok := floatToInt(v.AsFloat()); ok {
				v = value.Int(i)
			}
		}
		if p != nil && p.Type == TypeInteger && v.Kind() != value.KindInt {
			l.errorf(KindType, join(bp, "by"), "increment by %s: %q is an integer property, so by must be an integer", literalText(v), p.Name)
			return ef
		}
		ef.By = v
	}
	return ef
}

func (l *loader) decodeRelate(ef *Effect, n *yaml.Node, bp string, hc *handlerCtx) *Effect {
	f, ok := l.fields(n, bp, "type", "target", "hints", "properties", "condition")
	if !ok {
		return nil
	}
	l.condition(ef, f, bp, hc)
	r := &Relate{}
	ef.Relate = r
	e := hc.info.e
	var rel *Relationship
	if en, ok := f["type"]; ok && !l.isNull(en.v) {
		if s, ok := l.nonEmptyStr(en.v, join(bp, "type")); ok {
			r.Type = s
			rel = e.rels[s]
			if rel == nil {
				names := make([]string, 0, len(e.Relationships))
				for _, x := range e.Relationships {
					names = append(names, x.Type)
				}
				slices.Sort(names)
				l.errorf(KindUnknownRelationship, join(bp, "type"), "relate type %q: entity %q declares no such relationship%s", s, e.Name, didYouMean(s, names))
			}
		}
	} else {
		l.errorf(KindMissing, join(bp, "type"), "relate needs type: a relationship declared by %q", e.Name)
	}
	if en, ok := f["target"]; ok && !l.isNull(en.v) {
		if s, ok := l.nonEmptyStr(en.v, join(bp, "target")); ok {
			r.Target = s
			if rel != nil && rel.Target != "" && rel.Target != s {
				l.errorf(KindConflict, join(bp, "target"), "relate target %q differs from the target %q of relationship %q", s, rel.Target, rel.Type)
			}
		}
	} else {
		l.errorf(KindMissing, join(bp, "target"), "relate needs target: the target entity type")
	}
	explicit := false
	if en, ok := f["hints"]; ok && !l.isNull(en.v) {
		explicit = true // even when broken: no default on top of an error
		hp := join(bp, "hints")
		members, ok := l.mapping(en.v, hp)
		switch {
		case !ok:
		case len(members) != 1 || (r.Target != "" && members[0].key != r.Target):
			l.errorf(KindRelateHints, hp, "relate hints must have exactly one key, the target %q", r.Target)
		default:
			m := members[0]
			fp := join(hp, m.key)
			l.mark(fp, m.k, l.resolveQuiet(m.v))
			r.Hints = l.fieldList(m.v, fp, "hint field")
		}
	}
	if en, ok := f["properties"]; ok && !l.isNull(en.v) {
		pp := join(bp, "properties")
		members, _ := l.mapping(en.v, pp)
		for _, m := range members {
			mp := join(pp, m.key)
			l.mark(mp, m.k, l.resolveQuiet(m.v))
			var rp *Property
			if rel != nil {
				for _, q := range rel.Properties {
					if q.Name == m.key {
						rp = q
					}
				}
				if rp == nil {
					names := make([]string, 0, len(rel.Properties))
					for _, q := range rel.Properties {
						names = append(names, q.Name)
					}
					slices.Sort(names)
					l.keyErrorf(KindUnknownProperty, mp, "relationship %q has no property %q%s", rel.Type, m.key, didYouMean(m.key, names))
				}
			}
			pf, ok := l.fields(m.v, mp, "from", "value", "compute")
			if !ok {
				continue
			}
			var t Type
			if rp != nil {
				t = rp.Type
			}
			vs := new(ValueSource)
			l.valueSource(vs, pf, mp, hc, t, func(v value.Value, vp string) {
				if rp != nil {
					l.checkConstraints(rp, v, vp, "value")
				}
			}, fmt.Sprintf("relationship property %q", m.key))
			r.Properties = append(r.Properties, RelateProperty{Name: m.key, Source: *vs})
		}
		// Their order means nothing (each assigns its own column); name
		// order makes the model equal to one reloaded from canonical form.
		slices.SortStableFunc(r.Properties, func(a, b RelateProperty) int { return strings.Compare(a.Name, b.Name) })
	}
	if hc.where == inTimeRule {
		return ef // rejected by the placement check; nothing to resolve
	}
	l.relates = append(l.relates, relateSite{path: bp, r: r, rel: rel, entity: hc.info, event: hc.event, explicit: explicit})
	return ef
}

// fieldList reads a non-empty list of distinct, non-empty field names.
func (l *loader) fieldList(n *yaml.Node, path, what string) []string {
	items, ok := l.list(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		l.errorf(KindMissing, path, "the list of %ss must not be empty", what)
		return nil
	}
	var out []string
	for i, item := range items {
		s, ok := l.nonEmptyStr(item, index(path, i))
		if !ok {
			continue
		}
		if contains(out, s) {
			l.errorf(KindDuplicate, index(path, i), "%s %q is listed twice", what, s)
			continue
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// compile parses an expression and queues it for the checks that need the
// whole set. It returns nil when the expression does not parse.
func (l *loader) compile(n *yaml.Node, path string, site exprSite) *expr.Program {
	src, ok := l.exprText(n, path)
	if !ok {
		return nil
	}
	prog, err := expr.Parse(src)
	if err != nil {
		msg, pos := err.Error(), 0
		if e, ok := err.(*expr.Error); ok {
			msg, pos = e.Msg, e.Pos
		}
		l.problem(SeverityError, KindExpression, path, "invalid expression: "+msg, pos, false)
		return nil
	}
	site.path = path
	site.prog = prog
	l.exprs = append(l.exprs, site)
	return prog
}
