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

var (
	journeyClickAt = time.Date(2024, 1, 23, 10, 30, 0, 123_000_000, time.UTC)
	journeyMsgAt   = time.Date(2024, 1, 23, 10, 35, 0, 456_789_123, time.UTC)
)

const journeyChannel = "791163770738681"

// journeyClick records a human widget click made at journeyClickAt.
func journeyClick(t *testing.T, ref domain.CorrelationID) *domain.InboundSource {
	t.Helper()
	src, err := domain.RecordClick(domain.NewClick{
		CorrelationID: ref,
		ClickURL:      "https://example.com/landing?utm_source=google&gclid=AbCd123",
		DeviceID:      "550e8400-e29b-41d4-a716-446655440000",
		UserAgent:     "Mozilla/5.0",
		IPAddress:     "192.168.1.1",
		EventID:       "evt-click",
		Now:           journeyClickAt,
	})
	require.NoError(t, err)
	src.PullEvents()
	return src
}

// journeyPayloadData returns the "data" object of an event's payload, field
// by field, and checks the envelope around it.
func journeyPayloadData(t *testing.T, e domain.Event) map[string]json.RawMessage {
	t.Helper()
	b, err := e.Payload()
	require.NoError(t, err)
	var env map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &env))
	require.ElementsMatch(t, []string{"event_type", "event_id", "timestamp", "data"}, journeyKeys(env))
	assert.JSONEq(t, fmt.Sprintf("%q", e.Type), string(env["event_type"]))
	assert.JSONEq(t, fmt.Sprintf("%q", e.ID), string(env["event_id"]))
	var data map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(env["data"], &data))
	return data
}

func journeyKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func TestStartLead_WithoutSource(t *testing.T) {
	t.Parallel()

	lead, err := domain.StartLead(105, journeyChannel, domain.Sender{Phone: "+16505551234"}, nil, "evt-1", journeyMsgAt)
	require.NoError(t, err)

	assert.Empty(t, lead.PullEvents())
	row := lead.Row()
	assert.Equal(t, domain.LeadNew, row.Status)
	assert.Nil(t, row.CorrelationID)
	assert.Nil(t, row.CorrelatedAt)
	assert.Nil(t, row.CompletedAt)
	assert.Equal(t, int64(105), row.ConversationID)
	assert.Equal(t, journeyChannel, row.ChannelID)
	assert.Equal(t, domain.Sender{Phone: "+16505551234"}, row.Sender)
	assert.Equal(t, map[string]string{}, row.Data)
	assert.Equal(t, time.Date(2024, 1, 23, 10, 35, 0, 456_000_000, time.UTC), row.CreatedAt)
}

func TestStartLead_Correlated(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		sender   domain.Sender
		wantData map[string]string // raw JSON per field
		wantJSON string
	}{
		{
			name:   "phone only",
			sender: domain.Sender{Phone: "+1234567890"},
			wantData: map[string]string{
				"correlation_id": `"O-xY123z"`, "conversation_id": `105`, "phone_number": `"+1234567890"`,
				"lead_status": `"correlated"`, "channel_id": `"791163770738681"`,
			},
			wantJSON: `{"event_type":"lead.correlated","event_id":"evt-1","timestamp":"2024-01-23T10:35:00.456Z",` +
				`"data":{"correlation_id":"O-xY123z","conversation_id":105,"phone_number":"+1234567890",` +
				`"lead_status":"correlated","channel_id":"791163770738681"}}`,
		},
		{
			name:   "phone and BSUID",
			sender: domain.Sender{Phone: "+1234567890", BSUID: "US.13491208655302741918"},
			wantData: map[string]string{
				"correlation_id": `"O-xY123z"`, "conversation_id": `105`, "phone_number": `"+1234567890"`,
				"lead_status": `"correlated"`, "channel_id": `"791163770738681"`, "bsuid": `"US.13491208655302741918"`,
			},
			wantJSON: `{"event_type":"lead.correlated","event_id":"evt-1","timestamp":"2024-01-23T10:35:00.456Z",` +
				`"data":{"correlation_id":"O-xY123z","conversation_id":105,"phone_number":"+1234567890",` +
				`"lead_status":"correlated","channel_id":"791163770738681","bsuid":"US.13491208655302741918"}}`,
		},
		{
			name:   "BSUID only",
			sender: domain.Sender{BSUID: "DE.10293847561029384756"},
			wantData: map[string]string{
				"correlation_id": `"O-xY123z"`, "conversation_id": `105`, "phone_number": `null`,
				"lead_status": `"correlated"`, "channel_id": `"791163770738681"`, "bsuid": `"DE.10293847561029384756"`,
			},
			wantJSON: `{"event_type":"lead.correlated","event_id":"evt-1","timestamp":"2024-01-23T10:35:00.456Z",` +
				`"data":{"correlation_id":"O-xY123z","conversation_id":105,"phone_number":null,` +
				`"lead_status":"correlated","channel_id":"791163770738681","bsuid":"DE.10293847561029384756"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := journeyClick(t, "O-xY123z")

			lead, err := domain.StartLead(105, journeyChannel, tt.sender, src, "evt-1", journeyMsgAt)
			require.NoError(t, err)

			wantAt := time.Date(2024, 1, 23, 10, 35, 0, 456_000_000, time.UTC)
			row := lead.Row()
			assert.Equal(t, domain.LeadCorrelated, row.Status)
			require.NotNil(t, row.CorrelationID)
			assert.Equal(t, domain.CorrelationID("O-xY123z"), *row.CorrelationID)
			require.NotNil(t, row.CorrelatedAt)
			assert.Equal(t, wantAt, *row.CorrelatedAt)
			assert.Nil(t, row.CompletedAt)

			assert.True(t, src.IsCorrelated())
			srcRow := src.Row()
			require.NotNil(t, srcRow.ConversationID)
			assert.Equal(t, int64(105), *srcRow.ConversationID)
			require.NotNil(t, srcRow.CorrelatedAt)
			assert.Equal(t, wantAt, *srcRow.CorrelatedAt)
			assert.Empty(t, src.PullEvents(), "the click records nothing when correlated")

			events := lead.PullEvents()
			require.Len(t, events, 1)
			e := events[0]
			assert.Equal(t, domain.EventLeadCorrelated, e.Type)
			assert.Equal(t, "evt-1", e.ID)
			assert.Equal(t, "O-xY123z", e.CorrelationID)
			assert.Equal(t, wantAt, e.OccurredAt)

			data := journeyPayloadData(t, e)
			got := make(map[string]string, len(data))
			for k, v := range data {
				got[k] = string(v)
			}
			assert.Equal(t, tt.wantData, got)

			b, err := e.Payload()
			require.NoError(t, err)
			assert.Equal(t, tt.wantJSON, string(b))

			assert.Empty(t, lead.PullEvents(), "PullEvents forgets what it returned")
		})
	}
}

func TestStartLead_SourceAlreadyCorrelated(t *testing.T) {
	t.Parallel()

	t.Run("correlated in storage", func(t *testing.T) {
		t.Parallel()
		conv := int64(7)
		at := journeyClickAt.Add(time.Minute)
		src := domain.RehydrateInboundSource(domain.InboundSourceRow{
			CorrelationID: "O-xY123z", DeviceID: "d", ClickURL: "https://example.com/",
			CreatedAt: journeyClickAt, CorrelatedAt: &at, ConversationID: &conv,
		})

		lead, err := domain.StartLead(105, journeyChannel, domain.Sender{Phone: "+1234567890"}, src, "evt-1", journeyMsgAt)
		require.Error(t, err)
		assert.True(t, errors.Is(err, domain.ErrConflict), "got %v", err)
		assert.Nil(t, lead)
		row := src.Row()
		require.NotNil(t, row.ConversationID)
		assert.Equal(t, int64(7), *row.ConversationID, "the first conversation keeps the click")
		assert.Equal(t, &at, row.CorrelatedAt)
	})

	t.Run("second conversation claims the same click", func(t *testing.T) {
		t.Parallel()
		src := journeyClick(t, "O-xY123z")
		_, err := domain.StartLead(105, journeyChannel, domain.Sender{Phone: "+1234567890"}, src, "evt-1", journeyMsgAt)
		require.NoError(t, err)

		lead, err := domain.StartLead(106, journeyChannel, domain.Sender{Phone: "+1987654321"}, src, "evt-2", journeyMsgAt)
		require.Error(t, err)
		assert.True(t, errors.Is(err, domain.ErrConflict), "got %v", err)
		assert.Nil(t, lead)
		row := src.Row()
		require.NotNil(t, row.ConversationID)
		assert.Equal(t, int64(105), *row.ConversationID)
	})
}

func TestInboundSource_CanCorrelate(t *testing.T) {
	t.Parallel()

	const window = 168 * time.Hour
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"at creation", journeyClickAt, true},
		{"within the window", journeyClickAt.Add(window / 2), true},
		{"exactly at the window's end", journeyClickAt.Add(window), true},
		{"a millisecond too late", journeyClickAt.Add(window + time.Millisecond), false},
		{"long after", journeyClickAt.Add(30 * 24 * time.Hour), false},
		{"clock slightly behind the click", journeyClickAt.Add(-time.Second), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := journeyClick(t, "O-xY123z")
			assert.Equal(t, tt.want, src.CanCorrelate(tt.now, window))
		})
	}

	t.Run("already correlated", func(t *testing.T) {
		t.Parallel()
		src := journeyClick(t, "O-xY123z")
		require.True(t, src.CanCorrelate(journeyMsgAt, window))
		_, err := domain.StartLead(105, journeyChannel, domain.Sender{Phone: "+1234567890"}, src, "evt-1", journeyMsgAt)
		require.NoError(t, err)
		assert.False(t, src.CanCorrelate(journeyMsgAt, window))
	})

	t.Run("correlated in storage", func(t *testing.T) {
		t.Parallel()
		conv := int64(7)
		src := domain.RehydrateInboundSource(domain.InboundSourceRow{
			CorrelationID: "O-xY123z", CreatedAt: journeyClickAt, ConversationID: &conv,
		})
		assert.False(t, src.CanCorrelate(journeyClickAt, window))
	})
}

// journeyCorrelatedLead starts a correlated lead for a sender with a phone.
func journeyCorrelatedLead(t *testing.T) *domain.Lead {
	t.Helper()
	lead, err := domain.StartLead(105, journeyChannel, domain.Sender{Phone: "+1234567890", BSUID: "US.1"},
		journeyClick(t, "O-xY123z"), "evt-1", journeyMsgAt)
	require.NoError(t, err)
	require.Len(t, lead.PullEvents(), 1)
	return lead
}

func TestLeadUpdate_MergesAndDefaultsPhone(t *testing.T) {
	t.Parallel()

	lead := journeyCorrelatedLead(t)
	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data:     map[string]string{"name": "John Doe", "intent": "pricing"},
		Required: domain.DefaultRequiredLeadFields, EventID: "evt-2", Now: journeyMsgAt,
	}))
	assert.Empty(t, lead.PullEvents(), "email is still missing")
	row := lead.Row()
	assert.Equal(t, domain.LeadCorrelated, row.Status)
	assert.Nil(t, row.CompletedAt)
	assert.Equal(t, map[string]string{"name": "John Doe", "intent": "pricing", "phone": "+1234567890"}, row.Data)

	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data:     map[string]string{"intent": "demo", "company": "Acme Corp"},
		Required: domain.DefaultRequiredLeadFields, EventID: "evt-3", Now: journeyMsgAt,
	}))
	assert.Empty(t, lead.PullEvents())
	assert.Equal(t, map[string]string{
		"name": "John Doe", "intent": "demo", "company": "Acme Corp", "phone": "+1234567890",
	}, lead.Row().Data)
}

func TestLeadUpdate_PhoneGivenByAgentWins(t *testing.T) {
	t.Parallel()

	lead := journeyCorrelatedLead(t)
	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data:     map[string]string{"phone": "+4915112345678"},
		Required: domain.DefaultRequiredLeadFields, EventID: "evt-2", Now: journeyMsgAt,
	}))
	assert.Equal(t, map[string]string{"phone": "+4915112345678"}, lead.Row().Data)
}

func TestLeadUpdate_NoPhoneDefaultWithoutSenderPhone(t *testing.T) {
	t.Parallel()

	lead, err := domain.StartLead(105, journeyChannel, domain.Sender{BSUID: "DE.1"}, nil, "evt-1", journeyMsgAt)
	require.NoError(t, err)
	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data:     map[string]string{"name": "Kai", "email": "kai@example.com"},
		Required: domain.DefaultRequiredLeadFields, EventID: "evt-2", Now: journeyMsgAt,
	}))
	assert.Empty(t, lead.PullEvents(), "phone is missing, so the lead is not complete")
	assert.Equal(t, domain.LeadNew, lead.Row().Status)
	assert.Equal(t, map[string]string{"name": "Kai", "email": "kai@example.com"}, lead.Row().Data)
}

func TestLeadUpdate_AutoCompletesOnce(t *testing.T) {
	t.Parallel()

	lead := journeyCorrelatedLead(t)
	completeAt := time.Date(2024, 1, 23, 10, 45, 0, 789_999_999, time.UTC)
	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data:     map[string]string{"name": "John Doe", "email": "john.doe@example.com", "company": "Acme Corp"},
		Required: domain.DefaultRequiredLeadFields, EventID: "evt-2", Now: completeAt,
	}))

	wantAt := time.Date(2024, 1, 23, 10, 45, 0, 789_000_000, time.UTC)
	row := lead.Row()
	assert.Equal(t, domain.LeadComplete, row.Status)
	require.NotNil(t, row.CompletedAt)
	assert.Equal(t, wantAt, *row.CompletedAt)

	events := lead.PullEvents()
	require.Len(t, events, 1)
	e := events[0]
	assert.Equal(t, domain.EventLeadComplete, e.Type)
	assert.Equal(t, "evt-2", e.ID)
	assert.Equal(t, "O-xY123z", e.CorrelationID)
	assert.Equal(t, wantAt, e.OccurredAt)
	b, err := e.Payload()
	require.NoError(t, err)
	assert.Equal(t, `{"event_type":"lead.complete","event_id":"evt-2","timestamp":"2024-01-23T10:45:00.789Z",`+
		`"data":{"correlation_id":"O-xY123z","conversation_id":105,"lead_status":"complete",`+
		`"lead_data":{"company":"Acme Corp","email":"john.doe@example.com","name":"John Doe","phone":"+1234567890"}}}`,
		string(b))

	// Later updates change lead_data only.
	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data:     map[string]string{"intent": "Interested in pricing"},
		Required: domain.DefaultRequiredLeadFields, EventID: "evt-3", Now: completeAt.Add(time.Hour),
	}))
	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data: map[string]string{"note": "again"}, Complete: true,
		Required: domain.DefaultRequiredLeadFields, EventID: "evt-4", Now: completeAt.Add(2 * time.Hour),
	}))
	assert.Empty(t, lead.PullEvents())
	row = lead.Row()
	assert.Equal(t, domain.LeadComplete, row.Status)
	assert.Equal(t, wantAt, *row.CompletedAt, "completed_at stays the first completion")
	assert.Equal(t, "Interested in pricing", row.Data["intent"])
	assert.Equal(t, "again", row.Data["note"])

	// The event already recorded keeps the data it was made with.
	b2, err := e.Payload()
	require.NoError(t, err)
	assert.Equal(t, string(b), string(b2))
}

func TestLeadUpdate_CompleteTrueWithAllFields(t *testing.T) {
	t.Parallel()

	lead := journeyCorrelatedLead(t)
	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data: map[string]string{"company": "Acme"}, Complete: true,
		Required: nil, EventID: "evt-2", Now: journeyMsgAt,
	}))
	assert.Equal(t, domain.LeadComplete, lead.Row().Status)
	events := lead.PullEvents()
	require.Len(t, events, 1)
	assert.Equal(t, domain.EventLeadComplete, events[0].Type)
}

func TestLeadUpdate_CompleteTrueMissingFields(t *testing.T) {
	t.Parallel()

	lead, err := domain.StartLead(105, journeyChannel, domain.Sender{BSUID: "DE.1"}, nil, "evt-1", journeyMsgAt)
	require.NoError(t, err)
	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data: map[string]string{"company": "Acme"}, Required: domain.DefaultRequiredLeadFields, Now: journeyMsgAt,
	}))

	err = lead.Update(domain.LeadUpdate{
		Data:     map[string]string{"email": "john.doe@example.com", "intent": "pricing", "name": "   "},
		Complete: true, Required: domain.DefaultRequiredLeadFields, EventID: "evt-2", Now: journeyMsgAt,
	})
	require.Error(t, err)
	assert.True(t, errors.Is(err, domain.ErrUnprocessable), "got %v", err)
	assert.False(t, errors.Is(err, domain.ErrInvalidInput))
	assert.Equal(t, []string{"lead_data.name", "lead_data.phone"}, journeyFieldNames(t, err))

	assert.Empty(t, lead.PullEvents())
	row := lead.Row()
	assert.Equal(t, domain.LeadNew, row.Status)
	assert.Nil(t, row.CompletedAt)
	assert.Equal(t, map[string]string{"company": "Acme"}, row.Data, "a refused update merges nothing")
}

func TestLeadUpdate_CompleteTrueNothingKnown(t *testing.T) {
	t.Parallel()

	lead, err := domain.StartLead(105, journeyChannel, domain.Sender{BSUID: "DE.1"}, nil, "evt-1", journeyMsgAt)
	require.NoError(t, err)
	err = lead.Update(domain.LeadUpdate{Complete: true, Required: domain.DefaultRequiredLeadFields, Now: journeyMsgAt})
	require.Error(t, err)
	assert.True(t, errors.Is(err, domain.ErrUnprocessable))
	assert.Equal(t, []string{"lead_data.name", "lead_data.email", "lead_data.phone"}, journeyFieldNames(t, err))
}

func TestLeadUpdate_UncorrelatedCompleteHasNullCorrelationID(t *testing.T) {
	t.Parallel()

	lead, err := domain.StartLead(42, journeyChannel, domain.Sender{Phone: "+16505551234"}, nil, "evt-1", journeyMsgAt)
	require.NoError(t, err)
	require.NoError(t, lead.Update(domain.LeadUpdate{
		Data:     map[string]string{"name": "Sheena", "email": "sheena@example.com"},
		Required: domain.DefaultRequiredLeadFields, EventID: "evt-2", Now: journeyMsgAt,
	}))
	assert.Equal(t, domain.LeadComplete, lead.Row().Status)
	events := lead.PullEvents()
	require.Len(t, events, 1)
	e := events[0]
	assert.Equal(t, "", e.CorrelationID)

	data := journeyPayloadData(t, e)
	require.ElementsMatch(t, []string{"correlation_id", "conversation_id", "lead_status", "lead_data"}, journeyKeys(data))
	assert.Equal(t, "null", string(data["correlation_id"]))
	assert.Equal(t, "42", string(data["conversation_id"]))
	assert.Equal(t, `"complete"`, string(data["lead_status"]))
	assert.JSONEq(t, `{"name":"Sheena","email":"sheena@example.com","phone":"+16505551234"}`, string(data["lead_data"]))
}

func TestLeadUpdate_InvalidData(t *testing.T) {
	t.Parallel()

	fifty := func(extra int) map[string]string {
		m := map[string]string{}
		for i := range 50 + extra {
			m[fmt.Sprintf("k%02d", i)] = "v"
		}
		return m
	}
	tests := []struct {
		name   string
		data   map[string]string
		fields []string
	}{
		{"email without domain dot", map[string]string{"email": "john@example"}, []string{"lead_data.email"}},
		{"email with display name", map[string]string{"email": "John <john@example.com>"}, []string{"lead_data.email"}},
		{"email not an address", map[string]string{"email": "john"}, []string{"lead_data.email"}},
		{"email with spaces around", map[string]string{"email": " john@example.com "}, []string{"lead_data.email"}},
		{"key with uppercase", map[string]string{"Name": "x"}, []string{"lead_data"}},
		{"key starting with digit", map[string]string{"1name": "x"}, []string{"lead_data"}},
		{"key with hyphen", map[string]string{"first-name": "x"}, []string{"lead_data"}},
		{"empty key", map[string]string{"": "x"}, []string{"lead_data"}},
		{"key of 65 characters", map[string]string{"a" + strings.Repeat("b", 64): "x"}, []string{"lead_data"}},
		{"value of 1001 characters", map[string]string{"note": strings.Repeat("é", 1001)}, []string{"lead_data.note"}},
		{"NUL in value", map[string]string{"name": "John\x00Doe"}, []string{"lead_data.name"}},
		{"invalid UTF-8 in value", map[string]string{"name": "John\xffDoe"}, []string{"lead_data.name"}},
		{"51 keys", fifty(1), []string{"lead_data"}},
		{
			"several problems, all named, keys sorted",
			map[string]string{"email": "nope", "zeta": "a\x00", "Bad": "x"},
			[]string{"lead_data", "lead_data.email", "lead_data.zeta"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lead := journeyCorrelatedLead(t)
			before := lead.Row().Data

			err := lead.Update(domain.LeadUpdate{
				Data: tt.data, Complete: true, Required: nil, EventID: "evt-2", Now: journeyMsgAt,
			})
			require.Error(t, err)
			assert.True(t, errors.Is(err, domain.ErrInvalidInput), "got %v", err)
			assert.False(t, errors.Is(err, domain.ErrUnprocessable))
			assert.Equal(t, tt.fields, journeyFieldNames(t, err))

			assert.Empty(t, lead.PullEvents())
			assert.Equal(t, domain.LeadCorrelated, lead.Row().Status)
			assert.Equal(t, before, lead.Row().Data)
		})
	}
}

func TestLeadUpdate_ValidBoundaries(t *testing.T) {
	t.Parallel()

	data := map[string]string{
		"a" + strings.Repeat("b", 63): "x",
		"note":                        strings.Repeat("é", 1000),
		"email":                       "john.doe+tag@mail.example.com",
		"empty":                       "",
	}
	for i := len(data); i < 49; i++ {
		data[fmt.Sprintf("k%02d", i)] = "v"
	}
	require.Len(t, data, 49)

	lead := journeyCorrelatedLead(t)
	require.NoError(t, lead.Update(domain.LeadUpdate{Data: data, EventID: "evt-2", Now: journeyMsgAt}))
	got := lead.Row().Data
	assert.Len(t, got, 50, "49 keys plus the phone default")
	assert.Equal(t, "+1234567890", got["phone"])
	assert.Equal(t, strings.Repeat("é", 1000), got["note"])
}

func TestLeadUpdate_MergedKeysBounded(t *testing.T) {
	t.Parallel()

	lead := journeyCorrelatedLead(t)
	first := map[string]string{}
	for i := range 30 {
		first[fmt.Sprintf("a%02d", i)] = "v"
	}
	require.NoError(t, lead.Update(domain.LeadUpdate{Data: first, Now: journeyMsgAt}))
	require.Len(t, lead.Row().Data, 31) // with phone

	second := map[string]string{}
	for i := range 20 {
		second[fmt.Sprintf("b%02d", i)] = "v"
	}
	err := lead.Update(domain.LeadUpdate{Data: second, Now: journeyMsgAt})
	require.Error(t, err)
	assert.True(t, errors.Is(err, domain.ErrInvalidInput))
	assert.Equal(t, []string{"lead_data"}, journeyFieldNames(t, err))
	assert.Len(t, lead.Row().Data, 31, "nothing merged")
}

func TestValidLeadDataKey(t *testing.T) {
	t.Parallel()

	tests := []struct {
		key  string
		want bool
	}{
		{"name", true},
		{"a", true},
		{"li_fat_id", true},
		{"x9", true},
		{"a" + strings.Repeat("z", 63), true},
		{"a" + strings.Repeat("z", 64), false},
		{"", false},
		{"_name", false},
		{"9name", false},
		{"Name", false},
		{"na me", false},
		{"näme", false},
		{"name\n", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.key), func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, domain.ValidLeadDataKey(tt.key))
		})
	}
}
