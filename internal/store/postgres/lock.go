package postgres

import (
	"crypto/sha256"
	"encoding/binary"
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

// Lock purposes of scale.md §2, in the order they must be taken.
const (
	LockDDL         = "ddl"
	LockDefinitions = "definitions"
	LockAppend      = "append"
	LockIdentity    = "identity"
)

// lockKeys caches the keys this package takes.
type lockKeys struct {
	ddl, append, identity int64
}

func newLockKeys(ns string) lockKeys {
	return lockKeys{
		ddl:      LockKey(ns, LockDDL),
		append:   LockKey(ns, LockAppend),
		identity: LockKey(ns, LockIdentity),
	}
}
