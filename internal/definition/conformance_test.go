package definition

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// conformanceDir is the scenario corpus: the project's copy when present,
// else the shared original.
func conformanceDir(t testing.TB) string {
	t.Helper()
	for _, d := range []string{"../../testdata/conformance", "/work/shared/conformance"} {
		if st, err := os.Stat(filepath.Join(d, "scenarios")); err == nil && st.IsDir() {
			return d
		}
	}
	t.Skip("conformance corpus not found")
	return ""
}

// loadNode loads an in-memory set given as an already parsed node, keeping
// the positions of the file it came from.
func loadNode(n *yaml.Node, file string) (*Set, *Result, error) {
	l := newLoader()
	l.file = file
	l.readSet(n)
	return l.finish()
}

func member(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// stepOf returns the kind and body of a one-key step.
func stepOf(n *yaml.Node) (string, *yaml.Node) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return "", nil
	}
	return n.Content[0].Value, n.Content[1]
}

func TestConformanceScenarioDefinitions(t *testing.T) {
	dir := conformanceDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "scenarios", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in %s: %v", dir, err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			root := doc.Content[0]
			defs := member(root, "definitions")
			set, res, loadErr := loadNode(defs, file)
			steps := member(root, "steps")
			checked := false
			for i, st := range steps.Content {
				kind, body := stepOf(st)
				var next *yaml.Node
				if i+1 < len(steps.Content) {
					if k, b := stepOf(steps.Content[i+1]); k == "expect" {
						next = b
					}
				}
				switch kind {
				case "validate":
					r, e := res, loadErr
					if d := member(body, "definitions"); d != nil {
						_, r, e = loadNode(d, file)
					}
					checked = true
					if exp := member(next, "result"); exp != nil {
						checkValidation(t, exp, r)
					}
					_ = e
				case "open":
					if errExp := member(next, "error"); errExp != nil && errExp.Tag != "!!null" {
						checked = true
						checkOpenError(t, errExp, loadErr)
					}
				case "reopen", "register":
					if d := member(body, "definitions"); d != nil {
						_, r, e := loadNode(d, file)
						if e != nil {
							t.Errorf("step %d (%s): definitions rejected: %v", i, kind, e)
						}
						logWarnings(t, r)
					}
				}
			}
			if !checked {
				if loadErr != nil {
					t.Fatalf("definitions rejected: %v", loadErr)
				}
				logWarnings(t, res)
				checkRoundTrip(t, set)
			}
		})
	}
}

func logWarnings(t *testing.T, r *Result) {
	if r == nil {
		return
	}
	for _, w := range r.Warnings {
		t.Logf("warning: %s [%s]", w, w.Kind)
	}
}

func TestConformanceExamples(t *testing.T) {
	dir := conformanceDir(t)
	for _, ex := range []string{"quickstart", "showcase"} {
		t.Run(ex, func(t *testing.T) {
			set, res, err := LoadDir(filepath.Join(dir, "examples", ex))
			if err != nil {
				t.Fatalf("LoadDir: %v", err)
			}
			logWarnings(t, res)
			checkRoundTrip(t, set)
		})
	}
}

// checkValidation matches a ValidationResult expectation (conformance
// README §7.1 and §8).
func checkValidation(t *testing.T, exp *yaml.Node, r *Result) {
	t.Helper()
	if r == nil {
		t.Fatal("no validation result")
	}
	if v := member(exp, "valid"); v != nil {
		want := v.Value == "true"
		if r.Valid != want {
			t.Errorf("valid = %v, want %v; errors:\n%s", r.Valid, want, problemList(r.Errors))
		}
	}
	for _, k := range []string{"errors", "warnings"} {
		e := member(exp, k)
		if e == nil {
			continue
		}
		got := r.Errors
		if k == "warnings" {
			got = r.Warnings
		}
		checkProblems(t, k, e, got)
	}
}

func problemList(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s [%s]\n", p, p.Kind)
	}
	return b.String()
}

func checkProblems(t *testing.T, what string, exp *yaml.Node, got []Problem) {
	t.Helper()
	var matchers []*yaml.Node
	exact := false
	switch exp.Kind {
	case yaml.SequenceNode:
		matchers, exact = exp.Content, true
	case yaml.MappingNode:
		if inc := member(exp, "includes"); inc != nil {
			matchers = inc.Content
		}
		if n := member(exp, "len"); n != nil && fmt.Sprint(len(got)) != n.Value {
			t.Errorf("%s: %d problems, want %s:\n%s", what, len(got), n.Value, problemList(got))
		}
	}
	if exact && len(matchers) != len(got) {
		t.Errorf("%s: %d problems, want exactly %d:\n%s", what, len(got), len(matchers), problemList(got))
	}
	if !assign(matchers, got, map[int]bool{}) {
		var want []string
		for _, m := range matchers {
			out, _ := yaml.Marshal(m)
			want = append(want, strings.TrimSpace(string(out)))
		}
		t.Errorf("%s: no one-to-one match for %v in:\n%s", what, want, problemList(got))
	}
}

// assign finds distinct problems for every matcher (backtracking).
func assign(ms []*yaml.Node, ps []Problem, used map[int]bool) bool {
	if len(ms) == 0 {
		return true
	}
	for i, p := range ps {
		if used[i] || !matchProblem(ms[0], p) {
			continue
		}
		used[i] = true
		if assign(ms[1:], ps, used) {
			return true
		}
		delete(used, i)
	}
	return false
}

func matchProblem(m *yaml.Node, p Problem) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		switch k {
		case "mentions":
			hay := strings.ToLower(p.Message + "\x00" + p.Name + "\x00" + p.Path)
			for _, s := range v.Content {
				if !strings.Contains(hay, strings.ToLower(s.Value)) {
					return false
				}
			}
		case "severity", "message", "kind", "name", "path", "file":
			got := map[string]string{"severity": p.Severity, "message": p.Message, "kind": p.Kind, "name": p.Name, "path": p.Path, "file": p.File}[k]
			if got != v.Value {
				return false
			}
		case "line", "column":
			got := map[string]int{"line": p.Line, "column": p.Column}[k]
			if fmt.Sprint(got) != v.Value {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func checkOpenError(t *testing.T, exp *yaml.Node, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("open: definitions accepted, want an error")
	}
	if k := member(exp, "kind"); k != nil && k.Value == "definition" && !errors.Is(err, ErrInvalid) {
		t.Errorf("open: error %v is not ErrInvalid", err)
	}
	if c := member(exp, "contains"); c != nil {
		parts := []*yaml.Node{c}
		if c.Kind == yaml.SequenceNode {
			parts = c.Content
		}
		for _, p := range parts {
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(p.Value)) {
				t.Errorf("open: error does not contain %q:\n%v", p.Value, err)
			}
		}
	}
}

// checkRoundTrip reloads the canonical form and compares.
func checkRoundTrip(t *testing.T, s *Set) {
	t.Helper()
	again, err := LoadCanonical(s.Canonical)
	if err != nil {
		t.Fatalf("canonical form does not reload: %v\n%s", err, s.Canonical)
	}
	if string(again.Canonical) != string(s.Canonical) {
		t.Fatalf("canonical form changed on reload:\n%s\n%s", s.Canonical, again.Canonical)
	}
	if again.ContentHash != s.ContentHash || again.EntitiesHash != s.EntitiesHash || again.IdentityHash != s.IdentityHash ||
		fmt.Sprint(again.SourceHashes) != fmt.Sprint(s.SourceHashes) {
		t.Fatal("hashes changed on reload")
	}
	if a, b := dump(s), dump(again); a != b {
		t.Fatalf("model changed on reload:\n--- loaded\n%s\n--- reloaded\n%s", a, b)
	}
}
