package worker

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/aurix/integrations/ports"
)

// Span attribute keys an operator searches by.
const (
	AttrCorrelationID = attribute.Key("aurix.correlation_id")
	AttrEventID       = attribute.Key("aurix.event_id")
	AttrEventType     = attribute.Key("aurix.event_type")
	AttrIntegration   = attribute.Key("aurix.integration")
	AttrAttempt       = attribute.Key("aurix.attempt")
	AttrDeliveryID    = attribute.Key("aurix.delivery_id")
)

// startAttemptSpan starts the span of one attempt as a child of the span
// that emitted the event (its W3C context is stored with the event), so a
// click, its transaction and every attempt to deliver it are one trace.
func startAttemptSpan(ctx context.Context, tracer trace.Tracer, c ports.Claimed) (context.Context, trace.Span) {
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	ev := c.Job.Event
	if origin := trace.SpanContextFromContext(otel.GetTextMapPropagator().Extract(context.Background(),
		propagation.MapCarrier(ev.TraceContext))); origin.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, origin)
	}
	attrs := []attribute.KeyValue{
		AttrEventID.String(ev.EventID),
		AttrEventType.String(string(ev.Type)),
		AttrIntegration.String(c.Config.Service()),
		AttrAttempt.Int(c.Job.Delivery.NextAttempt()),
		AttrDeliveryID.Int64(c.Job.Delivery.ID()),
	}
	if ev.CorrelationID != "" {
		attrs = append(attrs, AttrCorrelationID.String(ev.CorrelationID))
	}
	return tracer.Start(ctx, "aurix.deliver", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// annotateAttempt records how the attempt went.
func annotateAttempt(span trace.Span, _ ports.Claimed, r ports.AttemptReport) {
	if !span.IsRecording() {
		return
	}
	if r.StatusCode > 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", r.StatusCode),
			attribute.String("aurix.status_class", strconv.Itoa(r.StatusCode/100)+"xx"))
	}
	if r.Status != "" {
		span.SetAttributes(attribute.String("aurix.delivery_status", string(r.Status)))
	}
}
