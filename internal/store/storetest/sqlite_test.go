package storetest_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/store/sqlite"
	"github.com/defacto-dev/defacto/internal/store/storetest"
)

// TestSQLite runs the conformance suite on the SQLite backend: one file per
// subtest; a second open in the same subtest reopens that file.
func TestSQLite(t *testing.T) {
	var paths sync.Map // *testing.T → path
	storetest.Run(t, func(t *testing.T) store.Store {
		p, _ := paths.LoadOrStore(t, filepath.Join(t.TempDir(), "defacto.db"))
		s, err := sqlite.Open(t.Context(), p.(string), sqlite.Options{})
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
