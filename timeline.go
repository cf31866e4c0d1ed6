package defacto

import (
	"context"
	"fmt"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// Timeline is the chronological story of one entity.
type Timeline struct {
	EntityID    string          `json:"entity_id"`
	EntityType  string          `json:"entity_type"`
	CanonicalID string          `json:"canonical_id"`
	Entries     []TimelineEntry `json:"entries"`
}

// TimelineEntry is one history row of the entity, explained.
type TimelineEntry struct {
	Timestamp     string   `json:"timestamp"`
	ValidTo       *string  `json:"valid_to"`
	Cause         string   `json:"cause"` // "event" or "time_rule"
	EventSequence *int64   `json:"event_sequence"`
	EventID       string   `json:"event_id"`
	EventType     string   `json:"event_type"`
	Source        string   `json:"source"`
	StateBefore   *string  `json:"state_before"`
	StateAfter    string   `json:"state_after"`
	Effects       []string `json:"effects"`
}

// Timeline returns one entry per current-belief history row of id, in
// valid_from order, each naming its cause and the changes it made. A
// merged-away id gives its own rows, closed by the merge. ErrNotFound for an
// id with no rows (a ghost, an unknown or an erased id).
func (e *Engine) Timeline(ctx context.Context, id string) (*Timeline, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	var out *Timeline
	err := e.st.Read(ctx, func(tx store.Tx) error {
		got, err := tx.Entities(ctx, []string{id})
		if err != nil {
			return err
		}
		rec, ok := got[id]
		if !ok {
			return nil
		}
		ent := e.act().defs.Entity(rec.Type)
		if ent == nil {
			return nil
		}
		rows, err := tx.CurrentRows(ctx, e.act().version, ent, id)
		if err != nil || len(rows) == 0 {
			return err
		}
		cid, err := canonical(ctx, tx, id)
		if err != nil {
			return err
		}
		var seqs []int64
		for _, r := range rows {
			if r.EventSeq != 0 {
				seqs = append(seqs, r.EventSeq)
			}
		}
		events, err := tx.Events(ctx, seqs)
		if err != nil {
			return err
		}
		bySeq := make(map[int64]store.LedgerRow, len(events))
		for _, ev := range events {
			bySeq[ev.Seq] = ev
		}
		out = &Timeline{EntityID: id, EntityType: rec.Type, CanonicalID: cid, Entries: make([]TimelineEntry, 0, len(rows))}
		for i, r := range rows {
			en := TimelineEntry{Timestamp: value.FormatTime(r.ValidFrom), Cause: "time_rule", StateAfter: r.State, Effects: []string{}}
			if r.ValidTo != store.NoTime {
				s := value.FormatTime(r.ValidTo)
				en.ValidTo = &s
			}
			if r.EventSeq != 0 {
				seq := r.EventSeq
				en.Cause, en.EventSequence = "event", &seq
				if ev, ok := bySeq[seq]; ok {
					en.EventID, en.EventType, en.Source = ev.EventID, ev.EventType, ev.Source
				}
			}
			if i == 0 {
				en.Effects = append(en.Effects, "Entity created")
				for j, p := range ent.Properties {
					if v := r.Props[j]; !v.IsNull() {
						en.Effects = append(en.Effects, fmt.Sprintf("%s: %s", p.Name, value.ToString(v)))
					}
				}
			} else {
				prev := rows[i-1]
				before := prev.State
				en.StateBefore = &before
				if prev.State != r.State {
					en.Effects = append(en.Effects, fmt.Sprintf("State: %s → %s", prev.State, r.State))
				}
				for j, p := range ent.Properties {
					old, cur := prev.Props[j], r.Props[j]
					if old.Kind() == cur.Kind() && value.Equal(old, cur) {
						continue
					}
					switch {
					case old.IsNull():
						en.Effects = append(en.Effects, fmt.Sprintf("%s: %s", p.Name, value.ToString(cur)))
					case cur.IsNull():
						en.Effects = append(en.Effects, fmt.Sprintf("%s: %s → null", p.Name, value.ToString(old)))
					default:
						en.Effects = append(en.Effects, fmt.Sprintf("%s: %s → %s", p.Name, value.ToString(old), value.ToString(cur)))
					}
				}
			}
			if i == len(rows)-1 && r.MergedInto != "" {
				en.Effects = append(en.Effects, "Merged into "+r.MergedInto)
			}
			out.Entries = append(out.Entries, en)
		}
		return nil
	})
	if err != nil {
		return nil, storageErr("timeline", err)
	}
	if out == nil {
		return nil, errorf(ErrNotFound, "no history for entity id '%s'", id)
	}
	return out, nil
}
