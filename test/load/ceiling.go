package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// fallbackScript is the click transaction of the service as captured on
// 1 Dec 2026 (one active partner), used when the capture fails; the report
// says when it was.
//
//go:embed click-fallback.sql
var fallbackScript string

// pgbenchRun is one pgbench measurement of the click SQL.
type pgbenchRun struct {
	Rate        float64 `json:"rate"` // 0: as fast as it goes
	Clients     int     `json:"clients"`
	DurationS   float64 `json:"duration_s"`
	Tx          int     `json:"transactions"`
	TPS         float64 `json:"tps"`
	Latency     summary `json:"latency"` // with a rate: from the scheduled start (pgbench's own lag included)
	PGCPUms     float64 `json:"pg_cpu_ms_per_tx"`
	ClientCPUms float64 `json:"client_cpu_ms_per_tx"`
	Failed      string  `json:"failed,omitempty"`
}

// ceilingResult is what this machine does with one binary's click SQL and
// with River alone, in the same run.
type ceilingResult struct {
	Binary string `json:"binary"`
	// Topology is set when the run measured several: the click's SQL and
	// the connections differ by topology (an api process notifies the
	// workers; the clients count every process's pool).
	Topology   string       `json:"topology,omitempty"`
	Source     string       `json:"source"` // "captured" or "fallback (why)"
	ScriptPath string       `json:"script_path"`
	Script     scriptResult `json:"script"`
	Protocol   string       `json:"protocol"`
	Clients    int          `json:"clients"`
	Max        pgbenchRun   `json:"pgbench_max"`
	AtRate     []pgbenchRun `json:"pgbench_at_rate"`
	db         string
}

// label names the ceiling's target: "binary" or "binary/topology".
func (c *ceilingResult) label() string { return joinLabel(c.Binary, c.Topology) }

// riverCeilingResult is River's no-op ceiling.
type riverCeilingResult struct {
	Settings map[string]string `json:"settings"`
	Max      riverRun          `json:"max"`
	AtRate   []riverRun        `json:"at_rate"`
}

// combined is the end-to-end ceiling of a click: its transaction and one
// no-op job on the same cores, 1 / (1/pgbench + 1/River).
func combined(pgTPS, riverJPS float64) float64 {
	if pgTPS <= 0 || riverJPS <= 0 {
		return 0
	}
	return 1 / (1/pgTPS + 1/riverJPS)
}

// serverLogPath finds the file the server logs to: -pg-log, else
// pg_current_logfile() (logging collector), else the file the postmaster's
// stderr points at (Debian's pg_ctlcluster sends it to
// /var/log/postgresql/…).
func (h *harness) serverLogPath(ctx context.Context) (string, error) {
	if h.opts.pgLog != "" {
		return h.opts.pgLog, nil
	}
	var cur *string
	var self int
	if err := h.cl.admin.QueryRow(ctx, "SELECT pg_current_logfile(), pg_backend_pid()").Scan(&cur, &self); err != nil {
		return "", fmt.Errorf("pg_current_logfile: %w", err)
	}
	if cur != nil && *cur != "" {
		if filepath.IsAbs(*cur) {
			return *cur, nil
		}
		return filepath.Join(h.cl.setting(ctx, "data_directory"), *cur), nil
	}
	if pm := parentPID(self); pm > 0 {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/2", pm)); err == nil && filepath.IsAbs(target) && !strings.HasPrefix(target, "/dev/") {
			if st, err := os.Stat(target); err == nil && st.Mode().IsRegular() {
				return target, nil
			}
		}
	}
	return "", errors.New("cannot find the server log (no logging collector, and the postmaster's stderr is not a readable file): pass -pg-log")
}

// captureClickSQL posts a few clicks to the binary with the server logging
// every statement of a scratch database, reads one click's transaction from
// the log and turns it into a pgbench script. It returns the database the
// ceilings run on: a copy of the scratch database, holding the config the
// script writes deliveries for.
func (h *harness) captureClickSQL(ctx context.Context, tgt *target) (*ceilingResult, error) {
	res := &ceilingResult{Binary: tgt.name, Topology: tgt.topoLabel, Protocol: h.opts.ceilingProtocol}
	capDB := newDBName(tgt.key() + "_capture")
	if err := h.cl.create(ctx, capDB, ""); err != nil {
		return res, err
	}
	h.dbs = append(h.dbs, capDB)
	if err := migrate(ctx, tgt.binary, h.cl.dbURL(capDB)); err != nil {
		return res, err
	}
	conn, err := h.cl.connect(ctx, capDB)
	if err != nil {
		return res, err
	}
	seqs, err := tagSequences(ctx, conn)
	_ = conn.Close(ctx)
	if err != nil {
		return res, err
	}
	ident := pgx.Identifier{capDB}.Sanitize()
	for _, s := range []string{"log_min_duration_statement = 0", "log_parameter_max_length = -1"} {
		if _, err := h.cl.admin.Exec(ctx, "ALTER DATABASE "+ident+" SET "+s); err != nil {
			return res, fmt.Errorf("ALTER DATABASE … SET %s: %w", s, err)
		}
	}
	prefix := h.cl.setting(ctx, "log_line_prefix")
	var statements map[int][]statement
	var corrIDs []string
	var configID string
	captureErr := func() error {
		logPath, err := h.serverLogPath(ctx)
		if err != nil {
			return err
		}
		re, err := logPrefixRegexp(prefix)
		if err != nil {
			return err
		}
		st, err := os.Stat(logPath)
		if err != nil {
			return fmt.Errorf("server log: %w", err)
		}
		offset := st.Size()
		top, err := startTopology(ctx, tgt.binary, tgt.topo, h.dev, h.cl.dbURL(capDB), h.opts.env, h.outPath(tgt.key()+"-capture"))
		if err != nil {
			if top != nil {
				_ = top.stop()
			}
			return err
		}
		tag := capDB
		configID, err = h.registerPartner(ctx, top, tag)
		if err == nil {
			corrIDs, err = h.postSequential(ctx, top, 5)
		}
		stopErr := top.stop()
		if err != nil {
			return err
		}
		if stopErr != nil {
			return stopErr
		}
		f, err := os.Open(logPath) //nolint:gosec // the server's log, found above or named by -pg-log
		if err != nil {
			return fmt.Errorf("server log: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Size() >= offset {
			if _, err := f.Seek(offset, io.SeekStart); err != nil {
				return err
			}
		}
		records, err := parseServerLog(f, re)
		if err != nil {
			return fmt.Errorf("reading the server log: %w", err)
		}
		statements = statementsByPID(records, capDB)
		return nil
	}()
	for _, s := range []string{"log_min_duration_statement", "log_parameter_max_length"} {
		_, _ = h.cl.admin.Exec(ctx, "ALTER DATABASE "+ident+" RESET "+s)
	}

	// The ceiling's database: a copy of the scratch one, with the config the
	// scripts write for (inactive, so the captured SELECT of active configs
	// still finds exactly the one the service found).
	res.db = newDBName(tgt.key() + "_pgbench")
	if err := h.cl.create(ctx, res.db, capDB); err != nil {
		return res, err
	}
	h.dbs = append(h.dbs, res.db)
	if err := h.addFixedConfig(ctx, res.db); err != nil {
		return res, err
	}

	// Newest click first: its connection and caches were warm.
	why := captureErr
	if captureErr == nil {
		why = errors.New("no captured click gave a working script")
		for i := len(corrIDs) - 1; i >= 0 && res.Source == ""; i-- {
			tx, err := clickTransaction(statements, corrIDs[i])
			if err != nil {
				why = err
				continue
			}
			header := fmt.Sprintf("One widget click of %s (%s), captured by test/load on %s from the server log\n"+
				"(log_min_duration_statement = 0) with one active partner. Run with -D notify_permille=N.",
				tgt.label(), tgt.info.Revision, time.Now().UTC().Format("2006-01-02 15:04 MST"))
			script, err := buildPgbenchScript(tx, captureFacts{corrID: corrIDs[i], configID: configID, seqs: seqs}, header)
			if err != nil {
				why = err
				continue
			}
			path := h.outPath(tgt.key() + "-click.sql")
			if err := os.WriteFile(path, []byte(script.Script), 0o600); err != nil {
				return res, err
			}
			if err := h.validateScript(ctx, res.db, path); err != nil {
				why = fmt.Errorf("the captured script failed: %w", err)
				continue
			}
			res.Source, res.ScriptPath, res.Script = "captured", h.rel(path), script
		}
	}
	if res.Source == "" {
		path := h.outPath(tgt.key() + "-click-fallback.sql")
		if err := os.WriteFile(path, []byte(fallbackScript), 0o600); err != nil {
			return res, err
		}
		if err := h.validateScript(ctx, res.db, path); err != nil {
			return res, fmt.Errorf("capture failed (%w), and the committed fallback script fails too: %w", why, err)
		}
		res.Source = "fallback test/load/click-fallback.sql (capture: " + why.Error() + ")"
		res.ScriptPath = h.rel(path)
		res.Script = scriptResult{Script: fallbackScript, Statements: strings.Count(fallbackScript, ";\n") + strings.Count(fallbackScript, `\gset`)}
		h.warn("%s: the ceiling runs the committed fallback script: %v", tgt.label(), why)
	}
	return res, nil
}

// tagSequences moves every bigint sequence of the database to a range of
// its own (7.1e9, 7.2e9, …), so that a number in a statement names the
// table whose row id it is.
func tagSequences(ctx context.Context, conn *pgx.Conn) ([]seqRange, error) {
	rows, err := conn.Query(ctx, `SELECT s.oid::regclass::text, t.relname, a.attname, ps.max_value
		FROM pg_class s
		JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
		JOIN pg_class t ON t.oid = d.refobjid
		JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
		JOIN pg_sequences ps ON ps.schemaname = s.relnamespace::regnamespace::text AND ps.sequencename = s.relname
		WHERE s.relkind = 'S' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list sequences: %w", err)
	}
	type seq struct {
		name, table, column string
		maxValue            int64
	}
	var list []seq
	for rows.Next() {
		var s seq
		if err := rows.Scan(&s.name, &s.table, &s.column, &s.maxValue); err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, s)
	}
	rows.Close()
	var out []seqRange
	for i, s := range list {
		base := int64(7_000_000_000) + int64(i+1)*seqSpan
		if s.maxValue < base+seqSpan {
			continue // an integer sequence: its ids stay as they are
		}
		if _, err := conn.Exec(ctx, "SELECT setval($1::regclass, $2, false)", s.name, base); err != nil {
			return nil, fmt.Errorf("setval %s: %w", s.name, err)
		}
		out = append(out, seqRange{table: s.table, column: s.column, base: base})
	}
	return out, nil
}

// addFixedConfig copies the database's webhook config under fixedConfigID,
// inactive.
func (h *harness) addFixedConfig(ctx context.Context, db string) error {
	conn, err := h.cl.connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO webhook_configs
		SELECT (jsonb_populate_record(NULL::webhook_configs, to_jsonb(c) || jsonb_build_object('id', $1::text, 'service_name', 'load-ceiling', 'is_active', false))).*
		FROM webhook_configs c ORDER BY c.created_at LIMIT 1`, fixedConfigID)
	if err != nil {
		return fmt.Errorf("copy the webhook config for the ceiling: %w", err)
	}
	return nil
}

var insertTables = regexp.MustCompile(`(?i)INSERT\s+INTO\s+(?:"?[a-z_][a-z0-9_]*"?\.)?"?([a-z_][a-z0-9_]*)"?`)

// validateScript runs the script three times and checks that every table it
// inserts into got three rows more: a script that fails, or that quietly
// hits ON CONFLICT every time, would make a ceiling that means nothing.
func (h *harness) validateScript(ctx context.Context, db, path string) error {
	script, err := os.ReadFile(path) //nolint:gosec // the harness's own file
	if err != nil {
		return err
	}
	tables := map[string]bool{}
	for _, m := range insertTables.FindAllStringSubmatch(string(script), -1) {
		tables[m[1]] = true
	}
	conn, err := h.cl.connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	count := func() (map[string]int64, error) {
		out := map[string]int64{}
		for t := range tables {
			var n int64
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t}.Sanitize()).Scan(&n); err != nil {
				return nil, err
			}
			out[t] = n
		}
		return out, nil
	}
	before, err := count()
	if err != nil {
		return err
	}
	cmd := h.pgbenchCmd(ctx, db, path, []string{"-t", "3", "-c", "1", "-D", "notify_permille=1000"})
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -t 3: %w\n%s", err, truncate(string(out), 2000))
	}
	after, err := count()
	if err != nil {
		return err
	}
	for t := range tables {
		if after[t]-before[t] != 3 {
			return fmt.Errorf("3 runs of the script added %d rows to %s, not 3", after[t]-before[t], t)
		}
	}
	return nil
}

// pgbenchCmd is pgbench on database db with the script and extra flags.
func (h *harness) pgbenchCmd(ctx context.Context, db, script string, extra []string) *exec.Cmd {
	u := h.cl.base
	args := []string{"-n", "-M", h.opts.ceilingProtocol, "-f", script}
	if host := u.Hostname(); host != "" {
		args = append(args, "-h", host)
	}
	if port := u.Port(); port != "" {
		args = append(args, "-p", port)
	}
	if user := u.User.Username(); user != "" {
		args = append(args, "-U", user)
	}
	args = append(args, extra...)
	args = append(args, db)
	cmd := exec.CommandContext(ctx, "pgbench", args...) //nolint:gosec // the harness's own arguments
	cmd.Env = os.Environ()
	if pw, ok := u.User.Password(); ok {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+pw)
	}
	return cmd
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// runPgbench measures the script: as fast as it goes (rate 0) or at rate
// transactions per second (-R: pgbench's latency then counts from each
// transaction's scheduled start, as the generator's does).
func (h *harness) runPgbench(ctx context.Context, c *ceilingResult, rate float64, d time.Duration, permille int) pgbenchRun {
	res := pgbenchRun{Rate: rate, Clients: c.Clients}
	secs := int(math.Ceil(d.Seconds()))
	res.DurationS = float64(secs)
	dir, err := os.MkdirTemp(h.outDir, "pgbench-")
	if err != nil {
		res.Failed = err.Error()
		return res
	}
	defer os.RemoveAll(dir)
	extra := []string{"-c", strconv.Itoa(c.Clients), "-j", strconv.Itoa(min(c.Clients, runtime.NumCPU())), "-T", strconv.Itoa(secs),
		"-D", "notify_permille=" + strconv.Itoa(permille), "-l", "--log-prefix=" + filepath.Join(dir, "tx")}
	if rate > 0 {
		extra = append(extra, "-R", strconv.FormatFloat(rate, 'f', -1, 64))
	}
	path := filepath.Join(h.root, filepath.FromSlash(c.ScriptPath))
	rctx, cancel := context.WithTimeout(ctx, d+2*time.Minute)
	defer cancel()
	cmd := h.pgbenchCmd(rctx, c.db, path, extra)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	sampler := h.cl.sampleCPU(ctx, c.db, 100*time.Millisecond)
	err = cmd.Run()
	dbc := sampler.finish()
	if err != nil {
		res.Failed = fmt.Sprintf("pgbench: %v: %s", err, truncate(out.String(), 1000))
		return res
	}
	lat, err := readPgbenchLogs(dir)
	if err != nil {
		res.Failed = err.Error()
		return res
	}
	res.Tx = len(lat)
	res.Latency = summarize(lat)
	if m := tpsLine.FindStringSubmatch(out.String()); m != nil {
		res.TPS, _ = strconv.ParseFloat(m[1], 64)
	} else {
		res.TPS = float64(res.Tx) / float64(secs)
	}
	if res.Tx > 0 {
		res.PGCPUms = dbc.DB.Seconds() * 1000 / float64(res.Tx)
		if ps := cmd.ProcessState; ps != nil {
			res.ClientCPUms = (ps.UserTime() + ps.SystemTime()).Seconds() * 1000 / float64(res.Tx)
		}
	}
	return res
}

// readPgbenchLogs reads the latency (third field, µs) of every transaction
// of pgbench's per-transaction logs.
func readPgbenchLogs(dir string) ([]time.Duration, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx*"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no pgbench transaction log in %s", dir)
	}
	var out []time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f) //nolint:gosec // pgbench's log in the harness's directory
		if err != nil {
			return nil, err
		}
		lat, err := parsePgbenchLog(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		out = append(out, lat...)
	}
	return out, nil
}

// parsePgbenchLog reads "client_id transaction_no time script_no
// time_epoch time_us [schedule_lag]" lines; time is the transaction's
// latency in µs (with -R, from its scheduled start). Each client's first
// transaction is left out: with -M prepared it prepares every statement on
// its connection (10-25 ms here for River's insert), which the service's
// warm connections never pay again. Skipped transactions (latency
// "skipped") are an error: the harness never sets a latency limit.
func parsePgbenchLog(b []byte) ([]time.Duration, error) {
	var out []time.Duration
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] == "0" || f[1] == "1" {
			continue
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("pgbench log line %q: %w", line, err)
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	return out, nil
}

// registerPartner PUTs the receiver as the webhook config of the topology's
// database and hands the answered secret to the receiver; it returns the
// config's id.
func (h *harness) registerPartner(ctx context.Context, top *topology, tag string) (string, error) {
	body, _ := json.Marshal(map[string]string{"url": h.rec.url(tag)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, top.api().url+"/api/integrations/topkee/webhook-config", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+h.dev["TOPKEE_INTEGRATION_API_KEY"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("PUT webhook-config: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("PUT webhook-config answered %d: %s", resp.StatusCode, truncate(string(b), 300))
	}
	var cfg struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Secret == "" {
		return "", fmt.Errorf("PUT webhook-config: no secret in the answer")
	}
	h.rec.setSecret(tag, cfg.Secret)
	return cfg.ID, nil
}

// postSequential posts n clicks one after another (one transaction at a
// time, so none shares a group with another) and waits until the partner
// received each; it returns their correlation ids.
func (h *harness) postSequential(ctx context.Context, top *topology, n int) ([]string, error) {
	rng := newRand(h.opts.seed, 0xcafe)
	clicks := makeClicks(n, rng)
	var recs []*clickRecord
	for i := range clicks {
		recs = append(recs, h.gen.run(ctx, top.clickURLs()[:1], clicks[i:i+1], 1, time.Now(), nil)...)
		time.Sleep(150 * time.Millisecond)
	}
	var ids []string
	for _, r := range h.tr.snapshot(recs) {
		if r.corrID == "" {
			return nil, fmt.Errorf("a click answered %d %s", r.status, r.errKind)
		}
		ids = append(ids, r.corrID)
	}
	if _, ok := h.drain(ctx, recs, 20*time.Second); !ok {
		return nil, errors.New("the partner did not receive the clicks' events within 20 s")
	}
	return ids, nil
}
