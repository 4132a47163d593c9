package ports

import (
	"context"
	"time"

	"github.com/aurix/integrations/domain"
)

// RecordClickCommand is a widget click as the HTTP adapter received it.
type RecordClickCommand struct {
	ClickURL  string
	DeviceID  string
	UserAgent string
	IPAddress string
}

// ClickReceipt is what the widget gets back.
type ClickReceipt struct {
	CorrelationID domain.CorrelationID
	DeviceID      string
	WhatsAppURL   string
	CreatedAt     time.Time
}

// ClickRecorder records widget clicks.
type ClickRecorder interface {
	RecordClick(ctx context.Context, cmd RecordClickCommand) (ClickReceipt, error)
}

// PutWebhookConfigCommand registers or updates a service's webhook endpoint.
type PutWebhookConfigCommand struct {
	Service  string
	URL      string
	IsActive *bool
}

// WebhookConfigView is a webhook config as shown to its owner, secret included.
type WebhookConfigView struct {
	ID          string
	ServiceName string
	TargetURL   string
	Secret      domain.Secret
	IsActive    bool
}

// WebhookConfigManager registers and shows webhook configs.
type WebhookConfigManager interface {
	PutWebhookConfig(ctx context.Context, cmd PutWebhookConfigCommand) (WebhookConfigView, error)
	GetWebhookConfig(ctx context.Context, service string) (WebhookConfigView, error)
}

// EventDispatcher fans one outbox event out to every active webhook config
// and returns the event it dispatched (empty when it no longer exists).
type EventDispatcher interface {
	Dispatch(ctx context.Context, outboxID int64) (OutboxEvent, error)
}

// DeliveryRequest names one attempt of one delivery series.
type DeliveryRequest struct {
	DeliveryID int64
	// Attempt counts from 1 within the series; a request whose attempt is
	// not the series' next one is stale (already made) and is skipped.
	Attempt int
}

// DeliveryOutcome says how an attempt ended.
type DeliveryOutcome struct {
	// Status is the delivery's status after the attempt.
	Status domain.DeliveryStatus
	// Skipped is true when nothing was sent (stale request, delivery
	// finished, or config gone).
	Skipped bool
	// StatusCode is the receiver's status, 0 when none was received.
	StatusCode int
	// Err describes a failed attempt.
	Err error
	// RetryAt is when the next attempt runs, zero when none will.
	RetryAt time.Time
	// Event and Service say what was delivered to whom, for tracing.
	Event   OutboxEvent
	Service string
}

// EventDeliverer performs one delivery attempt and schedules what follows.
type EventDeliverer interface {
	Deliver(ctx context.Context, req DeliveryRequest) (DeliveryOutcome, error)
}
