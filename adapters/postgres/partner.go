package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.20.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/aurix/integrations/ports"
)

var _ ports.PartnerReader = (*Store)(nil)

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
	// The scan targets escape to database/sql; declared once, they cost
	// one allocation per query rather than one each per row.
	var (
		r            ports.LeadRecord
		phone        sql.NullString
		data, params sql.RawBytes // decoded before the next row
	)
	return s.stream(ctx, query, args, func(rows *sql.Rows) error {
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
		params sql.RawBytes // decoded before the next row
	)
	c := &r.Click
	return s.stream(ctx, query, args, func(rows *sql.Rows) error {
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

// stream runs query, whose values are bind parameters ($n), and hands each
// row to each as it arrives, so memory stays flat however many rows match.
// It goes to database/sql directly: bun would write the values into the
// text, making every page a statement of its own for pgx to prepare. bun's
// query hook does not see the query, so the span it would record is
// recorded here, as bunotel does: a client span named by the operation,
// with the statement text (which holds no values). It lasts until the rows
// are read, and is marked failed only by the database's errors, not by an
// error of each (such as the page being full).
func (s *Store) stream(ctx context.Context, query string, args []any, each func(*sql.Rows) error) error {
	ctx, span := s.tracer.Start(ctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(semconv.DBSystemPostgreSQL, semconv.DBOperationKey.String("SELECT"), semconv.DBStatementKey.String(query))
	}
	failed := func(err error, what string) error {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return classify(err, what)
	}
	rows, err := s.db.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return failed(err, "query")
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return failed(err, "read rows")
	}
	return nil
}
