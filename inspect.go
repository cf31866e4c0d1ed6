package defacto

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/identity"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// Lookup returns the canonical entity id that an identity value resolves
// to, trying each identity field of entityType in order (or only field),
// with that field's normalization. ErrNotFound when none matches.
func (e *Engine) Lookup(ctx context.Context, entityType, val, field string) (string, error) {
	ent := e.act().defs.Entity(entityType)
	if ent == nil {
		return "", e.unknownEntity(entityType)
	}
	fields := ent.Identity
	if field != "" {
		f := ent.IdentityField(field)
		if f == nil {
			names := make([]string, len(ent.Identity))
			for i, x := range ent.Identity {
				names[i] = x.Name
			}
			return "", errorf(ErrValidation, "entity '%s' has no identity field '%s'%s", entityType, field, suggestion(field, names))
		}
		fields = []*definition.IdentityField{f}
	}
	var found string
	err := e.st.Read(ctx, func(tx store.Tx) error {
		for _, f := range fields {
			v, ok, err := identity.NormalizeValue(f, val)
			if err != nil || !ok {
				continue
			}
			h := identity.KeyHash(e.salt, entityType, f.Name, v)
			got, err := tx.LookupKeys(ctx, []string{h})
			if err != nil {
				return err
			}
			if k, ok := got[h]; ok {
				found, err = canonical(ctx, tx, k.EntityID)
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", storageErr("lookup", err)
	}
	if found == "" {
		return "", errorf(ErrNotFound, "no %s entity has identity value %q", entityType, val)
	}
	return found, nil
}

func (e *Engine) unknownEntity(name string) error {
	names := make([]string, len(e.act().defs.Entities))
	for i, x := range e.act().defs.Entities {
		names[i] = x.Name
	}
	return errorf(ErrNotFound, "unknown entity type '%s'%s", name, suggestion(name, names))
}

// canonical follows merged_into to the surviving id ("" when unknown).
func canonical(ctx context.Context, tx store.Tx, id string) (string, error) {
	for range 1000 {
		got, err := tx.Entities(ctx, []string{id})
		if err != nil {
			return "", err
		}
		rec, ok := got[id]
		if !ok {
			return "", nil
		}
		if rec.Status != store.StatusMerged || rec.MergedInto == "" {
			return id, nil
		}
		id = rec.MergedInto
	}
	return "", fmt.Errorf("merge chain of %s does not end", id)
}

// Canonical returns the surviving id of an entity: itself when active, the
// end of its merge chain when merged away. ErrNotFound for unknown ids.
func (e *Engine) Canonical(ctx context.Context, id string) (string, error) {
	var out string
	err := e.st.Read(ctx, func(tx store.Tx) error {
		var err error
		out, err = canonical(ctx, tx, id)
		return err
	})
	if err != nil {
		return "", storageErr("canonical id", err)
	}
	if out == "" {
		return "", errorf(ErrNotFound, "unknown entity id '%s'", id)
	}
	return out, nil
}

// Hints lists the identity values that resolve to an active entity: the
// normalized value for ordinary fields, "key:<hash>" for sensitive ones, in
// key creation order.
func (e *Engine) Hints(ctx context.Context, id string) (*HintsResult, error) {
	var out *HintsResult
	var merged string
	err := e.st.Read(ctx, func(tx store.Tx) error {
		got, err := tx.Entities(ctx, []string{id})
		if err != nil {
			return err
		}
		rec, ok := got[id]
		if !ok {
			return nil
		}
		if rec.Status == store.StatusMerged {
			merged, err = canonical(ctx, tx, id)
			return err
		}
		keys, err := tx.EntityKeys(ctx, id)
		if err != nil {
			return err
		}
		out = &HintsResult{EntityID: id, EntityType: rec.Type, Hints: map[string][]string{}}
		for _, k := range keys {
			v := "key:" + k.Hash
			if k.HasValue {
				v = k.Value
			}
			out.Hints[k.Field] = append(out.Hints[k.Field], v)
		}
		return nil
	})
	if err != nil {
		return nil, storageErr("hints", err)
	}
	if merged != "" {
		return nil, errorf(ErrNotFound, "entity '%s' was merged into '%s'", id, merged)
	}
	if out == nil {
		return nil, errorf(ErrNotFound, "unknown entity id '%s'", id)
	}
	return out, nil
}

// Count returns the number of live user events in the ledger, or of one
// source. Merge directives (source "_defacto") count only with all, or when
// asked for by name.
func (e *Engine) Count(ctx context.Context, source string, all bool) (int64, error) {
	if source != "" && source != reservedSource && e.act().defs.Source(source) == nil {
		return 0, e.unknownSource(source)
	}
	var n int64
	err := e.st.Read(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.CountLive(ctx, source, all)
		return err
	})
	if err != nil {
		return 0, storageErr("count ledger", err)
	}
	return n, nil
}

// EventsFor returns the live events linked to an entity (a merged-away id:
// its canonical entity's), ordered by timestamp then sequence.
func (e *Engine) EventsFor(ctx context.Context, id string) ([]LedgerEvent, error) {
	var out []LedgerEvent
	var found bool
	err := e.st.Read(ctx, func(tx store.Tx) error {
		cid, err := canonical(ctx, tx, id)
		if err != nil || cid == "" {
			return err
		}
		found = true
		rows, err := tx.EntityEvents(ctx, cid, math.MaxInt64)
		if err != nil {
			return err
		}
		out = make([]LedgerEvent, 0, len(rows))
		for i := range rows {
			ev, err := decodeEvent(&rows[i])
			if err != nil {
				return err
			}
			data := make(map[string]any, len(ev.Data))
			for k, v := range ev.Data {
				data[k] = v.ToAny()
			}
			out = append(out, LedgerEvent{
				Sequence: ev.Seq, EventID: ev.ID, Source: ev.Source, EventType: ev.Type,
				Timestamp: value.FormatTime(ev.Time), Data: data,
			})
		}
		return nil
	})
	if err != nil {
		return nil, storageErr("events for entity", err)
	}
	if !found {
		return nil, errorf(ErrNotFound, "unknown entity id '%s'", id)
	}
	return out, nil
}

// EvalInput binds the roots of an expression evaluated with Eval. Roots
// left nil are absent; no implicit fields are synthesized.
type EvalInput struct {
	Event  map[string]any
	Entity map[string]any
	Value  *string
	// Now is what now() returns (zero: the current time).
	Now time.Time
}

// Eval evaluates an expression, for debugging definitions. The result is
// JSON-ready: int64, float64, string, bool, nil, []any, map[string]any, with
// instants as canonical RFC 3339 text and durations as seconds.
func Eval(src string, in EvalInput) (any, error) {
	p, err := expr.Parse(src)
	if err != nil {
		return nil, errorf(ErrValidation, "%v", err)
	}
	env := &expr.Env{}
	if in.Event != nil {
		env.Event = expr.ObjectScope(value.FromAny(in.Event))
	}
	if in.Entity != nil {
		env.Entity = expr.ObjectScope(value.FromAny(in.Entity))
	}
	if in.Value != nil {
		env.Value, env.HasValue = value.String(*in.Value), true
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	env.Now = value.Time(now).Micros()
	v, err := p.Eval(env)
	if err != nil {
		return nil, errorf(ErrValidation, "%v", err)
	}
	return evalOut(v), nil
}

func evalOut(v value.Value) any {
	if v.Kind() == value.KindDuration {
		return value.ToString(v)
	}
	return v.ToAny()
}
