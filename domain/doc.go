// Package domain holds Aurix's aggregates, value objects, events and business
// rules. It performs no I/O and imports no other package of the project: ids,
// clocks and randomness are handed in by the application layer.
package domain
