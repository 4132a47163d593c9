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
	// FailedSince lists at most limit events whose latest delivery series
	// to the config failed and was created in [q.Since, q.Until), oldest
	// failed series first, after q.After when it is set. Only the events'
	// identities are read, not their payloads.
	FailedSince(ctx context.Context, configID string, q RecoverQuery, limit int) ([]FailedEvent, error)
}

// FailedEvent is an event whose latest delivery series to a config failed.
type FailedEvent struct {
	Event OutboxEvent
	// Key is the failed series' position, by which a recovery pages.
	Key PageKey
}

// RecoverQuery selects one page of a recovery pass.
type RecoverQuery struct {
	Since time.Time
	// Until ends the pass: the series a pass opens are created after it,
	// so a redelivery that fails again is not recovered twice by the same
	// pass. Zero means now (a new pass).
	Until time.Time
	// After resumes after this failed series (the previous page's Next).
	After *PageKey
	// Limit is the most events examined, 1 to domain.MaxRecoverPage; 0
	// means the largest page, unless LimitSet says the caller sent it.
	Limit int
	// LimitSet says the caller asked for a page size (sent a limit), so
	// that a limit of 0 is refused rather than taken for the default.
	LimitSet bool
}

// RecoverResult is what one page of a recovery pass did.
type RecoverResult struct {
	// Count is how many events got a new delivery series.
	Count int
	// Next resumes the pass (with Until); nil when this page was the last.
	Next  *PageKey
	Until time.Time
}

// Redelivery is the delivery series a redeliver request is answered with:
// the one it opened, or the pending one it found.
type Redelivery struct {
	DeliveryID int64
}

// DeliveryLog is the partner's view of deliveries, and replay.
type DeliveryLog interface {
	ListDeliveries(ctx context.Context, service string, q DeliveryLogQuery, emit func(DeliveryRecord) error) (*PageKey, error)
	Event(ctx context.Context, service, eventID string) (EventRecord, error)
	// Redeliver opens a new delivery series of the event to the service,
	// unless its latest series is still pending: then it returns that one.
	Redeliver(ctx context.Context, service, eventID string) (Redelivery, error)
	// Recover redelivers one page of the events whose latest delivery
	// failed since q.Since, and says where the next page starts.
	Recover(ctx context.Context, service string, q RecoverQuery) (RecoverResult, error)
	// RotateSecret gives the service's config a new secret, the old one
	// staying valid for the grace period.
	RotateSecret(ctx context.Context, service string) (WebhookConfigView, error)
}
