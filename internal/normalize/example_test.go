package normalize_test

import (
	"fmt"
	"time"

	"github.com/defacto-dev/defacto/internal/normalize"
	"github.com/defacto-dev/defacto/internal/value"
)

func ExampleParseTimestamp() {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, v := range []value.Value{
		value.String("2024-01-15T15:30:00.123456789+0530"),
		value.String("2024-03-31T02:30:00"), // in Berlin's DST gap: moved forward
		value.String("2024-01-15"),          // midnight in Berlin
		value.Int(1705312800),
		value.Float(1705312800.25),
	} {
		us, _ := normalize.ParseTimestamp(v, berlin, "s")
		fmt.Println(value.FormatTime(us))
	}
	_, err := normalize.ParseTimestamp(value.Int(1705312800500), berlin, "s")
	fmt.Println(err)
	// Output:
	// 2024-01-15T10:00:00.123456+00:00
	// 2024-03-31T01:30:00+00:00
	// 2024-01-14T23:00:00+00:00
	// 2024-01-15T10:00:00+00:00
	// 2024-01-15T10:00:00.250+00:00
	// timestamp 1705312800500 out of range for unit 's' (is it in a finer unit?)
}
