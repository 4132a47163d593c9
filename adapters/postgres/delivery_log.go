package postgres

import (
	"context"
	"time"

	"github.com/aurix/integrations/ports"
)

// The delivery log's listings (Store.Deliveries, Store.EventDeliveries)
// bypass bun: see bypass.go.

// EventByID returns a stored event by its public id.
func (s *Store) EventByID(ctx context.Context, eventID string) (ports.OutboxEvent, error) {
	var m outboxModel
	if err := s.db.NewSelect().Model(&m).Where("event_id = ?", eventID).Scan(ctx); err != nil {
		return ports.OutboxEvent{}, classify(err, "select event")
	}
	return outboxEventOf(m), nil
}

// FailedSince finds the events whose latest series to the config failed.
func (s *Store) FailedSince(ctx context.Context, configID string, since time.Time) ([]ports.OutboxEvent, error) {
	var ms []outboxModel
	err := s.db.NewRaw(`SELECT o.* FROM outbox o WHERE o.id IN (
		SELECT DISTINCT ON (d.outbox_id) d.outbox_id FROM webhook_deliveries d
		WHERE d.webhook_config_id = ? AND d.outbox_id IN (
			SELECT outbox_id FROM webhook_deliveries WHERE webhook_config_id = ? AND status IN ('failed', 'exhausted') AND created_at >= ?)
		ORDER BY d.outbox_id, d.series DESC)
		AND (SELECT status FROM webhook_deliveries d2 WHERE d2.outbox_id = o.id AND d2.webhook_config_id = ?
			ORDER BY d2.series DESC LIMIT 1) IN ('failed', 'exhausted')
		ORDER BY o.id`, configID, configID, since, configID).Scan(ctx, &ms)
	if err != nil {
		return nil, classify(err, "select failed deliveries")
	}
	out := make([]ports.OutboxEvent, len(ms))
	for i, m := range ms {
		out[i] = outboxEventOf(m)
	}
	return out, nil
}
