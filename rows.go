package defacto

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/defacto-dev/defacto/internal/value"
)

// Rows is a query result: named, typed columns and their values (string,
// int64, float64, bool, time.Time in UTC, or nil).
type Rows struct {
	cols []Column
	data [][]any
}

// Columns returns the column names in order.
func (r *Rows) Columns() []string {
	out := make([]string, len(r.cols))
	for i, c := range r.cols {
		out[i] = c.Name
	}
	return out
}

// ColumnTypes returns the columns with their types.
func (r *Rows) ColumnTypes() []Column { return append([]Column(nil), r.cols...) }

// Len returns the number of rows.
func (r *Rows) Len() int { return len(r.data) }

// Row returns row i's values in column order.
func (r *Rows) Row(i int) []any { return r.data[i] }

// Value returns the value of column in row i (nil for an unknown column).
func (r *Rows) Value(i int, column string) any {
	for j, c := range r.cols {
		if c.Name == column {
			return r.data[i][j]
		}
	}
	return nil
}

// Each calls f with every row's values until f returns an error.
func (r *Rows) Each(f func(row []any) error) error {
	for _, row := range r.data {
		if err := f(row); err != nil {
			return err
		}
	}
	return nil
}

// Maps returns the rows as JSON-ready objects: instants as canonical RFC
// 3339 text.
func (r *Rows) Maps() []map[string]any {
	out := make([]map[string]any, len(r.data))
	for i, row := range r.data {
		m := make(map[string]any, len(r.cols))
		for j, c := range r.cols {
			m[c.Name] = jsonValue(row[j])
		}
		out[i] = m
	}
	return out
}

func jsonValue(v any) any {
	if t, ok := v.(time.Time); ok {
		return value.FormatTime(t.UnixMicro())
	}
	return v
}

// textValue renders one value for tables and CSV; nil is "".
func textValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return value.FormatFloat(x)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return value.FormatTime(x.UnixMicro())
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// writeObject writes one row as a JSON object with keys in column order.
func (r *Rows) writeObject(buf *bytes.Buffer, row []any) error {
	buf.WriteByte('{')
	for j, c := range r.cols {
		if j > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(c.Name)
		buf.Write(k)
		buf.WriteByte(':')
		v, err := json.Marshal(jsonValue(row[j]))
		if err != nil {
			return err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return nil
}

// WriteJSON writes the rows as one JSON array of objects.
func (r *Rows) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, row := range r.data {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n  ")
		if err := r.writeObject(&buf, row); err != nil {
			return err
		}
	}
	if len(r.data) > 0 {
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteJSONL writes one JSON object per line, keys in column order.
func (r *Rows) WriteJSONL(w io.Writer) error {
	var buf bytes.Buffer
	for _, row := range r.data {
		if err := r.writeObject(&buf, row); err != nil {
			return err
		}
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteCSV writes RFC 4180 CSV with a header row; null is empty.
func (r *Rows) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(r.Columns()); err != nil {
		return err
	}
	rec := make([]string, len(r.cols))
	for _, row := range r.data {
		for j := range r.cols {
			rec[j] = textValue(row[j])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// String renders the rows as an aligned text table.
func (r *Rows) String() string {
	widths := make([]int, len(r.cols))
	cells := make([][]string, len(r.data))
	for j, c := range r.cols {
		widths[j] = utf8.RuneCountInString(c.Name)
	}
	for i, row := range r.data {
		cells[i] = make([]string, len(r.cols))
		for j := range r.cols {
			s := textValue(row[j])
			if row[j] == nil {
				s = "-"
			}
			cells[i][j] = s
			widths[j] = max(widths[j], utf8.RuneCountInString(s))
		}
	}
	var b strings.Builder
	line := func(vals []string) {
		for j, v := range vals {
			if j > 0 {
				b.WriteString("  ")
			}
			b.WriteString(v)
			if j < len(vals)-1 {
				b.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(v)))
			}
		}
		b.WriteByte('\n')
	}
	line(r.Columns())
	sep := make([]string, len(r.cols))
	for j := range sep {
		sep[j] = strings.Repeat("-", widths[j])
	}
	line(sep)
	for _, c := range cells {
		line(c)
	}
	if len(r.data) == 1 {
		b.WriteString("(1 row)\n")
	} else {
		b.WriteString("(" + strconv.Itoa(len(r.data)) + " rows)\n")
	}
	return b.String()
}
