package http

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// The list items used to be encoded by encoding/json from the structs below;
// appendLead and appendAttribution must write the same bytes.
//
//	go test ./adapters/http -run='^$' -fuzz=FuzzAppendLead -fuzztime=60s

// leadItem is one Leads API record as encoding/json wrote it.
type leadItem struct {
	CorrelationID  *domain.CorrelationID    `json:"wa_inbound_source_correlation_id"`
	ConversationID int64                    `json:"conversation_id"`
	CreatedAt      domain.Timestamp         `json:"created_at"`
	CorrelatedAt   domain.NullableTimestamp `json:"wa_inbound_source_correlated_at"`
	ClickURL       *string                  `json:"wa_inbound_source_click_url"`
	ParsedParams   *domain.MarketingParams  `json:"wa_inbound_source_parsed_params"`
	LeadStatus     domain.LeadStatus        `json:"lead_status"`
	PhoneNumber    *string                  `json:"phone_number"`
	ChannelID      string                   `json:"channel_id"`
	LeadData       map[string]string        `json:"lead_data"`
	CompletedAt    domain.NullableTimestamp `json:"completed_at"`
}

func leadItemOf(r ports.LeadRecord) leadItem {
	it := leadItem{CorrelationID: r.CorrelationID, ConversationID: r.ConversationID, CreatedAt: domain.Timestamp(r.CreatedAt),
		CorrelatedAt: domain.TimestampPtr(r.CorrelatedAt), ClickURL: r.ClickURL, LeadStatus: r.Status,
		PhoneNumber: optional(r.PhoneNumber), ChannelID: r.ChannelID, LeadData: r.Data,
		CompletedAt: domain.TimestampPtr(r.CompletedAt)}
	if r.CorrelationID != nil {
		p := r.ParsedParams
		if p == nil {
			p = domain.MarketingParams{}
		}
		it.ParsedParams = &p
	}
	if it.LeadData == nil {
		it.LeadData = map[string]string{}
	}
	return it
}

// attributionItem is one Attribution API record as encoding/json wrote it.
type attributionItem struct {
	domain.WidgetClickData
	IsBot          bool                     `json:"is_bot"`
	CreatedAt      domain.Timestamp         `json:"created_at"`
	CorrelatedAt   domain.NullableTimestamp `json:"correlated_at"`
	ConversationID *int64                   `json:"conversation_id"`
}

func attributionItemOf(r ports.AttributionRecord) attributionItem {
	return attributionItem{WidgetClickData: r.Click, IsBot: r.IsBot, CreatedAt: domain.Timestamp(r.CreatedAt),
		CorrelatedAt: domain.TimestampPtr(r.CorrelatedAt), ConversationID: r.ConversationID}
}

// encodedItem is what listWriter.item wrote for v: json.Encoder with HTML
// escaping off, newline included.
func encodedItem(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return buf.String()
}

func ptr[T any](v T) *T { return &v }

func sampleLeads() []ports.LeadRecord {
	at := time.Date(2026, 2, 14, 13, 22, 5, 123456789, time.UTC)
	ref := domain.CorrelationID("O-AbC123")
	data := map[string]string{"name": "Zoë \"Z\" <z>", "email": "z@example.com", "phone": "+1", "a_1": "\n\t\x01", "bad": "\xff"}
	return []ports.LeadRecord{
		{ConversationID: 1, CreatedAt: at, Status: domain.LeadNew, ChannelID: "791163770738681"},
		{ConversationID: 2, CreatedAt: at.In(time.FixedZone("X", -5*3600)), Status: domain.LeadNew, PhoneNumber: "+15550001111",
			ChannelID: "c", Data: map[string]string{}},
		{ConversationID: 3, CreatedAt: at, Status: domain.LeadCorrelated, PhoneNumber: "+15550001111", ChannelID: "c",
			CorrelationID: &ref, CorrelatedAt: ptr(at.Add(time.Second)), ClickURL: ptr("https://example.com/?utm_source=google&gclid=AbCd<1>"),
			ParsedParams: domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "gclid": "AbCd<1>"}},
		{ConversationID: 4, CreatedAt: at, Status: domain.LeadCorrelated, ChannelID: "c", CorrelationID: &ref,
			CorrelatedAt: ptr(at), ClickURL: ptr("https://fb.me/ad")},
		{ConversationID: 1<<63 - 1, CreatedAt: at, Status: domain.LeadComplete, PhoneNumber: "+1", ChannelID: "c\u2028\"",
			CorrelationID: &ref, CorrelatedAt: ptr(at), ClickURL: ptr(""), ParsedParams: domain.MarketingParams{},
			Data: data, CompletedAt: ptr(at.Add(time.Hour))},
		{ConversationID: 6, Status: domain.LeadComplete, ChannelID: "c", Data: manyKeys(40), CompletedAt: ptr(time.Time{})},
	}
}

func manyKeys(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m["k"+strings.Repeat("x", i)] = strings.Repeat("v", i)
	}
	return m
}

func sampleClicks() []ports.AttributionRecord {
	at := time.Date(2026, 2, 14, 13, 22, 5, 999999999, time.UTC)
	click := domain.WidgetClickData{CorrelationID: "O-AbC123", DeviceID: "550e8400-e29b-41d4-a716-446655440000",
		ClickURL: "https://example.com/landing?utm_source=google&gclid=AbCd123", UserAgent: "Mozilla/5.0 <x> & \"y\"",
		IPAddress: "203.0.113.9", ParsedParams: domain.MarketingParams{"utm_source": "google", "utm_medium": "cpc", "gclid": "AbCd123"}}
	bare := click
	bare.ParsedParams = nil
	bare.UserAgent, bare.IPAddress = "", ""
	return []ports.AttributionRecord{
		{ID: 1, Click: click, CreatedAt: at},
		{ID: 2, Click: bare, IsBot: true, CreatedAt: at.In(time.FixedZone("Y", 3600))},
		{ID: 3, Click: click, CreatedAt: at, CorrelatedAt: ptr(at.Add(time.Minute)), ConversationID: ptr(int64(42))},
		{ID: 4, Click: domain.WidgetClickData{ParsedParams: domain.MarketingParams{}}},
	}
}

func TestAppendLead_SameBytesAsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, r := range sampleLeads() {
		assert.Equal(t, encodedItem(t, leadItemOf(r)), string(appendLead(nil, &r))+"\n", "lead %d", r.ConversationID)
	}
}

func TestAppendAttribution_SameBytesAsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, r := range sampleClicks() {
		assert.Equal(t, encodedItem(t, attributionItemOf(r)), string(appendAttribution(nil, &r))+"\n", "click %d", r.ID)
	}
}

func FuzzAppendLead(f *testing.F) {
	f.Add(int64(7), int64(1771075325123456789), "+15550001111", "791163770738681", "O-AbC123", "https://x/?utm_source=a&b=<c>",
		"utm_source", "google", "name", "Zoë", uint8(0xff))
	f.Add(int64(1), int64(0), "", "", "", "", "", "", "", "", uint8(0))
	f.Add(int64(-1), int64(-62135596800000000), "\u2028", "\xff", "\"", "\\", "utm_\x00", "\x7f", "a", "\u2029", uint8(0x0f))
	f.Fuzz(func(t *testing.T, id, nanos int64, phone, channel, ref, clickURL, pk, pv, dk, dv string, mask uint8) {
		at := time.Unix(0, nanos)
		r := ports.LeadRecord{ConversationID: id, CreatedAt: at, Status: domain.LeadStatus(dv), PhoneNumber: phone, ChannelID: channel}
		if mask&1 != 0 {
			c := domain.CorrelationID(ref)
			r.CorrelationID, r.CorrelatedAt, r.ClickURL = &c, ptr(at.Add(time.Duration(mask))), ptr(clickURL)
		}
		if mask&2 != 0 {
			r.ParsedParams = domain.MarketingParams{pk: pv, "utm_medium": dv}
		}
		if mask&4 != 0 {
			r.Data = map[string]string{dk: dv, pk: phone}
		}
		if mask&8 != 0 {
			r.CompletedAt = ptr(at.Add(-time.Hour))
		}
		if got, want := string(appendLead(nil, &r))+"\n", encodedItem(t, leadItemOf(r)); got != want {
			t.Fatalf("appendLead wrote\n%s\nencoding/json wrote\n%s", got, want)
		}
		c := ports.AttributionRecord{ID: id, Click: domain.WidgetClickData{CorrelationID: domain.CorrelationID(ref), DeviceID: phone,
			ClickURL: clickURL, ParsedParams: r.ParsedParams, UserAgent: dk, IPAddress: channel}, IsBot: mask&16 != 0, CreatedAt: at,
			CorrelatedAt: r.CompletedAt}
		if mask&32 != 0 {
			c.ConversationID = &id
		}
		if got, want := string(appendAttribution(nil, &c))+"\n", encodedItem(t, attributionItemOf(c)); got != want {
			t.Fatalf("appendAttribution wrote\n%s\nencoding/json wrote\n%s", got, want)
		}
	})
}

// TestListWriter_AppendItemWritesWhatItemWrote streams the same records
// through item (encoding/json, as before) and appendItem, with a buffer
// large enough for the page and one smaller than an item, and compares
// whole bodies.
func TestListWriter_AppendItemWritesWhatItemWrote(t *testing.T) {
	t.Parallel()
	leads, clicks := sampleLeads(), sampleClicks()
	next := &ports.PageKey{CreatedAt: time.Date(2026, 2, 14, 0, 0, 0, 0, time.UTC), ID: 9}
	for _, size := range []int{32 << 10, 16} {
		body := func(appended bool) string {
			rec := httptest.NewRecorder()
			lw := &listWriter{w: bufio.NewWriterSize(rec, size), rw: rec}
			for _, r := range leads {
				if appended {
					require.NoError(t, lw.appendItem(func(b []byte) []byte { return appendLead(b, &r) }))
				} else {
					require.NoError(t, lw.item(leadItemOf(r)))
				}
			}
			for _, r := range clicks {
				if appended {
					require.NoError(t, lw.appendItem(func(b []byte) []byte { return appendAttribution(b, &r) }))
				} else {
					require.NoError(t, lw.item(attributionItemOf(r)))
				}
			}
			require.NoError(t, lw.finish(true, next, "Leads fetched successfully"))
			return rec.Body.String()
		}
		want := body(false)
		assert.Equal(t, want, body(true), "buffer of %d bytes", size)
		assert.True(t, json.Valid([]byte(want)))
	}
}

func TestAppendLead_DoesNotAllocate(t *testing.T) {
	r := sampleLeads()[4]
	c := sampleClicks()[2]
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		buf = appendLead(buf[:0], &r)
		buf = appendAttribution(buf, &c)
	})
	assert.Zero(t, allocs)
}
