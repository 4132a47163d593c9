package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

var _ ports.PartnerReader = (*Store)(nil)

// window appends the date, cursor and limit conditions shared by both APIs.
// Rows are ordered by (created_at, id) and the cursor resumes strictly after
// a key, so concurrent inserts never make a page skip or repeat a row.
func window(q ports.PageQuery, createdCol, idCol string, where []string, args []any, limit int) (string, []any) {
	if q.From != nil {
		where = append(where, createdCol+" >= ?")
		args = append(args, *q.From)
	}
	if q.To != nil {
		where = append(where, createdCol+" < ?")
		args = append(args, *q.To)
	}
	if q.After != nil {
		where = append(where, fmt.Sprintf("(%s, %s) > (?, ?)", createdCol, idCol))
		args = append(args, q.After.CreatedAt, q.After.ID)
	}
	sqlText := ""
	if len(where) > 0 {
		sqlText = " WHERE " + strings.Join(where, " AND ")
	}
	sqlText += fmt.Sprintf(" ORDER BY %s, %s", createdCol, idCol)
	if limit > 0 {
		sqlText += " LIMIT ?"
		args = append(args, limit)
	}
	return sqlText, args
}

// Leads streams leads with their click, if any.
func (s *Store) Leads(ctx context.Context, q ports.PageQuery, limit int, yield func(ports.LeadRecord, ports.PageKey) error) error {
	tail, args := window(q, "l.created_at", "l.conversation_id", nil, nil, limit)
	query := `SELECT l.conversation_id, l.created_at, l.status, l.phone, l.channel_id, l.lead_data, l.completed_at,
		l.correlation_id, s.correlated_at, s.click_url, s.parsed_params
		FROM leads l LEFT JOIN inbound_sources s ON s.correlation_id = l.correlation_id` + tail
	return stream(ctx, s.db, query, args, func(rows rowScanner) error {
		var (
			r                 ports.LeadRecord
			phone, ref, click *string
			data, params      []byte
		)
		if err := rows.Scan(&r.ConversationID, &r.CreatedAt, &r.Status, &phone, &r.ChannelID, &data,
			&r.CompletedAt, &ref, &r.CorrelatedAt, &click, &params); err != nil {
			return err
		}
		r.PhoneNumber, r.ClickURL = deref(phone), click
		if ref != nil {
			c := domain.CorrelationID(*ref)
			r.CorrelationID = &c
		}
		if err := json.Unmarshal(data, &r.Data); err != nil {
			return fmt.Errorf("lead_data of %d: %w", r.ConversationID, err)
		}
		if params != nil {
			if err := json.Unmarshal(params, &r.ParsedParams); err != nil {
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
	return stream(ctx, s.db, query, args, func(rows rowScanner) error {
		var (
			r      ports.AttributionRecord
			params []byte
		)
		c := &r.Click
		if err := rows.Scan(&r.ID, &c.CorrelationID, &c.DeviceID, &c.ClickURL, &params, &c.UserAgent,
			&c.IPAddress, &r.IsBot, &r.CreatedAt, &r.CorrelatedAt, &r.ConversationID); err != nil {
			return err
		}
		if err := json.Unmarshal(params, &c.ParsedParams); err != nil {
			return fmt.Errorf("parsed_params of click %d: %w", r.ID, err)
		}
		return yield(r, ports.PageKey{CreatedAt: r.CreatedAt, ID: r.ID})
	})
}

type rowScanner interface{ Scan(dest ...any) error }

// stream runs query and hands each row to each as it arrives, so memory
// stays flat however many rows match.
func stream(ctx context.Context, db *bun.DB, query string, args []any, each func(rowScanner) error) error {
	rows, err := db.QueryContext(ctx, query, args...)
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
