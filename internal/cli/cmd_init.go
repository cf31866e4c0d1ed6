package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// initCmd scaffolds a project that works as a quickstart right away:
// validate, ingest the sample events with --process, query.
type initCmd struct {
	dir string
}

func (c *initCmd) Flags(*flag.FlagSet) {}

func (c *initCmd) Args(args []string) error {
	if len(args) > 1 {
		return usageErrorf("unexpected argument %q", args[1])
	}
	if len(args) == 1 {
		c.dir = args[0]
	}
	return nil
}

// initResult is what init prints.
type initResult struct {
	Project string   `json:"project"`
	Created []string `json:"created"`
}

// scaffold is the quickstart project: a customer state machine, the source
// that feeds it and four sample events.
var scaffold = []struct{ path, content string }{
	{"entities/customer.yaml", `# A customer signs up, may change plan while active, churns when they cancel
# and comes back when they sign up again.
customer:
  starts: lead
  identity:
    email: { match: case_insensitive }
  properties:
    email: { type: string }
    plan:  { type: string, default: free }
  states:
    lead:
      when:
        signup:
          effects:
            - create
            - set: { property: email, from: event.email }
            - transition: { to: active }
    active:
      when:
        upgrade:
          guard: "event.plan != entity.plan"
          effects:
            - set: { property: plan, from: event.plan }
        cancel:
          effects:
            - transition: { to: churned }
    churned:
      when:
        signup:
          effects:
            - transition: { to: active }
`},
	{"sources/app.yaml", `# The product's own event stream: {"type": ..., "timestamp": ..., "email": ..., "plan": ...}
app:
  event_type: type
  timestamp: timestamp
  events:
    signup:
      mappings: { email: email }
      hints: { customer: [email] }
    upgrade:
      mappings: { email: email, plan: plan }
      hints: { customer: [email] }
    cancel:
      mappings: { email: email }
      hints: { customer: [email] }
`},
	{"events.jsonl", `{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "alice@example.com"}
{"type": "signup", "timestamp": "2024-01-05T14:00:00Z", "email": "bob@example.com"}
{"type": "upgrade", "timestamp": "2024-01-15T09:00:00Z", "email": "alice@example.com", "plan": "pro"}
{"type": "cancel", "timestamp": "2024-03-01T12:00:00Z", "email": "bob@example.com"}
`},
}

const readmeLine = "This is a [defacto](https://github.com/defacto-dev/defacto) project: `defacto validate`, then `defacto ingest app events.jsonl --process` and `defacto table customer`.\n"

func (c *initCmd) Run(ctx context.Context, o *Options) error {
	dir := c.dir
	if dir == "" {
		dir = o.Project
	}
	// Refuse before writing anything, so a failed init leaves no debris.
	for _, f := range scaffold {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if _, err := os.Stat(p); err == nil {
			return &Error{Code: ExitFailure, Msg: fmt.Sprintf("%s already exists; init never overwrites files", p),
				Hint: "choose an empty directory: `defacto init DIR`"}
		}
	}
	res := initResult{Project: dir, Created: []string{}}
	write := func(rel, content string, appendTo bool) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if appendTo {
			flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		f, err := os.OpenFile(p, flags, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.WriteString(content); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		res.Created = append(res.Created, rel)
		return nil
	}
	for _, f := range scaffold {
		if err := write(f.path, f.content, false); err != nil {
			return &Error{Code: ExitFailure, Msg: err.Error()}
		}
	}
	// The README gets one line; an existing README keeps its content.
	readme := filepath.Join(dir, "README.md")
	if data, err := os.ReadFile(readme); err == nil {
		if !strings.Contains(string(data), "defacto validate") {
			sep := "\n"
			if len(data) > 0 && data[len(data)-1] != '\n' {
				sep = "\n\n"
			}
			if err := write("README.md", sep+readmeLine, true); err != nil {
				return &Error{Code: ExitFailure, Msg: err.Error()}
			}
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if err := write("README.md", readmeLine, false); err != nil {
			return &Error{Code: ExitFailure, Msg: err.Error()}
		}
	}
	// The database lives in .defacto/; keep it out of version control.
	gitignore := filepath.Join(dir, ".gitignore")
	if data, err := os.ReadFile(gitignore); errors.Is(err, fs.ErrNotExist) {
		if err := write(".gitignore", ".defacto/\n", false); err != nil {
			return &Error{Code: ExitFailure, Msg: err.Error()}
		}
	} else if err == nil && !strings.Contains(string(data), ".defacto") {
		sep := ""
		if len(data) > 0 && data[len(data)-1] != '\n' {
			sep = "\n"
		}
		if err := write(".gitignore", sep+".defacto/\n", true); err != nil {
			return &Error{Code: ExitFailure, Msg: err.Error()}
		}
	}
	if o.Output != "table" {
		return o.printResult(res)
	}
	var b strings.Builder
	for _, p := range res.Created {
		fmt.Fprintf(&b, "created %s\n", filepath.ToSlash(filepath.Join(dir, p)))
	}
	cd := ""
	if dir != "." {
		cd = "cd " + dir + " && "
	}
	fmt.Fprintf(&b, "\nNext: %sdefacto validate && defacto ingest app events.jsonl --process && defacto table customer\n", cd)
	_, err := fmt.Fprint(o.Stdout, b.String())
	return err
}
