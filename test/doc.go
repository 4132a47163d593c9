// Package test holds black-box tests of the whole service: they build the
// real binary, start it against a fresh PostgreSQL database, and talk HTTP to
// it, with a local receiver that verifies webhooks the way a partner does.
// The architecture test keeps the dependency rule of ENGINEERING.md true.
package test
