package river

import (
	"context"
	"encoding/json"
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

// traceMetadata is job metadata carrying the inserting span's W3C context,
// plus what makes the job readable in River UI.
func traceMetadata(ctx context.Context, extra map[string]any) []byte {
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	md := map[string]any{}
	for k, v := range extra {
		md[k] = v
	}
	if len(carrier) > 0 {
		md["aurix_trace"] = map[string]string(carrier)
	}
	b, _ := json.Marshal(md)
	return b
}

// startJobSpan starts the span of Aurix's own work on a job as a child of
// the span that inserted the job, so a click, its dispatch and every
// delivery attempt form one trace; River's own work span (a separate trace
// that otelriver links to the inserter) is linked to it.
func startJobSpan(ctx context.Context, tracer trace.Tracer, metadata []byte, name string) (context.Context, trace.Span) {
	var md struct {
		Trace map[string]string `json:"aurix_trace"`
	}
	_ = json.Unmarshal(metadata, &md)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
	if river := trace.SpanContextFromContext(ctx); river.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: river}))
	}
	parent := ctx
	if origin := trace.SpanContextFromContext(otel.GetTextMapPropagator().Extract(context.Background(), propagation.MapCarrier(md.Trace))); origin.IsValid() {
		parent = trace.ContextWithRemoteSpanContext(ctx, origin)
	}
	return tracer.Start(parent, name, opts...)
}

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
