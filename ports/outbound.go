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
	Deliveries() DeliveryRepository
	EndpointHealth() EndpointHealth
}

// InboundSourceRepository stores clicks.
type InboundSourceRepository interface {
	// Add stores new clicks; a taken correlation id is domain.ErrConflict.
	Add(ctx context.Context, s ...*domain.InboundSource) error
	// ByCorrelationIDsForUpdate returns the clicks with these references
	// that exist, each locked until the transaction ends (taken in
	// reference order, so two transactions cannot wait on each other).
	ByCorrelationIDsForUpdate(ctx context.Context, refs []domain.CorrelationID) (map[domain.CorrelationID]*domain.InboundSource, error)
	// SaveCorrelation stores that the clicks are now linked to their
	// conversations.
	SaveCorrelation(ctx context.Context, s ...*domain.InboundSource) error
}

// WebhookConfigRepository loads and stores webhook configs.
type WebhookConfigRepository interface {
	// ByService returns the service's config or domain.ErrNotFound.
	ByService(ctx context.Context, service string) (*domain.WebhookConfig, error)
	// ByServiceForUpdate is ByService with the row locked until the
	// transaction ends.
	ByServiceForUpdate(ctx context.Context, service string) (*domain.WebhookConfig, error)
	Save(ctx context.Context, c *domain.WebhookConfig) error
	// Active lists the configs that receive events, as seen by the
	// transaction.
	Active(ctx context.Context) ([]*domain.WebhookConfig, error)
}

// Outbox appends events in the caller's transaction.
type Outbox interface {
	// Append stores each event's fixed payload bytes and returns the
	// stored events' identities (ID, EventID, Type, CreatedAt), in order.
	Append(ctx context.Context, events ...domain.Event) ([]OutboxEvent, error)
}

// OutboxEvent is a stored event, its payload bytes fixed.
type OutboxEvent struct {
	ID            int64
	EventID       string
	Type          domain.EventType
	Payload       []byte
	CorrelationID string
	CreatedAt     time.Time
	// TraceContext is the W3C trace context of the request that emitted
	// the event (traceparent, tracestate).
	TraceContext map[string]string
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

// WebhookRequest is one signed delivery attempt to send.
type WebhookRequest struct {
	URL       string
	EventID   string
	EventType domain.EventType
	Attempt   int
	Payload   []byte
	// Secrets are the valid signing secrets, newest first: x-hub-signature
	// uses the first, webhook-signature carries one entry per secret.
	Secrets []domain.Secret
}

// WebhookResponse is what the receiver answered.
type WebhookResponse struct {
	StatusCode int
	// Body is the start of the response body, at most 4 KiB.
	Body     []byte
	Duration time.Duration
	// RetryAfter is the parsed Retry-After header, 0 when absent or invalid.
	RetryAfter time.Duration
}

// WebhookSender signs and sends one delivery attempt. A transport failure is
// an error; any HTTP answer, 2xx or not, is a response.
type WebhookSender interface {
	Send(ctx context.Context, req WebhookRequest) (WebhookResponse, error)
}

// DeliveryAttempt is the record of one attempt.
type DeliveryAttempt struct {
	DeliveryID  int64
	EventID     string
	ConfigID    string
	Attempt     int
	StatusCode  int
	Duration    time.Duration
	Error       string
	Response    []byte
	AttemptedAt time.Time
}

// DeliveryTarget is everything one attempt needs.
type DeliveryTarget struct {
	DeliveryID int64
	Status     domain.DeliveryStatus
	// Attempts made so far in this series.
	Attempts int
	Event    OutboxEvent
	Config   *domain.WebhookConfig
}

// DeliveryReader loads delivery targets outside a transaction.
type DeliveryReader interface {
	// DeliveryTarget returns the delivery or domain.ErrNotFound.
	DeliveryTarget(ctx context.Context, deliveryID int64) (DeliveryTarget, error)
}

// SuccessRecorder records a successful attempt and the delivery's final
// state outside a use-case transaction. It may group concurrent callers
// into one transaction (a group commit); it returns once this caller's
// attempt is durable, or with an error when it is not.
type SuccessRecorder interface {
	RecordSuccess(ctx context.Context, a DeliveryAttempt, s DeliveryState) error
}

// DeliveryState is a delivery's state after an attempt.
type DeliveryState struct {
	DeliveryID     int64
	Status         domain.DeliveryStatus
	Attempts       int
	LastStatusCode int
	LastError      string
	NextAttemptAt  *time.Time
	FinishedAt     *time.Time
}

// NewDelivery opens one delivery series of an event to a config.
type NewDelivery struct {
	OutboxID  int64
	EventID   string
	EventType domain.EventType
	ConfigID  string
	// Service is the config's integration service, for operators.
	Service string
	// Series is 0 for the first delivery, higher for redeliveries.
	Series    int
	CreatedAt time.Time
}

// DeliverySeries is where one delivery series of an event stands.
type DeliverySeries struct {
	DeliveryID int64
	Series     int
	Status     domain.DeliveryStatus
}

// DeliveryRepository writes deliveries in the caller's transaction.
type DeliveryRepository interface {
	// Open creates the series that do not exist yet and schedules their
	// first attempt; it returns the ids it created.
	Open(ctx context.Context, ds []NewDelivery) ([]int64, error)
	// LatestForUpdate locks the events against a concurrent reopening
	// until the transaction ends, then returns each one's latest series to
	// the config, read after the lock was granted; an event with no series
	// is absent.
	LatestForUpdate(ctx context.Context, configID string, outboxIDs []int64) (map[int64]DeliverySeries, error)
	RecordAttempt(ctx context.Context, a DeliveryAttempt) error
	Update(ctx context.Context, s DeliveryState) error
	// ScheduleAttempt schedules attempt number attempt of the delivery at at.
	ScheduleAttempt(ctx context.Context, deliveryID int64, configID string, attempt int, at time.Time) error
}

// EndpointHealth tracks failing endpoints in the caller's transaction.
type EndpointHealth interface {
	// MarkFailing notes a failed attempt and returns since when the
	// endpoint has failed without a success.
	MarkFailing(ctx context.Context, configID string, at time.Time) (time.Time, error)
	MarkHealthy(ctx context.Context, configID string) error
	// Deactivate switches the endpoint off with a reason.
	Deactivate(ctx context.Context, configID, reason string, at time.Time) error
}
