// Package value holds the typed values of the expression language and the ledger.
//
// A Value is a small tagged union passed by value. Scalars (Null, Bool, Int,
// Float, DateTime, Duration) live entirely inside the struct, so building,
// copying and comparing them never allocates; that is what lets guards and
// conditions evaluate without garbage. Strings and arrays keep a pointer to
// their backing data and a length; objects keep a pointer to their map.
//
// The semantics follow expressions.md §4 and §6: JSON numbers become Int when
// integral and in range (D16), Float is always finite, DateTime is UTC with
// microsecond precision and Duration is a signed microsecond span.
package value

import (
	"fmt"
	"math"
	"time"
	"unsafe"
)

// Kind is the type of a Value.
type Kind uint8

// The kinds of the expression language (expressions.md §4).
const (
	KindNull Kind = iota
	KindBool
	KindInt
	KindFloat
	KindString
	KindDateTime
	KindDuration
	KindArray
	KindObject
)

var kindNames = [...]string{"Null", "Bool", "Int", "Float", "String", "DateTime", "Duration", "Array", "Object"}

// String returns the type name used in error messages ("Int", "String", …).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Value is one dynamically typed value. The zero Value is Null. Compare
// Values with Equal, never with ==, which compares pointers of strings,
// arrays and objects rather than their contents.
//
// Layout: n carries the scalar payload (bool, int64, float64 bits, µs) or the
// length of a string/array; p points at string bytes, array elements or the
// object map. 24 bytes in total, no interface boxing.
type Value struct {
	p unsafe.Pointer
	n uint64
	k Kind
}

// Null is the absent value.
var Null Value

// Bool returns a Bool value.
func Bool(b bool) Value {
	var n uint64
	if b {
		n = 1
	}
	return Value{k: KindBool, n: n}
}

// True and False are the two Bool values, handy for evaluators.
var (
	True  = Value{k: KindBool, n: 1}
	False = Value{k: KindBool}
)

// Int returns an Int value.
func Int(i int64) Value { return Value{k: KindInt, n: uint64(i)} }

// Float returns a Float value; the caller guarantees f is finite.
func Float(f float64) Value { return Value{k: KindFloat, n: math.Float64bits(f)} }

// String returns a String value. It does not copy s.
func String(s string) Value {
	if len(s) == 0 {
		return Value{k: KindString} // no pointer that could point past an allocation
	}
	return Value{k: KindString, n: uint64(len(s)), p: unsafe.Pointer(unsafe.StringData(s))}
}

// DateTime returns a DateTime from UTC microseconds since the Unix epoch.
func DateTime(micros int64) Value { return Value{k: KindDateTime, n: uint64(micros)} }

// Time returns a DateTime, truncating t toward the past to whole microseconds.
func Time(t time.Time) Value { return DateTime(t.UnixMicro()) }

// Duration returns a Duration of the given microseconds.
func Duration(micros int64) Value { return Value{k: KindDuration, n: uint64(micros)} }

// Array returns an Array value sharing a's elements (the caller must not
// modify them afterwards). A nil slice is an empty array.
func Array(a []Value) Value {
	if len(a) == 0 {
		return Value{k: KindArray}
	}
	return Value{k: KindArray, n: uint64(len(a)), p: unsafe.Pointer(unsafe.SliceData(a))}
}

// Object returns an Object value sharing m (the caller must not modify it
// afterwards). A nil map is an empty object.
func Object(m map[string]Value) Value {
	// A map value is itself a reference; boxing it keeps the struct layout
	// free of interfaces at the cost of one small allocation per object.
	return Value{k: KindObject, p: unsafe.Pointer(&m)}
}

// Kind returns the type of v.
func (v Value) Kind() Kind { return v.k }

// IsNull reports whether v is Null.
func (v Value) IsNull() bool { return v.k == KindNull }

// AsBool returns the Bool payload (false for other kinds).
func (v Value) AsBool() bool { return v.k == KindBool && v.n != 0 }

// AsInt returns the Int payload; for other kinds the result is meaningless.
func (v Value) AsInt() int64 { return int64(v.n) }

// AsFloat returns the Float payload; for other kinds the result is meaningless.
func (v Value) AsFloat() float64 { return math.Float64frombits(v.n) }

// AsString returns the String payload ("" for other kinds).
func (v Value) AsString() string {
	if v.k != KindString || v.n == 0 {
		return ""
	}
	return unsafe.String((*byte)(v.p), int(v.n))
}

// Micros returns the microseconds of a DateTime or Duration.
func (v Value) Micros() int64 { return int64(v.n) }

// AsTime returns a DateTime as a UTC time.Time.
func (v Value) AsTime() time.Time { return time.UnixMicro(int64(v.n)).UTC() }

// AsArray returns the elements of an Array (nil for other kinds). The slice
// is shared: callers must not modify it.
func (v Value) AsArray() []Value {
	if v.k != KindArray || v.n == 0 {
		return nil
	}
	return unsafe.Slice((*Value)(v.p), int(v.n))
}

// AsObject returns the members of an Object (nil for other kinds). The map is
// shared: callers must not modify it.
func (v Value) AsObject() map[string]Value {
	if v.k != KindObject || v.p == nil {
		return nil
	}
	return *(*map[string]Value)(v.p)
}

// Number returns an Int or Float as float64; ok is false for other kinds.
func (v Value) Number() (float64, bool) {
	switch v.k {
	case KindInt:
		return float64(int64(v.n)), true
	case KindFloat:
		return math.Float64frombits(v.n), true
	}
	return 0, false
}

// GoString renders v for debugging and test failures.
func (v Value) GoString() string {
	switch v.k {
	case KindNull:
		return "Null"
	case KindString:
		return fmt.Sprintf("String(%q)", v.AsString())
	case KindFloat:
		return "Float(" + FormatFloat(v.AsFloat()) + ")"
	}
	return v.k.String() + "(" + ToString(v) + ")"
}

// String renders v as ToString does (Null as "null"); it makes %v useful.
func (v Value) String() string {
	if v.k == KindNull {
		return "null"
	}
	return ToString(v)
}
