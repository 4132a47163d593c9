package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

func TestParseQueryDate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"bare date is midnight UTC", "2024-01-23", time.Date(2024, 1, 23, 0, 0, 0, 0, time.UTC)},
		{"bare leap day", "2024-02-29", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"Z", "2024-01-23T10:30:00Z", time.Date(2024, 1, 23, 10, 30, 0, 0, time.UTC)},
		{"positive half-hour offset", "2024-01-23T10:30:00+05:30", time.Date(2024, 1, 23, 5, 0, 0, 0, time.UTC)},
		{"offset crosses the day", "2024-01-23T01:00:00+05:30", time.Date(2024, 1, 22, 19, 30, 0, 0, time.UTC)},
		{"negative offset", "2024-01-23T20:30:00-08:00", time.Date(2024, 1, 24, 4, 30, 0, 0, time.UTC)},
		{"zero offset", "2024-01-23T10:30:00+00:00", time.Date(2024, 1, 23, 10, 30, 0, 0, time.UTC)},
		{"milliseconds", "2024-01-23T10:30:00.123Z", time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC)},
		{"nanoseconds", "2024-01-23T10:30:00.123456789Z", time.Date(2024, 1, 23, 10, 30, 0, 123_456_789, time.UTC)},
		{"fraction with offset", "2024-01-23T10:30:00.5+01:00", time.Date(2024, 1, 23, 9, 30, 0, 500_000_000, time.UTC)},
		{"first year", "0001-01-01T00:00:00Z", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"last instant", "9999-12-31T23:59:59.999999999Z", time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseQueryDate(tt.in)
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "want %s, got %s", tt.want, got)
			assert.Equal(t, time.UTC, got.Location())
			assert.Equal(t, tt.want.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano))
		})
	}
}

func TestParseQueryDate_Invalid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
	}{
		{"word", "yesterday"},
		{"month 13", "2024-13-01"},
		{"day 32", "2024-01-32"},
		{"not a leap year", "2023-02-29"},
		{"no seconds, no offset", "2024-01-23T10:00"},
		{"no offset", "2024-01-23T10:00:00"},
		{"space instead of T", "2024-01-23 10:00:00Z"},
		{"offset without colon", "2024-01-23T10:00:00+0530"},
		{"empty", ""},
		{"single-digit month", "2024-1-23"},
		{"leading space", " 2024-01-23"},
		{"trailing space", "2024-01-23 "},
		{"hour 24", "2024-01-23T24:00:00Z"},
		{"dot without digits", "2024-01-23T10:30:00.Z"},
		{"unix seconds", "1706005800"},
		{"year 0 after conversion", "0001-01-01T00:00:00+01:00"},
		{"year 10000 after conversion", "9999-12-31T23:00:00-05:00"},
		{"over 64 characters", "2024-01-23T10:30:00." + strings.Repeat("1", 44) + "Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseQueryDate(tt.in)
			require.Error(t, err)
			assert.True(t, got.IsZero())
		})
	}
}

// The length bound is checked before parsing: 64 characters pass it, 65 do
// not, even when the value is otherwise valid RFC 3339.
func TestParseQueryDate_LengthBound(t *testing.T) {
	t.Parallel()

	at64 := "2024-01-23T10:30:00." + strings.Repeat("0", 43) + "Z"
	require.Len(t, at64, 64)
	got, err := domain.ParseQueryDate(at64)
	require.NoError(t, err)
	assert.True(t, time.Date(2024, 1, 23, 10, 30, 0, 0, time.UTC).Equal(got))

	at65 := "2024-01-23T10:30:00." + strings.Repeat("0", 44) + "Z"
	require.Len(t, at65, 65)
	_, err = domain.ParseQueryDate(at65)
	require.Error(t, err)
}

// BUG: a bare date in year 0 is accepted although ParseQueryDate refuses
// every RFC 3339 value outside years 1–9999 (see "year 0 after conversion"
// above). The range check in querydate.go runs only on the RFC 3339 path.
func TestParseQueryDate_BareDateYearZeroRejected(t *testing.T) {
	t.Parallel()

	got, err := domain.ParseQueryDate("0000-01-01")
	assert.Error(t, err, "accepted year %d", got.Year())
}
