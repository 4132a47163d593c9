package river

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// DispatchWorker fans an outbox event out to the active configs.
type DispatchWorker struct {
	river.WorkerDefaults[DispatchArgs]
	Dispatcher ports.EventDispatcher
}

// Work schedules the event's deliveries.
func (w *DispatchWorker) Work(ctx context.Context, job *river.Job[DispatchArgs]) error {
	return w.Dispatcher.Dispatch(ctx, job.Args.OutboxID)
}

// DeliverWorker makes one delivery attempt per run and lets River retry
// failures on the contract's schedule until the attempts run out, after
// which River discards the job.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	Deliverer ports.EventDeliverer
	Schedule  domain.RetrySchedule
	// AttemptTimeout bounds one attempt; the job gets a little more so the
	// attempt can be recorded.
	AttemptTimeout time.Duration
	Logger         *slog.Logger
}

// Work delivers the event; a non-2xx answer or a transport error is returned
// so that River schedules the next attempt.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	out, err := w.Deliverer.Deliver(ctx, ports.DeliveryRequest{
		OutboxID: job.Args.OutboxID, ConfigID: job.Args.ConfigID, Attempt: job.Attempt,
	})
	if err != nil {
		return err
	}
	if out.Err != nil {
		if job.Attempt >= job.MaxAttempts {
			w.Logger.WarnContext(ctx, "webhook delivery gave up",
				"outbox_id", job.Args.OutboxID, "webhook_config_id", job.Args.ConfigID,
				"attempt", job.Attempt, "status_code", out.StatusCode)
		}
		return fmt.Errorf("attempt %d: %w", job.Attempt, out.Err)
	}
	return nil
}

// NextRetry follows the configured schedule with ±20% jitter.
func (w *DeliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(w.Schedule.Delay(job.Attempt, rand.Float64()))
}

// Timeout leaves room to record the attempt after the HTTP timeout.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.AttemptTimeout + 10*time.Second
}
