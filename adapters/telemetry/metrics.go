package telemetry

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// Metrics records the service's business metrics with OpenTelemetry.
type Metrics struct {
	clicks    metric.Int64Counter
	events    metric.Int64Counter
	attempts  metric.Int64Counter
	exhausted metric.Int64Counter
	latency   metric.Float64Histogram
}

var _ ports.Telemetry = (*Metrics)(nil)

// Sources are where the gauges read the deployment's state.
type Sources struct {
	// OutboxLag returns the age in seconds of the oldest event not yet
	// delivered, as the periodic maintenance last measured it; ok is
	// false before the first measurement.
	OutboxLag func(ctx context.Context) (seconds float64, ok bool, err error)
	// Endpoints returns each integration's webhook config and whether it
	// is active.
	Endpoints func(ctx context.Context) (map[string]bool, error)
	// Workers returns how many worker processes are alive.
	Workers func(ctx context.Context) (int, error)
}

// NewMetrics creates the instruments on mp, including the gauges that read
// src on every collection.
func NewMetrics(mp metric.MeterProvider, src Sources) (*Metrics, error) {
	m := mp.Meter("github.com/aurix/integrations")
	var (
		out Metrics
		err error
	)
	if out.clicks, err = m.Int64Counter("aurix.clicks", metric.WithDescription("Widget clicks recorded"), metric.WithUnit("{click}")); err != nil {
		return nil, fmt.Errorf("clicks counter: %w", err)
	}
	if out.events, err = m.Int64Counter("aurix.events.emitted", metric.WithDescription("Partner events written to the outbox"), metric.WithUnit("{event}")); err != nil {
		return nil, fmt.Errorf("events counter: %w", err)
	}
	if out.attempts, err = m.Int64Counter("aurix.delivery.attempts", metric.WithDescription("Webhook delivery attempts"), metric.WithUnit("{attempt}")); err != nil {
		return nil, fmt.Errorf("attempts counter: %w", err)
	}
	if out.latency, err = m.Float64Histogram("aurix.delivery.latency", metric.WithDescription("Time from an event's creation to its successful delivery"),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000)); err != nil {
		return nil, fmt.Errorf("latency histogram: %w", err)
	}
	if out.exhausted, err = m.Int64Counter("aurix.deliveries.exhausted", metric.WithDescription("Deliveries whose every scheduled attempt failed"), metric.WithUnit("{delivery}")); err != nil {
		return nil, fmt.Errorf("exhausted counter: %w", err)
	}
	if src.OutboxLag != nil {
		_, err = m.Float64ObservableGauge("aurix.outbox.lag", metric.WithDescription("Age of the oldest event not yet delivered (measured every few seconds by one process)"), metric.WithUnit("s"),
			metric.WithFloat64Callback(func(ctx context.Context, o metric.Float64Observer) error {
				lag, ok, err := src.OutboxLag(ctx)
				if err != nil || !ok {
					return err
				}
				o.Observe(lag)
				return nil
			}))
		if err != nil {
			return nil, fmt.Errorf("lag gauge: %w", err)
		}
	}
	if src.Endpoints != nil {
		_, err = m.Int64ObservableGauge("aurix.endpoint.disabled", metric.WithDescription("1 when the integration's webhook endpoint is switched off"),
			metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
				states, err := src.Endpoints(ctx)
				if err != nil {
					return err
				}
				for service, active := range states {
					v := int64(0)
					if !active {
						v = 1
					}
					o.Observe(v, metric.WithAttributes(attribute.String("integration", service)))
				}
				return nil
			}))
		if err != nil {
			return nil, fmt.Errorf("endpoint gauge: %w", err)
		}
	}
	if src.Workers != nil {
		_, err = m.Int64ObservableGauge("aurix.worker.processes", metric.WithDescription("Worker processes alive (their heartbeat is fresh)"),
			metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
				n, err := src.Workers(ctx)
				if err != nil {
					return err
				}
				o.Observe(int64(n))
				return nil
			}))
		if err != nil {
			return nil, fmt.Errorf("workers gauge: %w", err)
		}
	}
	return &out, nil
}

// DeliveryExhausted counts a delivery whose retries ran out, by integration
// (a service name from the configuration, never a request's value).
func (m *Metrics) DeliveryExhausted(ctx context.Context, integration string) {
	m.exhausted.Add(ctx, 1, metric.WithAttributes(attribute.String("integration", integration)))
}

// ClickRecorded counts a click.
func (m *Metrics) ClickRecorded(ctx context.Context, bot bool) {
	m.clicks.Add(ctx, 1, metric.WithAttributes(attribute.Bool("bot", bot)))
}

// EventsEmitted counts events by type.
func (m *Metrics) EventsEmitted(ctx context.Context, events []domain.Event) {
	for _, e := range events {
		m.events.Add(ctx, 1, metric.WithAttributes(attribute.String("event_type", string(e.Type))))
	}
}

// DeliveryAttempted counts an attempt by outcome and status class.
func (m *Metrics) DeliveryAttempted(ctx context.Context, outcome string, statusCode int) {
	class := "none"
	if statusCode > 0 {
		class = strconv.Itoa(statusCode/100) + "xx"
	}
	m.attempts.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome), attribute.String("status_class", class)))
}

// EventDelivered records the end-to-end delivery latency.
func (m *Metrics) EventDelivered(ctx context.Context, latency time.Duration) {
	m.latency.Record(ctx, latency.Seconds())
}
