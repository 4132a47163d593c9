package domain

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxTargetURLBytes bounds a webhook target URL.
const MaxTargetURLBytes = 2048

// Secret is a webhook signing secret. It prints and logs as a placeholder so
// that it cannot leak through a log line or an error by accident; Reveal is
// the one way to read it. The value sits behind a pointer so that even a
// struct holding a Secret, printed field by field, shows only an address.
type Secret struct{ value *secretValue }

type secretValue struct{ s string }

// NewSecret wraps a stored secret value.
func NewSecret(v string) Secret { return Secret{value: &secretValue{s: v}} }

// SecretBytes is how much randomness a webhook secret carries.
const SecretBytes = 32

// SecretFrom makes a webhook secret, "aurix_" and 64 hex characters, from
// SecretBytes random bytes (the application draws them through its random
// source).
func SecretFrom(random [SecretBytes]byte) Secret {
	return NewSecret("aurix_" + hex.EncodeToString(random[:]))
}

// Reveal returns the secret's value, for signing and for showing it to its owner.
func (s Secret) Reveal() string {
	if s.value == nil {
		return ""
	}
	return s.value.s
}

// Format prints the placeholder whatever the verb (GoString's text for %#v).
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte("[redacted]"))
}

// String hides the value.
func (s Secret) String() string { return "[redacted]" }

// GoString hides the value from %#v.
func (s Secret) GoString() string { return "domain.Secret{[redacted]}" }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// TargetPolicy says which target URLs a deployment accepts.
type TargetPolicy struct {
	// AllowInsecure accepts http:// targets besides https://.
	AllowInsecure bool
}

// PreviousSecret is a rotated-out secret still valid until ExpiresAt.
type PreviousSecret struct {
	Secret    Secret
	ExpiresAt time.Time
}

// WebhookConfig is one integration service's webhook endpoint: where events
// go, how they are signed, which of them the partner wants and how, and
// whether the endpoint is healthy enough to keep receiving them.
type WebhookConfig struct {
	id        string
	service   string
	targetURL string
	secret    Secret
	previous  []PreviousSecret
	settings  DeliverySettings
	isActive  bool
	// failingSince is when the endpoint started failing without a success
	// since; zero while it is healthy.
	failingSince time.Time
	// disabledReason and disabledAt say why and since when the endpoint is
	// switched off.
	disabledReason string
	disabledAt     time.Time
	createdAt      time.Time
	updatedAt      time.Time
}

// ValidateTargetURL checks a webhook URL's form: absolute, https (or http when
// allowed), with a host, no credentials, storable. Whether the host resolves to
// a public address is checked by the application through a resolver.
func ValidateTargetURL(raw string, p TargetPolicy) (*url.URL, error) {
	const field = "url"
	switch {
	case raw == "":
		return nil, invalid(field, "is required")
	case len(raw) > MaxTargetURLBytes:
		return nil, invalid(field, "must be at most %d bytes", MaxTargetURLBytes)
	}
	if m := checkText(raw); m != "" {
		return nil, invalid(field, "%s", m)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return nil, invalid(field, "must be an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowInsecure:
	case u.Scheme == "http":
		return nil, invalid(field, "must use https")
	default:
		return nil, invalid(field, "must be an https URL")
	}
	if u.User != nil {
		return nil, invalid(field, "must not contain credentials")
	}
	if m := checkTargetHost(u); m != "" {
		return nil, invalid(field, "%s", m)
	}
	return u, nil
}

// checkTargetHost says what is wrong with a target URL's host and port, or
// returns "". The port, when given, is a plain number from 1 to 65535 (any
// such port: the address check, not the port, keeps targets public). The
// host is a DNS name, a dotted-quad IPv4 address or a bracketed IPv6 address
// without a zone. The other IPv4 spellings some parsers and resolvers accept
// (2130706433, 0177.0.0.1, 0x7f.1, 127.1, "127.0.0.1.") are refused, not
// guessed at: WHATWG URL parsing reads any host whose last label is a number
// as IPv4, and which address a resolver makes of it varies.
func checkTargetHost(u *url.URL) string {
	if strings.HasSuffix(u.Host, ":") || (u.Port() != "" && !validPort(u.Port())) {
		return "port must be a number from 1 to 65535"
	}
	host := u.Hostname()
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			return "host must be ASCII (punycode for an internationalized name)"
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "must not carry an IPv6 zone"
		}
		return ""
	}
	if endsInNumber(host) {
		return "host must be a DNS name or an IP address in standard notation"
	}
	return ""
}

// validPort reports whether p is a port number from 1 to 65535 written
// without leading zeros.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// endsInNumber is WHATWG URL's "ends in a number" check: the last label
// (ignoring one trailing dot) is decimal digits, or 0x followed by hex
// digits, so a URL parser would read the host as an IPv4 address.
func endsInNumber(host string) bool {
	labels := strings.Split(host, ".")
	if len(labels) > 1 && labels[len(labels)-1] == "" {
		labels = labels[:len(labels)-1]
	}
	last := labels[len(labels)-1]
	if last == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// NewWebhookConfig registers a service's first webhook endpoint with a fresh
// secret.
func NewWebhookConfig(id, service, targetURL string, settings DeliverySettings, active bool, secret Secret, now time.Time) *WebhookConfig {
	now = now.UTC().Truncate(time.Millisecond)
	c := &WebhookConfig{id: id, service: service, targetURL: targetURL, secret: secret, settings: settings,
		createdAt: now, updatedAt: now}
	c.setActive(active, now)
	return c
}

// Update points the config at a new URL with new delivery settings and sets
// its active flag (a PUT without is_active re-activates it, since that is
// how a partner says the endpoint works again). The secret is kept, so
// partners need not re-configure verification.
func (c *WebhookConfig) Update(targetURL string, settings DeliverySettings, active *bool, now time.Time) {
	now = now.UTC().Truncate(time.Millisecond)
	c.targetURL, c.settings = targetURL, settings
	c.setActive(active == nil || *active, now)
	c.updatedAt = now
}

// setActive re-activates the endpoint with a clean bill of health, or
// records that its partner switched it off.
func (c *WebhookConfig) setActive(active bool, now time.Time) {
	switch {
	case active:
		c.Reactivate()
	case c.isActive || c.disabledReason == "":
		c.disable(ReasonSwitchedOffByPartner, now)
	}
}

// Rotate makes next the signing secret. The old one stays valid for grace,
// so deliveries carry a signature for each valid secret meanwhile.
func (c *WebhookConfig) Rotate(next Secret, now time.Time, grace time.Duration) {
	now = now.UTC().Truncate(time.Millisecond)
	kept := []PreviousSecret{}
	if grace > 0 {
		kept = append(kept, PreviousSecret{Secret: c.secret, ExpiresAt: now.Add(grace)})
	}
	for _, p := range c.previous {
		if p.ExpiresAt.After(now) {
			kept = append(kept, p)
		}
	}
	c.secret, c.previous, c.updatedAt = next, kept, now
}

// SigningSecrets returns the secrets valid at now, newest first.
func (c *WebhookConfig) SigningSecrets(now time.Time) []Secret {
	out := []Secret{c.secret}
	for _, p := range c.previous {
		if p.ExpiresAt.After(now) {
			out = append(out, p.Secret)
		}
	}
	return out
}

// WebhookConfigRow is the stored form of a WebhookConfig.
type WebhookConfigRow struct {
	ID             string
	Service        string
	TargetURL      string
	Secret         Secret
	Previous       []PreviousSecret
	Settings       DeliverySettings
	IsActive       bool
	FailingSince   time.Time
	DisabledReason string
	DisabledAt     time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RehydrateWebhookConfig rebuilds a config from storage.
func RehydrateWebhookConfig(r WebhookConfigRow) *WebhookConfig {
	return &WebhookConfig{id: r.ID, service: r.Service, targetURL: r.TargetURL, secret: r.Secret,
		previous: r.Previous, settings: r.Settings, isActive: r.IsActive, failingSince: r.FailingSince,
		disabledReason: r.DisabledReason, disabledAt: r.DisabledAt, createdAt: r.CreatedAt, updatedAt: r.UpdatedAt}
}

// Row returns the stored form.
func (c *WebhookConfig) Row() WebhookConfigRow {
	return WebhookConfigRow{ID: c.id, Service: c.service, TargetURL: c.targetURL, Secret: c.secret,
		Previous: c.previous, Settings: c.settings, IsActive: c.isActive, FailingSince: c.failingSince,
		DisabledReason: c.disabledReason, DisabledAt: c.disabledAt, CreatedAt: c.createdAt, UpdatedAt: c.updatedAt}
}

// ID returns the config's id.
func (c *WebhookConfig) ID() string { return c.id }

// Service returns the integration service the config belongs to.
func (c *WebhookConfig) Service() string { return c.service }

// TargetURL returns where events are delivered.
func (c *WebhookConfig) TargetURL() string { return c.targetURL }

// Secret returns the signing secret.
func (c *WebhookConfig) Secret() Secret { return c.secret }

// Settings returns how the partner wants events delivered.
func (c *WebhookConfig) Settings() DeliverySettings { return c.settings }

// IsActive reports whether events are delivered to the config.
func (c *WebhookConfig) IsActive() bool { return c.isActive }

// DisabledReason says why the endpoint is switched off ("" while active).
func (c *WebhookConfig) DisabledReason() string { return c.disabledReason }

// DisabledAt says since when the endpoint is switched off (zero while active).
func (c *WebhookConfig) DisabledAt() time.Time { return c.disabledAt }

// FailingSince says since when the endpoint has failed without a success
// (zero while healthy).
func (c *WebhookConfig) FailingSince() time.Time { return c.failingSince }
