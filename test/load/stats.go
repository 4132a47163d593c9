package main

import (
	"math"
	"slices"
	"time"
)

// summary is a latency distribution in milliseconds. Percentiles are exact
// nearest-rank values over every sample (no histogram buckets, no
// interpolation): the p99 of 1000 samples is the 990th smallest.
type summary struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// percentile is the nearest-rank q-th percentile (0 < q <= 100) of sorted
// values: the smallest value such that at least q% of the values are <= it.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summarize sorts a copy of the values and describes them.
func summarize(values []time.Duration) summary {
	if len(values) == 0 {
		return summary{}
	}
	s := slices.Clone(values)
	slices.Sort(s)
	var total time.Duration
	for _, v := range s {
		total += v
	}
	return summary{
		N:    len(s),
		P50:  ms(percentile(s, 50)),
		P95:  ms(percentile(s, 95)),
		P99:  ms(percentile(s, 99)),
		Max:  ms(s[len(s)-1]),
		Mean: ms(total / time.Duration(len(s))),
	}
}

// scheduleOffset is when the i-th request of an open-loop run at rate per
// second is due, counted from the run's start. It is computed from i, not
// by adding intervals, so rounding never accumulates into drift.
func scheduleOffset(i int, rate float64) time.Duration {
	return time.Duration(float64(i) * float64(time.Second) / rate)
}

// plannedCount is how many requests a run at rate per second for d sends.
func plannedCount(rate float64, d time.Duration) int {
	return int(math.Floor(rate*d.Seconds() + 1e-9))
}

// backlogPoint is the number of acknowledged events not yet received at At
// (seconds since the measured window started).
type backlogPoint struct {
	At      float64 `json:"t_s"`
	Backlog int     `json:"backlog"`
}

// ackArrival is what the backlog needs to know of one click: when the
// service acknowledged it and when the partner first received its event
// (zero: not yet).
type ackArrival struct {
	acked, arrived time.Time
}

// backlogSeries counts, every step from start to end (both included), the
// events acknowledged by then and not received by then. An event received
// before its acknowledgement was read is never in the backlog.
func backlogSeries(events []ackArrival, start, end time.Time, step time.Duration) []backlogPoint {
	var out []backlogPoint
	for t := start; !t.After(end); t = t.Add(step) {
		n := 0
		for _, e := range events {
			if e.acked.IsZero() || e.acked.After(t) {
				continue
			}
			if e.arrived.IsZero() || e.arrived.After(t) {
				n++
			}
		}
		out = append(out, backlogPoint{At: t.Sub(start).Seconds(), Backlog: n})
	}
	return out
}

// slope is the least-squares slope (backlog per second) of the points whose
// time lies in [from, to].
func slope(points []backlogPoint, from, to float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, p := range points {
		if p.At < from || p.At > to {
			continue
		}
		x, y := p.At, float64(p.Backlog)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	den := n*sxx - sx*sx
	if n < 3 || den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// flatBacklog decides whether the backlog stayed flat over the second half
// of a load of the given length at rate per second: the least-squares growth
// over that half (slope times its length) is at most 100 ms worth of clicks,
// or 5 clicks at low rates. It returns that growth too.
func flatBacklog(points []backlogPoint, load time.Duration, rate float64) (bool, float64) {
	half := load.Seconds() / 2
	growth := slope(points, half, load.Seconds()) * half
	return growth <= math.Max(0.1*rate, 5), growth
}
