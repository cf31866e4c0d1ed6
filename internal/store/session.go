package store

import "context"

// SessionReader is implemented by stores that can run a series of read
// transactions on one connection. A full rebuild reads each group of
// entities ahead of writing it; on SQLite, where every connection has its
// own page cache, reading all groups on the same connection keeps the pages
// of the ledger and the history warm instead of filling a cold cache on
// whichever pooled connection comes next.
type SessionReader interface {
	// ReadSession opens a session. With hold, the session's reads share
	// one read transaction, begun by the first Read after the session
	// opened or was refreshed: they all see that snapshot.
	ReadSession(ctx context.Context, hold bool) (ReadSession, error)
}

// ReadSession is one connection's series of read transactions. It is used
// by one goroutine at a time and must be closed.
type ReadSession interface {
	// Read runs f in a read-only transaction on the session's connection,
	// like Store.Read: a new one, or the held one (see SessionReader).
	Read(ctx context.Context, f func(Tx) error) error
	// Refresh ends the held read transaction, if any, so that the next
	// Read sees every commit made until then.
	Refresh() error
	Close() error
}
