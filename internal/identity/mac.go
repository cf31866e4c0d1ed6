package identity

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
	"sync/atomic"
)

// keyed holds reusable HMAC-SHA-256 states for one salt. Building an HMAC
// costs two digests, two pads and two compressions; a namespace keeps one
// salt for its lifetime, so the states are pooled per salt and reset
// between uses.
type keyed struct {
	salt []byte
	pool sync.Pool // of *mac
}

var lastKeyed atomic.Pointer[keyed]

func keyedFor(salt []byte) *keyed {
	if k := lastKeyed.Load(); k != nil && bytes.Equal(k.salt, salt) {
		return k
	}
	k := &keyed{salt: bytes.Clone(salt)}
	k.pool.New = func() any { return &mac{k: k, h: hmac.New(sha256.New, k.salt)} }
	lastKeyed.Store(k)
	return k
}

// mac is one pooled HMAC state with scratch space, so that a computation
// allocates nothing but its result.
type mac struct {
	k   *keyed
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newMAC(salt []byte) *mac {
	m := keyedFor(salt).pool.Get().(*mac)
	m.buf = m.buf[:0]
	return m
}

// digest hashes the accumulated buf, returns the state to its pool and
// yields the MAC. m must not be used afterwards.
func (m *mac) digest() [sha256.Size]byte {
	m.h.Write(m.buf)
	m.h.Sum(m.sum[:0])
	out := m.sum
	m.h.Reset()
	if cap(m.buf) > 4096 {
		m.buf = nil // do not pin huge values in the pool
	}
	m.k.pool.Put(m)
	return out
}

// hexDigest returns digest() in lowercase hex.
func (m *mac) hexDigest() string {
	d := m.digest()
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], d[:])
	return string(out[:])
}
