// Package jaeger pins Jaeger's all-in-one binary (v1.76.0) for the tracing
// end-to-end test and `go tool task jaeger`. It is a module of its own:
// golangci-lint's dependencies (in ../go.mod) select newer OpenTelemetry
// modules than Jaeger v1.76.0 builds with.
package jaeger
