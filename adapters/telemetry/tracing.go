package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/aurix/integrations/ports"
)

// AttrGroupSize is how many callers' items a shared write took.
const AttrGroupSize = attribute.Key("aurix.group.size")

// Tracing gives the application's shared work (group commits) its spans.
type Tracing struct{ tracer trace.Tracer }

var _ ports.Tracing = Tracing{}

// NewTracing returns the tracing of shared work on tp.
func NewTracing(tp trace.TracerProvider) Tracing {
	return Tracing{tracer: tp.Tracer("github.com/aurix/integrations/application")}
}

// Shared starts the span of work done once for every caller: a child of the
// first caller's span, linked to each other caller's span, and each of
// those linked back to it while they are still open (a caller waits for
// the shared work), so the trace of any caller leads to the statements.
func (t Tracing) Shared(name string, callers []context.Context) (context.Context, func(error)) {
	first := context.WithoutCancel(callers[0])
	var links []trace.Link
	for _, c := range callers[1:] {
		if sc := trace.SpanContextFromContext(c); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx, span := t.tracer.Start(first, name, trace.WithLinks(links...), trace.WithAttributes(AttrGroupSize.Int(len(callers))))
	if sc := span.SpanContext(); sc.IsValid() {
		for _, c := range callers[1:] {
			trace.SpanFromContext(c).AddLink(trace.Link{SpanContext: sc})
		}
	}
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, "shared write failed")
		}
		span.End()
	}
}
