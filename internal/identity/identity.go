// Package identity derives identity keys, key hashes, entity ids and shard
// hashes (identity.md §1–§3, scale.md §3) and applies privacy treatments to
// values (privacy.md §2).
//
// Everything here is a pure function of the definitions, the namespace salt
// and its arguments; resolving keys against stored identity rows is the
// storage layer's job.
package identity

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/expr"
	"github.com/defacto-dev/defacto/internal/normalize"
	"github.com/defacto-dev/defacto/internal/value"
)

// Key is one identity key (T, f, v) of an event.
type Key struct {
	Entity string // entity type T
	Field  string // identity field f
	Value  string // normalized value v
	Hash   string // KeyHash(salt, T, f, v)
	// Sensitive is true when T declares a sensitive property named f: then
	// only Hash may be stored outside the event row (identity.md §2).
	Sensitive bool
}

// EntityKeys are the keys of one entity type found in an event, in
// identity-field order; the first one derives the id of a new entity.
type EntityKeys struct {
	Entity string
	Keys   []Key
}

// KeyHash returns the lowercase hex HMAC-SHA-256 under salt of
// "key" 0x00 entity 0x00 field 0x00 value.
func KeyHash(salt []byte, entity, field, v string) string {
	m := newMAC(salt)
	m.buf = append(m.buf, "key\x00"...)
	m.buf = append(m.buf, entity...)
	m.buf = append(m.buf, 0)
	m.buf = append(m.buf, field...)
	m.buf = append(m.buf, 0)
	m.buf = append(m.buf, v...)
	return m.hexDigest()
}

// EntityID derives the id of an entity created by the key with hash keyHash
// (identity.md §3): the first 16 bytes of HMAC-SHA-256(salt, "id" 0x00
// keyHash) with the UUID version 8 and RFC 9562 variant bits set, rendered
// 8-4-4-4-12 in lowercase hex.
func EntityID(salt []byte, keyHash string) string {
	m := newMAC(salt)
	m.buf = append(m.buf, "id\x00"...)
	m.buf = append(m.buf, keyHash...)
	b := m.digest()
	b[6] = (b[6] & 0x0F) | 0x80
	b[8] = (b[8] & 0x3F) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// ShardHash returns the first 4 bytes of SHA-256(id) as a big-endian
// unsigned integer (scale.md §3); the owning shard is ShardHash mod the
// number of shards.
func ShardHash(id string) uint32 {
	sum := sha256.Sum256([]byte(id))
	return binary.BigEndian.Uint32(sum[:4])
}

// Extract runs hint extraction (identity.md §1) on a normalized event: for
// every entity type its config hints, in ascending name order, the keys of
// the hinted identity fields in the entity's identity-field order (not the
// order the hint lists them). Entity types that yield no key are left out;
// an event without keys is appended but never linked. Failures have stage
// identity and name the entity type and the field.
func Extract(set *definition.Set, salt []byte, ev *normalize.Event) ([]EntityKeys, *normalize.Failure) {
	cfg := ev.Config
	if cfg == nil || len(cfg.Hints) == 0 {
		return nil, nil
	}
	data := ev.Data.AsObject()
	var out []EntityKeys
	for _, h := range cfg.Hints {
		ent := set.Entity(h.Entity)
		if ent == nil {
			return nil, failure(ev, "", fmt.Sprintf("entity type '%s' is not declared", h.Entity))
		}
		var keys []Key
		for _, f := range ent.Identity {
			if !contains(h.Fields, f.Name) {
				continue
			}
			s, ok, msg := hintString(data[f.Name])
			if msg != "" {
				return nil, failure(ev, f.Name, fmt.Sprintf("entity '%s' identity field '%s': %s", ent.Name, f.Name, msg))
			}
			if !ok {
				continue
			}
			nv, ok, err := NormalizeValue(f, s)
			if err != nil {
				return nil, failure(ev, f.Name, fmt.Sprintf("entity '%s' identity field '%s': %v", ent.Name, f.Name, err))
			}
			if !ok {
				continue
			}
			if keys == nil {
				keys = make([]Key, 0, len(h.Fields))
			}
			keys = append(keys, Key{
				Entity:    ent.Name,
				Field:     f.Name,
				Value:     nv,
				Hash:      KeyHash(salt, ent.Name, f.Name, nv),
				Sensitive: isSensitive(ent, f.Name),
			})
		}
		if len(keys) > 0 {
			if out == nil {
				out = make([]EntityKeys, 0, len(cfg.Hints))
			}
			out = append(out, EntityKeys{Entity: ent.Name, Keys: keys})
		}
	}
	return out, nil
}

// hintString turns a normalized field value into the string a key is made
// of (identity.md §1 step 2): String as is, Int in decimal, Float as
// to_string. ok is false for Null; msg is set for every other kind.
func hintString(v value.Value) (s string, ok bool, msg string) {
	switch v.Kind() {
	case value.KindNull:
		return "", false, ""
	case value.KindString:
		return v.AsString(), true, ""
	case value.KindInt, value.KindFloat:
		return value.ToString(v), true, ""
	}
	return "", false, fmt.Sprintf("%s is not an identity value (string or number expected)", v.Kind())
}

func failure(ev *normalize.Event, field, msg string) *normalize.Failure {
	prefix := fmt.Sprintf("source '%s': event '%s': ", ev.Source, ev.Type)
	if ev.RawType != "" && ev.RawType != ev.Type {
		prefix = fmt.Sprintf("source '%s': event '%s' (raw type '%s'): ", ev.Source, ev.Type, ev.RawType)
	}
	return &normalize.Failure{Stage: normalize.StageIdentity, Field: field, Message: prefix + msg,
		EventType: ev.Type, RawType: ev.RawType}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isSensitive reports whether entity e declares a sensitive property named
// like identity field f (identity.md §2).
func isSensitive(e *definition.Entity, f string) bool {
	p := e.Property(f)
	return p != nil && p.Sensitive != ""
}

// NormalizeValue applies an identity field's rules to one hint string
// (identity.md §1 steps 3–5): the normalize expression with `value` bound to
// s (an error or a result other than String or Null is an error; Null means
// no key), then Unicode simple case folding for case_insensitive fields,
// then the rule that an empty string is no key. ok is false when there is no
// key. now() in a normalize expression reads the Unix epoch, so keys never
// depend on when they are computed.
func NormalizeValue(f *definition.IdentityField, s string) (v string, ok bool, err error) {
	if f.Normalize != nil {
		r, err := f.Normalize.Eval(&expr.Env{Value: value.String(s), HasValue: true})
		if err != nil {
			return "", false, fmt.Errorf("normalize failed: %w", err)
		}
		switch r.Kind() {
		case value.KindNull:
			return "", false, nil
		case value.KindString:
			s = r.AsString()
		default:
			return "", false, fmt.Errorf("normalize must return a string or null, got %s", r.Kind())
		}
	}
	if f.Match == definition.MatchCaseInsensitive {
		s = Fold(s)
	}
	if s == "" {
		return "", false, nil
	}
	return s, true, nil
}
