package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// place describes where a value sits (README §5, §8): whether expected
// strings there are refs, version handles or carry $name tokens, and whether
// they compare as instants. member gives the place of a mapping's members,
// alias the actual keys an expected key is read from (e.g. id →
// customer_id).
type place struct {
	instant bool
	ref     bool
	version bool
	subst   bool
	member  func(key string) *place
	alias   func(key string) []string
}

var plain = &place{}

func (p *place) child(key string) *place {
	if p == nil || p.member == nil {
		return plain
	}
	if c := p.member(key); c != nil {
		return c
	}
	return plain
}

// lookup reads an expected key from an actual mapping, trying the aliases
// first.
func (p *place) lookup(act map[string]any, key string) (any, bool) {
	if p != nil && p.alias != nil {
		for _, k := range p.alias(key) {
			if v, ok := act[k]; ok {
				return v, true
			}
		}
	}
	v, ok := act[key]
	return v, ok
}

// refVal is a ref of an expectation after resolution.
type refVal struct {
	text string
	id   string
	ok   bool
}

// matcherNames are the single-key mappings of README §8.
var matcherNames = map[string]bool{
	"gt": true, "gte": true, "lt": true, "lte": true, "ne": true, "not_null": true,
	"one_of": true, "absent": true, "regex": true, "len": true, "contains": true, "includes": true,
}

// asMatcher reports whether v is a matcher mapping.
func asMatcher(v any) (name string, arg any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if matcherNames[k] {
			return k, a, true
		}
	}
	return "", nil, false
}

// matchValue compares an expected (prepared) value with an actual one.
// present is false when the actual member is missing. It returns one line
// per mismatch, prefixed with path.
func matchValue(exp, act any, present bool, p *place, path string) []string {
	if name, arg, ok := asMatcher(exp); ok {
		return matchMatcher(name, arg, act, present, p, path)
	}
	if exp == nil {
		if !present || act == nil {
			return nil
		}
		return mismatch(path, exp, act, present)
	}
	if !present {
		return mismatch(path, exp, act, present)
	}
	switch e := exp.(type) {
	case refVal:
		if !e.ok {
			return []string{fmt.Sprintf("%s: ref %q does not resolve (actual %s)", pathOr(path), e.text, show(act))}
		}
		if a, ok := act.(string); ok && a == e.id {
			return nil
		}
		return mismatch(path, exp, act, present)
	case bool:
		if a, ok := act.(bool); ok && a == e {
			return nil
		}
		return mismatch(path, exp, act, present)
	case json.Number:
		if a, ok := act.(json.Number); ok && numEqual(e, a) {
			return nil
		}
		return mismatch(path, exp, act, present)
	case string:
		a, ok := act.(string)
		if !ok {
			return mismatch(path, exp, act, present)
		}
		if a == e {
			return nil
		}
		if p != nil && p.instant {
			if te, err := parseInstant(e); err == nil {
				if ta, err := parseInstant(a); err == nil && te.Equal(ta) {
					return nil
				}
			}
		}
		return mismatch(path, exp, act, present)
	case []any:
		a, ok := act.([]any)
		if !ok {
			return mismatch(path, exp, act, present)
		}
		if hasMappings(e) {
			return matchList(e, a, false, false, func(x, y any) []string { return matchValue(x, y, true, p, "") }, path)
		}
		if len(e) != len(a) {
			return []string{fmt.Sprintf("%s: expected %s, got %s (length %d, want %d)", pathOr(path), show(exp), show(act), len(a), len(e))}
		}
		var out []string
		for i := range e {
			out = append(out, matchValue(e[i], a[i], true, p, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	case map[string]any:
		a, ok := act.(map[string]any)
		if !ok {
			return mismatch(path, exp, act, present)
		}
		var out []string
		for _, k := range sortedKeys(e) {
			if k == "mentions" {
				if _, has := a["mentions"]; !has {
					out = append(out, matchMentions(e[k], a, joinPath(path, k))...)
					continue
				}
			}
			av, ok := p.lookup(a, k)
			out = append(out, matchValue(e[k], av, ok, p.child(k), joinPath(path, k))...)
		}
		return out
	}
	return []string{fmt.Sprintf("%s: unsupported expected value %T", pathOr(path), exp)}
}

func matchMatcher(name string, arg, act any, present bool, p *place, path string) []string {
	fail := func(format string, args ...any) []string {
		return []string{fmt.Sprintf("%s: %s", pathOr(path), fmt.Sprintf(format, args...))}
	}
	switch name {
	case "absent":
		want, _ := arg.(bool)
		if want == !present {
			return nil
		}
		if want {
			return fail("expected the member to be absent, got %s", show(act))
		}
		return fail("expected the member to be present")
	case "not_null":
		want, _ := arg.(bool)
		isNull := !present || act == nil
		if want != isNull {
			return nil
		}
		if want {
			return fail("expected a non-null value, got %s", showP(act, present))
		}
		return fail("expected null, got %s", show(act))
	case "ne":
		if hasUnresolved(arg) {
			return fail("{ne: %s}: ref does not resolve", show(arg))
		}
		if len(matchValue(arg, act, present, p, "")) == 0 {
			return fail("expected a value other than %s, got %s", show(arg), showP(act, present))
		}
		return nil
	case "one_of":
		list, ok := arg.([]any)
		if !ok {
			return fail("one_of needs a list")
		}
		for _, c := range list {
			if len(matchValue(c, act, present, p, "")) == 0 {
				return nil
			}
		}
		return fail("expected one of %s, got %s", show(arg), showP(act, present))
	case "gt", "gte", "lt", "lte":
		if !present || act == nil {
			return fail("expected {%s: %s}, got %s", name, show(arg), showP(act, present))
		}
		c, ok := compareOrdered(arg, act)
		if !ok {
			return fail("{%s: %s}: cannot compare with %s", name, show(arg), show(act))
		}
		// c compares act with arg.
		good := (name == "gt" && c > 0) || (name == "gte" && c >= 0) || (name == "lt" && c < 0) || (name == "lte" && c <= 0)
		if !good {
			return fail("expected {%s: %s}, got %s", name, show(arg), show(act))
		}
		return nil
	case "regex":
		pat, ok := arg.(string)
		if !ok {
			return fail("regex needs a string")
		}
		re, err := compileRegex(pat)
		if err != nil {
			return fail("bad regex %q: %v", pat, err)
		}
		s, ok := act.(string)
		if !ok || !present {
			return fail("expected a string matching /%s/, got %s", pat, showP(act, present))
		}
		if !re.MatchString(s) {
			return fail("expected a string matching /%s/, got %s", pat, show(act))
		}
		return nil
	case "len":
		n, ok := arg.(json.Number)
		want, err := n.Int64()
		if !ok || err != nil {
			return fail("len needs an integer")
		}
		var got int
		switch a := act.(type) {
		case []any:
			got = len(a)
		case string:
			got = utf8.RuneCountInString(a)
		case map[string]any:
			got = len(a)
		default:
			return fail("expected something of length %d, got %s", want, showP(act, present))
		}
		if int64(got) != want {
			return fail("expected length %d, got %d: %s", want, got, show(act))
		}
		return nil
	case "contains":
		text, ok := arg.(string)
		if !ok {
			return fail("contains needs a string")
		}
		s, ok := act.(string)
		if !ok || !present {
			return fail("expected a string containing %q, got %s", text, showP(act, present))
		}
		if !containsFold(s, text) {
			return fail("expected a string containing %q (case-insensitive), got %s", text, show(act))
		}
		return nil
	case "includes":
		list, ok := arg.([]any)
		if !ok {
			return fail("includes needs a list")
		}
		a, ok := act.([]any)
		if !ok || !present {
			return fail("expected a list including %s, got %s", show(arg), showP(act, present))
		}
		return matchIncludes(list, a, p, path)
	}
	return fail("unknown matcher %q", name)
}

// matchIncludes: each listed element is in the list; mappings match
// distinct elements.
func matchIncludes(exp, act []any, p *place, path string) []string {
	var out []string
	var maps []any
	for _, e := range exp {
		if _, isMap := e.(map[string]any); isMap {
			if _, _, isMatcher := asMatcher(e); !isMatcher {
				maps = append(maps, e)
				continue
			}
		}
		found := false
		for _, a := range act {
			if len(matchValue(e, a, true, p, "")) == 0 {
				found = true
				break
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("%s: expected the list to include %s, got %s", pathOr(path), show(e), show(act)))
		}
	}
	if len(maps) > 0 {
		out = append(out, matchList(maps, act, false, true, func(x, y any) []string { return matchValue(x, y, true, p, "") }, path)...)
	}
	return out
}

// matchMentions: every string occurs, case-insensitively, in the problem's
// message, name or path.
func matchMentions(exp any, act map[string]any, path string) []string {
	list, ok := exp.([]any)
	if !ok {
		list = []any{exp}
	}
	var hay []string
	for _, k := range []string{"message", "name", "path"} {
		if s, ok := act[k].(string); ok {
			hay = append(hay, s)
		}
	}
	var out []string
	for _, m := range list {
		s, _ := m.(string)
		found := false
		for _, h := range hay {
			if containsFold(h, s) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("%s: %q occurs in none of message/name/path %s", path, s, show(hay)))
		}
	}
	return out
}

// matchList compares expected elements with actual ones: in order (exact:
// pairwise; contains: as an ordered subsequence) or as sets (a one-to-one
// assignment; exact: same length).
func matchList(exp, act []any, ordered, contains bool, cmp func(e, a any) []string, path string) []string {
	var out []string
	switch {
	case ordered && !contains:
		if len(exp) != len(act) {
			out = append(out, fmt.Sprintf("%s: expected %d elements in order, got %d", pathOr(path), len(exp), len(act)))
		}
		for i := 0; i < len(exp) && i < len(act); i++ {
			for _, m := range cmp(exp[i], act[i]) {
				out = append(out, fmt.Sprintf("%s[%d]%s", path, i, prefixed(m)))
			}
		}
		for i := len(act); i < len(exp); i++ {
			out = append(out, fmt.Sprintf("%s[%d]: expected %s, got nothing", path, i, show(exp[i])))
		}
		for i := len(exp); i < len(act); i++ {
			out = append(out, fmt.Sprintf("%s[%d]: unexpected extra element %s", path, i, show(act[i])))
		}
		return out
	case ordered && contains:
		j := 0
		for i, e := range exp {
			found := false
			start := j
			for ; j < len(act); j++ {
				if len(cmp(e, act[j])) == 0 {
					found = true
					j++
					break
				}
			}
			if !found {
				out = append(out, fmt.Sprintf("%s[%d]: %s not found in order among the actual elements from index %d%s",
					pathOr(path), i, show(e), start, closest(e, act[min(start, len(act)):], cmp)))
				j = start
			}
		}
		return out
	}
	// unordered
	assign := assignment(len(exp), len(act), func(i, j int) bool { return len(cmp(exp[i], act[j])) == 0 })
	used := make([]bool, len(act))
	for _, j := range assign {
		if j >= 0 {
			used[j] = true
		}
	}
	if !contains && len(exp) != len(act) {
		out = append(out, fmt.Sprintf("%s: expected %d elements, got %d", pathOr(path), len(exp), len(act)))
	}
	var free []any
	for j, u := range used {
		if !u {
			free = append(free, act[j])
		}
	}
	for i, j := range assign {
		if j < 0 {
			out = append(out, fmt.Sprintf("%s: expected element %d %s has no matching actual element%s",
				pathOr(path), i, show(exp[i]), closest(exp[i], act, cmp)))
		}
	}
	if !contains && len(exp) == len(act) {
		return out
	}
	if !contains {
		for _, a := range free {
			if len(exp) < len(act) {
				out = append(out, fmt.Sprintf("%s: unexpected actual element %s", pathOr(path), show(a)))
			}
		}
	}
	return out
}

// closest describes the candidate with the fewest mismatches.
func closest(e any, cands []any, cmp func(e, a any) []string) string {
	best, bestN := -1, 0
	var bestM []string
	for j, a := range cands {
		m := cmp(e, a)
		if best < 0 || len(m) < bestN {
			best, bestN, bestM = j, len(m), m
		}
	}
	if best < 0 {
		return " (no candidates)"
	}
	return fmt.Sprintf("; closest %s differs: %s", show(cands[best]), strings.Join(trimAll(bestM), "; "))
}

// assignment finds a maximum one-to-one matching of expected to actual
// elements (Kuhn's augmenting paths): result[i] is the actual index of
// expected element i, or -1.
func assignment(nExp, nAct int, ok func(i, j int) bool) []int {
	adj := make([][]int, nExp)
	for i := 0; i < nExp; i++ {
		for j := 0; j < nAct; j++ {
			if ok(i, j) {
				adj[i] = append(adj[i], j)
			}
		}
	}
	owner := make([]int, nAct)
	for j := range owner {
		owner[j] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for _, j := range adj[i] {
			if seen[j] {
				continue
			}
			seen[j] = true
			if owner[j] < 0 || try(owner[j], seen) {
				owner[j] = i
				return true
			}
		}
		return false
	}
	for i := 0; i < nExp; i++ {
		try(i, make([]bool, nAct))
	}
	res := make([]int, nExp)
	for i := range res {
		res[i] = -1
	}
	for j, i := range owner {
		if i >= 0 {
			res[i] = j
		}
	}
	return res
}

// compareOrdered compares act with arg as numbers or as instants: the sign
// of act − arg.
func compareOrdered(arg, act any) (int, bool) {
	if an, ok := arg.(json.Number); ok {
		if bn, ok := act.(json.Number); ok {
			x, ok1 := toRat(bn)
			y, ok2 := toRat(an)
			if ok1 && ok2 {
				return x.Cmp(y), true
			}
		}
		return 0, false
	}
	if as, ok := arg.(string); ok {
		if bs, ok := act.(string); ok {
			ta, err1 := parseInstant(as)
			tb, err2 := parseInstant(bs)
			if err1 == nil && err2 == nil {
				return tb.Compare(ta), true
			}
		}
	}
	return 0, false
}

func toRat(n json.Number) (*big.Rat, bool) {
	r, ok := new(big.Rat).SetString(string(n))
	return r, ok
}

// numEqual compares two JSON numbers by value: exactly, or as float64.
func numEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	x, ok1 := toRat(a)
	y, ok2 := toRat(b)
	if ok1 && ok2 && x.Cmp(y) == 0 {
		return true
	}
	if isIntLiteral(a) && isIntLiteral(b) {
		return false // integers compare exactly
	}
	fa, err1 := strconv.ParseFloat(string(a), 64)
	fb, err2 := strconv.ParseFloat(string(b), 64)
	return err1 == nil && err2 == nil && fa == fb
}

func isIntLiteral(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

var regexCache sync.Map

func compileRegex(p string) (*regexp.Regexp, error) {
	if re, ok := regexCache.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	regexCache.Store(p, re)
	return re, nil
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// hasMappings reports whether a list holds mappings that are not matchers.
func hasMappings(l []any) bool {
	for _, e := range l {
		if _, ok := e.(map[string]any); ok {
			if _, _, m := asMatcher(e); !m {
				return true
			}
		}
	}
	return false
}

func hasUnresolved(v any) bool {
	switch x := v.(type) {
	case refVal:
		return !x.ok
	case []any:
		for _, e := range x {
			if hasUnresolved(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasUnresolved(e) {
				return true
			}
		}
	}
	return false
}

// unresolvedRefs lists the refs of v that do not resolve.
func unresolvedRefs(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case refVal:
			if !x.ok {
				out = append(out, x.text)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(x[k])
			}
		}
	}
	walk(v)
	return out
}

func mismatch(path string, exp, act any, present bool) []string {
	return []string{fmt.Sprintf("%s: expected %s, got %s", pathOr(path), show(exp), showP(act, present))}
}

func pathOr(p string) string {
	if p == "" {
		return "value"
	}
	return p
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// prefixed joins a nested mismatch line to an index prefix.
func prefixed(m string) string {
	if strings.HasPrefix(m, "value:") {
		return m[len("value"):]
	}
	return "." + m
}

func trimAll(ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = strings.TrimPrefix(m, "value: ")
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func showP(v any, present bool) string {
	if !present {
		return "<missing>"
	}
	return show(v)
}

// show renders a generic value compactly (JSON, refs with their ids).
func show(v any) string {
	switch x := v.(type) {
	case refVal:
		if x.ok {
			return fmt.Sprintf("%q (= %s)", x.text, x.id)
		}
		return fmt.Sprintf("%q (unresolved)", x.text)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = show(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, k+": "+show(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimRight(b.String(), "\n")
}
