package postgres

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

var _ ports.DeliveryLogReader = (*Store)(nil)

// deliveryColumns selects a delivery with its attempts folded into JSON, so
// one row carries one item of the log.
const deliveryColumns = `d.id, d.event_id, d.event_type, d.series, d.status, d.created_at, d.next_attempt_at, d.finished_at,
	(SELECT coalesce(json_agg(json_build_object(
		'attempt', a.attempt, 'attempted_at', a.attempted_at, 'status_code', a.status_code,
		'duration_ms', a.duration_ms, 'error', a.error, 'response', encode(a.response_body, 'base64'))
		ORDER BY a.attempt, a.id), '[]') FROM webhook_attempts a WHERE a.delivery_id = d.id)`

type attemptJSON struct {
	Attempt     int       `json:"attempt"`
	AttemptedAt time.Time `json:"attempted_at"`
	StatusCode  *int      `json:"status_code"`
	DurationMS  float64   `json:"duration_ms"`
	Error       string    `json:"error"`
	Response    string    `json:"response"`
}

func scanDelivery(rows *sql.Rows) (ports.DeliveryRecord, error) {
	var (
		d        ports.DeliveryRecord
		attempts []byte
	)
	if err := rows.Scan(&d.DeliveryID, &d.EventID, &d.EventType, &d.Series, &d.Status, &d.CreatedAt,
		&d.NextAttemptAt, &d.FinishedAt, &attempts); err != nil {
		return d, err
	}
	var as []attemptJSON
	if err := json.Unmarshal(attempts, &as); err != nil {
		return d, fmt.Errorf("attempts of delivery %d: %w", d.DeliveryID, err)
	}
	d.Attempts = make([]ports.AttemptRecord, len(as))
	for i, a := range as {
		// PostgreSQL's base64 breaks lines every 76 characters.
		resp, _ := base64.StdEncoding.DecodeString(stripNewlines(a.Response))
		r := ports.AttemptRecord{Attempt: a.Attempt, AttemptedAt: a.AttemptedAt, Error: a.Error, Response: resp,
			Duration: time.Duration(a.DurationMS * float64(time.Millisecond))}
		if a.StatusCode != nil {
			r.StatusCode = *a.StatusCode
		}
		d.Attempts[i] = r
	}
	return d, nil
}

func stripNewlines(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\n' && s[i] != '\r' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// Deliveries streams one config's deliveries oldest first.
func (s *Store) Deliveries(ctx context.Context, q ports.DeliveryLogQuery, limit int, yield func(ports.DeliveryRecord, ports.PageKey) error) error {
	where := []string{"d.webhook_config_id = $1"}
	args := []any{q.ConfigID}
	switch q.Status {
	case "":
	case domain.DeliveryFailed:
		// "failed" lists every delivery that ended without success,
		// exhausted ones included.
		where = append(where, "d.status IN ('failed', 'exhausted')")
	default:
		args = append(args, string(q.Status))
		where = append(where, "d.status = $"+strconv.Itoa(len(args)))
	}
	if q.EventType != "" {
		args = append(args, string(q.EventType))
		where = append(where, "d.event_type = $"+strconv.Itoa(len(args)))
	}
	tail, args := window(q.Page, "d.created_at", "d.id", where, args, limit)
	query := "SELECT " + deliveryColumns + " FROM webhook_deliveries d" + tail
	return s.stream(ctx, query, args, func(rows *sql.Rows) error {
		d, err := scanDelivery(rows)
		if err != nil {
			return err
		}
		return yield(d, ports.PageKey{CreatedAt: d.CreatedAt, ID: d.DeliveryID})
	})
}

// EventByID returns a stored event by its public id.
func (s *Store) EventByID(ctx context.Context, eventID string) (ports.OutboxEvent, error) {
	var m outboxModel
	if err := s.db.NewSelect().Model(&m).Where("event_id = ?", eventID).Scan(ctx); err != nil {
		return ports.OutboxEvent{}, classify(err, "select event")
	}
	return outboxEventOf(m), nil
}

// EventDeliveries lists an event's deliveries to a config.
func (s *Store) EventDeliveries(ctx context.Context, configID, eventID string) ([]ports.DeliveryRecord, error) {
	var out []ports.DeliveryRecord
	query := "SELECT " + deliveryColumns + " FROM webhook_deliveries d WHERE d.webhook_config_id = $1 AND d.event_id = $2 ORDER BY d.series"
	err := s.stream(ctx, query, []any{configID, eventID}, func(rows *sql.Rows) error {
		d, err := scanDelivery(rows)
		out = append(out, d)
		return err
	})
	return out, err
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
