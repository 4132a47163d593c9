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
// A field left out (nil) takes its default: every event type, lead
// ordering, no rate limit, active.
type PutWebhookConfigCommand struct {
	Service      string
	URL          string
	IsActive     *bool
	EventTypes   []string
	Ordering     string
	MaxPerSecond *int
}

// WebhookConfigView is a webhook config as shown to its owner, secret included.
type WebhookConfigView struct {
	ID          string
	ServiceName string
	TargetURL   string
	Secret      domain.Secret
	IsActive    bool
	Settings    domain.DeliverySettings
	// DisabledReason and DisabledAt say why and since when an inactive
	// endpoint is switched off.
	DisabledReason string
	DisabledAt     *time.Time
}

// WebhookConfigManager registers and shows webhook configs.
type WebhookConfigManager interface {
	PutWebhookConfig(ctx context.Context, cmd PutWebhookConfigCommand) (WebhookConfigView, error)
	GetWebhookConfig(ctx context.Context, service string) (WebhookConfigView, error)
}

// ClaimRoom is how many attempts a worker can start now, first attempts and
// retries counted apart (so a backlog of retries never holds up new events).
type ClaimRoom struct {
	FirstAttempts int
	Retries       int
}

// Claimed is a delivery a worker owns now, with what it needs to attempt it.
type Claimed struct {
	Job    DeliveryJob
	Config *domain.WebhookConfig
	// StartAt is when the attempt may start (the config's rate limit).
	StartAt time.Time
}

// AttemptReport says how one attempt went.
type AttemptReport struct {
	Attempt    int
	StatusCode int
	// Status is the delivery's status after the attempt.
	Status domain.DeliveryStatus
	// Err describes a failed attempt ("" for a success).
	Err string
	// Interrupted is true when the process stopped the attempt; it did not
	// count and the delivery is due again.
	Interrupted bool
}

// DeliveryWork is what a worker process does with deliveries.
type DeliveryWork interface {
	// Due lists the configs with deliveries waiting for a worker.
	Due(ctx context.Context) ([]DueConfig, error)
	// Claim takes due deliveries of one config for owner. more is true
	// when the config's in-flight cap or rate limit, not the deliveries
	// due, set how many it took: more may be due once a slot frees.
	Claim(ctx context.Context, owner, configID string, room ClaimRoom) (claimed []Claimed, more bool, err error)
	// Attempt makes a claimed delivery's attempt and records its outcome.
	Attempt(ctx context.Context, owner string, c Claimed) (AttemptReport, error)
	// Release hands claimed deliveries back unattempted.
	Release(ctx context.Context, owner string, ids []int64) error
}
