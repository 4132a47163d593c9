package river

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
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

// Maintenance is the periodic work the jobs run.
type Maintenance interface {
	MeasureBacklog(ctx context.Context) error
	DisableFailingEndpoints(ctx context.Context) (int, error)
}

// AddWorkers registers the maintenance workers.
func AddWorkers(workers *river.Workers, m Maintenance, log *slog.Logger) {
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

// PeriodicJobs are the maintenance rounds the River leader schedules. A
// round left over from a slow worker does not pile up: each kind is unique
// per period.
func PeriodicJobs() []*river.PeriodicJob {
	job := func(every time.Duration, args river.JobArgs) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
			return args, &river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1,
				UniqueOpts: river.UniqueOpts{ByPeriod: every}}
		}, &river.PeriodicJobOpts{RunOnStart: true})
	}
	return []*river.PeriodicJob{
		job(MeasureBacklogEvery, MeasureBacklogArgs{}),
		job(DisableFailingEvery, DisableFailingArgs{}),
	}
}

// JobTimeout bounds one maintenance round.
func JobTimeout() time.Duration { return maintenanceJobMaxAge }
