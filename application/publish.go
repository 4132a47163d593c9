package application

import (
	"context"
	"fmt"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// publish writes events to the outbox and, in the same transaction, opens
// one delivery per active webhook config with its first attempt scheduled.
// Fanning out where the event is written, instead of in a separate dispatch
// job, saves a job, a transaction and its WAL flush per event; the event and
// its deliveries still commit or roll back together.
func publish(ctx context.Context, tx ports.Tx, now time.Time, events []domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	stored, err := tx.Outbox().Append(ctx, events...)
	if err != nil {
		return err
	}
	configs, err := tx.WebhookConfigs().Active(ctx)
	if err != nil {
		return fmt.Errorf("active webhook configs: %w", err)
	}
	return openDeliveries(ctx, tx, stored, configs, now)
}

// openDeliveries opens series 0 of each event to each config; a series
// that exists already is left alone.
func openDeliveries(ctx context.Context, tx ports.Tx, events []ports.OutboxEvent, configs []*domain.WebhookConfig, now time.Time) error {
	if len(events) == 0 || len(configs) == 0 {
		return nil
	}
	ds := make([]ports.NewDelivery, 0, len(events)*len(configs))
	for _, ev := range events {
		for _, c := range configs {
			ds = append(ds, ports.NewDelivery{OutboxID: ev.ID, EventID: ev.EventID, EventType: ev.Type, ConfigID: c.ID(),
				Service: c.Service(), CreatedAt: now})
		}
	}
	_, err := tx.Deliveries().Open(ctx, ds)
	return err
}
