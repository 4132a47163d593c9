package postgres

// The one place where statements bypass bun: this file (the listings) and
// bypass_hotpath.go (the hot path).
//
// Aggregates are read and written through bun (repositories.go,
// deliveries.go, outbox.go, …) and traced by bunotel. bun writes every
// value into the statement's text, so each of its statements is new to
// PostgreSQL: parsed and planned afresh. That is no cost worth avoiding for
// an aggregate's few statements in a transaction, but it is for the partner
// listings, which run the same few query shapes over and over for every
// page of every partner (test/bench/README.md, change L3). So the
// statements below, and only these, go straight to pgx with bind
// parameters: their text depends only on which conditions are present,
// never on the values, so pgx prepares each shape once per connection and
// reuses it.
//
//   - Store.Leads, Store.Attribution: the Leads and Attribution APIs.
//   - Store.Deliveries, Store.EventDeliveries: the delivery log (one
//     delivery per row, its attempts folded into JSON).
//   - Store.FailedSince: a page of a recover call (the events whose latest
//     series to the config ended without success).
//
// They run on a pgx pool of their own (DB.Bypass, sized by
// PoolOptions.BypassConns: the list-query line's concurrency plus two), so
// a burst of listings never takes the connections clicks and deliveries
// commit on, and they are traced by otelpgx on that pool: one client span
// per statement, a child of the request's span, with the statement's text
// (placeholders only) and never its parameters.
//
// The hot path (bypass_hotpath.go) bypasses bun for the same reason, with
// more at stake: the statements every click and every delivery runs
// (click.insert, outbox.insert, deliveries.open; claim.*, outcomes.save,
// claims.release) are a handful of shapes run thousands of times a second,
// where parsing and planning each anew cost more PostgreSQL time than
// running it (test/bench/README.md, section Click → partner). They run on
// the unit of work's own connection, inside its transaction, each named by
// a "-- aurix:<name>" marker, and are traced by otelpgx on the main pool
// (trace.go), which gives exactly the marked statements a span: bun's get
// theirs from bunotel.
//
// Raw pgx is also used, for another reason, by the liveness session
// (processes.go: Join, Heartbeat), LISTEN (listen.go) and the migration
// lock (migrate.go): a session advisory lock and LISTEN belong to one
// connection held for as long as they last, which bun, handing each
// statement any connection of its pool, cannot hold. They need no speed
// excuse, and run on the listener pool (DB.Listener) or one connection of
// the main pool.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// defaultBypassConns sizes the bypass pool when PoolOptions leaves it out:
// the default list-query concurrency (4) plus two.
const defaultBypassConns = 6

// openBypassPool opens the bypassing statements' pool from the main pool's
// settings: opts.BypassConns connections at most, none opened before the
// first statement, and with opts.TracerProvider set, a span for each
// statement.
func openBypassPool(ctx context.Context, main *pgxpool.Config, opts PoolOptions) (*pgxpool.Pool, error) {
	cfg := main.Copy()
	// Every listing is a bind-parameter statement: prepared once per
	// connection and kept (the main pool runs bun's unprepared).
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	cfg.ConnConfig.Tracer = nil
	cfg.MaxConns = defaultBypassConns
	if opts.BypassConns > 0 {
		cfg.MaxConns = opts.BypassConns
	}
	cfg.MinConns = 0
	if opts.TracerProvider != nil {
		cfg.ConnConfig.Tracer = statementTracer{otelpgx.NewTracer(
			otelpgx.WithTracerProvider(opts.TracerProvider),
			otelpgx.WithMeterProvider(opts.MeterProvider),
			// The database's host, port and user are no business of a
			// trace (bunotel leaves them out too).
			otelpgx.WithDisableConnectionDetailsInAttributes(),
			// Statement text only: these statements hold no values, and
			// their parameters (partners' dates and cursors) stay out.
		)}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open the pool of the listings: %w", err)
	}
	return pool, nil
}

// statementTracer passes on otelpgx's query spans only: one span per
// statement, as bunotel gives bun's, and no connect or acquire spans (the
// wait for a connection is bounded and shows as the gap before the
// statement's span).
type statementTracer struct{ t *otelpgx.Tracer }

func (s statementTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return s.t.TraceQueryStart(ctx, conn, data)
}

func (s statementTracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	s.t.TraceQueryEnd(ctx, conn, data)
}

// acquire takes a connection of the bypass pool, waiting at most the
// acquire timeout (as database/sql's connections do, through
// boundedConnector), after which the listing fails as unavailable.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	return within(ctx, s.acquireTimeout, s.bypass.Acquire)
}

// stream runs query, whose values are bind parameters ($n), on the bypass
// pool and hands each row to each as it arrives, so memory stays flat
// however many rows match. Its span (otelpgx) lasts until the rows are
// closed, and is marked failed only by the database's errors, not by an
// error of each (such as the page being full).
func (s *Store) stream(ctx context.Context, query string, args []any, each func(pgx.Rows) error) error {
	conn, err := s.acquire(ctx)
	if err != nil {
		return classify(err, "connect for a listing")
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return classify(err, "query")
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return classify(err, "read rows")
	}
	return nil
}

// window appends the date, cursor and limit conditions shared by the
// listings, as bind parameters numbered after those already in args. Rows
// are ordered by (created_at, id) and the cursor resumes strictly after a
// key, so concurrent inserts never make a page skip or repeat a row. The
// text depends only on which conditions are present, never on their
// values, so pgx prepares each shape once per connection and reuses it.
func window(q ports.PageQuery, createdCol, idCol string, where []string, args []any, limit int) (string, []any) {
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.From != nil {
		where = append(where, createdCol+" >= "+param(*q.From))
	}
	if q.To != nil {
		where = append(where, createdCol+" < "+param(*q.To))
	}
	if q.After != nil {
		after := param(q.After.CreatedAt)
		where = append(where, fmt.Sprintf("(%s, %s) > (%s, %s)", createdCol, idCol, after, param(q.After.ID)))
	}
	sqlText := ""
	if len(where) > 0 {
		sqlText = " WHERE " + strings.Join(where, " AND ")
	}
	sqlText += fmt.Sprintf(" ORDER BY %s, %s", createdCol, idCol)
	if limit > 0 {
		sqlText += " LIMIT " + param(limit)
	}
	return sqlText, args
}

var (
	_ ports.PartnerReader     = (*Store)(nil)
	_ ports.DeliveryLogReader = (*Store)(nil)
)

// Leads streams leads with their click, if any. The click is found by the
// lead's conversation (inbound_sources_conversation_key): a correlated
// click always carries its lead's conversation id, set in the transaction
// that stores the lead, and conversation ids grow with time, so a page's
// look-ups share a few index pages where the random correlation ids would
// each need their own.
func (s *Store) Leads(ctx context.Context, q ports.PageQuery, limit int, yield func(ports.LeadRecord, ports.PageKey) error) error {
	tail, args := window(q, "l.created_at", "l.conversation_id", nil, nil, limit)
	query := `SELECT l.conversation_id, l.created_at, l.status, l.phone, l.channel_id, l.lead_data, l.completed_at,
		l.correlation_id, s.correlated_at, s.click_url, s.parsed_params
		FROM leads l LEFT JOIN inbound_sources s ON s.conversation_id = l.conversation_id` + tail
	// Declared once, the scan targets cost one allocation per query rather
	// than one each per row; the jsonb columns are read in place (valid
	// until the next row) and decoded before it.
	var (
		r            ports.LeadRecord
		phone        pgtype.Text
		data, params pgtype.DriverBytes
	)
	return s.stream(ctx, query, args, func(rows pgx.Rows) error {
		r = ports.LeadRecord{}
		if err := rows.Scan(&r.ConversationID, &r.CreatedAt, &r.Status, &phone, &r.ChannelID, &data,
			&r.CompletedAt, &r.CorrelationID, &r.CorrelatedAt, &r.ClickURL, &params); err != nil {
			return fmt.Errorf("scan lead: %w", err)
		}
		r.PhoneNumber = phone.String
		var err error
		if r.Data, err = decodeStringObject(data); err != nil {
			return fmt.Errorf("lead_data of %d: %w", r.ConversationID, err)
		}
		if params != nil {
			if r.ParsedParams, err = decodeStringObject(params); err != nil {
				return fmt.Errorf("parsed_params of %d: %w", r.ConversationID, err)
			}
		}
		return yield(r, ports.PageKey{CreatedAt: r.CreatedAt, ID: r.ConversationID})
	})
}

// Attribution streams clicks.
func (s *Store) Attribution(ctx context.Context, q ports.PageQuery, limit int, yield func(ports.AttributionRecord, ports.PageKey) error) error {
	var where []string
	if !q.IncludeBots {
		where = append(where, "NOT is_bot")
	}
	tail, args := window(q, "created_at", "id", where, nil, limit)
	query := `SELECT id, correlation_id, device_id, click_url, parsed_params, user_agent, ip_address, is_bot,
		created_at, correlated_at, conversation_id FROM inbound_sources` + tail
	var (
		r      ports.AttributionRecord
		params pgtype.DriverBytes // decoded before the next row
	)
	c := &r.Click
	return s.stream(ctx, query, args, func(rows pgx.Rows) error {
		r = ports.AttributionRecord{}
		if err := rows.Scan(&r.ID, &c.CorrelationID, &c.DeviceID, &c.ClickURL, &params, &c.UserAgent,
			&c.IPAddress, &r.IsBot, &r.CreatedAt, &r.CorrelatedAt, &r.ConversationID); err != nil {
			return fmt.Errorf("scan click: %w", err)
		}
		var err error
		if c.ParsedParams, err = decodeStringObject(params); err != nil {
			return fmt.Errorf("parsed_params of click %d: %w", r.ID, err)
		}
		return yield(r, ports.PageKey{CreatedAt: r.CreatedAt, ID: r.ID})
	})
}

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

func scanDelivery(rows pgx.Rows) (ports.DeliveryRecord, error) {
	var (
		d        ports.DeliveryRecord
		attempts pgtype.DriverBytes // decoded before the next row
	)
	if err := rows.Scan(&d.DeliveryID, &d.EventID, &d.EventType, &d.Series, &d.Status, &d.CreatedAt,
		&d.NextAttemptAt, &d.FinishedAt, &attempts); err != nil {
		return d, fmt.Errorf("scan delivery: %w", err)
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
	return s.stream(ctx, query, args, func(rows pgx.Rows) error {
		d, err := scanDelivery(rows)
		if err != nil {
			return err
		}
		return yield(d, ports.PageKey{CreatedAt: d.CreatedAt, ID: d.DeliveryID})
	})
}

// EventDeliveries lists an event's deliveries to a config.
func (s *Store) EventDeliveries(ctx context.Context, configID, eventID string) ([]ports.DeliveryRecord, error) {
	var out []ports.DeliveryRecord
	query := "SELECT " + deliveryColumns + " FROM webhook_deliveries d WHERE d.webhook_config_id = $1 AND d.event_id = $2 ORDER BY d.series"
	err := s.stream(ctx, query, []any{configID, eventID}, func(rows pgx.Rows) error {
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
	err := s.stream(ctx, query, args, func(rows pgx.Rows) error {
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
