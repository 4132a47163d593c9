// Package webhook sends signed webhook deliveries over HTTP: the partner
// document's x-hub-signature and the Standard Webhooks headers, no redirects
// followed, and (unless allowed) no connection to a non-public address.
package webhook
