package postgres

import (
	"context"
	"fmt"
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

type deliveries struct {
	tx     bun.Tx
	opened func()
}

// Open inserts the new series; the unique (outbox_id, webhook_config_id,
// series) key and the one-pending-delivery-per-event-and-config key make a
// repeated open create nothing.
func (r deliveries) Open(ctx context.Context, ds []*domain.Delivery) ([]*domain.Delivery, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	rows := make([]deliveryModel, len(ds))
	for i, d := range ds {
		rows[i] = deliveryFrom(d)
	}
	var created []deliveryModel
	err := r.tx.NewInsert().Model(&rows).ExcludeColumn("id", "owner", "claimed_at").
		On("CONFLICT DO NOTHING").
		Returning("*").
		Scan(ctx, &created)
	if isForeignKeyViolation(err) {
		// The event was purged meanwhile (retention): there is nothing
		// left to deliver.
		return nil, fmt.Errorf("insert deliveries: event no longer stored: %w", domain.ErrNotFound)
	}
	if err != nil {
		return nil, classify(err, "insert deliveries")
	}
	out := make([]*domain.Delivery, len(created))
	for i := range created {
		out[i] = created[i].domain()
	}
	if len(out) > 0 && r.opened != nil {
		r.opened()
	}
	return out, nil
}

type limitsRow struct {
	webhookConfigModel `bun:",extend"`
	RateNext           *time.Time `bun:"rate_next"`
	InFlight           int        `bun:"-"`
}

// LockLimits takes the config's row lock (FOR NO KEY UPDATE, which leaves
// inserts of deliveries referencing the config free) and then, in a
// statement of its own, counts the deliveries any process owns: a statement
// sees the database as of its start, so a count in the locking statement
// would miss the claims of the transaction it waited for.
func (r deliveries) LockLimits(ctx context.Context, configID string) (ports.ClaimLimits, error) {
	var row limitsRow
	err := r.tx.NewSelect().Model(&row).
		ColumnExpr("wc.*").
		Where("wc.id = ?", configID).
		For("NO KEY UPDATE OF wc").
		Scan(ctx)
	if err != nil {
		return ports.ClaimLimits{}, classify(err, "lock webhook config limits")
	}
	err = r.tx.NewRaw("SELECT count(*) FROM webhook_deliveries WHERE webhook_config_id = ? AND owner IS NOT NULL", configID).
		Scan(ctx, &row.InFlight)
	if err != nil {
		return ports.ClaimLimits{}, classify(err, "count deliveries in flight")
	}
	cfg := row.domain()
	return ports.ClaimLimits{Config: cfg, InFlight: row.InFlight,
		Rate: domain.RateLimit{PerSecond: cfg.Settings().MaxPerSecond, Next: timeOf(row.RateNext)}}, nil
}

func (r deliveries) SaveRateLimit(ctx context.Context, configID string, rate domain.RateLimit) error {
	_, err := r.tx.NewUpdate().Table("webhook_configs").Set("rate_next = ?", timePtr(rate.Next)).
		Where("id = ?", configID).Exec(ctx)
	return classify(err, "save rate limit")
}

// claimSQL claims due deliveries of one config, oldest due first, and
// returns them with their events. A delivery of a lead-ordered config is
// not due while an earlier event of its lead is pending to the config (the
// rule Delivery documents; here it is the filter that finds them). The
// partial indexes webhook_deliveries_due_{first,retry}_idx serve the scan,
// webhook_deliveries_lead_idx the ordering check.
const claimSQL = `WITH picked AS (
	SELECT d.id FROM webhook_deliveries d
	WHERE d.webhook_config_id = ? AND d.status = 'pending' AND d.owner IS NULL AND d.next_attempt_at <= ?
		AND (d.attempts > 0) = ?
		AND (NOT ? OR d.lead_key IS NULL OR NOT EXISTS (
			SELECT 1 FROM webhook_deliveries e
			WHERE e.webhook_config_id = d.webhook_config_id AND e.lead_key = d.lead_key AND e.status = 'pending'
				AND e.outbox_id < d.outbox_id))
	ORDER BY d.next_attempt_at, d.id
	LIMIT ?
	FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries AS d SET owner = ?, claimed_at = now()
FROM picked, outbox o
WHERE d.id = picked.id AND o.id = d.outbox_id
RETURNING d.id, d.outbox_id, d.event_id, d.event_type, d.webhook_config_id, d.lead_key, d.series, d.status,
	d.attempts, d.last_status_code, d.last_error, d.created_at, d.next_attempt_at, d.finished_at,
	o.payload, o.correlation_id, o.trace_context, o.created_at AS event_created_at`

type claimedRow struct {
	deliveryModel  `bun:",extend"`
	Payload        []byte     `bun:"payload"`
	CorrelationID  string     `bun:"correlation_id"`
	TraceContext   []byte     `bun:"trace_context"`
	EventCreatedAt *time.Time `bun:"event_created_at"`
}

func (r deliveries) ClaimDue(ctx context.Context, q ports.ClaimQuery) ([]ports.DeliveryJob, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var rows []claimedRow
	err := r.tx.NewRaw(claimSQL, q.ConfigID, q.Now, q.Retries, q.Ordered, q.Limit, q.Owner).Scan(ctx, &rows)
	if err != nil {
		return nil, classify(err, "claim due deliveries")
	}
	jobs := make([]ports.DeliveryJob, len(rows))
	for i := range rows {
		row := &rows[i]
		d := row.domain()
		ev := outboxEventOf(outboxModel{ID: row.OutboxID, EventID: row.EventID, EventType: row.EventType,
			Payload: row.Payload, CorrelationID: row.CorrelationID, LeadKey: row.LeadKey, TraceContext: row.TraceContext,
			CreatedAt: timeOf(row.EventCreatedAt)})
		jobs[i] = ports.DeliveryJob{Delivery: d, Event: ev}
	}
	return jobs, nil
}

// outcomeRow is one delivery's new state, as the bulk update reads it.
type outcomeRow struct {
	ID             int64      `bun:"id"`
	Status         string     `bun:"status"`
	Attempts       int        `bun:"attempts"`
	LastStatusCode *int       `bun:"last_status_code"`
	LastError      string     `bun:"last_error"`
	NextAttemptAt  *time.Time `bun:"next_attempt_at,type:timestamptz"`
	FinishedAt     *time.Time `bun:"finished_at,type:timestamptz"`
}

// SaveOutcomes stores the deliveries' states in one statement and their
// attempts in another; the owner condition keeps a process that was
// declared dead from overwriting the state another process now works on.
func (r deliveries) SaveOutcomes(ctx context.Context, owner string, outcomes []ports.DeliveryOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	rows := make([]outcomeRow, len(outcomes))
	var attempts []attemptModel
	for i, o := range outcomes {
		m := deliveryFrom(o.Delivery)
		rows[i] = outcomeRow{ID: m.ID, Status: m.Status, Attempts: m.Attempts, LastStatusCode: m.LastStatusCode,
			LastError: m.LastError, NextAttemptAt: m.NextAttemptAt, FinishedAt: m.FinishedAt}
		if a := o.Attempt; a != nil {
			attempts = append(attempts, attemptFrom(*a))
		}
	}
	_, err := r.tx.NewUpdate().
		With("_data", r.tx.NewValues(&rows)).
		Model((*deliveryModel)(nil)).
		TableExpr("_data").
		Set("status = _data.status").
		Set("attempts = _data.attempts").
		Set("last_status_code = _data.last_status_code").
		Set("last_error = _data.last_error").
		Set("next_attempt_at = _data.next_attempt_at").
		Set("finished_at = _data.finished_at").
		Set("owner = NULL").
		Set("claimed_at = NULL").
		Where("d.id = _data.id").
		Where("d.owner = ?", owner).
		Exec(ctx)
	if err != nil {
		return classify(err, "save delivery outcomes")
	}
	if len(attempts) == 0 {
		return nil
	}
	_, err = r.tx.NewInsert().Model(&attempts).ExcludeColumn("id").Exec(ctx)
	return classify(err, "insert webhook attempts")
}

func attemptFrom(a domain.DeliveryAttempt) attemptModel {
	m := attemptModel{DeliveryID: a.DeliveryID, EventID: a.EventID, WebhookConfigID: a.ConfigID, Attempt: a.Attempt,
		DurationMS: float64(a.Duration.Microseconds()) / 1000, Error: a.Error, ResponseBody: a.Response,
		AttemptedAt: a.AttemptedAt}
	if m.ResponseBody == nil {
		m.ResponseBody = []byte{}
	}
	if a.StatusCode != 0 {
		code := a.StatusCode
		m.StatusCode = &code
	}
	return m
}

func (r deliveries) Release(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := r.tx.NewUpdate().Table("webhook_deliveries").
		Set("owner = NULL").Set("claimed_at = NULL").
		Where("owner = ?", owner).Where("id IN (?)", bun.List(ids)).
		Exec(ctx)
	return classify(err, "release deliveries")
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
