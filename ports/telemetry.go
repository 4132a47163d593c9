package ports

import (
	"context"
	"time"

	"github.com/aurix/integrations/domain"
)

// Telemetry receives the business measurements operators watch. Use cases
// report only what was committed.
type Telemetry interface {
	ClickRecorded(ctx context.Context, bot bool)
	EventsEmitted(ctx context.Context, events []domain.Event)
	// DeliveryAttempted reports one attempt: outcome is "succeeded",
	// "retrying" or "failed"; statusCode is 0 when no answer arrived.
	DeliveryAttempted(ctx context.Context, outcome string, statusCode int)
	// EventDelivered reports the time from an event's creation to its 2xx.
	EventDelivered(ctx context.Context, latency time.Duration)
	// DeliveryExhausted reports a delivery to the integration whose every
	// scheduled attempt failed.
	DeliveryExhausted(ctx context.Context, integration string)
}

// NoTelemetry discards every measurement.
type NoTelemetry struct{}

// ClickRecorded does nothing.
func (NoTelemetry) ClickRecorded(context.Context, bool) {}

// EventsEmitted does nothing.
func (NoTelemetry) EventsEmitted(context.Context, []domain.Event) {}

// DeliveryAttempted does nothing.
func (NoTelemetry) DeliveryAttempted(context.Context, string, int) {}

// EventDelivered does nothing.
func (NoTelemetry) EventDelivered(context.Context, time.Duration) {}

// DeliveryExhausted does nothing.
func (NoTelemetry) DeliveryExhausted(context.Context, string) {}

// Tracing joins work the application does once on behalf of several
// callers (a group commit) to each caller's trace.
type Tracing interface {
	// Shared starts such work as a span named name in the first caller's
	// trace, linked to each other caller's span, and each of those to it,
	// so that every caller's trace leads to the statements the work runs.
	// The returned context carries the span, without the first caller's
	// cancellation (one caller leaving must not abort the others' work);
	// end ends the span, marking it failed when err is not nil.
	Shared(name string, callers []context.Context) (ctx context.Context, end func(err error))
}
