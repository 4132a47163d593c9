// Command load is the service's open-loop load harness (issue 11): it starts
// the service itself (one or several processes on a fresh database), sends
// widget clicks on a fixed schedule at each rate, receives every webhook as
// the one active partner (both signatures verified), matches each event to
// its click, and reports per rate: click HTTP latency, click → partner
// latency, missing and duplicate events, the backlog and its drain, peak
// RSS, and CPU per event split between Go, PostgreSQL and the generator. A
// ceiling (-ceiling: pgbench running the service's own per-click SQL, and
// River working no-op jobs) and a capacity search (-capacity) run in the
// same run. Every latency counts from the scheduled send time.
//
//	go tool task load                                  # build the tree; 50, 200, 500/s for 30 s each
//	go tool task load -- -rates 20,50 -duration 10s    # flags after --
//	go run ./test/load -h                              # every flag
//
// A run in which an acknowledged click's event never reaches the partner
// within -drain-timeout, or a delivery fails signature verification, exits
// non-zero. See README.md ("Load harness").
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// binarySpec is one service binary under test.
type binarySpec struct{ name, path string }

// options are the command line.
type options struct {
	rates           []float64
	duration        time.Duration
	warmup          time.Duration
	binaries        []binarySpec
	src             string
	topologies      [][]string
	env             []string
	keepDB          bool
	adminURL        string
	drainTimeout    time.Duration
	httpTimeout     time.Duration
	maxConns        int
	receiverDelay   time.Duration
	ceiling         bool
	ceilingDuration time.Duration
	ceilingClients  int
	ceilingJobs     int
	ceilingProtocol string
	capacity        bool
	capLow, capHigh float64
	capResolution   float64
	capP99          time.Duration
	capBudget       time.Duration
	capSteps        int
	preload         int
	diskProbe       time.Duration
	preloadChunk    int
	template        string
	templates       map[string]string // binary name ("" for every binary) → database to copy
	readme          string
	resultsDir      string
	note            string
	pgLog           string
	seed            int64
}

// topologyName is a topology as the flag spells it: api+worker+worker.
func topologyName(roles []string) string { return strings.Join(roles, "+") }

// topologyNames lists the run's topologies as the flag spells them.
func (o *options) topologyNames() string {
	names := make([]string, len(o.topologies))
	for i, t := range o.topologies {
		names[i] = topologyName(t)
	}
	return strings.Join(names, ",")
}

var binaryName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,20}$`)

func parseRates(s string) ([]float64, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 || r > 100000 {
			return nil, fmt.Errorf("-rates: %q is not a rate per second", f)
		}
		out = append(out, r)
	}
	return out, nil
}

// parseBinaries reads "path" or "name=path,name=path"; the path "build"
// builds the tree.
func parseBinaries(s string) ([]binarySpec, error) {
	var out []binarySpec
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, path, ok := strings.Cut(item, "=")
		if !ok {
			path = name
			name = strings.ToLower(regexp.MustCompile(`[^a-z0-9_]`).ReplaceAllString(strings.ToLower(filepath.Base(path)), "_"))
			if path == "build" {
				name = "tree"
			}
		}
		if !binaryName.MatchString(name) {
			return nil, fmt.Errorf("-binary: name %q must be lower-case letters, digits and _", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("-binary: name %q given twice", name)
		}
		seen[name] = true
		out = append(out, binarySpec{name: name, path: path})
	}
	return out, nil
}

// parseTemplates reads -template: "DB" (a copy of DB for every binary) or
// "name=DB,name=DB" (for the binaries named; the others start empty).
func parseTemplates(s string, bins []binarySpec) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if !strings.Contains(s, "=") {
		return map[string]string{"": s}, nil
	}
	known := map[string]bool{}
	for _, b := range bins {
		known[b.name] = true
	}
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		name, db, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || name == "" || db == "" {
			return nil, fmt.Errorf("-template: %q is not name=database", item)
		}
		if !known[name] {
			return nil, fmt.Errorf("-template: no binary is named %q (-binary names them)", name)
		}
		out[name] = db
	}
	return out, nil
}

// templateFor is the database a binary's targets start as a copy of ("":
// an empty one).
func templateFor(templates map[string]string, binary string) string {
	if db, ok := templates[binary]; ok {
		return db
	}
	return templates[""]
}

func parseTopology(s string) ([]string, error) {
	roles := strings.Split(s, "+")
	api := false
	for _, r := range roles {
		switch r {
		case "all", "api":
			api = true
		case "worker":
		default:
			return nil, fmt.Errorf("-topology: role %q is not all, api or worker", r)
		}
	}
	if !api {
		return nil, fmt.Errorf("-topology %s: at least one process must be all or api (clicks go there)", s)
	}
	return roles, nil
}

// parseTopologies reads one topology or several, comma-separated
// ("all,api+worker+worker"): each is measured at every rate and capacity
// step, alternately, as several binaries are.
func parseTopologies(s string) ([][]string, error) {
	var out [][]string
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("-topology %q: an empty topology", s)
		}
		roles, err := parseTopology(item)
		if err != nil {
			return nil, err
		}
		if seen[item] {
			return nil, fmt.Errorf("-topology: %s given twice", item)
		}
		seen[item] = true
		out = append(out, roles)
	}
	return out, nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rates := fs.String("rates", "50,200,500", "clicks per second, comma-separated, one measured phase each (none: only -capacity)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "measured load per rate (and per capacity step)")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "load at the phase's rate before each measured phase (not measured; drained first)")
	bins := fs.String("binary", "build", "service binaries: a path, or name=path,name=path to compare (run alternately per rate); the path build builds the tree")
	fs.StringVar(&o.src, "src", ".", "the module's source tree (builds, Taskfile's DEV_ENV, test/bench/README.md)")
	topo := fs.String("topology", "all", "processes on the one database, by AURIX_ROLE: all, or e.g. api+worker+worker (clicks go to all/api processes); several, comma-separated (all,api+worker+worker), are measured alternately per rate and per capacity step")
	fs.Func("env", "KEY=VALUE for the service, repeatable (after the development settings)", func(s string) error {
		if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
			return fmt.Errorf("-env %q is not KEY=VALUE", s)
		}
		o.env = append(o.env, s)
		return nil
	})
	fs.BoolVar(&o.keepDB, "keep-db", false, "keep the aurix_load_* databases (they are dropped otherwise)")
	fs.StringVar(&o.adminURL, "pg", envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL superuser URL (databases are created next to it)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 2*time.Minute, "after the load, how long every acknowledged event has to reach the partner; a later one fails the run")
	fs.DurationVar(&o.httpTimeout, "http-timeout", 30*time.Second, "click request timeout (the widget itself gives up after 1.5 s; the harness measures the whole answer)")
	fs.IntVar(&o.maxConns, "conns", 4096, "the generator's connection limit to the service (requests over it queue in the client, counted in their latency)")
	fs.DurationVar(&o.receiverDelay, "receiver-delay", 0, "the partner answers each delivery after this long (holds deliveries in flight, e.g. to measure memory per in-flight delivery)")
	fs.BoolVar(&o.ceiling, "ceiling", false, "also measure the ceiling: pgbench running the service's captured per-click SQL, and River working no-op jobs, max and at each rate")
	fs.DurationVar(&o.ceilingDuration, "ceiling-duration", 10*time.Second, "length of each ceiling measurement")
	fs.IntVar(&o.ceilingClients, "ceiling-clients", 0, "pgbench clients (0: the click-serving processes' database connections, AURIX_DATABASE_MAX_CONNS × the all and api processes)")
	fs.IntVar(&o.ceilingJobs, "ceiling-jobs", 10000, "no-op jobs of River's maximum-rate ceiling")
	fs.StringVar(&o.ceilingProtocol, "ceiling-protocol", "prepared", "pgbench -M: prepared (what PostgreSQL can do with the SQL) or simple")
	fs.BoolVar(&o.capacity, "capacity", false, "search the highest rate that holds for -duration (flat backlog, click → partner p99 ≤ -capacity-p99, nothing lost)")
	fs.Float64Var(&o.capLow, "capacity-low", 50, "capacity search: lowest rate")
	fs.Float64Var(&o.capHigh, "capacity-high", 1600, "capacity search: highest rate")
	fs.Float64Var(&o.capResolution, "capacity-resolution", 0.1, "capacity search: stop when the failing rate is within this fraction above the holding one")
	fs.DurationVar(&o.capP99, "capacity-p99", time.Second, "capacity search: click → partner p99 a rate must keep")
	fs.DurationVar(&o.capBudget, "capacity-budget", 20*time.Minute, "capacity search: time per binary and topology")
	fs.IntVar(&o.capSteps, "capacity-steps", 8, "capacity search: steps per binary and topology at most")
	fs.DurationVar(&o.diskProbe, "disk-probe", 10*time.Second, "before the load, time fdatasync on PostgreSQL's disk this long (0: not)")
	fs.IntVar(&o.preload, "preload", 0, "fill the tables with this many old clicks (with outbox rows, succeeded deliveries and attempts) before measuring")
	fs.IntVar(&o.preloadChunk, "preload-chunk", 100000, "clicks per preload transaction")
	fs.StringVar(&o.template, "template", "", "create each target's database as a copy of this kept database (one a -preload -keep-db run left, say) instead of an empty one; name=DB,… copies it for the binaries named only (the others start empty), to compare a filled database with an empty one in one run")
	fs.StringVar(&o.readme, "readme", "test/bench/README.md", "file whose <!-- load:begin --> … <!-- load:end --> block gets the report (empty: none)")
	fs.StringVar(&o.resultsDir, "results", "test/bench/results", "where the JSON, the service logs and the scripts go (git-ignored)")
	fs.StringVar(&o.note, "note", "", "a note printed with the report, e.g. \"smoke run, machine shared\"")
	fs.StringVar(&o.pgLog, "pg-log", "", "the server's log file, for the ceiling's SQL capture (found by itself when readable)")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the generated clicks")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.rates, err = parseRates(*rates); err != nil {
		return nil, err
	}
	if len(o.rates) == 0 && !o.capacity {
		return nil, errors.New("nothing to do: give -rates or -capacity")
	}
	if o.binaries, err = parseBinaries(*bins); err != nil {
		return nil, err
	}
	if len(o.binaries) == 0 {
		return nil, errors.New("-binary: no binary")
	}
	if o.topologies, err = parseTopologies(*topo); err != nil {
		return nil, err
	}
	if o.duration < time.Second {
		return nil, errors.New("-duration must be at least 1s")
	}
	if o.ceilingDuration < 2*time.Second {
		return nil, errors.New("-ceiling-duration must be at least 2s (the first second of each River run is its warm-up)")
	}
	if o.ceilingProtocol != "prepared" && o.ceilingProtocol != "simple" && o.ceilingProtocol != "extended" {
		return nil, errors.New("-ceiling-protocol must be prepared, simple or extended")
	}
	if o.capacity && (o.capLow <= 0 || o.capHigh <= o.capLow || o.capResolution <= 0) {
		return nil, errors.New("-capacity-low, -capacity-high and -capacity-resolution must satisfy 0 < low < high, resolution > 0")
	}
	if o.templates, err = parseTemplates(o.template, o.binaries); err != nil {
		return nil, err
	}
	if o.template != "" && o.preload > 0 {
		return nil, errors.New("-template and -preload: a copied database is already filled; give one of them")
	}
	if o.preload < 0 || o.preloadChunk < 1 {
		return nil, errors.New("-preload must be ≥ 0 and -preload-chunk ≥ 1")
	}
	return o, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// binaryInfo is what the report says of a binary.
type binaryInfo struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Revision string `json:"revision"`
	Modified bool   `json:"modified"`
	GoVer    string `json:"go"`
	DB       string `json:"database"`
	Template string `json:"template,omitempty"`
}

// target is one binary in one topology, with its database: each rate and
// each capacity step runs every target in turn.
type target struct {
	name, binary string
	// topo is the processes it runs as; topoLabel names it in the results
	// when the run has several topologies ("" when it has one, so that a
	// run of one topology reports as it always did).
	topo      []string
	topoLabel string
	db        string
	tag       string // the receiver's path for its config
	configID  string
	info      binaryInfo
}

// label names the target in logs and reports: the binary, and its
// topology when the run has several ("tree/api+worker+worker").
func (t *target) label() string { return joinLabel(t.name, t.topoLabel) }

// key names the target in file and database names.
func (t *target) key() string {
	if t.topoLabel == "" {
		return t.name
	}
	return t.name + "_" + strings.ReplaceAll(t.topoLabel, "+", "_")
}

// joinLabel is "binary" or "binary/topology".
func joinLabel(binary, topology string) string {
	if topology == "" {
		return binary
	}
	return binary + "/" + topology
}

// makeTargets pairs every binary with every topology, binary by binary;
// topoLabel is set only when there are several topologies.
func makeTargets(binaries []binarySpec, topologies [][]string) []*target {
	var out []*target
	for _, b := range binaries {
		for _, topo := range topologies {
			t := &target{name: b.name, binary: b.path, topo: topo}
			if len(topologies) > 1 {
				t.topoLabel = topologyName(topo)
			}
			out = append(out, t)
		}
	}
	return out
}

// harness is one run.
type harness struct {
	opts   *options
	root   string
	outDir string
	stamp  string
	stderr io.Writer
	dev    map[string]string
	cl     *cluster
	tr     *tracker
	rec    *receiver
	gen    *generator
	dbs    []string
	seq    uint64
	res    *runResult
}

func (h *harness) logf(format string, a ...any) {
	fmt.Fprintf(h.stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func (h *harness) warn(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	h.res.Warnings = append(h.res.Warnings, msg)
	h.logf("WARNING: %s", msg)
}

func (h *harness) fail(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	h.res.Failures = append(h.res.Failures, msg)
	h.logf("FAILED: %s", msg)
}

func (h *harness) outPath(name string) string { return filepath.Join(h.outDir, name) }

// rel is a path relative to the source tree, for the report.
func (h *harness) rel(path string) string {
	if r, err := filepath.Rel(h.root, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return path
}

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream)) //nolint:gosec // reproducible click bodies, not secrets
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-compare" || args[0] == "--compare") {
		if len(args) != 3 {
			fmt.Fprintln(stderr, "usage: load -compare a.json b.json")
			return 2
		}
		if err := compareRuns(args[1], args[2], stdout); err != nil {
			fmt.Fprintln(stderr, "load:", err)
			return 2
		}
		return 0
	}
	opts, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "load:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := &harness{opts: opts, stderr: stderr, stamp: time.Now().UTC().Format("20060102-150405")}
	h.res = &runResult{Started: time.Now().UTC(), Args: args, Command: commandLine(args), Note: opts.note,
		Topology: opts.topologyNames()}
	code := h.run(ctx, stdout)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "load: interrupted")
		return 130
	}
	return code
}

func (h *harness) run(ctx context.Context, stdout io.Writer) int {
	o := h.opts
	var err error
	if h.root, err = findRoot(o.src); err != nil {
		fmt.Fprintln(h.stderr, "load:", err)
		return 2
	}
	taskfile, err := os.ReadFile(filepath.Join(h.root, "Taskfile.yml"))
	if err == nil {
		h.dev, err = parseDevEnv(taskfile)
	}
	if err != nil {
		fmt.Fprintln(h.stderr, "load: the development settings:", err)
		return 2
	}
	results := o.resultsDir
	if !filepath.IsAbs(results) {
		results = filepath.Join(h.root, results)
	}
	h.outDir = filepath.Join(results, "load-"+h.stamp)
	if err := os.MkdirAll(h.outDir, 0o750); err != nil {
		fmt.Fprintln(h.stderr, "load:", err)
		return 2
	}
	if h.cl, err = connectCluster(ctx, o.adminURL); err != nil {
		fmt.Fprintln(h.stderr, "load:", err)
		return 2
	}
	defer h.cl.admin.Close()
	h.tr = newTracker()
	if h.rec, err = startReceiver(ctx, h.tr, o.receiverDelay); err != nil {
		fmt.Fprintln(h.stderr, "load:", err)
		return 2
	}
	defer h.rec.close(context.Background())
	h.gen = newGenerator(h.tr, o.maxConns, o.httpTimeout)
	defer h.cleanup()

	h.res.Machine = h.machine(ctx)
	if o.diskProbe > 0 {
		d, err := h.probeDisk(ctx, o.diskProbe)
		if err != nil {
			h.warn("%v", err)
		}
		h.res.Disk = d
	}
	h.res.Env = maskedEnv(h.dev, o.env)
	h.logf("results in %s", h.rel(h.outDir))
	targets, err := h.prepare(ctx)
	if err != nil {
		h.fail("setting up: %v", err)
		return h.finish(stdout)
	}
	if o.preload > 0 {
		for _, t := range targets {
			h.logf("%s: preloading %d clicks", t.label(), o.preload)
			pr, err := h.preload(ctx, t, o.preload, o.preloadChunk)
			if err != nil {
				h.fail("%s: preload: %v", t.label(), err)
				return h.finish(stdout)
			}
			h.res.Preload = append(h.res.Preload, pr)
			h.logf("%s: preloaded %d clicks in %.0f s (%.0f/s), VACUUM ANALYZE and CHECKPOINT %.0f s", t.label(), pr.Rows, pr.InsertS, pr.RowsPerS, pr.VacuumS)
		}
	}
	if o.ceiling {
		h.ceilings(ctx, targets)
	}
	for i, rate := range o.rates {
		if ctx.Err() != nil {
			break
		}
		if o.ceiling {
			h.ceilingsAtRate(ctx, rate)
		}
		for _, t := range inTurn(targets, i) {
			r := h.runPhase(ctx, t, phaseSpec{kind: "rate", rate: rate, duration: o.duration})
			h.record(r)
		}
	}
	if o.capacity {
		h.searchCapacities(ctx, targets)
	}
	return h.finish(stdout)
}

// inTurn is the order the targets run in at round i (a rate, or a
// capacity step): as given, then reversed, and so on, so that no target
// always runs first (after a restart of PostgreSQL's caches, say) or last.
func inTurn[T any](s []T, i int) []T {
	if i%2 == 0 {
		return s
	}
	return reversed(s)
}

func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// record keeps a phase and says how it went.
func (h *harness) record(r *phaseResult) {
	h.res.Phases = append(h.res.Phases, r)
	h.logf("%s at %g/s: %d sent, %d acknowledged; HTTP p50 %.1f p99 %.1f ms; click → partner p50 %.1f p99 %.1f ms; missing %d, duplicates %d; overtaken by 1 s %d; drain %.1f s",
		r.label(), r.Rate, r.Sent, r.Acked, r.HTTP.P50, r.HTTP.P99, r.Delivery.P50, r.Delivery.P99, r.Missing, r.Duplicates,
		r.Overtaken, r.DrainS)
	for _, f := range r.Failures {
		h.fail("%s at %g/s: %s", r.label(), r.Rate, f)
	}
	for _, w := range r.Warnings {
		h.logf("warning: %s at %g/s: %s", r.label(), r.Rate, w)
	}
}

// searchCapacities runs the capacity search of every target, a step of
// each in turn (the order reversed every round, as the rates are), so that
// the targets' steps share the machine's state over the whole search.
func (h *harness) searchCapacities(ctx context.Context, targets []*target) {
	o := h.opts
	p := searchParams{low: o.capLow, high: o.capHigh, resolution: o.capResolution, maxSteps: o.capSteps, budget: o.capBudget,
		stepCost: func(rate float64) time.Duration {
			return 10*time.Second + o.warmup + o.duration + o.duration/2 // start-up, warm-up, load, a drain
		}}
	searches := make([]*capacitySearch, len(targets))
	for i, t := range targets {
		searches[i] = newCapacitySearch(p)
		h.logf("%s: capacity search between %g and %g/s, %s per step", t.label(), o.capLow, o.capHigh, o.duration)
	}
	alternateSearches(searches, func(i int, rate float64) (bool, string) {
		t := targets[i]
		if ctx.Err() != nil {
			return false, "interrupted"
		}
		r := h.runPhase(ctx, t, phaseSpec{kind: "capacity", rate: rate, duration: o.duration, abort: true})
		h.record(r)
		h.logf("%s capacity step %g/s: holds=%v (%s)", t.label(), rate, r.Holds, r.Why)
		return r.Holds, r.Why
	})
	for i, t := range targets {
		res := searches[i].result()
		res.Binary, res.Topology = t.name, t.topoLabel
		res.StepDurationS = o.duration.Seconds()
		res.ResolutionFactor = o.capResolution
		h.res.Capacity = append(h.res.Capacity, &res)
		h.logf("%s: capacity %s %g/s: %s", t.label(), res.Bound, res.Capacity, res.Decision)
	}
}

// findRoot is the module root at or above dir.
func findRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/aurix/integrations") { //nolint:gosec // a go.mod
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no github.com/aurix/integrations go.mod at or above %s (-src)", dir)
		}
		d = parent
	}
}

// prepare builds or checks each binary, and gives each a fresh, migrated
// database with the receiver registered as its active partner and one click
// delivered end to end.
func (h *harness) prepare(ctx context.Context) ([]*target, error) {
	infos := map[string]binaryInfo{} // binary name → the executable's description
	for _, b := range h.opts.binaries {
		path := b.path
		if b.path == "build" {
			path = h.outPath("aurix-" + b.name)
			h.logf("building %s", h.rel(path))
			cmd := execCommand(ctx, h.root, "go", "build", "-o", path, "./bootstrap/cmd/aurix")
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("go build: %w\n%s", err, out)
			}
		} else if !filepath.IsAbs(path) {
			if _, err := os.Stat(path); err != nil {
				path = filepath.Join(h.root, path)
			}
			if abs, err := filepath.Abs(path); err == nil {
				path = abs
			}
		}
		if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("-binary %s: %s is not an executable file", b.name, path)
		}
		info := describeBinary(b.name, path)
		if b.path == "build" {
			info.Revision, info.Modified = gitRevision(ctx, h.root)
		}
		infos[b.name] = info
	}
	targets := makeTargets(h.opts.binaries, h.opts.topologies)
	var dbs []string
	for i, t := range targets {
		t.info = infos[t.name]
		t.binary = t.info.Path
		t.db = newDBName(t.key())
		t.tag = t.db
		t.info.DB = t.db
		t.info.Template = templateFor(h.opts.templates, t.name)
		if err := h.cl.create(ctx, t.db, t.info.Template); err != nil {
			return nil, err
		}
		h.dbs = append(h.dbs, t.db)
		if err := migrate(ctx, t.binary, h.cl.dbURL(t.db)); err != nil {
			return nil, err
		}
		top, err := startTopology(ctx, t.binary, t.topo, h.dev, h.cl.dbURL(t.db), h.opts.env, h.outPath(t.key()+"-prepare"))
		if err != nil {
			if top != nil {
				_ = top.stop()
			}
			return nil, fmt.Errorf("%s: %w", t.label(), err)
		}
		t.configID, err = h.registerPartner(ctx, top, t.tag)
		if err == nil {
			_, err = h.postSequential(ctx, top, 1)
		}
		stopErr := top.stop()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.label(), err)
		}
		if stopErr != nil {
			return nil, fmt.Errorf("%s: %w", t.label(), stopErr)
		}
		dbs = append(dbs, t.db)
		// A binary is listed once, with the databases of its topologies.
		if i == len(targets)-1 || targets[i+1].name != t.name {
			info := t.info
			info.DB = strings.Join(dbs, " ")
			h.res.Binaries = append(h.res.Binaries, info)
			dbs = nil
		}
	}
	return targets, nil
}

func (h *harness) cleanup() {
	for _, b := range h.opts.binaries {
		if b.path == "build" {
			_ = os.Remove(h.outPath("aurix-" + b.name)) // 50 MB, and rebuilt from the revision the report names
		}
	}
	if h.opts.keepDB {
		if len(h.dbs) > 0 {
			h.logf("kept databases: %s", strings.Join(h.dbs, " "))
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, db := range h.dbs {
		if err := h.cl.drop(ctx, db); err != nil {
			h.logf("%v", err)
		}
	}
}

// clickProcesses counts the processes of a topology that take clicks (roles
// all and api): only their connections run the click's SQL, so only they
// set the pgbench ceiling's clients.
func clickProcesses(topo []string) int {
	n := 0
	for _, role := range topo {
		if role == "all" || role == "api" {
			n++
		}
	}
	return max(n, 1)
}

// ceilings captures each binary's click SQL and measures the maximum-rate
// ceilings (pgbench per binary, River once).
func (h *harness) ceilings(ctx context.Context, targets []*target) {
	o := h.opts
	for _, t := range targets {
		clients := o.ceilingClients
		if clients == 0 {
			clients = envInt(h.dev, o.env, "AURIX_DATABASE_MAX_CONNS", 20) * clickProcesses(t.topo)
		}
		h.logf("%s: capturing the per-click SQL", t.label())
		c, err := h.captureClickSQL(ctx, t)
		if err != nil {
			h.warn("%s: no pgbench ceiling: %v", t.label(), err)
			continue
		}
		c.Clients = clients
		c.Max = h.runPgbench(ctx, c, 0, o.ceilingDuration, 10)
		h.logf("%s: pgbench (%s, %d clients) %.0f tx/s, p50 %.1f p99 %.1f ms (%s)", t.label(), c.Protocol, clients, c.Max.TPS, c.Max.Latency.P50, c.Max.Latency.P99, c.Source)
		if c.Max.Failed != "" {
			h.warn("%s: pgbench: %s", t.label(), c.Max.Failed)
		}
		h.res.Ceilings = append(h.res.Ceilings, c)
	}
	if len(h.res.Ceilings) == 0 {
		return
	}
	s := h.riverSettings()
	h.res.River = &riverCeilingResult{Settings: map[string]string{
		"workers": strconv.Itoa(s.workers), "fetch_cooldown": s.fetchCooldown.String(), "fetch_poll_interval": s.fetchPoll.String(),
		"max_conns": strconv.Itoa(s.maxConns)}}
	h.res.River.Max = h.riverCeiling(ctx, h.res.Ceilings[0].db, s, 0, 0, o.ceilingJobs)
	h.logf("River: %.0f no-op jobs/s (%d workers)", h.res.River.Max.JobsPerS, s.workers)
	if h.res.River.Max.Failed != "" {
		h.warn("River ceiling: %s", h.res.River.Max.Failed)
	}
}

// ceilingsAtRate measures pgbench and River at one rate, just before the
// service runs at it.
func (h *harness) ceilingsAtRate(ctx context.Context, rate float64) {
	o := h.opts
	permille := min(1000, int(math.Round(10_000/rate))) // River notifies at most ~10 times a second
	for _, c := range h.res.Ceilings {
		r := h.runPgbench(ctx, c, rate, o.ceilingDuration, permille)
		c.AtRate = append(c.AtRate, r)
		h.logf("%s: pgbench at %g/s: p50 %.1f p99 %.1f ms", c.label(), rate, r.Latency.P50, r.Latency.P99)
		if r.Failed != "" {
			h.warn("%s: pgbench at %g/s: %s", c.label(), rate, r.Failed)
		}
	}
	if h.res.River != nil && len(h.res.Ceilings) > 0 {
		r := h.riverCeiling(ctx, h.res.Ceilings[0].db, h.riverSettings(), rate, o.ceilingDuration, 0)
		h.res.River.AtRate = append(h.res.River.AtRate, r)
		h.logf("River at %g/s: insert → worked p50 %.1f p99 %.1f ms", rate, r.Latency.P50, r.Latency.P99)
		if r.Failed != "" {
			h.warn("River ceiling at %g/s: %s", rate, r.Failed)
		}
	}
}

func (h *harness) riverSettings() riverSettings {
	return riverSettings{
		workers:       envInt(h.dev, h.opts.env, "AURIX_WEBHOOK_WORKERS", 50),
		fetchCooldown: envDuration(h.dev, h.opts.env, "AURIX_RIVER_FETCH_COOLDOWN", 20*time.Millisecond),
		fetchPoll:     envDuration(h.dev, h.opts.env, "AURIX_RIVER_FETCH_POLL_INTERVAL", 500*time.Millisecond),
		maxConns:      envInt(h.dev, h.opts.env, "AURIX_DATABASE_MAX_CONNS", 20),
	}
}

// envValue is a setting as the service sees it: -env, else DEV_ENV.
func envValue(dev map[string]string, overrides []string, key string) (string, bool) {
	for i := len(overrides) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(overrides[i], "="); k == key {
			return v, true
		}
	}
	v, ok := dev[key]
	return v, ok
}

func envInt(dev map[string]string, overrides []string, key string, def int) int {
	if v, ok := envValue(dev, overrides, key); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return def
}

func envDuration(dev map[string]string, overrides []string, key string, def time.Duration) time.Duration {
	if v, ok := envValue(dev, overrides, key); ok {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return def
}

// maskedEnv lists the service's settings for the report, secrets masked.
func maskedEnv(dev map[string]string, overrides []string) []string {
	var out []string
	for _, k := range sortedKeys(dev) {
		v := dev[k]
		if secretLike.MatchString(k) {
			v = "(development default)"
		}
		out = append(out, k+"="+v)
	}
	out = append(out, "AURIX_WIDGET_RATE_LIMIT=0", "AURIX_MIGRATE_ON_START=false", "AURIX_ROLE=(per process)")
	for _, kv := range overrides {
		k, v, _ := strings.Cut(kv, "=")
		if secretLike.MatchString(k) {
			v = "(set, not shown)"
		}
		out = append(out, "-env "+k+"="+v)
	}
	return out
}

// describeBinary reads a binary's build information.
func describeBinary(name, path string) binaryInfo {
	info := binaryInfo{Name: name, Path: path}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return info
	}
	info.GoVer = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if len(info.Revision) > 12 {
		info.Revision = info.Revision[:12]
	}
	return info
}

func gitRevision(ctx context.Context, root string) (string, bool) {
	out, err := execCommand(ctx, root, "git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "", false
	}
	status, _ := execCommand(ctx, root, "git", "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), len(strings.TrimSpace(string(status))) > 0
}

// machineInfo describes where the run ran.
type machineInfo struct {
	Cores      int               `json:"cores"`
	CPU        string            `json:"cpu"`
	Go         string            `json:"go"`
	PostgreSQL string            `json:"postgresql"`
	Settings   map[string]string `json:"pg_settings"`
	LoadAvg    string            `json:"load_avg_at_start"`
	Harness    string            `json:"harness_revision"`
}

func (h *harness) machine(ctx context.Context) machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadAvg: loadAvg(), Settings: map[string]string{}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	m.PostgreSQL = h.cl.setting(ctx, "server_version")
	for _, s := range []string{"shared_buffers", "synchronous_commit", "fsync", "autovacuum", "max_connections"} {
		m.Settings[s] = h.cl.setting(ctx, s)
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				m.Harness = s.Value[:12]
			}
		}
	}
	return m
}

// commandLine is the run's command as a user types it.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./test/load"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$`\\|&;<>()*?[]{}!#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
