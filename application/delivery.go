package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Dispatcher fans outbox events out to the active webhook configs.
type Dispatcher struct {
	Configs ports.ActiveConfigLister
	Queue   ports.DeliveryQueue
}

var _ ports.EventDispatcher = (*Dispatcher)(nil)

// Dispatch schedules one delivery of the event per active config. Running it
// again for the same event schedules nothing twice.
func (d *Dispatcher) Dispatch(ctx context.Context, outboxID int64) error {
	configs, err := d.Configs.ActiveWebhookConfigs(ctx)
	if err != nil {
		return fmt.Errorf("dispatch outbox event %d: %w", outboxID, err)
	}
	if len(configs) == 0 {
		return nil
	}
	ids := make([]string, len(configs))
	for i, c := range configs {
		ids[i] = c.ID()
	}
	if err := d.Queue.EnqueueDeliveries(ctx, outboxID, ids); err != nil {
		return fmt.Errorf("dispatch outbox event %d: %w", outboxID, err)
	}
	return nil
}

// Deliverer sends one event to one config and records the attempt.
type Deliverer struct {
	Events   ports.OutboxReader
	Configs  ports.WebhookConfigReader
	Sender   ports.WebhookSender
	Attempts ports.AttemptLog
	Clock    ports.Clock
}

var _ ports.EventDeliverer = (*Deliverer)(nil)

// Deliver makes one attempt. The returned error is for the caller's
// infrastructure (the attempt could not even be made or recorded); how the
// receiver answered is in the outcome.
func (d *Deliverer) Deliver(ctx context.Context, req ports.DeliveryRequest) (ports.DeliveryOutcome, error) {
	ev, err := d.Events.OutboxEvent(ctx, req.OutboxID)
	if errors.Is(err, domain.ErrNotFound) {
		return ports.DeliveryOutcome{Skipped: true}, nil
	}
	if err != nil {
		return ports.DeliveryOutcome{}, fmt.Errorf("load outbox event %d: %w", req.OutboxID, err)
	}
	cfg, err := d.Configs.WebhookConfigByID(ctx, req.ConfigID)
	if errors.Is(err, domain.ErrNotFound) {
		return ports.DeliveryOutcome{Skipped: true}, nil
	}
	if err != nil {
		return ports.DeliveryOutcome{}, fmt.Errorf("load webhook config %s: %w", req.ConfigID, err)
	}
	if !cfg.IsActive() {
		return ports.DeliveryOutcome{Skipped: true}, nil
	}
	at := d.Clock.Now()
	resp, sendErr := d.Sender.Send(ctx, ports.WebhookRequest{
		URL: cfg.TargetURL(), EventID: ev.EventID, EventType: ev.Type,
		Attempt: req.Attempt, Payload: ev.Payload, Secret: cfg.Secret(),
	})
	out := ports.DeliveryOutcome{StatusCode: resp.StatusCode}
	switch {
	case sendErr != nil:
		out.Err = sendErr
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		out.Delivered = true
	default:
		out.Err = fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	attempt := ports.DeliveryAttempt{
		EventID: ev.EventID, ConfigID: cfg.ID(), Attempt: req.Attempt,
		StatusCode: resp.StatusCode, Duration: resp.Duration, Response: resp.Body, AttemptedAt: at,
	}
	if out.Err != nil {
		attempt.Error = out.Err.Error()
	}
	// The attempt happened whatever the caller's context says now: record it.
	if err := d.Attempts.RecordAttempt(context.WithoutCancel(ctx), attempt); err != nil {
		return out, fmt.Errorf("record attempt %d of event %s: %w", req.Attempt, ev.EventID, err)
	}
	return out, nil
}
