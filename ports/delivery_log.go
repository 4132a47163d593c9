package ports

import (
	"context"
	"time"

	"github.com/aurix/integrations/domain"
)

// AttemptRecord is one attempt as the delivery log shows it.
type AttemptRecord struct {
	Attempt     int
	AttemptedAt time.Time
	// StatusCode is 0 when no answer arrived.
	StatusCode int
	Duration   time.Duration
	Error      string
	// Response is the start of the receiver's answer (at most 4 KiB).
	Response []byte
}

// DeliveryRecord is one delivery series of one event to one config.
type DeliveryRecord struct {
	DeliveryID    int64
	EventID       string
	EventType     domain.EventType
	Series        int
	Status        domain.DeliveryStatus
	CreatedAt     time.Time
	NextAttemptAt *time.Time
	FinishedAt    *time.Time
	Attempts      []AttemptRecord
}

// DeliveryLogQuery selects one config's deliveries.
type DeliveryLogQuery struct {
	ConfigID string
	// Status and EventType filter when not empty.
	Status    domain.DeliveryStatus
	EventType domain.EventType
	Page      PageQuery
}

// EventRecord is an event as sent and every delivery of it to one config.
type EventRecord struct {
	Event      OutboxEvent
	Deliveries []DeliveryRecord
}

// DeliveryLogReader reads the delivery log.
type DeliveryLogReader interface {
	Deliveries(ctx context.Context, q DeliveryLogQuery, limit int, yield func(DeliveryRecord, PageKey) error) error
	// EventByID returns the stored event or domain.ErrNotFound.
	EventByID(ctx context.Context, eventID string) (OutboxEvent, error)
	// EventDeliveries lists the event's deliveries to the config, oldest first.
	EventDeliveries(ctx context.Context, configID, eventID string) ([]DeliveryRecord, error)
	// FailedSince lists the events whose latest delivery series to the
	// config failed and was created at or after since.
	FailedSince(ctx context.Context, configID string, since time.Time) ([]OutboxEvent, error)
}

// DeliveryLog is the partner's view of deliveries, and replay.
type DeliveryLog interface {
	ListDeliveries(ctx context.Context, service string, q DeliveryLogQuery, emit func(DeliveryRecord) error) (*PageKey, error)
	Event(ctx context.Context, service, eventID string) (EventRecord, error)
	// Redeliver opens a new delivery series of the event to the service.
	Redeliver(ctx context.Context, service, eventID string) (int64, error)
	// Recover redelivers every event whose delivery failed since then and
	// returns how many.
	Recover(ctx context.Context, service string, since time.Time) (int, error)
	// RotateSecret gives the service's config a new secret, the old one
	// staying valid for the grace period.
	RotateSecret(ctx context.Context, service string) (WebhookConfigView, error)
}
