// Package telemetry holds the OpenTelemetry pieces the service's own code
// needs: the metrics behind ports.Telemetry, a span exporter wrapper that
// keeps personal data and secrets out of traces, and a slog handler that
// stamps trace and span ids on every log line written inside a span.
package telemetry
