package webhook

import (
	"errors"
	"net/http"
	"net/url"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// redacted replaces what a partner's URL must not show outside the request.
const redacted = "REDACTED"

// redactURL is raw without what may carry a partner's secret: the query
// string (a token=…, a signature) becomes "REDACTED", userinfo
// "REDACTED:REDACTED" (as the OpenTelemetry conventions for url.full say),
// and the fragment, never sent, goes. Scheme, host, port and path stay, so
// an error or a span still tells which endpoint it was.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redacted
	}
	return redactParsedURL(u)
}

func redactParsedURL(in *url.URL) string {
	u := *in
	if u.User != nil {
		u.User = url.UserPassword(redacted, redacted)
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = redacted, false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// redactError rewrites the URL an *url.Error prints ("Post \"https://h/p?token=x\":
// dial tcp …"), so the error text can be stored, shown and logged. Other
// errors are returned as they are.
func redactError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err}
}

// spanURLRedactor sits under the tracing wrapper, closest to the network:
// by the time a request reaches it, the wrapper (otelhttp) has started the
// client span and recorded url.full with the whole URL; it records the
// redacted URL over it before the span can end or be exported, so the
// partner's query string never leaves the process in a trace.
type spanURLRedactor struct{ next http.RoundTripper }

func (s spanURLRedactor) RoundTrip(r *http.Request) (*http.Response, error) {
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() && r.URL != nil {
		span.SetAttributes(semconv.URLFull(redactParsedURL(r.URL)))
	}
	return s.next.RoundTrip(r)
}
