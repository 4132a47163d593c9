package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// devEnvLine is one line of Taskfile.yml's DEV_ENV:
// export NAME="${NAME:-default}".
var devEnvLine = regexp.MustCompile(`^\s*export ([A-Z][A-Z0-9_]*)="\$\{([A-Z][A-Z0-9_]*):-(.*)\}"\s*$`)

// parseDevEnv reads the development settings from the Taskfile's DEV_ENV
// block, so the harness runs the service exactly as `go tool task run` does
// and follows when a setting is added there.
func parseDevEnv(taskfile []byte) (map[string]string, error) {
	env := map[string]string{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(taskfile))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "DEV_ENV:") {
			in = true
			continue
		}
		if !in {
			continue
		}
		m := devEnvLine.FindStringSubmatch(line)
		if m == nil {
			if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			break // the block ended
		}
		if m[1] != m[2] {
			return nil, fmt.Errorf("DEV_ENV line for %s defaults from %s", m[1], m[2])
		}
		env[m[1]] = m[3]
	}
	if len(env) == 0 {
		return nil, errors.New("no DEV_ENV block of export lines found in Taskfile.yml")
	}
	return env, nil
}

// secretLike names the settings whose values the report never prints.
var secretLike = regexp.MustCompile(`(?i)(SECRET|KEY|PASSWORD|TOKEN|DATABASE_URL)`)

// process is one running service process.
type process struct {
	role    string
	url     string
	logPath string
	cmd     *exec.Cmd
	logFile *os.File
	exited  chan struct{}
	waitErr error
	idleRSS int64 // KiB, after it was ready
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// topology is the service under test: one or more processes on one database.
type topology struct {
	procs []*process
}

// clickURLs are the click endpoints of the processes that take HTTP traffic.
func (t *topology) clickURLs() []string {
	var out []string
	for _, p := range t.procs {
		if p.role == "all" || p.role == "api" {
			out = append(out, p.url+"/api/widget/click")
		}
	}
	return out
}

func (t *topology) api() *process {
	for _, p := range t.procs {
		if p.role == "all" || p.role == "api" {
			return p
		}
	}
	return nil
}

func freePort(ctx context.Context) (int, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serviceEnv is the environment of one process: PATH and HOME, the DEV_ENV
// settings, the harness's own (database, address, role, no rate limit,
// loopback partner allowed), then every -env override.
func serviceEnv(dev map[string]string, dbURL, addr, role string, overrides []string) []string {
	env := map[string]string{}
	for k, v := range dev {
		env[k] = v
	}
	env["DATABASE_URL"] = dbURL
	env["AURIX_HTTP_ADDR"] = addr
	env["AURIX_ROLE"] = role
	env["AURIX_MIGRATE_ON_START"] = "false"
	env["AURIX_WIDGET_RATE_LIMIT"] = "0"
	env["AURIX_WEBHOOK_ALLOW_INSECURE"] = "true"
	env["AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "true"
	for _, kv := range overrides {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// startTopology starts one process per role on dbURL and waits until each
// answers /readyz.
func startTopology(ctx context.Context, binary string, roles []string, dev map[string]string, dbURL string,
	overrides []string, logPrefix string,
) (*topology, error) {
	t := &topology{}
	for i, role := range roles {
		port, err := freePort(ctx)
		if err != nil {
			return t, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p := &process{role: role, url: "http://" + addr, logPath: fmt.Sprintf("%s-%s%d.log", logPrefix, role, i), exited: make(chan struct{})}
		p.logFile, err = os.Create(p.logPath)
		if err != nil {
			return t, fmt.Errorf("service log: %w", err)
		}
		// Cancelling ctx (Ctrl-C) asks for a graceful stop, as stop does.
		p.cmd = exec.CommandContext(ctx, binary, "serve")
		p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGTERM) }
		p.cmd.WaitDelay = 40 * time.Second
		p.cmd.Env = serviceEnv(dev, dbURL, addr, role, overrides)
		p.cmd.Stdout, p.cmd.Stderr = p.logFile, p.logFile
		// Its own process group (a Ctrl-C reaches the harness, which stops
		// it in order), and SIGTERM should the harness die.
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := p.cmd.Start(); err != nil {
			_ = p.logFile.Close()
			return t, fmt.Errorf("start %s: %w", binary, err)
		}
		go func() {
			p.waitErr = p.cmd.Wait()
			close(p.exited)
		}()
		t.procs = append(t.procs, p)
	}
	for i, p := range t.procs {
		limit := 60 * time.Second
		if p.role == "worker" {
			limit = 15 * time.Second
		}
		if err := waitReady(ctx, p, limit); err != nil {
			return t, fmt.Errorf("%s process %d: %w", p.role, i, err)
		}
		p.idleRSS, _ = procStatusKiB(p.pid(), "VmRSS")
	}
	return t, nil
}

// waitReady polls /readyz. A worker-only process that serves no HTTP is
// taken as ready once it has stayed up for the whole wait.
func waitReady(ctx context.Context, p *process, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited before it was ready (%w); last log lines:\n%s", p.waitErr, tail(p.logPath, 15))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			if p.role == "worker" {
				return nil
			}
			return fmt.Errorf("not ready after %s; last log lines:\n%s", limit, tail(p.logPath, 15))
		}
	}
}

// stop sends SIGTERM to every process and waits (40 s, then SIGKILL).
func (t *topology) stop() error {
	var errs []error
	for _, p := range t.procs {
		if p.alive() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for i, p := range t.procs {
		select {
		case <-p.exited:
		case <-time.After(40 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			errs = append(errs, fmt.Errorf("%s process %d did not stop within 40s of SIGTERM", p.role, i))
		}
		var ee *exec.ExitError
		if p.waitErr != nil && !errors.As(p.waitErr, &ee) {
			errs = append(errs, p.waitErr)
		} else if ee != nil && ee.ExitCode() != 0 {
			errs = append(errs, fmt.Errorf("%s process %d exited with %w", p.role, i, p.waitErr))
		}
		_ = p.logFile.Close()
	}
	return errors.Join(errs...)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path) //nolint:gosec // the harness's own log file
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux
// whatever the kernel's internal HZ.
const clockTicks = 100

// procCPU is a process's CPU time (user + system) from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU reads utime and stime, the 14th and 15th fields; the
// command name (field 2) may hold spaces, so fields count from its ")".
func parseProcStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat times")
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// procStatusKiB reads one "VmXxx: N kB" line of /proc/<pid>/status.
func procStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, pid)
}

// machineCPU is the whole machine's busy and total CPU time from /proc/stat.
func machineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, errors.New("malformed /proc/stat")
	}
	var sum, idle int64
	for i, s := range f[1:] {
		if i >= 8 { // guest times are already counted in user
			break
		}
		v, _ := strconv.ParseInt(s, 10, 64)
		sum += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return time.Duration(sum-idle) * time.Second / clockTicks, time.Duration(sum) * time.Second / clockTicks, nil
}

// logCounts is what one process wrote to stderr.
type logCounts struct {
	Lines   int      `json:"lines"`
	Errors  int      `json:"error"`
	Warns   int      `json:"warn"`
	NonJSON int      `json:"non_json"` // panics and runtime messages are not slog's JSON
	First   []string `json:"first_messages,omitempty"`
}

// countLogLevels counts the JSON log lines of level ERROR and WARN (slog's
// names, with any +N offset) and the lines that are not JSON at all. It
// keeps the first five ERROR/WARN messages (the msg field only).
func countLogLevels(r io.Reader) logCounts {
	var c logCounts
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		c.Lines++
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(line, &rec) != nil {
			c.NonJSON++
			continue
		}
		level := strings.ToUpper(rec.Level)
		switch {
		case strings.HasPrefix(level, "ERROR"):
			c.Errors++
		case strings.HasPrefix(level, "WARN"):
			c.Warns++
		default:
			continue
		}
		if len(c.First) < 5 {
			c.First = append(c.First, level+" "+truncate(rec.Msg, 160))
		}
	}
	return c
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
