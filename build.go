package defacto

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// BuildOptions forces build modes.
type BuildOptions struct {
	// Full rebuilds every entity from the ledger.
	Full bool
	// FromRaw re-normalizes every ledger row from its raw record first.
	FromRaw bool
}

// detection is the outcome of build-mode detection (builds.md §2).
type detection struct {
	mode    string
	reasons []string
	pending int64
	dirty   bool // the build state was reported dirty
}

func modeRank(m string) int {
	switch m {
	case ModeSkip:
		return 0
	case ModeIncremental:
		return 1
	case ModeFull:
		return 2
	case ModeFullWithIdentityReset:
		return 3
	default:
		return 4
	}
}

// detect evaluates every condition of builds.md §2 in order for the active
// version.
func (e *Engine) detect(ctx context.Context, tx store.Tx, opts BuildOptions) (*detection, error) {
	return detectFor(ctx, tx, e.act().defs, e.act().version, e.cfg.ShardID, opts)
}

// detectFor evaluates build-mode detection as if version (with set) were
// active.
func detectFor(ctx context.Context, tx store.Tx, set *definition.Set, version string, shard int, opts BuildOptions) (*detection, error) {
	d := &detection{}
	hold := func(mode, reason string) {
		if d.mode == "" {
			d.mode = mode
		}
		d.reasons = append(d.reasons, reason)
	}
	if opts.FromRaw {
		hold(ModeFullRenormalize, "forced re-normalization")
	}
	var rec map[string]string
	if s, ok, err := tx.Meta(ctx, metaNormalizationRec); err != nil {
		return nil, err
	} else if ok && s != "" {
		if err := json.Unmarshal([]byte(s), &rec); err != nil {
			return nil, fmt.Errorf("meta %s: %w", metaNormalizationRec, err)
		}
	}
	sources, err := ledgerSources(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, s := range sources {
		if s == reservedSource {
			continue
		}
		h, ok := set.SourceHashes[s]
		switch {
		case !ok:
			hold(ModeFullRenormalize, fmt.Sprintf("source '%s' removed", s))
		case rec[s] != h:
			hold(ModeFullRenormalize, fmt.Sprintf("source '%s' changed", s))
		}
	}
	idRec, _, err := tx.Meta(ctx, metaIdentityRecord)
	if err != nil {
		return nil, err
	}
	if idRec != set.IdentityHash {
		hold(ModeFullWithIdentityReset, "identity configuration changed")
	}
	bs, err := tx.BuildState(ctx, version, shard)
	if err != nil {
		return nil, err
	}
	ie, ne, err := epochs(ctx, tx)
	if err != nil {
		return nil, err
	}
	if opts.Full {
		hold(ModeFull, "forced full build")
	}
	never := bs == nil || !bs.Built
	if never {
		hold(ModeFull, "never built")
	} else {
		if bs.Dirty {
			d.dirty = true
			hold(ModeFull, "interrupted build")
		}
		if bs.EntitiesHash != set.EntitiesHash {
			hold(ModeFull, "entity definitions changed")
		}
		if bs.IdentityEpoch != ie {
			hold(ModeFull, "identity reset by another build")
		}
		if bs.NormalizationEpoch != ne {
			hold(ModeFull, "ledger re-normalized by another build")
		}
	}
	cursor := int64(0)
	if bs != nil {
		cursor = bs.Cursor
	}
	idc, err := metaInt(ctx, tx, metaIdentityCursor)
	if err != nil {
		return nil, err
	}
	unresolved, resolved, err := tx.PendingCounts(ctx, cursor, idc)
	if err != nil {
		return nil, err
	}
	d.pending = unresolved + resolved
	if d.pending > 0 {
		hold(ModeIncremental, fmt.Sprintf("%d events pending", d.pending))
	}
	if bs != nil && bs.TickPending {
		hold(ModeIncremental, "the last build stopped before its closing tick")
	}
	if d.mode == "" {
		hold(ModeSkip, "nothing to do")
	}
	return d, nil
}

// reservedSource is the source of merge directives.
const reservedSource = "_defacto"

// Build brings the active version's store up to date with the ledger,
// choosing the cheapest correct mode unless opts force one.
func (e *Engine) Build(ctx context.Context, opts BuildOptions) (*BuildResult, error) {
	unlock, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return e.build(ctx, opts, nil)
}

// autoBuild runs the build a processing call needs first (builds.md §5):
// nil when detection finds at most incremental work.
func (e *Engine) autoBuild(ctx context.Context) (*BuildResult, error) {
	d, err := e.detectNow(ctx, BuildOptions{})
	if err != nil {
		return nil, err
	}
	if modeRank(d.mode) <= modeRank(ModeIncremental) {
		return nil, nil
	}
	if e.cfg.ManualBuild {
		return nil, errorf(ErrBuildRequired, "build required: mode %s (%s); run Build", d.mode, joinReasons(d.reasons))
	}
	return e.build(ctx, BuildOptions{}, d)
}

// detectNow detects the build mode for a build about to run. A read sees a
// version store out of step with the namespace (a dirty build state) both
// after a crash between the two files' commits and while another
// connection's version-store commit still runs behind its namespace commit
// (store.PipelinedCommitter); only the first needs a full build, so a dirty
// state is checked again under the write lock, which waits for the second.
func (e *Engine) detectNow(ctx context.Context, opts BuildOptions) (*detection, error) {
	var d *detection
	detect := func(tx store.Tx) error {
		var err error
		d, err = e.detect(ctx, tx, opts)
		return err
	}
	if err := e.st.Read(ctx, detect); err != nil {
		return nil, storageErr("detect build mode", err)
	}
	if d.dirty {
		if err := e.write(ctx, "detect build mode", detect); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func joinReasons(r []string) string {
	s := ""
	for i, x := range r {
		if i > 0 {
			s += "; "
		}
		s += x
	}
	return s
}

func (e *Engine) build(ctx context.Context, opts BuildOptions, d *detection) (*BuildResult, error) {
	start := time.Now()
	if d == nil {
		var err error
		if d, err = e.detectNow(ctx, opts); err != nil {
			return nil, err
		}
	}
	res := &BuildResult{Mode: d.mode, Reasons: d.reasons, Failures: []EventFailure{}}
	stats := newRunStats()
	e.mergesSkipped = 0
	var err error
	switch d.mode {
	case ModeSkip:
		res.Duration = time.Since(start).Seconds()
		return res, nil
	case ModeIncremental:
		err = e.incrementalBuild(ctx, stats, &res.Timing)
	default:
		err = e.fullBuild(ctx, d.mode, stats, res)
	}
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	tick, err := e.tick(ctx, e.now(), nil)
	if err != nil {
		return nil, err
	}
	res.Tick = tick
	res.Timing.Tick = time.Since(t0).Seconds()
	if err := e.finishBuild(ctx, d.mode); err != nil {
		return nil, err
	}
	res.EventsProcessed = stats.processed.len()
	res.EntitiesCreated = len(stats.created)
	res.EntitiesUpdated = stats.updatedOnly()
	res.EntitiesRecomputed = len(stats.recomputed)
	res.EntitiesRetired = stats.retired
	res.MergesDetected = len(stats.merges)
	res.MergesSkipped = e.mergesSkipped
	res.LateArrivals = stats.late
	res.RowsWritten = stats.rowsWritten + tick.RowsWritten
	res.RowsSuperseded = stats.superseded
	for _, f := range stats.failures {
		f.Index = -1
		res.Failures = append(res.Failures, f)
	}
	sortFailures(res.Failures)
	res.EventsFailed = len(res.Failures)
	res.Duration = time.Since(start).Seconds()
	res.Timing.Total = res.Duration
	e.deadLetters(res.Failures)
	e.log.Info("build", "mode", res.Mode, "processed", res.EventsProcessed, "failed", res.EventsFailed)
	return res, nil
}

// incrementalBuild catches up identity, then interprets the pending range,
// buildStep events per pair of transactions (identity, then interpretation).
//
// Identity and interpretation run in separate transactions of their own
// scopes (scale.md §2): the identity stage is global work, one process at a
// time; interpretation is owned work, so on PostgreSQL the shard processes
// of a namespace interpret at the same time instead of queueing behind one
// another's identity lock.
func (e *Engine) incrementalBuild(ctx context.Context, stats *runStats, timing *BuildTiming) (err error) {
	// Each step's interpretation may leave its version-store commit
	// running beside the next step (writeTx).
	defer func() {
		if serr := e.settle(ctx, "build: interpret"); err == nil {
			err = serr
		}
	}()
	// Working states and open rows carry from one step to the next as
	// between an ingest's chunks (statecache.go), while no other connection
	// commits.
	cache := newStateCache()
	for {
		var done bool
		t0 := time.Now()
		err := e.writeScope(ctx, "build: identity", store.ScopeIdentity, func(tx store.Tx) error {
			// Asked here too, so that on PostgreSQL this transaction's
			// write epoch does not make the next step's question fail.
			undisturbed, err := tx.Undisturbed(ctx, e.act().version)
			if err != nil {
				return err
			}
			if !undisturbed {
				cache.reset()
			}
			idc, err := metaInt(ctx, tx, metaIdentityCursor)
			if err != nil {
				return err
			}
			head, err := tx.LedgerHead(ctx)
			if err != nil {
				return err
			}
			merges, err := e.identityStageUpTo(ctx, tx, min(head, idc+e.buildStep()))
			stats.pending.addMerges(merges)
			done = min(head, idc+e.buildStep()) >= head
			return err
		})
		if err == nil {
			stats.commitPending()
			t1 := time.Now()
			timing.Identity += t1.Sub(t0).Seconds()
			err = e.writeTx(ctx, "build: interpret", store.ScopeShard, true, func(tx store.Tx) error {
				undisturbed, err := tx.Undisturbed(ctx, e.act().version)
				if err != nil {
					return err
				}
				if !undisturbed {
					cache.reset()
				}
				return e.interpretStage(ctx, tx, -1, nil, nil, stats.pending, cache, true)
			})
			timing.Interpret += time.Since(t1).Seconds()
		}
		if err != nil {
			stats.discardPending()
			cache.reset()
			return err
		}
		stats.commitPending()
		if e.afterGroup != nil {
			e.afterGroup(-1)
		}
		if done {
			return nil
		}
	}
}

// identityStageUpTo resolves unresolved events with sequence <= upto.
func (e *Engine) identityStageUpTo(ctx context.Context, tx store.Tx, upto int64) ([]store.MergeRecord, error) {
	cursor, err := metaInt(ctx, tx, metaIdentityCursor)
	if err != nil {
		return nil, err
	}
	if upto <= cursor {
		return nil, nil
	}
	rows, err := tx.EventsAfter(ctx, cursor, int(upto-cursor))
	if err != nil {
		return nil, err
	}
	var batch []resolvable
	for i := range rows {
		if rows[i].Seq > upto {
			break
		}
		keys, err := e.keysOf(&rows[i])
		if err != nil {
			return nil, err
		}
		batch = append(batch, resolvable{seq: rows[i].Seq, time: rows[i].Time, keys: keys, row: &rows[i], index: -1})
	}
	var merges []store.MergeRecord
	if len(batch) > 0 {
		if merges, err = e.resolveBatch(ctx, tx, batch); err != nil {
			return nil, err
		}
	}
	// Dead rows (duplicates, failed re-normalization) below upto are
	// resolved by definition: the cursor passes them.
	return merges, tx.SetMeta(ctx, metaIdentityCursor, strconv.FormatInt(upto, 10))
}

// fullBuild recomputes every entity of the active version (builds.md §3).
func (e *Engine) fullBuild(ctx context.Context, mode string, stats *runStats, res *BuildResult) error {
	// Mark dirty first, in its own transaction, so a crash is detected.
	if err := e.write(ctx, "build: mark dirty", func(tx store.Tx) error {
		bs, err := e.buildState(ctx, tx)
		if err != nil {
			return err
		}
		bs.Dirty = true
		// A first data_version observation, so that the interpretation's
		// first transaction can already tell whether it was disturbed and
		// start reading ahead (fullInterpretation).
		if _, err := tx.Undisturbed(ctx, e.act().version); err != nil {
			return err
		}
		return tx.PutBuildState(ctx, bs)
	}); err != nil {
		return err
	}
	t0 := time.Now()
	switch mode {
	case ModeFullRenormalize:
		if err := e.renormalize(ctx, res, stats); err != nil {
			return err
		}
	case ModeFullWithIdentityReset:
		if err := e.identityReset(ctx, false); err != nil {
			return err
		}
		res.IdentityReset = true
	}
	res.Timing.Renormalize = time.Since(t0).Seconds()
	// Catch up identity.
	t1 := time.Now()
	for {
		var done bool
		err := e.write(ctx, "build: identity", func(tx store.Tx) error {
			idc, err := metaInt(ctx, tx, metaIdentityCursor)
			if err != nil {
				return err
			}
			head, err := tx.LedgerHead(ctx)
			if err != nil {
				return err
			}
			merges, err := e.identityStageUpTo(ctx, tx, min(head, idc+e.buildStep()))
			stats.pending.addMerges(merges)
			done = min(head, idc+e.buildStep()) >= head
			return err
		})
		if err != nil {
			stats.discardPending()
			return err
		}
		stats.commitPending()
		if done {
			break
		}
	}
	res.Timing.Identity = time.Since(t1).Seconds()
	t2 := time.Now()
	if err := e.fullInterpretation(ctx, stats); err != nil {
		return err
	}
	res.Timing.Interpret = time.Since(t2).Seconds()
	return nil
}

func (e *Engine) buildState(ctx context.Context, tx store.Tx) (*store.BuildState, error) {
	bs, err := tx.BuildState(ctx, e.act().version, e.cfg.ShardID)
	if err != nil {
		return nil, err
	}
	if bs == nil {
		bs = &store.BuildState{Version: e.act().version, ShardID: e.cfg.ShardID, TotalShards: e.totalShards(),
			TickHorizon: store.NoTime, LastBuildTime: store.NoTime}
	}
	return bs, nil
}

// fullInterpretation recomputes every active entity, closes every merged
// one and retires ids the ledger no longer produces, 1000 entities per
// transaction; then the cursor becomes the identity cursor.
func (e *Engine) fullInterpretation(ctx context.Context, stats *runStats) error {
	var ents []store.EntityRecord
	var merges []store.MergeRecord
	var idc int64
	err := e.st.Read(ctx, func(tx store.Tx) error {
		var err error
		if ents, err = tx.AllEntities(ctx); err != nil {
			return err
		}
		if idc, err = metaInt(ctx, tx, metaIdentityCursor); err != nil {
			return err
		}
		merges, err = tx.MergesInRange(ctx, 0, idc)
		return err
	})
	if err != nil {
		return storageErr("build: list entities", err)
	}
	// The ids to retire are listed beside the first groups (the listing
	// reads every working state) and checked against entity_ids again in
	// the closing transaction, so an entity another connection creates in
	// the meantime is never retired.
	type listing struct {
		stored map[string]string
		err    error
	}
	storedc := make(chan listing, 1)
	go func() {
		var l listing
		l.err = e.st.Read(ctx, func(tx store.Tx) (err error) {
			l.stored, err = tx.StoredEntities(ctx, e.act().version)
			return err
		})
		storedc <- l
	}()
	lastMerge := map[string]store.MergeRecord{}
	for _, m := range merges {
		lastMerge[m.From] = m
	}
	size := rebuildGroupSize
	if e.groupSize > 0 {
		size = e.groupSize
	}
	var parts [][]store.EntityRecord
	for i := 0; i < len(ents); i += size {
		owned := make([]store.EntityRecord, 0, size)
		for _, r := range ents[i:min(i+size, len(ents))] {
			if e.owns(r.ID) {
				owned = append(owned, r)
			}
		}
		parts = append(parts, owned)
	}
	rd := e.newReaders(ctx)
	var ahead *prefetch
	// The sessions are closed before the listing is awaited: with as many
	// readers as the sessions take, the listing waits for one of them.
	closeReaders := sync.OnceFunc(func() {
		ahead.wait()
		rd.close()
	})
	defer func() {
		closeReaders()
		if storedc != nil {
			<-storedc
		}
	}()
	// The first group is read ahead too, where reads run on sessions beside
	// the writer (SQLite): fullBuild's first transaction observed the data
	// version, so the first group's transaction can tell whether another
	// connection committed since this read began.
	if _, ok := e.st.(store.SessionReader); ok && len(parts) > 0 {
		ahead = e.readAhead(ctx, rd, activeOf(e, parts[0]), idc)
	}
	for i, part := range parts {
		pre := ahead.result()
		err := e.write(ctx, "build: interpret", func(tx store.Tx) error {
			// A group read ahead is valid only if nothing but this build
			// committed since the write transaction that started its read:
			// the read ran on a snapshot from after that transaction began,
			// this build changes no ledger or link row and no stored row of
			// another group, so the snapshot shows what this transaction
			// would read (see prefetch).
			undisturbed, err := tx.Undisturbed(ctx, e.act().version)
			if err != nil {
				return err
			}
			if !undisturbed {
				// Another connection committed: what the sessions
				// read is stale, and their snapshots must move on.
				pre = nil
				rd.refresh()
			}
			bs, err := e.buildState(ctx, tx)
			if err != nil {
				return err
			}
			w := &stageWriter{e: e, tx: tx, ctx: ctx, st: stats.pending, horizon: bs.TickHorizon, hi: idc, now: e.now()}
			if undisturbed && i+1 < len(parts) {
				ahead = e.readAhead(ctx, rd, activeOf(e, parts[i+1]), idc)
			} else {
				ahead = nil
			}
			return w.rebuild(part, lastMerge, pre, true)
		})
		if err != nil {
			stats.discardPending()
			return err
		}
		stats.commitPending()
		if e.afterGroup != nil {
			e.afterGroup(i)
		}
	}
	closeReaders()
	l := <-storedc
	storedc = nil
	if l.err != nil {
		return storageErr("build: list stored entities", l.err)
	}
	known := make(map[string]bool, len(ents))
	for _, r := range ents {
		known[r.ID] = true
	}
	var retire []string
	for id := range l.stored {
		if !known[id] && e.owns(id) {
			retire = append(retire, id)
		}
	}
	sort.Strings(retire)
	var retired, superseded int
	err = e.write(ctx, "build: finish interpretation", func(tx store.Tx) error {
		retired, superseded = 0, 0
		now := e.now()
		live, err := tx.Entities(ctx, retire)
		if err != nil {
			return err
		}
		for _, id := range retire {
			ent := e.act().defs.Entity(l.stored[id])
			if _, ok := live[id]; ok || ent == nil {
				continue
			}
			n, err := tx.RetireEntity(ctx, e.act().version, ent, id, now)
			if err != nil {
				return err
			}
			retired++
			superseded += n
		}
		bs, err := e.buildState(ctx, tx)
		if err != nil {
			return err
		}
		bs.Cursor = idc
		return tx.PutBuildState(ctx, bs)
	})
	if err != nil {
		return err
	}
	stats.retired += retired
	stats.superseded += superseded
	return nil
}

// finishBuild clears the dirty flag and records what the store was built
// with.
func (e *Engine) finishBuild(ctx context.Context, mode string) error {
	return e.write(ctx, "build: finish", func(tx store.Tx) error {
		bs, err := e.buildState(ctx, tx)
		if err != nil {
			return err
		}
		ie, ne, err := epochs(ctx, tx)
		if err != nil {
			return err
		}
		bs.Dirty, bs.Built, bs.TickPending = false, true, false
		bs.EntitiesHash = e.act().defs.EntitiesHash
		bs.IdentityEpoch, bs.NormalizationEpoch = ie, ne
		bs.LastBuildTime = e.now()
		bs.LastBuildMode = mode
		if err := tx.PutBuildState(ctx, bs); err != nil {
			return err
		}
		return tx.SetMeta(ctx, metaLastBuiltVersion, e.act().version)
	})
}

// BuildStatus reports how far the active version is built and what a build
// would do now.
func (e *Engine) BuildStatus(ctx context.Context) (*BuildStatus, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	out := &BuildStatus{Version: e.act().version, ShardID: e.cfg.ShardID, TotalShards: e.totalShards(), Active: true, SourceHashes: e.act().defs.SourceHashes,
		EntitiesHash: e.act().defs.EntitiesHash, IdentityHash: e.act().defs.IdentityHash}
	err := e.st.Read(ctx, func(tx store.Tx) error {
		bs, err := tx.BuildState(ctx, e.act().version, e.cfg.ShardID)
		if err != nil {
			return err
		}
		if bs != nil {
			out.Built, out.Dirty, out.Cursor = bs.Built, bs.Dirty, bs.Cursor
			if bs.TickHorizon != store.NoTime {
				s := value.FormatTime(bs.TickHorizon)
				out.TickHorizon = &s
			}
			if bs.LastBuildTime != store.NoTime {
				s := value.FormatTime(bs.LastBuildTime)
				out.LastBuildTime = &s
			}
			if bs.LastBuildMode != "" {
				m := bs.LastBuildMode
				out.LastBuildMode = &m
			}
		}
		if out.IdentityCursor, err = metaInt(ctx, tx, metaIdentityCursor); err != nil {
			return err
		}
		if out.LedgerHead, err = tx.LedgerHead(ctx); err != nil {
			return err
		}
		if out.LiveEvents, out.DuplicateEvents, err = tx.LedgerStats(ctx); err != nil {
			return err
		}
		if out.FailedEvents, err = tx.CountFailedEvents(ctx, e.act().version); err != nil {
			return err
		}
		d, err := e.detect(ctx, tx, BuildOptions{})
		if err != nil {
			return err
		}
		out.PendingEvents = d.pending
		out.NeededMode, out.NeededReasons = d.mode, d.reasons
		return nil
	})
	if err != nil {
		return nil, storageErr("build status", err)
	}
	return out, nil
}

// isClosed reports whether Close was called. Reads check it first, which
// makes them wait for the exclusive part of a write call in progress (see
// Engine.excl); a read that races with Close fails with the closed store's
// error instead.
func (e *Engine) isClosed() bool {
	e.excl.RLock()
	defer e.excl.RUnlock()
	return e.closed.Load()
}

// ledgerSources lists the sources that have ledger rows, from the meta
// record ingest keeps (a scan of the ledger would make every processing
// call O(events)). A namespace made before the record existed falls back to
// the scan once and records the result.
func ledgerSources(ctx context.Context, tx store.Tx) ([]string, error) {
	s, ok, err := tx.Meta(ctx, metaLedgerSources)
	if err != nil {
		return nil, err
	}
	var out []string
	if ok {
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("meta %s: %w", metaLedgerSources, err)
		}
		return out, nil
	}
	if out, err = tx.LedgerSources(ctx); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// noteLedgerSource records that source has ledger rows.
func (e *Engine) noteLedgerSource(ctx context.Context, tx store.Tx, source string) error {
	cur, err := ledgerSources(ctx, tx)
	if err != nil {
		return err
	}
	if !contains(cur, source) {
		cur = append(cur, source)
		sort.Strings(cur)
		b, _ := json.Marshal(cur)
		if err := tx.SetMeta(ctx, metaLedgerSources, string(b)); err != nil {
			return err
		}
	}
	return nil
}

// buildStep is the number of ledger events a build's identity catch-up
// resolves per transaction (each followed by the interpretation of what it
// resolved): BatchSize, but never below the spec's 1000, so a small
// BatchSize chosen for ingest latency does not slow builds down.
func (e *Engine) buildStep() int64 {
	return int64(max(e.cfg.BatchSize, 1000))
}
