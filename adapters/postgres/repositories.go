package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
)

type webhookConfigs struct {
	db bun.IDB
	// cache, when set, serves Active; a Save in repos's transaction
	// invalidates it once committed, here and (NOTIFY) elsewhere.
	cache *ConfigCache
	repos *txRepos
}

func (r webhookConfigs) byService(ctx context.Context, service string, lock bool) (*domain.WebhookConfig, error) {
	var m webhookConfigModel
	q := r.db.NewSelect().Model(&m).Where("service_name = ?", service)
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
		return r.cache.active(ctx, r.db)
	}
	return loadActive(ctx, r.db)
}

// ByIDs returns the configs with these ids.
func (r webhookConfigs) ByIDs(ctx context.Context, ids []string) ([]*domain.WebhookConfig, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var ms []webhookConfigModel
	if err := r.db.NewSelect().Model(&ms).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, classify(err, "select webhook configs")
	}
	return configsOf(ms), nil
}

// ByIDsForUpdate locks the configs in id order.
func (r webhookConfigs) ByIDsForUpdate(ctx context.Context, ids []string) ([]*domain.WebhookConfig, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var ms []webhookConfigModel
	if err := r.db.NewSelect().Model(&ms).Where("id IN (?)", bun.List(ids)).Order("id").For("NO KEY UPDATE").Scan(ctx); err != nil {
		return nil, classify(err, "lock webhook configs")
	}
	return configsOf(ms), nil
}

// FailingBefore locks the active configs failing since before t.
func (r webhookConfigs) FailingBefore(ctx context.Context, t time.Time) ([]*domain.WebhookConfig, error) {
	var ms []webhookConfigModel
	err := r.db.NewSelect().Model(&ms).Where("is_active AND failing_since < ?", t).Order("id").For("NO KEY UPDATE").Scan(ctx)
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
	m := webhookConfigFrom(c)
	_, err := r.db.NewInsert().Model(m).
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
	if r.repos != nil {
		if _, err := r.db.NewRaw("SELECT pg_notify(?, '')", ConfigChannel).Exec(ctx); err != nil {
			return classify(err, "notify config change")
		}
		if r.cache != nil {
			r.repos.afterCommit = append(r.repos.afterCommit, r.cache.Invalidate)
		}
	}
	return nil
}

func (r inboundSources) ByCorrelationIDForUpdate(ctx context.Context, ref domain.CorrelationID) (*domain.InboundSource, error) {
	var m inboundSourceModel
	if err := r.db.NewSelect().Model(&m).Where("correlation_id = ?", string(ref)).For("UPDATE").Scan(ctx); err != nil {
		return nil, classify(err, "select inbound source")
	}
	s, err := m.domain()
	if err != nil {
		return nil, fmt.Errorf("read inbound source %s: %w", ref, err)
	}
	return s, nil
}

func (r inboundSources) SaveCorrelation(ctx context.Context, s *domain.InboundSource) error {
	row := s.Row()
	_, err := r.db.NewUpdate().Table("inbound_sources").
		Set("conversation_id = ?", row.ConversationID).
		Set("correlated_at = ?", row.CorrelatedAt).
		Where("correlation_id = ?", string(row.CorrelationID)).
		Exec(ctx)
	return classify(err, "update inbound source correlation")
}

type conversations struct{ db bun.IDB }

func (r conversations) RecordMessage(ctx context.Context, channelID, messageID string, at time.Time) (bool, error) {
	res, err := r.db.NewRaw(
		"INSERT INTO whatsapp_messages (message_id, channel_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
		messageID, channelID, at).Exec(ctx)
	if err != nil {
		return false, classify(err, "record whatsapp message")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record whatsapp message: %w", err)
	}
	return n == 1, nil
}

func (r conversations) Open(ctx context.Context, channelID string, sender domain.Sender, at time.Time) (int64, bool, error) {
	var id int64
	// Any unique clash (phone or BSUID on this channel) means the
	// conversation exists; a concurrent insert makes this wait for it.
	err := r.db.NewRaw(
		"INSERT INTO conversations (channel_id, phone, bsuid, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
		channelID, nullable(sender.Phone), nullable(sender.BSUID), at).Scan(ctx, &id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, classify(err, "insert conversation")
	}
	err = r.db.NewRaw(
		"SELECT id FROM conversations WHERE channel_id = ? AND (phone = ? OR bsuid = ?) ORDER BY id LIMIT 1",
		channelID, nullable(sender.Phone), nullable(sender.BSUID)).Scan(ctx, &id)
	if err != nil {
		return 0, false, classify(err, "select conversation")
	}
	return id, false, nil
}

type leads struct{ db bun.IDB }

func (r leads) Add(ctx context.Context, l *domain.Lead) error {
	_, err := r.db.NewInsert().Model(leadFrom(l)).Exec(ctx)
	return classify(err, "insert lead")
}

func (r leads) ByConversation(ctx context.Context, conversationID int64, forUpdate bool) (*domain.Lead, error) {
	var m leadModel
	q := r.db.NewSelect().Model(&m).Where("conversation_id = ?", conversationID)
	if forUpdate {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, classify(err, "select lead")
	}
	return m.domain(), nil
}

func (r leads) Save(ctx context.Context, l *domain.Lead) error {
	_, err := r.db.NewUpdate().Model(leadFrom(l)).WherePK().
		Column("status", "correlation_id", "lead_data", "correlated_at", "completed_at").
		Exec(ctx)
	return classify(err, "update lead")
}
