package postgres

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type deliveryModel struct {
	bun.BaseModel `bun:"table:webhook_deliveries,alias:d"`

	ID              int64      `bun:"id,pk,autoincrement"`
	OutboxID        int64      `bun:"outbox_id"`
	EventID         string     `bun:"event_id,type:uuid"`
	EventType       string     `bun:"event_type"`
	WebhookConfigID string     `bun:"webhook_config_id,type:uuid"`
	LeadKey         *string    `bun:"lead_key"`
	Series          int        `bun:"series"`
	Status          string     `bun:"status"`
	Attempts        int        `bun:"attempts"`
	LastStatusCode  *int       `bun:"last_status_code"`
	LastError       string     `bun:"last_error"`
	CreatedAt       time.Time  `bun:"created_at"`
	NextAttemptAt   *time.Time `bun:"next_attempt_at"`
	FinishedAt      *time.Time `bun:"finished_at"`
	// Owner is the worker process working the delivery now; ClaimedAt is
	// since when (the database's clock). Neither is part of the aggregate.
	Owner     *string    `bun:"owner,type:uuid"`
	ClaimedAt *time.Time `bun:"claimed_at"`
}

func deliveryFrom(d *domain.Delivery) deliveryModel {
	r := d.Row()
	m := deliveryModel{ID: r.ID, OutboxID: r.OutboxID, EventID: r.EventID, EventType: string(r.EventType),
		WebhookConfigID: r.ConfigID, LeadKey: nullable(r.LeadKey), Series: r.Series, Status: string(r.Status),
		Attempts: r.Attempts, LastError: r.LastError, CreatedAt: r.CreatedAt, NextAttemptAt: r.NextAttemptAt,
		FinishedAt: r.FinishedAt}
	if r.LastStatusCode != 0 {
		code := r.LastStatusCode
		m.LastStatusCode = &code
	}
	return m
}

func (m *deliveryModel) domain() *domain.Delivery {
	r := domain.DeliveryRow{ID: m.ID, OutboxID: m.OutboxID, EventID: m.EventID, EventType: domain.EventType(m.EventType),
		ConfigID: m.WebhookConfigID, LeadKey: deref(m.LeadKey), Series: m.Series, Status: domain.DeliveryStatus(m.Status),
		Attempts: m.Attempts, LastError: m.LastError, CreatedAt: m.CreatedAt, NextAttemptAt: m.NextAttemptAt,
		FinishedAt: m.FinishedAt}
	if m.LastStatusCode != nil {
		r.LastStatusCode = *m.LastStatusCode
	}
	return domain.RehydrateDelivery(r)
}

var _ ports.DeliveryQueue = (*Store)(nil)

// dueSQL finds, per config, its earliest unowned pending delivery and
// whether a retry is due, each an index probe.
const dueSQL = `SELECT c.id AS config_id,
	least(
		(SELECT d.next_attempt_at FROM webhook_deliveries d WHERE d.webhook_config_id = c.id AND d.status = 'pending'
			AND d.owner IS NULL AND d.attempts = 0 ORDER BY d.next_attempt_at LIMIT 1),
		(SELECT d.next_attempt_at FROM webhook_deliveries d WHERE d.webhook_config_id = c.id AND d.status = 'pending'
			AND d.owner IS NULL AND d.attempts > 0 ORDER BY d.next_attempt_at LIMIT 1)) AS next_due,
	coalesce((SELECT d.next_attempt_at <= ? FROM webhook_deliveries d WHERE d.webhook_config_id = c.id AND d.status = 'pending'
			AND d.owner IS NULL AND d.attempts > 0 ORDER BY d.next_attempt_at LIMIT 1), false) AS retries_due
FROM webhook_configs c`

// Due lists the configs with unowned pending deliveries.
func (s *Store) Due(ctx context.Context, now time.Time) ([]ports.DueConfig, error) {
	var rows []struct {
		ConfigID   string     `bun:"config_id"`
		NextDue    *time.Time `bun:"next_due"`
		RetriesDue bool       `bun:"retries_due"`
	}
	if err := s.db.NewRaw(dueSQL, now).Scan(ctx, &rows); err != nil {
		return nil, classify(err, "due deliveries")
	}
	out := make([]ports.DueConfig, 0, len(rows))
	for _, r := range rows {
		if r.NextDue != nil {
			out = append(out, ports.DueConfig{ConfigID: r.ConfigID, NextDue: *r.NextDue, RetriesDue: r.RetriesDue})
		}
	}
	return out, nil
}

// OldestPending returns when the oldest event still waiting for a delivery
// was created.
func (s *Store) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	err := s.db.NewRaw(`SELECT min(created_at) FROM webhook_deliveries WHERE status = 'pending'`).Scan(ctx, &t)
	if err != nil {
		return time.Time{}, false, classify(err, "oldest pending delivery")
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

var _ ports.Gauges = (*Store)(nil)

// SaveGauge stores a measurement for every process to show.
func (s *Store) SaveGauge(ctx context.Context, name string, value float64) error {
	_, err := s.db.NewRaw(`INSERT INTO aurix_gauges (name, value, measured_at) VALUES (?, ?, now())
		ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, measured_at = EXCLUDED.measured_at`, name, value).Exec(ctx)
	return classify(err, "save gauge")
}

// Gauge returns a stored measurement; ok is false when none was taken yet.
func (s *Store) Gauge(ctx context.Context, name string) (float64, bool, error) {
	var v []float64
	if err := s.db.NewRaw("SELECT value FROM aurix_gauges WHERE name = ?", name).Scan(ctx, &v); err != nil {
		return 0, false, classify(err, "read gauge")
	}
	if len(v) == 0 {
		return 0, false, nil
	}
	return v[0], true, nil
}

// EndpointStates lists each integration's config and whether it is active.
func (s *Store) EndpointStates(ctx context.Context) (map[string]bool, error) {
	var rows []struct {
		Service  string `bun:"service_name"`
		IsActive bool   `bun:"is_active"`
	}
	if err := s.db.NewRaw("SELECT service_name, is_active FROM webhook_configs").Scan(ctx, &rows); err != nil {
		return nil, classify(err, "endpoint states")
	}
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		out[r.Service] = r.IsActive
	}
	return out, nil
}
