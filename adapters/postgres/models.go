package postgres

import (
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/aurix/integrations/domain"
)

type inboundSourceModel struct {
	bun.BaseModel `bun:"table:inbound_sources"`

	ID             int64           `bun:"id,pk,autoincrement"`
	CorrelationID  string          `bun:"correlation_id"`
	DeviceID       string          `bun:"device_id"`
	ClickURL       string          `bun:"click_url"`
	ParsedParams   json.RawMessage `bun:"parsed_params,type:jsonb"`
	UserAgent      string          `bun:"user_agent"`
	IPAddress      string          `bun:"ip_address"`
	IsBot          bool            `bun:"is_bot"`
	CreatedAt      time.Time       `bun:"created_at"`
	CorrelatedAt   *time.Time      `bun:"correlated_at"`
	ConversationID *int64          `bun:"conversation_id"`
	ErasedAt       *time.Time      `bun:"erased_at"`
}

func inboundSourceFrom(s *domain.InboundSource) (*inboundSourceModel, error) {
	r := s.Row()
	params, err := json.Marshal(r.ParsedParams)
	if err != nil {
		return nil, err
	}
	return &inboundSourceModel{
		CorrelationID: string(r.CorrelationID), DeviceID: r.DeviceID, ClickURL: r.ClickURL,
		ParsedParams: params, UserAgent: r.UserAgent, IPAddress: r.IPAddress, IsBot: r.IsBot,
		CreatedAt: r.CreatedAt, CorrelatedAt: r.CorrelatedAt, ConversationID: r.ConversationID, ErasedAt: r.ErasedAt,
	}, nil
}

type webhookConfigModel struct {
	bun.BaseModel `bun:"table:webhook_configs,alias:wc"`

	ID              string           `bun:"id,pk,type:uuid"`
	ServiceName     string           `bun:"service_name"`
	TargetURL       string           `bun:"target_url"`
	Secret          string           `bun:"secret"`
	PreviousSecrets []previousSecret `bun:"previous_secrets,type:jsonb"`
	EventTypes      []string         `bun:"event_types,array"`
	Ordering        string           `bun:"ordering"`
	MaxPerSecond    *int             `bun:"max_per_second"`
	IsActive        bool             `bun:"is_active"`
	FailingSince    *time.Time       `bun:"failing_since"`
	DisabledReason  string           `bun:"disabled_reason"`
	DisabledAt      *time.Time       `bun:"disabled_at"`
	CreatedAt       time.Time        `bun:"created_at"`
	UpdatedAt       time.Time        `bun:"updated_at"`
}

type previousSecret struct {
	Secret    string    `json:"secret"`
	ExpiresAt time.Time `json:"expires_at"`
}

func webhookConfigFrom(c *domain.WebhookConfig) *webhookConfigModel {
	r := c.Row()
	prev := make([]previousSecret, len(r.Previous))
	for i, p := range r.Previous {
		prev[i] = previousSecret{Secret: p.Secret.Reveal(), ExpiresAt: p.ExpiresAt}
	}
	m := &webhookConfigModel{ID: r.ID, ServiceName: r.Service, TargetURL: r.TargetURL,
		Secret: r.Secret.Reveal(), PreviousSecrets: prev, Ordering: string(r.Settings.Ordering),
		IsActive: r.IsActive, FailingSince: timePtr(r.FailingSince), DisabledReason: r.DisabledReason,
		DisabledAt: timePtr(r.DisabledAt), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Settings.EventTypes != nil {
		m.EventTypes = make([]string, len(r.Settings.EventTypes))
		for i, t := range r.Settings.EventTypes {
			m.EventTypes[i] = string(t)
		}
	}
	if r.Settings.MaxPerSecond > 0 {
		n := r.Settings.MaxPerSecond
		m.MaxPerSecond = &n
	}
	return m
}

// timePtr stores a zero time as NULL.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func (m *webhookConfigModel) domain() *domain.WebhookConfig {
	prev := make([]domain.PreviousSecret, len(m.PreviousSecrets))
	for i, p := range m.PreviousSecrets {
		prev[i] = domain.PreviousSecret{Secret: domain.NewSecret(p.Secret), ExpiresAt: p.ExpiresAt}
	}
	settings := domain.DeliverySettings{Ordering: domain.Ordering(m.Ordering)}
	if m.EventTypes != nil {
		settings.EventTypes = make([]domain.EventType, len(m.EventTypes))
		for i, t := range m.EventTypes {
			settings.EventTypes[i] = domain.EventType(t)
		}
	}
	if m.MaxPerSecond != nil {
		settings.MaxPerSecond = *m.MaxPerSecond
	}
	return domain.RehydrateWebhookConfig(domain.WebhookConfigRow{ID: m.ID, Service: m.ServiceName,
		TargetURL: m.TargetURL, Secret: domain.NewSecret(m.Secret), Previous: prev, Settings: settings,
		IsActive: m.IsActive, FailingSince: timeOf(m.FailingSince), DisabledReason: m.DisabledReason,
		DisabledAt: timeOf(m.DisabledAt), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt})
}

type outboxModel struct {
	bun.BaseModel `bun:"table:outbox"`

	ID            int64           `bun:"id,pk,autoincrement"`
	EventID       string          `bun:"event_id,type:uuid"`
	EventType     string          `bun:"event_type"`
	Payload       []byte          `bun:"payload,type:bytea"`
	CorrelationID string          `bun:"correlation_id"`
	LeadKey       *string         `bun:"lead_key"`
	TraceContext  json.RawMessage `bun:"trace_context,type:jsonb"`
	CreatedAt     time.Time       `bun:"created_at"`
}

func (m *inboundSourceModel) domain() (*domain.InboundSource, error) {
	var params domain.MarketingParams
	if len(m.ParsedParams) > 0 {
		if err := json.Unmarshal(m.ParsedParams, &params); err != nil {
			return nil, err
		}
	}
	return domain.RehydrateInboundSource(domain.InboundSourceRow{
		CorrelationID: domain.CorrelationID(m.CorrelationID), DeviceID: m.DeviceID, ClickURL: m.ClickURL,
		ParsedParams: params, UserAgent: m.UserAgent, IPAddress: m.IPAddress, IsBot: m.IsBot,
		CreatedAt: m.CreatedAt, CorrelatedAt: m.CorrelatedAt, ConversationID: m.ConversationID, ErasedAt: m.ErasedAt,
	}), nil
}

type leadModel struct {
	bun.BaseModel `bun:"table:leads"`

	ConversationID int64             `bun:"conversation_id,pk"`
	ChannelID      string            `bun:"channel_id"`
	Phone          *string           `bun:"phone"`
	BSUID          *string           `bun:"bsuid"`
	Status         string            `bun:"status"`
	CorrelationID  *string           `bun:"correlation_id"`
	LeadData       map[string]string `bun:"lead_data,type:jsonb"`
	CreatedAt      time.Time         `bun:"created_at"`
	CorrelatedAt   *time.Time        `bun:"correlated_at"`
	CompletedAt    *time.Time        `bun:"completed_at"`
	ErasedAt       *time.Time        `bun:"erased_at"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func leadFrom(l *domain.Lead) *leadModel {
	r := l.Row()
	m := &leadModel{ConversationID: r.ConversationID, ChannelID: r.ChannelID, Phone: nullable(r.Sender.Phone),
		BSUID: nullable(r.Sender.BSUID), Status: string(r.Status), LeadData: r.Data, CreatedAt: r.CreatedAt,
		CorrelatedAt: r.CorrelatedAt, CompletedAt: r.CompletedAt, ErasedAt: r.ErasedAt}
	if r.CorrelationID != nil {
		m.CorrelationID = nullable(string(*r.CorrelationID))
	}
	return m
}

func (m *leadModel) domain() *domain.Lead {
	var ref *domain.CorrelationID
	if m.CorrelationID != nil {
		r := domain.CorrelationID(*m.CorrelationID)
		ref = &r
	}
	return domain.RehydrateLead(domain.LeadRow{ConversationID: m.ConversationID, ChannelID: m.ChannelID,
		Sender: domain.Sender{Phone: deref(m.Phone), BSUID: deref(m.BSUID)}, Status: domain.LeadStatus(m.Status),
		CorrelationID: ref, Data: m.LeadData, CreatedAt: m.CreatedAt, CorrelatedAt: m.CorrelatedAt,
		CompletedAt: m.CompletedAt, ErasedAt: m.ErasedAt})
}
