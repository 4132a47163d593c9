package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// compareRuns prints the figures of two runs' JSON files side by side, per
// binary and rate, with the second run's as a ratio of the first's.
func compareRuns(a, b string, stdout io.Writer) error {
	ra, err := readRun(a)
	if err != nil {
		return err
	}
	rb, err := readRun(b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "A: %s (%s)\nB: %s (%s)\n\n", a, ra.Command, b, rb.Command)
	fmt.Fprintln(stdout, "| binary | clicks/s | HTTP p99 ms A → B | click → partner p50 ms A → B | p99 ms A → B | CPU ms/click (Go+PG) A → B | peak RSS MiB A → B | missing A / B |")
	fmt.Fprintln(stdout, "|---|---:|---|---|---|---|---|---|")
	for _, pa := range ra.Phases {
		if pa.Kind != "rate" {
			continue
		}
		for _, pb := range rb.Phases {
			if pb.Kind != "rate" || pb.Binary != pa.Binary || pb.Topology != pa.Topology || pb.Rate != pa.Rate {
				continue
			}
			fmt.Fprintf(stdout, "| %s | %g | %s → %s (×%.2f) | %s → %s (×%.2f) | %s → %s (×%.2f) | %s → %s (×%.2f) | %s → %s | %d / %d |\n",
				pa.label(), pa.Rate,
				f1(pa.HTTP.P99), f1(pb.HTTP.P99), ratio(pb.HTTP.P99, pa.HTTP.P99),
				f1(pa.Delivery.P50), f1(pb.Delivery.P50), ratio(pb.Delivery.P50, pa.Delivery.P50),
				f1(pa.Delivery.P99), f1(pb.Delivery.P99), ratio(pb.Delivery.P99, pa.Delivery.P99),
				f1(pa.PerEvent.ServiceMs+pa.PerEvent.PGMs), f1(pb.PerEvent.ServiceMs+pb.PerEvent.PGMs),
				ratio(pb.PerEvent.ServiceMs+pb.PerEvent.PGMs, pa.PerEvent.ServiceMs+pa.PerEvent.PGMs),
				mib(peakRSS(pa)), mib(peakRSS(pb)), pa.Missing, pb.Missing)
		}
	}
	for _, ca := range ra.Capacity {
		for _, cb := range rb.Capacity {
			if ca.Binary == cb.Binary && ca.Topology == cb.Topology {
				fmt.Fprintf(stdout, "\ncapacity %s: %s %g → %s %g clicks/s (×%.2f)\n", joinLabel(ca.Binary, ca.Topology), ca.Bound, ca.Capacity, cb.Bound, cb.Capacity, ratio(cb.Capacity, ca.Capacity))
			}
		}
	}
	return nil
}

func readRun(path string) (*runResult, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the file the user named
	if err != nil {
		return nil, err
	}
	var r runResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// peakRSS is the largest VmHWM of a phase's processes.
func peakRSS(p *phaseResult) int64 {
	var m int64
	for _, pr := range p.Processes {
		m = max(m, pr.PeakRSSKiB)
	}
	return m
}
