// Package tools pins golangci-lint, a development tool too heavy for the
// service's own go.mod (`go tool -modfile=.tools/go.mod golangci-lint`, or
// `go tool task lint`). Jaeger is pinned in its own module, ./jaeger.
package tools
