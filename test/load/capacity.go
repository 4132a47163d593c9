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
	Binary string `json:"binary"`
	// Topology is set when the run measured several.
	Topology string         `json:"topology,omitempty"`
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
	s := newCapacitySearch(p)
	for {
		rate, ok := s.next()
		if !ok {
			return s.result()
		}
		began := time.Now()
		holds, why := run(rate)
		s.record(holds, why, time.Since(began))
	}
}

// capacitySearch is searchCapacity one step at a time, so that the
// searches of several targets can take turns (alternateSearches): next
// says which rate to run, record takes how it went, result is the outcome.
// Its budget counts the time of its own steps only.
type capacitySearch struct {
	p          searchParams
	res        capacityResult
	pass, fail float64
	passTested bool
	failTested bool
	stopped    string
	spent      time.Duration
	// bisected: the bisection is over; lowTried: the low bound was handed
	// out; over: nothing more to run.
	bisected, lowTried, over bool
	lowFailed                bool
	// pending is the rate next handed out.
	pending float64
}

func newCapacitySearch(p searchParams) *capacitySearch {
	return &capacitySearch{p: p, pass: p.low, fail: p.high}
}

// next returns the rate of the next step, or false when the search is over.
func (s *capacitySearch) next() (float64, bool) {
	if s.over {
		return 0, false
	}
	if !s.bisected {
		if rate, ok := s.bisect(); ok {
			s.pending = rate
			return rate, true
		}
		s.bisected = true
	}
	if !s.lowTried && !s.passTested && s.stopped == "" && len(s.res.Steps) < s.p.maxSteps {
		s.lowTried = true
		s.pending = s.p.low
		return s.p.low, true
	}
	s.over = true
	return 0, false
}

// bisect is the next step between pass and fail, or false (stopped says
// why, unless the bounds met).
func (s *capacitySearch) bisect() (float64, bool) {
	p := s.p
	if s.fail/s.pass <= 1+p.resolution {
		return 0, false
	}
	if len(s.res.Steps) >= p.maxSteps {
		s.stopped = fmt.Sprintf("stopped after %d steps (-capacity-steps)", p.maxSteps)
		return 0, false
	}
	mid := roundRate(math.Sqrt(s.pass * s.fail))
	if mid <= s.pass || mid >= s.fail {
		return 0, false // the rounding leaves nothing between them
	}
	if p.stepCost != nil && s.spent+p.stepCost(mid) > p.budget {
		s.stopped = fmt.Sprintf("stopped before a step at %g/s would pass the %s budget (-capacity-budget)", mid, p.budget)
		return 0, false
	}
	return mid, true
}

// record takes the outcome of the step next handed out, and how long it took.
func (s *capacitySearch) record(holds bool, why string, took time.Duration) {
	rate := s.pending
	s.spent += took
	s.res.Steps = append(s.res.Steps, capacityStep{Rate: rate, Holds: holds, Why: why})
	switch {
	case s.lowTried && holds:
		s.passTested = true
	case s.lowTried:
		s.lowFailed = true
		s.over = true
	case holds:
		s.pass, s.passTested = rate, true
	default:
		s.fail, s.failTested = rate, true
	}
}

// result is the search's outcome so far (final once next says it is over).
func (s *capacitySearch) result() capacityResult {
	res := s.res
	res.Steps = append([]capacityStep(nil), s.res.Steps...)
	res.Elapsed = s.spent.Seconds()
	p, pass, fail, stopped := s.p, s.pass, s.fail, s.stopped
	switch {
	case s.lowFailed:
		res.Bound, res.Capacity = "below", 0
		res.Decision = fmt.Sprintf("even the low bound %g/s did not hold (%s): the capacity is below it; lower -capacity-low", p.low, res.Steps[len(res.Steps)-1].Why)
	case !s.passTested:
		res.Bound = "below"
		res.Decision = "no rate held before the search stopped: " + stopped
	case !s.failTested:
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

// alternateSearches runs several searches (one per target) a step each in
// turn, the order reversed every round as the rates' is (inTurn), until
// every one is over; step runs search i's step at rate. Each search decides
// its steps from its own outcomes only, so each ends as it would alone.
func alternateSearches(searches []*capacitySearch, step func(i int, rate float64) (bool, string)) {
	idx := make([]int, len(searches))
	for i := range idx {
		idx[i] = i
	}
	for round := 0; ; round++ {
		ran := false
		for _, i := range inTurn(idx, round) {
			rate, ok := searches[i].next()
			if !ok {
				continue
			}
			ran = true
			began := time.Now()
			holds, why := step(i, rate)
			searches[i].record(holds, why, time.Since(began))
		}
		if !ran {
			return
		}
	}
}

func lastWhy(steps []capacityStep, rate float64) string {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Rate == rate {
			return steps[i].Why
		}
	}
	return ""
}
