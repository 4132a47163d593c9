package telemetry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/aurix/integrations/adapters/telemetry"
)

// TestSharedWorkJoinsEveryCallersTrace: work done once for three callers
// runs in the first one's trace, without its cancellation, and each
// caller's trace leads to it: the first as its parent, the others by links
// both ways.
func TestSharedWorkJoinsEveryCallersTrace(t *testing.T) {
	t.Parallel()
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem))
	tr := tp.Tracer("t")
	var callers []context.Context
	var spans []trace.Span
	for _, name := range []string{"a", "b", "c"} {
		ctx, span := tr.Start(context.Background(), name)
		callers, spans = append(callers, ctx), append(spans, span)
	}
	cancelled, cancel := context.WithCancel(callers[0])
	cancel()
	callers[0] = cancelled

	ctx, end := telemetry.NewTracing(tp).Shared("aurix.outcomes.commit", callers)
	require.NoError(t, ctx.Err(), "the first caller's cancellation does not reach the shared work")
	end(errors.New("boom"))
	for _, s := range spans {
		s.End()
	}

	byName := map[string]tracetest.SpanStub{}
	for _, s := range mem.GetSpans() {
		byName[s.Name] = s
	}
	shared := byName["aurix.outcomes.commit"]
	assert.Equal(t, byName["a"].SpanContext.TraceID(), shared.SpanContext.TraceID(), "in the first caller's trace")
	assert.Equal(t, byName["a"].SpanContext.SpanID(), shared.Parent.SpanID())
	assert.Equal(t, codes.Error, shared.Status.Code)
	var linked []trace.SpanID
	for _, l := range shared.Links {
		linked = append(linked, l.SpanContext.SpanID())
	}
	assert.ElementsMatch(t, []trace.SpanID{byName["b"].SpanContext.SpanID(), byName["c"].SpanContext.SpanID()}, linked)
	for _, name := range []string{"b", "c"} {
		require.Len(t, byName[name].Links, 1, name)
		assert.Equal(t, shared.SpanContext.SpanID(), byName[name].Links[0].SpanContext.SpanID(), "%s links to the shared work", name)
	}
	assert.Empty(t, byName["a"].Links, "the first caller has it as its child")
}
