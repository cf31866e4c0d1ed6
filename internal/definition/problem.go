package definition

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error that rejects a definition
// set because of its content; callers map it to the engine's ErrDefinition.
var ErrInvalid = errors.New("invalid definitions")

// Severities of a Problem.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Problem kinds. They are short, stable slugs that callers and tests can
// branch on; the message carries the detail.
const (
	// Structure and syntax.
	KindSyntax       = "syntax"        // the YAML or JSON text does not parse
	KindStructure    = "structure"     // a node of the wrong YAML kind or scalar type
	KindUnknownKey   = "unknown_key"   // a key the format does not define
	KindDuplicateKey = "duplicate_key" // the same key twice in one mapping
	KindDuplicate    = "duplicate"     // a name, raw_type, relationship type or list item given twice
	KindMissing      = "missing"       // a required member absent or empty
	KindName         = "name"          // a name breaking the rules of definitions.md §2
	KindInvalidValue = "invalid_value" // a value outside its enumeration (type, match, cardinality, ...)
	KindType         = "type"          // a literal incompatible with its type, or an effect on the wrong type
	KindConstraint   = "constraint"    // min > max, or a default outside allowed/min/max
	KindThreshold    = "threshold"     // a malformed time-rule threshold
	KindTimezone     = "timezone"      // a timezone that does not load
	KindRegex        = "regex"         // a schema regex that does not compile
	KindConflict     = "conflict"      // mutually exclusive members given together

	// References.
	KindUnknownState        = "unknown_state"
	KindUnknownProperty     = "unknown_property"
	KindUnknownEntity       = "unknown_entity"
	KindUnknownRelationship = "unknown_relationship"
	KindUnknownField        = "unknown_field" // an event field, hint field or identity field that does not exist

	// Semantics.
	KindNoCreate         = "no_create"         // the starts state has no creating handler
	KindPlacement        = "placement"         // an effect where it may not appear
	KindComputedWrite    = "computed_write"    // set/increment on a computed property
	KindUnreachableState = "unreachable_state" // a state no transition reaches
	KindComputedCycle    = "computed_cycle"    // computed properties depending on each other in a cycle
	KindMissingInverse   = "missing_inverse"   // a relationship without a compatible one back
	KindRelateHints      = "relate_hints"      // relate hints that cannot be defaulted or do not fit
	KindExpression       = "expression"        // parse error, unknown function, arity, constant regex or unit
	KindRoot             = "root"              // a root (event, entity, value) the context lacks
	KindSchemaMismatch   = "schema_mismatch"   // a source and the schema of its event type disagree

	// Warnings.
	KindTreatmentWithoutSensitive = "treatment_without_sensitive"
	KindUnknownSensitiveLabel     = "unknown_sensitive_label"
	KindComputedDefault           = "computed_default"
	KindDeadEnd                   = "dead_end"
	KindUnusedHint                = "unused_hint"
	KindUnproducedEvent           = "unproduced_event"
	KindMissingSchema             = "missing_schema"
	KindUnreadProperty            = "unread_property"
)

// Problem is one error or warning found in a definition set.
type Problem struct {
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Kind     string `json:"kind"`
	// Name is the definition the problem belongs to (entity, source or
	// schema name); empty for problems of the set as a whole.
	Name string `json:"name"`
	// Path is the YAML path of the element, e.g.
	// entities.ticket.states.open.after[0].threshold.
	Path   string `json:"path"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	// ExprPos is the 1-based position inside an expression, 0 when the
	// problem is not about a place in an expression.
	ExprPos int `json:"position,omitempty"`
}

// String renders p as "file:line:col: path: message" (parts that are
// unknown are left out).
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", p.Line, p.Column)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	if p.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Message)
	if p.ExprPos > 0 {
		fmt.Fprintf(&b, " (position %d)", p.ExprPos)
	}
	return b.String()
}

// Result is the outcome of validation. Errors and Warnings are never nil so
// that they serialize as [] (the ValidationResult of definitions.md §6).
type Result struct {
	Valid    bool      `json:"valid"`
	Errors   []Problem `json:"errors"`
	Warnings []Problem `json:"warnings"`
}

// Error rejects a definition set. It lists every error problem; warnings stay
// in the Result. errors.Is(err, ErrInvalid) holds.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalid.Error())
	fmt.Fprintf(&b, " (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteByte('s')
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// newResult sorts problems by place (stable, so problems at one place keep
// the order in which validation found them) and splits them by severity.
func newResult(ps []Problem) *Result {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	r := &Result{Errors: []Problem{}, Warnings: []Problem{}}
	for _, p := range ps {
		if p.Severity == SeverityWarning {
			r.Warnings = append(r.Warnings, p)
		} else {
			r.Errors = append(r.Errors, p)
		}
	}
	r.Valid = len(r.Errors) == 0
	return r
}

// suggest returns the candidate nearest to s by edit distance, or "" when
// none is close enough to be a plausible misspelling. Candidates are tried in
// the order given, so callers pass them sorted for stable messages.
func suggest(s string, candidates []string) string {
	best, bestD := "", -1
	limit := 1
	switch n := len([]rune(s)); {
	case n > 9:
		limit = n / 3
	case n > 3:
		limit = 2
	}
	for _, c := range candidates {
		if c == s {
			continue
		}
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d > limit && commonPrefix(strings.ToLower(s), strings.ToLower(c)) >= max(5, (max(len(s), len(c))*3+4)/5) {
			// A long shared prefix ("inactive" for "inactivity") is a
			// plausible slip even when the tails differ a lot.
			d = limit
		}
		// Ties go to the longer shared prefix: typos happen late more often.
		if d <= limit && (bestD < 0 || d < bestD ||
			d == bestD && commonPrefix(strings.ToLower(s), strings.ToLower(c)) > commonPrefix(strings.ToLower(s), strings.ToLower(best))) {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean renders the suggestion suffix of a message, or "".
func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	return ""
}

// editDistance is the Levenshtein distance over code points, with adjacent
// transpositions counted as one edit (the common typo "teh").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Names are short; anything longer is no typo of a candidate.
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// quoteList renders names as "a", "b" and "c" for messages.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
