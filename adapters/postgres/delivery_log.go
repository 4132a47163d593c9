package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// The delivery log's listings (Store.Deliveries, Store.EventDeliveries) and
// the recover page (Store.FailedSince) bypass bun: see bypass.go.

var _ ports.DeliveryLogReader = (*Store)(nil)

// EventByID returns a stored event by its public id.
func (s *Store) EventByID(ctx context.Context, eventID string) (ports.OutboxEvent, error) {
	var m outboxModel
	if err := s.db.NewSelect().Model(&m).Where("event_id = ?", eventID).Scan(ctx); err != nil {
		return ports.OutboxEvent{}, classify(err, "select event")
	}
	return outboxEventOf(m), nil
}

// LatestForUpdate takes the events' row locks (FOR NO KEY UPDATE: it does
// not conflict with the key-share locks that inserting their deliveries
// takes, so nothing but another reopening waits), in id order so that two
// callers cannot deadlock, and then reads each event's latest series in a
// second statement, whose snapshot is taken after the locks were granted:
// a reopening committed by the previous holder is seen.
func (r deliveries) LatestForUpdate(ctx context.Context, configID string, outboxIDs []int64) (map[int64]ports.DeliverySeries, error) {
	out := make(map[int64]ports.DeliverySeries, len(outboxIDs))
	if len(outboxIDs) == 0 {
		return out, nil
	}
	db, err := r.t.db(ctx)
	if err != nil {
		return nil, err
	}
	ids := pgdialect.Array(outboxIDs)
	if _, err := db.NewRaw("SELECT id FROM outbox WHERE id = ANY(?::bigint[]) ORDER BY id FOR NO KEY UPDATE", ids).Exec(ctx); err != nil {
		return nil, classify(err, "lock events")
	}
	var rows []struct {
		OutboxID int64  `bun:"outbox_id"`
		ID       int64  `bun:"id"`
		Series   int    `bun:"series"`
		Status   string `bun:"status"`
	}
	err = db.NewRaw(`SELECT DISTINCT ON (outbox_id) outbox_id, id, series, status FROM webhook_deliveries
		WHERE webhook_config_id = ? AND outbox_id = ANY(?::bigint[]) ORDER BY outbox_id, series DESC`, configID, ids).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, classify(err, "latest delivery series")
	}
	for _, row := range rows {
		out[row.OutboxID] = ports.DeliverySeries{DeliveryID: row.ID, Series: row.Series, Status: domain.DeliveryStatus(row.Status)}
	}
	return out, nil
}
