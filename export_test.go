package defacto

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestExportCSV(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	dir := filepath.Join(t.TempDir(), "out", "csv")
	if err := f.e.Export(ctx, dir, "csv"); err != nil {
		t.Fatal(err)
	}
	if got, want := dirFiles(t, dir), []string{"club.csv", "person.csv", "rel_has_member.csv", "rel_member_of.csv"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	read := func(name string) [][]string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	people := read("person.csv")
	want, err := f.e.Table("person").Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(people[0], want.Columns()) {
		t.Errorf("header %v, want %v", people[0], want.Columns())
	}
	if len(people) != 1+6 {
		t.Fatalf("%d person records, want header + 6", len(people))
	}
	col := slices.Index(people[0], "valid_to")
	for _, r := range people[1:] {
		if r[col] != "" {
			t.Errorf("open row valid_to = %q, want empty", r[col])
		}
	}
	rel := read("rel_member_of.csv")
	if len(rel) != 1+6 || !slices.Contains(rel[0], "role") || rel[0][0] != "source_id" {
		t.Errorf("rel_member_of.csv = %v", rel)
	}
	if got := read("rel_has_member.csv"); len(got) != 1+2 {
		t.Errorf("rel_has_member.csv has %d records, want 3", len(got))
	}
	// No temporary files are left behind, and a second export replaces.
	if err := f.e.Export(ctx, dir, "csv"); err != nil {
		t.Fatal(err)
	}
	if got := dirFiles(t, dir); len(got) != 4 {
		t.Errorf("files after re-export: %v", got)
	}
}

func TestExportJSONLSelectedTypes(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	dir := t.TempDir()
	if err := f.e.Export(ctx, dir, "jsonl", "club", "club"); err != nil {
		t.Fatal(err)
	}
	if got, want := dirFiles(t, dir), []string{"club.jsonl", "rel_has_member.jsonl"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	fh, err := os.Open(filepath.Join(dir, "club.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	var ids []string
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, `{"club_id":`) {
			t.Errorf("keys not in column order: %s", line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m["club_id"].(string))
		if m["valid_to"] != nil {
			t.Errorf("valid_to = %v", m["valid_to"])
		}
	}
	if want := f.byID("C1", "C2", "C3"); !reflect.DeepEqual(ids, f.idList(want...)) {
		t.Errorf("club ids %v, want %v", f.names(ids), want)
	}
}

func TestExportErrors(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	dir := t.TempDir()
	wantKind(t, f.e.Export(ctx, dir, "parquet!"), ErrValidation)
	wantKind(t, f.e.Export(ctx, dir, "csv", "person", "klub"), ErrNotFound)
	if got := dirFiles(t, dir); len(got) != 0 {
		t.Errorf("a failed export wrote %v", got)
	}
	// A file where the directory should be.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wantKind(t, f.e.Export(ctx, file, "csv"), ErrStorage)
}

func TestGraphJSON(t *testing.T) {
	ctx := context.Background()
	f := openGraph(t)
	b, err := f.e.GraphJSON(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(`{"nodes":[{"id":`)) {
		t.Errorf("node keys out of order: %.80s", b)
	}
	var g struct {
		Nodes []map[string]any `json:"nodes"`
		Edges []struct {
			Source, Target, Type string
		} `json:"edges"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(g.Nodes) != 9 {
		t.Fatalf("%d nodes, want 9", len(g.Nodes))
	}
	// Entity types in the definition set's order, then id.
	var names []string
	for _, n := range g.Nodes {
		names = append(names, f.name(n["id"].(string)))
		if _, ok := n["valid_to"]; ok {
			t.Errorf("null valid_to present in %v", n)
		}
	}
	var want []string
	for _, ent := range f.e.act().defs.Entities {
		if ent.Name == "person" {
			want = append(want, f.byID("alice", "bob", "carol", "dave", "erin", "frank")...)
		} else {
			want = append(want, f.byID("C1", "C2", "C3")...)
		}
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("node order %v, want %v", names, want)
	}
	alice := g.Nodes[slices.Index(names, "alice")]
	if alice["entity_type"] != "person" || alice["name"] != "Alice" || alice["person_state"] != "active" {
		t.Errorf("alice node %v", alice)
	}
	if _, ok := alice["person_id"]; ok {
		t.Errorf("alice node repeats its id column: %v", alice)
	}
	if vf, _ := alice["valid_from"].(string); !strings.HasSuffix(vf, "+00:00") {
		t.Errorf("valid_from %v not canonical text", alice["valid_from"])
	}
	var edges []string
	for _, e := range g.Edges {
		edges = append(edges, f.name(e.Source)+" "+e.Type+" "+f.name(e.Target))
	}
	slices.Sort(edges)
	wantEdges := []string{
		"C1 has_member frank", "C3 has_member dave",
		"alice member_of C1", "alice member_of C2", "bob member_of C1", "bob member_of C2",
		"carol member_of C2", "dave member_of C3",
	}
	slices.Sort(wantEdges)
	if !reflect.DeepEqual(edges, wantEdges) {
		t.Errorf("edges %v, want %v", edges, wantEdges)
	}
	for i := 1; i < len(g.Edges); i++ {
		if g.Edges[i-1].Source > g.Edges[i].Source {
			t.Errorf("edges not ordered by source: %v", g.Edges)
			break
		}
	}
}
