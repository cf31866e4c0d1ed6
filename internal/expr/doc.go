// Package expr implements the expression language of expressions.md: the
// side-effect-free language of guards, conditions, computes, computed
// properties, time rules, mapping computes and identity normalize.
//
// Expressions are parsed and statically checked once (Parse), at definition
// load, and compiled into a tree of evaluation nodes with constants folded,
// constant regexes and date formats compiled and function dispatch resolved.
// Evaluation then only walks that tree: it never re-parses, never looks a
// function up by name, and allocates nothing unless the result itself needs
// memory (a new string, array or error). That is what lets the interpreter
// evaluate a guard per (event, entity) pair in well under a microsecond.
//
// Programs are immutable after Parse and safe for concurrent use; the only
// shared mutable state is a per-Program bounded cache of dynamic regexes.
//
// # Points the spec leaves open, and how this package settles them
//
//   - to_string of a Float follows ECMAScript Number.prototype.toString
//     exactly: plain decimal when 1e-6 ≤ |x| < 1e21, so 1e-7 renders "1e-7"
//     (the spec's "1e-7 ≤ |x|" summary is one decade off; the normative
//     reference is ECMAScript, which RFC 8785 also uses).
//   - to_string of a Duration writes exact decimal seconds without trailing
//     zeros: "5400s", "0.5s", "-0.000001s".
//   - str::substring: a negative start counts from the end and clamps at 0
//     when it reaches before the beginning.
//   - split("", "") is [""] (the "" → [""] rule wins over "one element per
//     code point").
//   - parse_datetime: %Y takes exactly 4 digits, %y exactly 2 (POSIX pivot:
//     69–99 → 19xx, 00–68 → 20xx), %m %d %H %M %S %I take 1–2 digits, %j
//     1–3, %f 1–9; month and day names are English and case-insensitive;
//     %a/%A are checked for spelling only (as strptime); %p applies to %I
//     only, and %I without %p is AM (12 → 0); %j with %m/%d must agree;
//     missing date fields default to 1900-01-01 as in strptime; literal text,
//     spaces included, must match exactly. An unknown directive is a runtime
//     error (the spec lists only regexes and date_trunc units as load-time
//     checks), but a valid constant format is compiled once at Parse.
//   - A \uXXXX escape of a UTF-16 surrogate pair yields one code point; a lone
//     surrogate is a parse error. Invalid UTF-8 in the source is a parse error.
//   - Path segments made of digits index arrays by their decimal value
//     ("01" is element 1).
//   - A bare root (`event`, `entity`) is the whole object when the Scope
//     implements Object() value.Value, else Null.
//   - The Int literal -9223372036854775808 cannot be written: unary minus
//     applies to 9223372036854775808, which overflows (a parse error).
//   - Limits that keep hostile input from crashing the engine: nesting
//     deeper than 500 is a parse error; a string result longer than 16 MiB
//     is a runtime error.
//   - Runtime errors of boolean context read "'and': expected Bool, got Int"
//     ('or', 'not', 'if' condition likewise); EvalBool's own check reads
//     "condition must be Bool, got Int".
package expr
