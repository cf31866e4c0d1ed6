// Command walframes counts the WAL frames SQLite wrote per B-tree, from an
// strace log of a run that kept its databases, so two write patterns can be
// compared page by page instead of by time:
//
//	strace -f -y -e trace=pwrite64 -e signal=none -s 8 -x -o trace.txt \
//	    go run ./bench/harness -events 20000 -customers 4000 -nomem -notick -keep -tmp /tmp/w
//	go run ./bench/walframes trace.txt
//
// SQLite writes each WAL frame as a 24-byte header (page number, then the
// database size for a commit frame) followed by the page. walframes reads
// the headers' page numbers, names each page by the dbstat table of the
// database file the WAL belongs to (as it is after the run, so a page that
// changed owner is counted for its last one), and prints frames per B-tree
// of the main file and of the version store, with one column per directory
// (the harness's process, floor, floor-pattern, …), and commits.
package main

import (
	"bufio"
	"cmp"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	_ "modernc.org/sqlite"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: walframes STRACE-LOG")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "walframes:", err)
		os.Exit(1)
	}
}

// header matches a frame-header write: pwrite64(fd<path-wal>, "…"…, 24, off) = 24.
var header = regexp.MustCompile(`pwrite64\(\d+<([^>]*-wal)>, "((?:[^"\\]|\\.)*)"(?:\.\.\.)?, 24, \d+\) = 24`)

// frame is one WAL frame header: the page it holds and whether it commits.
type frame struct {
	db     string // database file (the WAL path without "-wal")
	page   uint32
	commit bool
}

// parseLine returns the frame header written by one strace line, if any.
func parseLine(line string) (frame, bool) {
	m := header.FindStringSubmatch(line)
	if m == nil {
		return frame{}, false
	}
	b, err := unescape(m[2])
	if err != nil || len(b) < 4 {
		return frame{}, false
	}
	f := frame{db: strings.TrimSuffix(m[1], "-wal"), page: binary.BigEndian.Uint32(b)}
	f.commit = len(b) >= 8 && binary.BigEndian.Uint32(b[4:]) != 0
	return f, true
}

// unescape decodes the C-style string strace prints for a buffer.
func unescape(s string) ([]byte, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+1 >= len(s) {
			return nil, errors.New("trailing backslash")
		}
		i++
		switch c := s[i]; c {
		case 'x':
			if i+2 >= len(s) {
				return nil, errors.New("short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, err
			}
			b, i = append(b, byte(v)), i+2
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case 'v':
			b = append(b, '\v')
		case 'f':
			b = append(b, '\f')
		default:
			b = append(b, c) // \" and \\
		}
	}
	return b, nil
}

func run(log string) error {
	f, err := os.Open(log)
	if err != nil {
		return err
	}
	defer f.Close()
	counts := map[string]map[uint32]int{} // db → page → frames
	commits := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fr, ok := parseLine(sc.Text())
		if !ok {
			continue
		}
		if counts[fr.db] == nil {
			counts[fr.db] = map[uint32]int{}
		}
		counts[fr.db][fr.page]++
		if fr.commit {
			commits[filepath.Base(filepath.Dir(fr.db))]++
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(counts) == 0 {
		return errors.New("no WAL frame headers in " + log + " (strace -y -s 8 -x -e trace=pwrite64?)")
	}
	// rows[b-tree][directory] = frames
	rows := map[string]map[string]int{}
	var dirs []string
	for db, pages := range counts {
		names, err := pageOwners(db)
		if err != nil {
			return err
		}
		dir := filepath.Base(filepath.Dir(db))
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
		for p, n := range pages {
			owner := names[p]
			if owner == "" {
				owner = "(free or gone)"
			}
			// The harness names files <name>.db (the main file) and
			// <name>.<version>.db (a version store) in every directory.
			file := "main"
			if strings.Count(filepath.Base(db), ".") >= 2 {
				file = "store"
			}
			key := file + ": " + owner
			if rows[key] == nil {
				rows[key] = map[string]int{}
			}
			rows[key][dir] += n
		}
	}
	slices.Sort(dirs)
	total := func(k string) (n int) {
		for _, v := range rows[k] {
			n += v
		}
		return n
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(total(b), total(a)), cmp.Compare(a, b)) })
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "b-tree\t"+strings.Join(dirs, "\t")+"\t")
	sums := make([]int, len(dirs))
	for _, k := range keys {
		fmt.Fprint(tw, k)
		for i, d := range dirs {
			fmt.Fprintf(tw, "\t%d", rows[k][d])
			sums[i] += rows[k][d]
		}
		fmt.Fprintln(tw, "\t")
	}
	fmt.Fprint(tw, "all frames")
	for _, s := range sums {
		fmt.Fprintf(tw, "\t%d", s)
	}
	fmt.Fprint(tw, "\t\ncommits (all files)")
	for _, d := range dirs {
		fmt.Fprintf(tw, "\t%d", commits[d])
	}
	fmt.Fprintln(tw, "\t")
	return tw.Flush()
}

// pageOwners maps each page of the database file db to the table or index
// that owns it, from SQLite's dbstat table.
func pageOwners(db string) (map[uint32]string, error) {
	if _, err := os.Stat(db); err != nil {
		return nil, fmt.Errorf("%w (was the run made with -keep?)", err)
	}
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.Query(`SELECT pageno, name FROM dbstat`)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", db, err)
	}
	defer rows.Close()
	out := map[uint32]string{}
	for rows.Next() {
		var p uint32
		var name string
		if err := rows.Scan(&p, &name); err != nil {
			return nil, err
		}
		out[p] = name
	}
	return out, rows.Err()
}
