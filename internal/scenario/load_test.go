package scenario

import (
	"path/filepath"
	"slices"
	"testing"
)

const corpus = "../../testdata/conformance/scenarios"

// TestLoadCorpus parses every published scenario and checks the refs of
// step bodies against their definitions.
func TestLoadCorpus(t *testing.T) {
	all, err := LoadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 100 {
		t.Fatalf("loaded %d scenarios, want the whole corpus", len(all))
	}
	for i, s := range all {
		if want := filepath.Base(s.File)[:3]; s.ID != want {
			t.Errorf("%s: id %s", s.File, s.ID)
		}
		if i > 0 && all[i-1].File >= s.File {
			t.Errorf("not sorted: %s after %s", s.File, all[i-1].File)
		}
		if s.Clock.IsZero() {
			t.Errorf("%s: no clock", s.File)
		}
		defs := s.Defs
		for _, st := range s.Steps {
			var refs []string
			switch st.Kind {
			case StepMerge:
				refs = []string{st.From, st.Into}
			case StepErase, StepRedact:
				refs = []string{st.Entity}
			case StepCapture:
				for _, c := range st.Captures {
					if c.Ref != "version active" {
						refs = append(refs, c.Ref)
					}
				}
			case StepReopen:
				if st.Defs != nil {
					defs = st.Defs
				}
			}
			for _, r := range refs {
				if _, err := ParseRef(r, defs); err != nil {
					t.Errorf("%s steps[%d]: %v", s.File, st.Index, err)
				}
			}
		}
	}
}

func TestLoadExactEvents(t *testing.T) {
	s, err := Parse([]byte(`
id: '900'
name: x
tags: [lifecycle, build]
covers: []
what: x
clock: '2024-01-01T00:00:00+01:00'
config: {batch_size: 1, auto_build: false, salt: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f}
definitions:
  entities:
    customer:
      identity: {email: {}, phone: {}}
      properties: {seen: {type: datetime}}
steps:
  - ingest:
      source: app
      process: false
      events:
        - {type: a, ts: 1705312800123456789, f: 1.50, g: 1e3, s: '12', n: null, b: true, l: [1, {x: y}], u: "é<&>"}
  - {eval: {expr: 1 + 2, value: ' v '}}
  - {capture: {a: customer by email a@x.com, v: version active}}
  - {clock: '2024-02-01T00:00:00Z'}
  - {reopen: {config: {auto_build: true}}}
  - {build: {full: true, from_raw: true}}
  - expect: {result: {mode: FULL}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Config.BatchSize != 1 || s.Config.AutoBuild == nil || *s.Config.AutoBuild || len(s.Config.Salt) != 64 {
		t.Errorf("config %+v", s.Config)
	}
	if got, want := string(s.Steps[0].Events[0]), `{"type":"a","ts":1705312800123456789,"f":1.50,"g":1e3,"s":"12","n":null,"b":true,"l":[1,{"x":"y"}],"u":"é<&>"}`; got != want {
		t.Errorf("event JSON\n got %s\nwant %s", got, want)
	}
	if e := s.Steps[1]; e.Expr != "1 + 2" || e.Value == nil || *e.Value != " v " {
		t.Errorf("eval step %+v", e)
	}
	if c := s.Steps[2].Captures; len(c) != 2 || c[0].Name != "a" || c[1].Ref != "version active" {
		t.Errorf("captures %+v", c)
	}
	if s.Steps[4].Config == nil || !*s.Steps[4].Config.AutoBuild {
		t.Errorf("reopen config")
	}
	if b := s.Steps[5]; !b.Full || !b.FromRaw {
		t.Errorf("build step %+v", b)
	}
	if !slices.Equal(s.Defs.Entities["customer"].Identity, []string{"email", "phone"}) || s.Defs.Entities["customer"].Properties["seen"] != "datetime" {
		t.Errorf("defs %+v", s.Defs.Entities["customer"])
	}
	if got := Skipped(s, []string{"build", "tick"}); !slices.Equal(got, []string{"build"}) {
		t.Errorf("Skipped = %v", got)
	}
}

func TestParseRejects(t *testing.T) {
	base := "id: '900'\nname: x\ntags: []\ncovers: []\nwhat: x\nclock: '2024-01-01T00:00:00Z'\ndefinitions: {}\n"
	for _, steps := range []string{
		"steps: [{ingest: {source: a, events: []}}]",               // process missing
		"steps: [{build: {fast: true}}]",                           // unknown key
		"steps: [{expect: {tables: {}}}]",                          // unknown kind
		"steps: [{frobnicate: {}}]",                                // unknown step
		"steps: [{build: {}, tick: {}}]",                           // two keys
		"steps: [{clock: '2024-01-01'}]",                           // no time
		"steps: [{ingest: {source: a, process: yes, events: []}}]", // not a bool
	} {
		if _, err := Parse([]byte(base + steps)); err == nil {
			t.Errorf("%s: accepted", steps)
		}
	}
}
