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
	res, err := e.tickBatches(ctx, at, b, tickBatch, true)
	if err != nil {
		return nil, err
	}
	e.deadLetters(res.Failures)
	return res, nil
}

// tickBatch is the most due entities one tick transaction evaluates. A
// tick of up to tickBatch entities is one transaction, the horizon raised
// in it; a larger one commits every tickBatch entities, which bounds its
// memory and how long it holds the write lock, as full builds do with 1000
// entities per transaction. Every commit rewrites the pages it dirtied, and
// due entities are scattered over the state and history B-trees, so
// fewer, larger transactions write fewer pages in all.
const tickBatch = 1000

// tick fires due time rules up to at and raises the tick horizon (the
// closing tick of builds).
func (e *Engine) tick(ctx context.Context, at int64, build *BuildResult) (*TickResult, error) {
	return e.tickBatches(ctx, at, build, tickBatch, false)
}

// tickBatches fires due time rules up to at, batch entities per
// transaction, and raises the tick horizon in the last one. refuseEarlier
// makes a tick before the horizon an ErrValidation (Tick; a build's closing
// tick at the engine clock only never lowers the horizon).
//
// Batches walk the deadline index by key, each starting after the last
// entity of the previous one: an entity still due after its evaluation (a
// time-rule loop stopped at the limit) is not read again, and however many
// such entities there are, the tick reaches every due entity and ends.
func (e *Engine) tickBatches(ctx context.Context, at int64, build *BuildResult, batch int, refuseEarlier bool) (*TickResult, error) {
	res := &TickResult{AsOf: value.FormatTime(at), Failures: []EventFailure{}, Build: build}
	// An entity evaluated in this tick is skipped if a later batch meets it
	// again (its new deadline sorts after the key): one evaluation per tick.
	evaluated := map[string]bool{}
	after := store.DueKey{Deadline: store.NoTime}
	for first := true; ; first = false {
		var last bool
		err := e.write(ctx, "tick", func(tx store.Tx) error {
			var bs *store.BuildState
			if first && refuseEarlier {
				var err error
				if bs, err = e.buildState(ctx, tx); err != nil {
					return err
				}
				if bs.TickHorizon != store.NoTime && at < bs.TickHorizon {
					return errorf(ErrValidation, "tick as of %s is before the last tick (%s); time rules were already evaluated up to then",
						value.FormatTime(at), value.FormatTime(bs.TickHorizon))
				}
			}
			// One row more than the batch tells whether this is the last
			// batch, so the horizon goes into this transaction instead of
			// an extra one.
			due, err := tx.DueStates(ctx, e.act().version, at, after, batch+1)
			if err != nil {
				return err
			}
			if last = len(due) <= batch; !last {
				due = due[:batch]
			}
			if n := len(due); n > 0 {
				after = store.DueKey{Deadline: due[n-1].NextDeadline, EntityID: due[n-1].EntityID}
			}
			if err := e.tickDue(ctx, tx, at, due, evaluated, res); err != nil {
				return err
			}
			if !last {
				return nil
			}
			if bs == nil {
				if bs, err = e.buildState(ctx, tx); err != nil {
					return err
				}
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
		if last {
			return res, nil
		}
	}
}

// tickDue evaluates the due entities of one batch up to at and writes their
// rows and working states, adding to res.
func (e *Engine) tickDue(ctx context.Context, tx store.Tx, at int64, due []store.StateRecord, evaluated map[string]bool, res *TickResult) error {
	if len(due) == 0 {
		return nil
	}
	w := &stageWriter{e: e, tx: tx, ctx: ctx, st: newRunStats().pending, horizon: at, now: e.now()}
	// One read of the open rows per entity type for the whole batch.
	byType := map[string][]string{}
	for _, rec := range due {
		if !evaluated[rec.EntityID] {
			byType[rec.EntityType] = append(byType[rec.EntityType], rec.EntityID)
		}
	}
	open := map[string]store.HistoryRow{}
	for t, ids := range byType {
		ent := e.act().defs.Entity(t)
		if ent == nil {
			continue
		}
		got, err := tx.OpenRows(ctx, e.act().version, ent, ids)
		if err != nil {
			return err
		}
		for id, r := range got {
			open[id] = r
		}
	}
	states := make([]store.StateRecord, 0, len(due))
	var rebuild []store.StateRecord
	for _, rec := range due {
		if evaluated[rec.EntityID] {
			continue // failed firings keep a due deadline; one evaluation per tick
		}
		evaluated[rec.EntityID] = true
		ent := e.act().defs.Entity(rec.EntityType)
		m := e.act().machines[rec.EntityType]
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
			if _, err := w.writeIncremental(ent, rec.EntityID, run, base, hasBase); err != nil {
				return err
			}
			res.RowsWritten += len(run.Rows)
		}
		states = append(states, w.stateRecord(rec.EntityID, rec.EntityType, run.State, m, len(run.Rows) > 0))
	}
	if err := w.flush(); err != nil {
		return err
	}
	if len(rebuild) > 0 {
		// A rebuild reads the entity's events up to the identity cursor;
		// only rebuilds need it, so most batches skip the read.
		idc, err := metaInt(ctx, tx, metaIdentityCursor)
		if err != nil {
			return err
		}
		w.hi = idc
		redo := make([]store.EntityRecord, len(rebuild))
		for i, rec := range rebuild {
			redo[i] = store.EntityRecord{ID: rec.EntityID, Type: rec.EntityType, Status: store.StatusActive}
		}
		before := w.st.rowsWritten
		if err := w.recomputeAll(redo); err != nil {
			return err
		}
		res.RowsWritten += w.st.rowsWritten - before
	}
	return tx.PutStates(ctx, e.act().version, states)
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
