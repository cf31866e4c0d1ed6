package storetest_test

import (
	"sync"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/store/postgres"
	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
	"github.com/defacto-dev/defacto/internal/store/storetest"
)

// TestPostgres runs the conformance suite on the PostgreSQL backend: one
// fresh namespace per subtest, dropped with its version stores afterwards;
// a second open in the same subtest reopens that namespace.
func TestPostgres(t *testing.T) {
	url := pgtest.URL(t)
	var namespaces sync.Map // *testing.T → namespace
	storetest.Run(t, func(t *testing.T) store.Store {
		ns, ok := namespaces.Load(t)
		if !ok {
			ns = pgtest.Namespace(t, url)
			namespaces.Store(t, ns)
		}
		s, err := postgres.Open(t.Context(), url, postgres.Options{Namespace: ns.(string)})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
