package application

import (
	"context"
	"fmt"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// publish writes events to the outbox and, in the same transaction, opens
// one delivery of each to every active webhook config subscribed to its
// type, due at once. The event and its deliveries commit or roll back
// together, and a worker process can claim a delivery the moment it is
// committed.
func publish(ctx context.Context, tx ports.Tx, now time.Time, events []domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	stored, err := tx.Outbox().Append(ctx, events...)
	if err != nil {
		return err
	}
	return openDeliveries(ctx, tx, now, stored)
}

// openDeliveries opens, in one statement, a delivery of each stored event
// to every active webhook config subscribed to its type.
func openDeliveries(ctx context.Context, tx ports.Tx, now time.Time, stored []ports.OutboxEvent) error {
	if len(stored) == 0 {
		return nil
	}
	configs, err := tx.WebhookConfigs().Active(ctx)
	if err != nil {
		return fmt.Errorf("active webhook configs: %w", err)
	}
	refs := make([]domain.EventRef, len(stored))
	for i, ev := range stored {
		refs[i] = ev.Ref()
	}
	ds := deliveriesOf(refs, configs, now)
	if len(ds) == 0 {
		return nil
	}
	_, err = tx.Deliveries().Open(ctx, ds)
	return err
}

// deliveriesOf opens a delivery of each event to every config subscribed
// to its type.
func deliveriesOf(events []domain.EventRef, configs []*domain.WebhookConfig, now time.Time) []*domain.Delivery {
	var ds []*domain.Delivery
	for _, ev := range events {
		for _, c := range configs {
			if c.Receives(ev.Type) {
				ds = append(ds, domain.OpenDelivery(ev, c.ID(), 0, now))
			}
		}
	}
	return ds
}
