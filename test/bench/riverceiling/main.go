//go:build bench

// Command riverceiling measures the ceiling of the job queue itself on this
// machine: River v0.51.2 over riverdatabasesql + pgx stdlib (the service's
// driver and pool set-up), working jobs that do nothing, with the service's
// worker count and fetch settings. run-delivery.sh compares the service's
// deliveries per second with it.
//
//	go build -tags bench -o /tmp/riverceiling ./test/bench/riverceiling
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/aurix_bench_river?sslmode=disable \
//	  /tmp/riverceiling -jobs 20000 -mode noop
//
// The database must carry River's schema ("aurix migrate up" applies it).
// The jobs are inserted with InsertMany before the client starts; the clock
// runs from Start until every job is completed in the database (the River
// completer has recorded it), and the first and last Work calls are timed too.
//
// Modes:
//   - noop: N no-op jobs on one queue of -workers workers: the queue's ceiling.
//   - twostage: the service's job shape without its work. N dispatch jobs on a
//     queue of -dispatch-workers workers; each inserts, in a transaction of
//     its own, one unique-by-args job on the -workers queue (as the
//     dispatcher does for one webhook config), and those do nothing.
//
// Prints one line: RESULT mode=<> jobs=<> workers=<> elapsed_s=<> jobs_per_s=<>
// work_span_s=<> work_per_s=<> (jobs_per_s: completed in the database / time
// from Start; work_per_s: final Work calls / time from first to last).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
)

// Run makes each run's args unique, so unique-by-args inserts of one run
// never collide with the completed jobs of an earlier run.
type noopArgs struct {
	Run int64 `json:"run"`
	N   int64 `json:"n"`
}

func (noopArgs) Kind() string { return "bench.noop" }

type dispatchArgs struct {
	Run int64 `json:"run"`
	N   int64 `json:"n"`
}

func (dispatchArgs) Kind() string { return "bench.dispatch" }

// timing records the first and last final Work call.
type timing struct{ first, last, count atomic.Int64 }

func (t *timing) mark() {
	now := time.Now().UnixNano()
	t.first.CompareAndSwap(0, now)
	for {
		l := t.last.Load()
		if now <= l || t.last.CompareAndSwap(l, now) {
			break
		}
	}
	t.count.Add(1)
}

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	t *timing
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	w.t.mark()
	return nil
}

type dispatchWorker struct {
	river.WorkerDefaults[dispatchArgs]
	db     *sql.DB
	client func() *river.Client[*sql.Tx]
	queue  string
}

func (w *dispatchWorker) Work(ctx context.Context, job *river.Job[dispatchArgs]) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := w.client().InsertTx(ctx, tx, noopArgs{Run: job.Args.Run, N: job.Args.N},
		&river.InsertOpts{Queue: w.queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
		return err
	}
	return tx.Commit()
}

func main() {
	var (
		jobs            = flag.Int("jobs", 20000, "jobs to work")
		mode            = flag.String("mode", "noop", "noop or twostage")
		workers         = flag.Int("workers", 50, "workers of the (final) queue: the service's AURIX_WEBHOOK_WORKERS")
		dispatchWorkers = flag.Int("dispatch-workers", 10, "workers of the dispatch queue (twostage): the service's 10")
		cooldown        = flag.Duration("fetch-cooldown", 20*time.Millisecond, "FetchCooldown: the service's AURIX_RIVER_FETCH_COOLDOWN")
		poll            = flag.Duration("fetch-poll", 500*time.Millisecond, "FetchPollInterval: the service's AURIX_RIVER_FETCH_POLL_INTERVAL")
		maxConns        = flag.Int("max-conns", 20, "pool size: the service's AURIX_DATABASE_MAX_CONNS")
		timeout         = flag.Duration("timeout", 5*time.Minute, "give up after this long")
	)
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	cfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal("DATABASE_URL: ", err)
	}
	cfg.MaxConns = int32(*maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	lcfg := cfg.Copy()
	lcfg.MaxConns = 2
	listener, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		log.Fatal(err)
	}
	defer listener.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	driver := riverdatabasesql.NewWithPgxListener(db, listener)

	t := &timing{}
	var client *river.Client[*sql.Tx]
	workerSet := river.NewWorkers()
	river.AddWorker(workerSet, &noopWorker{t: t})
	queues := map[string]river.QueueConfig{"work": {MaxWorkers: *workers}}
	if *mode == "twostage" {
		river.AddWorker(workerSet, &dispatchWorker{db: db, client: func() *river.Client[*sql.Tx] { return client }, queue: "work"})
		queues["dispatch"] = river.QueueConfig{MaxWorkers: *dispatchWorkers}
	} else if *mode != "noop" {
		log.Fatalf("unknown mode %q", *mode)
	}
	client, err = river.NewClient(driver, &river.Config{
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Workers:           workerSet,
		Queues:            queues,
		FetchCooldown:     *cooldown,
		FetchPollInterval: *poll,
	})
	if err != nil {
		log.Fatal(err)
	}

	// Only this run's jobs are counted (the database may hold earlier runs').
	var baseline int64
	if err := db.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM river_job").Scan(&baseline); err != nil {
		log.Fatal("baseline: ", err)
	}
	run := time.Now().UnixNano()

	// Insert everything before the workers start, in batches.
	const batch = 2000
	for i := 0; i < *jobs; i += batch {
		n := min(batch, *jobs-i)
		params := make([]river.InsertManyParams, n)
		for j := range params {
			if *mode == "twostage" {
				params[j] = river.InsertManyParams{Args: dispatchArgs{Run: run, N: int64(i + j)}, InsertOpts: &river.InsertOpts{Queue: "dispatch"}}
			} else {
				params[j] = river.InsertManyParams{Args: noopArgs{Run: run, N: int64(i + j)}, InsertOpts: &river.InsertOpts{Queue: "work"}}
			}
		}
		if _, err := client.InsertMany(ctx, params); err != nil {
			log.Fatal("insert: ", err)
		}
	}

	start := time.Now()
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}
	var done int
	for {
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM river_job WHERE id > $1 AND kind = 'bench.noop' AND state = 'completed'", baseline).Scan(&done); err != nil {
			log.Fatal("count: ", err)
		}
		if done >= *jobs {
			break
		}
		select {
		case <-ctx.Done():
			log.Fatalf("timed out with %d of %d jobs completed", done, *jobs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer stopCancel()
	_ = client.Stop(stopCtx)

	span := time.Duration(t.last.Load() - t.first.Load())
	fmt.Printf("RESULT mode=%s jobs=%d workers=%d elapsed_s=%.3f jobs_per_s=%.1f work_span_s=%.3f work_per_s=%.1f\n",
		*mode, *jobs, *workers, elapsed.Seconds(), float64(*jobs)/elapsed.Seconds(),
		span.Seconds(), float64(t.count.Load()-1)/span.Seconds())
}
