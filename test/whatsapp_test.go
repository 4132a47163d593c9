package test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReferralWithNULKeepsTheLead: a Click-to-WhatsApp message whose
// referral carries a NUL byte (JSON \u0000, which PostgreSQL cannot store)
// still opens its conversation and its lead, correlated to a click made from
// the referral; only the field with the NUL is left out.
func TestReferralWithNULKeepsTheLead(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	secret := svc.registerWebhook(t, rc.URL)
	body := sample(t, "ctwa-referral.json", `"ctwa_clid": "ARAk`, `"ctwa_clid": "AR\u0000Ak`)
	require.Contains(t, string(body), `AR\u0000Ak`)
	status, raw := svc.postWhatsApp(t, body, metaSignature(body))
	require.Equal(t, http.StatusOK, status, string(raw))

	assert.Equal(t, 1, svc.count(t, "conversations"))
	corr := rc.waitForEvents(t, secret, "lead.correlated", 1)[0]
	assert.Equal(t, "+5511987654321", corr.Data["phone_number"])
	leads := svc.list(t, "/api/integrations/topkee/leads")["data"].([]any)
	require.Len(t, leads, 1)
	lead := leads[0].(map[string]any)
	assert.Equal(t, "correlated", lead["lead_status"])
	assert.Equal(t, corr.Data["correlation_id"], lead["wa_inbound_source_correlation_id"])
	assert.Equal(t, "https://fb.me/3cr4Wqqkv", lead["wa_inbound_source_click_url"])
	assert.Equal(t, map[string]any{"source_id": "120210000000000000", "source_type": "ad"}, lead["wa_inbound_source_parsed_params"],
		"ctwa_clid, which held the NUL, is left out; the rest is kept")

	// Meta's redelivery of the same body changes nothing.
	status, _ = svc.postWhatsApp(t, body, metaSignature(body))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 1, svc.count(t, "leads"))
	assert.Equal(t, 1, svc.count(t, "inbound_sources"))
}

// TestLargeBatchIsHandledWhole: a signed batch of 1,200 messages (more than
// one transaction's worth), among them a message with a NUL in its referral
// and a message id twice, gives every sender a conversation and a lead; the
// same batch again changes nothing.
func TestLargeBatchIsHandledWhole(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	c := svc.click(t, partnerClickURL, "")
	var msgs []string
	for i := range 1200 {
		text := "hello"
		if i == 900 {
			text = "[ref: " + c.CorrelationID + "]"
		}
		m := fmt.Sprintf(`{"from":"1555%07d","id":"wamid.big-%d","type":"text","text":{"body":%q}`, i, i, text)
		if i == 600 {
			m += `,"referral":{"source_url":"https://fb.me/a\u0000d","source_type":"ad","ctwa_clid":"ARclid"}`
		}
		msgs = append(msgs, m+"}")
	}
	msgs = append(msgs, msgs[10]) // Meta may repeat a message inside a batch
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{` +
		`"messaging_product":"whatsapp","metadata":{"phone_number_id":"` + channelID + `"},"messages":[` +
		strings.Join(msgs, ",") + `]}}]}]}`)
	for range 2 {
		status, raw := svc.postWhatsApp(t, body, metaSignature(body))
		require.Equal(t, http.StatusOK, status, string(raw))
		assert.Equal(t, 1200, svc.count(t, "conversations"))
		assert.Equal(t, 1200, svc.count(t, "leads"))
		assert.Equal(t, 1200, svc.count(t, "whatsapp_messages"))
		assert.Equal(t, 2, svc.count(t, "inbound_sources"), "the widget click and the ad's click")
	}
	var status string
	require.NoError(t, svc.db(t).QueryRow(t.Context(), "SELECT l.status FROM leads l JOIN inbound_sources s ON s.conversation_id = l.conversation_id WHERE s.correlation_id = $1",
		c.CorrelationID).Scan(&status))
	assert.Equal(t, "correlated", status)
	var clickURL, params string
	require.NoError(t, svc.db(t).QueryRow(t.Context(), "SELECT click_url, parsed_params::text FROM inbound_sources WHERE correlation_id <> $1",
		c.CorrelationID).Scan(&clickURL, &params))
	assert.Equal(t, "", clickURL, "source_url held the NUL")
	assert.JSONEq(t, `{"ctwa_clid":"ARclid","source_type":"ad"}`, params)
}
