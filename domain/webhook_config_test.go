package domain_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

func TestValidateTargetURL(t *testing.T) {
	t.Parallel()
	longHTTPS := func(n int) string {
		const base = "https://hooks.example.com/"
		return base + strings.Repeat("a", n-len(base))
	}
	tests := []struct {
		name     string
		raw      string
		insecure bool
		wantHost string // set when the URL is accepted
		wantMsg  string // set when it is refused
	}{
		{name: "https", raw: "https://your-backend.com/webhooks/aurix", wantHost: "your-backend.com"},
		{name: "https with port and query", raw: "https://hooks.example.com:8443/in?tenant=1", wantHost: "hooks.example.com:8443"},
		{name: "upper-case scheme", raw: "HTTPS://hooks.example.com/", wantHost: "hooks.example.com"},
		{name: "exactly 2048 bytes", raw: longHTTPS(domain.MaxTargetURLBytes), wantHost: "hooks.example.com"},
		{name: "http refused by default", raw: "http://your-backend.com/webhooks", wantMsg: "must use https"},
		{name: "http allowed when insecure", raw: "http://your-backend.com/webhooks", insecure: true, wantHost: "your-backend.com"},
		{name: "empty", raw: "", wantMsg: "is required"},
		{name: "relative", raw: "/webhooks/aurix", wantMsg: "must be an absolute URL"},
		{name: "scheme-relative", raw: "//your-backend.com/webhooks", wantMsg: "must be an absolute URL"},
		{name: "no host", raw: "https:///webhooks", wantMsg: "must be an absolute URL"},
		{name: "port but no host name", raw: "https://:443/webhooks", wantMsg: "must be an absolute URL"},
		{name: "opaque", raw: "https:your-backend.com", wantMsg: "must be an absolute URL"},
		{name: "user and password", raw: "https://user:pass@your-backend.com/webhooks", wantMsg: "must not contain credentials"},
		{name: "user only", raw: "https://token@your-backend.com/webhooks", wantMsg: "must not contain credentials"},
		{name: "ftp", raw: "ftp://your-backend.com/webhooks", wantMsg: "must be an https URL"},
		{name: "ftp even when insecure", raw: "ftp://your-backend.com/webhooks", insecure: true, wantMsg: "must be an https URL"},
		{name: "over 2048 bytes", raw: longHTTPS(domain.MaxTargetURLBytes + 1), wantMsg: "must be at most 2048 bytes"},
		{name: "NUL byte", raw: "https://your-backend.com/\x00", wantMsg: "must not contain NUL bytes"},
		{name: "invalid UTF-8", raw: "https://your-backend.com/\xff", wantMsg: "must be valid UTF-8"},

		// Ports: any port from 1 to 65535, written as a plain number.
		{name: "port 1", raw: "https://hooks.example.com:1/", wantHost: "hooks.example.com:1"},
		{name: "port 65535", raw: "https://8.8.8.8:65535/", wantHost: "8.8.8.8:65535"},
		{name: "port 0", raw: "https://8.8.8.8:0/", wantMsg: "port must be a number from 1 to 65535"},
		{name: "port 65536", raw: "https://8.8.8.8:65536/", wantMsg: "port must be a number from 1 to 65535"},
		{name: "port 99999", raw: "https://8.8.8.8:99999/", wantMsg: "port must be a number from 1 to 65535"},
		{name: "port with 20 digits", raw: "https://8.8.8.8:18446744073709551617/", wantMsg: "port must be a number from 1 to 65535"},
		{name: "port with a leading zero", raw: "https://8.8.8.8:0443/", wantMsg: "port must be a number from 1 to 65535"},
		{name: "empty port", raw: "https://hooks.example.com:/", wantMsg: "port must be a number from 1 to 65535"},
		{name: "non-numeric port", raw: "https://hooks.example.com:https/", wantMsg: "must be an absolute URL"},
		{name: "negative port", raw: "https://hooks.example.com:-1/", wantMsg: "must be an absolute URL"},
		{name: "IPv6 with port 0", raw: "https://[2606:4700::1111]:0/", wantMsg: "port must be a number from 1 to 65535"},
		{name: "IPv6 with port", raw: "https://[2606:4700::1111]:8443/", wantHost: "[2606:4700::1111]:8443"},

		// Hosts: a DNS name, a dotted-quad IPv4 address or a bracketed IPv6
		// address; the other IPv4 spellings URL parsers and resolvers accept
		// (decimal, octal, hex, shortened) are refused rather than guessed.
		{name: "dotted quad", raw: "https://8.8.8.8/", wantHost: "8.8.8.8"},
		{name: "decimal IPv4", raw: "https://2130706433/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "decimal public IPv4", raw: "https://134744072/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "octal IPv4", raw: "https://0177.0.0.1/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "octal IPv4 with leading zeros", raw: "https://0000177.000.000.001/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "hex IPv4", raw: "https://0x7f000001/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "dotted hex IPv4", raw: "https://0x7f.0x0.0x0.0x1/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "upper-case hex", raw: "https://0X7F.1/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "shortened IPv4", raw: "https://127.1/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "three-part IPv4", raw: "https://10.0.1/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "dotted quad with a trailing dot", raw: "https://127.0.0.1./", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "five parts", raw: "https://1.2.3.4.5/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "bare 0x", raw: "https://a.0x/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "name ending in digits", raw: "https://hooks.example.123/", wantMsg: "host must be a DNS name or an IP address in standard notation"},
		{name: "name with digits inside", raw: "https://hooks1.example2.com/", wantHost: "hooks1.example2.com"},
		{name: "name starting with 0x", raw: "https://0xdeadbeef.example.com/", wantHost: "0xdeadbeef.example.com"},
		{name: "name ending in a hex-like label", raw: "https://hooks.example.0xg/", wantHost: "hooks.example.0xg"},
		{name: "bracketed IPv6", raw: "https://[2606:4700:4700::1111]/", wantHost: "[2606:4700:4700::1111]"},
		{name: "bracketed IPv4-mapped", raw: "https://[::ffff:8.8.8.8]/", wantHost: "[::ffff:8.8.8.8]"},
		{name: "bracketed name", raw: "https://[hooks.example.com]/", wantMsg: "must be an absolute URL"},
		{name: "bracketed IPv4", raw: "https://[8.8.8.8]/", wantMsg: "must be an absolute URL"},
		{name: "IPv6 with a zone", raw: "https://[fe80::1%25eth0]/", wantMsg: "must not carry an IPv6 zone"},
		{name: "global IPv6 with a zone", raw: "https://[2606:4700::1111%25eth0]:443/", wantMsg: "must not carry an IPv6 zone"},
		{name: "unbracketed IPv6", raw: "https://2606:4700::1111/", wantMsg: "must be an absolute URL"},
		{name: "percent-encoded host", raw: "https://%31%32%37.0.0.1/", wantMsg: "must be an absolute URL"},
		{name: "non-ASCII host", raw: "https://ｌｏｃａｌｈｏｓｔ/", wantMsg: "host must be ASCII (punycode for an internationalized name)"},
		{name: "full-width digits", raw: "https://１２７.０.０.１/", wantMsg: "host must be ASCII (punycode for an internationalized name)"},
		{name: "punycode name", raw: "https://xn--bcher-kva.example/", wantHost: "xn--bcher-kva.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := domain.ValidateTargetURL(tt.raw, domain.TargetPolicy{AllowInsecure: tt.insecure})
			if tt.wantMsg == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.wantHost, u.Host)
				return
			}
			require.Error(t, err)
			assert.Nil(t, u)
			assert.ErrorIs(t, err, domain.ErrInvalidInput)
			var ve *domain.ValidationError
			require.True(t, errors.As(err, &ve))
			assert.Equal(t, []domain.FieldError{{Field: "url", Message: tt.wantMsg}}, ve.Fields)
		})
	}
}

// generateSecret draws a secret the way the application does.
func generateSecret() (domain.Secret, error) {
	var b [domain.SecretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return domain.Secret{}, err
	}
	return domain.SecretFrom(b), nil
}

func TestSecretFrom(t *testing.T) {
	t.Parallel()
	a, err := generateSecret()
	require.NoError(t, err)
	b, err := generateSecret()
	require.NoError(t, err)
	assert.Regexp(t, `^aurix_[0-9a-f]{64}$`, a.Reveal())
	assert.Regexp(t, `^aurix_[0-9a-f]{64}$`, b.Reveal())
	assert.NotEqual(t, a.Reveal(), b.Reveal())
	var fixed [domain.SecretBytes]byte
	fixed[0], fixed[31] = 0xab, 0x01
	assert.Equal(t, "aurix_ab"+strings.Repeat("00", 30)+"01", domain.SecretFrom(fixed).Reveal())
}

func TestNewSecret_RevealsItsValue(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "aurix_abc", domain.NewSecret("aurix_abc").Reveal())
}

// TestSecret_NeverShowsItsValue covers the ways a secret commonly reaches a
// log line or an error: String, GoString, the %v family, and slog.
func TestSecret_NeverShowsItsValue(t *testing.T) {
	t.Parallel()
	s, err := generateSecret()
	require.NoError(t, err)
	value := s.Reveal()

	printed := map[string]string{
		"String()":   s.String(),
		"GoString()": s.GoString(),
		"%v":         fmt.Sprintf("%v", s),
		"%+v":        fmt.Sprintf("%+v", s),
		"%#v":        fmt.Sprintf("%#v", s),
		"%s":         fmt.Sprintf("%s", s),
		"%q":         fmt.Sprintf("%q", s),
		"%v pointer": fmt.Sprintf("%v", &s),
		"error":      fmt.Errorf("deliver with %v: %w", s, errors.New("boom")).Error(),
		"in a row":   fmt.Sprintf("%+v", domain.WebhookConfigRow{ID: "c1", Secret: s}),
		"previous":   fmt.Sprintf("%#v", []domain.PreviousSecret{{Secret: s}}),
	}
	for how, out := range printed {
		assert.NotContains(t, out, value, how)
		assert.NotContains(t, out, value[6:20], how+": no part of the hex either")
	}
	assert.Equal(t, "[redacted]", printed["%v"])
	assert.Equal(t, "domain.Secret{[redacted]}", printed["%#v"])

	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("config saved",
		"secret", s,
		slog.Any("any", s),
		slog.Group("cfg", slog.Any("secret", s)),
		"row", domain.WebhookConfigRow{ID: "c1", Secret: s})
	logged := buf.String()
	assert.NotContains(t, logged, value)
	assert.NotContains(t, logged, value[6:20])
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), logged)
	assert.Equal(t, "[redacted]", line["secret"])
	assert.Equal(t, "[redacted]", line["any"])
	assert.Equal(t, map[string]any{"secret": "[redacted]"}, line["cfg"])

	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config saved", "secret", s)
	assert.Contains(t, buf.String(), "secret=[redacted]")
	assert.NotContains(t, buf.String(), value)
}

// TestSecret_NeverShowsItsValueWithOtherVerbs shows a bug: Secret implements
// String and GoString but not fmt.Formatter, so a verb that does not use
// String (%d, %t, %x on the struct's fields…) prints the struct's field:
// fmt.Sprintf("%d", s) gives "{%!d(string=aurix_…)}". The type's doc promises
// the value "cannot leak through a log line or an error by accident"
// (domain/webhook_config.go, type Secret). Fix: give Secret a Format method
// that writes "[redacted]" for every verb (GoString's text for %#v).
func TestSecret_NeverShowsItsValueWithOtherVerbs(t *testing.T) {
	t.Parallel()
	s, err := generateSecret()
	require.NoError(t, err)
	for _, verb := range []string{"%d", "%t", "%o", "%b", "%e", "%08v"} {
		out := fmt.Sprintf(verb, s)
		assert.NotContains(t, out, s.Reveal()[6:], "%s printed %q", verb, out)
	}
}

// TestWebhookConfig_PrintingHidesSecret shows a bug: a *WebhookConfig
// printed with %v/%+v (an error message, or slog's text handler, which
// formats structs with %+v) shows its secret, because the secret sits in the
// unexported field WebhookConfig.secret and fmt does not call String on
// unexported fields; it prints "secret:{value:aurix_…}"
// (domain/webhook_config.go, type WebhookConfig). Fix: give *WebhookConfig a
// String/GoString/LogValue (or Format) that omits the secret.
func TestWebhookConfig_PrintingHidesSecret(t *testing.T) {
	t.Parallel()
	s, err := generateSecret()
	require.NoError(t, err)
	cfg := domain.NewWebhookConfig("c1", "topkee", "https://your-backend.com/webhooks/aurix", domain.DeliverySettings{}, true, s,
		time.Date(2024, 1, 23, 10, 30, 0, 0, time.UTC))

	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("saved", "config", cfg)
	for how, out := range map[string]string{
		"%v":          fmt.Sprintf("%v", cfg),
		"%+v":         fmt.Sprintf("%+v", cfg),
		"%#v":         fmt.Sprintf("%#v", cfg),
		"slog text":   text.String(),
		"wrapped err": fmt.Errorf("save %+v: %w", cfg, domain.ErrConflict).Error(),
	} {
		assert.NotContains(t, out, s.Reveal(), how)
	}
}

func TestWebhookConfig_SecretKeptWhenURLChanges(t *testing.T) {
	t.Parallel()
	s := domain.NewSecret("aurix_" + strings.Repeat("ab", 32))
	created := time.Date(2024, 1, 23, 10, 30, 0, 0, time.UTC)
	cfg := domain.NewWebhookConfig("c1", "topkee", "https://a.example.com/hook", domain.DeliverySettings{}, true, s, created)
	inactive := false
	cfg.Update("https://b.example.com/hook", domain.DeliverySettings{}, &inactive, created.Add(time.Hour))
	assert.Equal(t, "https://b.example.com/hook", cfg.TargetURL())
	assert.False(t, cfg.IsActive())
	assert.Equal(t, s.Reveal(), cfg.Secret().Reveal())
	cfg.Update("https://c.example.com/hook", domain.DeliverySettings{}, nil, created.Add(2*time.Hour))
	assert.True(t, cfg.IsActive(), "a PUT without is_active re-activates")
	assert.Equal(t, s.Reveal(), cfg.Secret().Reveal())
}
