package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// erasures finds and rewrites what an erasure reaches, in the caller's
// transaction; every row it reads is locked FOR UPDATE until the end.
type erasures struct{ tx bun.Tx }

var _ ports.ErasureRepository = erasures{}

// matchingConversations lists the conversations whose lead the key names.
// Each lookup is an index probe (migration 000006).
func (r erasures) matchingConversations(ctx context.Context, key domain.ErasureKey) ([]int64, error) {
	var q string
	var args []any
	switch key.Field {
	case domain.ErasePhoneNumber:
		q = `SELECT id FROM conversations WHERE phone = ?
			UNION SELECT conversation_id FROM leads WHERE regexp_replace(lead_data ->> 'phone', '[^0-9]', '', 'g') = ?`
		args = []any{key.Value, key.PhoneDigits()}
	case domain.EraseBSUID:
		q, args = `SELECT id FROM conversations WHERE bsuid = ?`, []any{key.Value}
	case domain.EraseEmail:
		q, args = `SELECT conversation_id FROM leads WHERE lower(lead_data ->> 'email') = ?`, []any{key.Value}
	case domain.EraseCorrelationID:
		q, args = `SELECT conversation_id FROM leads WHERE correlation_id = ?`, []any{key.Value}
	case domain.EraseConversationID:
		q, args = `SELECT conversation_id FROM leads WHERE conversation_id = ?`, []any{key.ConversationID}
	default:
		return nil, fmt.Errorf("erasure field %q: %w", key.Field, domain.ErrInvalidInput)
	}
	var ids []int64
	if err := r.tx.NewRaw(q, args...).Scan(ctx, &ids); err != nil {
		return nil, classify(err, "match conversations to erase")
	}
	return ids, nil
}

func (r erasures) MatchLeads(ctx context.Context, key domain.ErasureKey) ([]*domain.Lead, error) {
	ids, err := r.matchingConversations(ctx, key)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var ms []leadModel
	err = r.tx.NewSelect().Model(&ms).Where("conversation_id IN (?)", bun.List(ids)).
		Order("conversation_id").For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, classify(err, "lock leads to erase")
	}
	out := make([]*domain.Lead, len(ms))
	for i := range ms {
		out[i] = ms[i].domain()
	}
	return out, nil
}

func (r erasures) clicks(ctx context.Context, what string, where string, args ...any) ([]*domain.InboundSource, error) {
	var ms []inboundSourceModel
	err := r.tx.NewSelect().Model(&ms).Where(where, args...).Order("id").For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, classify(err, what)
	}
	out := make([]*domain.InboundSource, 0, len(ms))
	for i := range ms {
		s, err := ms[i].domain()
		if err != nil {
			return nil, fmt.Errorf("%s: click %d: %w", what, ms[i].ID, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func (r erasures) MatchLooseClicks(ctx context.Context, key domain.ErasureKey) ([]*domain.InboundSource, error) {
	if key.Field != domain.EraseCorrelationID {
		return nil, nil
	}
	return r.clicks(ctx, "lock click to erase", "correlation_id = ? AND conversation_id IS NULL", key.Value)
}

func (r erasures) ClicksOfConversations(ctx context.Context, conversationIDs []int64) ([]*domain.InboundSource, error) {
	if len(conversationIDs) == 0 {
		return nil, nil
	}
	return r.clicks(ctx, "lock clicks of leads to erase", "conversation_id IN (?)", bun.List(conversationIDs))
}

func (r erasures) LooseClicksOfDevices(ctx context.Context, deviceIDs []string) ([]*domain.InboundSource, error) {
	if len(deviceIDs) == 0 {
		return nil, nil
	}
	// Served by inbound_sources_loose_device_idx.
	return r.clicks(ctx, "lock clicks of the devices", "device_id IN (?) AND conversation_id IS NULL AND device_id <> ''", bun.List(deviceIDs))
}

func (r erasures) EventsOf(ctx context.Context, leadKeys []string) ([]ports.StoredPayload, error) {
	if len(leadKeys) == 0 {
		return nil, nil
	}
	var rows []struct {
		ID        int64  `bun:"id"`
		EventType string `bun:"event_type"`
		Payload   []byte `bun:"payload"`
	}
	err := r.tx.NewRaw("SELECT id, event_type, payload FROM outbox WHERE lead_key IN (?) ORDER BY id FOR UPDATE", bun.List(leadKeys)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, classify(err, "lock events to erase")
	}
	out := make([]ports.StoredPayload, len(rows))
	for i, row := range rows {
		out[i] = ports.StoredPayload{OutboxID: row.ID, Type: domain.EventType(row.EventType), Payload: row.Payload}
	}
	return out, nil
}

func (r erasures) RewritePayloads(ctx context.Context, events []ports.StoredPayload) error {
	for _, e := range events {
		if _, err := r.tx.NewRaw("UPDATE outbox SET payload = ? WHERE id = ?", e.Payload, e.OutboxID).Exec(ctx); err != nil {
			return classify(err, "rewrite erased payload")
		}
	}
	return nil
}

func (r erasures) ClearAttempts(ctx context.Context, outboxIDs []int64, marker string) (int, error) {
	if len(outboxIDs) == 0 {
		return 0, nil
	}
	res, err := r.tx.NewRaw(`UPDATE webhook_attempts SET response_body = ''::bytea,
			error = CASE WHEN error = '' THEN '' ELSE ? END
		WHERE event_id IN (SELECT event_id FROM outbox WHERE id IN (?))
			AND (response_body <> ''::bytea OR error NOT IN ('', ?))`, marker, bun.List(outboxIDs), marker).Exec(ctx)
	if err != nil {
		return 0, classify(err, "clear attempts of erased events")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("clear attempts of erased events: %w", err)
	}
	_, err = r.tx.NewRaw(`UPDATE webhook_deliveries SET last_error = ? WHERE outbox_id IN (?) AND last_error NOT IN ('', ?)`,
		marker, bun.List(outboxIDs), marker).Exec(ctx)
	if err != nil {
		return 0, classify(err, "clear last errors of erased events")
	}
	return int(n), nil
}

func (r erasures) SaveLead(ctx context.Context, l *domain.Lead) error {
	row := l.Row()
	data, err := json.Marshal(row.Data)
	if err != nil {
		return fmt.Errorf("save erased lead: %w", err)
	}
	_, err = r.tx.NewRaw(`UPDATE leads SET phone = ?, bsuid = ?, lead_data = ?::jsonb, erased_at = ? WHERE conversation_id = ?`,
		nullable(row.Sender.Phone), nullable(row.Sender.BSUID), string(data), row.ErasedAt, row.ConversationID).Exec(ctx)
	if err != nil {
		return classify(err, "save erased lead")
	}
	// The conversation holds the same sender; an erased one keeps its row
	// (its lead points at it) without it.
	_, err = r.tx.NewRaw(`UPDATE conversations SET phone = ?, bsuid = ?, erased_at = ? WHERE id = ?`,
		nullable(row.Sender.Phone), nullable(row.Sender.BSUID), row.ErasedAt, row.ConversationID).Exec(ctx)
	return classify(err, "save erased conversation")
}

func (r erasures) SaveClick(ctx context.Context, s *domain.InboundSource) error {
	row := s.Row()
	_, err := r.tx.NewRaw(`UPDATE inbound_sources SET device_id = ?, user_agent = ?, ip_address = ?, click_url = ?, erased_at = ?
		WHERE correlation_id = ?`, row.DeviceID, row.UserAgent, row.IPAddress, row.ClickURL, row.ErasedAt, string(row.CorrelationID)).Exec(ctx)
	return classify(err, "save erased click")
}

func (r erasures) Record(ctx context.Context, rec domain.ErasureRecord) error {
	c := rec.Counts
	_, err := r.tx.NewRaw(`INSERT INTO aurix_erasures (erased_at, field, leads, clicks, events, attempts, notices)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, rec.ErasedAt, string(rec.Field), c.Leads, c.Clicks, c.Events, c.Attempts, c.Notices).Exec(ctx)
	return classify(err, "record erasure")
}

// retention finds and deletes what the purge may remove, in the caller's
// transaction. Each walk is a range scan of one index, oldest first, that
// locks the rows it returns and skips those another transaction holds.
type retention struct{ tx bun.Tx }

var _ ports.RetentionRepository = retention{}

// after is the keyset condition that resumes a walk after a key.
func after(cols string, k *ports.PurgeKey, textKey bool) (string, []any) {
	if k == nil {
		return "", nil
	}
	if textKey {
		return " AND (" + cols + ") > (?, ?)", []any{k.At, k.Key}
	}
	return " AND (" + cols + ") > (?, ?)", []any{k.At, k.ID}
}

func (r retention) EventsBefore(ctx context.Context, t time.Time, k *ports.PurgeKey, limit int) ([]domain.StoredEventFacts, error) {
	cond, args := after("created_at, id", k, false)
	var locked []struct {
		ID        int64     `bun:"id"`
		CreatedAt time.Time `bun:"created_at"`
	}
	err := r.tx.NewRaw("SELECT id, created_at FROM outbox WHERE created_at < ?"+cond+
		" ORDER BY created_at, id LIMIT ? FOR UPDATE SKIP LOCKED", append(append([]any{t}, args...), limit)...).Scan(ctx, &locked)
	if err != nil {
		return nil, classify(err, "lock expired events")
	}
	if len(locked) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(locked))
	for i, l := range locked {
		ids[i] = l.ID
	}
	// Counted in a statement of its own, after the lock: it sees every
	// redelivery committed before, and none can be opened after (its
	// foreign key check waits for this transaction).
	var states []struct {
		OutboxID     int64      `bun:"outbox_id"`
		Pending      int        `bun:"pending"`
		LastFinished *time.Time `bun:"last_finished"`
	}
	err = r.tx.NewRaw(`SELECT outbox_id, count(*) FILTER (WHERE status = 'pending') AS pending, max(finished_at) AS last_finished
		FROM webhook_deliveries WHERE outbox_id IN (?) GROUP BY outbox_id`, bun.List(ids)).Scan(ctx, &states)
	if err != nil {
		return nil, classify(err, "deliveries of expired events")
	}
	byID := make(map[int64]int, len(states))
	for i, s := range states {
		byID[s.OutboxID] = i
	}
	out := make([]domain.StoredEventFacts, len(locked))
	for i, l := range locked {
		out[i] = domain.StoredEventFacts{OutboxID: l.ID, CreatedAt: l.CreatedAt}
		if j, ok := byID[l.ID]; ok {
			out[i].Pending, out[i].LastFinished = states[j].Pending, states[j].LastFinished
		}
	}
	return out, nil
}

func (r retention) DeleteEvents(ctx context.Context, outboxIDs []int64) (ports.PurgedEvents, error) {
	var gone ports.PurgedEvents
	if len(outboxIDs) == 0 {
		return gone, nil
	}
	n, err := r.exec(ctx, "delete attempts of expired events",
		"DELETE FROM webhook_attempts WHERE event_id IN (SELECT event_id FROM outbox WHERE id IN (?))", bun.List(outboxIDs))
	if err != nil {
		return gone, err
	}
	gone.Attempts = n
	if gone.Deliveries, err = r.exec(ctx, "delete deliveries of expired events",
		"DELETE FROM webhook_deliveries WHERE outbox_id IN (?)", bun.List(outboxIDs)); err != nil {
		return gone, err
	}
	if gone.Events, err = r.exec(ctx, "delete expired events", "DELETE FROM outbox WHERE id IN (?)", bun.List(outboxIDs)); err != nil {
		return gone, err
	}
	return gone, nil
}

func (r retention) ClicksBefore(ctx context.Context, t time.Time, k *ports.PurgeKey, limit int) ([]domain.StoredClickFacts, error) {
	cond, args := after("created_at, id", k, false)
	var rows []struct {
		ID         int64     `bun:"id"`
		CreatedAt  time.Time `bun:"created_at"`
		Correlated bool      `bun:"correlated"`
	}
	// Served by inbound_sources_uncorrelated_idx: a lead's clicks, kept
	// as long as their leads, are never walked over.
	err := r.tx.NewRaw("SELECT id, created_at, conversation_id IS NOT NULL AS correlated FROM inbound_sources"+
		" WHERE conversation_id IS NULL AND created_at < ?"+cond+" ORDER BY created_at, id LIMIT ? FOR UPDATE SKIP LOCKED",
		append(append([]any{t}, args...), limit)...).Scan(ctx, &rows)
	if err != nil {
		return nil, classify(err, "lock expired clicks")
	}
	out := make([]domain.StoredClickFacts, len(rows))
	for i, row := range rows {
		out[i] = domain.StoredClickFacts{ID: row.ID, CreatedAt: row.CreatedAt, Correlated: row.Correlated}
	}
	return out, nil
}

func (r retention) DeleteClicks(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	return r.exec(ctx, "delete expired clicks", "DELETE FROM inbound_sources WHERE id IN (?) AND conversation_id IS NULL", bun.List(ids))
}

func (r retention) LeadsBefore(ctx context.Context, t time.Time, k *ports.PurgeKey, limit int) ([]domain.StoredLeadFacts, error) {
	cond, args := after("created_at, conversation_id", k, false)
	var rows []struct {
		ConversationID int64      `bun:"conversation_id"`
		CreatedAt      time.Time  `bun:"created_at"`
		CorrelatedAt   *time.Time `bun:"correlated_at"`
		CompletedAt    *time.Time `bun:"completed_at"`
	}
	err := r.tx.NewRaw("SELECT conversation_id, created_at, correlated_at, completed_at FROM leads WHERE created_at < ?"+cond+
		" ORDER BY created_at, conversation_id LIMIT ? FOR UPDATE SKIP LOCKED", append(append([]any{t}, args...), limit)...).Scan(ctx, &rows)
	if err != nil {
		return nil, classify(err, "lock expired leads")
	}
	out := make([]domain.StoredLeadFacts, len(rows))
	for i, row := range rows {
		out[i] = domain.StoredLeadFacts{ConversationID: row.ConversationID, CreatedAt: row.CreatedAt,
			CorrelatedAt: row.CorrelatedAt, CompletedAt: row.CompletedAt}
	}
	return out, nil
}

func (r retention) DeleteLeads(ctx context.Context, conversationIDs []int64) (int, error) {
	if len(conversationIDs) == 0 {
		return 0, nil
	}
	n, err := r.exec(ctx, "delete expired leads", "DELETE FROM leads WHERE conversation_id IN (?)", bun.List(conversationIDs))
	if err != nil {
		return 0, err
	}
	if _, err := r.exec(ctx, "delete clicks of expired leads", "DELETE FROM inbound_sources WHERE conversation_id IN (?)", bun.List(conversationIDs)); err != nil {
		return 0, err
	}
	if _, err := r.exec(ctx, "delete conversations of expired leads", "DELETE FROM conversations WHERE id IN (?)", bun.List(conversationIDs)); err != nil {
		return 0, err
	}
	return n, nil
}

func (r retention) MessagesBefore(ctx context.Context, t time.Time, k *ports.PurgeKey, limit int) ([]domain.StoredMessageFacts, error) {
	cond, args := after("received_at, message_id", k, true)
	var rows []struct {
		MessageID  string    `bun:"message_id"`
		ReceivedAt time.Time `bun:"received_at"`
	}
	err := r.tx.NewRaw("SELECT message_id, received_at FROM whatsapp_messages WHERE received_at < ?"+cond+
		" ORDER BY received_at, message_id LIMIT ? FOR UPDATE SKIP LOCKED", append(append([]any{t}, args...), limit)...).Scan(ctx, &rows)
	if err != nil {
		return nil, classify(err, "lock expired message keys")
	}
	out := make([]domain.StoredMessageFacts, len(rows))
	for i, row := range rows {
		out[i] = domain.StoredMessageFacts{Key: row.MessageID, ReceivedAt: row.ReceivedAt}
	}
	return out, nil
}

func (r retention) DeleteMessages(ctx context.Context, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	return r.exec(ctx, "delete expired message keys", "DELETE FROM whatsapp_messages WHERE message_id IN (?)", bun.List(keys))
}

func (r retention) exec(ctx context.Context, what, query string, args ...any) (int, error) {
	res, err := r.tx.NewRaw(query, args...).Exec(ctx)
	if err != nil {
		return 0, classify(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return int(n), nil
}
