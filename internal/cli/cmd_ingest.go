package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/defacto-dev/defacto"
)

// ingestCmd streams events from files or stdin into the ledger.
type ingestCmd struct {
	source    string
	files     []string
	process   bool
	batchSize int
}

func (c *ingestCmd) Flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.process, "process", false, "also resolve identity and interpret, so state is queryable on return")
	fs.IntVar(&c.batchSize, "batch-size", 0, fmt.Sprintf("commit `N` records per transaction (default %d)", defacto.DefaultBatchSize))
}

func (c *ingestCmd) Args(args []string) error {
	if len(args) == 0 {
		return usageErrorf("missing argument SOURCE")
	}
	if c.batchSize < 0 {
		return usageErrorf("--batch-size must be a positive number of records, got %d", c.batchSize)
	}
	c.source, c.files = args[0], args[1:]
	stdin := 0
	for _, f := range c.files {
		if f == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return usageErrorf("stdin (-) can be read only once")
	}
	return nil
}

func (c *ingestCmd) Run(ctx context.Context, o *Options) error {
	files := c.files
	if len(files) == 0 {
		if o.StdinTerminal {
			return &Error{Code: ExitUsage, Msg: "no events: give FILE arguments or pipe JSON Lines on stdin",
				Hint: "defacto ingest " + c.source + " events.jsonl"}
		}
		files = []string{"-"}
	}
	// Open every file first: a missing file fails before anything lands.
	inputs := make([]io.ReadCloser, len(files))
	sizes := make([]int64, len(files))
	defer func() {
		for _, in := range inputs {
			if in != nil {
				in.Close()
			}
		}
	}()
	for i, name := range files {
		if name == "-" {
			inputs[i] = io.NopCloser(o.Stdin)
			sizes[i] = -1
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return &Error{Code: ExitFailure, Msg: err.Error()}
		}
		inputs[i] = f
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			sizes[i] = fi.Size()
		} else {
			sizes[i] = -1
		}
	}
	mode := defacto.AppendOnly
	if c.process {
		mode = defacto.Process
	}
	o.BatchSize = c.batchSize
	var total *defacto.IngestResult
	err := withEngine(ctx, o, func(eng *defacto.Engine) error {
		for i, in := range inputs {
			var bar *progressBar
			opts := &defacto.ReadOptions{}
			if o.StderrTerminal && o.Output == "table" {
				label := "ingest " + c.source
				if len(files) > 1 {
					label += " " + files[i]
				}
				bar = newProgressBar(o.Stderr, label, sizes[i])
				opts.Progress = bar.update
			}
			res, err := eng.IngestReader(ctx, c.source, in, mode, opts)
			bar.finish()
			if err != nil {
				if total != nil {
					// Earlier files landed: say so before the error.
					_ = o.printResult(total)
					return &Error{Code: ExitFailure, Msg: fmt.Sprintf("%s: %v (the files before it were ingested)", files[i], err)}
				}
				return err
			}
			if total == nil {
				total = res
			} else {
				addIngest(total, res)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := o.printResult(total); err != nil {
		return err
	}
	return ingestOutcome(total)
}

// ingestOutcome maps a result to the exit code: 0 when every record landed
// and applied, 1 when records failed and nothing was ingested, 3 otherwise.
func ingestOutcome(r *defacto.IngestResult) error {
	switch {
	case r.EventsFailed == 0 && r.InterpretationFailures == 0:
		return nil
	case r.EventsIngested == 0 && r.EventsFailed > 0:
		return &Error{Code: ExitFailure, Msg: fmt.Sprintf("nothing ingested: %d of %s failed (see failures)", r.EventsFailed, plural(r.EventsReceived, "record"))}
	case r.EventsFailed > 0 && r.InterpretationFailures > 0:
		return &Error{Code: ExitPartial, Msg: fmt.Sprintf("%d of %s failed and %s failed interpretation; the rest landed (see failures)",
			r.EventsFailed, plural(r.EventsReceived, "record"), plural(r.InterpretationFailures, "event"))}
	case r.EventsFailed > 0:
		return &Error{Code: ExitPartial, Msg: fmt.Sprintf("%d of %s failed; the rest landed (see failures)", r.EventsFailed, plural(r.EventsReceived, "record"))}
	default:
		return &Error{Code: ExitPartial, Msg: fmt.Sprintf("%s failed interpretation; all records landed in the ledger (see failures)", plural(r.InterpretationFailures, "event"))}
	}
}

// addIngest adds the result of a later file to the running total. Failure
// indexes are shifted so they stay positions in the command's whole input.
func addIngest(t, r *defacto.IngestResult) {
	offset := t.EventsReceived
	t.EventsReceived += r.EventsReceived
	t.EventsIngested += r.EventsIngested
	t.DuplicatesSkipped += r.DuplicatesSkipped
	t.DuplicateIDs = append(t.DuplicateIDs, r.DuplicateIDs...)
	t.ErasedSkipped += r.ErasedSkipped
	t.EventsIgnored += r.EventsIgnored
	t.EventsFailed += r.EventsFailed
	t.EventsProcessed += r.EventsProcessed
	t.InterpretationFailures += r.InterpretationFailures
	t.EntitiesCreated += r.EntitiesCreated
	t.EntitiesUpdated += r.EntitiesUpdated
	t.EntitiesRecomputed += r.EntitiesRecomputed
	t.LateArrivals += r.LateArrivals
	t.MergesDetected += r.MergesDetected
	t.Merges = append(t.Merges, r.Merges...)
	for _, f := range r.Failures {
		if f.Index >= 0 {
			f.Index += offset
		}
		t.Failures = append(t.Failures, f)
	}
	if t.Build == nil {
		t.Build = r.Build
	}
	t.Timing.Normalize += r.Timing.Normalize
	t.Timing.Append += r.Timing.Append
	t.Timing.Identity += r.Timing.Identity
	t.Timing.Interpret += r.Timing.Interpret
	t.Timing.Write += r.Timing.Write
	t.Timing.Total += r.Timing.Total
}
