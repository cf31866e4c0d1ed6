package defacto

// Event is one raw record from a source: a JSON object. Values decoded with
// encoding/json (json.Number keeps integers exact) or built in Go both work.
type Event = map[string]any

// IngestMode says whether Ingest interprets what it appends.
type IngestMode int

const (
	// AppendOnly normalizes, checks and appends; Build interprets later.
	AppendOnly IngestMode = iota
	// Process also resolves identity and interprets before returning, so
	// state is queryable on return.
	Process
)
