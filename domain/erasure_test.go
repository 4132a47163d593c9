package domain_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
)

var erasedAt = time.Date(2024, 2, 1, 9, 0, 0, 123_456_789, time.UTC)

func raw(fields map[string]string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range fields {
		out[k] = json.RawMessage(v)
	}
	return out
}

func TestParseErasureRequest_Accepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body map[string]string
		want domain.ErasureKey
	}{
		{map[string]string{"phone_number": `"+1234567890"`}, domain.ErasureKey{Field: domain.ErasePhoneNumber, Value: "+1234567890"}},
		{map[string]string{"phone_number": `" +49 (151) 234-56.78 "`}, domain.ErasureKey{Field: domain.ErasePhoneNumber, Value: "+491512345678"}},
		{map[string]string{"bsuid": `"US.13491208655302741918"`}, domain.ErasureKey{Field: domain.EraseBSUID, Value: "US.13491208655302741918"}},
		{map[string]string{"email": `"John.Doe@Example.com"`}, domain.ErasureKey{Field: domain.EraseEmail, Value: "john.doe@example.com"}},
		{map[string]string{"correlation_id": `"O-xY123z"`}, domain.ErasureKey{Field: domain.EraseCorrelationID, Value: "O-xY123z"}},
		{map[string]string{"conversation_id": `105`}, domain.ErasureKey{Field: domain.EraseConversationID, Value: "105", ConversationID: 105}},
	}
	for _, tt := range tests {
		got, err := domain.ParseErasureRequest(raw(tt.body))
		require.NoError(t, err, tt.body)
		assert.Equal(t, tt.want, got)
	}
	k, _ := domain.ParseErasureRequest(raw(map[string]string{"phone_number": `"+1234567890"`}))
	assert.Equal(t, "1234567890", k.PhoneDigits())
}

func TestParseErasureRequest_RefusesNamingTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   map[string]string
		fields []string
	}{
		{"nothing", nil, []string{"phone_number", "bsuid", "email", "correlation_id", "conversation_id"}},
		{"two fields", map[string]string{"email": `"a@example.com"`, "bsuid": `"x"`}, []string{"bsuid", "email"}},
		{"unknown field", map[string]string{"phone": `"+1234567890"`}, []string{"phone"}},
		{"unknown beside a known one", map[string]string{"phone_number": `"+1234567890"`, "name": `"Jo"`}, []string{"name"}},
		{"phone without +", map[string]string{"phone_number": `"1234567890"`}, []string{"phone_number"}},
		{"phone too short", map[string]string{"phone_number": `"+12345"`}, []string{"phone_number"}},
		{"phone with letters", map[string]string{"phone_number": `"+1234abc890"`}, []string{"phone_number"}},
		{"phone a number", map[string]string{"phone_number": `1234567890`}, []string{"phone_number"}},
		{"phone null", map[string]string{"phone_number": `null`}, []string{"phone_number"}},
		{"email not an address", map[string]string{"email": `"john"`}, []string{"email"}},
		{"empty bsuid", map[string]string{"bsuid": `"  "`}, []string{"bsuid"}},
		{"bsuid with NUL", map[string]string{"bsuid": `"a\u0000b"`}, []string{"bsuid"}},
		{"long bsuid", map[string]string{"bsuid": `"` + longString(300) + `"`}, []string{"bsuid"}},
		{"bad reference", map[string]string{"correlation_id": `"O-123"`}, []string{"correlation_id"}},
		{"conversation as string", map[string]string{"conversation_id": `"105"`}, []string{"conversation_id"}},
		{"conversation zero", map[string]string{"conversation_id": `0`}, []string{"conversation_id"}},
		{"conversation fraction", map[string]string{"conversation_id": `1.5`}, []string{"conversation_id"}},
		{"conversation negative", map[string]string{"conversation_id": `-3`}, []string{"conversation_id"}},
	}
	for _, tt := range tests {
		_, err := domain.ParseErasureRequest(raw(tt.body))
		require.Error(t, err, tt.name)
		assert.True(t, errors.Is(err, domain.ErrInvalidInput), tt.name)
		var ve *domain.ValidationError
		require.True(t, errors.As(err, &ve), tt.name)
		var got []string
		for _, f := range ve.Fields {
			got = append(got, f.Field)
		}
		assert.ElementsMatch(t, tt.fields, got, tt.name)
	}
}

func longString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'x'
	}
	return string(b)
}

// completedLead is a correlated lead the agent completed.
func completedLead(t *testing.T) *domain.Lead {
	t.Helper()
	src := journeyClick(t, "O-xY123z")
	src.PullEvents()
	lead, err := domain.StartLead(105, journeyChannel, domain.Sender{Phone: "+16505551234", BSUID: "US.1"}, src, "e-corr", journeyMsgAt)
	require.NoError(t, err)
	require.NoError(t, lead.Update(domain.LeadUpdate{Data: map[string]string{"name": "John Doe", "email": "john@example.com"},
		Required: domain.DefaultRequiredLeadFields, EventID: "e-done", Now: journeyMsgAt.Add(time.Minute)}))
	lead.PullEvents()
	return lead
}

func TestLeadErase(t *testing.T) {
	t.Parallel()
	lead := completedLead(t)
	before := lead.Row()

	require.True(t, lead.Erase("e-erased", erasedAt))
	row := lead.Row()
	assert.Equal(t, domain.Sender{}, row.Sender, "phone and BSUID go")
	assert.Equal(t, map[string]string{}, row.Data, "everything the agent collected goes")
	assert.Equal(t, before.Status, row.Status, "status stays")
	assert.Equal(t, before.CorrelationID, row.CorrelationID)
	assert.Equal(t, before.ChannelID, row.ChannelID)
	assert.Equal(t, before.CreatedAt, row.CreatedAt)
	assert.Equal(t, before.CompletedAt, row.CompletedAt)
	require.NotNil(t, row.ErasedAt)
	assert.True(t, lead.IsErased())

	events := lead.PullEvents()
	require.Len(t, events, 1)
	ev := events[0]
	assert.Equal(t, domain.EventLeadErased, ev.Type)
	assert.Equal(t, "O-xY123z", ev.LeadKey, "ordered after the lead's earlier events")
	payload, err := ev.Payload()
	require.NoError(t, err)
	assert.JSONEq(t, `{"event_type":"lead.erased","event_id":"e-erased","timestamp":"2024-02-01T09:00:00.123Z",`+
		`"data":{"correlation_id":"O-xY123z","conversation_id":105,"erased_at":"2024-02-01T09:00:00.123Z"}}`, string(payload))

	assert.False(t, lead.Erase("e-again", erasedAt.Add(time.Hour)), "a second erasure changes nothing")
	assert.Empty(t, lead.PullEvents(), "and announces nothing")
	err = lead.Update(domain.LeadUpdate{Data: map[string]string{"name": "Back again"}, EventID: "e", Now: erasedAt})
	assert.True(t, errors.Is(err, domain.ErrNotFound), "an erased lead takes no more data: %v", err)
	assert.Equal(t, map[string]string{}, lead.Row().Data)
}

func TestLeadErase_WithoutClick(t *testing.T) {
	t.Parallel()
	lead, err := domain.StartLead(7, journeyChannel, domain.Sender{BSUID: "DE.1"}, nil, "", journeyMsgAt)
	require.NoError(t, err)
	require.True(t, lead.Erase("e-erased", erasedAt))
	ev := lead.PullEvents()[0]
	assert.Equal(t, "conversation:7", ev.LeadKey)
	b, err := ev.Payload()
	require.NoError(t, err)
	assert.JSONEq(t, `{"event_type":"lead.erased","event_id":"e-erased","timestamp":"2024-02-01T09:00:00.123Z",`+
		`"data":{"correlation_id":null,"conversation_id":7,"erased_at":"2024-02-01T09:00:00.123Z"}}`, string(b))
}

func TestClickErase(t *testing.T) {
	t.Parallel()
	src, err := domain.RecordClick(domain.NewClick{CorrelationID: "O-aBc123",
		ClickURL: "https://example.com/landing?utm_source=google&email=jo%40example.com&gclid=G#top", DeviceID: "dev-1",
		UserAgent: "Mozilla/5.0 (X11)", IPAddress: "203.0.113.9", EventID: "e-click", Now: journeyClickAt})
	require.NoError(t, err)
	src.PullEvents()
	before := src.Row()

	require.True(t, src.Erase("e-erased", erasedAt))
	row := src.Row()
	assert.Empty(t, row.DeviceID)
	assert.Empty(t, row.UserAgent)
	assert.Empty(t, row.IPAddress)
	assert.Equal(t, "https://example.com/landing?utm_source=google&gclid=G", row.ClickURL)
	assert.Equal(t, before.ParsedParams, row.ParsedParams, "marketing parameters stay: counts by campaign stay true")
	assert.Equal(t, before.CreatedAt, row.CreatedAt)
	assert.Equal(t, before.CorrelationID, row.CorrelationID)
	assert.False(t, src.CanCorrelate(journeyClickAt, time.Hour), "an erased click is not linked to anyone later")

	events := src.PullEvents()
	require.Len(t, events, 1, "a click that never became a lead announces its own erasure")
	b, err := events[0].Payload()
	require.NoError(t, err)
	assert.JSONEq(t, `{"event_type":"lead.erased","event_id":"e-erased","timestamp":"2024-02-01T09:00:00.123Z",`+
		`"data":{"correlation_id":"O-aBc123","conversation_id":null,"erased_at":"2024-02-01T09:00:00.123Z"}}`, string(b))
	assert.False(t, src.Erase("e-2", erasedAt))
	assert.Empty(t, src.PullEvents())

	// A lead's click leaves the announcement to the lead.
	conv := int64(9)
	linked := domain.RehydrateInboundSource(domain.InboundSourceRow{CorrelationID: "O-zzz999", DeviceID: "d",
		ClickURL: "https://example.com/", CreatedAt: journeyClickAt, ConversationID: &conv})
	require.True(t, linked.Erase("e-3", erasedAt))
	assert.Empty(t, linked.PullEvents())
	// A bot's click was never announced; neither is its erasure.
	bot := domain.RehydrateInboundSource(domain.InboundSourceRow{CorrelationID: "O-bot999", DeviceID: "d",
		ClickURL: "https://example.com/", CreatedAt: journeyClickAt, IsBot: true})
	require.True(t, bot.Erase("e-4", erasedAt))
	assert.Empty(t, bot.PullEvents())
}

func TestEraseEventPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ      domain.EventType
		in, want string
	}{
		{domain.EventWidgetClick,
			`{"event_type":"widget.click","event_id":"e1","timestamp":"2024-01-23T10:30:00.123Z","data":{"correlation_id":"O-xY123z",` +
				`"device_id":"550e8400","click_url":"https://example.com/landing?utm_source=google&email=a%40b.c&gclid=AbCd123",` +
				`"parsed_params":{"utm_source":"google","utm_medium":"cpc","gclid":"AbCd123"},"user_agent":"Mozilla/5.0","ip_address":"192.168.1.1"}}`,
			`{"event_type":"widget.click","event_id":"e1","timestamp":"2024-01-23T10:30:00.123Z","data":{"correlation_id":"O-xY123z",` +
				`"device_id":"","click_url":"https://example.com/landing?utm_source=google&gclid=AbCd123",` +
				`"parsed_params":{"utm_source":"google","utm_medium":"cpc","gclid":"AbCd123"},"user_agent":"","ip_address":""}}`},
		{domain.EventLeadCorrelated,
			`{"event_type":"lead.correlated","event_id":"e2","timestamp":"2024-01-23T10:35:00.456Z","data":{"correlation_id":"O-xY123z",` +
				`"conversation_id":105,"phone_number":"+1234567890","lead_status":"correlated","channel_id":"791163770738681","bsuid":"US.1"}}`,
			`{"event_type":"lead.correlated","event_id":"e2","timestamp":"2024-01-23T10:35:00.456Z","data":{"correlation_id":"O-xY123z",` +
				`"conversation_id":105,"phone_number":null,"lead_status":"correlated","channel_id":"791163770738681"}}`},
		{domain.EventLeadComplete,
			`{"event_type":"lead.complete","event_id":"e3","timestamp":"2024-01-23T10:45:00.789Z","data":{"correlation_id":null,` +
				`"conversation_id":105,"lead_status":"complete","lead_data":{"name":"John Doe","email":"john.doe@example.com"}}}`,
			`{"event_type":"lead.complete","event_id":"e3","timestamp":"2024-01-23T10:45:00.789Z","data":{"correlation_id":null,` +
				`"conversation_id":105,"lead_status":"complete","lead_data":{}}}`},
		{domain.EventLeadErased,
			`{"event_type":"lead.erased","event_id":"e4","timestamp":"2024-02-01T09:00:00.000Z","data":{"correlation_id":"O-xY123z","conversation_id":105,"erased_at":"2024-02-01T09:00:00.000Z"}}`,
			`{"event_type":"lead.erased","event_id":"e4","timestamp":"2024-02-01T09:00:00.000Z","data":{"correlation_id":"O-xY123z","conversation_id":105,"erased_at":"2024-02-01T09:00:00.000Z"}}`},
	}
	for _, tt := range tests {
		got, err := domain.EraseEventPayload(tt.typ, []byte(tt.in))
		require.NoError(t, err, tt.typ)
		assert.Equal(t, tt.want, string(got), "byte for byte: %s", tt.typ)
		again, err := domain.EraseEventPayload(tt.typ, got)
		require.NoError(t, err)
		assert.Equal(t, string(got), string(again), "erasing an erased payload changes nothing: %s", tt.typ)
	}
	_, err := domain.EraseEventPayload("lead.lost", []byte(`{}`))
	assert.Error(t, err)
	_, err = domain.EraseEventPayload(domain.EventWidgetClick, []byte(`not json`))
	assert.Error(t, err)
}

// TestEraseEventPayload_OfRecordedEvents: the payloads the aggregates write
// come out without any of their personal values.
func TestEraseEventPayload_OfRecordedEvents(t *testing.T) {
	t.Parallel()
	src, err := domain.RecordClick(domain.NewClick{CorrelationID: "O-xY123z", ClickURL: "https://example.com/?utm_source=a&n=Zed%20Q",
		DeviceID: "device-zq", UserAgent: "Agent-zq", IPAddress: "198.51.100.7", EventID: "e1", Now: journeyClickAt})
	require.NoError(t, err)
	lead, err := domain.StartLead(105, journeyChannel, domain.Sender{Phone: "+15550001111", BSUID: "bsuid-zq"}, src, "e2", journeyMsgAt)
	require.NoError(t, err)
	require.NoError(t, lead.Update(domain.LeadUpdate{Data: map[string]string{"name": "Zed Q", "email": "zed@example.org"},
		Required: domain.DefaultRequiredLeadFields, EventID: "e3", Now: journeyMsgAt}))
	for _, ev := range append(src.PullEvents(), lead.PullEvents()...) {
		b, err := ev.Payload()
		require.NoError(t, err)
		erased, err := domain.EraseEventPayload(ev.Type, b)
		require.NoError(t, err)
		for _, personal := range []string{"device-zq", "Agent-zq", "198.51.100.7", "+15550001111", "15550001111", "bsuid-zq", "Zed", "zed@example.org"} {
			assert.NotContains(t, string(erased), personal, ev.Type)
		}
		assert.Contains(t, string(erased), `"O-xY123z"`, ev.Type)
	}
}
