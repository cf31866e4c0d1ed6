package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps statements prepared across transactions. Parsing and
// planning a statement costs as much as running a small one, and the engine
// sends the same few dozen statements in every chunk, so preparing them once
// per transaction (as *sql.Tx offers) was 7% of an ingest.
//
// database/sql can reuse a statement inside a transaction only through a
// pool-level *sql.Stmt (Tx.StmtContext finds the driver statement already
// prepared on the transaction's connection). A pool-level statement needs a
// free connection to be created, and the writer pool's only connection is
// busy during the transaction that first meets the query; so a miss is
// prepared on the transaction as before and recorded, and the pool-level
// statement is created at the start of the next transaction, on the then
// idle connection (warm).
//
// Statement texts must be stable for the cache to pay: IN lists are padded
// to a few sizes (inChunks) and multi-row inserts use power-of-two row
// counts (pow2Chunks).
type stmtCache struct {
	db *sql.DB

	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	missed  map[string]bool
	invalid map[string]bool // texts that failed to prepare at pool level
}

// maxCachedStmts bounds the cache; texts beyond it are prepared per
// transaction as before.
const maxCachedStmts = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, missed: map[string]bool{}, invalid: map[string]bool{}}
}

// get returns the pool-level statement of query, or nil after recording a
// miss.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if !c.invalid[query] && len(c.stmts)+len(c.missed) < maxCachedStmts {
		c.missed[query] = true
	}
	return nil
}

// warm prepares the recorded misses at pool level. It must run while no
// transaction holds the pool's connections, i.e. before BeginTx. A text that
// cannot be prepared outside its transaction (a version store attached only
// there, say) is never cached.
func (c *stmtCache) warm(ctx context.Context) {
	c.mu.Lock()
	if len(c.missed) == 0 {
		c.mu.Unlock()
		return
	}
	missed := c.missed
	c.missed = map[string]bool{}
	c.mu.Unlock()
	for q := range missed {
		st, err := c.db.PrepareContext(ctx, q)
		c.mu.Lock()
		if err != nil && ctx.Err() != nil {
			c.missed[q] = true // not the statement's fault; retry next time
		} else if err != nil {
			c.invalid[q] = true
		} else if _, dup := c.stmts[q]; dup {
			_ = st.Close()
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}
