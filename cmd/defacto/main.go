// Command defacto is the defacto command line: ingest events, build state,
// query current state and history. See docs/cli.md.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/defacto-dev/defacto/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr, isTerminal)
	stop()
	os.Exit(code)
}

// isTerminal reports whether the standard stream with descriptor fd is a
// character device, which is how the standard library alone can tell a
// terminal from a pipe or a file.
func isTerminal(fd uintptr) bool {
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if f.Fd() == fd {
			fi, err := f.Stat()
			return err == nil && fi.Mode()&os.ModeCharDevice != 0
		}
	}
	return false
}
