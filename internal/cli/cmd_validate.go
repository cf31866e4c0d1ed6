package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/defacto-dev/defacto"
)

// validateCmd checks the project's definitions without a database.
type validateCmd struct{}

func (c *validateCmd) Flags(*flag.FlagSet) {}

func (c *validateCmd) Args(args []string) error { return wantArgs(args) }

func (c *validateCmd) Run(ctx context.Context, o *Options) error {
	if err := checkProject(o.Project); err != nil {
		return err
	}
	res := defacto.ValidateDir(o.Project)
	if o.Output == "table" {
		var b strings.Builder
		if res.Valid {
			b.WriteString("definitions are valid")
			if n := len(res.Warnings); n > 0 {
				fmt.Fprintf(&b, " (%s)", plural(n, "warning"))
			}
			b.WriteByte('\n')
		}
		for _, p := range res.Errors {
			b.WriteString(p.String() + "\n")
		}
		for _, p := range res.Warnings {
			b.WriteString(p.String() + "\n") // String marks warnings
		}
		if _, err := fmt.Fprint(o.Stdout, b.String()); err != nil {
			return err
		}
	} else if err := o.printResult(res); err != nil {
		return err
	}
	if !res.Valid {
		return &Error{Code: ExitFailure, Msg: fmt.Sprintf("invalid definitions (%s)", plural(len(res.Errors), "error"))}
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
