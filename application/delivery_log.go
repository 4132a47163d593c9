package application

import (
	"context"
	"fmt"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// DeliveryLog lets partners see their deliveries, replay them and rotate
// their signing secret.
type DeliveryLog struct {
	UoW    ports.UnitOfWork
	Reader ports.DeliveryLogReader
	Clock  ports.Clock
	Random ports.Random
	// SecretGrace is how long a rotated-out secret stays valid.
	SecretGrace time.Duration
}

var _ ports.DeliveryLog = (*DeliveryLog)(nil)

// configOf returns the service's config or domain.ErrNotFound.
func (l *DeliveryLog) configOf(ctx context.Context, service string) (*domain.WebhookConfig, error) {
	var cfg *domain.WebhookConfig
	err := l.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		cfg, err = tx.WebhookConfigs().ByService(ctx, service)
		return err
	})
	return cfg, err
}

// ListDeliveries pages the service's deliveries, newest series included.
func (l *DeliveryLog) ListDeliveries(ctx context.Context, service string, q ports.DeliveryLogQuery, emit func(ports.DeliveryRecord) error) (*ports.PageKey, error) {
	if err := checkPage(q.Page); err != nil {
		return nil, err
	}
	cfg, err := l.configOf(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", service, err)
	}
	q.ConfigID = cfg.ID()
	return page(q.Page, func(limit int, yield func(ports.DeliveryRecord, ports.PageKey) error) error {
		return l.Reader.Deliveries(ctx, q, limit, yield)
	}, emit)
}

// Event returns the event as sent and its deliveries to the service.
func (l *DeliveryLog) Event(ctx context.Context, service, eventID string) (ports.EventRecord, error) {
	cfg, err := l.configOf(ctx, service)
	if err != nil {
		return ports.EventRecord{}, fmt.Errorf("event %s for %s: %w", eventID, service, err)
	}
	ev, err := l.Reader.EventByID(ctx, eventID)
	if err != nil {
		return ports.EventRecord{}, fmt.Errorf("event %s: %w", eventID, err)
	}
	ds, err := l.Reader.EventDeliveries(ctx, cfg.ID(), eventID)
	if err != nil {
		return ports.EventRecord{}, fmt.Errorf("deliveries of event %s: %w", eventID, err)
	}
	return ports.EventRecord{Event: ev, Deliveries: ds}, nil
}

// Redeliver opens a new series: the same event id and bytes, attempts from 1.
func (l *DeliveryLog) Redeliver(ctx context.Context, service, eventID string) (int64, error) {
	cfg, err := l.configOf(ctx, service)
	if err != nil {
		return 0, fmt.Errorf("redeliver %s to %s: %w", eventID, service, err)
	}
	ev, err := l.Reader.EventByID(ctx, eventID)
	if err != nil {
		return 0, fmt.Errorf("redeliver %s: %w", eventID, err)
	}
	ids, err := l.reopen(ctx, cfg, []ports.OutboxEvent{ev})
	if err != nil {
		return 0, fmt.Errorf("redeliver %s to %s: %w", eventID, service, err)
	}
	return ids[0], nil
}

// Recover redelivers every event whose latest delivery to the service
// failed since then.
func (l *DeliveryLog) Recover(ctx context.Context, service string, since time.Time) (int, error) {
	cfg, err := l.configOf(ctx, service)
	if err != nil {
		return 0, fmt.Errorf("recover deliveries of %s: %w", service, err)
	}
	events, err := l.Reader.FailedSince(ctx, cfg.ID(), since)
	if err != nil {
		return 0, fmt.Errorf("recover deliveries of %s: %w", service, err)
	}
	ids, err := l.reopen(ctx, cfg, events)
	if err != nil {
		return 0, fmt.Errorf("recover deliveries of %s: %w", service, err)
	}
	return len(ids), nil
}

// reopen opens the next series of each event to the config in one
// transaction. A concurrent redelivery of the same event may take that
// series first: the insert then waits for it and creates nothing, which is
// a conflict, and the unit of work runs the whole transaction again, reading
// each next series afresh.
func (l *DeliveryLog) reopen(ctx context.Context, cfg *domain.WebhookConfig, events []ports.OutboxEvent) ([]int64, error) {
	configID := cfg.ID()
	var ids []int64
	err := l.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		ids = ids[:0]
		now := l.Clock.Now()
		for _, ev := range events {
			series, err := tx.Deliveries().NextSeries(ctx, ev.ID, configID)
			if err != nil {
				return err
			}
			created, err := tx.Deliveries().Open(ctx, []*domain.Delivery{domain.OpenDelivery(ev.Ref(), configID, series, now)})
			if err != nil {
				return err
			}
			if len(created) == 0 {
				return fmt.Errorf("event %s: series %d opened meanwhile: %w", ev.EventID, series, domain.ErrConflict)
			}
			ids = append(ids, created[0].ID())
		}
		return nil
	})
	return ids, err
}

// RotateSecret replaces the signing secret; the old one keeps verifying for
// SecretGrace.
func (l *DeliveryLog) RotateSecret(ctx context.Context, service string) (ports.WebhookConfigView, error) {
	var view ports.WebhookConfigView
	err := l.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		cfg, err := tx.WebhookConfigs().ByServiceForUpdate(ctx, service)
		if err != nil {
			return err
		}
		next, err := newSecret(l.Random)
		if err != nil {
			return err
		}
		cfg.Rotate(next, l.Clock.Now(), l.SecretGrace)
		if err := tx.WebhookConfigs().Save(ctx, cfg); err != nil {
			return err
		}
		view = viewOf(cfg)
		return nil
	})
	if err != nil {
		return view, fmt.Errorf("rotate secret of %s: %w", service, err)
	}
	return view, nil
}
