// Package tools pins the development tools that are too heavy for the
// service's own go.mod: Jaeger's all-in-one binary (for tracing tests and
// `go tool task jaeger`) and golangci-lint. Build them with
// `go build -modfile=.tools/go.mod …` or through the Taskfile.
package tools
