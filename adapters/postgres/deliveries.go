package postgres

import (
	"context"
	"time"

	"github.com/aurix/integrations/ports"
)

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
