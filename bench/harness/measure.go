package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/defacto-dev/defacto"
	"github.com/defacto-dev/defacto/internal/procstat"
)

// Span is one timed section: wall-clock time and the process CPU time
// (user+system) spent in it, and the writes the process made in it. Wall
// minus CPU is, on these measurements, mostly time waiting for fsync.
type Span struct {
	Wall, CPU time.Duration
	// IO: write system calls and bytes. Unlike times, they do not depend
	// on the load of the machine.
	IO procstat.IO
}

// add returns the sum of two spans.
func (s Span) add(t Span) Span {
	return Span{s.Wall + t.Wall, s.CPU + t.CPU, s.IO.Add(t.IO)}
}

func timed(f func() error) (Span, error) {
	io0, _ := procstat.Writes()
	c0, t0 := procstat.Process(), time.Now()
	err := f()
	sp := Span{Wall: time.Since(t0), CPU: procstat.Process() - c0}
	io1, _ := procstat.Writes()
	sp.IO = io1.Sub(io0)
	return sp, err
}

// ProcessRun is one timed Ingest(ctx, "app", events, defacto.Process) on a
// fresh database.
type ProcessRun struct {
	Span
	Result *defacto.IngestResult
	// Heap: HeapInuse and live heap after GC just before the call (the
	// input events are live), the peaks sampled during the call, and after
	// GC once it returned (the result is live).
	HeapBase, HeapPeak, HeapAfter uint64
	LiveBase, LivePeak, LiveAfter uint64
}

// RunProcess opens a fresh engine in dir, ingests w with Process and closes
// the engine. Only the Ingest call is timed (and profiled into cpuprofile
// when it is not nil).
func RunProcess(ctx context.Context, defs *defacto.Definitions, w *Workload, dir string, cpuprofile io.Writer) (*ProcessRun, error) {
	e, err := OpenEngine(ctx, defs, dir, w.Params)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	run := &ProcessRun{}
	run.HeapBase, run.LiveBase = heapAfterGC()
	if cpuprofile != nil {
		if err := pprof.StartCPUProfile(cpuprofile); err != nil {
			return nil, err
		}
	}
	hs := startHeapSampler(5 * time.Millisecond)
	run.Span, err = timed(func() error {
		run.Result, err = e.Ingest(ctx, Source, w.Events, defacto.Process)
		return err
	})
	run.HeapPeak, run.LivePeak = hs.Stop()
	if cpuprofile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, fmt.Errorf("ingest process: %w", err)
	}
	run.HeapAfter, run.LiveAfter = heapAfterGC()
	if err := checkIngest(run.Result, len(w.Events)); err != nil {
		return nil, err
	}
	return run, e.Close()
}

// AppendRun is the append-only path on one fresh database: an empty build
// (so the next one is incremental), then timed: an AppendOnly ingest, an
// incremental Build, a full rebuild and a Tick.
type AppendRun struct {
	Append     Span
	AppendRes  *defacto.IngestResult
	Build      Span
	BuildRes   *defacto.BuildResult
	Rebuild    Span
	RebuildRes *defacto.BuildResult
	Tick       Span
	TickRes    *defacto.TickResult // nil when skipped
	TickAsOf   time.Time
}

// RunAppend runs the append-only path in dir. Tick evaluates time rules at
// the workload's end plus 180 days, when every trial has expired and every
// active customer is past the 90-day inactivity threshold.
func RunAppend(ctx context.Context, defs *defacto.Definitions, w *Workload, dir string, tick bool) (*AppendRun, error) {
	e, err := OpenEngine(ctx, defs, dir, w.Params)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if _, err := e.Build(ctx, defacto.BuildOptions{}); err != nil {
		return nil, fmt.Errorf("initial build: %w", err)
	}
	run := &AppendRun{}
	stop := startProfile("appendonly")
	run.Append, err = timed(func() error {
		run.AppendRes, err = e.Ingest(ctx, Source, w.Events, defacto.AppendOnly)
		return err
	})
	if stop(); err != nil {
		return nil, fmt.Errorf("ingest append-only: %w", err)
	}
	if err := checkIngest(run.AppendRes, len(w.Events)); err != nil {
		return nil, err
	}
	stop = startProfile("build")
	run.Build, err = timed(func() error {
		run.BuildRes, err = e.Build(ctx, defacto.BuildOptions{})
		return err
	})
	if stop(); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if run.BuildRes.Mode != defacto.ModeIncremental {
		return nil, fmt.Errorf("build after append-only ran mode %s (%v), want %s", run.BuildRes.Mode, run.BuildRes.Reasons, defacto.ModeIncremental)
	}
	stop = startProfile("rebuild")
	run.Rebuild, err = timed(func() error {
		run.RebuildRes, err = e.Build(ctx, defacto.BuildOptions{Full: true})
		return err
	})
	if stop(); err != nil {
		return nil, fmt.Errorf("full rebuild: %w", err)
	}
	if tick {
		run.TickAsOf = w.End.Add(180 * 24 * time.Hour)
		stop = startProfile("tick")
		run.Tick, err = timed(func() error {
			run.TickRes, err = e.Tick(ctx, run.TickAsOf)
			return err
		})
		if stop(); err != nil {
			return nil, fmt.Errorf("tick: %w", err)
		}
	}
	return run, e.Close()
}

// freshDir returns an empty directory name under base.
func freshDir(base, name string) (string, error) {
	d := filepath.Join(base, name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	return d, os.MkdirAll(d, 0o755)
}

// printByTable prints a floor's wall time per table on one line.
func printByTable(out io.Writer, label string, m map[string]time.Duration) {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, m[k].Seconds()))
	}
	fmt.Fprintf(out, "  %s wall time by table (s): %s\n", label, strings.Join(parts, ", "))
}

// rate is events (or rows) per second.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// machineLoad measures how many of the machine's CPUs were busy, and how
// many the hypervisor took, between its creation and a call to stop: every
// process counts (the harness, its children, the database server and
// anything else running), which is what bounds a parallel speedup.
type machineLoad struct {
	busy, steal, all uint64
	ok               bool
}

func startMachineLoad() machineLoad {
	var m machineLoad
	m.busy, m.steal, m.all, m.ok = procstat.Machine()
	return m
}

// stop returns the busy and stolen CPUs on average since start (0, 0 when
// the platform does not say).
func (m machineLoad) stop() (busy, steal float64) {
	b, s, a, ok := procstat.Machine()
	if !m.ok || !ok || a <= m.all {
		return 0, 0
	}
	n := float64(runtime.NumCPU()) / float64(a-m.all)
	return float64(b-m.busy) * n, float64(s-m.steal) * n
}
