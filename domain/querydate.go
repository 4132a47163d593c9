package domain

import (
	"fmt"
	"time"
)

// ParseQueryDate reads a from_date/to_date value: RFC 3339 with any offset
// (fractional seconds allowed), or a bare date meaning 00:00 UTC that day.
// The result is in UTC.
func ParseQueryDate(s string) (time.Time, error) {
	if len(s) > 64 {
		return time.Time{}, fmt.Errorf("must be an RFC 3339 time or a YYYY-MM-DD date")
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return time.Time{}, fmt.Errorf("must be an RFC 3339 time or a YYYY-MM-DD date")
		}
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("must be between years 1 and 9999")
	}
	return t, nil
}
