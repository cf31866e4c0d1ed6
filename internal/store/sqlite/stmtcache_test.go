package sqlite

import (
	"slices"
	"strconv"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
)

func TestPow2Chunks(t *testing.T) {
	for _, tc := range []struct {
		n, max int
		want   []int
	}{
		{0, 64, nil},
		{1, 64, []int{1}},
		{100, 64, []int{64, 32, 4}},
		{100, 66, []int{64, 32, 4}},
		{7, 64, []int{4, 2, 1}},
		{130, 64, []int{64, 64, 2}},
	} {
		xs := make([]int, tc.n)
		for i := range xs {
			xs[i] = i
		}
		var sizes, seen []int
		if err := pow2Chunks(xs, tc.max, func(c []int) error {
			sizes = append(sizes, len(c))
			seen = append(seen, c...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sizes, tc.want) || !slices.Equal(seen, xs) && tc.n > 0 {
			t.Errorf("pow2Chunks(%d, %d): sizes %v, want %v (elements in order: %v)", tc.n, tc.max, sizes, tc.want, slices.Equal(seen, xs))
		}
	}
}

func TestInChunksPadsWithLastElement(t *testing.T) {
	xs := []string{"a", "b", "c", "d", "e"}
	var got [][]string
	if err := inChunks(xs, 4, func(c []string) error {
		got = append(got, slices.Clone(c))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"a", "b", "c", "d"}, {"e"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("got %v, want %v", got, want)
	}
	got = nil
	_ = inChunks(xs, 500, func(c []string) error { got = append(got, slices.Clone(c)); return nil })
	if want := [][]string{{"a", "b", "c", "d", "e", "e", "e", "e"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestStatementsCachedAcrossTransactions checks that a statement first met
// in one transaction is served from the pool cache in the next, and that
// the cached statement returns current data.
func TestStatementsCachedAcrossTransactions(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	for i := range 3 {
		write(t, s, func(tx store.Tx) {
			must(t, tx.SetMeta(ctx, "k", strconv.Itoa(i)))
		})
		read(t, s, func(tx store.Tx) {
			v, ok, err := tx.Meta(ctx, "k")
			if err != nil || !ok || v != strconv.Itoa(i) {
				t.Fatalf("round %d: Meta = %q %v %v", i, v, ok, err)
			}
		})
	}
	s.wcache.mu.Lock()
	nw := len(s.wcache.stmts)
	s.wcache.mu.Unlock()
	s.rcache.mu.Lock()
	nr := len(s.rcache.stmts)
	s.rcache.mu.Unlock()
	if nw == 0 || nr == 0 {
		t.Fatalf("cached statements: writer %d, reader %d; want both > 0", nw, nr)
	}
}

// A text that cannot be prepared outside its transaction (here: a table that
// does not exist) is remembered as such and never tried again, and a cache
// at its bound records no more misses.
func TestStatementCacheInvalidAndBound(t *testing.T) {
	s := openTest(t, t.TempDir())
	c := s.wcache
	const bad = `SELECT * FROM no_such_table`
	if c.get(bad) != nil {
		t.Fatal("cache hit for a text never prepared")
	}
	c.warm(t.Context())
	c.mu.Lock()
	invalid, cached := c.invalid[bad], c.stmts[bad] != nil
	c.mu.Unlock()
	if !invalid || cached {
		t.Fatalf("after warm: invalid %v, cached %v; want true, false", invalid, cached)
	}
	c.get(bad)
	c.mu.Lock()
	missed := c.missed[bad]
	c.mu.Unlock()
	if missed {
		t.Fatal("an invalid text was recorded as a miss again")
	}

	c.mu.Lock()
	for i := len(c.stmts) + len(c.missed); i < maxCachedStmts; i++ {
		c.missed[strconv.Itoa(i)] = true
	}
	c.mu.Unlock()
	c.get(`SELECT 1`)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.missed[`SELECT 1`] {
		t.Fatal("a full cache recorded another miss")
	}
	clear(c.missed) // the fake misses are not SQL
}
