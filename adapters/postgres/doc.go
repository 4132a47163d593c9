// Package postgres implements the application's storage ports with bun over
// pgx: repositories, the unit of work with its transactional outbox, the
// readers the delivery workers use, and the schema migrations.
package postgres
