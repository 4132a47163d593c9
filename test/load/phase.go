package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// processResult is one service process over one phase.
type processResult struct {
	Role       string    `json:"role"`
	PID        int       `json:"pid"`
	PeakRSSKiB int64     `json:"peak_rss_kib"` // VmHWM: the process's peak resident set, start-up and warm-up included
	IdleRSSKiB int64     `json:"idle_rss_kib"` // VmRSS once ready, before any click
	MaxRSSKiB  int64     `json:"max_sampled_rss_kib"`
	CPUSeconds float64   `json:"cpu_s"`
	Log        logCounts `json:"log"`
	LogPath    string    `json:"log_path"`
	Exited     string    `json:"exited,omitempty"` // set when it died during the phase
}

// cpuResult is the CPU time used during a phase's measured window (from the
// first scheduled click to the drain's end), in seconds.
type cpuResult struct {
	WindowS       float64 `json:"window_s"`
	ServiceS      float64 `json:"service_s"`       // the service processes (Go)
	PGS           float64 `json:"pg_s"`            // backends of the load database
	PGSharedS     float64 `json:"pg_shared_s"`     // postmaster and background processes: shared by every database on the server
	PGOtherDBsS   float64 `json:"pg_other_dbs_s"`  // backends of other databases: other tenants of the server
	HarnessS      float64 `json:"harness_s"`       // this program: load generator and receiver
	MachineBusyS  float64 `json:"machine_busy_s"`  // every process on the machine
	MachineTotalS float64 `json:"machine_total_s"` // cores × window
	OtherS        float64 `json:"other_s"`         // busy minus all of the above: other tenants of the machine
	LoadAvg       string  `json:"load_avg_at_start"`
}

// perEvent is CPU per acknowledged click, in milliseconds.
type perEvent struct {
	ServiceMs float64 `json:"service_ms"`
	PGMs      float64 `json:"pg_ms"`
	HarnessMs float64 `json:"harness_ms"`
}

// phaseResult is one binary (in one topology) at one rate.
type phaseResult struct {
	Binary string `json:"binary"`
	// Topology is set when the run measured several (the run's Topology
	// names the one otherwise).
	Topology  string    `json:"topology,omitempty"`
	Kind      string    `json:"kind"` // rate or capacity
	Rate      float64   `json:"rate"`
	DurationS float64   `json:"duration_s"`
	Started   time.Time `json:"started"`

	Planned      int            `json:"planned"`
	Sent         int            `json:"sent"`
	Acked        int            `json:"acked"` // 201 with a correlation id
	SendRate     float64        `json:"send_rate"`
	Statuses     map[string]int `json:"statuses"` // every answer that was not a 201, by status or error kind
	HTTP         summary        `json:"http"`     // answer time - scheduled time, every answered click
	Lag          summary        `json:"generator_lag"`
	GenInflight  int64          `json:"generator_max_in_flight"`
	GenConnLimit int            `json:"generator_conn_limit"`

	Delivery    summary  `json:"click_to_partner"` // first arrival - scheduled time
	Missing     int      `json:"missing"`
	MissingIDs  []string `json:"missing_correlation_ids,omitempty"`
	ArrivedLate int      `json:"arrived_after_drain_timeout"`
	Duplicates  int      `json:"duplicates"`
	// Overtaken counts the events that arrived after an event scheduled at
	// least overtakeBy later (how far delivery strayed from the order the
	// clicks happened in); OvertakenMaxS is the most any was overtaken by.
	Overtaken       int     `json:"overtaken"`
	OvertakenMaxS   float64 `json:"overtaken_max_s"`
	WarmupMissing   int     `json:"warmup_missing"`
	BacklogEnd      int     `json:"backlog_at_end"`
	BacklogMax      int     `json:"backlog_max"`
	BacklogGrowth   float64 `json:"backlog_growth_second_half"`
	Flat            bool    `json:"backlog_flat"`
	DrainS          float64 `json:"drain_s"`
	Drained         bool    `json:"drained"`
	RecvMaxInflight int64   `json:"receiver_max_in_flight"`

	Processes              []processResult  `json:"processes"`
	RSSGrowthKiB           int64            `json:"rss_growth_kib"`                  // Σ (VmHWM - idle VmRSS) over the processes
	KiBPerInflightDelivery float64          `json:"kib_per_inflight_delivery_bound"` // RSSGrowthKiB ÷ partner max in flight
	KiBPerOpenConnection   float64          `json:"kib_per_open_connection_bound"`   // RSSGrowthKiB ÷ generator max in flight
	CPU                    cpuResult        `json:"cpu"`
	PerEvent               perEvent         `json:"cpu_per_event"`
	DB                     map[string]int64 `json:"db_state,omitempty"`

	Holds    bool           `json:"holds"`
	Why      string         `json:"why"`
	Aborted  string         `json:"aborted,omitempty"`
	Failures []string       `json:"failures,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
	Backlog  []backlogPoint `json:"backlog"`
	// Seconds has, for each second of the schedule, the slowest answer and
	// the slowest first arrival of the clicks scheduled in it: a stall shows
	// as a second where both jump at once.
	Seconds []secondPoint `json:"seconds"`

	records []*clickRecord
	missing []*clickRecord
}

// label names the phase's target: "binary" or "binary/topology".
func (r *phaseResult) label() string { return joinLabel(r.Binary, r.Topology) }

// secondPoint is one second of the schedule (T seconds after its start).
type secondPoint struct {
	T            int     `json:"t"`
	Clicks       int     `json:"clicks"`
	HTTPMaxMS    float64 `json:"http_max_ms"`
	PartnerMaxMS float64 `json:"partner_max_ms"`
}

// secondsOf buckets the records by their scheduled second.
func secondsOf(snap []clickRecord) []secondPoint {
	if len(snap) == 0 {
		return nil
	}
	t0 := snap[0].sched
	var out []secondPoint
	for _, r := range snap {
		i := int(r.sched.Sub(t0) / time.Second)
		for len(out) <= i {
			out = append(out, secondPoint{T: len(out)})
		}
		p := &out[i]
		p.Clicks++
		if !r.done.IsZero() {
			p.HTTPMaxMS = max(p.HTTPMaxMS, float64(r.done.Sub(r.sched))/1e6)
		}
		if r.arrivals > 0 {
			p.PartnerMaxMS = max(p.PartnerMaxMS, float64(r.firstArrival.Sub(r.sched))/1e6)
		}
	}
	return out
}

// phaseSpec says what to run.
type phaseSpec struct {
	kind     string
	rate     float64
	duration time.Duration
	// abort stops a capacity step as soon as it can no longer hold.
	abort bool
}

// holdCriteria decides whether a rate holds (the capacity search's test).
type holdCriteria struct {
	p99 time.Duration
}

// judge applies the criteria to a finished phase: every click answered 201,
// every acknowledged event received, the backlog flat over the second half
// and click → partner p99 within the limit.
func (c holdCriteria) judge(r *phaseResult) (bool, string) {
	switch {
	case r.Aborted != "":
		return false, "stopped early: " + r.Aborted
	case len(r.Statuses) > 0:
		return false, fmt.Sprintf("%d clicks not answered 201", r.Sent-r.Acked)
	case r.Missing > 0 || r.WarmupMissing > 0:
		return false, fmt.Sprintf("%d acknowledged events never arrived", r.Missing+r.WarmupMissing)
	case r.Delivery.P99 > ms(c.p99):
		return false, fmt.Sprintf("click → partner p99 %.0f ms > %.0f ms", r.Delivery.P99, ms(c.p99))
	case !r.Flat:
		return false, fmt.Sprintf("backlog grew by %.0f over the second half", r.BacklogGrowth)
	}
	return true, fmt.Sprintf("p99 %.0f ms ≤ %.0f ms, backlog flat (%+.0f), nothing missing", r.Delivery.P99, ms(c.p99), r.BacklogGrowth)
}

// runPhase starts the binary's topology on its database, warms it up at the
// phase's rate, runs the measured open-loop load, waits for every
// acknowledged event to reach the partner (or the drain timeout), and stops
// the topology.
func (h *harness) runPhase(ctx context.Context, tgt *target, spec phaseSpec) *phaseResult {
	res := &phaseResult{Binary: tgt.name, Topology: tgt.topoLabel, Kind: spec.kind, Rate: spec.rate, DurationS: spec.duration.Seconds(),
		Statuses: map[string]int{}, GenConnLimit: h.opts.maxConns}
	label := fmt.Sprintf("%s-%s%g", tgt.key(), spec.kind, spec.rate)
	h.logf("%s at %g clicks/s for %s: starting %s", tgt.label(), spec.rate, spec.duration, topologyName(tgt.topo))
	top, err := startTopology(ctx, tgt.binary, tgt.topo, h.dev, h.cl.dbURL(tgt.db), h.opts.env, h.outPath(label))
	if err != nil {
		if top != nil {
			_ = top.stop()
		}
		res.Failures = append(res.Failures, "service did not start: "+err.Error())
		return res
	}
	urls := top.clickURLs()
	h.seq++
	rng := newRand(h.opts.seed, h.seq)

	// Warm-up at the phase's rate: connections and pools open, then the
	// backlog drains before the measured window.
	var warm []*clickRecord
	if n := plannedCount(spec.rate, h.opts.warmup); n > 0 {
		warm = h.gen.run(ctx, urls, makeClicks(n, rng), spec.rate, time.Now().Add(10*time.Millisecond), nil)
		if _, ok := h.drain(ctx, warm, h.opts.drainTimeout); !ok {
			res.Warnings = append(res.Warnings, "the warm-up's events had not all arrived when the measured load started")
		}
	}

	clicks := makeClicks(plannedCount(spec.rate, spec.duration), rng)
	res.Planned = len(clicks)
	sampler := h.cl.sampleCPU(ctx, tgt.db, 250*time.Millisecond)
	rss := startRSSSampler(top)
	busy0, total0, _ := machineCPU()
	self0, _ := procCPU(os.Getpid())
	proc0 := make([]time.Duration, len(top.procs))
	for i, p := range top.procs {
		proc0[i], _ = procCPU(p.pid())
	}
	res.CPU.LoadAvg = loadAvg()
	h.rec.maxInflight.Store(0)

	start := time.Now().Add(20 * time.Millisecond)
	res.Started = start
	stop := make(chan struct{})
	var monitorWG sync.WaitGroup
	monitorDone := make(chan struct{})
	if spec.abort {
		monitorWG.Add(1)
		go func() {
			defer monitorWG.Done()
			h.watchStep(start, spec, res, stop, monitorDone)
		}()
	}
	records := h.gen.run(ctx, urls, clicks, spec.rate, start, stop)
	close(monitorDone)
	monitorWG.Wait()
	answered := time.Now()
	res.records = records
	res.GenInflight = h.gen.maxInflight.Load()

	lastArrival, drained := h.drain(ctx, records, h.opts.drainTimeout)
	end := time.Now()
	res.Drained = drained
	if drained && lastArrival.After(answered) {
		res.DrainS = lastArrival.Sub(answered).Seconds()
	}
	res.RecvMaxInflight = h.rec.maxInflight.Load()

	dbc := sampler.finish()
	busy1, total1, _ := machineCPU()
	self1, _ := procCPU(os.Getpid())
	maxRSS := rss.finish()
	for i, p := range top.procs {
		pr := processResult{Role: p.role, PID: p.pid(), IdleRSSKiB: p.idleRSS, MaxRSSKiB: maxRSS[i], LogPath: h.rel(p.logPath)}
		if p.alive() {
			pr.PeakRSSKiB, _ = procStatusKiB(p.pid(), "VmHWM")
			c1, _ := procCPU(p.pid())
			pr.CPUSeconds = (c1 - proc0[i]).Seconds()
		} else {
			pr.Exited = fmt.Sprint(p.waitErr)
			res.Failures = append(res.Failures, fmt.Sprintf("%s process %d (pid %d) exited during the run: %v", p.role, i, p.pid(), p.waitErr))
		}
		res.Processes = append(res.Processes, pr)
	}
	if conn, err := h.cl.connect(ctx, tgt.db); err == nil {
		res.DB = dbState(ctx, conn)
		_ = conn.Close(ctx)
	}
	if err := top.stop(); err != nil {
		res.Failures = append(res.Failures, "stopping the service: "+err.Error())
	}
	h.gen.client.CloseIdleConnections()
	for i, p := range top.procs {
		if f, err := os.Open(p.logPath); err == nil {
			res.Processes[i].Log = countLogLevels(f)
			_ = f.Close()
		}
	}

	// CPU over the window.
	var svc time.Duration
	for _, p := range res.Processes {
		svc += time.Duration(p.CPUSeconds * float64(time.Second))
	}
	c := &res.CPU
	c.WindowS = end.Sub(start).Seconds()
	c.ServiceS = svc.Seconds()
	c.PGS, c.PGSharedS, c.PGOtherDBsS = dbc.DB.Seconds(), dbc.Shared.Seconds(), dbc.OtherDBs.Seconds()
	c.HarnessS = (self1 - self0).Seconds()
	c.MachineBusyS, c.MachineTotalS = (busy1 - busy0).Seconds(), (total1 - total0).Seconds()
	c.OtherS = c.MachineBusyS - c.ServiceS - c.PGS - c.PGSharedS - c.PGOtherDBsS - c.HarnessS

	h.analyse(res, records, warm, start, answered, end)
	res.Holds, res.Why = holdCriteria{p99: h.opts.capP99}.judge(res)
	return res
}

// drain waits until every acknowledged click among records has its event,
// or the timeout; it returns the last first-arrival among them.
func (h *harness) drain(ctx context.Context, records []*clickRecord, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for {
		var last time.Time
		waiting := 0
		h.tr.mu.Lock()
		for _, r := range records {
			if r.corrID == "" {
				continue
			}
			if r.arrivals == 0 {
				waiting++
			} else if r.firstArrival.After(last) {
				last = r.firstArrival
			}
		}
		h.tr.mu.Unlock()
		if waiting == 0 {
			return last, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return last, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchStep stops a capacity step as soon as it cannot hold any more: more
// than 1% of its planned clicks already answered other than 201, or already
// (or certainly) later than the p99 limit.
func (h *harness) watchStep(start time.Time, spec phaseSpec, res *phaseResult, stop chan<- struct{}, done <-chan struct{}) {
	budget := max(1, plannedCount(spec.rate, spec.duration)/100)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		now := time.Now()
		late, refused := 0, 0
		h.tr.mu.Lock()
		for _, r := range h.gen.current {
			switch {
			case !r.done.IsZero() && r.status != 201:
				refused++
			case r.arrivals > 0:
				if r.firstArrival.Sub(r.sched) > h.opts.capP99 {
					late++
				}
			case now.Sub(r.sched) > h.opts.capP99:
				late++ // not received yet, and already older than the limit
			}
		}
		h.tr.mu.Unlock()
		if refused > 0 {
			res.Aborted = fmt.Sprintf("%d clicks refused after %.0f s", refused, now.Sub(start).Seconds())
		} else if late > budget {
			res.Aborted = fmt.Sprintf("%d events (more than 1%%) later than %s after %.0f s", late, h.opts.capP99, now.Sub(start).Seconds())
		}
		if res.Aborted != "" {
			close(stop)
			return
		}
	}
}

// analyse turns the records into the phase's figures.
func (h *harness) analyse(res *phaseResult, records, warm []*clickRecord, start, answered, end time.Time) {
	snap := h.tr.snapshot(records)
	res.Sent = len(snap)
	var httpLat, lag, deliv []time.Duration
	var order []schedArrival
	var events []ackArrival
	var last time.Time
	for i, r := range snap {
		if r.sched.After(last) {
			last = r.sched
		}
		lag = append(lag, r.sent.Sub(r.sched))
		if !r.done.IsZero() && (r.status > 0 || r.errKind == "timeout") {
			httpLat = append(httpLat, r.done.Sub(r.sched))
		}
		switch {
		case r.corrID != "":
			res.Acked++
		case r.status == 0:
			res.Statuses[r.errKind]++
		default:
			k := strconv.Itoa(r.status)
			if r.errKind != "" {
				k += " " + r.errKind
			}
			res.Statuses[k]++
		}
		if r.corrID == "" {
			continue
		}
		events = append(events, ackArrival{acked: r.done, arrived: r.firstArrival})
		if r.arrivals == 0 {
			res.Missing++
			res.missing = append(res.missing, records[i])
			if len(res.MissingIDs) < 20 {
				res.MissingIDs = append(res.MissingIDs, r.corrID)
			}
			continue
		}
		deliv = append(deliv, r.firstArrival.Sub(r.sched))
		order = append(order, schedArrival{sched: r.sched, arrived: r.firstArrival})
		if r.arrivals > 1 {
			res.Duplicates++
		}
	}
	for _, r := range h.tr.snapshot(warm) {
		if r.corrID != "" && r.arrivals == 0 {
			res.WarmupMissing++
		}
	}
	if len(snap) > 1 {
		res.SendRate = float64(len(snap)-1) / last.Sub(snap[0].sched).Seconds()
	}
	res.HTTP, res.Lag, res.Delivery = summarize(httpLat), summarize(lag), summarize(deliv)
	n, worst := overtaken(order, overtakeBy)
	res.Overtaken, res.OvertakenMaxS = n, worst.Seconds()
	res.Backlog = backlogSeries(events, start, end, 500*time.Millisecond)
	res.Seconds = secondsOf(snap)
	for _, p := range res.Backlog {
		res.BacklogMax = max(res.BacklogMax, p.Backlog)
	}
	if bs := backlogSeries(events, answered, answered, time.Second); len(bs) == 1 {
		res.BacklogEnd = bs[0].Backlog
	}
	res.Flat, res.BacklogGrowth = flatBacklog(res.Backlog, time.Duration(res.DurationS*float64(time.Second)), res.Rate)
	if res.Aborted != "" {
		res.Flat = false
	}
	if res.Acked > 0 {
		n := float64(res.Acked)
		res.PerEvent = perEvent{ServiceMs: res.CPU.ServiceS * 1000 / n, PGMs: res.CPU.PGS * 1000 / n, HarnessMs: res.CPU.HarnessS * 1000 / n}
	}
	if res.Missing > 0 {
		res.Failures = append(res.Failures, fmt.Sprintf("%d acknowledged clicks never reached the partner within %s of the load's end, e.g. %v",
			res.Missing, h.opts.drainTimeout, res.MissingIDs))
	}
	if res.WarmupMissing > 0 {
		res.Failures = append(res.Failures, fmt.Sprintf("%d acknowledged warm-up clicks never reached the partner", res.WarmupMissing))
	}
	if res.Lag.P99 > 10 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the generator fell behind its schedule: send lag p99 %.1f ms, max %.1f ms (latencies still count from the schedule)", res.Lag.P99, res.Lag.Max))
	}
	if res.GenInflight >= int64(res.GenConnLimit) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the generator reached its %d-connection limit: clicks queued in the client (counted in their latency)", res.GenConnLimit))
	}
	if busy := (res.CPU.OtherS + res.CPU.PGOtherDBsS) / max(res.CPU.MachineTotalS, 1e-9); busy > 0.15 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("other tenants (processes and other databases' backends) used %.0f%% of the machine during the window", 100*busy))
	}
	// Memory per in-flight delivery and per open click connection, as upper
	// bounds: the growth of the resident set over idle, divided by the most
	// deliveries (or click requests) in flight at once. It also holds the
	// pools' connections, buffers and the GC's headroom, so it is a ceiling
	// on the per-item cost, not the cost; -receiver-delay holds deliveries in
	// flight to make the divisor large.
	var growth int64
	for _, p := range res.Processes {
		growth += max(0, p.PeakRSSKiB-p.IdleRSSKiB)
	}
	res.RSSGrowthKiB = growth
	if res.RecvMaxInflight > 0 {
		res.KiBPerInflightDelivery = float64(growth) / float64(res.RecvMaxInflight)
	}
	if res.GenInflight > 0 {
		res.KiBPerOpenConnection = float64(growth) / float64(res.GenInflight)
	}
}

// recheckMissing counts the phase's missing events that arrived after all,
// after its drain timeout (during a later phase, say).
func (h *harness) recheckMissing(res *phaseResult) {
	late := 0
	for _, r := range h.tr.snapshot(res.missing) {
		if r.arrivals > 0 {
			late++
		}
	}
	res.ArrivedLate = late
}

// rssSampler keeps each process's highest sampled VmRSS.
type rssSampler struct {
	top  *topology
	stop chan struct{}
	done chan struct{}
	max  []int64
}

func startRSSSampler(top *topology) *rssSampler {
	s := &rssSampler{top: top, stop: make(chan struct{}), done: make(chan struct{}), max: make([]int64, len(top.procs))}
	go func() {
		defer close(s.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			for i, p := range top.procs {
				if v, err := procStatusKiB(p.pid(), "VmRSS"); err == nil && v > s.max[i] {
					s.max[i] = v
				}
			}
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

func (s *rssSampler) finish() []int64 {
	close(s.stop)
	<-s.done
	return s.max
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// sortedKeys lists a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// overtakeBy is how much later an event must have been scheduled to count
// as overtaking an earlier one: deliveries run concurrently and commit in
// groups, so a few milliseconds of shuffle is the normal course.
const overtakeBy = time.Second

// schedArrival is when an event was due to be clicked and when it reached
// the partner.
type schedArrival struct{ sched, arrived time.Time }

// overtaken counts the events that reached the partner after one scheduled
// at least by later than them, and returns the most any was overtaken by.
func overtaken(events []schedArrival, by time.Duration) (int, time.Duration) {
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, func(a, b schedArrival) int { return a.arrived.Compare(b.arrived) })
	var (
		n      int
		worst  time.Duration
		latest time.Time // the latest schedule among the events arrived so far
	)
	for _, e := range sorted {
		if ahead := latest.Sub(e.sched); !latest.IsZero() && ahead >= by {
			n++
			worst = max(worst, ahead)
		}
		if e.sched.After(latest) {
			latest = e.sched
		}
	}
	return n, worst
}
