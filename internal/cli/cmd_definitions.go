package cli

import (
	"context"
	"flag"

	"github.com/defacto-dev/defacto"
)

// definitionsListCmd lists the stored definition versions.
type definitionsListCmd struct{}

func (c *definitionsListCmd) Flags(*flag.FlagSet) {}

func (c *definitionsListCmd) Args(args []string) error { return wantArgs(args) }

var versionColumns = []string{"version", "content_hash", "active", "built", "created_at"}

func (c *definitionsListCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		vs, err := eng.Versions(ctx)
		if err != nil {
			return err
		}
		recs := make([]map[string]any, len(vs))
		for i, v := range vs {
			recs[i] = map[string]any{
				"version": v.Version, "content_hash": v.ContentHash, "active": v.Active,
				"built": v.Built, "created_at": v.CreatedAt,
			}
		}
		return o.printRecords(versionColumns, recs)
	})
}

// definitionsDiffCmd prints the changes between two stored versions.
type definitionsDiffCmd struct{ a, b string }

func (c *definitionsDiffCmd) Flags(*flag.FlagSet) {}

func (c *definitionsDiffCmd) Args(args []string) error {
	if err := wantArgs(args, "A", "B"); err != nil {
		return err
	}
	c.a, c.b = args[0], args[1]
	return nil
}

func (c *definitionsDiffCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		res, err := eng.DiffVersions(ctx, c.a, c.b)
		if err != nil {
			return err
		}
		return o.printResult(res)
	})
}

// definitionsPlanCmd predicts the build the project's definitions need.
type definitionsPlanCmd struct{}

func (c *definitionsPlanCmd) Flags(*flag.FlagSet) {}

func (c *definitionsPlanCmd) Args(args []string) error { return wantArgs(args) }

// planResult is what definitions plan prints.
type planResult struct {
	Version       string   `json:"version"`
	PredictedMode string   `json:"predicted_mode"`
	Reasons       []string `json:"reasons"`
}

func (c *definitionsPlanCmd) Run(ctx context.Context, o *Options) error {
	return withEngine(ctx, o, func(eng *defacto.Engine) error {
		// Opening made the project's definitions active, so detection for the
		// active version is the plan (interfaces.md §2: the same as status's
		// needed_mode and needed_reasons).
		st, err := eng.BuildStatus(ctx)
		if err != nil {
			return err
		}
		reasons := st.NeededReasons
		if reasons == nil {
			reasons = []string{}
		}
		return o.printResult(planResult{Version: st.Version, PredictedMode: st.NeededMode, Reasons: reasons})
	})
}
