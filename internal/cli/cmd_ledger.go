package cli

import (
	"context"
	"flag"

	"github.com/defacto-dev/defacto"
)

// ledgerCountCmd counts live ledger events.
type ledgerCountCmd struct {
	source string
	all    bool
}

func (c *ledgerCountCmd) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.source, "source", "", "count only this `SOURCE` (_defacto: merge directives)")
	fs.BoolVar(&c.all, "all", false, "include merge directives")
}

func (c *ledgerCountCmd) Args(args []string) error { return wantArgs(args) }

// countResult is what ledger count prints.
type countResult struct {
	Count int64 `json:"count"`
}

func (c *ledgerCountCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		n, err := eng.Count(ctx, c.source, c.all)
		if err != nil {
			return err
		}
		return o.printResult(countResult{Count: n})
	})
}

// ledgerEventsCmd lists the events linked to an entity.
type ledgerEventsCmd struct{ id string }

func (c *ledgerEventsCmd) Flags(*flag.FlagSet) {}

func (c *ledgerEventsCmd) Args(args []string) error {
	if err := wantArgs(args, "ENTITY_ID"); err != nil {
		return err
	}
	c.id = args[0]
	return nil
}

var ledgerEventColumns = []string{"sequence", "event_id", "source", "event_type", "timestamp", "data"}

func (c *ledgerEventsCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		evs, err := eng.EventsFor(ctx, c.id)
		if err != nil {
			return err
		}
		warnStale(ctx, o, eng)
		recs := make([]map[string]any, len(evs))
		for i, ev := range evs {
			recs[i] = map[string]any{
				"sequence": ev.Sequence, "event_id": ev.EventID, "source": ev.Source,
				"event_type": ev.EventType, "timestamp": ev.Timestamp, "data": ev.Data,
			}
		}
		return o.printRecords(ledgerEventColumns, recs)
	})
}
