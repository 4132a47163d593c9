package domain_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/aurix/integrations/domain"
)

func TestRateLimit_SpacesStarts(t *testing.T) {
	t.Parallel()
	r := domain.RateLimit{PerSecond: 10}
	assert.Equal(t, 2, r.Available(t0, 100*time.Millisecond), "now and 100 ms later")
	starts, r := r.Take(3, t0)
	assert.Equal(t, []time.Time{t0, t0.Add(100 * time.Millisecond), t0.Add(200 * time.Millisecond)}, starts)
	assert.Equal(t, t0.Add(300*time.Millisecond), r.Next)
	assert.Equal(t, 0, r.Available(t0, 100*time.Millisecond), "the next start is 300 ms away")
	assert.Equal(t, 1, r.Available(t0.Add(250*time.Millisecond), 50*time.Millisecond))

	// Idle for a while: no burst is saved up, the next start is now.
	starts, _ = r.Take(2, t0.Add(time.Hour))
	assert.Equal(t, []time.Time{t0.Add(time.Hour), t0.Add(time.Hour + 100*time.Millisecond)}, starts)
}

func TestRateLimit_NeverMoreThanPerSecondInAnySecond(t *testing.T) {
	t.Parallel()
	r := domain.RateLimit{PerSecond: 7}
	var all []time.Time
	now := t0
	for range 50 {
		n := r.Available(now, 100*time.Millisecond)
		var starts []time.Time
		starts, r = r.Take(n, now)
		all = append(all, starts...)
		now = now.Add(37 * time.Millisecond)
	}
	for i := range all {
		in := 0
		for _, s := range all[i:] {
			if s.Sub(all[i]) < time.Second {
				in++
			}
		}
		assert.LessOrEqual(t, in, 7, "starts within a second of %s", all[i])
	}
}

func TestRateLimit_NoLimit(t *testing.T) {
	t.Parallel()
	r := domain.RateLimit{}
	assert.Equal(t, math.MaxInt32, r.Available(t0, 0))
	starts, next := r.Take(2, t0)
	assert.Equal(t, []time.Time{t0, t0}, starts)
	assert.Equal(t, r, next)
}

func TestClaimBudget(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 6, domain.ClaimBudget(16, 10, domain.RateLimit{}, 50, t0, time.Second), "what the cap leaves")
	assert.Equal(t, 3, domain.ClaimBudget(16, 0, domain.RateLimit{}, 3, t0, time.Second), "what the worker has room for")
	assert.Equal(t, 2, domain.ClaimBudget(16, 0, domain.RateLimit{PerSecond: 10}, 50, t0, 100*time.Millisecond), "what the rate allows")
	assert.Equal(t, 0, domain.ClaimBudget(16, 20, domain.RateLimit{}, 50, t0, time.Second), "over the cap (slots of a process not yet declared dead)")
}
