package ncruces_test

import (
	"os"
	"testing"

	sd "github.com/defacto-dev/defacto/bench/sqlitedriver"
	_ "github.com/ncruces/go-sqlite3/driver" // registers "sqlite3"
	_ "modernc.org/sqlite"                   // registers "sqlite": the baseline of the ratios
)

// Both drivers take the same _pragma/_txlock DSN.
var (
	ncruces = sd.Driver{Name: "ncruces", SQLName: "sqlite3", DSN: sd.PragmaDSN}
	modernc = sd.Driver{Name: "modernc", SQLName: "sqlite", DSN: sd.PragmaDSN}
	drivers = []sd.Driver{modernc, ncruces}
)

func TestMain(m *testing.M) { os.Exit(sd.Main(m)) }

func TestDriver(t *testing.T) { sd.CheckDriver(t, ncruces) }

// The benchmarks are the same as in the parent package, with modernc run
// again in this process so that the summary has the ratio.
func BenchmarkWrite(b *testing.B) {
	for _, v := range []struct {
		name     string
		cacheKiB int
	}{{"cache=default", 0}, {"cache=64MiB", 64 << 10}} {
		for _, d := range drivers {
			b.Run(v.name+"/"+d.Name, func(b *testing.B) { sd.BenchWrite(b, d, "Write/"+v.name, v.cacheKiB) })
		}
	}
}

func BenchmarkScan(b *testing.B) {
	for _, mode := range []string{"raw", "decode"} {
		for _, d := range drivers {
			b.Run(mode+"/"+d.Name, func(b *testing.B) { sd.BenchScan(b, d, mode == "decode") })
		}
	}
}
