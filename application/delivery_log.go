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
// An event whose latest series is still pending gets no second one; the
// answer is that series.
func (l *DeliveryLog) Redeliver(ctx context.Context, service, eventID string) (ports.Redelivery, error) {
	cfg, err := l.configOf(ctx, service)
	if err != nil {
		return ports.Redelivery{}, fmt.Errorf("redeliver %s to %s: %w", eventID, service, err)
	}
	ev, err := l.Reader.EventByID(ctx, eventID)
	if err != nil {
		return ports.Redelivery{}, fmt.Errorf("redeliver %s: %w", eventID, err)
	}
	var out ports.Redelivery
	err = l.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		ids, pending, err := l.reopenTx(ctx, tx, cfg, []ports.OutboxEvent{ev}, domain.MayRedeliver)
		switch {
		case err != nil:
			return err
		case len(ids) == 1:
			out = ports.Redelivery{DeliveryID: ids[0]}
		case len(pending) == 1:
			out = ports.Redelivery{DeliveryID: pending[0]}
		default:
			// The latest series had ended, yet the storage's keys refused
			// the next one: a series was opened meanwhile by a writer that
			// does not take the event's lock. Every writer of this version
			// takes it (an event's first deliveries commit with the event),
			// so this guards the invariant rather than a known path: ask
			// again, and the next run answers that series.
			return fmt.Errorf("event %s: %w", eventID, domain.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return ports.Redelivery{}, fmt.Errorf("redeliver %s to %s: %w", eventID, service, err)
	}
	return out, nil
}

// Recover redelivers one page of the events whose latest delivery to the
// service failed since q.Since. The page is read first and decided again
// under the events' locks, so concurrent calls (or a redeliver) reopen each
// event once.
func (l *DeliveryLog) Recover(ctx context.Context, service string, q ports.RecoverQuery) (ports.RecoverResult, error) {
	if err := checkRecoverPage(q); err != nil {
		return ports.RecoverResult{}, err
	}
	if q.Limit == 0 {
		q.Limit = domain.MaxRecoverPage
	}
	if q.Until.IsZero() {
		// Stored times are milliseconds: every series this pass opens is
		// stored at or after the millisecond it starts in.
		q.Until = l.Clock.Now().UTC().Truncate(time.Millisecond)
	}
	cfg, err := l.configOf(ctx, service)
	if err != nil {
		return ports.RecoverResult{}, fmt.Errorf("recover deliveries of %s: %w", service, err)
	}
	// One more than the page tells whether another page follows.
	failed, err := l.Reader.FailedSince(ctx, cfg.ID(), q, q.Limit+1)
	if err != nil {
		return ports.RecoverResult{}, fmt.Errorf("recover deliveries of %s: %w", service, err)
	}
	res := ports.RecoverResult{Until: q.Until}
	if len(failed) > q.Limit {
		failed = failed[:q.Limit]
		next := failed[len(failed)-1].Key
		res.Next = &next
	}
	events := make([]ports.OutboxEvent, len(failed))
	for i, f := range failed {
		events[i] = f.Event
	}
	err = l.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		ids, _, err := l.reopenTx(ctx, tx, cfg, events, domain.MayRecover)
		res.Count = len(ids)
		return err
	})
	if err != nil {
		return ports.RecoverResult{}, fmt.Errorf("recover deliveries of %s: %w", service, err)
	}
	return res, nil
}

// checkRecoverPage holds the rule of a recover page, in one place for every
// caller: a page, when its size is asked for, examines 1 to
// domain.MaxRecoverPage events.
func checkRecoverPage(q ports.RecoverQuery) error {
	if (q.LimitSet || q.Limit != 0) && (q.Limit < 1 || q.Limit > domain.MaxRecoverPage) {
		return &domain.ValidationError{Fields: []domain.FieldError{
			{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d", domain.MaxRecoverPage)}}}
	}
	return nil
}

// reopenTx opens the next series of each event to the config that may be
// reopened, deciding under the events' locks from their latest series as
// committed. It returns the series it opened and the pending series it left
// alone.
func (l *DeliveryLog) reopenTx(ctx context.Context, tx ports.Tx, cfg *domain.WebhookConfig, events []ports.OutboxEvent,
	may func(latest domain.DeliveryStatus) bool) (opened, pending []int64, err error) {
	outboxIDs := make([]int64, len(events))
	for i, ev := range events {
		outboxIDs[i] = ev.ID
	}
	latest, err := tx.Deliveries().LatestForUpdate(ctx, cfg.ID(), outboxIDs)
	if err != nil {
		return nil, nil, err
	}
	now := l.Clock.Now()
	var open []*domain.Delivery
	for _, ev := range events {
		cur, has := latest[ev.ID]
		if !may(cur.Status) {
			if cur.Status == domain.DeliveryPending {
				pending = append(pending, cur.DeliveryID)
			}
			continue
		}
		series := 0
		if has {
			series = cur.Series + 1
		}
		open = append(open, domain.OpenDelivery(ev.Ref(), cfg.ID(), series, now))
	}
	created, err := tx.Deliveries().Open(ctx, open)
	for _, d := range created {
		opened = append(opened, d.ID())
	}
	return opened, pending, err
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
