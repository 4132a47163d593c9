package postgres

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun/dialect/pgdialect"

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

// FailedSince pages the failed series that are their event's latest, by
// (created_at, id) along webhook_deliveries_failed_idx; the latest series is
// checked through the (outbox_id, webhook_config_id, series) key. An event
// whose latest series failed since q.Since is exactly one that has a failed
// series since then and whose latest failed: a later series is created
// later.
func (s *Store) FailedSince(ctx context.Context, configID string, q ports.RecoverQuery, limit int) ([]ports.FailedEvent, error) {
	where := []string{
		"d.webhook_config_id = $1", "d.status IN ('failed', 'exhausted')", "d.created_at >= $2", "d.created_at < $3",
		`NOT EXISTS (SELECT 1 FROM webhook_deliveries n
			WHERE n.outbox_id = d.outbox_id AND n.webhook_config_id = d.webhook_config_id AND n.series > d.series)`,
	}
	tail, args := window(ports.PageQuery{After: q.After}, "d.created_at", "d.id", where, []any{configID, q.Since, q.Until}, limit)
	query := `SELECT d.id, d.created_at, o.id, o.event_id, o.event_type, o.correlation_id, coalesce(o.lead_key, ''), o.created_at
		FROM webhook_deliveries d JOIN outbox o ON o.id = d.outbox_id` + tail
	var out []ports.FailedEvent
	err := s.stream(ctx, query, args, func(rows *sql.Rows) error {
		var f ports.FailedEvent
		var eventType string
		if err := rows.Scan(&f.Key.ID, &f.Key.CreatedAt, &f.Event.ID, &f.Event.EventID, &eventType,
			&f.Event.CorrelationID, &f.Event.LeadKey, &f.Event.CreatedAt); err != nil {
			return err
		}
		f.Event.Type = domain.EventType(eventType)
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("select failed deliveries: %w", err)
	}
	return out, nil
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
