package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// DeliveryPath is the delivery workers' hot path: it loads what one attempt
// needs in a single statement and records successful attempts in groups.
// It talks to pgx directly with bind parameters, so each statement is
// prepared once per connection and reused (bun writes values into the SQL
// text, which makes every statement new to PostgreSQL). Every other write of
// a delivery (failures, retries, switching an endpoint off) goes through the
// unit of work.
type DeliveryPath struct {
	pool     *pgxpool.Pool
	maxBatch int

	mu      sync.Mutex
	queue   []*pendingSuccess
	running bool
}

var (
	_ ports.DeliveryReader  = (*DeliveryPath)(nil)
	_ ports.SuccessRecorder = (*DeliveryPath)(nil)
)

// NewDeliveryPath returns a DeliveryPath over pool that writes at most
// maxBatch attempts per transaction (at least 1).
func NewDeliveryPath(pool *pgxpool.Pool, maxBatch int) *DeliveryPath {
	return &DeliveryPath{pool: pool, maxBatch: max(maxBatch, 1)}
}

// groupWriteTimeout bounds one grouped write; it runs on no caller's
// context, since the attempts it records have happened.
const groupWriteTimeout = 30 * time.Second

const deliveryTargetSQL = `SELECT d.status, d.attempts,
	o.id, o.event_id::text, o.event_type, o.payload, o.correlation_id, o.trace_context, o.created_at,
	c.id::text, c.service_name, c.target_url, c.secret, c.previous_secrets, c.is_active, c.disabled_reason,
	c.created_at, c.updated_at
FROM webhook_deliveries d
JOIN outbox o ON o.id = d.outbox_id
JOIN webhook_configs c ON c.id = d.webhook_config_id
WHERE d.id = $1`

// DeliveryTarget loads a delivery with its event and config in one
// statement.
func (p *DeliveryPath) DeliveryTarget(ctx context.Context, deliveryID int64) (ports.DeliveryTarget, error) {
	var (
		status   string
		attempts int
		ev       outboxModel
		c        webhookConfigModel
		prev     []byte
	)
	err := p.pool.QueryRow(ctx, deliveryTargetSQL, deliveryID).Scan(&status, &attempts,
		&ev.ID, &ev.EventID, &ev.EventType, &ev.Payload, &ev.CorrelationID, &ev.TraceContext, &ev.CreatedAt,
		&c.ID, &c.ServiceName, &c.TargetURL, &c.Secret, &prev, &c.IsActive, &c.DisabledReason,
		&c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ports.DeliveryTarget{}, fmt.Errorf("select delivery %d: %w", deliveryID, domain.ErrNotFound)
	}
	if err != nil {
		return ports.DeliveryTarget{}, classify(err, "select delivery")
	}
	if err := json.Unmarshal(prev, &c.PreviousSecrets); err != nil {
		// The error names the column, never its content: it holds secrets.
		return ports.DeliveryTarget{}, fmt.Errorf("previous_secrets of webhook config %s: malformed", c.ID)
	}
	return ports.DeliveryTarget{DeliveryID: deliveryID, Status: domain.DeliveryStatus(status), Attempts: attempts,
		Event: outboxEventOf(ev), Config: c.domain()}, nil
}

type pendingSuccess struct {
	attempt ports.DeliveryAttempt
	state   ports.DeliveryState
	done    chan error
}

// RecordSuccess records the attempt and the delivery's state. Concurrent
// callers share one statement and so one commit: the first caller to find
// no write under way writes everything queued, and whoever arrives while a
// write is under way goes into the next one. Nobody waits for a timer, so a
// lone attempt is written at once. It returns when this attempt is durable;
// if a shared write fails, each of its attempts is written again on its own,
// so one bad row cannot fail the others.
func (p *DeliveryPath) RecordSuccess(_ context.Context, a ports.DeliveryAttempt, s ports.DeliveryState) error {
	ps := &pendingSuccess{attempt: a, state: s, done: make(chan error, 1)}
	p.mu.Lock()
	p.queue = append(p.queue, ps)
	if !p.running {
		p.running = true
		go p.drain()
	}
	p.mu.Unlock()
	// The caller's context is not consulted: the attempt happened, and
	// giving up here would only make the job send it again.
	return <-ps.done
}

func (p *DeliveryPath) drain() {
	for {
		p.mu.Lock()
		n := min(len(p.queue), p.maxBatch)
		if n == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		batch := slices.Clone(p.queue[:n])
		p.queue = slices.Delete(p.queue, 0, n)
		p.mu.Unlock()

		err := p.write(batch)
		if err != nil && len(batch) > 1 {
			for _, ps := range batch {
				ps.done <- p.write([]*pendingSuccess{ps})
			}
			continue
		}
		for _, ps := range batch {
			ps.done <- err
		}
	}
}

// recordSuccessSQL inserts the attempts, finishes their deliveries and
// clears the failure clock of their endpoints, in one statement (and so one
// transaction). The endpoint update takes no row lock when the endpoint is
// already healthy, the common case.
const recordSuccessSQL = `WITH input AS (
	SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::int[], $6::float8[], $7::text[],
		$8::bytea[], $9::timestamptz[], $10::text[], $11::timestamptz[])
		AS t(delivery_id, event_id, config_id, attempt, status_code, duration_ms, error, response_body, attempted_at,
			status, finished_at)
), attempts AS (
	INSERT INTO webhook_attempts (delivery_id, event_id, webhook_config_id, attempt, status_code, duration_ms, error,
		response_body, attempted_at)
	SELECT delivery_id, event_id::uuid, config_id::uuid, attempt, nullif(status_code, 0), duration_ms, error,
		response_body, attempted_at
	FROM input
), deliveries AS (
	UPDATE webhook_deliveries d SET status = i.status, attempts = i.attempt, last_status_code = nullif(i.status_code, 0),
		last_error = i.error, next_attempt_at = NULL, finished_at = i.finished_at
	FROM input i WHERE d.id = i.delivery_id
)
UPDATE webhook_configs c SET failing_since = NULL
WHERE c.id IN (SELECT config_id::uuid FROM input) AND c.failing_since IS NOT NULL`

func (p *DeliveryPath) write(batch []*pendingSuccess) error {
	// Rows are locked in id order, the same order every time.
	slices.SortFunc(batch, func(a, b *pendingSuccess) int { return cmp.Compare(a.attempt.DeliveryID, b.attempt.DeliveryID) })
	n := len(batch)
	var (
		deliveryIDs = make([]int64, n)
		eventIDs    = make([]string, n)
		configIDs   = make([]string, n)
		attempts    = make([]int32, n)
		codes       = make([]int32, n)
		durations   = make([]float64, n)
		errs        = make([]string, n)
		bodies      = make([][]byte, n)
		at          = make([]time.Time, n)
		statuses    = make([]string, n)
		finished    = make([]time.Time, n)
	)
	for i, ps := range batch {
		a, s := ps.attempt, ps.state
		deliveryIDs[i], eventIDs[i], configIDs[i] = a.DeliveryID, a.EventID, a.ConfigID
		attempts[i], codes[i] = int32(a.Attempt), int32(a.StatusCode) //nolint:gosec // G115: attempt numbers and HTTP codes are small
		durations[i] = float64(a.Duration.Microseconds()) / 1000
		errs[i], at[i], statuses[i] = a.Error, a.AttemptedAt, string(s.Status)
		bodies[i] = a.Response
		if bodies[i] == nil {
			bodies[i] = []byte{}
		}
		finished[i] = a.AttemptedAt
		if s.FinishedAt != nil {
			finished[i] = *s.FinishedAt
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupWriteTimeout)
	defer cancel()
	_, err := p.pool.Exec(ctx, recordSuccessSQL, deliveryIDs, eventIDs, configIDs, attempts, codes, durations, errs,
		bodies, at, statuses, finished)
	if err != nil {
		return classify(err, fmt.Sprintf("record %d successful attempts", n))
	}
	return nil
}
