// Package ports declares the boundaries of the application: the use cases it
// offers to driving adapters (HTTP, River workers) and the services it needs
// from driven adapters (PostgreSQL, the webhook sender, the job queue).
// It holds interfaces and the plain data they exchange, nothing else.
package ports
