package defacto

import (
	"slices"

	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/store"
)

// stateCache keeps, for one ingest call or incremental build, the working
// state and open history row of the entities the call interpreted
// incrementally, so the next chunk (or build step) that touches them skips
// reading and decoding both (interpretation.md §2 allows caching working
// state while the cursor is ours).
//
// It is valid only while nothing but this call writes: each transaction of
// the call asks the store (Tx.Undisturbed, in ingestChunk and
// incrementalBuild) whether another connection committed since the previous
// one and empties the cache if so, or if the store cannot tell. A failed
// chunk or step empties it too, since its runs changed cached states in
// place. Entities that were recomputed, merged or closed in a chunk are
// dropped: their rows were rewritten by paths that do not report the new
// open row here.
type stateCache struct {
	entries map[string]*cachedEntity
	max     int // maxCachedEntities outside tests
}

type cachedEntity struct {
	state   *interpret.State
	open    store.HistoryRow
	hasOpen bool
}

// maxCachedEntities bounds the cache (a few hundred bytes per entity); when
// full, an arbitrary tenth is evicted.
const maxCachedEntities = 50000

func newStateCache() *stateCache {
	return &stateCache{entries: map[string]*cachedEntity{}, max: maxCachedEntities}
}

func (c *stateCache) reset() {
	if c != nil {
		clear(c.entries)
	}
}

func (c *stateCache) get(id string) (*cachedEntity, bool) {
	if c == nil {
		return nil, false
	}
	ce, ok := c.entries[id]
	return ce, ok
}

func (c *stateCache) drop(id string) {
	if c != nil {
		delete(c.entries, id)
	}
}

// put records an entity's state and open row after its incremental run.
// The row's properties are copied: later runs change states in place and
// must not reach a cached row.
func (c *stateCache) put(id string, st *interpret.State, open store.HistoryRow, hasOpen bool) {
	if c == nil {
		return
	}
	if _, ok := c.entries[id]; !ok && len(c.entries) >= c.max {
		n := max(c.max/10, 1)
		for k := range c.entries {
			delete(c.entries, k)
			if n--; n == 0 {
				break
			}
		}
	}
	open.Props = slices.Clone(open.Props)
	c.entries[id] = &cachedEntity{state: st, open: open, hasOpen: hasOpen}
}
