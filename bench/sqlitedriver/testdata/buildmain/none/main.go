// Command none is the baseline of buildtime.sh: database/sql and no driver.
package main

import (
	"database/sql"
	"fmt"
)

// build is set with -ldflags=-X=main.build=N to force a relink.
var build string

func main() {
	fmt.Println("none: drivers", sql.Drivers())
}
