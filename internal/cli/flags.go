package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one defacto command: its flags, its positional arguments and
// what it does.
type command interface {
	// Flags registers the command's own flags.
	Flags(fs *flag.FlagSet)
	// Args binds the positional arguments; wrong counts are usage errors.
	Args(args []string) error
	// Run executes the command, writing through o.
	Run(ctx context.Context, o *Options) error
}

// spec describes a command for dispatch and help.
type spec struct {
	name    string // "table", "ledger count"
	args    string // synopsis of the positional arguments
	summary string
	rows    bool // prints rows, so --output csv applies
	new     func() command
}

// groups are the commands that take a sub-command.
var groups = map[string]string{
	"ledger":      "inspect the event ledger",
	"definitions": "inspect stored definition versions",
}

var commands = []*spec{
	{name: "init", args: "[DIR]", summary: "scaffold a project: entities/, sources/, a sample event file and a README", new: func() command { return &initCmd{} }},
	{name: "validate", args: "", summary: "load and check the definitions (no database needed)", new: func() command { return &validateCmd{} }},
	{name: "ingest", args: "SOURCE [FILE...|-]", summary: "read events (JSON Lines or one JSON array) from files or stdin into the ledger", new: func() command { return &ingestCmd{} }},
	{name: "build", args: "", summary: "process the ledger into state; the mode is chosen automatically unless forced", new: func() command { return &buildCmd{} }},
	{name: "status", args: "", summary: "show the build status of the active definitions", new: func() command { return &statusCmd{} }},
	{name: "tick", args: "", summary: "evaluate time rules up to now (the engine clock) or --as-of", new: func() command { return &tickCmd{} }},
	{name: "table", args: "ENTITY", summary: "current state: one row per live entity", rows: true, new: func() command { return &queryCmd{kind: "table"} }},
	{name: "history", args: "ENTITY", summary: "full SCD2 history, or the state at one instant with --as-of", rows: true, new: func() command { return &queryCmd{kind: "history"} }},
	{name: "relationships", args: "TYPE", summary: "current (or, with --history, all) rows of a relationship type", rows: true, new: func() command { return &relationshipsCmd{} }},
	{name: "timeline", args: "ENTITY_ID", summary: "chronological entries for one entity", new: func() command { return &timelineCmd{} }},
	{name: "lookup", args: "ENTITY VALUE", summary: "the entity id an identity value resolves to", new: func() command { return &lookupCmd{} }},
	{name: "hints", args: "ENTITY_ID", summary: "the identity values that resolve to an entity", new: func() command { return &hintsCmd{} }},
	{name: "merge", args: "FROM_ID INTO_ID", summary: "merge one entity into another", new: func() command { return &mergeCmd{} }},
	{name: "erase", args: "ENTITY_ID", summary: "erase an entity and its events (GDPR)", new: func() command { return &eraseCmd{} }},
	{name: "redact", args: "ENTITY_ID", summary: "redact an entity's sensitive fields", new: func() command { return &redactCmd{} }},
	{name: "eval", args: "EXPR", summary: "evaluate an expression, for debugging definitions (no database needed)", new: func() command { return &evalCmd{} }},
	{name: "ledger count", args: "", summary: "count live events in the ledger", new: func() command { return &ledgerCountCmd{} }},
	{name: "ledger events", args: "ENTITY_ID", summary: "the events linked to an entity, in timestamp order", rows: true, new: func() command { return &ledgerEventsCmd{} }},
	{name: "definitions list", args: "", summary: "stored definition versions", rows: true, new: func() command { return &definitionsListCmd{} }},
	{name: "definitions diff", args: "A B", summary: "changes between two stored versions", new: func() command { return &definitionsDiffCmd{} }},
	{name: "definitions plan", args: "", summary: "the build mode the project's definitions need, and why", new: func() command { return &definitionsPlanCmd{} }},
}

func lookupSpec(name string) *spec {
	for _, s := range commands {
		if s.name == name {
			return s
		}
	}
	return nil
}

// globalFlags are registered on every flag set, so they work before and
// after the command.
var globalFlags = []string{"project", "database", "namespace", "output", "log-level", "log-format", "dead-letter"}

// shorthands maps one-letter flags to the long flag they stand for; help
// lists them beside it.
var shorthands = map[string]string{"o": "output"}

func registerGlobals(fs *flag.FlagSet, o *Options) {
	// Defaults are the current values: a flag set created after the first
	// parse must not reset what was already given.
	fs.StringVar(&o.Project, "project", o.Project, "project `DIR` holding entities/, sources/ and schemas/")
	fs.StringVar(&o.Database, "database", o.Database, "database `URL`: a path or sqlite:PATH, postgres://... (env DEFACTO_DATABASE; default <project>/.defacto/defacto.db)")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "namespace `NAME` (env DEFACTO_NAMESPACE; default defacto)")
	fs.StringVar(&o.Output, "output", o.Output, "output `FORMAT`: table, json, jsonl or csv (default table on a terminal, json otherwise)")
	fs.StringVar(&o.Output, "o", o.Output, "shorthand for --output")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "log `LEVEL` on stderr: debug, info, warn or error")
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat, "log `FORMAT`: console or json")
	fs.StringVar(&o.DeadLetter, "dead-letter", o.DeadLetter, "append every failed event to `FILE` (JSON Lines)")
}

// invocation is the parsed command line.
type invocation struct {
	spec  *spec
	cmd   command
	fs    *flag.FlagSet
	help  bool
	group string // "ledger" for `defacto ledger --help`
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses global flags, the command and its flags and arguments.
func parse(args []string, o *Options) (*invocation, error) {
	inv := &invocation{}
	gfs := newFlagSet("defacto")
	registerGlobals(gfs, o)
	inv.fs = gfs
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			inv.help = true
			return inv, nil
		}
		return inv, flagError(err, gfs, "")
	}
	rest := gfs.Args()
	if len(rest) == 0 {
		return inv, &Error{Code: ExitUsage, Msg: "missing command", Hint: "run `defacto --help` for the list of commands"}
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		return helpFor(inv, rest)
	}
	if _, ok := groups[name]; ok {
		subs := subcommands(name)
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help" || rest[0] == "-help") {
				inv.help, inv.group = true, name
				return inv, nil
			}
			return inv, &Error{Code: ExitUsage, Msg: fmt.Sprintf("%s needs a sub-command: %s", name, strings.Join(subs, ", ")),
				Hint: fmt.Sprintf("run `defacto %s --help`", name)}
		}
		sub := rest[0]
		rest = rest[1:]
		if lookupSpec(name+" "+sub) == nil {
			return inv, &Error{Code: ExitUsage, Msg: fmt.Sprintf("unknown command %q%s", name+" "+sub, didYouMean(sub, subs, name+" ")),
				Hint: fmt.Sprintf("run `defacto %s --help`", name)}
		}
		name = name + " " + sub
	}
	sp := lookupSpec(name)
	if sp == nil {
		return inv, &Error{Code: ExitUsage, Msg: fmt.Sprintf("unknown command %q%s", name, didYouMean(name, commandNames(), "")),
			Hint: "run `defacto --help` for the list of commands"}
	}
	inv.spec = sp
	inv.cmd = sp.new()
	fs := newFlagSet("defacto " + sp.name)
	registerGlobals(fs, o)
	inv.cmd.Flags(fs)
	inv.fs = fs
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			inv.help = true
			return inv, nil
		}
		return inv, flagError(err, fs, sp.name)
	}
	return inv, inv.cmd.Args(pos)
}

func helpFor(inv *invocation, rest []string) (*invocation, error) {
	inv.help = true
	if len(rest) == 0 {
		return inv, nil
	}
	name := strings.Join(rest, " ")
	if _, ok := groups[name]; ok {
		inv.group = name
		return inv, nil
	}
	sp := lookupSpec(name)
	if sp == nil {
		return inv, usageErrorf("unknown command %q%s", name, didYouMean(name, commandNames(), ""))
	}
	inv.spec, inv.cmd = sp, sp.new()
	inv.fs = newFlagSet("defacto " + sp.name)
	registerGlobals(inv.fs, &Options{})
	inv.cmd.Flags(inv.fs)
	return inv, nil
}

// parseInterspersed parses flags anywhere among the positional arguments
// (`ingest app events.jsonl --process`). "--" ends the flags; "-" and
// arguments that do not look like flags ("-1 + 2") are positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return append(pos, args[1:]...), nil
		}
		if !looksLikeFlag(a) {
			pos = append(pos, a)
			args = args[1:]
			continue
		}
		// Parse from a, up to the next positional argument.
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		consumed := len(args) - len(fs.Args())
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, fs.Args()...), nil
		}
		args = fs.Args()
	}
	return pos, nil
}

func looksLikeFlag(a string) bool {
	s := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	if len(s) == len(a) || s == "" {
		return false
	}
	c := s[0]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// flagError rewrites the flag package's errors into ours, naming the flag
// with two dashes and suggesting the nearest known flag.
func flagError(err error, fs *flag.FlagSet, cmd string) error {
	msg := err.Error()
	where := "defacto"
	if cmd != "" {
		where = "defacto " + cmd
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		m := fmt.Sprintf("unknown flag --%s for `%s`%s", name, where, didYouMean(name, names, "--"))
		if cmd == "" {
			if owner := flagOwner(name); owner != "" {
				m += fmt.Sprintf(" (--%s is a flag of `defacto %s`: put it after the command)", name, owner)
			}
		}
		return usageErrorf("%s", m)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return usageErrorf("flag --%s needs a value", strings.TrimLeft(name, "-"))
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "x" for flag -limit: parse error
		rest = strings.Replace(rest, " for flag -", " for --", 1)
		return usageErrorf("invalid value %s", rest)
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		rest = strings.Replace(rest, " for -", " for --", 1)
		return usageErrorf("invalid boolean value %s", rest)
	}
	return usageErrorf("%s", msg)
}

// flagOwner names a command that has the flag, for flags given before the
// command.
func flagOwner(name string) string {
	for _, sp := range commands {
		fs := newFlagSet(sp.name)
		sp.new().Flags(fs)
		if fs.Lookup(name) != nil {
			return sp.name
		}
	}
	return ""
}

func commandNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, sp := range commands {
		n, _, _ := strings.Cut(sp.name, " ")
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return append(out, "help")
}

func subcommands(group string) []string {
	var out []string
	for _, sp := range commands {
		if g, sub, ok := strings.Cut(sp.name, " "); ok && g == group {
			out = append(out, sub)
		}
	}
	return out
}

// didYouMean returns "; did you mean <prefix><best>?" for the nearest
// candidate, or "".
func didYouMean(s string, cands []string, prefix string) string {
	best, bestD := "", 1<<30
	for _, c := range cands {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if strings.HasPrefix(c, s) && len(s) >= 2 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(2, len(s)/3) {
		return ""
	}
	return fmt.Sprintf("; did you mean %s%s?", prefix, best)
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and adjacent transpositions cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	rows := [3][]int{make([]int, len(rb)+1), make([]int, len(rb)+1), make([]int, len(rb)+1)}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		pp, prev, cur := rows[(i+1)%3], rows[(i+2)%3], rows[i%3] // rows i-2, i-1, i
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
		}
	}
	return rows[len(ra)%3][len(rb)]
}

// Positional argument helpers.

func wantArgs(args []string, names ...string) error {
	if len(args) < len(names) {
		return usageErrorf("missing argument %s", strings.Join(names[len(args):], " "))
	}
	if len(args) > len(names) {
		return usageErrorf("unexpected argument %q", args[len(names)])
	}
	return nil
}

// writeHelp prints the usage of the invocation's command, group or the
// whole CLI.
func (inv *invocation) writeHelp(w io.Writer) {
	var b strings.Builder
	switch {
	case inv.spec != nil:
		fmt.Fprintf(&b, "Usage: defacto %s", inv.spec.name)
		if inv.spec.args != "" {
			b.WriteString(" " + inv.spec.args)
		}
		b.WriteString(" [flags]\n\n")
		b.WriteString(capitalize(inv.spec.summary) + ".\n")
		var own, global []*flag.Flag
		inv.fs.VisitAll(func(f *flag.Flag) {
			switch {
			case shorthands[f.Name] != "":
			case isGlobal(f.Name):
				global = append(global, f)
			default:
				own = append(own, f)
			}
		})
		if len(own) > 0 {
			b.WriteString("\nFlags:\n")
			writeFlags(&b, own)
		}
		b.WriteString("\nGlobal flags:\n")
		writeFlags(&b, global)
	case inv.group != "":
		fmt.Fprintf(&b, "Usage: defacto %s <command> [flags]\n\n%s.\n\nCommands:\n", inv.group, capitalize(groups[inv.group]))
		for _, sp := range commands {
			if g, _, _ := strings.Cut(sp.name, " "); g == inv.group {
				fmt.Fprintf(&b, "  %-28s %s\n", sp.name+" "+sp.args, sp.summary)
			}
		}
	default:
		b.WriteString("defacto turns events into temporal, queryable entity state.\n\n")
		b.WriteString("Usage: defacto [global flags] <command> [args] [flags]\n\nCommands:\n")
		for _, sp := range commands {
			fmt.Fprintf(&b, "  %-28s %s\n", strings.TrimSpace(sp.name+" "+sp.args), sp.summary)
		}
		b.WriteString("\nGlobal flags (before or after the command):\n")
		var global []*flag.Flag
		inv.fs.VisitAll(func(f *flag.Flag) {
			if isGlobal(f.Name) {
				global = append(global, f)
			}
		})
		writeFlags(&b, global)
		b.WriteString("\nEnvironment: DEFACTO_DATABASE, DEFACTO_NAMESPACE, DEFACTO_NOW (RFC 3339: the engine clock).\n")
		b.WriteString("Exit codes: 0 success, 1 failure, 2 usage error, 3 partial ingest.\n")
		b.WriteString("Run `defacto <command> --help` for a command's flags.\n")
	}
	io.WriteString(w, b.String())
}

func isGlobal(name string) bool {
	for _, g := range globalFlags {
		if g == name {
			return true
		}
	}
	return false
}

func writeFlags(b *strings.Builder, fl []*flag.Flag) {
	sort.Slice(fl, func(i, j int) bool { return fl[i].Name < fl[j].Name })
	type line struct{ left, usage string }
	var lines []line
	width := 0
	for _, f := range fl {
		name, usage := flag.UnquoteUsage(f)
		left := "--" + f.Name
		for short, long := range shorthands {
			if long == f.Name {
				left = "-" + short + ", " + left
			}
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
			if name == "" {
				name = "VALUE"
			}
			left += " " + name
		}
		lines = append(lines, line{left, usage})
		width = max(width, len(left))
	}
	for _, l := range lines {
		fmt.Fprintf(b, "  %-*s  %s\n", width, l.left, l.usage)
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// optString is a string flag that records whether it was given, so an
// empty value differs from an absent one.
type optString struct {
	val string
	set bool
}

func (o *optString) String() string     { return o.val }
func (o *optString) Set(s string) error { o.val, o.set = s, true; return nil }
