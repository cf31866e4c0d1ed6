package cli

import (
	"context"
	"flag"

	"github.com/defacto-dev/defacto"
)

// lookupCmd prints the entity id an identity value resolves to.
type lookupCmd struct {
	entity, value, field string
}

func (c *lookupCmd) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.field, "field", "", "search only this identity `FIELD` (default: every identity field of the entity)")
}

func (c *lookupCmd) Args(args []string) error {
	if err := wantArgs(args, "ENTITY", "VALUE"); err != nil {
		return err
	}
	c.entity, c.value = args[0], args[1]
	return nil
}

// lookupResult is what lookup prints.
type lookupResult struct {
	EntityID string `json:"entity_id"`
}

func (c *lookupCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		id, err := eng.Lookup(ctx, c.entity, c.value, c.field)
		if err != nil {
			return err
		}
		warnStale(ctx, o, eng)
		return o.printResult(lookupResult{EntityID: id})
	})
}

// hintsCmd lists the identity values that resolve to an entity.
type hintsCmd struct{ id string }

func (c *hintsCmd) Flags(*flag.FlagSet) {}

func (c *hintsCmd) Args(args []string) error {
	if err := wantArgs(args, "ENTITY_ID"); err != nil {
		return err
	}
	c.id = args[0]
	return nil
}

func (c *hintsCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		res, err := eng.Hints(ctx, c.id)
		if err != nil {
			return err
		}
		warnStale(ctx, o, eng)
		return o.printResult(res)
	})
}

// timelineCmd prints the chronological entries of one entity.
type timelineCmd struct{ id string }

func (c *timelineCmd) Flags(*flag.FlagSet) {}

func (c *timelineCmd) Args(args []string) error {
	if err := wantArgs(args, "ENTITY_ID"); err != nil {
		return err
	}
	c.id = args[0]
	return nil
}

func (c *timelineCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		res, err := eng.Timeline(ctx, c.id)
		if err != nil {
			return err
		}
		warnStale(ctx, o, eng)
		return o.printResult(res)
	})
}

// mergeCmd merges one entity into another.
type mergeCmd struct {
	from, into, reason string
}

func (c *mergeCmd) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.reason, "reason", "", "why the two entities are one (`TEXT`, kept with the merge)")
}

func (c *mergeCmd) Args(args []string) error {
	if err := wantArgs(args, "FROM_ID", "INTO_ID"); err != nil {
		return err
	}
	c.from, c.into = args[0], args[1]
	return nil
}

func (c *mergeCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		res, err := eng.Merge(ctx, c.from, c.into, c.reason)
		if err != nil {
			return err
		}
		return o.printResult(res)
	})
}

// eraseCmd erases an entity (GDPR).
type eraseCmd struct{ id string }

func (c *eraseCmd) Flags(*flag.FlagSet) {}

func (c *eraseCmd) Args(args []string) error {
	if err := wantArgs(args, "ENTITY_ID"); err != nil {
		return err
	}
	c.id = args[0]
	return nil
}

func (c *eraseCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		res, err := eng.Erase(ctx, c.id)
		if err != nil {
			return err
		}
		return o.printResult(res)
	})
}

// redactCmd redacts an entity's sensitive fields.
type redactCmd struct{ id string }

func (c *redactCmd) Flags(*flag.FlagSet) {}

func (c *redactCmd) Args(args []string) error {
	if err := wantArgs(args, "ENTITY_ID"); err != nil {
		return err
	}
	c.id = args[0]
	return nil
}

func (c *redactCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		res, err := eng.Redact(ctx, c.id)
		if err != nil {
			return err
		}
		return o.printResult(res)
	})
}
