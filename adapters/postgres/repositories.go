package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type webhookConfigs struct {
	t *txRepos
	// cache, when set, serves Active; a Save in the transaction
	// invalidates it once committed, here and (NOTIFY) elsewhere.
	cache *ConfigCache
}

func (r webhookConfigs) byService(ctx context.Context, service string, lock bool) (*domain.WebhookConfig, error) {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return nil, dbErr
	}
	var m webhookConfigModel
	q := db.NewSelect().Model(&m).Where("service_name = ?", service)
	if lock {
		// NO KEY UPDATE leaves inserts of deliveries referencing the config
		// (their foreign key check) free to go on.
		q = q.For("NO KEY UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, classify(err, "select webhook config")
	}
	return m.domain(), nil
}

func (r webhookConfigs) ByService(ctx context.Context, service string) (*domain.WebhookConfig, error) {
	return r.byService(ctx, service, false)
}

func (r webhookConfigs) ByServiceForUpdate(ctx context.Context, service string) (*domain.WebhookConfig, error) {
	return r.byService(ctx, service, true)
}

// Active lists the active configs in service order, from the cache when
// the unit of work has one.
func (r webhookConfigs) Active(ctx context.Context) ([]*domain.WebhookConfig, error) {
	if r.cache != nil {
		return r.cache.active(ctx, r.t.db)
	}
	db, err := r.t.db(ctx)
	if err != nil {
		return nil, err
	}
	return loadActive(ctx, db)
}

// ByIDs returns the configs with these ids.
func (r webhookConfigs) ByIDs(ctx context.Context, ids []string) ([]*domain.WebhookConfig, error) {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return nil, dbErr
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var ms []webhookConfigModel
	if err := db.NewSelect().Model(&ms).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, classify(err, "select webhook configs")
	}
	return configsOf(ms), nil
}

// ByIDsForUpdate locks the configs in id order.
func (r webhookConfigs) ByIDsForUpdate(ctx context.Context, ids []string) ([]*domain.WebhookConfig, error) {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return nil, dbErr
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var ms []webhookConfigModel
	if err := db.NewSelect().Model(&ms).Where("id IN (?)", bun.List(ids)).Order("id").For("NO KEY UPDATE").Scan(ctx); err != nil {
		return nil, classify(err, "lock webhook configs")
	}
	return configsOf(ms), nil
}

// FailingBefore locks the active configs failing since before t.
func (r webhookConfigs) FailingBefore(ctx context.Context, t time.Time) ([]*domain.WebhookConfig, error) {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return nil, dbErr
	}
	var ms []webhookConfigModel
	err := db.NewSelect().Model(&ms).Where("is_active AND failing_since < ?", t).Order("id").For("NO KEY UPDATE").Scan(ctx)
	if err != nil {
		return nil, classify(err, "select failing webhook configs")
	}
	return configsOf(ms), nil
}

func configsOf(ms []webhookConfigModel) []*domain.WebhookConfig {
	out := make([]*domain.WebhookConfig, len(ms))
	for i := range ms {
		out[i] = ms[i].domain()
	}
	return out
}

// Save stores the config as the aggregate has it.
func (r webhookConfigs) Save(ctx context.Context, c *domain.WebhookConfig) error {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return dbErr
	}
	m := webhookConfigFrom(c)
	_, err := db.NewInsert().Model(m).
		On("CONFLICT (id) DO UPDATE").
		Set("target_url = EXCLUDED.target_url").
		Set("secret = EXCLUDED.secret").
		Set("previous_secrets = EXCLUDED.previous_secrets").
		Set("event_types = EXCLUDED.event_types").
		Set("ordering = EXCLUDED.ordering").
		Set("max_per_second = EXCLUDED.max_per_second").
		Set("is_active = EXCLUDED.is_active").
		Set("failing_since = EXCLUDED.failing_since").
		Set("disabled_reason = EXCLUDED.disabled_reason").
		Set("disabled_at = EXCLUDED.disabled_at").
		Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	if err != nil {
		return classify(err, "save webhook config")
	}
	if _, err := db.NewRaw("SELECT pg_notify(?, '')", ConfigChannel).Exec(ctx); err != nil {
		return classify(err, "notify config change")
	}
	if r.cache != nil {
		r.t.afterCommit = append(r.t.afterCommit, r.cache.Invalidate)
	}
	return nil
}

func (r inboundSources) ByCorrelationIDsForUpdate(ctx context.Context, refs []domain.CorrelationID) (map[domain.CorrelationID]*domain.InboundSource, error) {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return nil, dbErr
	}
	out := make(map[domain.CorrelationID]*domain.InboundSource, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	keys := make([]string, len(refs))
	for i, ref := range refs {
		keys[i] = string(ref)
	}
	var ms []inboundSourceModel
	// Rows are locked in the order they are sorted: every transaction takes
	// the same clicks in the same order.
	err := db.NewSelect().Model(&ms).Where("correlation_id = ANY(?::text[])", pgdialect.Array(keys)).
		Order("correlation_id").For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, classify(err, "select inbound sources")
	}
	for _, m := range ms {
		s, err := m.domain()
		if err != nil {
			return nil, fmt.Errorf("read inbound source %s: %w", m.CorrelationID, err)
		}
		out[s.CorrelationID()] = s
	}
	return out, nil
}

func (r inboundSources) SaveCorrelation(ctx context.Context, ss ...*domain.InboundSource) error {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return dbErr
	}
	if len(ss) == 0 {
		return nil
	}
	refs := make([]string, len(ss))
	convs := make([]int64, len(ss))
	ats := make([]time.Time, len(ss))
	for i, s := range ss {
		row := s.Row()
		if row.ConversationID == nil || row.CorrelatedAt == nil {
			return fmt.Errorf("update inbound source correlation: click %s is not correlated", row.CorrelationID)
		}
		refs[i], convs[i], ats[i] = string(row.CorrelationID), *row.ConversationID, *row.CorrelatedAt
	}
	_, err := db.NewRaw(`UPDATE inbound_sources AS s SET conversation_id = v.conv, correlated_at = v.at
		FROM unnest(?::text[], ?::bigint[], ?::timestamptz[]) AS v(ref, conv, at) WHERE s.correlation_id = v.ref`,
		pgdialect.Array(refs), pgdialect.Array(convs), pgdialect.Array(ats)).Exec(ctx)
	return classify(err, "update inbound source correlation")
}

type conversations struct{ t *txRepos }

// RecordMessages inserts the ids in one statement; the primary key decides
// which are new, so two batches carrying one id cannot both see it fresh.
func (r conversations) RecordMessages(ctx context.Context, msgs []ports.MessageKey, at time.Time) ([]bool, error) {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return nil, dbErr
	}
	fresh := make([]bool, len(msgs))
	first := make(map[string]int, len(msgs))
	ids := make([]string, 0, len(msgs))
	channels := make([]string, 0, len(msgs))
	for i, m := range msgs {
		if _, dup := first[m.MessageID]; dup {
			continue
		}
		first[m.MessageID] = i
		ids = append(ids, m.MessageID)
		channels = append(channels, m.ChannelID)
	}
	if len(ids) == 0 {
		return fresh, nil
	}
	var inserted []string
	err := db.NewRaw(`INSERT INTO whatsapp_messages (message_id, channel_id, received_at)
		SELECT m.id, m.channel, ? FROM unnest(?::text[], ?::text[]) AS m(id, channel)
		ON CONFLICT DO NOTHING RETURNING message_id`,
		at, pgdialect.Array(ids), pgdialect.Array(channels)).Scan(ctx, &inserted)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, classify(err, "record whatsapp messages")
	}
	for _, id := range inserted {
		fresh[first[id]] = true
	}
	return fresh, nil
}

type senderKey struct{ channel, phone, bsuid string }

// Open inserts every conversation in one statement, in order. Any unique
// clash (phone or BSUID on the channel, stored or inserted by an earlier
// row) means the conversation exists and the row is skipped; a concurrent
// insert of the same sender makes this wait for it.
func (r conversations) Open(ctx context.Context, cs []ports.NewConversation) ([]int64, error) {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return nil, dbErr
	}
	ids := make([]int64, len(cs))
	if len(cs) == 0 {
		return ids, nil
	}
	channels, phones, bsuids := make([]string, len(cs)), make([]string, len(cs)), make([]string, len(cs))
	ats := make([]time.Time, len(cs))
	for i, c := range cs {
		channels[i], phones[i], bsuids[i], ats[i] = c.ChannelID, c.Sender.Phone, c.Sender.BSUID, c.At
	}
	var rows []struct {
		ID      int64  `bun:"id"`
		Channel string `bun:"channel_id"`
		Phone   string `bun:"phone"`
		BSUID   string `bun:"bsuid"`
	}
	err := db.NewRaw(`INSERT INTO conversations (channel_id, phone, bsuid, created_at)
		SELECT c.channel, nullif(c.phone, ''), nullif(c.bsuid, ''), c.at
		FROM unnest(?::text[], ?::text[], ?::text[], ?::timestamptz[]) WITH ORDINALITY AS c(channel, phone, bsuid, at, ord)
		ORDER BY c.ord
		ON CONFLICT DO NOTHING
		RETURNING id, channel_id, coalesce(phone, '') AS phone, coalesce(bsuid, '') AS bsuid`,
		pgdialect.Array(channels), pgdialect.Array(phones), pgdialect.Array(bsuids), pgdialect.Array(ats)).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, classify(err, "insert conversations")
	}
	// A row inserted is the first entry with its exact sender: a later
	// entry with the same sender clashed with it.
	created := make(map[senderKey]int64, len(rows))
	for _, row := range rows {
		created[senderKey{row.Channel, row.Phone, row.BSUID}] = row.ID
	}
	for i, c := range cs {
		k := senderKey{c.ChannelID, c.Sender.Phone, c.Sender.BSUID}
		if id, ok := created[k]; ok {
			ids[i] = id
			delete(created, k)
		}
	}
	return ids, nil
}

type leads struct{ t *txRepos }

func (r leads) Add(ctx context.Context, ls ...*domain.Lead) error {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return dbErr
	}
	if len(ls) == 0 {
		return nil
	}
	ms := make([]leadModel, len(ls))
	for i, l := range ls {
		ms[i] = *leadFrom(l)
	}
	_, err := db.NewInsert().Model(&ms).Exec(ctx)
	return classify(err, "insert lead")
}

func (r leads) ByConversation(ctx context.Context, conversationID int64, forUpdate bool) (*domain.Lead, error) {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return nil, dbErr
	}
	var m leadModel
	q := db.NewSelect().Model(&m).Where("conversation_id = ?", conversationID)
	if forUpdate {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, classify(err, "select lead")
	}
	return m.domain(), nil
}

func (r leads) Save(ctx context.Context, l *domain.Lead) error {
	db, dbErr := r.t.db(ctx)
	if dbErr != nil {
		return dbErr
	}
	_, err := db.NewUpdate().Model(leadFrom(l)).WherePK().
		Column("status", "correlation_id", "lead_data", "correlated_at", "completed_at").
		Exec(ctx)
	return classify(err, "update lead")
}
