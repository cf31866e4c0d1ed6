package interpret

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/defacto-dev/defacto/internal/definition"
	"github.com/defacto-dev/defacto/internal/value"
)

// Scenario files in testdata/scenarios translate conformance scenarios into
// interpretation-only cases: definitions as in the conformance file, events
// already normalized, and expectations on the rows the entity's runs produce.
//
// Each case streams its runs the way the engine does: a run starts from the
// previous run's state, the stored open row and open relationship rows; an
// entity whose first event of a run lands on the open row's instant is
// recomputed instead (only the row before it could tell whether a row
// survives there). A `recompute` run rebuilds the entity from all its events.

type scenarioFile struct {
	From        string         `yaml:"from"`
	Definitions yaml.Node      `yaml:"definitions"`
	Cases       []scenarioCase `yaml:"cases"`
}

type scenarioCase struct {
	Entity  string            `yaml:"entity"`
	ID      string            `yaml:"id"`
	Resolve map[string]string `yaml:"resolve"` // hint value → target id
	Runs    []scenarioRun     `yaml:"runs"`
	Expect  scenarioExpect    `yaml:"expect"`
}

type scenarioRun struct {
	Events    []scenarioEvent `yaml:"events"`
	Advance   string          `yaml:"advance"`
	Recompute string          `yaml:"recompute"` // horizon; rebuild from every event so far
}

type scenarioEvent struct {
	Seq  int64          `yaml:"seq"`
	Type string         `yaml:"type"`
	At   string         `yaml:"at"`
	Data map[string]any `yaml:"data"`
}

type scenarioExpect struct {
	Absent       bool             `yaml:"absent"`
	State        map[string]any   `yaml:"state"` // state, props and system times of the working state
	Rows         []map[string]any `yaml:"rows"`  // the full current history, in order
	Failures     []map[string]any `yaml:"failures"`
	Rels         []map[string]any `yaml:"rels"` // every relationship row, in order of opening
	Pending      []map[string]any `yaml:"pending"`
	Applied      *int             `yaml:"applied"`
	RulesFired   *int             `yaml:"rules_fired"`
	Transitions  *int             `yaml:"transitions"`
	NextDeadline *string          `yaml:"next_deadline"` // "" = none
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var sf scenarioFile
			if err := yaml.Unmarshal(data, &sf); err != nil {
				t.Fatal(err)
			}
			defs, err := yaml.Marshal(&sf.Definitions)
			if err != nil {
				t.Fatal(err)
			}
			set, _, err := definition.LoadBytes(defs, file)
			if err != nil {
				t.Fatalf("definitions: %v", err)
			}
			rels := map[string]*definition.Relationship{}
			for _, e := range set.Entities {
				for _, r := range e.Relationships {
					rels[r.Type] = r
				}
			}
			for _, c := range sf.Cases {
				t.Run(c.ID, func(t *testing.T) {
					ent := set.Entity(c.Entity)
					if ent == nil {
						t.Fatalf("no entity %s", c.Entity)
					}
					m := NewMachine(ent, rels, &fakeResolver{known: c.Resolve})
					runCase(t, m, ent, c)
				})
			}
		})
	}
}

// relStore simulates relationship Replace for one source entity.
type relStore struct{ rows []RelRow }

func (s *relStore) open() []RelRow {
	var out []RelRow
	for _, r := range s.rows {
		if r.Open {
			out = append(out, r)
		}
	}
	return out
}

func (s *relStore) apply(run *Run) {
	key := func(r RelRow) string { return fmt.Sprint(r.Type, "|", r.TargetID, "|", r.ValidFrom) }
	for _, c := range run.RelClose {
		i := slices.IndexFunc(s.rows, func(r RelRow) bool { return key(r) == key(c) })
		if c.ValidTo == c.ValidFrom {
			s.rows = slices.Delete(s.rows, i, i+1) // superseded
		} else {
			s.rows[i] = c
		}
	}
	for _, n := range run.RelRows {
		if i := slices.IndexFunc(s.rows, func(r RelRow) bool { return key(r) == key(n) }); i >= 0 {
			s.rows[i] = n
		} else {
			s.rows = append(s.rows, n)
		}
	}
}

func runCase(t *testing.T, m *Machine, ent *definition.Entity, c scenarioCase) {
	var (
		rows     rowStore
		rels     relStore
		st       *State
		all      []*Event
		failures []Failure
		pending  []Pending
		applied  int
		fired    int
		trans    int
	)
	for _, sr := range c.Runs {
		var batch []*Event
		for _, se := range sr.Events {
			e := &Event{Seq: se.Seq, ID: fmt.Sprintf("ev%d", se.Seq), Source: "src", Type: se.Type, Time: ts(se.At),
				Data: map[string]value.Value{}}
			for k, v := range se.Data {
				e.Data[k] = value.FromAny(v)
			}
			batch = append(batch, e)
		}
		all = append(all, batch...)
		base := rows.open()
		var run *Run
		switch {
		case sr.Recompute != "" || (base != nil && len(batch) > 0 && batch[0].Time == base.ValidFrom):
			horizon := all[len(all)-1].Time
			if h := cmp.Or(sr.Recompute, sr.Advance); h != "" {
				horizon = ts(h)
			}
			run = m.Recompute(c.ID, all, horizon)
			rows.rows = nil
			rels.rows = nil
			failures, pending, applied = nil, nil, 0
		default:
			run = m.Start(c.ID, st, base, rels.open())
			for _, e := range batch {
				run.Apply(e)
			}
			if sr.Advance != "" {
				run.Advance(ts(sr.Advance))
			}
		}
		if run.Err != nil {
			t.Fatalf("run error: %v", run.Err)
		}
		rows.apply(run.Rows)
		rels.apply(run)
		failures = append(failures, run.Failures...)
		pending = append(pending, run.Pending...)
		applied += run.Applied
		fired += run.RulesFired
		trans += run.Transitions
		st = run.State.Clone()
	}

	x := c.Expect
	if x.Absent {
		if st != nil {
			t.Errorf("entity exists: %+v", st)
		}
	} else if st == nil {
		t.Fatal("entity absent")
	}
	if x.State != nil {
		checkImage(t, "state", ent, x.State, st.State, st.Props, map[string]int64{
			"created_time": st.CreatedTime, "state_entered_time": st.StateEnteredTime, "last_event_time": st.LastEventTime,
			"last_applied_time": st.LastAppliedTime, "last_fired_time": st.LastFiredTime,
		}, map[string]int64{"last_applied_seq": st.LastAppliedSeq})
	}
	if x.Rows != nil {
		if len(rows.rows) != len(x.Rows) {
			t.Errorf("rows: got %d, want %d: %+v", len(rows.rows), len(x.Rows), rows.rows)
		} else {
			for i, w := range x.Rows {
				r := rows.rows[i]
				checkImage(t, fmt.Sprintf("row %d", i), ent, w, r.State, r.Props, map[string]int64{
					"valid_from": r.ValidFrom, "created_time": r.CreatedTime,
					"state_entered_time": r.StateEnteredTime, "last_event_time": r.LastEventTime,
				}, map[string]int64{"event_seq": r.EventSeq})
			}
		}
	}
	if x.Failures != nil {
		if len(failures) != len(x.Failures) {
			t.Errorf("failures: got %+v, want %d", failures, len(x.Failures))
		} else {
			for i, w := range x.Failures {
				f := failures[i]
				got := map[string]any{"seq": f.EventSeq, "field": f.Field, "location": f.Location, "message": f.Message, "time_rule": f.TimeRule}
				for k, v := range w {
					if fmt.Sprint(got[k]) != fmt.Sprint(v) {
						t.Errorf("failure %d %s = %v, want %v", i, k, got[k], v)
					}
				}
			}
		}
	}
	if x.Rels != nil {
		if len(rels.rows) != len(x.Rels) {
			t.Errorf("relationship rows: got %+v, want %d", rels.rows, len(x.Rels))
		} else {
			for i, w := range x.Rels {
				r := rels.rows[i]
				got := map[string]any{"type": r.Type, "target": r.TargetID, "valid_from": value.FormatTime(r.ValidFrom),
					"open": r.Open, "event_seq": r.EventSeq, "valid_to": nil}
				if !r.Open {
					got["valid_to"] = value.FormatTime(r.ValidTo)
				}
				for k, v := range w {
					if k == "props" {
						for pk, pv := range v.(map[string]any) {
							rel := m.relationship(r.Type)
							j := slices.IndexFunc(rel.Properties, func(p *definition.Property) bool { return p.Name == pk })
							if j < 0 || !value.Equal(r.Props[j], value.FromAny(pv)) {
								t.Errorf("rel %d %s = %v, want %v", i, pk, r.Props, pv)
							}
						}
						continue
					}
					if k == "valid_from" || k == "valid_to" {
						if s, ok := v.(string); ok {
							v = value.FormatTime(ts(s))
						}
					}
					if fmt.Sprint(got[k]) != fmt.Sprint(v) {
						t.Errorf("rel %d %s = %v, want %v", i, k, got[k], v)
					}
				}
			}
		}
	}
	if x.Pending != nil {
		if len(pending) != len(x.Pending) {
			t.Errorf("pending: got %+v, want %d", pending, len(x.Pending))
		} else {
			for i, w := range x.Pending {
				p := pending[i]
				got := map[string]any{"type": p.Type, "seq": p.EventSeq, "keys": strings.Join(p.KeyHashes, ",")}
				for k, v := range w {
					if fmt.Sprint(got[k]) != fmt.Sprint(v) {
						t.Errorf("pending %d %s = %v, want %v", i, k, got[k], v)
					}
				}
			}
		}
	}
	counts := []struct {
		name string
		want *int
		got  int
	}{{"applied", x.Applied, applied}, {"rules_fired", x.RulesFired, fired}, {"transitions", x.Transitions, trans}}
	for _, c := range counts {
		if c.want != nil && *c.want != c.got {
			t.Errorf("%s = %d, want %d", c.name, c.got, *c.want)
		}
	}
	if x.NextDeadline != nil && st != nil {
		want := *x.NextDeadline
		if want == "" && st.HasDeadline || want != "" && (!st.HasDeadline || st.NextDeadline != ts(want)) {
			t.Errorf("next deadline = %v %s, want %q", st.HasDeadline, value.FormatTime(st.NextDeadline), want)
		}
	}
}

// checkImage compares the expected members of a state or row image: state,
// properties by name, instants (RFC 3339 or null) and integers.
func checkImage(t *testing.T, what string, ent *definition.Entity, want map[string]any, state string, props []value.Value, times, ints map[string]int64) {
	t.Helper()
	for k, w := range want {
		switch {
		case k == "state":
			if state != w {
				t.Errorf("%s: state = %s, want %v", what, state, w)
			}
		case k == "props":
			for pk, pv := range w.(map[string]any) {
				p := ent.Property(pk)
				if p == nil {
					t.Fatalf("%s: no property %s", what, pk)
				}
				wv := value.FromAny(pv)
				if s, ok := pv.(string); ok && p.Type == definition.TypeDateTime {
					wv = value.DateTime(ts(s))
				}
				if got := props[p.Index]; !value.Equal(got, wv) {
					t.Errorf("%s: %s = %#v, want %#v", what, pk, got, wv)
				}
			}
		default:
			if tv, ok := times[k]; ok {
				if w == nil && tv != 0 || w != nil && tv != ts(w.(string)) {
					t.Errorf("%s: %s = %s, want %v", what, k, value.FormatTime(tv), w)
				}
			} else if iv, ok := ints[k]; ok {
				if fmt.Sprint(iv) != fmt.Sprint(w) && !(w == nil && iv == 0) {
					t.Errorf("%s: %s = %d, want %v", what, k, iv, w)
				}
			} else {
				t.Fatalf("%s: unknown expectation %s", what, k)
			}
		}
	}
}
