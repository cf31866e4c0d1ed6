package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/defacto-dev/defacto"
)

// printResult prints one result object: pretty JSON (2-space indent),
// compact JSON on one line (jsonl), or readable key: value lines (table).
func (o *Options) printResult(v any) error {
	switch o.Output {
	case "json", "jsonl":
		return writeJSON(o.Stdout, v, o.Output == "json")
	}
	data, err := marshal(v, false)
	if err != nil {
		return err
	}
	tree, err := decodeOrdered(data)
	if err != nil {
		return err
	}
	var b strings.Builder
	writeKV(&b, tree, "")
	_, err = io.WriteString(o.Stdout, b.String())
	return err
}

// marshal encodes v as JSON without HTML escaping.
func marshal(v any, pretty bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if pretty {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(w io.Writer, v any, pretty bool) error {
	data, err := marshal(v, pretty)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// printRows prints query rows in the chosen format.
func (o *Options) printRows(rows *defacto.Rows) error {
	switch o.Output {
	case "json":
		return rows.WriteJSON(o.Stdout)
	case "jsonl":
		return rows.WriteJSONL(o.Stdout)
	case "csv":
		return rows.WriteCSV(o.Stdout)
	}
	_, err := io.WriteString(o.Stdout, rows.String())
	return err
}

// printRecords prints a list of objects that are not query rows (ledger
// events, versions) like rows: one object per line in JSON, an aligned
// table, or CSV with nested values as JSON text. cols fixes the column order.
func (o *Options) printRecords(cols []string, recs []map[string]any) error {
	var buf bytes.Buffer
	switch o.Output {
	case "json", "jsonl":
		if o.Output == "json" {
			buf.WriteByte('[')
		}
		for i, r := range recs {
			if o.Output == "json" {
				if i > 0 {
					buf.WriteByte(',')
				}
				buf.WriteString("\n  ")
			}
			if err := writeObject(&buf, cols, r); err != nil {
				return err
			}
			if o.Output == "jsonl" {
				buf.WriteByte('\n')
			}
		}
		if o.Output == "json" {
			if len(recs) > 0 {
				buf.WriteByte('\n')
			}
			buf.WriteString("]\n")
		}
	case "csv":
		cw := csv.NewWriter(&buf)
		_ = cw.Write(cols)
		for _, r := range recs {
			rec := make([]string, len(cols))
			for j, c := range cols {
				rec[j] = cellText(r[c], "")
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	default:
		cells := make([][]string, len(recs))
		for i, r := range recs {
			cells[i] = make([]string, len(cols))
			for j, c := range cols {
				cells[i][j] = cellText(r[c], "-")
			}
		}
		writeTable(&buf, cols, cells)
	}
	_, err := o.Stdout.Write(buf.Bytes())
	return err
}

func writeObject(buf *bytes.Buffer, cols []string, r map[string]any) error {
	buf.WriteByte('{')
	for j, c := range cols {
		if j > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(c)
		buf.Write(k)
		buf.WriteByte(':')
		v, err := marshal(r[c], false)
		if err != nil {
			return err
		}
		buf.Write(bytes.TrimRight(v, "\n"))
	}
	buf.WriteByte('}')
	return nil
}

// cellText renders a value for a table or CSV cell: strings as they are,
// nil as null, anything else as compact JSON.
func cellText(v any, null string) string {
	switch x := v.(type) {
	case nil:
		return null
	case string:
		return x
	}
	data, err := marshal(v, false)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimRight(string(data), "\n")
}

// writeTable writes an aligned table in the style of defacto.Rows.String.
func writeTable(buf *bytes.Buffer, cols []string, cells [][]string) {
	widths := make([]int, len(cols))
	for j, c := range cols {
		widths[j] = utf8.RuneCountInString(c)
	}
	for _, row := range cells {
		for j, s := range row {
			widths[j] = max(widths[j], utf8.RuneCountInString(s))
		}
	}
	line := func(vals []string) {
		for j, v := range vals {
			if j > 0 {
				buf.WriteString("  ")
			}
			buf.WriteString(v)
			if j < len(vals)-1 {
				buf.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(v)))
			}
		}
		buf.WriteByte('\n')
	}
	line(cols)
	sep := make([]string, len(cols))
	for j := range sep {
		sep[j] = strings.Repeat("-", widths[j])
	}
	line(sep)
	for _, row := range cells {
		line(row)
	}
	if len(cells) == 1 {
		buf.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(buf, "(%d rows)\n", len(cells))
	}
}

// member is one key of an object decoded with its order kept.
type member struct {
	key string
	val any
}

// object is a JSON object with its member order kept.
type object []member

// decodeOrdered decodes JSON keeping object member order; numbers stay
// json.Number.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return decodeValue(dec)
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		obj := object{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{kt.(string), v})
		}
		_, err := dec.Token()
		return obj, err
	case '[':
		list := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token()
		return list, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// empty reports values that table output leaves out: null, "" and empty
// lists and objects.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case object:
		return len(x) == 0
	}
	return false
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		if strings.ContainsAny(x, "\n") {
			data, _ := marshal(x, false)
			return strings.TrimRight(string(data), "\n")
		}
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// writeKV renders a decoded result as indented "key: value" lines, in the
// order of the JSON encoding; empty members are left out.
func writeKV(b *strings.Builder, v any, indent string) {
	switch x := v.(type) {
	case object:
		for _, m := range x {
			if empty(m.val) {
				continue
			}
			switch c := m.val.(type) {
			case object:
				fmt.Fprintf(b, "%s%s:\n", indent, m.key)
				writeKV(b, c, indent+"  ")
			case []any:
				fmt.Fprintf(b, "%s%s:\n", indent, m.key)
				writeList(b, c, indent+"  ")
			default:
				fmt.Fprintf(b, "%s%s: %s\n", indent, m.key, scalarText(c))
			}
		}
	case []any:
		writeList(b, x, indent)
	default:
		fmt.Fprintf(b, "%s%s\n", indent, scalarText(x))
	}
}

func writeList(b *strings.Builder, list []any, indent string) {
	for _, el := range list {
		switch c := el.(type) {
		case object:
			var sub strings.Builder
			writeKV(&sub, c, indent+"  ")
			s := sub.String()
			if s == "" {
				fmt.Fprintf(b, "%s- {}\n", indent)
				continue
			}
			// The first member goes on the dash line.
			b.WriteString(indent + "- " + strings.TrimPrefix(s, indent+"  "))
		case []any:
			data, _ := marshal(c, false)
			fmt.Fprintf(b, "%s- %s", indent, data)
		default:
			fmt.Fprintf(b, "%s- %s\n", indent, scalarText(c))
		}
	}
}
