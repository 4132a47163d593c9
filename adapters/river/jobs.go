package river

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/aurix/integrations/ports"
)

// QueueMaintenance is the queue of the periodic jobs.
const QueueMaintenance = "maintenance"

// How often each round runs.
const (
	MeasureBacklogEvery  = 5 * time.Second
	DisableFailingEvery  = time.Minute
	maintenanceJobMaxAge = 30 * time.Second
)

// MeasureBacklogArgs is the round that measures the age of the oldest
// pending delivery.
type MeasureBacklogArgs struct{}

// Kind is the job kind shown in River UI.
func (MeasureBacklogArgs) Kind() string { return "aurix.measure_backlog" }

// DisableFailingArgs is the round that switches off endpoints failing for
// too long.
type DisableFailingArgs struct{}

// Kind is the job kind shown in River UI.
func (DisableFailingArgs) Kind() string { return "aurix.disable_failing_endpoints" }

// PurgeArgs is the round that deletes what the retention settings no
// longer keep.
type PurgeArgs struct{}

// Kind is the job kind shown in River UI.
func (PurgeArgs) Kind() string { return "aurix.retention_purge" }

// PurgeBudget bounds one purge round: a round with more to do (the first
// after an upgrade, or after retention was shortened) stops after the batch
// at hand and the next round goes on, so a round never holds a worker for
// long. Each batch is its own short transaction.
const PurgeBudget = 5 * time.Minute

// purgeWorker runs the purge with its own budget rather than the other
// rounds' timeout.
type purgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	purger ports.RetentionPurger
	log    *slog.Logger
}

// Timeout leaves the round its budget plus time to finish the batch at hand.
func (w *purgeWorker) Timeout(*river.Job[PurgeArgs]) time.Duration { return PurgeBudget + time.Minute }

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	budget, cancel := context.WithTimeout(ctx, PurgeBudget)
	defer cancel()
	start := time.Now()
	rep, err := w.purger.Purge(budget)
	if rep.Total() > 0 || rep.Unfinished {
		w.log.InfoContext(ctx, "retention purge", "events", rep.Events, "deliveries", rep.Deliveries, "attempts", rep.Attempts,
			"message_ids", rep.Messages, "clicks", rep.Clicks, "leads", rep.Leads, "unfinished", rep.Unfinished,
			"took_ms", time.Since(start).Milliseconds())
	}
	return err
}

// Maintenance is the periodic work the jobs run.
type Maintenance interface {
	MeasureBacklog(ctx context.Context) error
	DisableFailingEndpoints(ctx context.Context) (int, error)
}

// AddWorkers registers the maintenance workers; purger may be nil when
// nothing is ever purged.
func AddWorkers(workers *river.Workers, m Maintenance, purger ports.RetentionPurger, log *slog.Logger) {
	if purger != nil {
		river.AddWorker(workers, &purgeWorker{purger: purger, log: log})
	}
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, _ *river.Job[MeasureBacklogArgs]) error {
		return m.MeasureBacklog(ctx)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, _ *river.Job[DisableFailingArgs]) error {
		n, err := m.DisableFailingEndpoints(ctx)
		if n > 0 {
			log.InfoContext(ctx, "maintenance: switched off failing endpoints", "count", n)
		}
		return err
	}))
}

// PeriodicJobs are the maintenance rounds the River leader schedules, the
// retention purge every purgeEvery (none when 0). A round left over from a
// slow worker does not pile up: each kind is unique per period, and a purge
// is not queued while another is queued or running.
func PeriodicJobs(purgeEvery time.Duration) []*river.PeriodicJob {
	job := func(every time.Duration, args river.JobArgs, unique river.UniqueOpts) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
			return args, &river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1, UniqueOpts: unique}
		}, &river.PeriodicJobOpts{RunOnStart: true})
	}
	jobs := []*river.PeriodicJob{
		job(MeasureBacklogEvery, MeasureBacklogArgs{}, river.UniqueOpts{ByPeriod: MeasureBacklogEvery}),
		job(DisableFailingEvery, DisableFailingArgs{}, river.UniqueOpts{ByPeriod: DisableFailingEvery}),
	}
	if purgeEvery > 0 {
		// Unique while queued or running (not once completed), so a round
		// longer than the interval delays the next instead of overlapping.
		jobs = append(jobs, job(purgeEvery, PurgeArgs{}, river.UniqueOpts{ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled}}))
	}
	return jobs
}

// JobTimeout bounds one maintenance round.
func JobTimeout() time.Duration { return maintenanceJobMaxAge }
