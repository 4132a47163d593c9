package domain

import (
	"fmt"
	"strings"
	"time"
)

// DefaultRetrySchedule is the contract's default: eight attempts over about 27 hours.
const DefaultRetrySchedule = "5s,5m,30m,2h,5h,10h,10h"

// RetryJitter is the ± fraction applied to each scheduled delay.
const RetryJitter = 0.2

// RetrySchedule lists the delays before each retry: the first entry is the
// wait after the first failed attempt.
type RetrySchedule []time.Duration

// ParseRetrySchedule reads a comma-separated list of Go durations.
func ParseRetrySchedule(s string) (RetrySchedule, error) {
	var out RetrySchedule
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("retry schedule entry %q: %w", part, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry schedule entry %q: must be positive", part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("retry schedule is empty")
	}
	return out, nil
}

// MaxAttempts is the first attempt plus one per scheduled retry.
func (s RetrySchedule) MaxAttempts() int { return len(s) + 1 }

// Delay returns the wait after failed attempt number attempt (from 1), with
// jitter: unit is a number in [0,1) that picks a point within ±RetryJitter.
func (s RetrySchedule) Delay(attempt int, unit float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := min(max(attempt-1, 0), len(s)-1)
	base := float64(s[i])
	return time.Duration(base * (1 - RetryJitter + 2*RetryJitter*unit))
}
