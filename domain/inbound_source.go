package domain

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"time"
	"unicode/utf8"
)

// Limits on widget click input, from the platform contract.
const (
	MaxClickURLBytes = 2048
	MaxDeviceIDChars = 128
	MaxUserAgentLen  = 1024
)

// CorrelationID is the reference a click carries into WhatsApp: "O-" and six
// characters from [A-Za-z0-9].
type CorrelationID string

var correlationIDPattern = regexp.MustCompile(`^O-[A-Za-z0-9]{6}$`)

// checkCorrelationID reports why s is not a correlation id, "" when it is.
func checkCorrelationID(s CorrelationID) string {
	if !correlationIDPattern.MatchString(string(s)) {
		return "must be O- followed by 6 letters or digits"
	}
	return ""
}

// ParseCorrelationID validates s as a correlation id.
func ParseCorrelationID(s string) (CorrelationID, error) {
	if m := checkCorrelationID(CorrelationID(s)); m != "" {
		return "", invalid("correlation_id", "%s", m)
	}
	return CorrelationID(s), nil
}

// InboundSource is one recorded click: where the visitor came from, and later
// which conversation it became.
type InboundSource struct {
	eventRecorder

	correlationID  CorrelationID
	deviceID       string
	clickURL       string
	parsedParams   MarketingParams
	userAgent      string
	ipAddress      string
	isBot          bool
	createdAt      time.Time
	correlatedAt   *time.Time
	conversationID *int64
	erasedAt       *time.Time
}

// NewClick is what a widget click brings in.
type NewClick struct {
	CorrelationID CorrelationID
	ClickURL      string
	DeviceID      string
	UserAgent     string
	IPAddress     string
	IsBot         bool
	// AnonymizeIP truncates IPAddress to its /24 (IPv4) or /48 (IPv6)
	// before it is stored or sent.
	AnonymizeIP bool
	// EventID identifies the widget.click event the click records.
	EventID string
	Now     time.Time
}

// WidgetClickData is the widget.click payload, field names as in the partner
// document.
type WidgetClickData struct {
	CorrelationID CorrelationID   `json:"correlation_id"`
	DeviceID      string          `json:"device_id"`
	ClickURL      string          `json:"click_url"`
	ParsedParams  MarketingParams `json:"parsed_params"`
	UserAgent     string          `json:"user_agent"`
	IPAddress     string          `json:"ip_address"`
}

// RecordClick validates a widget click and returns the InboundSource it
// becomes. A human click records a widget.click event; a bot's is stored
// flagged and emits nothing.
func RecordClick(c NewClick) (*InboundSource, error) {
	var v validation
	u, msg := parseClickURL(c.ClickURL)
	if msg != "" {
		v.add("click_url", "%s", msg)
	}
	if c.DeviceID == "" {
		v.add("device_id", "must not be empty")
	} else if utf8.RuneCountInString(c.DeviceID) > MaxDeviceIDChars {
		v.add("device_id", "must be at most %d characters", MaxDeviceIDChars)
	} else if m := checkText(c.DeviceID); m != "" {
		v.add("device_id", "%s", m)
	}
	if m := checkCorrelationID(c.CorrelationID); m != "" {
		v.add("correlation_id", "%s", m)
	}
	ua := truncateRunes(c.UserAgent, MaxUserAgentLen)
	if m := checkText(ua); m != "" {
		v.add("user_agent", "%s", m)
	}
	ip := c.IPAddress
	if ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			v.add("ip_address", "must be an IP address")
		} else if c.AnonymizeIP {
			ip = AnonymizeIP(ip)
		}
	}
	var params MarketingParams
	if u != nil {
		params = ParseMarketingParams(u)
		for k, val := range params {
			if m := checkText(k); m != "" {
				v.add("click_url", "a parameter name %s", m)
			} else if m := checkText(val); m != "" {
				v.add("click_url", "parameter %s %s", k, m)
			}
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	now := c.Now.UTC().Truncate(time.Millisecond)
	s := &InboundSource{
		correlationID: c.CorrelationID,
		deviceID:      c.DeviceID,
		clickURL:      c.ClickURL,
		parsedParams:  params,
		userAgent:     ua,
		ipAddress:     ip,
		isBot:         c.IsBot,
		createdAt:     now,
	}
	if !c.IsBot {
		s.record(Event{
			ID:            c.EventID,
			Type:          EventWidgetClick,
			OccurredAt:    now,
			Data:          s.ClickData(),
			CorrelationID: string(c.CorrelationID),
			LeadKey:       LeadKeyOf(c.CorrelationID, 0),
		})
	}
	return s, nil
}

// parseClickURL checks the contract's rules: present, absolute http(s), at
// most 2048 bytes, storable text. It returns a message on failure.
func parseClickURL(raw string) (*url.URL, string) {
	switch {
	case raw == "":
		return nil, "is required"
	case len(raw) > MaxClickURLBytes:
		return nil, fmt.Sprintf("must be at most %d bytes", MaxClickURLBytes)
	}
	if m := checkText(raw); m != "" {
		return nil, m
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "must be a valid URL"
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, "must be an absolute http or https URL"
	}
	return u, ""
}

// truncateBytes cuts s to at most n bytes without splitting a character.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return s[:i]
}

// InboundSourceRow is the stored form of an InboundSource.
type InboundSourceRow struct {
	CorrelationID  CorrelationID
	DeviceID       string
	ClickURL       string
	ParsedParams   MarketingParams
	UserAgent      string
	IPAddress      string
	IsBot          bool
	CreatedAt      time.Time
	CorrelatedAt   *time.Time
	ConversationID *int64
	// ErasedAt is when the click's personal data was erased.
	ErasedAt *time.Time
}

// RehydrateInboundSource rebuilds an InboundSource from storage without
// validation or events.
func RehydrateInboundSource(r InboundSourceRow) *InboundSource {
	return &InboundSource{
		correlationID: r.CorrelationID, deviceID: r.DeviceID, clickURL: r.ClickURL,
		parsedParams: r.ParsedParams, userAgent: r.UserAgent, ipAddress: r.IPAddress,
		isBot: r.IsBot, createdAt: r.CreatedAt, correlatedAt: r.CorrelatedAt,
		conversationID: r.ConversationID, erasedAt: r.ErasedAt,
	}
}

// Row returns the stored form.
func (s *InboundSource) Row() InboundSourceRow {
	return InboundSourceRow{
		CorrelationID: s.correlationID, DeviceID: s.deviceID, ClickURL: s.clickURL,
		ParsedParams: s.parsedParams, UserAgent: s.userAgent, IPAddress: s.ipAddress,
		IsBot: s.isBot, CreatedAt: s.createdAt, CorrelatedAt: s.correlatedAt,
		ConversationID: s.conversationID, ErasedAt: s.erasedAt,
	}
}

// ClickData returns the widget.click payload for this click.
func (s *InboundSource) ClickData() WidgetClickData {
	return WidgetClickData{
		CorrelationID: s.correlationID, DeviceID: s.deviceID, ClickURL: s.clickURL,
		ParsedParams: s.parsedParams, UserAgent: s.userAgent, IPAddress: s.ipAddress,
	}
}

// CorrelationID returns the click's reference.
func (s *InboundSource) CorrelationID() CorrelationID { return s.correlationID }

// DeviceID returns the visitor's device id.
func (s *InboundSource) DeviceID() string { return s.deviceID }

// CreatedAt returns when the click was recorded.
func (s *InboundSource) CreatedAt() time.Time { return s.createdAt }

// IsBot reports whether the click came from a crawler or preview fetcher.
func (s *InboundSource) IsBot() bool { return s.isBot }

// IsCorrelated reports whether the click has been linked to a conversation.
func (s *InboundSource) IsCorrelated() bool { return s.conversationID != nil }
