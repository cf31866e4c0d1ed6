// Package pgtest gives tests a PostgreSQL server and a private namespace on
// it. The server comes from DEFACTO_TEST_DATABASE_URL (default DefaultURL).
// When it cannot be reached, tests fail if the environment variable CI is
// set and are skipped with a message otherwise.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server tests use when DEFACTO_TEST_DATABASE_URL is
// unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// EnvURL names the environment variable holding the test server's URL.
const EnvURL = "DEFACTO_TEST_DATABASE_URL"

var (
	probeOnce sync.Once
	probeErr  error
)

// URL returns the test server's URL once it has answered a connection, or
// ends the test: Fatal under CI, Skip elsewhere.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		url = DefaultURL
	}
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			probeErr = err
			return
		}
		defer conn.Close(ctx)
		probeErr = conn.Ping(ctx)
	})
	if probeErr != nil {
		msg := fmt.Sprintf("PostgreSQL at %s (set %s) is unreachable: %v", redact(url), EnvURL, probeErr)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipping (set CI to make this a failure)")
	}
	return url
}

// Namespace returns a fresh namespace name, t_<16 hex>, and drops its
// schema and every version store schema of it when the test ends (after the
// stores the test opened are closed, as cleanups run last-in first-out).
func Namespace(t testing.TB, url string) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	ns := "t_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { Drop(t, url, ns) })
	return ns
}

// Drop drops namespace ns and its version store schemas.
func Drop(t testing.TB, url, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Errorf("drop namespace %s: %v", ns, err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname = $1 OR left(nspname, $2) = $3`,
		ns, len(ns)+1, ns+"_")
	if err != nil {
		t.Errorf("drop namespace %s: %v", ns, err)
		return
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Errorf("drop namespace %s: %v", ns, err)
		return
	}
	for _, sc := range schemas {
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS "`+strings.ReplaceAll(sc, `"`, `""`)+`" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", sc, err)
		}
	}
}

// redact hides a password in url.
func redact(url string) string {
	i := strings.Index(url, "://")
	at := strings.LastIndex(url, "@")
	if i < 0 || at < i {
		return url
	}
	user, _, ok := strings.Cut(url[i+3:at], ":")
	if !ok {
		return url
	}
	return url[:i+3] + user + ":xxxxx" + url[at:]
}
