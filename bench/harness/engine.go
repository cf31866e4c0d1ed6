package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/defacto-dev/defacto"
)

// projectFS holds the benchmark project (entities/, sources/), so the
// harness runs from any working directory.
//
//go:embed testdata/project
var projectFS embed.FS

// Version is the definition version name the harness gives the engine: the
// version store is <dir>/defacto.bench.db.
const Version = "bench"

// Source is the source every generated event belongs to.
const Source = "app"

// salt is fixed so entity ids are the same in every run.
var salt = []byte("defacto-bench-harness-salt-32by!")

// LoadProject loads the definitions from dir, or the embedded
// testdata/project when dir is empty.
func LoadProject(dir string) (*defacto.Definitions, error) {
	if dir != "" {
		return defacto.LoadDefinitions(dir)
	}
	tmp, err := os.MkdirTemp("", "defacto-bench-project-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	root := "testdata/project"
	err = fs.WalkDir(projectFS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		dst := filepath.Join(tmp, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := projectFS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return nil, err
	}
	return defacto.LoadDefinitions(tmp)
}

// DBPath is the main database file of a harness engine in dir.
func DBPath(dir string) string { return filepath.Join(dir, "defacto.db") }

// StorePath is the version store file beside DBPath.
func StorePath(dir string) string { return filepath.Join(dir, "defacto."+Version+".db") }

// OpenEngine opens an engine on a SQLite file in dir, with a fixed clock
// (the workload's start), the harness's salt and p's BatchSize.
func OpenEngine(ctx context.Context, defs *defacto.Definitions, dir string, p Params) (*defacto.Engine, error) {
	p = p.withDefaults()
	return defacto.OpenDefinitions(ctx, defs, &defacto.Config{
		Database:  DBPath(dir),
		Version:   Version,
		Clock:     func() time.Time { return p.Start },
		Salt:      salt,
		BatchSize: p.Batch,
	})
}

// heapSampler records, while it runs, the peak runtime.MemStats.HeapInuse
// (live objects plus garbage not yet collected: it depends on GC pacing)
// and the peak live heap the GC measured at the end of each cycle
// (runtime/metrics /gc/heap/live:bytes).
type heapSampler struct {
	stop            chan struct{}
	done            sync.WaitGroup
	inuse, liveHeap uint64
}

func startHeapSampler(every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

var liveSample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

func (s *heapSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.inuse = max(s.inuse, ms.HeapInuse)
	metrics.Read(liveSample)
	if liveSample[0].Value.Kind() == metrics.KindUint64 {
		s.liveHeap = max(s.liveHeap, liveSample[0].Value.Uint64())
	}
}

// Stop ends sampling and returns the peaks.
func (s *heapSampler) Stop() (inuse, live uint64) {
	close(s.stop)
	s.done.Wait()
	s.sample()
	return s.inuse, s.liveHeap
}

// heapAfterGC collects garbage and returns HeapInuse and the live heap.
func heapAfterGC() (inuse, live uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	metrics.Read(liveSample)
	if liveSample[0].Value.Kind() == metrics.KindUint64 {
		live = liveSample[0].Value.Uint64()
	}
	return ms.HeapInuse, live
}

// profileDir, when set (-profiledir), receives a CPU profile of each timed
// measurement but the Process ingest (see -cpuprofile).
var profileDir string

// startProfile starts a CPU profile <profileDir>/<name>.pprof and returns
// the function that stops it; without profileDir both are no-ops.
func startProfile(name string) func() {
	if profileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(profileDir, name+".pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness: profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "harness: profile:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// checkIngest reports a result that says the workload did not run as
// designed (failures, missing events).
func checkIngest(res *defacto.IngestResult, n int) error {
	if res.EventsReceived != n || res.EventsIngested != n {
		return fmt.Errorf("ingest: received %d, ingested %d of %d events (duplicates %d, failed %d, ignored %d)",
			res.EventsReceived, res.EventsIngested, n, res.DuplicatesSkipped, res.EventsFailed, res.EventsIgnored)
	}
	if len(res.Failures) > 0 {
		f := res.Failures[0]
		return fmt.Errorf("ingest: %d failures, first: %s %s: %s", len(res.Failures), f.Stage, f.EventType, f.Message)
	}
	return nil
}
