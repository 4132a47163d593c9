// Package migrations embeds the application's golang-migrate SQL files.
// River's own schema is applied alongside them by rivermigrate.
package migrations

import "embed"

// FS holds the numbered up/down SQL files.
//
//go:embed *.sql
var FS embed.FS
