package postgres

// The hot path: the statements every event runs through, the second half
// of the one place where statements bypass bun (bypass.go says why, and
// lists the first half, the listings). A click writes its row, its event
// and its deliveries; a worker claims due deliveries and stores their
// outcomes. They run through pgx on the unit of work's own connection, so
// they are part of the same transaction as the bun statements around them,
// and the pgx tracer (trace.go) gives each a span named after its marker.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// cached makes a statement prepared once per connection and reused.
const cached = pgx.QueryExecModeCacheStatement

// insertClicksSQL writes any number of clicks in one statement: one shape,
// prepared once, whether a click comes alone or in a WhatsApp batch.
const insertClicksSQL = hotMarker + `click.insert
INSERT INTO inbound_sources (correlation_id, device_id, click_url, parsed_params, user_agent, ip_address, is_bot, created_at,
	correlated_at, conversation_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::text[], $7::bool[], $8::timestamptz[],
	$9::timestamptz[], $10::bigint[])`

type inboundSources struct{ t *txRepos }

// clickColumns are clicks as the columns of click.insert (and of
// click.write), one array per column.
type clickColumns struct {
	refs, devices, urls, params, agents, ips []string
	bots                                     []bool
	created                                  []time.Time
	correlated                               []*time.Time
	convs                                    []*int64
}

// add appends the clicks' rows.
func (c *clickColumns) add(ss ...*domain.InboundSource) error {
	for _, s := range ss {
		m, err := inboundSourceFrom(s)
		if err != nil {
			return err
		}
		c.refs, c.devices, c.urls = append(c.refs, m.CorrelationID), append(c.devices, m.DeviceID), append(c.urls, m.ClickURL)
		c.params, c.agents, c.ips = append(c.params, string(m.ParsedParams)), append(c.agents, m.UserAgent), append(c.ips, m.IPAddress)
		c.bots, c.created = append(c.bots, m.IsBot), append(c.created, m.CreatedAt)
		c.correlated, c.convs = append(c.correlated, m.CorrelatedAt), append(c.convs, m.ConversationID)
	}
	return nil
}

func (c *clickColumns) args() []any {
	return []any{c.refs, c.devices, c.urls, c.params, c.agents, c.ips, c.bots, c.created, c.correlated, c.convs}
}

// Add stores new clicks; a taken correlation id is domain.ErrConflict.
func (r inboundSources) Add(ctx context.Context, ss ...*domain.InboundSource) error {
	if len(ss) == 0 {
		return nil
	}
	var cols clickColumns
	if err := cols.add(ss...); err != nil {
		return err
	}
	err := r.t.pgx(func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, insertClicksSQL, append([]any{cached}, cols.args()...)...)
		return err
	})
	return classify(err, "insert inbound sources")
}

const insertEventSQL = hotMarker + `outbox.insert
INSERT INTO outbox (event_id, event_type, payload, correlation_id, lead_key, trace_context, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id`

type outbox struct{ t *txRepos }

// Append writes each event's fixed payload bytes in the caller's
// transaction and returns the stored rows' identities.
func (o outbox) Append(ctx context.Context, events ...domain.Event) ([]ports.OutboxEvent, error) {
	if len(events) == 0 {
		return nil, nil
	}
	traceContext, err := traceContextOf(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ports.OutboxEvent, len(events))
	err = o.t.pgx(func(c *pgx.Conn) error {
		for i, e := range events {
			payload, err := e.Payload()
			if err != nil {
				return err
			}
			var id int64
			if err := c.QueryRow(ctx, insertEventSQL, cached, e.ID, string(e.Type), payload, e.CorrelationID, nullable(e.LeadKey),
				traceContext, e.OccurredAt).Scan(&id); err != nil {
				return err
			}
			out[i] = ports.OutboxEvent{ID: id, EventID: e.ID, Type: e.Type, CorrelationID: e.CorrelationID,
				LeadKey: e.LeadKey, CreatedAt: e.OccurredAt}
		}
		return nil
	})
	if err != nil {
		return nil, classify(err, "insert outbox events")
	}
	return out, nil
}

// traceContextOf is the W3C trace context of ctx as the outbox stores it:
// the emitting request's trace travels with the event, so every delivery,
// including a redelivery asked for later, can be joined to it.
func traceContextOf(ctx context.Context) ([]byte, error) {
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	b, err := json.Marshal(carrier)
	if err != nil {
		return nil, fmt.Errorf("encode trace context: %w", err)
	}
	return b, nil
}

// deliveryColumnsSQL is how the hot path reads a delivery.
const deliveryColumnsSQL = `d.id, d.outbox_id, d.event_id::text, d.event_type, d.webhook_config_id::text, d.lead_key, d.series, d.status,
	d.attempts, d.last_status_code, d.last_error, d.created_at, d.next_attempt_at, d.finished_at`

func scanDeliveryRow(row pgx.Row, extra ...any) (*domain.Delivery, error) {
	var (
		r       domain.DeliveryRow
		leadKey *string
		code    *int32
		status  string
		typ     string
	)
	dest := append([]any{&r.ID, &r.OutboxID, &r.EventID, &typ, &r.ConfigID, &leadKey, &r.Series, &status,
		&r.Attempts, &code, &r.LastError, &r.CreatedAt, &r.NextAttemptAt, &r.FinishedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.EventType, r.Status, r.LeadKey = domain.EventType(typ), domain.DeliveryStatus(status), deref(leadKey)
	if code != nil {
		r.LastStatusCode = int(*code)
	}
	return domain.RehydrateDelivery(r), nil
}

// openDeliveriesSQL inserts the new series; the unique (outbox_id,
// webhook_config_id, series) key and the one-pending-delivery-per-event-and-
// config key make a repeated open create nothing.
const openDeliveriesSQL = hotMarker + `deliveries.open
INSERT INTO webhook_deliveries AS d (outbox_id, event_id, event_type, webhook_config_id, lead_key, series, status,
	attempts, last_error, created_at, next_attempt_at)
SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::int[], $7::text[],
	$8::int[], $9::text[], $10::timestamptz[], $11::timestamptz[])
ON CONFLICT DO NOTHING
RETURNING ` + deliveryColumnsSQL

type deliveries struct{ t *txRepos }

// newDeliveryColumns are new deliveries as the columns of deliveries.open (and
// of click.write), one array per column.
type newDeliveryColumns struct {
	outboxIDs                []int64
	eventIDs, types, configs []string
	leadKeys                 []*string
	series, attempts         []int32
	statuses, errs           []string
	created                  []time.Time
	next                     []*time.Time
}

// add appends the deliveries' rows.
func (c *newDeliveryColumns) add(ds ...*domain.Delivery) {
	for _, d := range ds {
		row := d.Row()
		c.outboxIDs, c.eventIDs = append(c.outboxIDs, row.OutboxID), append(c.eventIDs, row.EventID)
		c.types, c.configs = append(c.types, string(row.EventType)), append(c.configs, row.ConfigID)
		c.leadKeys, c.statuses = append(c.leadKeys, nullable(row.LeadKey)), append(c.statuses, string(row.Status))
		c.series = append(c.series, int32(row.Series))       //nolint:gosec // G115: series are small
		c.attempts = append(c.attempts, int32(row.Attempts)) //nolint:gosec // G115: attempts are few
		c.errs, c.created, c.next = append(c.errs, row.LastError), append(c.created, row.CreatedAt), append(c.next, row.NextAttemptAt)
	}
}

// Open stores the new deliveries and returns those it created.
func (r deliveries) Open(ctx context.Context, ds []*domain.Delivery) ([]*domain.Delivery, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	var cols newDeliveryColumns
	cols.add(ds...)
	var out []*domain.Delivery
	err := r.t.pgx(func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, openDeliveriesSQL, cached, cols.outboxIDs, cols.eventIDs, cols.types, cols.configs, cols.leadKeys,
			cols.series, cols.statuses, cols.attempts, cols.errs, cols.created, cols.next)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDeliveryRow(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if isForeignKeyViolation(err) {
		// The event was purged meanwhile (retention): there is nothing
		// left to deliver.
		return nil, fmt.Errorf("insert deliveries: event no longer stored: %w", domain.ErrNotFound)
	}
	if err != nil {
		return nil, classify(err, "insert deliveries")
	}
	r.t.opened = withConfigsOf(r.t.opened, out)
	return out, nil
}

// withConfigsOf adds to configs the configs the deliveries go to, each once.
func withConfigsOf(configs []string, ds []*domain.Delivery) []string {
	for _, d := range ds {
		if !slices.Contains(configs, d.ConfigID()) {
			configs = append(configs, d.ConfigID())
		}
	}
	return configs
}

const lockLimitsSQL = hotMarker + `claim.lock
SELECT id::text, service_name, target_url, secret, previous_secrets, event_types, ordering, max_per_second, is_active,
	failing_since, disabled_reason, disabled_at, created_at, updated_at, rate_next
FROM webhook_configs WHERE id = $1 FOR NO KEY UPDATE`

const inFlightSQL = hotMarker + `claim.in_flight
SELECT count(*) FROM webhook_deliveries WHERE webhook_config_id = $1 AND owner IS NOT NULL`

// LockLimits takes the config's row lock (FOR NO KEY UPDATE, which leaves
// inserts of deliveries referencing the config free) and then, in a
// statement of its own, counts the deliveries any process owns: a statement
// sees the database as of its start, so a count in the locking statement
// would miss the claims of the transaction it waited for.
func (r deliveries) LockLimits(ctx context.Context, configID string) (ports.ClaimLimits, error) {
	var (
		m        webhookConfigModel
		prev     []byte
		rateNext *time.Time
		inFlight int
	)
	err := r.t.pgx(func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, lockLimitsSQL, cached, configID).Scan(&m.ID, &m.ServiceName, &m.TargetURL, &m.Secret, &prev,
			&m.EventTypes, &m.Ordering, &m.MaxPerSecond, &m.IsActive, &m.FailingSince, &m.DisabledReason, &m.DisabledAt,
			&m.CreatedAt, &m.UpdatedAt, &rateNext)
		if err != nil {
			return err
		}
		return c.QueryRow(ctx, inFlightSQL, cached, configID).Scan(&inFlight)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ports.ClaimLimits{}, fmt.Errorf("lock webhook config limits: %w", domain.ErrNotFound)
	}
	if err != nil {
		return ports.ClaimLimits{}, classify(err, "lock webhook config limits")
	}
	if err := json.Unmarshal(prev, &m.PreviousSecrets); err != nil {
		// The error names the column, never its content: it holds secrets.
		return ports.ClaimLimits{}, fmt.Errorf("previous_secrets of webhook config %s: malformed", m.ID)
	}
	cfg := m.domain()
	return ports.ClaimLimits{Config: cfg, InFlight: inFlight,
		Rate: domain.RateLimit{PerSecond: cfg.Settings().MaxPerSecond, Next: timeOf(rateNext)}}, nil
}

const saveRateSQL = hotMarker + `claim.rate
UPDATE webhook_configs SET rate_next = $2 WHERE id = $1`

func (r deliveries) SaveRateLimit(ctx context.Context, configID string, rate domain.RateLimit) error {
	err := r.t.pgx(func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, saveRateSQL, cached, configID, timePtr(rate.Next))
		return err
	})
	return classify(err, "save rate limit")
}

// claimSQL claims due deliveries of one config, oldest due first, and
// returns them with their events. Its NOT EXISTS is the storage-side form
// of the lead-ordering rule, domain.Delivery.WaitsForEarlier ($3 is
// DeliverySettings.Ordered): a delivery of a lead-ordered config is not due
// while an earlier event of its lead (a smaller outbox id) has a pending
// delivery to the config. The rule is written out here again because a
// set-based claim picks its rows in one statement and cannot call Go for
// each; TestClaimDue_AgreesWithTheLeadOrderRule holds the two together. First
// attempts and retries are two statements, each with its attempts condition
// written out, because only a literal condition lets PostgreSQL use the
// partial index webhook_deliveries_due_{first,retry}_idx (already in due
// order, so the scan stops at the limit) in the plan it keeps for a
// prepared statement: with the condition as a parameter it sorted the whole
// backlog on every claim, 70 ms at 23,000 pending (test/bench/README.md).
// webhook_deliveries_lead_idx serves the ordering check.
func claimSQL(name, attempts string) string {
	return hotMarker + name + `
WITH picked AS (
	SELECT d.id FROM webhook_deliveries d
	WHERE d.webhook_config_id = $1 AND d.status = 'pending' AND d.owner IS NULL AND d.next_attempt_at <= $2
		AND d.` + attempts + `
		AND (NOT $3 OR d.lead_key IS NULL OR NOT EXISTS (
			SELECT 1 FROM webhook_deliveries e
			WHERE e.webhook_config_id = d.webhook_config_id AND e.lead_key = d.lead_key AND e.status = 'pending'
				AND e.outbox_id < d.outbox_id))
	ORDER BY d.next_attempt_at, d.id
	LIMIT $4
	FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries AS d SET owner = $5, claimed_at = now()
FROM picked, outbox o
WHERE d.id = picked.id AND o.id = d.outbox_id
RETURNING ` + deliveryColumnsSQL + `, o.payload, o.correlation_id, o.trace_context, o.created_at`
}

var (
	claimFirstSQL = claimSQL("claim.due_first", "attempts = 0")
	claimRetrySQL = claimSQL("claim.due_retry", "attempts > 0")
)

func (r deliveries) ClaimDue(ctx context.Context, q ports.ClaimQuery) ([]ports.DeliveryJob, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var jobs []ports.DeliveryJob
	err := r.t.pgx(func(c *pgx.Conn) error {
		sql := claimFirstSQL
		if q.Retries {
			sql = claimRetrySQL
		}
		rows, err := c.Query(ctx, sql, cached, q.ConfigID, q.Now, q.Ordered, q.Limit, q.Owner)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				ev    outboxModel
				trace []byte
			)
			d, err := scanDeliveryRow(rows, &ev.Payload, &ev.CorrelationID, &trace, &ev.CreatedAt)
			if err != nil {
				return err
			}
			row := d.Row()
			ev.ID, ev.EventID, ev.EventType, ev.LeadKey, ev.TraceContext = row.OutboxID, row.EventID, string(row.EventType),
				nullable(row.LeadKey), trace
			jobs = append(jobs, ports.DeliveryJob{Delivery: d, Event: outboxEventOf(ev)})
		}
		return rows.Err()
	})
	if err != nil {
		return nil, classify(err, "claim due deliveries")
	}
	return jobs, nil
}

// saveOutcomesSQL stores the deliveries' new states and their attempts in
// one statement; the owner condition keeps a process that was declared dead
// from overwriting the state another process now works on (its attempt is
// recorded all the same). It is written IS NOT DISTINCT FROM, not =, so
// that it does not imply owner IS NOT NULL: with = PostgreSQL read the rows
// through the partial index of owned deliveries, which holds an entry for
// every claim since the last vacuum, and the statement slowed as the run
// went on; this way each row is found by its id.
const saveOutcomesSQL = hotMarker + `outcomes.save
WITH state AS (
	SELECT * FROM unnest($2::bigint[], $3::text[], $4::int[], $5::int[], $6::text[], $7::timestamptz[], $8::timestamptz[])
		AS t(id, status, attempts, last_status_code, last_error, next_attempt_at, finished_at)
), updated AS (
	UPDATE webhook_deliveries AS d SET status = s.status, attempts = s.attempts, last_status_code = s.last_status_code,
		last_error = s.last_error, next_attempt_at = s.next_attempt_at, finished_at = s.finished_at,
		owner = NULL, claimed_at = NULL
	FROM state s
	WHERE d.id = s.id AND d.owner IS NOT DISTINCT FROM $1::uuid
)
INSERT INTO webhook_attempts (delivery_id, event_id, webhook_config_id, attempt, status_code, duration_ms, error,
	response_body, attempted_at)
SELECT * FROM unnest($9::bigint[], $10::uuid[], $11::uuid[], $12::int[], $13::int[], $14::float8[], $15::text[],
	$16::bytea[], $17::timestamptz[])`

// SaveOutcomes stores the deliveries' states and their attempts.
func (r deliveries) SaveOutcomes(ctx context.Context, owner string, outcomes []ports.DeliveryOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	n := len(outcomes)
	var (
		ids      = make([]int64, n)
		statuses = make([]string, n)
		attempts = make([]int32, n)
		codes    = make([]*int32, n)
		errs     = make([]string, n)
		next     = make([]*time.Time, n)
		finished = make([]*time.Time, n)

		aDelivery []int64
		aEvent    []string
		aConfig   []string
		aNumber   []int32
		aCode     []*int32
		aDuration []float64
		aError    []string
		aBody     [][]byte
		aAt       []time.Time
	)
	for i, o := range outcomes {
		row := o.Delivery.Row()
		ids[i], statuses[i], attempts[i], errs[i] = row.ID, string(row.Status), int32(row.Attempts), row.LastError //nolint:gosec // G115: attempts are few
		next[i], finished[i] = row.NextAttemptAt, row.FinishedAt
		if row.LastStatusCode != 0 {
			code := int32(row.LastStatusCode) //nolint:gosec // G115: an HTTP status code
			codes[i] = &code
		}
		if a := o.Attempt; a != nil {
			aDelivery, aEvent, aConfig = append(aDelivery, a.DeliveryID), append(aEvent, a.EventID), append(aConfig, a.ConfigID)
			aNumber = append(aNumber, int32(a.Attempt)) //nolint:gosec // G115: attempts are few
			var code *int32
			if a.StatusCode != 0 {
				c := int32(a.StatusCode) //nolint:gosec // G115: an HTTP status code
				code = &c
			}
			body := a.Response
			if body == nil {
				body = []byte{}
			}
			aCode, aDuration = append(aCode, code), append(aDuration, float64(a.Duration.Microseconds())/1000)
			aError, aBody, aAt = append(aError, a.Error), append(aBody, body), append(aAt, a.AttemptedAt)
		}
	}
	err := r.t.pgx(func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, saveOutcomesSQL, cached, owner, ids, statuses, attempts, codes, errs, next, finished,
			aDelivery, aEvent, aConfig, aNumber, aCode, aDuration, aError, aBody, aAt)
		return err
	})
	return classify(err, "save delivery outcomes")
}

const releaseSQL = hotMarker + `claims.release
UPDATE webhook_deliveries SET owner = NULL, claimed_at = NULL WHERE owner = $1 AND id = ANY($2)`

// Release ends the owner's claim on deliveries without an attempt.
func (r deliveries) Release(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := r.t.pgx(func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, releaseSQL, cached, owner, ids)
		return err
	})
	return classify(err, "release deliveries")
}

// writeSQL is a whole click in one statement (UnitOfWork.Write): the
// clicks, their events and the events' deliveries, which find their
// event's row by its id. One statement is one round trip and, outside a
// transaction block, atomic without BEGIN and COMMIT; the insert of
// deliveries sees the events' rows because data-modifying CTEs hand on
// what they return, and their foreign keys are checked when the statement
// ends. The last line sends the workers' NOTIFY when asked to, with the
// rows.
const writeSQL = hotMarker + `click.write
WITH clicks AS (
	INSERT INTO inbound_sources (correlation_id, device_id, click_url, parsed_params, user_agent, ip_address, is_bot, created_at,
		correlated_at, conversation_id)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::text[], $7::bool[], $8::timestamptz[],
		$9::timestamptz[], $10::bigint[])
), events AS (
	INSERT INTO outbox (event_id, event_type, payload, correlation_id, lead_key, trace_context, created_at)
	SELECT * FROM unnest($11::uuid[], $12::text[], $13::bytea[], $14::text[], $15::text[], $16::jsonb[], $17::timestamptz[])
	RETURNING id, event_id
), deliveries AS (
	INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, lead_key, series, status, attempts,
		last_error, created_at, next_attempt_at)
	SELECT e.id, d.event_id, d.event_type, d.config_id, d.lead_key, d.series, d.status, d.attempts, d.last_error, d.created_at,
		d.next_attempt_at
	FROM unnest($18::uuid[], $19::text[], $20::uuid[], $21::text[], $22::int[], $23::text[], $24::int[], $25::text[],
		$26::timestamptz[], $27::timestamptz[])
		AS d(event_id, event_type, config_id, lead_key, series, status, attempts, last_error, created_at, next_attempt_at)
	JOIN events e ON e.event_id = d.event_id
)
SELECT pg_notify($28, '') WHERE $29::bool`

// writes collects the rows of one UnitOfWork.Write.
type writes struct {
	configs func(ctx context.Context) ([]*domain.WebhookConfig, error)

	clicks clickColumns
	// The events, one array per column of outbox.insert.
	eventIDs, types, refs []string
	payloads, traces      [][]byte
	leadKeys              []*string
	occurred              []time.Time
	deliveries            newDeliveryColumns
	// opened lists the configs the deliveries go to.
	opened []string
	err    error
}

var _ ports.Writes = (*writes)(nil)

func (w *writes) AddClicks(ss ...*domain.InboundSource) {
	if err := w.clicks.add(ss...); err != nil && w.err == nil {
		w.err = err
	}
}

func (w *writes) AddEvents(ctx context.Context, events ...domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	trace, err := traceContextOf(ctx)
	if err != nil {
		return err
	}
	for _, e := range events {
		payload, err := e.Payload()
		if err != nil {
			return err
		}
		w.eventIDs, w.types, w.refs = append(w.eventIDs, e.ID), append(w.types, string(e.Type)), append(w.refs, e.CorrelationID)
		w.payloads, w.traces = append(w.payloads, payload), append(w.traces, trace)
		w.leadKeys, w.occurred = append(w.leadKeys, nullable(e.LeadKey)), append(w.occurred, e.OccurredAt)
	}
	return nil
}

func (w *writes) OpenDeliveries(ds ...*domain.Delivery) {
	w.deliveries.add(ds...)
	w.opened = withConfigsOf(w.opened, ds)
}

func (w *writes) ActiveConfigs(ctx context.Context) ([]*domain.WebhookConfig, error) {
	return w.configs(ctx)
}

func (w *writes) empty() bool { return len(w.clicks.refs) == 0 && len(w.eventIDs) == 0 }

// exec stores the rows in one statement on c, with the workers' NOTIFY
// when notify.
func (w *writes) exec(ctx context.Context, c *pgx.Conn, notify bool) error {
	d := &w.deliveries
	args := append([]any{cached}, w.clicks.args()...)
	args = append(args, w.eventIDs, w.types, w.payloads, w.refs, w.leadKeys, w.traces, w.occurred,
		d.eventIDs, d.types, d.configs, d.leadKeys, d.series, d.statuses, d.attempts, d.errs, d.created, d.next,
		NotifyChannel, notify)
	_, err := c.Exec(ctx, writeSQL, args...)
	return classify(err, "write clicks, events and deliveries")
}
