package postgres

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type deliveryModel struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`

	ID              int64      `bun:"id,pk,autoincrement"`
	OutboxID        int64      `bun:"outbox_id"`
	EventID         string     `bun:"event_id,type:uuid"`
	EventType       string     `bun:"event_type"`
	WebhookConfigID string     `bun:"webhook_config_id,type:uuid"`
	Series          int        `bun:"series"`
	Status          string     `bun:"status"`
	Attempts        int        `bun:"attempts"`
	LastStatusCode  *int       `bun:"last_status_code"`
	LastError       string     `bun:"last_error"`
	CreatedAt       time.Time  `bun:"created_at"`
	NextAttemptAt   *time.Time `bun:"next_attempt_at"`
	FinishedAt      *time.Time `bun:"finished_at"`
}

type deliveries struct {
	tx       bun.Tx
	enqueuer DeliveryEnqueuer
}

// Open inserts the series that are new and schedules their first attempt;
// the unique (outbox_id, webhook_config_id, series) key makes a repeated
// open (a dispatch job worked twice) open nothing.
func (r deliveries) Open(ctx context.Context, ds []ports.NewDelivery) ([]int64, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	rows := make([]deliveryModel, len(ds))
	for i, d := range ds {
		rows[i] = deliveryModel{OutboxID: d.OutboxID, EventID: d.EventID, EventType: string(d.EventType),
			WebhookConfigID: d.ConfigID, Series: d.Series, Status: string(domain.DeliveryPending),
			CreatedAt: d.CreatedAt.UTC().Truncate(time.Millisecond), NextAttemptAt: &ds[i].CreatedAt}
	}
	var created []deliveryModel
	err := r.tx.NewInsert().Model(&rows).
		On("CONFLICT (outbox_id, webhook_config_id, series) DO NOTHING").
		Returning("id, webhook_config_id, event_id, created_at").
		Scan(ctx, &created)
	if err != nil {
		return nil, classify(err, "insert deliveries")
	}
	services := make(map[string]string, len(ds))
	for _, d := range ds {
		services[d.ConfigID] = d.Service
	}
	ids := make([]int64, len(created))
	for i, c := range created {
		ids[i] = c.ID
		if err := r.enqueuer.EnqueueDeliveryTx(ctx, r.tx.Tx, c.ID, c.WebhookConfigID, services[c.WebhookConfigID], c.EventID, 1, time.Time{}); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func (r deliveries) RecordAttempt(ctx context.Context, a ports.DeliveryAttempt) error {
	m := attemptModel{DeliveryID: a.DeliveryID, EventID: a.EventID, WebhookConfigID: a.ConfigID, Attempt: a.Attempt,
		DurationMS: float64(a.Duration.Microseconds()) / 1000, Error: a.Error,
		ResponseBody: a.Response, AttemptedAt: a.AttemptedAt}
	if m.ResponseBody == nil {
		m.ResponseBody = []byte{}
	}
	if a.StatusCode != 0 {
		m.StatusCode = &a.StatusCode
	}
	_, err := r.tx.NewInsert().Model(&m).Exec(ctx)
	return classify(err, "insert webhook attempt")
}

func (r deliveries) Update(ctx context.Context, s ports.DeliveryState) error {
	var code *int
	if s.LastStatusCode != 0 {
		code = &s.LastStatusCode
	}
	_, err := r.tx.NewUpdate().Table("webhook_deliveries").
		Set("status = ?", string(s.Status)).
		Set("attempts = ?", s.Attempts).
		Set("last_status_code = ?", code).
		Set("last_error = ?", s.LastError).
		Set("next_attempt_at = ?", s.NextAttemptAt).
		Set("finished_at = ?", s.FinishedAt).
		Where("id = ?", s.DeliveryID).
		Exec(ctx)
	return classify(err, "update delivery")
}

func (r deliveries) ScheduleAttempt(ctx context.Context, deliveryID int64, configID string, attempt int, at time.Time) error {
	var eventID, service string
	err := r.tx.NewRaw(`SELECT d.event_id, c.service_name FROM webhook_deliveries d JOIN webhook_configs c ON c.id = d.webhook_config_id
		WHERE d.id = ?`, deliveryID).Scan(ctx, &eventID, &service)
	if err != nil {
		return classify(err, "select delivery")
	}
	return r.enqueuer.EnqueueDeliveryTx(ctx, r.tx.Tx, deliveryID, configID, service, eventID, attempt, at)
}

type endpointHealth struct{ db bun.IDB }

func (h endpointHealth) MarkFailing(ctx context.Context, configID string, at time.Time) (time.Time, error) {
	var since time.Time
	err := h.db.NewRaw("UPDATE webhook_configs SET failing_since = coalesce(failing_since, ?) WHERE id = ? RETURNING failing_since",
		at, configID).Scan(ctx, &since)
	return since, classify(err, "mark endpoint failing")
}

// MarkHealthy clears the failure clock; the condition keeps the common case
// (already healthy) from taking the row lock on every success.
func (h endpointHealth) MarkHealthy(ctx context.Context, configID string) error {
	_, err := h.db.NewRaw("UPDATE webhook_configs SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL", configID).Exec(ctx)
	return classify(err, "mark endpoint healthy")
}

func (h endpointHealth) Deactivate(ctx context.Context, configID, reason string, at time.Time) error {
	_, err := h.db.NewRaw("UPDATE webhook_configs SET is_active = false, disabled_reason = ?, updated_at = ? WHERE id = ? AND is_active",
		reason, at, configID).Exec(ctx)
	return classify(err, "deactivate endpoint")
}

// OldestPending returns when the oldest event still waiting for a delivery
// was created.
func (s *Store) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	err := s.db.NewRaw(`SELECT min(o.created_at) FROM webhook_deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE d.status = 'pending'`).Scan(ctx, &t)
	if err != nil {
		return time.Time{}, false, classify(err, "oldest pending delivery")
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}
