package application

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Dispatcher fans one stored event out to the active webhook configs. Events
// are fanned out in the transaction that writes them (see publish); the
// dispatcher still works dispatch jobs queued by an earlier version, so an
// upgrade loses none of them.
type Dispatcher struct {
	UoW    ports.UnitOfWork
	Events ports.OutboxReader
	Clock  ports.Clock
}

var _ ports.EventDispatcher = (*Dispatcher)(nil)

// Dispatch opens one delivery of the event per active config and schedules
// its first attempt, in one transaction. Running it again for the same
// event opens nothing twice.
func (d *Dispatcher) Dispatch(ctx context.Context, outboxID int64) (ports.OutboxEvent, error) {
	ev, err := d.Events.OutboxEvent(ctx, outboxID)
	if errors.Is(err, domain.ErrNotFound) {
		return ports.OutboxEvent{}, nil
	}
	if err != nil {
		return ev, fmt.Errorf("dispatch outbox event %d: %w", outboxID, err)
	}
	err = d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		configs, err := tx.WebhookConfigs().Active(ctx)
		if err != nil {
			return err
		}
		return openDeliveries(ctx, tx, []ports.OutboxEvent{ev}, configs, d.Clock.Now())
	})
	if err != nil {
		return ev, fmt.Errorf("dispatch outbox event %d: %w", outboxID, err)
	}
	return ev, nil
}

// Deliverer makes delivery attempts and decides what follows each.
type Deliverer struct {
	UoW        ports.UnitOfWork
	Deliveries ports.DeliveryReader
	// Successes records successful attempts, grouping concurrent ones into
	// one commit; nil records them through UoW one by one.
	Successes ports.SuccessRecorder
	Sender    ports.WebhookSender
	Clock     ports.Clock
	Schedule  domain.RetrySchedule
	// DisableAfter switches off an endpoint whose deliveries have all
	// failed for this long; 0 never does.
	DisableAfter time.Duration
	// Jitter returns a number in [0,1) for retry jitter; nil uses math/rand.
	Jitter    func() float64
	Telemetry ports.Telemetry
}

var _ ports.EventDeliverer = (*Deliverer)(nil)

// Deliver makes the attempt the request names, records it, and in the same
// transaction schedules the next attempt or finishes the delivery. The
// returned error is for the caller's infrastructure (retry the job); how
// the receiver answered is in the outcome.
func (d *Deliverer) Deliver(ctx context.Context, req ports.DeliveryRequest) (ports.DeliveryOutcome, error) {
	target, err := d.Deliveries.DeliveryTarget(ctx, req.DeliveryID)
	if errors.Is(err, domain.ErrNotFound) {
		return ports.DeliveryOutcome{Skipped: true}, nil
	}
	if err != nil {
		return ports.DeliveryOutcome{}, fmt.Errorf("load delivery %d: %w", req.DeliveryID, err)
	}
	// A request for an attempt already made (a job rescued after a crash
	// that happened after its attempt was recorded) is stale.
	if target.Status != domain.DeliveryPending || target.Attempts+1 != req.Attempt {
		return ports.DeliveryOutcome{Skipped: true, Status: target.Status}, nil
	}
	cfg := target.Config
	now := d.Clock.Now()
	if !cfg.IsActive() {
		// Nothing more is sent to a switched-off endpoint; the partner can
		// recover the failed deliveries after re-activating it.
		err := d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Deliveries().Update(ctx, ports.DeliveryState{DeliveryID: req.DeliveryID, Status: domain.DeliveryFailed,
				Attempts: target.Attempts, LastError: "webhook config is inactive", FinishedAt: &now})
		})
		return ports.DeliveryOutcome{Skipped: true, Status: domain.DeliveryFailed, Event: target.Event, Service: cfg.Service()}, err
	}

	resp, sendErr := d.Sender.Send(ctx, ports.WebhookRequest{
		URL: cfg.TargetURL(), EventID: target.Event.EventID, EventType: target.Event.Type,
		Attempt: req.Attempt, Payload: target.Event.Payload, Secrets: cfg.SigningSecrets(now),
	})
	result := domain.AttemptResult{StatusCode: resp.StatusCode, Failed: sendErr != nil, RetryAfter: resp.RetryAfter}
	decision := domain.DecideAfterAttempt(req.Attempt, result, d.Schedule, d.jitter(), d.Clock.Now())
	out := ports.DeliveryOutcome{Status: decision.Status, StatusCode: resp.StatusCode, RetryAt: decision.RetryAt,
		Event: target.Event, Service: cfg.Service()}
	switch {
	case sendErr != nil:
		out.Err = sendErr
	case !result.Succeeded():
		out.Err = fmt.Errorf("receiver answered %d", resp.StatusCode)
	}

	state := ports.DeliveryState{DeliveryID: req.DeliveryID, Status: decision.Status, Attempts: req.Attempt,
		LastStatusCode: resp.StatusCode}
	attempt := ports.DeliveryAttempt{DeliveryID: req.DeliveryID, EventID: target.Event.EventID, ConfigID: cfg.ID(),
		Attempt: req.Attempt, StatusCode: resp.StatusCode, Duration: resp.Duration, Response: resp.Body, AttemptedAt: now}
	if out.Err != nil {
		attempt.Error, state.LastError = out.Err.Error(), out.Err.Error()
	}
	if decision.Status == domain.DeliveryPending {
		state.NextAttemptAt = &decision.RetryAt
	} else {
		state.FinishedAt = &now
	}
	// The attempt happened whatever the caller's context says now: record it.
	if err := d.record(context.WithoutCancel(ctx), attempt, state, result, decision, now); err != nil {
		return out, fmt.Errorf("record attempt %d of delivery %d: %w", req.Attempt, req.DeliveryID, err)
	}
	tel := telemetryOf(d.Telemetry)
	outcome := string(decision.Status)
	if decision.Status == domain.DeliveryPending {
		outcome = "retrying"
	}
	tel.DeliveryAttempted(ctx, outcome, resp.StatusCode)
	if decision.Status == domain.DeliverySucceeded {
		tel.EventDelivered(ctx, d.Clock.Now().Sub(target.Event.CreatedAt))
	}
	return out, nil
}

// record writes the attempt and what follows it. A success needs no new job
// and no decision about the endpoint beyond clearing its failure clock, so
// it takes the grouped path; everything else is one transaction of its own.
func (d *Deliverer) record(ctx context.Context, attempt ports.DeliveryAttempt, state ports.DeliveryState,
	result domain.AttemptResult, decision domain.DeliveryDecision, now time.Time) error {
	if d.Successes != nil && decision.Status == domain.DeliverySucceeded {
		return d.Successes.RecordSuccess(ctx, attempt, state)
	}
	return d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Deliveries().RecordAttempt(ctx, attempt); err != nil {
			return err
		}
		if err := tx.Deliveries().Update(ctx, state); err != nil {
			return err
		}
		if err := d.trackHealth(ctx, tx, attempt.ConfigID, result, decision, now); err != nil {
			return err
		}
		if decision.Status == domain.DeliveryPending {
			return tx.Deliveries().ScheduleAttempt(ctx, attempt.DeliveryID, attempt.ConfigID, attempt.Attempt+1, decision.RetryAt)
		}
		return nil
	})
}

// telemetryOf returns t, or a sink when t is nil.
func telemetryOf(t ports.Telemetry) ports.Telemetry {
	if t == nil {
		return ports.NoTelemetry{}
	}
	return t
}

// trackHealth switches off an endpoint that answered 410 Gone or that has
// failed without a success for DisableAfter.
func (d *Deliverer) trackHealth(ctx context.Context, tx ports.Tx, configID string, r domain.AttemptResult, dec domain.DeliveryDecision, now time.Time) error {
	h := tx.EndpointHealth()
	if r.Succeeded() {
		return h.MarkHealthy(ctx, configID)
	}
	if dec.DeactivateConfig {
		return h.Deactivate(ctx, configID, "receiver answered 410 Gone", now)
	}
	since, err := h.MarkFailing(ctx, configID, now)
	if err != nil {
		return err
	}
	if domain.ShouldDisable(since, now, d.DisableAfter) {
		return h.Deactivate(ctx, configID, fmt.Sprintf("every delivery failed since %s", domain.FormatTime(since)), now)
	}
	return nil
}

func (d *Deliverer) jitter() float64 {
	if d.Jitter != nil {
		return d.Jitter()
	}
	return rand.Float64() //nolint:gosec // G404: retry jitter needs no cryptographic randomness
}
