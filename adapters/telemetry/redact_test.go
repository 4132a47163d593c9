package telemetry_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/aurix/integrations/adapters/telemetry"
)

// TestRedactingExporterDropsURLQueries: whatever recorded a URL attribute
// with a token in its query or userinfo, the exported span carries the
// endpoint only.
func TestRedactingExporterDropsURLQueries(t *testing.T) {
	t.Parallel()
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(telemetry.RedactingExporter{Next: mem}))
	_, span := tp.Tracer("t").Start(t.Context(), "webhook POST")
	span.SetAttributes(
		attribute.String("url.full", "https://partner.example:8443/hooks/aurix?token=tok-123&x=1#frag"),
		attribute.String("http.url", "https://u:pw-123@partner.example/hooks"),
		attribute.String("url.query", "token=tok-123"),
		attribute.String("url.path", "/hooks/aurix"),
	)
	span.End()

	spans := mem.GetSpans()
	require.Len(t, spans, 1)
	got := map[string]string{}
	for _, kv := range spans[0].Attributes {
		got[string(kv.Key)] = kv.Value.AsString()
	}
	assert.Equal(t, map[string]string{
		"url.full":  "https://partner.example:8443/hooks/aurix?REDACTED",
		"http.url":  "https://partner.example/hooks",
		"url.query": "REDACTED",
		"url.path":  "/hooks/aurix",
	}, got)
}
