package ports

import (
	"context"
	"net/netip"
	"time"

	"github.com/aurix/integrations/domain"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// IDGenerator makes unique identifiers for events and aggregates.
type IDGenerator interface {
	NewID() string
}

// CorrelationIDGenerator makes click references; tests fix them.
type CorrelationIDGenerator interface {
	NewCorrelationID() (domain.CorrelationID, error)
}

// BotDetector tells crawler and link-preview user agents from people.
type BotDetector interface {
	IsBot(userAgent string) bool
}

// HostResolver resolves a webhook target's host to the addresses it reaches.
type HostResolver interface {
	LookupNetIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// UnitOfWork runs fn in one database transaction: every repository reached
// through tx writes in it, and it commits only when fn returns nil.
type UnitOfWork interface {
	Do(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
}

// Tx is the set of repositories bound to one transaction.
type Tx interface {
	InboundSources() InboundSourceRepository
	WebhookConfigs() WebhookConfigRepository
	Outbox() Outbox
	Conversations() ConversationRepository
	Leads() LeadRepository
}

// InboundSourceRepository stores clicks.
type InboundSourceRepository interface {
	// Add stores a new click; a taken correlation id is domain.ErrConflict.
	Add(ctx context.Context, s *domain.InboundSource) error
	// ByCorrelationIDForUpdate returns the click, locked until the
	// transaction ends, or domain.ErrNotFound.
	ByCorrelationIDForUpdate(ctx context.Context, ref domain.CorrelationID) (*domain.InboundSource, error)
	// SaveCorrelation stores that the click is now linked to a conversation.
	SaveCorrelation(ctx context.Context, s *domain.InboundSource) error
}

// WebhookConfigRepository loads and stores webhook configs.
type WebhookConfigRepository interface {
	// ByService returns the service's config or domain.ErrNotFound.
	ByService(ctx context.Context, service string) (*domain.WebhookConfig, error)
	// ByServiceForUpdate is ByService with the row locked until the
	// transaction ends.
	ByServiceForUpdate(ctx context.Context, service string) (*domain.WebhookConfig, error)
	Save(ctx context.Context, c *domain.WebhookConfig) error
}

// Outbox appends events in the caller's transaction and schedules their dispatch.
type Outbox interface {
	Append(ctx context.Context, events ...domain.Event) error
}

// OutboxEvent is a stored event, its payload bytes fixed.
type OutboxEvent struct {
	ID            int64
	EventID       string
	Type          domain.EventType
	Payload       []byte
	CorrelationID string
	CreatedAt     time.Time
}

// OutboxReader reads stored events.
type OutboxReader interface {
	// OutboxEvent returns the event or domain.ErrNotFound.
	OutboxEvent(ctx context.Context, id int64) (OutboxEvent, error)
}

// ActiveConfigLister lists the configs that receive events.
type ActiveConfigLister interface {
	ActiveWebhookConfigs(ctx context.Context) ([]*domain.WebhookConfig, error)
}

// WebhookConfigReader loads a config outside a transaction.
type WebhookConfigReader interface {
	WebhookConfigByID(ctx context.Context, id string) (*domain.WebhookConfig, error)
}

// DeliveryQueue schedules one delivery per event and config; scheduling the
// same pair twice has no effect.
type DeliveryQueue interface {
	EnqueueDeliveries(ctx context.Context, outboxID int64, configIDs []string) error
}

// WebhookRequest is one signed delivery attempt to send.
type WebhookRequest struct {
	URL       string
	EventID   string
	EventType domain.EventType
	Attempt   int
	Payload   []byte
	Secret    domain.Secret
}

// WebhookResponse is what the receiver answered.
type WebhookResponse struct {
	StatusCode int
	// Body is the start of the response body, at most 4 KiB.
	Body     []byte
	Duration time.Duration
}

// WebhookSender signs and sends one delivery attempt. A transport failure is
// an error; any HTTP answer, 2xx or not, is a response.
type WebhookSender interface {
	Send(ctx context.Context, req WebhookRequest) (WebhookResponse, error)
}

// DeliveryAttempt is the record of one attempt.
type DeliveryAttempt struct {
	EventID     string
	ConfigID    string
	Attempt     int
	StatusCode  int
	Duration    time.Duration
	Error       string
	Response    []byte
	AttemptedAt time.Time
}

// AttemptLog records delivery attempts.
type AttemptLog interface {
	RecordAttempt(ctx context.Context, a DeliveryAttempt) error
}
