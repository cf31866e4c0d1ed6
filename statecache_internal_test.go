package defacto

import (
	"fmt"
	"testing"

	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

// The cache never holds more than its bound: a full cache evicts a tenth of
// its entries before taking a new one, and keeps the one just put.
func TestStateCacheBound(t *testing.T) {
	c := newStateCache()
	c.max = 20
	for i := range 100 {
		id := fmt.Sprintf("e%03d", i)
		c.put(id, &interpret.State{EntityID: id}, store.HistoryRow{EntityID: id}, true)
		if len(c.entries) > c.max {
			t.Fatalf("after %d puts: %d entries, bound %d", i+1, len(c.entries), c.max)
		}
		if _, ok := c.get(id); !ok {
			t.Fatalf("%s evicted by its own put", id)
		}
	}
	// A nil cache (no ingest call) ignores everything.
	var none *stateCache
	none.put("x", nil, store.HistoryRow{}, false)
	none.drop("x")
	none.reset()
	if _, ok := none.get("x"); ok {
		t.Fatal("nil cache returned an entry")
	}
}

// A cached open row does not share its properties with the run that wrote
// it: later runs change working states in place.
func TestStateCacheCopiesRowProperties(t *testing.T) {
	c := newStateCache()
	props := []value.Value{value.String("a")}
	c.put("e", &interpret.State{}, store.HistoryRow{Props: props}, true)
	props[0] = value.String("changed")
	if ce, _ := c.get("e"); ce.open.Props[0].String() != "a" {
		t.Fatalf("cached row property = %v, want a", ce.open.Props[0])
	}
}
