package river

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// DispatchWorker fans an outbox event out to the active configs.
type DispatchWorker struct {
	river.WorkerDefaults[DispatchArgs]
	Dispatcher ports.EventDispatcher
	Tracer     trace.Tracer
}

// Work opens the event's deliveries.
func (w *DispatchWorker) Work(ctx context.Context, job *river.Job[DispatchArgs]) error {
	ctx, span := startJobSpan(ctx, w.Tracer, job.Metadata, "aurix.dispatch")
	defer span.End()
	ev, err := w.Dispatcher.Dispatch(ctx, job.Args.OutboxID)
	annotate(ctx, ev)
	if err != nil {
		span.SetStatus(codes.Error, "dispatch failed")
	}
	return err
}

// DeliverWorker makes one delivery attempt per job. The use case records the
// attempt and schedules the next one as a new job in the retry queue, so a
// River error here means only that the attempt could not be made or
// recorded; River then retries the job itself.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	Deliverer ports.EventDeliverer
	// Limiter caps concurrent attempts per webhook config.
	Limiter *ConfigLimiter
	Logger  *slog.Logger
	Tracer  trace.Tracer
}

// Work delivers the event unless the endpoint already has its fill of
// attempts in flight. It then waits a moment for a slot (with a fast
// partner one frees within milliseconds) and otherwise steps aside (a
// snooze does not count as an attempt), leaving the worker to other
// partners.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	release, ok := w.Limiter.Acquire(ctx, job.Args.ConfigID)
	if !ok {
		return river.JobSnooze(250 * time.Millisecond)
	}
	defer release()
	ctx, span := startJobSpan(ctx, w.Tracer, job.Metadata, "aurix.deliver")
	defer span.End()
	out, err := w.Deliverer.Deliver(ctx, ports.DeliveryRequest{DeliveryID: job.Args.DeliveryID, Attempt: job.Args.Attempt})
	annotate(ctx, out.Event, attemptAttrs(out.Service, job.Args.Attempt, out.StatusCode)...)
	if err != nil || out.Err != nil {
		span.SetStatus(codes.Error, "delivery attempt failed")
	}
	if err != nil {
		return err
	}
	if out.Err != nil && out.Status == domain.DeliveryFailed {
		w.Logger.WarnContext(ctx, "webhook delivery failed for good",
			"delivery_id", job.Args.DeliveryID, "webhook_config_id", job.Args.ConfigID,
			"attempt", job.Args.Attempt, "status_code", out.StatusCode)
	}
	return nil
}

// ConfigLimiter caps attempts in flight per webhook config in this process,
// so one slow partner cannot hold every worker.
type ConfigLimiter struct {
	max  int
	wait time.Duration
	mu   sync.Mutex
	sems map[string]chan struct{}
}

// NewConfigLimiter allows at most max concurrent attempts per config; a
// caller over the cap waits up to wait for a slot.
func NewConfigLimiter(max int, wait time.Duration) *ConfigLimiter {
	return &ConfigLimiter{max: max, wait: wait, sems: map[string]chan struct{}{}}
}

// Acquire takes a slot for the config, waiting up to the limiter's wait for
// one; release gives it back. ok is false when no slot freed in time.
func (l *ConfigLimiter) Acquire(ctx context.Context, configID string) (release func(), ok bool) {
	l.mu.Lock()
	sem, found := l.sems[configID]
	if !found {
		// One small channel per config ever seen; configs are few (one
		// per integration service).
		sem = make(chan struct{}, l.max)
		l.sems[configID] = sem
	}
	l.mu.Unlock()
	release = func() { <-sem }
	select {
	case sem <- struct{}{}:
		return release, true
	default:
	}
	if l.wait <= 0 {
		return nil, false
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return release, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}
