package domain

import (
	"math"
	"time"
)

// RateLimit spaces the attempts started to one webhook config: at most
// PerSecond of them start in any one second, one every 1/PerSecond (a
// generic cell rate algorithm without burst). Next is the earliest time the
// next attempt may start; it is shared by every worker process, so the limit
// holds across them.
type RateLimit struct {
	// PerSecond is the limit; 0 means none.
	PerSecond int
	Next      time.Time
}

// interval is 1/PerSecond, rounded up so that PerSecond intervals never
// fit in less than a second.
func (r RateLimit) interval() time.Duration {
	n := time.Duration(r.PerSecond)
	return (time.Second + n - 1) / n
}

// Available returns how many attempts may start between now and
// now+horizon.
func (r RateLimit) Available(now time.Time, horizon time.Duration) int {
	if r.PerSecond <= 0 {
		return math.MaxInt32
	}
	first := maxTime(r.Next, now)
	end := now.Add(horizon)
	if first.After(end) {
		return 0
	}
	return int(end.Sub(first)/r.interval()) + 1
}

// Take reserves n start times, the first no earlier than now, and returns
// them with the limit advanced past them. Without a limit every start is now.
func (r RateLimit) Take(n int, now time.Time) ([]time.Time, RateLimit) {
	starts := make([]time.Time, n)
	if r.PerSecond <= 0 {
		for i := range starts {
			starts[i] = now
		}
		return starts, r
	}
	t := maxTime(r.Next, now)
	for i := range starts {
		starts[i] = t
		t = t.Add(r.interval())
	}
	r.Next = t
	return starts, r
}

// ClaimBudget is how many due deliveries of one webhook config a worker may
// take now: what the config's in-flight cap leaves (counting attempts open
// in every process), what the rate limit allows within horizon, and what
// the worker has room for, whichever is least.
func ClaimBudget(maxInFlight, inFlight int, rate RateLimit, room int, now time.Time, horizon time.Duration) int {
	return max(0, min(maxInFlight-inFlight, rate.Available(now, horizon), room))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
