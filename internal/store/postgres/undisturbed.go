package postgres

import (
	"context"
	"sync"
)

// epochs remembers the write epoch (migration 0002) of the last write
// transaction of a Store that asked Undisturbed.
type epochs struct {
	mu   sync.Mutex
	last int64 // 0: none yet
}

// Undisturbed reports whether this transaction's write epoch directly
// follows the one seen by the previous Undisturbed call of this Store: every
// write transaction of the namespace takes an epoch once it holds its locks,
// so no other writer (of any process, any scope) got through in between.
// Write transactions of this Store that did not ask also count, which only
// makes the answer cautious. version is not needed: the epoch is the
// namespace's.
func (t *tx) Undisturbed(_ context.Context, version string) (bool, error) {
	if t.readOnly {
		return false, nil
	}
	e := t.epoch // taken by BeginScope; sequences start at 1
	t.s.epochs.mu.Lock()
	defer t.s.epochs.mu.Unlock()
	ok := e != 0 && t.s.epochs.last != 0 && e == t.s.epochs.last+1
	t.s.epochs.last = e
	return ok, nil
}
