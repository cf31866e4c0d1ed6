package defacto

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/defacto-dev/defacto/internal/interpret"
	"github.com/defacto-dev/defacto/internal/value"
)

// marshalState is the reference encoding of a working state: json.Marshal
// of its stateDoc, as stores written before encodeState was hand-written
// hold it.
func marshalState(t testing.TB, s *interpret.State) []byte {
	t.Helper()
	props, types := value.EncodeTagged(value.Array(s.Props))
	b, err := json.Marshal(stateDoc{
		State: s.State, Props: props, PropTypes: types, CreatedTime: s.CreatedTime,
		StateEnteredTime: s.StateEnteredTime, LastEventTime: s.LastEventTime,
		LastAppliedTime: s.LastAppliedTime, LastAppliedSeq: s.LastAppliedSeq,
		LastFiredTime: s.LastFiredTime, Fired: s.Fired, Rev: s.Rev,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkEncodeState compares encodeState with marshalState and, with
// roundtrip (inputs of valid UTF-8: json.Marshal turns invalid bytes into
// U+FFFD), checks that decoding and encoding again gives the same bytes.
func checkEncodeState(t testing.TB, s *interpret.State, roundtrip bool) {
	t.Helper()
	got := encodeState(s)
	if want := marshalState(t, s); !bytes.Equal(got, want) {
		t.Fatalf("encodeState:\n got %s\nwant %s", got, want)
	}
	if !roundtrip {
		return
	}
	back, err := decodeState(got, "e", "t")
	if err != nil {
		t.Fatal(err)
	}
	if again := encodeState(back); !bytes.Equal(again, got) {
		t.Fatalf("decode then encode:\n got %s\nwant %s", again, got)
	}
}

// encodeState writes exactly what json.Marshal wrote, so working states
// stored by either compare equal byte for byte.
func TestEncodeStateMatchesJSONMarshal(t *testing.T) {
	for name, s := range map[string]*interpret.State{
		"empty": {},
		"plain": {
			State: "active", Props: []value.Value{value.String("a@x.io"), value.Int(-3), value.Null, value.Bool(true)},
			CreatedTime: 1704103200000000, StateEnteredTime: 1, LastEventTime: -2, LastAppliedTime: 3,
			LastAppliedSeq: 9, LastFiredTime: 1 << 62, Rev: 7,
		},
		"tags and fired": {
			State: "trial", Props: []value.Value{value.Float(2), value.DateTime(5), value.Duration(-6),
				value.Array([]value.Value{value.Float(1.5), value.Float(3)})},
			Fired: map[string]int64{"trial/1": 4, "active/0": -1, "a\"b": 2},
		},
		"escapes": {
			State: "<b>&\"\\\n\u2028é",
			Props: []value.Value{value.String("<script>&amp;\u2028\u2029\x01\"\\"), value.String("\xff invalid"),
				value.Object(map[string]value.Value{"k<>": value.Float(4), "é": value.Duration(1)})},
			Fired: map[string]int64{"<x>/0": 1, "\t": 2},
		},
	} {
		t.Run(name, func(t *testing.T) { checkEncodeState(t, s, name != "escapes") })
	}
}

func FuzzEncodeState(f *testing.F) {
	f.Add("active", "a@x.io", "trial/0", 3.0, int64(7))
	f.Add("<&>", "\u2028\"\\\x00", "é/1", 2.5, int64(-1))
	f.Fuzz(func(t *testing.T, state, str, rule string, num float64, n int64) {
		s := &interpret.State{
			State: state,
			Props: []value.Value{value.String(str), value.Float(num), value.Int(n),
				value.Object(map[string]value.Value{str: value.Duration(n), rule: value.String(state)})},
			LastEventTime: n, Rev: n,
			Fired: map[string]int64{rule: n, state: 1},
		}
		if math.IsNaN(num) || math.IsInf(num, 0) {
			t.Skip() // not a property value: JSON has no such number
		}
		checkEncodeState(t, s, utf8.ValidString(state) && utf8.ValidString(str) && utf8.ValidString(rule))
	})
}

// BenchmarkEncodeState: a customer's working state, by hand and (sub-
// benchmark "marshal") through json.Marshal as before.
func BenchmarkEncodeState(b *testing.B) {
	s := &interpret.State{
		State: "active", Props: []value.Value{value.String("a@x.io"), value.String("+15550001"), value.String("pro"),
			value.Float(49), value.Float(588), value.Int(12), value.Int(2)},
		CreatedTime: 1704103200000000, StateEnteredTime: 1704103200000000, LastEventTime: 1706781600000000,
		LastAppliedTime: 1706781600000000, LastAppliedSeq: 4711, Fired: map[string]int64{"trial/0": 1705312800000000}, Rev: 5,
	}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeState(s)
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			marshalState(b, s)
		}
	})
}
