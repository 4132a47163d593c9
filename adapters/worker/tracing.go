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
	AttrConfigID      = attribute.Key("aurix.webhook_config_id")
	AttrClaimed       = attribute.Key("aurix.claimed")
)

// startClaimSpan starts the span of one claim: one config's claim
// transaction, whose statements (claim.lock, claim.in_flight,
// claim.due_first, claim.due_retry, claim.rate) are its children. A claim
// serves deliveries of many events, each in its own trace, so the claim is
// a trace of its own, and the span of each attempt it claimed links to it.
func startClaimSpan(ctx context.Context, tracer trace.Tracer, configID string) (context.Context, trace.Span) {
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	return tracer.Start(ctx, "aurix.claim", trace.WithNewRoot(), trace.WithAttributes(AttrConfigID.String(configID)))
}

// startReleaseSpan starts the span of handing a claimed delivery back
// unsent (the process is stopping, or may not send): a child of the
// event's span like an attempt's, linked to the claim, so that the
// claims.release statement is found where the attempt would have been.
func startReleaseSpan(ctx context.Context, tracer trace.Tracer, c ports.Claimed, claim trace.SpanContext) (context.Context, trace.Span) {
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	ctx = withEventOrigin(ctx, c)
	opts := []trace.SpanStartOption{trace.WithAttributes(AttrEventID.String(c.Job.Event.EventID),
		AttrDeliveryID.Int64(c.Job.Delivery.ID()))}
	if claim.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: claim}))
	}
	return tracer.Start(ctx, "aurix.release", opts...)
}

// withEventOrigin makes the span that emitted the claimed delivery's event
// (its W3C context is stored with the event) the parent of what ctx starts.
func withEventOrigin(ctx context.Context, c ports.Claimed) context.Context {
	if origin := trace.SpanContextFromContext(otel.GetTextMapPropagator().Extract(context.Background(),
		propagation.MapCarrier(c.Job.Event.TraceContext))); origin.IsValid() {
		return trace.ContextWithRemoteSpanContext(ctx, origin)
	}
	return ctx
}

// startAttemptSpan starts the span of one attempt as a child of the span
// that emitted the event (its W3C context is stored with the event), so a
// click, its transaction and every attempt to deliver it are one trace; it
// links to the span of the claim that took the delivery (claim, when valid).
func startAttemptSpan(ctx context.Context, tracer trace.Tracer, c ports.Claimed, claim trace.SpanContext) (context.Context, trace.Span) {
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	ev := c.Job.Event
	ctx = withEventOrigin(ctx, c)
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
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...)}
	if claim.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: claim}))
	}
	return tracer.Start(ctx, "aurix.deliver", opts...)
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
