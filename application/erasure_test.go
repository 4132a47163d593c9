package application_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/adapters/system"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// journeys runs the real use cases on a fresh database with one active
// webhook config (so every event gets a delivery).
type journeys struct {
	t        *testing.T
	db       *postgres.DB
	clicks   *application.Clicks
	whatsapp *application.WhatsApp
	leads    *application.Leads
	erasures *application.Erasures
	msgs     int
}

func newJourneys(t *testing.T) *journeys {
	t.Helper()
	db := pgtest.Open(t)
	_, err := db.SQL.Exec(`INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
		VALUES ($1, 'a', 'https://example.com/', 'aurix_s', now(), now())`, configIDs[0])
	require.NoError(t, err)
	uow := postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})
	clock, ids, refs := system.Clock{}, system.UUIDs{}, system.CorrelationIDs{}
	return &journeys{t: t, db: db,
		clicks:   &application.Clicks{UoW: uow, Clock: clock, IDs: ids, Refs: refs, WhatsApp: domain.WhatsAppLink{Number: "15550783881"}},
		whatsapp: &application.WhatsApp{UoW: uow, Clock: clock, IDs: ids, Refs: refs, Window: time.Hour},
		leads:    &application.Leads{UoW: uow, Clock: clock, IDs: ids, Required: domain.DefaultRequiredLeadFields},
		erasures: &application.Erasures{UoW: uow, Clock: clock, IDs: ids},
	}
}

func (j *journeys) click(url, device, ua, ip string) domain.CorrelationID {
	j.t.Helper()
	r, err := j.clicks.RecordClick(context.Background(), ports.RecordClickCommand{ClickURL: url, DeviceID: device, UserAgent: ua, IPAddress: ip})
	require.NoError(j.t, err)
	return r.CorrelationID
}

// message sends a conversation's first WhatsApp message and returns its
// conversation id.
func (j *journeys) message(sender domain.Sender, text string) int64 {
	j.t.Helper()
	j.msgs++
	require.NoError(j.t, j.whatsapp.ReceiveMessages(context.Background(), []ports.InboundMessage{{
		MessageID: "wamid.test" + strings.Repeat("x", j.msgs), ChannelID: "791163770738681", Sender: sender, Text: text}}))
	var id int64
	q := "SELECT id FROM conversations WHERE phone = $1 OR bsuid = $2 ORDER BY id DESC LIMIT 1"
	require.NoError(j.t, j.db.SQL.QueryRow(q, sender.Phone, sender.BSUID).Scan(&id))
	return id
}

func (j *journeys) complete(conv int64, data map[string]string) {
	j.t.Helper()
	_, err := j.leads.UpdateLead(context.Background(), ports.UpdateLeadCommand{ConversationID: conv, Data: data})
	require.NoError(j.t, err)
}

func (j *journeys) erase(field, value string) ports.ErasureReport {
	j.t.Helper()
	key, err := domain.ParseErasureRequest(raw(map[string]string{field: value}))
	require.NoError(j.t, err)
	rep, err := j.erasures.Erase(context.Background(), key)
	require.NoError(j.t, err)
	return rep
}

func raw(fields map[string]string) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		out[k] = json.RawMessage(v)
	}
	return out
}

// everything is every row of every table of the service, as text.
func (j *journeys) everything() string {
	j.t.Helper()
	var b strings.Builder
	for _, table := range []string{"inbound_sources", "conversations", "whatsapp_messages", "leads", "outbox", "webhook_deliveries",
		"webhook_attempts", "aurix_erasures"} {
		for _, row := range j.texts("SELECT t::text || " + payloadText(table) + " FROM " + table + " t") {
			b.WriteString(row + "\n")
		}
	}
	return b.String()
}

// texts runs a query of one text column and returns its rows.
func (j *journeys) texts(q string) []string {
	j.t.Helper()
	rows, err := j.db.SQL.Query(q)
	require.NoError(j.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(j.t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(j.t, rows.Err())
	return out
}

// payloadText shows bytea payloads as text, so a search finds what is in them.
func payloadText(table string) string {
	switch table {
	case "outbox":
		return "convert_from(payload, 'UTF8')"
	case "webhook_attempts":
		return "convert_from(response_body, 'UTF8')"
	}
	return "''::text"
}

// TestEraseByEmailReachesEveryCopy: a lead found by the email the agent
// collected (in another case) is erased with its conversation, its click
// and the device's other click; every stored payload is rewritten; the
// other lead is untouched; the erasure is logged without the email.
func TestEraseByEmailReachesEveryCopy(t *testing.T) {
	t.Parallel()
	j := newJourneys(t)
	refA := j.click("https://example.com/a?utm_source=mail&email=zed.quill%40example.org", "dev-zq-7", "Agent-ZQ/1.0", "198.51.100.77")
	looseA := j.click("https://example.com/b?utm_campaign=spring", "dev-zq-7", "Agent-ZQ/1.0", "198.51.100.77")
	convA := j.message(domain.Sender{Phone: "+15550001111", BSUID: "bsuid-zq"}, "hello [ref: "+string(refA)+"]")
	j.complete(convA, map[string]string{"name": "Zed Quill", "email": "zed.quill@example.org", "intent": "pricing"})
	refB := j.click("https://example.com/b?utm_source=ads", "dev-other", "Agent-Other/2.0", "203.0.113.5")
	convB := j.message(domain.Sender{Phone: "+15550002222"}, "[ref: "+string(refB)+"]")
	j.complete(convB, map[string]string{"name": "Ann Other", "email": "ann@example.com"})

	rep := j.erase("email", `"Zed.Quill@Example.ORG"`)
	assert.Equal(t, domain.ErasureCounts{Leads: 1, Clicks: 2, Events: 4, Notices: 2}, rep.Counts,
		"widget.click ×2, lead.correlated and lead.complete rewritten; lead.erased for the lead and for the loose click")

	all := j.everything()
	for _, personal := range []string{"zed.quill", "Zed Quill", "+15550001111", "15550001111", "bsuid-zq", "dev-zq-7", "Agent-ZQ",
		"198.51.100.77", "pricing"} {
		assert.NotContains(t, all, personal)
	}
	for _, kept := range []string{"Ann Other", "ann@example.com", "+15550002222", "dev-other", "Agent-Other/2.0", "203.0.113.5",
		"utm_campaign=spring", "utm_source=mail"} {
		assert.Contains(t, all, kept)
	}
	var notices, pendingNotices int
	require.NoError(t, j.db.SQL.QueryRow(`SELECT count(*) FROM outbox WHERE event_type = 'lead.erased'`).Scan(&notices))
	require.NoError(t, j.db.SQL.QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE event_type = 'lead.erased' AND status = 'pending'`).Scan(&pendingNotices))
	assert.Equal(t, 2, notices)
	assert.Equal(t, 2, pendingNotices, "each notice goes to the subscribed config")
	keys := j.texts(`SELECT lead_key FROM outbox WHERE event_type = 'lead.erased' ORDER BY lead_key`)
	assert.ElementsMatch(t, []string{string(refA), string(looseA)}, keys, "ordered after each lead's earlier events")

	// The agent sees the lead gone and cannot add to it.
	_, err := j.leads.GetLead(context.Background(), convA)
	assert.True(t, errors.Is(err, domain.ErrNotFound), "%v", err)
	_, err = j.leads.UpdateLead(context.Background(), ports.UpdateLeadCommand{ConversationID: convA, Data: map[string]string{"name": "Zed"}})
	assert.True(t, errors.Is(err, domain.ErrNotFound), "%v", err)
	view, err := j.leads.GetLead(context.Background(), convB)
	require.NoError(t, err)
	assert.Equal(t, "Ann Other", view.Data["name"])

	// Asked again, by another of the lead's identifiers: nothing left.
	again := j.erase("conversation_id", strconv.FormatInt(convA, 10))
	assert.Equal(t, domain.ErasureCounts{}, again.Counts)
	assert.Equal(t, domain.ErasureCounts{}, j.erase("correlation_id", `"`+string(looseA)+`"`).Counts)
	require.NoError(t, j.db.SQL.QueryRow(`SELECT count(*) FROM outbox WHERE event_type = 'lead.erased'`).Scan(&notices))
	assert.Equal(t, 2, notices, "no second notice")

	var logged int
	require.NoError(t, j.db.SQL.QueryRow(`SELECT count(*) FROM aurix_erasures`).Scan(&logged))
	assert.GreaterOrEqual(t, logged, 3, "every erasure is logged, also those that found nothing")
	var first string
	require.NoError(t, j.db.SQL.QueryRow(`SELECT t::text FROM aurix_erasures t ORDER BY id LIMIT 1`).Scan(&first))
	assert.Contains(t, first, "email")
	assert.NotContains(t, strings.ToLower(first), "zed")
}

// TestEraseByPhoneMatchesTheCollectedPhone: a lead whose sender hid their
// number (BSUID only) is found by the phone the agent collected, however
// it was written.
func TestEraseByPhoneMatchesTheCollectedPhone(t *testing.T) {
	t.Parallel()
	j := newJourneys(t)
	conv := j.message(domain.Sender{BSUID: "DE.hidden-1"}, "hello")
	j.complete(conv, map[string]string{"name": "Kai", "email": "kai@example.de", "phone": "+49 151 2345678"})
	other := j.message(domain.Sender{BSUID: "DE.hidden-2"}, "hello")
	j.complete(other, map[string]string{"name": "Lu", "email": "lu@example.de", "phone": "+49 151 9999999"})

	rep := j.erase("phone_number", `"+491512345678"`)
	assert.Equal(t, domain.ErasureCounts{Leads: 1, Events: 1, Notices: 1}, rep.Counts, "lead.complete rewritten")
	all := j.everything()
	assert.NotContains(t, all, "DE.hidden-1")
	assert.NotContains(t, all, "2345678")
	assert.NotContains(t, all, "kai@example.de")
	assert.Contains(t, all, "DE.hidden-2")
	var key string
	require.NoError(t, j.db.SQL.QueryRow(`SELECT lead_key FROM outbox WHERE event_type = 'lead.erased'`).Scan(&key))
	assert.Equal(t, domain.LeadKeyOf("", conv), key)

	// By BSUID, the other one.
	assert.Equal(t, 1, j.erase("bsuid", `"DE.hidden-2"`).Counts.Leads)
	assert.NotContains(t, j.everything(), "DE.hidden-2")
}

// TestEraseALooseClickByReference: a click that never became a lead is
// erased by its reference and announces it; it can no longer be correlated.
func TestEraseALooseClickByReference(t *testing.T) {
	t.Parallel()
	j := newJourneys(t)
	ref := j.click("https://example.com/?utm_source=x&session=abc123secret", "dev-loose-1", "Agent-Loose", "192.0.2.44")
	rep := j.erase("correlation_id", `"`+string(ref)+`"`)
	assert.Equal(t, domain.ErasureCounts{Clicks: 1, Events: 1, Notices: 1}, rep.Counts)
	all := j.everything()
	for _, personal := range []string{"dev-loose-1", "Agent-Loose", "192.0.2.44", "abc123secret"} {
		assert.NotContains(t, all, personal)
	}
	conv := j.message(domain.Sender{Phone: "+15550003333"}, "[ref: "+string(ref)+"]")
	view, err := j.leads.GetLead(context.Background(), conv)
	require.NoError(t, err)
	assert.Nil(t, view.CorrelationID, "an erased click is not linked to anyone later")
	assert.Equal(t, domain.LeadNew, view.Status)
}
