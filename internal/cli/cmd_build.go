package cli

import (
	"context"
	"flag"

	"github.com/defacto-dev/defacto"
)

// buildCmd processes the ledger into state.
type buildCmd struct {
	opts defacto.BuildOptions
}

func (c *buildCmd) Flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.opts.Full, "full", false, "rebuild all state from the ledger, even when an incremental build would do")
	fs.BoolVar(&c.opts.FromRaw, "from-raw", false, "also re-normalize every event from its raw record (implies --full)")
}

func (c *buildCmd) Args(args []string) error { return wantArgs(args) }

func (c *buildCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		res, err := eng.Build(ctx, c.opts)
		if err != nil {
			return err
		}
		return o.printResult(res)
	})
}

// statusCmd prints the build status of the active version.
type statusCmd struct{}

func (c *statusCmd) Flags(*flag.FlagSet) {}

func (c *statusCmd) Args(args []string) error { return wantArgs(args) }

func (c *statusCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		st, err := eng.BuildStatus(ctx)
		if err != nil {
			return err
		}
		return o.printResult(st)
	})
}

// tickCmd evaluates time rules.
type tickCmd struct {
	asOf string
}

func (c *tickCmd) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.asOf, "as-of", "", "evaluate up to this `INSTANT` (RFC 3339 or a date; default: the engine clock, DEFACTO_NOW)")
}

func (c *tickCmd) Args(args []string) error { return wantArgs(args) }

func (c *tickCmd) Run(ctx context.Context, o *Options) error {
	var asOf any
	if c.asOf != "" {
		asOf = c.asOf
	}
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		res, err := eng.Tick(ctx, asOf)
		if err != nil {
			return err
		}
		return o.printResult(res)
	})
}
