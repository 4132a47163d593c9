package river

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/aurix/integrations/ports"
)

// Span attribute keys an operator searches by.
const (
	AttrCorrelationID = attribute.Key("aurix.correlation_id")
	AttrEventID       = attribute.Key("aurix.event_id")
	AttrEventType     = attribute.Key("aurix.event_type")
	AttrIntegration   = attribute.Key("aurix.integration")
	AttrAttempt       = attribute.Key("aurix.attempt")
)

// annotate puts the event's identity on the job's span and links the span to
// the trace of the request that emitted the event (a redelivery asked for
// through the API has its own trace, so the link is what joins them).
func annotate(ctx context.Context, ev ports.OutboxEvent, extra ...attribute.KeyValue) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() || ev.EventID == "" {
		return
	}
	attrs := append([]attribute.KeyValue{
		AttrEventID.String(ev.EventID),
		AttrEventType.String(string(ev.Type)),
	}, extra...)
	if ev.CorrelationID != "" {
		attrs = append(attrs, AttrCorrelationID.String(ev.CorrelationID))
	}
	span.SetAttributes(attrs...)
	origin := trace.SpanContextFromContext(otel.GetTextMapPropagator().Extract(context.Background(), propagation.MapCarrier(ev.TraceContext)))
	if origin.IsValid() && origin.TraceID() != span.SpanContext().TraceID() {
		span.AddLink(trace.Link{SpanContext: origin, Attributes: []attribute.KeyValue{attribute.String("aurix.link", "emitted_by")}})
	}
}

func attemptAttrs(service string, attempt, status int) []attribute.KeyValue {
	attrs := []attribute.KeyValue{AttrIntegration.String(service), AttrAttempt.Int(attempt)}
	if status > 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", status), attribute.String("aurix.status_class", strconv.Itoa(status/100)+"xx"))
	}
	return attrs
}
