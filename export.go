package defacto

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/defacto-dev/defacto/internal/definition"
)

// Export formats (history.md §9).
const (
	FormatCSV   = "csv"   // RFC 4180, header row, null as empty
	FormatJSONL = "jsonl" // one JSON object per row, keys in column order
)

// Export writes the current rows of entity types (every declared type when
// none is named, in the definition set's order) into dir, one file per type: <e>.<format>, plus
// rel_<t>.<format> with the open rows of each relationship type those
// entity types declare. format is "csv" or "jsonl". Each file is written
// to a temporary name and renamed into place, so a reader never sees half a
// file. ErrValidation for another format, ErrNotFound for an undeclared
// entity type; dir is created when missing.
func (e *Engine) Export(ctx context.Context, dir, format string, types ...string) error {
	if e.isClosed() {
		return ErrClosed
	}
	var write func(*Rows, io.Writer) error
	switch format {
	case FormatCSV:
		write = (*Rows).WriteCSV
	case FormatJSONL:
		write = (*Rows).WriteJSONL
	default:
		return errorf(ErrValidation, "unknown export format '%s'; use %s or %s", format, FormatCSV, FormatJSONL)
	}
	ents, err := e.exportEntities(types)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return storageErr("export: create directory", err)
	}
	for _, ent := range ents {
		rows, err := e.Table(ent.Name).Execute(ctx)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(dir, ent.Name+"."+format), func(w io.Writer) error { return write(rows, w) }); err != nil {
			return storageErr("export "+ent.Name, err)
		}
		for _, r := range ent.Relationships {
			rows, err := e.Relationships(r.Type).Execute(ctx)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(filepath.Join(dir, "rel_"+r.Type+"."+format), func(w io.Writer) error { return write(rows, w) }); err != nil {
				return storageErr("export rel_"+r.Type, err)
			}
		}
	}
	return nil
}

// exportEntities resolves the selected entity types, in the order named
// (duplicates dropped), or every type in definition order.
func (e *Engine) exportEntities(types []string) ([]*definition.Entity, error) {
	if len(types) == 0 {
		return e.act().defs.Entities, nil
	}
	seen := map[string]bool{}
	var out []*definition.Entity
	for _, t := range types {
		ent := e.act().defs.Entity(t)
		if ent == nil {
			return nil, e.unknownEntity(t)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, ent)
		}
	}
	return out, nil
}

// writeFileAtomic writes path through a temporary file in the same
// directory, renamed into place once complete.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// GraphJSON renders the current graph as
//
//	{"nodes": [{"id", "entity_type", …non-null columns}], "edges": [{"source", "target", "type"}]}
//
// Nodes are the open rows of every entity type (types in the definition
// set's order, then by id), their columns in table order after id and entity_type (the
// <e>_id column is the id), instants as canonical RFC 3339 text. Edges are
// the distinct open relationships (canonical targets), by source, type and
// target.
func (e *Engine) GraphJSON(ctx context.Context) ([]byte, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	var buf bytes.Buffer
	buf.WriteString(`{"nodes":[`)
	first := true
	for _, ent := range e.act().defs.Entities {
		rows, err := e.Table(ent.Name).Execute(ctx)
		if err != nil {
			return nil, err
		}
		idCol := ent.Name + "_id"
		// Byte order of ids whatever the database collation (ids are in
		// column 0 of entity rows).
		slices.SortStableFunc(rows.data, func(a, b []any) int {
			as, _ := a[0].(string)
			bs, _ := b[0].(string)
			return strings.Compare(as, bs)
		})
		for _, row := range rows.data {
			if !first {
				buf.WriteByte(',')
			}
			first = false
			var id any
			for j, c := range rows.cols {
				if c.Name == idCol {
					id = row[j]
				}
			}
			buf.WriteByte('{')
			writeMember(&buf, "id", id, true)
			writeMember(&buf, "entity_type", ent.Name, false)
			for j, c := range rows.cols {
				if c.Name != idCol && row[j] != nil {
					writeMember(&buf, c.Name, jsonValue(row[j]), false)
				}
			}
			buf.WriteByte('}')
		}
	}
	buf.WriteString(`],"edges":[`)
	b := &sqlBuilder{d: e.st.Dialect()}
	q := b.expand("SELECT DISTINCT {source_id}, {relationship_type}, {target_id} FROM ") + e.relRef() +
		b.expand(" WHERE {valid_to} IS NULL")
	var edges [][3]string
	err := e.graphQuery(ctx, "graph json: edges", q, nil, func(rs *sql.Rows) error {
		var ed [3]string // source, type, target
		if err := rs.Scan(&ed[0], &ed[1], &ed[2]); err != nil {
			return err
		}
		edges = append(edges, ed)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Byte order whatever the database collation.
	slices.SortFunc(edges, func(a, b [3]string) int {
		for i := range a {
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	for i, ed := range edges {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('{')
		writeMember(&buf, "source", ed[0], true)
		writeMember(&buf, "target", ed[2], false)
		writeMember(&buf, "type", ed[1], false)
		buf.WriteByte('}')
	}
	buf.WriteString("]}")
	return buf.Bytes(), nil
}

// writeMember writes "key":value (preceded by a comma unless first).
// Values are strings, numbers, booleans or nil, which always marshal.
func writeMember(buf *bytes.Buffer, key string, v any, first bool) {
	if !first {
		buf.WriteByte(',')
	}
	k, _ := json.Marshal(key)
	buf.Write(k)
	buf.WriteByte(':')
	val, err := json.Marshal(v)
	if err != nil {
		val, _ = json.Marshal(textValue(v))
	}
	buf.Write(val)
}
