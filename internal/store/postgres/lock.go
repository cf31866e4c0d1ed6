package postgres

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
)

// LockKey returns the advisory lock key of purpose in namespace
// (scale.md §2): the first 8 bytes of SHA-256("defacto-lock" 0x00 namespace
// 0x00 purpose) as a big-endian signed 64-bit integer. Every process that
// shares a namespace derives the same keys, whatever its language.
func LockKey(namespace, purpose string) int64 {
	h := sha256.New()
	h.Write([]byte("defacto-lock"))
	h.Write([]byte{0})
	h.Write([]byte(namespace))
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	return int64(binary.BigEndian.Uint64(h.Sum(nil)[:8]))
}

// Lock purposes of scale.md §2, in the order they must be taken: a holder
// never waits for a lock earlier in this list, so advisory locks cannot
// deadlock.
const (
	LockDDL         = "ddl"
	LockDefinitions = "definitions"
	LockAppend      = "append"
	LockIdentity    = "identity"
	// LockShards stands in for the spec's per-shard build locks
	// (decision): every shard-scoped transaction holds it shared, every
	// ScopeAll transaction exclusively. So a transaction that may write
	// any shard's state (erase, redact, ingest with processing, a tick, a
	// build's global steps) excludes all interpreters with one lock,
	// without knowing which versions and shards exist, while interpreters
	// of different shards do not exclude each other.
	LockShards = "shards"
)

// LockProcess is the purpose of the lock of one shard's working state,
// history and cursor in version's store (scale.md §2): held exclusively by
// its interpretation transactions, after LockShards.
func LockProcess(version string, shard int) string {
	return fmt.Sprintf("process/%s/%d", version, shard)
}

// lockKeys caches the keys this package takes.
type lockKeys struct {
	ddl, append, identity, shards int64
	// process caches LockProcess keys by version, for this Store's shard.
	process sync.Map // string → int64
}

func newLockKeys(ns string) *lockKeys {
	return &lockKeys{
		ddl:      LockKey(ns, LockDDL),
		append:   LockKey(ns, LockAppend),
		identity: LockKey(ns, LockIdentity),
		shards:   LockKey(ns, LockShards),
	}
}

// processKey returns the key of LockProcess(version, shard) in ns.
func (k *lockKeys) processKey(ns, version string, shard int) int64 {
	if v, ok := k.process.Load(version); ok {
		return v.(int64)
	}
	key := LockKey(ns, LockProcess(version, shard))
	k.process.Store(version, key)
	return key
}
