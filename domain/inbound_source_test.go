package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

const partnerClickURL = "https://example.com/landing?utm_source=google&gclid=AbCd123"

// clickAt is the partner example's moment, with sub-millisecond digits that
// the contract's format must drop (truncate, not round).
var clickAt = time.Date(2024, 1, 23, 10, 30, 0, 123_999_999, time.UTC)

// partnerClick is the partner document's widget.click example as input.
func partnerClick() domain.NewClick {
	return domain.NewClick{
		CorrelationID: "O-xY123z",
		ClickURL:      partnerClickURL,
		DeviceID:      "550e8400-e29b-41d4-a716-446655440000",
		UserAgent:     "Mozilla/5.0...",
		IPAddress:     "192.168.1.1",
		EventID:       "evt_01HMZ8K3J5Q9W2X7Y4V6B1N0CD",
		Now:           clickAt,
	}
}

// partnerPayload is the exact body partners receive for partnerClick: the
// partner document's example, with event_id, in the documented key order.
const partnerPayload = `{"event_type":"widget.click","event_id":"evt_01HMZ8K3J5Q9W2X7Y4V6B1N0CD",` +
	`"timestamp":"2024-01-23T10:30:00.123Z","data":{"correlation_id":"O-xY123z",` +
	`"device_id":"550e8400-e29b-41d4-a716-446655440000",` +
	`"click_url":"https://example.com/landing?utm_source=google&gclid=AbCd123",` +
	`"parsed_params":{"utm_source":"google","utm_medium":"cpc","gclid":"AbCd123"},` +
	`"user_agent":"Mozilla/5.0...","ip_address":"192.168.1.1"}}`

func TestRecordClick_RecordsPartnerWidgetClickEvent(t *testing.T) {
	t.Parallel()
	src, err := domain.RecordClick(partnerClick())
	require.NoError(t, err)
	require.NotNil(t, src)
	assert.Equal(t, domain.CorrelationID("O-xY123z"), src.CorrelationID())
	assert.False(t, src.IsBot())
	assert.False(t, src.IsCorrelated())
	assert.Equal(t, time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC), src.CreatedAt())

	events := src.PullEvents()
	require.Len(t, events, 1)
	ev := events[0]
	assert.Equal(t, domain.EventWidgetClick, ev.Type)
	assert.Equal(t, "evt_01HMZ8K3J5Q9W2X7Y4V6B1N0CD", ev.ID)
	assert.Equal(t, "O-xY123z", ev.CorrelationID)
	assert.Equal(t, src.CreatedAt(), ev.OccurredAt)

	payload, err := ev.Payload()
	require.NoError(t, err)
	assert.Equal(t, partnerPayload, string(payload))
	assert.NotContains(t, string(payload), `\u0026`, "& stays & in the bytes partners receive")

	assert.Empty(t, src.PullEvents(), "PullEvents forgets what it returned")
}

// TestRecordClick_PayloadShape checks the envelope's key order and the exact
// set of data fields, independently of the exact-bytes comparison above.
func TestRecordClick_PayloadShape(t *testing.T) {
	t.Parallel()
	src, err := domain.RecordClick(partnerClick())
	require.NoError(t, err)
	events := src.PullEvents()
	require.Len(t, events, 1)
	payload, err := events[0].Payload()
	require.NoError(t, err)

	assert.Equal(t, []string{"event_type", "event_id", "timestamp", "data"}, payloadTopKeys(t, payload))

	var env struct {
		Timestamp string                     `json:"timestamp"`
		Data      map[string]json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(payload, &env))
	assert.Equal(t, "2024-01-23T10:30:00.123Z", env.Timestamp)
	keys := make([]string, 0, len(env.Data))
	for k := range env.Data {
		keys = append(keys, k)
	}
	assert.ElementsMatch(t, []string{"correlation_id", "device_id", "click_url", "parsed_params", "user_agent", "ip_address"}, keys)
}

// payloadTopKeys returns the keys of a JSON object in the order they appear.
func payloadTopKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

func TestRecordClick_TimestampIsUTCWithMilliseconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		now  time.Time
		want string
	}{
		{name: "UTC", now: time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC), want: "2024-01-23T10:30:00.123Z"},
		{name: "zero milliseconds still written", now: time.Date(2024, 1, 23, 10, 30, 0, 0, time.UTC), want: "2024-01-23T10:30:00.000Z"},
		{name: "offset converted to UTC", now: time.Date(2024, 1, 23, 18, 30, 0, 7_000_000, time.FixedZone("UTC+8", 8*3600)), want: "2024-01-23T10:30:00.007Z"},
		{name: "truncated, not rounded", now: time.Date(2024, 12, 31, 23, 59, 59, 999_999_999, time.UTC), want: "2024-12-31T23:59:59.999Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := partnerClick()
			c.Now = tt.now
			src, err := domain.RecordClick(c)
			require.NoError(t, err)
			events := src.PullEvents()
			require.Len(t, events, 1)
			payload, err := events[0].Payload()
			require.NoError(t, err)
			var env struct {
				Timestamp string `json:"timestamp"`
			}
			require.NoError(t, json.Unmarshal(payload, &env))
			assert.Equal(t, tt.want, env.Timestamp)
			assert.Equal(t, time.UTC, src.CreatedAt().Location())
		})
	}
}

func TestRecordClick_BotRecordsNoEvent(t *testing.T) {
	t.Parallel()
	c := partnerClick()
	c.IsBot = true
	c.UserAgent = "facebookexternalhit/1.1"
	src, err := domain.RecordClick(c)
	require.NoError(t, err)
	assert.True(t, src.IsBot())
	assert.True(t, src.Row().IsBot, "stored flagged")
	assert.Empty(t, src.PullEvents())
}

func TestRecordClick_StoredRowKeepsTheClick(t *testing.T) {
	t.Parallel()
	src, err := domain.RecordClick(partnerClick())
	require.NoError(t, err)
	row := src.Row()
	assert.Equal(t, domain.InboundSourceRow{
		CorrelationID: "O-xY123z",
		DeviceID:      "550e8400-e29b-41d4-a716-446655440000",
		ClickURL:      partnerClickURL,
		ParsedParams:  domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "gclid": "AbCd123"},
		UserAgent:     "Mozilla/5.0...",
		IPAddress:     "192.168.1.1",
		CreatedAt:     time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC),
	}, row)
}

func TestRecordClick_UserAgentTruncatedToMaxRunes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ua   string
		want string
	}{
		{name: "ASCII", ua: strings.Repeat("a", 1500), want: strings.Repeat("a", domain.MaxUserAgentLen)},
		{name: "multi-byte runes kept whole", ua: strings.Repeat("é", 1500), want: strings.Repeat("é", domain.MaxUserAgentLen)},
		{name: "at the limit unchanged", ua: strings.Repeat("b", domain.MaxUserAgentLen), want: strings.Repeat("b", domain.MaxUserAgentLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := partnerClick()
			c.UserAgent = tt.ua
			src, err := domain.RecordClick(c)
			require.NoError(t, err)
			assert.Equal(t, tt.want, src.Row().UserAgent)
			assert.Equal(t, tt.want, src.ClickData().UserAgent)
		})
	}
}

func TestRecordClick_AcceptsBoundaryInput(t *testing.T) {
	t.Parallel()
	base := "https://example.com/?q="
	tests := []struct {
		name   string
		change func(*domain.NewClick)
	}{
		{name: "click_url of exactly 2048 bytes", change: func(c *domain.NewClick) {
			c.ClickURL = base + strings.Repeat("a", domain.MaxClickURLBytes-len(base))
		}},
		{name: "http click_url", change: func(c *domain.NewClick) { c.ClickURL = "http://example.com/" }},
		{name: "upper-case scheme", change: func(c *domain.NewClick) { c.ClickURL = "HTTPS://Example.com/Landing" }},
		{name: "device_id of 128 multi-byte characters", change: func(c *domain.NewClick) { c.DeviceID = strings.Repeat("é", domain.MaxDeviceIDChars) }},
		{name: "IPv6 address", change: func(c *domain.NewClick) { c.IPAddress = "2001:db8::1" }},
		{name: "no IP address", change: func(c *domain.NewClick) { c.IPAddress = "" }},
		{name: "no user agent", change: func(c *domain.NewClick) { c.UserAgent = "" }},
		{name: "non-ASCII click_url", change: func(c *domain.NewClick) { c.ClickURL = "https://例え.jp/ページ?utm_campaign=春" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := partnerClick()
			tt.change(&c)
			src, err := domain.RecordClick(c)
			require.NoError(t, err)
			assert.Equal(t, c.ClickURL, src.Row().ClickURL)
			assert.Len(t, src.PullEvents(), 1)
		})
	}
}

func TestRecordClick_RejectsInvalidInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		change     func(*domain.NewClick)
		wantFields []string
	}{
		{name: "missing click_url", change: func(c *domain.NewClick) { c.ClickURL = "" }, wantFields: []string{"click_url"}},
		{name: "relative click_url", change: func(c *domain.NewClick) { c.ClickURL = "/landing?utm_source=google" }, wantFields: []string{"click_url"}},
		{name: "scheme-relative click_url", change: func(c *domain.NewClick) { c.ClickURL = "//example.com/landing" }, wantFields: []string{"click_url"}},
		{name: "no host", change: func(c *domain.NewClick) { c.ClickURL = "https:///landing" }, wantFields: []string{"click_url"}},
		{name: "ftp scheme", change: func(c *domain.NewClick) { c.ClickURL = "ftp://example.com/file" }, wantFields: []string{"click_url"}},
		{name: "javascript scheme", change: func(c *domain.NewClick) { c.ClickURL = "javascript:alert(1)" }, wantFields: []string{"click_url"}},
		{name: "click_url over 2048 bytes", change: func(c *domain.NewClick) {
			c.ClickURL = "https://example.com/?q=" + strings.Repeat("a", domain.MaxClickURLBytes)
		}, wantFields: []string{"click_url"}},
		{name: "NUL byte in click_url", change: func(c *domain.NewClick) { c.ClickURL = "https://example.com/\x00" }, wantFields: []string{"click_url"}},
		{name: "invalid UTF-8 in click_url", change: func(c *domain.NewClick) { c.ClickURL = "https://example.com/\xff" }, wantFields: []string{"click_url"}},
		{name: "percent-encoded NUL in a parameter", change: func(c *domain.NewClick) { c.ClickURL = "https://example.com/?utm_source=a%00b" }, wantFields: []string{"click_url"}},
		{name: "percent-encoded invalid UTF-8 in a parameter", change: func(c *domain.NewClick) { c.ClickURL = "https://example.com/?gclid=%ff" }, wantFields: []string{"click_url"}},
		{name: "empty device_id", change: func(c *domain.NewClick) { c.DeviceID = "" }, wantFields: []string{"device_id"}},
		{name: "device_id over 128 characters", change: func(c *domain.NewClick) { c.DeviceID = strings.Repeat("d", domain.MaxDeviceIDChars+1) }, wantFields: []string{"device_id"}},
		{name: "NUL in device_id", change: func(c *domain.NewClick) { c.DeviceID = "dev\x00ice" }, wantFields: []string{"device_id"}},
		{name: "invalid UTF-8 device_id", change: func(c *domain.NewClick) { c.DeviceID = "dev\xc3" }, wantFields: []string{"device_id"}},
		{name: "short correlation id", change: func(c *domain.NewClick) { c.CorrelationID = "O-abc" }, wantFields: []string{"correlation_id"}},
		{name: "missing correlation id", change: func(c *domain.NewClick) { c.CorrelationID = "" }, wantFields: []string{"correlation_id"}},
		{name: "IP that is not an address", change: func(c *domain.NewClick) { c.IPAddress = "not-an-ip" }, wantFields: []string{"ip_address"}},
		{name: "IPv4 out of range", change: func(c *domain.NewClick) { c.IPAddress = "256.1.1.1" }, wantFields: []string{"ip_address"}},
		{name: "IP with port", change: func(c *domain.NewClick) { c.IPAddress = "192.168.1.1:443" }, wantFields: []string{"ip_address"}},
		{name: "NUL in user agent", change: func(c *domain.NewClick) { c.UserAgent = "Mozilla\x00" }, wantFields: []string{"user_agent"}},
		{name: "invalid UTF-8 user agent", change: func(c *domain.NewClick) { c.UserAgent = "Mozilla\xfe" }, wantFields: []string{"user_agent"}},
		{name: "every field wrong at once", change: func(c *domain.NewClick) {
			*c = domain.NewClick{CorrelationID: "bad", ClickURL: "", DeviceID: "", UserAgent: "\xff", IPAddress: "x", Now: clickAt}
		}, wantFields: []string{"click_url", "device_id", "correlation_id", "user_agent", "ip_address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := partnerClick()
			tt.change(&c)
			src, err := domain.RecordClick(c)
			require.Error(t, err)
			assert.Nil(t, src)
			assert.ErrorIs(t, err, domain.ErrInvalidInput)
			assert.ErrorIs(t, fmt.Errorf("record click: %w", err), domain.ErrInvalidInput, "still matches when wrapped")
			assert.Equal(t, tt.wantFields, clickErrFields(t, err))
		})
	}
}

// clickErrFields returns the fields a *domain.ValidationError names.
func clickErrFields(t *testing.T, err error) []string {
	t.Helper()
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve), "want *domain.ValidationError, got %T: %v", err, err)
	fields := make([]string, 0, len(ve.Fields))
	for _, f := range ve.Fields {
		assert.NotEmpty(t, f.Message, "field %s has a message", f.Field)
		fields = append(fields, f.Field)
	}
	return fields
}

// TestRecordClick_RejectsUnstorableParameterKeys shows a bug: a NUL byte in a
// marketing parameter's *key* (https://example.com/?utm_%00=x) passes
// validation. RecordClick checks parsed_params values with checkText but not
// keys (domain/inbound_source.go, the `for k, val := range params` loop), so
// the key "utm_\x00" reaches the payload as "utm_\u0000" and PostgreSQL's
// jsonb parsed_params column rejects it ("unsupported Unicode escape
// sequence"): a 500 instead of the contract's 400.
func TestRecordClick_RejectsUnstorableParameterKeys(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"https://example.com/?utm_%00=x",
		"https://example.com/?utm_a%00b=x&utm_source=google",
	} {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			c := partnerClick()
			c.ClickURL = raw
			src, err := domain.RecordClick(c)
			if !assert.Error(t, err, "accepted parsed_params %q", clickParamsOf(src)) {
				return
			}
			assert.ErrorIs(t, err, domain.ErrInvalidInput)
			assert.Equal(t, []string{"click_url"}, clickErrFields(t, err))
		})
	}
}

func clickParamsOf(src *domain.InboundSource) domain.MarketingParams {
	if src == nil {
		return nil
	}
	return src.Row().ParsedParams
}

// TestRecordClick_RejectsClickURLWithoutHostName shows a bug: "https://:443/"
// has a port but no host name, so it is not an absolute http(s) URL anyone
// can visit (RFC 9110 §4.2.1 forbids an empty host in http URIs), yet
// RecordClick accepts it because parseClickURL tests u.Host (":443") rather
// than u.Hostname() (domain/inbound_source.go, parseClickURL). The target
// URL check (ValidateTargetURL) already tests Hostname.
func TestRecordClick_RejectsClickURLWithoutHostName(t *testing.T) {
	t.Parallel()
	c := partnerClick()
	c.ClickURL = "https://:443/landing?utm_source=google"
	_, err := domain.RecordClick(c)
	require.Error(t, err)
	assert.ErrorIs(t, err, domain.ErrInvalidInput)
	assert.Equal(t, []string{"click_url"}, clickErrFields(t, err))
}

func TestParseCorrelationID(t *testing.T) {
	t.Parallel()
	valid := []string{"O-xY123z", "O-000000", "O-ZZZZZZ", "O-abcdef"}
	for _, s := range valid {
		t.Run("valid "+s, func(t *testing.T) {
			t.Parallel()
			id, err := domain.ParseCorrelationID(s)
			require.NoError(t, err)
			assert.Equal(t, domain.CorrelationID(s), id)
		})
	}
	invalid := []string{
		"", "O-", "O-xY123", "O-xY123zz", "o-xY123z", "0-xY123z", "O_xY123z", "O-xY-23z",
		"O-xY123é", " O-xY123z", "O-xY123z ", "O-xY123z\n", "[ref: O-xY123z]", "O-xY12\x00z",
	}
	for _, s := range invalid {
		t.Run(fmt.Sprintf("invalid %q", s), func(t *testing.T) {
			t.Parallel()
			id, err := domain.ParseCorrelationID(s)
			require.Error(t, err)
			assert.Empty(t, id)
			assert.ErrorIs(t, err, domain.ErrInvalidInput)
			assert.Equal(t, []string{"correlation_id"}, clickErrFields(t, err))
		})
	}
}
