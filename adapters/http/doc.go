// Package http is the driving HTTP adapter: the gorilla/mux router with the
// widget, partner and operations endpoints. Handlers decode and check the
// request's shape, call a use case through its port, and map domain errors
// to RFC 9457 problem responses in one table.
package http
