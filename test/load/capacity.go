package main

import (
	"fmt"
	"math"
	"time"
)

// capacityStep is one rate the search tried.
type capacityStep struct {
	Rate  float64 `json:"rate"`
	Holds bool    `json:"holds"`
	Why   string  `json:"why"`
}

// capacityResult is the outcome of one binary's search.
type capacityResult struct {
	Binary   string         `json:"binary"`
	Capacity float64        `json:"capacity"` // highest rate that held; 0 when even the low bound failed
	Bound    string         `json:"bound"`    // "exact" (within resolution), "at least" or "below"
	Decision string         `json:"decision"`
	Steps    []capacityStep `json:"steps"`
	Elapsed  float64        `json:"elapsed_s"`
	// Ratios to the ceilings of the same run (0 without -ceiling).
	RatioToClickSQL  float64 `json:"ratio_to_pgbench"`
	RatioToCombined  float64 `json:"ratio_to_combined_ceiling"`
	CombinedCeiling  float64 `json:"combined_ceiling"`
	PgbenchCeiling   float64 `json:"pgbench_ceiling"`
	RiverCeiling     float64 `json:"river_ceiling"`
	StepDurationS    float64 `json:"step_duration_s"`
	ResolutionFactor float64 `json:"resolution"`
}

// searchParams bound the capacity search.
type searchParams struct {
	low, high  float64
	resolution float64       // stop when fail/pass <= 1 + resolution
	maxSteps   int           // steps at most
	budget     time.Duration // stop before a step that would end after it
	stepCost   func(rate float64) time.Duration
}

// roundRate rounds a rate to a readable step: 5/s below 100, 10/s below
// 1000, 50/s above.
func roundRate(r float64) float64 {
	step := 50.0
	switch {
	case r < 100:
		step = 5
	case r < 1000:
		step = 10
	}
	return math.Max(step, math.Round(r/step)*step)
}

// searchCapacity finds the highest rate that holds, by bisection on a
// logarithmic scale between low and high: each step runs the rate (run says
// whether it held); a rate that holds raises the lower end, one that fails
// lowers the upper end, until they are within the resolution, the steps or
// the time run out. The low bound is tried last, only when nothing above it
// held; the high bound is never run (a rate that holds within the
// resolution of it gives "at least").
func searchCapacity(p searchParams, run func(rate float64) (bool, string)) capacityResult {
	began := time.Now()
	var res capacityResult
	pass, fail := p.low, p.high
	passTested, failTested := false, false
	step := func(rate float64) bool {
		ok, why := run(rate)
		res.Steps = append(res.Steps, capacityStep{Rate: rate, Holds: ok, Why: why})
		return ok
	}
	stopped := ""
	for fail/pass > 1+p.resolution {
		if len(res.Steps) >= p.maxSteps {
			stopped = fmt.Sprintf("stopped after %d steps (-capacity-steps)", p.maxSteps)
			break
		}
		mid := roundRate(math.Sqrt(pass * fail))
		if mid <= pass || mid >= fail {
			break // the rounding leaves nothing between them
		}
		if p.stepCost != nil && time.Since(began)+p.stepCost(mid) > p.budget {
			stopped = fmt.Sprintf("stopped before a step at %g/s would pass the %s budget (-capacity-budget)", mid, p.budget)
			break
		}
		if step(mid) {
			pass, passTested = mid, true
		} else {
			fail, failTested = mid, true
		}
	}
	if !passTested && stopped == "" && len(res.Steps) < p.maxSteps {
		if step(p.low) {
			passTested = true
		} else {
			res.Bound, res.Capacity = "below", 0
			res.Decision = fmt.Sprintf("even the low bound %g/s did not hold (%s): the capacity is below it; lower -capacity-low", p.low, res.Steps[len(res.Steps)-1].Why)
			res.Elapsed = time.Since(began).Seconds()
			return res
		}
	}
	res.Elapsed = time.Since(began).Seconds()
	switch {
	case !passTested:
		res.Bound = "below"
		res.Decision = "no rate held before the search stopped: " + stopped
	case !failTested:
		res.Capacity, res.Bound = pass, "at least"
		res.Decision = fmt.Sprintf("every step held up to %g/s, within %.0f%% of the high bound %g/s: the capacity is at least %g/s; raise -capacity-high", pass, 100*p.resolution, p.high, pass)
		if stopped != "" {
			res.Decision = fmt.Sprintf("%g/s held and nothing failed before the search %s", pass, stopped)
		}
	default:
		res.Capacity = pass
		res.Bound = "exact"
		res.Decision = fmt.Sprintf("%g/s held and %g/s did not (%s)", pass, fail, lastWhy(res.Steps, fail))
		if stopped != "" {
			res.Bound = "at least"
			res.Decision += "; " + stopped + fmt.Sprintf(", so the capacity lies between %g and %g/s", pass, fail)
		} else {
			res.Decision += fmt.Sprintf(": within %.0f%%", 100*p.resolution)
		}
	}
	return res
}

func lastWhy(steps []capacityStep, rate float64) string {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Rate == rate {
			return steps[i].Why
		}
	}
	return ""
}
