package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/aurix/integrations/adapters/telemetry"
)

// Telemetry is the process's tracer and meter providers and the Prometheus
// handler for /metrics.
type Telemetry struct {
	Tracer   trace.TracerProvider
	Meter    metric.MeterProvider
	Metrics  http.Handler
	shutdown []func(context.Context) error
}

// TelemetryOptions let tests export spans to memory.
type TelemetryOptions struct {
	// SpanExporter, when set, receives spans synchronously instead of OTLP.
	SpanExporter sdktrace.SpanExporter
}

// otlpEndpointSet reports whether the standard variables name an OTLP endpoint.
func otlpEndpointSet(env map[string]string) bool {
	return env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "" || env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != ""
}

// SetupTelemetry builds tracing from the standard OTEL_* variables (OTLP over
// HTTP; off without an endpoint or with OTEL_SDK_DISABLED=true) and metrics
// for Prometheus. Every span passes through the redacting exporter.
func SetupTelemetry(ctx context.Context, env map[string]string, log *slog.Logger, opts TelemetryOptions) (*Telemetry, error) {
	t := &Telemetry{}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	otel.SetErrorHandler(quietErrors(log))

	name := env["OTEL_SERVICE_NAME"]
	if name == "" {
		name = "aurix"
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(name), semconv.ServiceVersion(Version())))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}

	var exporter sdktrace.SpanExporter
	switch {
	case opts.SpanExporter != nil:
		exporter = opts.SpanExporter
	case strings.EqualFold(env["OTEL_SDK_DISABLED"], "true") || !otlpEndpointSet(env):
	default:
		// otlptracehttp reads OTEL_EXPORTER_OTLP_* itself.
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		exporter = exp
	}
	if exporter == nil {
		t.Tracer = noop.NewTracerProvider()
	} else {
		var processor sdktrace.SpanProcessor
		if opts.SpanExporter != nil {
			processor = sdktrace.NewSimpleSpanProcessor(telemetry.RedactingExporter{Next: exporter})
		} else {
			processor = sdktrace.NewBatchSpanProcessor(telemetry.RedactingExporter{Next: exporter})
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(processor))
		t.Tracer = tp
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}
	otel.SetTracerProvider(t.Tracer)

	reg := prometheus.NewRegistry()
	promExp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(promExp),
		sdkmetric.WithView(telemetry.HTTPMetricViews()...))
	t.Meter = mp
	t.shutdown = append(t.shutdown, mp.Shutdown)
	otel.SetMeterProvider(mp)
	t.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return t, nil
}

// Shutdown flushes and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// quietErrors logs OpenTelemetry's own errors at most once a minute, so an
// absent collector does not flood the log.
func quietErrors(log *slog.Logger) otel.ErrorHandlerFunc {
	var (
		mu   sync.Mutex
		last time.Time
	)
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < time.Minute {
			return
		}
		last = time.Now()
		log.Warn("telemetry export failing (repeats suppressed for a minute)", "err", telemetry.Scrub(err.Error()))
	}
}
