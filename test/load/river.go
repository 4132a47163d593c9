package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
)

// River's ceiling: the job queue itself on this machine, with the service's
// driver and pool set-up (River over riverdatabasesql and pgx stdlib, a
// small listener pool for LISTEN/NOTIFY, an insert-only client and a
// worker client) and its worker count and fetch settings, working jobs that
// do nothing. It runs in this process (it replaced test/bench/riverceiling),
// so its Go CPU is this process's.

// riverSettings are the service's River settings, read from its effective
// environment (the defaults are the service's).
type riverSettings struct {
	workers       int
	fetchCooldown time.Duration
	fetchPoll     time.Duration
	maxConns      int
}

// riverRun is one ceiling measurement of River.
type riverRun struct {
	Rate      float64 `json:"rate"` // 0: as fast as it goes (jobs inserted beforehand)
	Jobs      int     `json:"jobs"`
	JobsPerS  float64 `json:"jobs_per_s"`
	Latency   summary `json:"latency"` // rate runs: worked - scheduled insert time
	GoCPUms   float64 `json:"go_cpu_ms_per_job"`
	PGCPUms   float64 `json:"pg_cpu_ms_per_job"`
	LogErrors int     `json:"log_errors"`
	Failed    string  `json:"failed,omitempty"`
}

// noopArgs names its run with a string: River's InsertMany passes args
// through a float64 somewhere, which rounds a nanosecond clock.
type noopArgs struct {
	Run string `json:"run"`
	N   int    `json:"n"`
}

func (noopArgs) Kind() string { return "load.noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	run    string
	mu     sync.Mutex
	worked []time.Time
	count  atomic.Int64
}

func (w *noopWorker) Work(_ context.Context, job *river.Job[noopArgs]) error {
	now := time.Now()
	if job.Args.Run != w.run {
		return nil
	}
	w.mu.Lock()
	if job.Args.N < len(w.worked) && w.worked[job.Args.N].IsZero() {
		w.worked[job.Args.N] = now
		w.count.Add(1)
	}
	w.mu.Unlock()
	return nil
}

// riverCeiling runs River on database db: with rate 0, jobs no-op jobs
// inserted before the workers start, timed from the first to the last Work
// call; with a rate, one job per scheduled time for d, each inserted in its
// own transaction (as a click's is), timed from its scheduled time to its
// Work call.
func (h *harness) riverCeiling(ctx context.Context, db string, s riverSettings, rate float64, d time.Duration, jobs int) riverRun {
	res := riverRun{Rate: rate, Jobs: jobs}
	if rate > 0 {
		res.Jobs = plannedCount(rate, d)
	}
	fail := func(err error) riverRun {
		res.Failed = err.Error()
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, d+3*time.Minute)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(h.cl.dbURL(db))
	if err != nil {
		return fail(err)
	}
	cfg.MaxConns = int32(s.maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()
	lcfg := cfg.Copy()
	lcfg.MaxConns = 2
	listener, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		return fail(err)
	}
	defer listener.Close()
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	driver := riverdatabasesql.NewWithPgxListener(sqlDB, listener)

	logFile, err := os.Create(h.outPath(fmt.Sprintf("river-ceiling-%g.log", rate)))
	if err != nil {
		return fail(err)
	}
	defer logFile.Close()
	logger := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// A queue per run: jobs an earlier, failed run left behind are not in
	// the way.
	queue := "load_noop_" + strconv.FormatInt(time.Now().UnixNano()%1_000_000_000, 36)
	worker := &noopWorker{run: strconv.FormatInt(time.Now().UnixNano(), 36), worked: make([]time.Time, res.Jobs)}
	workers := river.NewWorkers()
	river.AddWorker(workers, worker)
	client, err := river.NewClient(driver, &river.Config{
		Logger: logger, Workers: workers, Queues: map[string]river.QueueConfig{queue: {MaxWorkers: s.workers}},
		FetchCooldown: s.fetchCooldown, FetchPollInterval: s.fetchPoll,
	})
	if err != nil {
		return fail(err)
	}
	inserter, err := river.NewClient(driver, &river.Config{Logger: logger})
	if err != nil {
		return fail(err)
	}
	opts := &river.InsertOpts{Queue: queue}

	if rate == 0 {
		for i := 0; i < res.Jobs; i += 2000 {
			n := min(2000, res.Jobs-i)
			params := make([]river.InsertManyParams, n)
			for j := range params {
				params[j] = river.InsertManyParams{Args: noopArgs{Run: worker.run, N: i + j}, InsertOpts: opts}
			}
			if _, err := inserter.InsertMany(ctx, params); err != nil {
				return fail(fmt.Errorf("insert: %w", err))
			}
		}
	}

	sampler := h.cl.sampleCPU(ctx, db, 100*time.Millisecond)
	self0, _ := procCPU(os.Getpid())
	if err := client.Start(ctx); err != nil {
		_ = sampler.finish()
		return fail(err)
	}
	defer func() {
		stopCtx, c := context.WithTimeout(context.Background(), 30*time.Second)
		defer c()
		_ = client.Stop(stopCtx)
	}()
	start := time.Now().Add(50 * time.Millisecond)
	sched := make([]time.Time, res.Jobs)
	if rate > 0 {
		var wg sync.WaitGroup
		var insertErr atomic.Value
		for i := range res.Jobs {
			due := start.Add(scheduleOffset(i, rate))
			sched[i] = due
			time.Sleep(time.Until(due))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := insertOne(ctx, sqlDB, inserter, noopArgs{Run: worker.run, N: i}, opts); err != nil {
					insertErr.CompareAndSwap(nil, err)
				}
			}()
		}
		wg.Wait()
		if err, _ := insertErr.Load().(error); err != nil {
			_ = sampler.finish()
			return fail(fmt.Errorf("insert: %w", err))
		}
	}
	for worker.count.Load() < int64(res.Jobs) {
		if ctx.Err() != nil {
			_ = sampler.finish()
			return fail(fmt.Errorf("only %d of %d jobs worked in time", worker.count.Load(), res.Jobs))
		}
		time.Sleep(5 * time.Millisecond)
	}
	self1, _ := procCPU(os.Getpid())
	dbc := sampler.finish()

	worker.mu.Lock()
	first, last := worker.worked[0], worker.worked[0]
	var lat []time.Duration
	for i, t := range worker.worked {
		if t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
		if rate > 0 && sched[i].Sub(start) >= time.Second {
			lat = append(lat, t.Sub(sched[i])) // the first second is the clients' warm-up
		}
	}
	worker.mu.Unlock()
	if span := last.Sub(first).Seconds(); span > 0 {
		res.JobsPerS = float64(res.Jobs-1) / span
	}
	res.Latency = summarize(lat)
	n := float64(res.Jobs)
	res.GoCPUms = (self1 - self0).Seconds() * 1000 / n
	res.PGCPUms = dbc.DB.Seconds() * 1000 / n
	_ = logFile.Sync()
	if f, err := os.Open(logFile.Name()); err == nil {
		c := countLogLevels(f)
		res.LogErrors = c.Errors
		_ = f.Close()
	}
	return res
}

func insertOne(ctx context.Context, db *sql.DB, c *river.Client[*sql.Tx], args noopArgs, opts *river.InsertOpts) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := c.InsertTx(ctx, tx, args, opts); err != nil {
		return err
	}
	return tx.Commit()
}
