// Package postgres implements the application's storage ports with bun over
// pgx: repositories, the unit of work with its transactional outbox, the
// readers the delivery workers use, and the schema migrations. The only
// statements that bypass bun, the partner listings, are in bypass.go, which
// says why.
package postgres
