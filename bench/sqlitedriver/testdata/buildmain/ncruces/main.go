// Command ncruces is the tiny program whose build time buildtime.sh measures:
// it opens an in-memory database with one driver and runs a query.
package main

import (
	"database/sql"
	"fmt"
	"os"

	_ "github.com/ncruces/go-sqlite3/driver"
)

// build is set with -ldflags=-X=main.build=N to force a relink.
var build string

func main() {
	db, err := sql.Open("sqlite3", ":memory:")
	if err == nil {
		var v string
		if err = db.QueryRow("SELECT sqlite_version()").Scan(&v); err == nil {
			fmt.Println("ncruces: SQLite", v)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "ncruces:", err)
	os.Exit(1)
}
