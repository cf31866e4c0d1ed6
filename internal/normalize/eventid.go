package normalize

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/defacto-dev/defacto/internal/value"
)

// EventID returns the default event id of ingestion.md §6: lowercase hex
// SHA-256 of source "\n" event type "\n" canonical timestamp "\n" JCS(data),
// where data is the object of all mapped output fields (Null members
// included); CanonicalJSON renders DateTime as canonical text and Duration as
// seconds.
func EventID(source, eventType string, ts int64, data value.Value) string {
	b := make([]byte, 0, 128)
	b = append(b, source...)
	b = append(b, '\n')
	b = append(b, eventType...)
	b = append(b, '\n')
	b = value.AppendTime(b, ts)
	b = append(b, '\n')
	b = append(b, value.CanonicalJSON(data)...)
	return hexSHA256(b)
}

// EventIDFromPaths returns the event id of a source that declares
// `event_id: [p1, …]`: SHA-256 of source "\n" event type "\n" JCS({p1: raw
// value at p1, …}), missing paths as null. ok is false when every path is
// missing or null; such a record fails normalization (ingestion.md §6).
func EventIDFromPaths(source, eventType string, raw value.Value, paths []string) (string, bool) {
	m := make(map[string]value.Value, len(paths))
	ok := false
	for _, p := range paths {
		v := Walk(raw, p)
		if !v.IsNull() {
			ok = true
		}
		m[p] = v
	}
	if !ok {
		return "", false
	}
	b := make([]byte, 0, 128)
	b = append(b, source...)
	b = append(b, '\n')
	b = append(b, eventType...)
	b = append(b, '\n')
	b = append(b, value.CanonicalJSON(value.Object(m))...)
	return hexSHA256(b), true
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
