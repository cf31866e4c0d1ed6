package store

import "context"

// SessionReader is implemented by stores that can run a series of read
// transactions on one connection. A full rebuild reads each group of
// entities ahead of writing it; on SQLite, where every connection has its
// own page cache, reading all groups on the same connection keeps the pages
// of the ledger and the history warm instead of filling a cold cache on
// whichever pooled connection comes next.
type SessionReader interface {
	ReadSession(ctx context.Context) (ReadSession, error)
}

// ReadSession is one connection's series of read transactions. It is used
// by one goroutine at a time and must be closed.
type ReadSession interface {
	// Read runs f in a new read-only transaction on the session's
	// connection, like Store.Read.
	Read(ctx context.Context, f func(Tx) error) error
	Close() error
}
