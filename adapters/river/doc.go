// Package river drives the delivery use cases from River jobs: a dispatch job
// per outbox event fans out to a delivery job per active webhook config, and
// each delivery job is retried on the contract's schedule. Job args carry ids
// only; payloads and secrets stay in tables.
package river
