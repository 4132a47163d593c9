package application

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Maintenance is the periodic work that must run on one process at a time
// (the River leader schedules it; one worker runs each round).
type Maintenance struct {
	UoW    ports.UnitOfWork
	Gauges ports.Gauges
	Clock  ports.Clock
	// DisableAfter switches off an endpoint failing this long; 0 never.
	DisableAfter time.Duration
	Log          *slog.Logger
}

// DisableFailingEndpoints switches off the endpoints that have failed
// without a success for DisableAfter, also those no attempt reaches any more
// (every delivery to them exhausted), which the attempts themselves would
// never switch off.
func (m *Maintenance) DisableFailingEndpoints(ctx context.Context) (int, error) {
	if m.DisableAfter <= 0 {
		return 0, nil
	}
	var off []*domain.WebhookConfig
	err := m.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		off = off[:0]
		now := m.Clock.Now()
		cfgs, err := tx.WebhookConfigs().FailingBefore(ctx, now.Add(-m.DisableAfter))
		if err != nil {
			return err
		}
		for _, c := range cfgs {
			if c.CheckFailing(now, m.DisableAfter) {
				if err := tx.WebhookConfigs().Save(ctx, c); err != nil {
					return err
				}
				off = append(off, c)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("disable failing endpoints: %w", err)
	}
	// Logged once committed: the unit of work may run the function again.
	if m.Log != nil {
		for _, c := range off {
			m.Log.WarnContext(ctx, "webhook endpoint switched off", "integration", c.Service(), "reason", c.DisabledReason())
		}
	}
	return len(off), nil
}

// GaugeOutboxLag names the measured age, in seconds, of the oldest event
// not yet delivered.
const GaugeOutboxLag = "outbox_lag_seconds"

// MeasureBacklog measures how long the oldest pending delivery has waited,
// once for the whole deployment.
func (m *Maintenance) MeasureBacklog(ctx context.Context) error {
	oldest, ok, err := m.Gauges.OldestPending(ctx)
	if err != nil {
		return fmt.Errorf("measure backlog: %w", err)
	}
	lag := 0.0
	if ok {
		lag = max(0, m.Clock.Now().Sub(oldest).Seconds())
	}
	if err := m.Gauges.SaveGauge(ctx, GaugeOutboxLag, lag); err != nil {
		return fmt.Errorf("measure backlog: %w", err)
	}
	return nil
}
