package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

func TestParseRetrySchedule_Default(t *testing.T) {
	t.Parallel()
	s, err := domain.ParseRetrySchedule(domain.DefaultRetrySchedule)
	require.NoError(t, err)
	assert.Equal(t, domain.RetrySchedule{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
	}, s)
	assert.Len(t, s, 7)
	assert.Equal(t, 8, s.MaxAttempts(), "eight attempts")
	var total time.Duration
	for _, d := range s {
		total += d
	}
	assert.Equal(t, 27*time.Hour+35*time.Minute+5*time.Second, total, "about 27 hours")
}

func TestParseRetrySchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    domain.RetrySchedule
		wantErr bool
	}{
		{in: "1s", want: domain.RetrySchedule{time.Second}},
		{in: " 1s , 2m ,3h", want: domain.RetrySchedule{time.Second, 2 * time.Minute, 3 * time.Hour}},
		{in: "1h30m,250ms", want: domain.RetrySchedule{90 * time.Minute, 250 * time.Millisecond}},
		{in: "", wantErr: true},
		{in: " ", wantErr: true},
		{in: "5s,,5m", wantErr: true},
		{in: "5s,", wantErr: true},
		{in: "5", wantErr: true},
		{in: "five seconds", wantErr: true},
		{in: "0s", wantErr: true},
		{in: "5s,0,5m", wantErr: true},
		{in: "-5s", wantErr: true},
		{in: "5s,-1m", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			s, err := domain.ParseRetrySchedule(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				assert.Nil(t, s)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, s)
			assert.Equal(t, len(tt.want)+1, s.MaxAttempts())
		})
	}
}

func TestRetrySchedule_Delay(t *testing.T) {
	t.Parallel()
	s, err := domain.ParseRetrySchedule(domain.DefaultRetrySchedule)
	require.NoError(t, err)
	tests := []struct {
		name    string
		attempt int
		unit    float64
		want    time.Duration
	}{
		{name: "after attempt 1, no jitter", attempt: 1, unit: 0.5, want: 5 * time.Second},
		{name: "after attempt 1, -20%", attempt: 1, unit: 0, want: 4 * time.Second},
		{name: "after attempt 2, no jitter", attempt: 2, unit: 0.5, want: 5 * time.Minute},
		{name: "after attempt 2, -20%", attempt: 2, unit: 0, want: 4 * time.Minute},
		{name: "after attempt 4, +10%", attempt: 4, unit: 0.75, want: 2*time.Hour + 12*time.Minute},
		{name: "after attempt 7, the last entry", attempt: 7, unit: 0.5, want: 10 * time.Hour},
		{name: "past the end uses the last entry", attempt: 8, unit: 0.5, want: 10 * time.Hour},
		{name: "far past the end uses the last entry", attempt: 100, unit: 0, want: 8 * time.Hour},
		{name: "attempt 0 treated as the first", attempt: 0, unit: 0.5, want: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, s.Delay(tt.attempt, tt.unit))
		})
	}
}

// TestRetrySchedule_DelayJitterBounds: the ±20% jitter never reaches +20%,
// since unit is in [0,1).
func TestRetrySchedule_DelayJitterBounds(t *testing.T) {
	t.Parallel()
	s := domain.RetrySchedule{10 * time.Hour}
	base := 10 * time.Hour
	below1 := 0.9999999999
	assert.Equal(t, base*8/10, s.Delay(1, 0))
	assert.Equal(t, base, s.Delay(1, 0.5))
	assert.Less(t, s.Delay(1, below1), base*12/10)
	assert.Greater(t, s.Delay(1, below1), base*119/100)
	prev := time.Duration(0)
	for u := 0.0; u < 1; u += 0.125 {
		d := s.Delay(1, u)
		assert.GreaterOrEqual(t, d, base*8/10)
		assert.Less(t, d, base*12/10)
		assert.Greater(t, d, prev, "delay grows with unit")
		prev = d
	}
}

func TestRetrySchedule_EmptyDelayIsZero(t *testing.T) {
	t.Parallel()
	assert.Equal(t, time.Duration(0), domain.RetrySchedule(nil).Delay(1, 0.5))
	assert.Equal(t, 1, domain.RetrySchedule(nil).MaxAttempts())
}
