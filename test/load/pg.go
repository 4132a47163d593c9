package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// harnessApp is the application_name of the harness's own connections, so
// the CPU sampler leaves them out.
const harnessApp = "aurix-load-harness"

// cluster is the PostgreSQL server the service and the ceilings run on.
type cluster struct {
	admin *pgxpool.Pool
	base  *url.URL // the admin URL; databases differ only in the path
}

func connectCluster(ctx context.Context, adminURL string) (*cluster, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("-pg: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(adminURL)
	if err != nil {
		return nil, fmt.Errorf("-pg: %w", err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.RuntimeParams["application_name"] = harnessApp
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", u.Redacted(), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("PostgreSQL at %s does not answer: %w", u.Redacted(), err)
	}
	return &cluster{admin: pool, base: u}, nil
}

// dbURL is the URL of database name on the same server.
func (c *cluster) dbURL(name string) string {
	u := *c.base
	u.Path = "/" + name
	return u.String()
}

// connect opens a connection to database name for the harness.
func (c *cluster) connect(ctx context.Context, name string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.dbURL(name))
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = harnessApp
	return pgx.ConnectConfig(ctx, cfg)
}

// newDBName is aurix_load_<random>_<suffix>.
func newDBName(suffix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "aurix_load_" + hex.EncodeToString(b[:])
	if suffix != "" {
		name += "_" + suffix
	}
	return name
}

func (c *cluster) create(ctx context.Context, name, template string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		// FILE_COPY copies the files after a checkpoint; the default
		// (WAL_LOG) would write a large template through the WAL.
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize() + " STRATEGY FILE_COPY"
	}
	if _, err := c.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func (c *cluster) drop(ctx context.Context, name string) error {
	if _, err := c.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// setting reads one server setting.
func (c *cluster) setting(ctx context.Context, name string) string {
	var v string
	if err := c.admin.QueryRow(ctx, "SELECT current_setting($1, true)", name).Scan(&v); err != nil {
		return ""
	}
	return v
}

// migrate runs `<binary> migrate up` on the database: each binary brings its
// own schema, River's included.
func migrate(ctx context.Context, binary, dbURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "migrate", "up")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATABASE_URL=" + dbURL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s migrate up: %w\n%s", binary, err, out)
	}
	return nil
}

// cpuTotals is CPU time used during a window by the PostgreSQL processes.
type cpuTotals struct {
	DB       time.Duration // backends connected to the measured database
	Shared   time.Duration // background processes and the postmaster: shared by every database
	OtherDBs time.Duration // backends of other databases (other tenants of the server)
}

// dbCPUSampler samples /proc of the PostgreSQL processes while a measurement
// runs. A backend first seen after the first sample started during the
// window, so all its CPU counts; a backend that ends between two samples
// loses its last interval (keep the interval short next to the window).
type dbCPUSampler struct {
	c    *cluster
	db   string
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	samples int
	class   map[int]int // pid -> 0 db, 1 shared, 2 other databases
	base    map[int]time.Duration
	last    map[int]time.Duration
}

func (c *cluster) sampleCPU(ctx context.Context, db string, every time.Duration) *dbCPUSampler {
	s := &dbCPUSampler{c: c, db: db, stop: make(chan struct{}), done: make(chan struct{}),
		class: map[int]int{}, base: map[int]time.Duration{}, last: map[int]time.Duration{}}
	s.sample(ctx)
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.sample(ctx)
			case <-s.stop:
				s.sample(ctx)
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return s
}

func (s *dbCPUSampler) sample(ctx context.Context) {
	rows, err := s.c.admin.Query(ctx, `SELECT pid, coalesce(datname, ''), coalesce(backend_type, ''), coalesce(application_name, ''),
		pg_backend_pid() FROM pg_stat_activity`)
	if err != nil {
		return
	}
	type proc struct{ pid, class int }
	var procs []proc
	postmaster := 0
	for rows.Next() {
		var pid, self int
		var datname, btype, app string
		if rows.Scan(&pid, &datname, &btype, &app, &self) != nil {
			continue
		}
		if postmaster == 0 {
			postmaster = parentPID(self)
		}
		switch {
		case app == harnessApp:
			continue
		case datname == s.db:
			procs = append(procs, proc{pid, 0})
		case btype != "client backend":
			procs = append(procs, proc{pid, 1})
		default:
			procs = append(procs, proc{pid, 2})
		}
	}
	rows.Close()
	if postmaster > 0 {
		procs = append(procs, proc{postmaster, 1})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range procs {
		cpu, err := procCPU(p.pid)
		if err != nil {
			continue
		}
		if _, seen := s.last[p.pid]; !seen {
			s.class[p.pid] = p.class
			if s.samples == 0 {
				s.base[p.pid] = cpu
			}
		}
		s.last[p.pid] = cpu
	}
	s.samples++
}

// finish takes a last sample and returns the totals.
func (s *dbCPUSampler) finish() cpuTotals {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var t cpuTotals
	for pid, last := range s.last {
		d := last - s.base[pid]
		switch s.class[pid] {
		case 0:
			t.DB += d
		case 1:
			t.Shared += d
		default:
			t.OtherDBs += d
		}
	}
	return t
}

// parentPID reads the 4th field of /proc/<pid>/stat.
func parentPID(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// tableSizes is the total size (indexes and TOAST included) of the tables
// the click and its delivery write.
func tableSizes(ctx context.Context, conn *pgx.Conn) map[string]int64 {
	rows, err := conn.Query(ctx, `SELECT c.relname, pg_total_relation_size(c.oid), coalesce(s.n_live_tup, 0)
		FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
		WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
		  AND c.relname IN ('inbound_sources', 'outbox', 'webhook_deliveries', 'webhook_attempts', 'river_job')`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var size, live int64
		if rows.Scan(&name, &size, &live) == nil {
			out[name] = size
		}
	}
	return out
}

// dbState is what the database says after a measurement: River's jobs by
// state and the deliveries by status. It is informational; a schema that
// changed only leaves it empty.
func dbState(ctx context.Context, conn *pgx.Conn) map[string]int64 {
	out := map[string]int64{}
	for _, q := range []string{
		`SELECT 'river_job.' || state, count(*) FROM river_job GROUP BY state`,
		`SELECT 'webhook_deliveries.' || status, count(*) FROM webhook_deliveries GROUP BY status`,
		`SELECT 'webhook_attempts.non_2xx', count(*) FROM webhook_attempts WHERE status_code IS NULL OR status_code NOT BETWEEN 200 AND 299`,
	} {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			continue
		}
		for rows.Next() {
			var k string
			var n int64
			if rows.Scan(&k, &n) == nil {
				out[k] = n
			}
		}
		rows.Close()
	}
	return out
}
