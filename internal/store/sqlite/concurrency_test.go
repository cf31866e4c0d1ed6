package sqlite

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/store"
)

// Two Stores on one file stand for two processes: their BEGIN IMMEDIATE
// transactions serialize through the busy timeout, and every append lands.
func TestConcurrentWritersShareAFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "defacto.db")
	var stores []*Store
	for range 2 {
		s, err := Open(t.Context(), path, Options{})
		must(t, err)
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	ensure(t, stores[0], "v1", plainSet())

	const workers, batches, perBatch = 4, 15, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*len(stores))
	for si, s := range stores {
		for w := range workers {
			wg.Go(func() {
				for b := range batches {
					err := func() error {
						tx, err := s.Begin(t.Context())
						if err != nil {
							return err
						}
						defer tx.Rollback()
						rows := make([]store.LedgerRow, perBatch)
						for i := range rows {
							rows[i] = ev(fmt.Sprintf("s%d-w%d-b%d-%d", si, w, b, i), "shop", int64(i))
						}
						if err := tx.Append(t.Context(), rows); err != nil {
							return err
						}
						// Touch the version store too, so both files are locked.
						if err := tx.PutStates(t.Context(), "v1", []store.StateRecord{{EntityID: rows[0].EventID,
							EntityType: "thing", Status: store.StatusActive, Data: []byte(`{}`), NextDeadline: store.NoTime}}); err != nil {
							return err
						}
						return tx.Commit()
					}()
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	// Readers run beside the writers.
	wg.Go(func() {
		for range 20 {
			if err := stores[1].Read(t.Context(), func(tx store.Tx) error {
				_, err := tx.LedgerHead(t.Context())
				return err
			}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	read(t, stores[0], func(tx store.Tx) {
		n, err := tx.CountLive(t.Context(), "", true)
		must(t, err)
		head, err := tx.LedgerHead(t.Context())
		must(t, err)
		want := int64(len(stores) * workers * batches * perBatch)
		if n != want || head != want {
			t.Errorf("live = %d, head = %d; want %d", n, head, want)
		}
		bs, err := tx.BuildState(t.Context(), "v1", 0)
		must(t, err)
		_ = bs
	})
}

// Begin takes the write lock at once (BEGIN IMMEDIATE): a second writer
// waits out its busy timeout and fails instead of deadlocking later.
func TestBeginIsImmediate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "defacto.db")
	a, err := Open(t.Context(), path, Options{})
	must(t, err)
	defer a.Close()
	b, err := Open(t.Context(), path, Options{BusyTimeout: 50 * time.Millisecond})
	must(t, err)
	defer b.Close()

	tx, err := a.Begin(t.Context())
	must(t, err)
	start := time.Now()
	if tx2, err := b.Begin(t.Context()); err == nil {
		tx2.Rollback()
		t.Fatal("second writer began while the first held the lock")
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("second writer gave up after %v, before its busy timeout", d)
	}
	// Readers are not blocked by the writer.
	read(t, b, func(tx store.Tx) {
		if _, err := tx.LedgerHead(t.Context()); err != nil {
			t.Error(err)
		}
	})
	must(t, tx.Rollback())
	tx2, err := b.Begin(t.Context())
	must(t, err)
	must(t, tx2.Rollback())
}
