package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/defacto-dev/defacto/internal/store"
)

// This file holds the version-store side of a write transaction (see the
// package comment, "Connections"): how it begins, how writes
// queued on it run on a goroutine of their own, and how a transaction
// commits its main file while its stores are still being written.

// sideState is what a side keeps beyond a tx: its queue of writes and the
// versions it wrote.
type sideState struct {
	jobs   chan func() error // nil until the first queued write
	idle   sync.WaitGroup    // one count per queued job not yet run
	jobErr error             // the first failed job's error; read after idle.Wait
	failed atomic.Bool       // a job failed; may be read at any time

	mu      sync.Mutex
	touched map[string]bool // versions written, for the commit marks
}

// on returns the transaction that reaches version v's store: the side of a
// write transaction, begun with v attached when this is its first use, or t
// itself for a read transaction or the side. create allows creating the
// store file (EnsureVersionStore only). Writes queued on the side (later)
// have run when on returns, so what follows sees them. Store methods start
// with "t, err := t.on(ctx, version, false)", so the rest of their body runs
// on the side.
func (t *tx) on(ctx context.Context, v string, create bool) (*tx, error) {
	if t.readOnly || t.isSide {
		return t, nil
	}
	if t.done {
		return nil, sql.ErrTxDone
	}
	if t.side == nil {
		if err := t.s.settle(); err != nil {
			return nil, err
		}
		st, err := t.s.openSide(ctx, v, create)
		if err != nil {
			return nil, err
		}
		t.side = t.s.newSide(st, v)
		return t.side, nil
	}
	if err := t.side.wait(); err != nil {
		return nil, err
	}
	return t.side, nil
}

// later runs f on the side of version v's store after the writes queued
// before it, on the side's goroutine, and returns at once: the engine goes
// on interpreting while SQLite writes. A failure is returned by the next
// call that waits for the side (on, Commit). f must not use ctx's
// cancellation: once queued, a write runs to its end, so that a commit of
// the main file is never followed by half a store (the transaction rolls
// back as a whole instead, see Rollback). Read transactions and the side
// itself run f at once. The store methods that only write use it: history,
// working state, merged ids, failures, and the deletions of a recompute.
func (t *tx) later(ctx context.Context, v string, f func(side *tx, ctx context.Context) error) error {
	if t.readOnly || t.isSide {
		return f(t, ctx)
	}
	if t.done {
		return sql.ErrTxDone
	}
	ctx = context.WithoutCancel(ctx)
	if t.side == nil {
		// The store commit an earlier CommitPipelined left running is
		// taken now: once this transaction commits, its own side is the
		// pending one, and its first job must not wait for itself.
		prev := t.s.takePending()
		side := t.s.newSide(nil, v)
		side.enqueue(func() error {
			if err := prev.settled(); err != nil {
				return err
			}
			st, err := side.s.openSide(ctx, v, false)
			side.tx = st
			return err
		})
		t.side = side
	}
	side := t.side
	side.markTouched(v)
	side.enqueue(func() error { return f(side, ctx) })
	return nil
}

// newSide returns the side of a write transaction on the store writer's
// transaction st (nil: begun by the first queued job).
func (s *Store) newSide(st *sql.Tx, v string) *tx {
	side := newTx(s, st, false)
	side.isSide, side.cache = true, s.swcache
	side.attached = map[string]bool{v: true}
	side.sd = &sideState{}
	return side
}

// openSide begins the version-store side of a write transaction: a BEGIN
// IMMEDIATE on the store writer with version v attached, so the side holds
// the write lock of v's store from its first statement. A store first
// needed later in the same transaction is attached inside it (attach). The
// caller has waited for the store commit an earlier CommitPipelined left
// running (settle), so that its error, if any, stops this transaction
// before anything is written on top of a store that missed it.
func (s *Store) openSide(ctx context.Context, v string, create bool) (*sql.Tx, error) {
	conn, err := s.sw.Conn(ctx)
	if err != nil {
		return nil, err
	}
	err = s.attach(ctx, conn, v, create)
	if err == nil && s.retune.Swap(false) {
		if err = s.tuneStores(ctx, conn); err != nil {
			s.retune.Store(true)
		}
	}
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	s.swcache.warm(ctx)
	st, err := s.sw.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin on version stores: %w", err)
	}
	return st, nil
}

// enqueue adds job to the side's queue, starting its goroutine on first
// use. Jobs run in order; after one fails the rest are skipped.
func (t *tx) enqueue(job func() error) {
	t.enqueueFinal(func(err error) error {
		if err != nil {
			return err
		}
		return job()
	})
}

// enqueueFinal adds a job that runs even after an earlier one failed, with
// that failure (nil if none); its result becomes the side's failure.
func (t *tx) enqueueFinal(job func(err error) error) {
	sd := t.sd
	if sd.jobs == nil {
		sd.jobs = make(chan func() error, 64)
		go func() {
			for job := range sd.jobs {
				if sd.jobErr = job(); sd.jobErr != nil {
					sd.failed.Store(true)
				}
				sd.idle.Done()
			}
		}()
	}
	sd.idle.Add(1)
	sd.jobs <- func() error { return job(sd.jobErr) }
}

// wait returns once every queued job has run, with the first failure.
func (t *tx) wait() error {
	if t.sd == nil {
		return nil
	}
	t.sd.idle.Wait()
	return t.sd.jobErr
}

// stop waits for the queue and ends its goroutine.
func (t *tx) stop() error {
	err := t.wait()
	if t.sd != nil && t.sd.jobs != nil {
		close(t.sd.jobs)
		t.sd.jobs = nil
	}
	return err
}

func (t *tx) markTouched(v string) {
	t.sd.mu.Lock()
	defer t.sd.mu.Unlock()
	if t.sd.touched == nil {
		t.sd.touched = make(map[string]bool)
	}
	t.sd.touched[v] = true
}

// touchedVersions lists the versions the side wrote or has queued writes
// for.
func (t *tx) touchedVersions() []string {
	t.sd.mu.Lock()
	defer t.sd.mu.Unlock()
	vs := make([]string, 0, len(t.sd.touched))
	for v := range t.sd.touched {
		vs = append(vs, v)
	}
	return vs
}

// CommitPipelined commits the main file and returns while the version
// stores' queued writes and their commit still run (store.PipelinedCommitter).
// The store commit waits for the main commit and is dropped if that failed.
// The next transaction's side, Settle and Close wait for it and report its
// failure; until then the store is one commit behind the main file, as a
// crash in between leaves it too, and BuildState answers with the build
// records from before this transaction (undo records, below).
func (t *tx) CommitPipelined() error {
	if t.done {
		return fmt.Errorf("sqlite: commit: %w", sql.ErrTxDone)
	}
	side := t.side
	if side == nil || t.readOnly {
		return t.Commit()
	}
	ctx := context.Background()
	if vs := side.touchedVersions(); len(vs) > 0 {
		mark, err := newMark()
		if err == nil {
			err = t.writeUndo(ctx, vs)
		}
		if err == nil {
			err = t.writeMainMarks(ctx, vs, mark)
		}
		if err != nil {
			return fmt.Errorf("sqlite: commit: %w", err)
		}
		side.enqueue(func() error { return side.writeStoreMarks(ctx, vs, mark) })
	}
	mainDone := make(chan error, 1)
	side.enqueueFinal(func(err error) error {
		if mainErr := <-mainDone; err == nil {
			err = mainErr
		}
		if side.tx == nil { // never began
			return err
		}
		if err != nil {
			return errors.Join(err, side.tx.Rollback())
		}
		if err := side.tx.Commit(); err != nil {
			return fmt.Errorf("commit version stores: %w", err)
		}
		return nil
	})
	t.done, side.done = true, true
	t.s.pendMu.Lock()
	t.s.pending = side
	t.s.pendMu.Unlock()
	err := t.tx.Commit()
	mainDone <- err
	if err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// settle waits for the store commit a CommitPipelined left running and
// returns its failure (once).
func (s *Store) settle() error { return s.takePending().settled() }

// takePending removes the side whose commit is left running, if any.
func (s *Store) takePending() *tx {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	p := s.pending
	s.pending = nil
	return p
}

// settled waits for the queue of a side taken by takePending (nil: none)
// and returns its failure.
func (t *tx) settled() error {
	if t == nil {
		return nil
	}
	if err := t.stop(); err != nil {
		return fmt.Errorf("sqlite: version stores of an earlier transaction: %w", err)
	}
	return nil
}

// pendingFailed reports, without waiting, a store commit left running that
// has already failed, so the next transaction stops before it commits its
// main file on top of a store that missed the previous one.
func (s *Store) pendingFailed() error {
	s.pendMu.Lock()
	p := s.pending
	s.pendMu.Unlock()
	if p == nil || !p.sd.failed.Load() {
		return nil
	}
	return s.settle()
}

// Settle waits until the version-store commit of the last pipelined
// transaction has ended and returns its error (store.PipelinedCommitter).
func (s *Store) Settle(ctx context.Context) error { return s.settle() }

// Undo records. A crash or failure after a pipelined commit's main file
// committed and before its store did leaves the store exactly one commit
// behind, which a build can redo from the cursor before that commit instead
// of rebuilding the version in full (an ingest killed at any moment mostly
// lands there). So CommitPipelined keeps, in main meta key
// store_undo/<version>, the main file's commit mark before the transaction
// and the build records the transaction replaced. BuildState returns those
// records when the store's mark equals that earlier mark. The only
// namespace rows a pipelined transaction writes on behalf of its store are
// build records and marks: what else it wrote (ledger, identity) stands,
// and interpretation from the earlier cursor covers it again. A plain
// Commit that writes a store removes the record, so a store behind one of
// those is dirty as before.

func undoKey(v string) string { return "store_undo/" + v }

type undoRecord struct {
	Mark   string              `json:"mark"`
	Builds []*store.BuildState `json:"builds"`
}

// noteUndo records the build record of version and shard as it was before
// this transaction, the first time the transaction writes it (or earlier,
// when it read it: buildStateRow remembers what it reads).
func (t *tx) noteUndo(ctx context.Context, v string, shard int) error {
	if t.readOnly || t.isSide {
		return nil
	}
	if _, ok := t.undo[v][shard]; ok {
		return nil
	}
	_, err := t.buildStateRow(ctx, v, shard)
	return err
}

// rememberPrev keeps a copy of the build record b (nil: none) of v and
// shard read by a write transaction, unless one is kept already: the first
// read or write of a record in a transaction sees it as it was before.
func (t *tx) rememberPrev(v string, shard int, b *store.BuildState) {
	if t.readOnly || t.isSide {
		return
	}
	if _, ok := t.undo[v][shard]; ok {
		return
	}
	if t.undo == nil {
		t.undo = map[string]map[int]*store.BuildState{}
	}
	if t.undo[v] == nil {
		t.undo[v] = map[int]*store.BuildState{}
	}
	if b != nil {
		c := *b
		b = &c
	}
	t.undo[v][shard] = b
}

// writeUndo stores the undo record of each version in vs, or removes it
// when the transaction cannot be undone (no earlier mark, or a build record
// that did not exist before).
func (t *tx) writeUndo(ctx context.Context, vs []string) error {
	for _, v := range vs {
		mark, _, err := t.getMeta(ctx, markKey(v))
		if err != nil {
			return err
		}
		rec := undoRecord{Mark: mark}
		ok := mark != ""
		for _, b := range t.undo[v] {
			ok = ok && b != nil
			rec.Builds = append(rec.Builds, b)
		}
		if !ok {
			if err := t.dropUndo(ctx, []string{v}); err != nil {
				return err
			}
			continue
		}
		js, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := t.setMeta(ctx, undoKey(v), string(js)); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) dropUndo(ctx context.Context, vs []string) error {
	for _, v := range vs {
		if _, err := t.exec(ctx, `DELETE FROM meta WHERE "key" = ?`, undoKey(v)); err != nil {
			return err
		}
	}
	return nil
}

// undone returns the build record of version and shard from before the
// pipelined commit the store missed, when its undo record matches the
// store's mark: ok with a nil record means that commit left this shard's
// record unchanged.
func (t *tx) undone(ctx context.Context, v string, shard int, storeMark string) (*store.BuildState, bool, error) {
	if storeMark == "" {
		return nil, false, nil
	}
	js, found, err := t.getMeta(ctx, undoKey(v))
	if err != nil || !found {
		return nil, false, err
	}
	var rec undoRecord
	if err := json.Unmarshal([]byte(js), &rec); err != nil {
		return nil, false, fmt.Errorf("undo record of %s: %w", v, err)
	}
	if rec.Mark != storeMark {
		return nil, false, nil
	}
	for _, b := range rec.Builds {
		if b != nil && b.ShardID == shard {
			return b, true, nil
		}
	}
	return nil, true, nil
}
