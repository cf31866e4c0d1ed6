package interpret

import (
	"maps"
	"slices"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// Event is a live ledger event as interpretation sees it.
type Event struct {
	Seq    int64
	ID     string
	Source string
	Type   string
	Time   int64 // µs since the Unix epoch, UTC
	Data   map[string]value.Value
}

// State is an entity's working state (interpretation.md §1). The engine
// persists it; Props is indexed like the entity's Properties.
type State struct {
	EntityID         string        `json:"entity_id"`
	EntityType       string        `json:"entity_type"`
	State            string        `json:"state"`
	Props            []value.Value `json:"properties"`
	CreatedTime      int64         `json:"created_time"`
	StateEnteredTime int64         `json:"state_entered_time"`
	LastEventTime    int64         `json:"last_event_time"`
	LastAppliedTime  int64         `json:"last_applied_time"`
	LastAppliedSeq   int64         `json:"last_applied_seq"`
	LastFiredTime    int64         `json:"last_fired_time"`
	// Fired maps "<state>/<rule index>" to the reference instant the rule last
	// fired for.
	Fired        map[string]int64 `json:"fired"`
	NextDeadline int64            `json:"next_deadline"`
	HasDeadline  bool             `json:"has_deadline"`
	// Rev is carried but never changed here: it counts committed row changes,
	// which only the engine knows about (scale.md §4).
	Rev int64 `json:"rev"`
}

// Clone returns a deep copy of s (nil for nil).
func (s *State) Clone() *State {
	if s == nil {
		return nil
	}
	c := *s
	c.Props = slices.Clone(s.Props)
	c.Fired = maps.Clone(s.Fired)
	return &c
}

// Row is one history row image (history.md §2) before storage assigns
// valid_to and recorded_at.
type Row struct {
	State            string
	Props            []value.Value
	ValidFrom        int64
	LastEventTime    int64
	StateEnteredTime int64
	CreatedTime      int64
	EventSeq         int64 // 0 = null: the row comes from time rules alone
}

// RelRow is one relationship row of a relationship declared by the entity.
type RelRow struct {
	Type      string
	TargetID  string
	Props     []value.Value // indexed like the relationship's Properties
	ValidFrom int64
	ValidTo   int64 // meaningful when !Open
	Open      bool
	EventSeq  int64
}

// Pending is a relate whose target keys are all unknown (identity.md §8).
type Pending struct {
	Type      string
	EventSeq  int64
	KeyHashes []string
}

// Resolver finds relate targets; the engine implements it over identity
// storage. ok=false means no key is known: the relation becomes pending with
// the returned key hashes. It never creates keys or entities. A non-nil error
// is a storage failure and aborts the run (Run.Err).
type Resolver interface {
	ResolveRelate(ev *Event, r *definition.Relate) (targetID string, keyHashes []string, ok bool, err error)
}

// Failure is one failed event application or time-rule firing
// (interpretation.md §10). Time-rule failures have TimeRule set and no event.
type Failure struct {
	EventSeq  int64
	EventID   string
	EventType string
	Source    string
	Field     string // property or relationship property concerned, if any
	Location  string // definition path of the failing element
	Message   string
	TimeRule  bool
}
