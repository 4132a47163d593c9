package postgres

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
)

type inboundSources struct{ db bun.IDB }

func (r inboundSources) Add(ctx context.Context, s *domain.InboundSource) error {
	m, err := inboundSourceFrom(s)
	if err != nil {
		return err
	}
	_, err = r.db.NewInsert().Model(m).Exec(ctx)
	return classify(err, "insert inbound source")
}

type webhookConfigs struct{ db bun.IDB }

func (r webhookConfigs) byService(ctx context.Context, service string, lock bool) (*domain.WebhookConfig, error) {
	var m webhookConfigModel
	q := r.db.NewSelect().Model(&m).Where("service_name = ?", service)
	if lock {
		q = q.For("UPDATE")
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

func (r webhookConfigs) Save(ctx context.Context, c *domain.WebhookConfig) error {
	m := webhookConfigFrom(c)
	_, err := r.db.NewInsert().Model(m).
		On("CONFLICT (id) DO UPDATE").
		Set("target_url = EXCLUDED.target_url").
		Set("secret = EXCLUDED.secret").
		Set("is_active = EXCLUDED.is_active").
		Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	return classify(err, "save webhook config")
}
