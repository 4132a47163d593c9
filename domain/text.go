package domain

import (
	"strings"
	"unicode/utf8"
)

// checkText reports why s is not acceptable text for storage: PostgreSQL
// rejects NUL bytes and invalid UTF-8, so both are refused here as bad input
// rather than surfacing later as a database error.
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "must not contain NUL bytes"
	}
	return ""
}
