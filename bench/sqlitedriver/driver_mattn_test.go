//go:build cgo

package sqlitedriver_test

import (
	sd "github.com/defacto-dev/defacto/bench/sqlitedriver"
	_ "github.com/mattn/go-sqlite3" // registers "sqlite3"; needs cgo
)

var mattn = sd.Driver{
	Name:    "mattn",
	SQLName: "sqlite3",
	DSN: func(path string) string {
		return "file:" + path + "?_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL" +
			"&_secure_delete=on&_txlock=immediate"
	},
}
