package cli

import (
	"context"
	"fmt"

	"github.com/defacto-dev/defacto"
)

// withEngine opens the engine on the project, runs f and closes it.
func withEngine(ctx context.Context, o *Options, f func(*defacto.Engine) error) error {
	eng, err := o.Open(ctx)
	if err != nil {
		return err
	}
	err = f(eng)
	if cerr := eng.Close(); err == nil && cerr != nil {
		return cerr
	}
	return err
}

// warnStale prints the one-line warning of query commands when the active
// version is behind (builds.md §5); output itself is unchanged.
func warnStale(ctx context.Context, o *Options, eng *defacto.Engine) {
	st, err := eng.BuildStatus(ctx)
	if err != nil {
		o.Logger.Debug("build status for the stale-state warning", "err", err)
		return
	}
	if msg := staleWarning(st); msg != "" {
		fmt.Fprintf(o.Stderr, "warning: %s\n", msg)
	}
}

func staleWarning(st *defacto.BuildStatus) string {
	switch st.NeededMode {
	case defacto.ModeSkip, "":
		return ""
	case defacto.ModeIncremental:
		n := st.PendingEvents
		if n == 1 {
			return "1 event not yet processed; run `defacto build`"
		}
		return fmt.Sprintf("%d events not yet processed; run `defacto build`", n)
	}
	return "definitions changed since the last build; run `defacto build`"
}
