package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// runResult is everything one run measured: the JSON file, and the source
// of the printed report.
type runResult struct {
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	DurationS float64   `json:"duration_s"`
	Command   string    `json:"command"`
	Args      []string  `json:"args"`
	Note      string    `json:"note,omitempty"`
	// Topology is the -topology flag: one topology, or several
	// comma-separated, each then named in the phases and capacities.
	Topology string `json:"topology"`

	Machine  machineInfo         `json:"machine"`
	Disk     *diskResult         `json:"disk,omitempty"`
	Env      []string            `json:"service_env"`
	Binaries []binaryInfo        `json:"binaries"`
	Preload  []preloadResult     `json:"preload,omitempty"`
	Ceilings []*ceilingResult    `json:"ceilings,omitempty"`
	River    *riverCeilingResult `json:"river_ceiling,omitempty"`
	Phases   []*phaseResult      `json:"phases"`
	Capacity []*capacityResult   `json:"capacity,omitempty"`
	Ratios   []phaseRatios       `json:"ratios_to_ceiling,omitempty"`

	BadSignatures       int64          `json:"bad_signatures"`
	BadSignatureReasons []string       `json:"bad_signature_reasons,omitempty"`
	UnackedArrivals     int            `json:"events_of_unacknowledged_clicks"`
	OtherEvents         map[string]int `json:"other_event_types,omitempty"`

	Failed   bool     `json:"failed"`
	Failures []string `json:"failures,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// phaseRatios relates one phase to the ceilings measured in the same run.
type phaseRatios struct {
	Binary   string  `json:"binary"`
	Topology string  `json:"topology,omitempty"`
	Rate     float64 `json:"rate"`
	// LoadOfCeiling is the rate ÷ the combined ceiling (pgbench's click
	// transactions and River's no-op jobs sharing the cores).
	LoadOfCeiling float64 `json:"rate_over_combined_ceiling"`
	// HTTP p50/p99 ÷ pgbench's p50/p99 at the same rate (-R).
	HTTPP50 float64 `json:"http_p50_over_pgbench_p50"`
	HTTPP99 float64 `json:"http_p99_over_pgbench_p99"`
	// Click → partner ÷ (pgbench at the rate + River's insert → worked at
	// the rate): the floor of a click's transaction plus a job's pickup.
	DeliveryP50 float64 `json:"click_to_partner_p50_over_floor"`
	DeliveryP99 float64 `json:"click_to_partner_p99_over_floor"`
	// Go + PostgreSQL CPU per event ÷ (pgbench's PostgreSQL CPU per
	// transaction + River's Go and PostgreSQL CPU per no-op job).
	CPU float64 `json:"cpu_per_event_over_ceiling"`
}

func execCommand(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...) //nolint:gosec // go and git with the harness's own arguments
	cmd.Dir = dir
	return cmd
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func (h *harness) ceilingFor(binary, topology string) *ceilingResult {
	for _, c := range h.res.Ceilings {
		if c.Binary == binary && c.Topology == topology {
			return c
		}
	}
	return nil
}

func pgAt(c *ceilingResult, rate float64) *pgbenchRun {
	for i := range c.AtRate {
		if c.AtRate[i].Rate == rate && c.AtRate[i].Failed == "" {
			return &c.AtRate[i]
		}
	}
	return nil
}

func (h *harness) riverAt(rate float64) *riverRun {
	if h.res.River == nil {
		return nil
	}
	for i := range h.res.River.AtRate {
		if h.res.River.AtRate[i].Rate == rate && h.res.River.AtRate[i].Failed == "" {
			return &h.res.River.AtRate[i]
		}
	}
	return nil
}

// ratios computes each phase's and each capacity's ratios to the ceilings.
func (h *harness) ratios() {
	if h.res.River == nil {
		return
	}
	rmax := h.res.River.Max
	for _, p := range h.res.Phases {
		c := h.ceilingFor(p.Binary, p.Topology)
		if c == nil || c.Max.Failed != "" || p.Kind != "rate" {
			continue
		}
		r := phaseRatios{Binary: p.Binary, Topology: p.Topology, Rate: p.Rate, LoadOfCeiling: ratio(p.Rate, combined(c.Max.TPS, rmax.JobsPerS))}
		if pg := pgAt(c, p.Rate); pg != nil {
			r.HTTPP50, r.HTTPP99 = ratio(p.HTTP.P50, pg.Latency.P50), ratio(p.HTTP.P99, pg.Latency.P99)
			if rv := h.riverAt(p.Rate); rv != nil {
				r.DeliveryP50 = ratio(p.Delivery.P50, pg.Latency.P50+rv.Latency.P50)
				r.DeliveryP99 = ratio(p.Delivery.P99, pg.Latency.P99+rv.Latency.P99)
			}
		}
		r.CPU = ratio(p.PerEvent.ServiceMs+p.PerEvent.PGMs, c.Max.PGCPUms+rmax.GoCPUms+rmax.PGCPUms)
		h.res.Ratios = append(h.res.Ratios, r)
	}
	for _, cap := range h.res.Capacity {
		c := h.ceilingFor(cap.Binary, cap.Topology)
		if c == nil || c.Max.Failed != "" {
			continue
		}
		cap.PgbenchCeiling, cap.RiverCeiling = c.Max.TPS, rmax.JobsPerS
		cap.CombinedCeiling = combined(c.Max.TPS, rmax.JobsPerS)
		cap.RatioToClickSQL = ratio(cap.Capacity, c.Max.TPS)
		cap.RatioToCombined = ratio(cap.Capacity, cap.CombinedCeiling)
	}
}

// finish checks the run as a whole, prints the report and writes it.
func (h *harness) finish(stdout io.Writer) int {
	r := h.res
	r.BadSignatures, r.BadSignatureReasons = h.rec.badRequests()
	if r.BadSignatures > 0 {
		h.fail("%d webhook requests failed verification, e.g. %v", r.BadSignatures, r.BadSignatureReasons)
	}
	for _, p := range r.Phases {
		h.recheckMissing(p)
		if p.ArrivedLate > 0 {
			h.warn("%s at %g/s: %d of the %d missing events arrived later in the run, after the drain timeout", p.label(), p.Rate, p.ArrivedLate, p.Missing)
		}
	}
	r.UnackedArrivals = h.tr.unacknowledgedArrivals()
	h.tr.mu.Lock()
	if len(h.tr.other) > 0 {
		r.OtherEvents = h.tr.other
	}
	if h.tr.unknown > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d widget.click events had no correlation_id", h.tr.unknown))
	}
	h.tr.mu.Unlock()
	h.ratios()
	r.Finished = time.Now().UTC()
	r.DurationS = r.Finished.Sub(r.Started).Seconds()
	r.Failed = len(r.Failures) > 0

	report := renderReport(r)
	fmt.Fprint(stdout, report)
	jsonPath := filepath.Join(filepath.Dir(h.outDir), "load-"+h.stamp+".json")
	if b, err := json.MarshalIndent(r, "", "  "); err == nil {
		if err := os.WriteFile(jsonPath, b, 0o600); err != nil {
			h.logf("writing %s: %v", jsonPath, err)
		} else {
			h.logf("wrote %s", h.rel(jsonPath))
		}
	}
	if h.opts.readme != "" && len(r.Phases) > 0 {
		path := h.opts.readme
		if !filepath.IsAbs(path) {
			path = filepath.Join(h.root, path)
		}
		if err := updateReadme(path, report, h.rel(jsonPath)); err != nil {
			h.logf("README: %v", err)
		} else {
			h.logf("wrote the report into %s", h.rel(path))
		}
	}
	if r.Failed {
		fmt.Fprintf(stdout, "\nFAILED: %s\n", strings.Join(r.Failures, "; "))
		return 1
	}
	return 0
}

const (
	markerBegin = "<!-- load:begin -->"
	markerEnd   = "<!-- load:end -->"
)

// replaceBetweenMarkers puts block between the markers (each on a line of
// its own), replacing what was there.
func replaceBetweenMarkers(content, block string) (string, error) {
	b := strings.Index(content, markerBegin)
	e := strings.Index(content, markerEnd)
	if b < 0 || e < 0 {
		return "", fmt.Errorf("the markers %s and %s are not both in the file", markerBegin, markerEnd)
	}
	if e < b || strings.Count(content, markerBegin) != 1 || strings.Count(content, markerEnd) != 1 {
		return "", errors.New("the load markers must appear once each, begin before end")
	}
	return content[:b+len(markerBegin)] + "\n" + strings.TrimRight(block, "\n") + "\n" + content[e:], nil
}

func updateReadme(path, report, jsonPath string) error {
	b, err := os.ReadFile(path) //nolint:gosec // the report file the user named
	if err != nil {
		return err
	}
	block := report + "\nMachine-readable: `" + jsonPath + "` (git-ignored; compare two runs with `go run ./test/load -compare a.json b.json`).\n"
	out, err := replaceBetweenMarkers(string(b), block)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o600) //nolint:gosec // the report file the user named (-readme)
}

func f1(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// lat is "p50 / p99 / max" (with p95 when withP95), or "–" without samples.
func lat(s summary, withP95 bool) string {
	if s.N == 0 {
		return "–"
	}
	if withP95 {
		return f1(s.P50) + " / " + f1(s.P95) + " / " + f1(s.P99) + " / " + f1(s.Max)
	}
	return f1(s.P50) + " / " + f1(s.P99) + " / " + f1(s.Max)
}

func mib(kib int64) string { return fmt.Sprintf("%.0f", float64(kib)/1024) }

// renderReport is the Markdown report (printed, and put in the README).
func renderReport(r *runResult) string {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("## Load harness (test/load): latest run\n\n")
	if r.Note != "" {
		w("> **Note:** %s\n\n", r.Note)
	}
	status := "passed"
	if r.Failed {
		status = "**FAILED**"
	}
	w("`%s` (%s), %s UTC, %.0f s; %s.\n\n", r.Command, "or `go tool task load -- …`", r.Started.Format("2006-01-02 15:04"), r.DurationS, status)
	m := r.Machine
	w("Machine: %d cores (%s), load average %s at the start; %s; PostgreSQL %s (shared_buffers %s, synchronous_commit %s, fsync %s, autovacuum %s).\n",
		m.Cores, m.CPU, m.LoadAvg, m.Go, m.PostgreSQL, m.Settings["shared_buffers"], m.Settings["synchronous_commit"], m.Settings["fsync"], m.Settings["autovacuum"])
	if d := r.Disk; d != nil {
		w("Disk (before the load, `-disk-probe`): fdatasync of 8 KiB, as a commit does, p50 %.2f / p99 %.2f / p99.9 %.1f / max %.0f ms; %d of %d flushes over 20 ms in %.0f s, %.2f s stalled in them. A click waits for one flush, so this tail is a floor under the click's.\n",
			d.P50MS, d.P99MS, d.P999MS, d.MaxMS, d.Over20ms, d.Syncs, d.Seconds, d.StalledS)
	}
	var bins []string
	for _, bi := range r.Binaries {
		mod := ""
		if bi.Modified {
			mod = ", uncommitted changes"
		}
		if bi.Template != "" {
			mod += ", on a copy of " + bi.Template
		}
		bins = append(bins, fmt.Sprintf("%s (%s%s)", bi.Name, orDash(bi.Revision), mod))
	}
	multi := strings.Contains(r.Topology, ",")
	if multi {
		w("Service: topologies %s (each on a database of its own, run in turn at every rate and capacity step, the order reversed each time); binaries %s; development settings of Taskfile's DEV_ENV, rate limit off",
			strings.ReplaceAll(r.Topology, ",", ", "), strings.Join(bins, ", "))
	} else {
		w("Service: topology %s; binaries %s; development settings of Taskfile's DEV_ENV, rate limit off", r.Topology, strings.Join(bins, ", "))
	}
	// who is a row's first cells: the binary, and its topology when the
	// run has several (the tables then have a topology column).
	who := func(binary, topology string) string {
		if multi {
			return binary + " | " + topology
		}
		return binary
	}
	whoHead, whoRule := "binary", "---"
	if multi {
		whoHead, whoRule = "binary | topology", "---|---"
	}
	var extra []string
	for _, e := range r.Env {
		if strings.HasPrefix(e, "-env ") {
			extra = append(extra, "`"+strings.TrimPrefix(e, "-env ")+"`")
		}
	}
	if len(extra) > 0 {
		w(", plus %s", strings.Join(extra, " "))
	}
	w(".\n\n")

	if len(r.Phases) > 0 {
		w("Latency counts from each click's scheduled send time. Click → partner: the first arrival of the click's `widget.click` at the partner.\n\n")
		w("| %s | clicks/s | kind | sent | 201 | not 201 | HTTP p50 / p99 / max ms | click → partner p50 / p95 / p99 / max ms | missing | twice | overtaken by 1 s (most, s) | backlog at end | drain s | partner max in flight |\n", whoHead)
		w("|%s|---:|---|---:|---:|---|---|---|---:|---:|---|---:|---:|---:|\n", whoRule)
		for _, p := range r.Phases {
			not := "0"
			if len(p.Statuses) > 0 {
				var parts []string
				for _, k := range sortedKeys(p.Statuses) {
					parts = append(parts, fmt.Sprintf("%d× %s", p.Statuses[k], k))
				}
				not = strings.Join(parts, ", ")
			}
			drain := f1(p.DrainS)
			if !p.Drained {
				drain = "**not drained**"
			}
			kind := p.Kind
			if p.Kind == "capacity" {
				kind = "capacity step: " + map[bool]string{true: "holds", false: "fails"}[p.Holds]
			}
			order := "0"
			if p.Overtaken > 0 {
				order = fmt.Sprintf("%d (%.1f)", p.Overtaken, p.OvertakenMaxS)
			}
			w("| %s | %g | %s | %d | %d | %s | %s | %s | %d | %d | %s | %d | %s | %d |\n",
				who(p.Binary, p.Topology), p.Rate, kind, p.Sent, p.Acked, not, lat(p.HTTP, false), lat(p.Delivery, true),
				p.Missing, p.Duplicates, order, p.BacklogEnd, drain, p.RecvMaxInflight)
		}
		w("\n| %s | clicks/s | peak RSS MiB (VmHWM; idle) | ΔRSS KiB per in-flight delivery / per open click | Go CPU ms/click | PostgreSQL ms/click | generator ms/click | PG shared s | other load | log ERROR / WARN | send lag p99 / max ms |\n", whoHead)
		w("|%s|---:|---|---|---:|---:|---:|---:|---:|---|---|\n", whoRule)
		for _, p := range r.Phases {
			var rss []string
			errs, warns, nonJSON := 0, 0, 0
			for _, pr := range p.Processes {
				rss = append(rss, fmt.Sprintf("%s %s (%s)", pr.Role, mib(pr.PeakRSSKiB), mib(pr.IdleRSSKiB)))
				errs += pr.Log.Errors
				warns += pr.Log.Warns
				nonJSON += pr.Log.NonJSON
			}
			logs := fmt.Sprintf("%d / %d", errs, warns)
			if nonJSON > 0 {
				logs += fmt.Sprintf(" (+%d not JSON)", nonJSON)
			}
			other := ratio(p.CPU.OtherS+p.CPU.PGOtherDBsS, p.CPU.MachineTotalS) * 100
			w("| %s | %g | %s | ≤ %s / ≤ %s | %s | %s | %s | %s | %.0f%% | %s | %s / %s |\n", who(p.Binary, p.Topology), p.Rate, strings.Join(rss, " + "),
				f1(p.KiBPerInflightDelivery), f1(p.KiBPerOpenConnection), f1(p.PerEvent.ServiceMs), f1(p.PerEvent.PGMs), f1(p.PerEvent.HarnessMs), f1(p.CPU.PGSharedS), other, logs, f1(p.Lag.P99), f1(p.Lag.Max))
		}
		w("\nCPU is per acknowledged click over the window from the first scheduled click to the last delivery: Go = the service's processes, PostgreSQL = the backends of the load database; PG shared = postmaster and background processes (shared with every database of the server, not in the per-click figure); other load = everything else on the machine (other tenants), as a share of all cores; generator = this program (generator and receiver). ΔRSS per item = (VmHWM − idle VmRSS) ÷ the most deliveries (or click requests) in flight at once: an upper bound, since pools, buffers and GC headroom grow too; hold deliveries in flight with `-receiver-delay` to measure it (README.md, section Load harness).\n")
	}

	if len(r.Ceilings) > 0 || r.River != nil {
		w("\n### Ceiling (same run)\n\n")
		w("| what | rate | tx or jobs/s | p50 / p99 ms | CPU ms per tx or job |\n|---|---:|---:|---|---|\n")
		for _, c := range r.Ceilings {
			label := fmt.Sprintf("pgbench -M %s, %d clients, %s's click SQL (%d statements, %s)", c.Protocol, c.Clients, c.label(), c.Script.Statements, c.Source)
			w("| %s | max | %s | %s / %s | PG %s + client %s |\n", label, f1(c.Max.TPS), f1(c.Max.Latency.P50), f1(c.Max.Latency.P99), f1(c.Max.PGCPUms), f1(c.Max.ClientCPUms))
			for _, a := range c.AtRate {
				w("| pgbench, %s's SQL | %g | %s | %s / %s | PG %s |\n", c.label(), a.Rate, f1(a.TPS), f1(a.Latency.P50), f1(a.Latency.P99), f1(a.PGCPUms))
			}
		}
		if rv := r.River; rv != nil {
			w("| River no-op jobs (%s workers, cooldown %s) | max | %s | – | Go %s + PG %s |\n", rv.Settings["workers"], rv.Settings["fetch_cooldown"],
				f1(rv.Max.JobsPerS), f1(rv.Max.GoCPUms), f1(rv.Max.PGCPUms))
			for _, a := range rv.AtRate {
				w("| River, insert → worked | %g | %s | %s / %s | Go %s + PG %s |\n", a.Rate, f1(a.JobsPerS), f1(a.Latency.P50), f1(a.Latency.P99), f1(a.GoCPUms), f1(a.PGCPUms))
			}
		}
		if len(r.Ratios) > 0 {
			w("\n| %s | clicks/s | rate ÷ combined ceiling | HTTP p50 / p99 ÷ pgbench at the rate | click → partner p50 / p99 ÷ floor | CPU per click ÷ ceiling |\n|%s|---:|---:|---|---|---:|\n", whoHead, whoRule)
			for _, x := range r.Ratios {
				w("| %s | %g | %s | %s / %s | %s / %s | %s |\n", who(x.Binary, x.Topology), x.Rate, f1(x.LoadOfCeiling), f1(x.HTTPP50), f1(x.HTTPP99), f1(x.DeliveryP50), f1(x.DeliveryP99), f1(x.CPU))
			}
			w("\nCombined ceiling = 1 / (1/pgbench max + 1/River max): a click's transaction and one no-op job on the same cores. Floor = pgbench's latency at the rate + River's insert → worked latency at the rate. CPU ceiling = pgbench's PostgreSQL CPU per transaction + River's Go and PostgreSQL CPU per job.\n")
		}
	}

	if len(r.Capacity) > 0 {
		w("\n### Capacity\n\nA rate holds when every click is answered 201, every acknowledged event is received, click → partner p99 stays within the limit, and the backlog is flat (least-squares growth over the second half at most 100 ms of clicks); a step stops early once more than 1%% of its clicks are certain to miss the limit or one is refused. Rates are bisected on a log scale between -capacity-low and -capacity-high.")
		if len(r.Capacity) > 1 {
			w(" The searches took turns, a step of each, the order reversed every round; each decided its steps from its own outcomes.")
		}
		w("\n")
	}
	for _, c := range r.Capacity {
		w("\n%s: ", joinLabel(c.Binary, c.Topology))
		w("**%s %g clicks/s** (%s steps of %.0f s)", c.Bound, c.Capacity, fmt.Sprint(len(c.Steps)), c.StepDurationS)
		if c.CombinedCeiling > 0 {
			w("; %.2f of the combined ceiling %.0f/s (pgbench %.0f/s: %.2f)", c.RatioToCombined, c.CombinedCeiling, c.PgbenchCeiling, c.RatioToClickSQL)
		}
		w(". %s.\n\n", c.Decision)
		w("| step | clicks/s | holds | why |\n|---:|---:|---|---|\n")
		for i, s := range c.Steps {
			w("| %d | %g | %v | %s |\n", i+1, s.Rate, s.Holds, s.Why)
		}
	}
	for _, p := range r.Preload {
		w("\nPreload (%s): %d old clicks with outbox rows, succeeded deliveries and attempts in %.0f s (%.0f clicks/s) + VACUUM ANALYZE and CHECKPOINT %.0f s; tables:", joinLabel(p.Binary, p.Topology), p.Rows, p.InsertS, p.RowsPerS, p.VacuumS)
		for _, k := range sortedKeys(p.TableBytes) {
			w(" %s %.0f MiB", k, float64(p.TableBytes[k])/(1<<20))
		}
		w(".\n")
	}
	if len(r.Failures) > 0 {
		w("\nFailures:\n")
		for _, f := range r.Failures {
			w("- %s\n", f)
		}
	}
	if len(r.Warnings) > 0 || anyWarnings(r) {
		w("\nWarnings:\n")
		for _, x := range r.Warnings {
			w("- %s\n", x)
		}
		for _, p := range r.Phases {
			for _, x := range p.Warnings {
				w("- %s at %g/s: %s\n", p.label(), p.Rate, x)
			}
		}
	}
	return b.String()
}

func anyWarnings(r *runResult) bool {
	for _, p := range r.Phases {
		if len(p.Warnings) > 0 {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
