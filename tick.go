package defacto

import (
	"context"
	"time"

	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// Tick evaluates time rules up to asOf (nil: the engine clock; a time.Time;
// or RFC 3339 text, a date meaning its start in UTC). Only entities with a
// due deadline are touched. Like every processing call it first runs the
// build the active version needs.
func (e *Engine) Tick(ctx context.Context, asOf any) (*TickResult, error) {
	unlock, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	at := e.now()
	if asOf != nil {
		if at, err = parseInstant(asOf); err != nil {
			return nil, err
		}
	}
	b, err := e.autoBuild(ctx)
	if err != nil {
		return nil, err
	}
	var horizon int64 = store.NoTime
	if err := e.st.Read(ctx, func(tx store.Tx) error {
		bs, err := e.buildState(ctx, tx)
		horizon = bs.TickHorizon
		return err
	}); err != nil {
		return nil, storageErr("tick", err)
	}
	if horizon != store.NoTime && at < horizon {
		return nil, errorf(ErrValidation, "tick as of %s is before the last tick (%s); time rules were already evaluated up to then",
			value.FormatTime(at), value.FormatTime(horizon))
	}
	res, err := e.tick(ctx, at, b)
	if err != nil {
		return nil, err
	}
	e.deadLetters(res.Failures)
	return res, nil
}

// tick fires due time rules up to at in batches of one transaction each and
// raises the tick horizon.
func (e *Engine) tick(ctx context.Context, at int64, build *BuildResult) (*TickResult, error) {
	res := &TickResult{AsOf: value.FormatTime(at), Failures: []EventFailure{}, Build: build}
	const batch = 500
	evaluated := map[string]bool{}
	for {
		var n int
		err := e.write(ctx, "tick", func(tx store.Tx) error {
			due, err := tx.DueStates(ctx, e.version, at, batch)
			if err != nil {
				return err
			}
			idc, err := metaInt(ctx, tx, metaIdentityCursor)
			if err != nil {
				return err
			}
			n = 0
			var states []store.StateRecord
			w := &stageWriter{e: e, tx: tx, ctx: ctx, st: newRunStats().pending, horizon: at, hi: idc, now: e.now()}
			// One read of the open rows per entity type for the whole batch.
			byType := map[string][]string{}
			for _, rec := range due {
				byType[rec.EntityType] = append(byType[rec.EntityType], rec.EntityID)
			}
			open := map[string]store.HistoryRow{}
			for t, ids := range byType {
				ent := e.defs.Entity(t)
				if ent == nil {
					continue
				}
				got, err := tx.OpenRows(ctx, e.version, ent, ids)
				if err != nil {
					return err
				}
				for id, r := range got {
					open[id] = r
				}
			}
			var rebuild []store.StateRecord
			for _, rec := range due {
				if evaluated[rec.EntityID] {
					continue // failed firings keep a due deadline; one evaluation per tick
				}
				evaluated[rec.EntityID] = true
				n++
				ent := e.defs.Entity(rec.EntityType)
				m := e.machines[rec.EntityType]
				if ent == nil || m == nil {
					continue
				}
				st, err := decodeState(rec.Data, rec.EntityID, rec.EntityType)
				if err != nil {
					return err
				}
				base, hasBase := open[rec.EntityID]
				var bp *interpret.Row
				if hasBase {
					r := toInterpRow(base)
					bp = &r
				}
				run := m.Start(rec.EntityID, st, bp, nil)
				run.Advance(at)
				if run.Err != nil {
					return run.Err
				}
				res.EntitiesEvaluated++
				for _, f := range run.Failures {
					res.Failures = append(res.Failures, EventFailure{
						Stage: StageInterpret, Index: -1, EntityType: ent.Name, EntityID: rec.EntityID,
						Field: f.Field, Location: f.Location, Message: f.Message,
					})
				}
				res.RulesFired += run.RulesFired
				res.Transitions += run.Transitions
				if len(run.Rows) > 0 && hasBase && run.Rows[0].ValidFrom == base.ValidFrom {
					// A firing lands on the open row's instant (an overdue
					// expiration on state entry): rebuild the entity after the
					// batch's writes, so the row at that instant holds the
					// final state.
					rebuild = append(rebuild, rec)
					res.EntitiesChanged++
					continue
				}
				if len(run.Rows) > 0 {
					res.EntitiesChanged++
					if err := w.writeIncremental(ent, rec.EntityID, run, base, hasBase); err != nil {
						return err
					}
					res.RowsWritten += len(run.Rows)
				}
				out, err := w.stateRecord(rec.EntityID, rec.EntityType, run.State, m, len(run.Rows) > 0)
				if err != nil {
					return err
				}
				states = append(states, out)
			}
			if err := w.flush(); err != nil {
				return err
			}
			for _, rec := range rebuild {
				before := w.st.rowsWritten
				if err := w.recompute(rec.EntityID, rec.EntityType); err != nil {
					return err
				}
				res.RowsWritten += w.st.rowsWritten - before
			}
			if err := tx.PutStates(ctx, e.version, states); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			bs, err := e.buildState(ctx, tx)
			if err != nil {
				return err
			}
			if bs.TickHorizon == store.NoTime || at > bs.TickHorizon {
				bs.TickHorizon = at
				return tx.PutBuildState(ctx, bs)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return res, nil
		}
	}
}

// parseInstant reads an as-of argument: time.Time, RFC 3339 text (no
// offset means UTC) or a date (its start, UTC).
func parseInstant(v any) (int64, error) {
	switch t := v.(type) {
	case time.Time:
		return value.Time(t).Micros(), nil
	case *time.Time:
		if t != nil {
			return value.Time(*t).Micros(), nil
		}
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
			if p, err := time.Parse(layout, t); err == nil {
				return value.Time(p).Micros(), nil
			}
		}
		return 0, errorf(ErrValidation, "invalid instant %q: want RFC 3339 (e.g. 2024-01-15T10:00:00Z) or a date (2024-01-15)", t)
	}
	return 0, errorf(ErrValidation, "invalid instant %v (%T): want time.Time or RFC 3339 text", v, v)
}
