package telemetry

import (
	"context"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// deniedKeys never leave the process: client and peer addresses.
var deniedKeys = map[attribute.Key]bool{
	"client.address":        true,
	"network.peer.address":  true,
	"net.peer.ip":           true,
	"net.sock.peer.addr":    true,
	"http.client_ip":        true,
	"net.host.ip":           true,
	"network.local.address": true,
	"enduser.id":            true,
}

// urlKeys hold a whole URL, whose query string and userinfo may carry a
// partner's token: they are dropped, whatever recorded the URL.
var urlKeys = map[attribute.Key]bool{
	"url.full":  true,
	"http.url":  true,
	"url.query": true,
}

var (
	secretPattern = regexp.MustCompile(`aurix_[0-9a-fA-F]{16,}|(?i)bearer\s+\S+|whsec_\S+`)
	emailPattern  = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	phonePattern  = regexp.MustCompile(`\+[0-9][0-9 ()-]{6,18}[0-9]`)
	tokenSplit    = regexp.MustCompile(`[\s"'(),;=\[\]{}<>/]+`)
)

// Scrub replaces secrets, email addresses, phone numbers and IP addresses in
// s with "[redacted]".
func Scrub(s string) string {
	s = secretPattern.ReplaceAllString(s, "[redacted]")
	s = emailPattern.ReplaceAllString(s, "[redacted]")
	s = phonePattern.ReplaceAllString(s, "[redacted]")
	for _, tok := range tokenSplit.Split(s, -1) {
		if ap, err := netip.ParseAddrPort(tok); err == nil {
			s = strings.ReplaceAll(s, ap.Addr().String(), "[redacted]")
			continue
		}
		cand := strings.Trim(tok, ".:")
		if a, err := netip.ParseAddr(cand); err == nil && (a.Is4() || strings.Count(cand, ":") >= 2) {
			s = strings.ReplaceAll(s, cand, "[redacted]")
		}
	}
	return s
}

func scrubAttrs(in []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(in))
	for _, kv := range in {
		if deniedKeys[kv.Key] {
			continue
		}
		switch kv.Value.Type() {
		case attribute.STRING:
			v := kv.Value.AsString()
			if urlKeys[kv.Key] {
				v = withoutQuery(kv.Key, v)
			}
			kv = kv.Key.String(Scrub(v))
		case attribute.STRINGSLICE:
			vals := kv.Value.AsStringSlice()
			for i := range vals {
				vals[i] = Scrub(vals[i])
			}
			kv = kv.Key.StringSlice(vals)
		}
		out = append(out, kv)
	}
	return out
}

// withoutQuery is a URL attribute with its query string replaced by
// "REDACTED" and without userinfo or fragment; an attribute holding only a
// query string becomes "REDACTED".
func withoutQuery(key attribute.Key, v string) string {
	if key == "url.query" {
		return "REDACTED"
	}
	u, err := url.Parse(v)
	if err != nil {
		return "REDACTED"
	}
	u.User = nil // "REDACTED:REDACTED@host" would read as an email address to Scrub
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "REDACTED", false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// RedactingExporter scrubs every span before it leaves the process, as a
// last line of defence behind instrumentation that is configured not to
// record such values in the first place.
type RedactingExporter struct{ Next sdktrace.SpanExporter }

// ExportSpans forwards scrubbed copies of spans.
func (e RedactingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = redactedSpan{ReadOnlySpan: s}
	}
	return e.Next.ExportSpans(ctx, out)
}

// Shutdown shuts the wrapped exporter down.
func (e RedactingExporter) Shutdown(ctx context.Context) error { return e.Next.Shutdown(ctx) }

type redactedSpan struct{ sdktrace.ReadOnlySpan }

func (s redactedSpan) Name() string { return Scrub(s.ReadOnlySpan.Name()) }

func (s redactedSpan) Attributes() []attribute.KeyValue {
	return scrubAttrs(s.ReadOnlySpan.Attributes())
}

func (s redactedSpan) Events() []sdktrace.Event {
	evs := s.ReadOnlySpan.Events()
	out := make([]sdktrace.Event, len(evs))
	for i, ev := range evs {
		ev.Name = Scrub(ev.Name)
		ev.Attributes = scrubAttrs(ev.Attributes)
		out[i] = ev
	}
	return out
}

func (s redactedSpan) Status() sdktrace.Status {
	st := s.ReadOnlySpan.Status()
	if st.Code == codes.Error {
		st.Description = Scrub(st.Description)
	}
	return st
}
