package test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	appSecret   = "e2e-app-secret"
	agentKey    = "e2e-agent-key"
	channelID   = "791163770738681"
	samplesPath = "../../shared/spec/whatsapp-samples"
)

// sample reads one of Meta's sample notifications, with replacements.
func sample(t *testing.T, name string, replace ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesPath, name))
	require.NoError(t, err)
	return []byte(strings.NewReplacer(replace...).Replace(string(b)))
}

func metaSignature(body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// postWhatsApp delivers a notification the way Meta does, signed.
func (s *service) postWhatsApp(t *testing.T, body []byte, signature string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/whatsapp/webhook", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

// event is a received webhook, decoded.
type event struct {
	Type    string         `json:"event_type"`
	ID      string         `json:"event_id"`
	Time    string         `json:"timestamp"`
	Data    map[string]any `json:"data"`
	raw     []byte
	headers http.Header
}

// events decodes what the receiver got, checking every signature the
// partner's way.
func (rc *receiver) events(t *testing.T, secret string) []event {
	t.Helper()
	var out []event
	for _, d := range rc.deliveries() {
		require.True(t, partnerVerify(d.Body, d.Header.Get("x-hub-signature"), secret), "x-hub-signature of %s", d.Body)
		var e event
		require.NoError(t, json.Unmarshal(d.Body, &e))
		e.raw, e.headers = d.Body, d.Header
		out = append(out, e)
	}
	return out
}

// waitForEvents waits until the receiver has n events of type typ.
func (rc *receiver) waitForEvents(t *testing.T, secret, typ string, n int) []event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []event
		for _, e := range rc.events(t, secret) {
			if e.Type == typ {
				got = append(got, e)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d %s events, want %d", len(got), typ, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *service) patchLead(t *testing.T, conversationID any, body string) (int, map[string]any) {
	t.Helper()
	resp, raw := s.do(t, http.MethodPatch, fmt.Sprintf("/api/conversations/%v/lead", conversationID), agentKey, body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

func (s *service) list(t *testing.T, path string) map[string]any {
	t.Helper()
	resp, raw := s.do(t, http.MethodGet, path, topkeeKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return out
}

var timestampPattern = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`

// TestLeadJourneyByReference: click → WhatsApp message quoting the reference
// → lead.correlated → the agent completes the lead → lead.complete → the lead
// and the click in the partner APIs.
func TestLeadJourneyByReference(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	secret := svc.registerWebhook(t, rc.URL)
	c := svc.click(t, partnerClickURL, "550e8400-e29b-41d4-a716-446655440000")
	clickEv := rc.waitForEvents(t, secret, "widget.click", 1)[0]

	status, _ := svc.postWhatsApp(t, sample(t, "text-with-ref.json", "O-xY123z", c.CorrelationID),
		metaSignature(sample(t, "text-with-ref.json", "O-xY123z", c.CorrelationID)))
	require.Equal(t, http.StatusOK, status)

	corr := rc.waitForEvents(t, secret, "lead.correlated", 1)[0]
	require.NoError(t, standardWebhooksVerify(corr.headers, corr.raw, whsec(secret)))
	assert.Regexp(t, timestampPattern, corr.Time)
	convID := corr.Data["conversation_id"]
	require.IsType(t, float64(0), convID, "conversation_id is a number")
	assert.Equal(t, map[string]any{
		"correlation_id": c.CorrelationID, "conversation_id": convID, "phone_number": "+16505551234",
		"lead_status": "correlated", "channel_id": channelID, "bsuid": "US.13491208655302741918",
	}, corr.Data)

	// The agent sees the lead, adds name and email; phone comes from WhatsApp.
	resp, raw := svc.do(t, http.MethodGet, fmt.Sprintf("/api/conversations/%v/lead", convID), agentKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	code, lead := svc.patchLead(t, convID, `{"lead_data":{"name":"John Doe","email":"john.doe@example.com","company":"Acme Corp","intent":"Interested in pricing"},"complete":false}`)
	require.Equal(t, http.StatusOK, code, lead)
	assert.Equal(t, "complete", lead["lead_status"])
	assert.Equal(t, c.CorrelationID, lead["correlation_id"])
	assert.Equal(t, "+16505551234", lead["phone_number"])
	assert.Equal(t, channelID, lead["channel_id"])
	for _, f := range []string{"created_at", "correlated_at", "completed_at"} {
		assert.Regexp(t, timestampPattern, lead[f], f)
	}

	done := rc.waitForEvents(t, secret, "lead.complete", 1)[0]
	assert.Equal(t, map[string]any{
		"correlation_id": c.CorrelationID, "conversation_id": convID, "lead_status": "complete",
		"lead_data": map[string]any{"name": "John Doe", "email": "john.doe@example.com", "phone": "+16505551234",
			"company": "Acme Corp", "intent": "Interested in pricing"},
	}, done.Data)

	// A later update changes the data and emits nothing.
	code, lead = svc.patchLead(t, convID, `{"lead_data":{"intent":"Wants a demo"},"complete":true}`)
	require.Equal(t, http.StatusOK, code, lead)
	assert.Equal(t, "Wants a demo", lead["lead_data"].(map[string]any)["intent"])

	// The Leads API shows the lead with every documented field.
	leads := svc.list(t, "/api/integrations/topkee/leads")
	assert.Equal(t, "Leads fetched successfully", leads["message"])
	items := leads["data"].([]any)
	require.Len(t, items, 1)
	item := items[0].(map[string]any)
	assert.Equal(t, c.CorrelationID, item["wa_inbound_source_correlation_id"])
	assert.Equal(t, convID, item["conversation_id"])
	assert.Equal(t, corr.Time, item["wa_inbound_source_correlated_at"])
	assert.Equal(t, partnerClickURL, item["wa_inbound_source_click_url"])
	assert.Equal(t, map[string]any{"utm_source": "google", "utm_medium": "cpc", "gclid": "AbCd123"}, item["wa_inbound_source_parsed_params"])
	assert.Equal(t, "complete", item["lead_status"])
	assert.Equal(t, "+16505551234", item["phone_number"])
	assert.Equal(t, channelID, item["channel_id"])
	assert.Equal(t, done.Time, item["completed_at"])
	assert.Regexp(t, timestampPattern, item["created_at"])
	assert.Equal(t, "Wants a demo", item["lead_data"].(map[string]any)["intent"])
	assert.NotContains(t, leads, "next_cursor", "without limit every record comes and there is no cursor")

	// The Attribution API shows the click with what it became.
	attr := svc.list(t, "/api/integrations/topkee/attribution?limit=5")
	assert.Equal(t, "Attribution logs fetched successfully", attr["message"])
	assert.Nil(t, attr["next_cursor"])
	clicks := attr["data"].([]any)
	require.Len(t, clicks, 1)
	ci := clicks[0].(map[string]any)
	for k, v := range clickEv.Data {
		assert.Equal(t, v, ci[k], "attribution field %s equals the widget.click data", k)
	}
	assert.Equal(t, c.CreatedAt, ci["created_at"])
	assert.Equal(t, corr.Time, ci["correlated_at"])
	assert.Equal(t, convID, ci["conversation_id"])
	assert.Equal(t, false, ci["is_bot"])
}

// TestLeadFromClickToWhatsAppAd: a CTWA referral makes its own click and
// correlates at once.
func TestLeadFromClickToWhatsAppAd(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	secret := svc.registerWebhook(t, rc.URL)
	body := sample(t, "ctwa-referral.json")
	status, _ := svc.postWhatsApp(t, body, metaSignature(body))
	require.Equal(t, http.StatusOK, status)

	corr := rc.waitForEvents(t, secret, "lead.correlated", 1)[0]
	ref, _ := corr.Data["correlation_id"].(string)
	assert.Regexp(t, `^O-[A-Za-z0-9]{6}$`, ref)
	assert.Equal(t, "+5511987654321", corr.Data["phone_number"])
	assert.Equal(t, "BR.88127731200193847711", corr.Data["bsuid"])
	assert.Equal(t, "correlated", corr.Data["lead_status"])

	attr := svc.list(t, "/api/integrations/topkee/attribution")
	items := attr["data"].([]any)
	require.Len(t, items, 1)
	click := items[0].(map[string]any)
	assert.Equal(t, ref, click["correlation_id"])
	assert.Equal(t, "https://fb.me/3cr4Wqqkv", click["click_url"])
	assert.Equal(t, map[string]any{
		"ctwa_clid":   "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a",
		"source_id":   "120210000000000000",
		"source_type": "ad",
	}, click["parsed_params"])
	assert.Equal(t, corr.Data["conversation_id"], click["conversation_id"])

	// No widget.click: nobody clicked the widget.
	time.Sleep(500 * time.Millisecond)
	for _, e := range rc.events(t, secret) {
		assert.NotEqual(t, "widget.click", e.Type)
	}

	code, lead := svc.patchLead(t, corr.Data["conversation_id"], `{"lead_data":{"name":"Ana Lima","email":"ana@example.com.br"}}`)
	require.Equal(t, http.StatusOK, code, lead)
	done := rc.waitForEvents(t, secret, "lead.complete", 1)[0]
	assert.Equal(t, ref, done.Data["correlation_id"])
	assert.Equal(t, "+5511987654321", done.Data["lead_data"].(map[string]any)["phone"])
}

// TestLeadWithHiddenNumber: only a BSUID is known; phone_number is null and
// completion needs the phone from the agent.
func TestLeadWithHiddenNumber(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	secret := svc.registerWebhook(t, rc.URL)
	c := svc.click(t, "https://example.com/?utm_source=newsletter", "")
	body := sample(t, "bsuid-only.json", "O-Q7w2Lm", c.CorrelationID)
	status, _ := svc.postWhatsApp(t, body, metaSignature(body))
	require.Equal(t, http.StatusOK, status)

	corr := rc.waitForEvents(t, secret, "lead.correlated", 1)[0]
	assert.Equal(t, c.CorrelationID, corr.Data["correlation_id"])
	assert.Contains(t, corr.Data, "phone_number")
	assert.Nil(t, corr.Data["phone_number"])
	assert.Equal(t, "DE.10293847561029384756", corr.Data["bsuid"])
	conv := corr.Data["conversation_id"]

	code, lead := svc.patchLead(t, conv, `{"lead_data":{"name":"Kai","email":"kai@example.de"}}`)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "correlated", lead["lead_status"], "phone is still missing")
	assert.Nil(t, lead["phone_number"])

	code, problem := svc.patchLead(t, conv, `{"complete":true}`)
	require.Equal(t, http.StatusUnprocessableEntity, code, problem)
	require.Equal(t, "lead_data.phone", problem["errors"].([]any)[0].(map[string]any)["field"])

	code, lead = svc.patchLead(t, conv, `{"lead_data":{"phone":"+49 151 2345678"}}`)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "complete", lead["lead_status"])
	rc.waitForEvents(t, secret, "lead.complete", 1)
}

// TestLeadWithoutReference: no reference, no referral → a new lead, no
// lead.correlated, and its completion says correlation_id null.
func TestLeadWithoutReference(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	secret := svc.registerWebhook(t, rc.URL)
	body := sample(t, "text-with-ref.json", "[ref: O-xY123z]", "hello there")
	status, _ := svc.postWhatsApp(t, body, metaSignature(body))
	require.Equal(t, http.StatusOK, status)

	leads := svc.list(t, "/api/integrations/topkee/leads")
	items := leads["data"].([]any)
	require.Len(t, items, 1)
	item := items[0].(map[string]any)
	assert.Equal(t, "new", item["lead_status"])
	assert.Nil(t, item["wa_inbound_source_correlation_id"])
	assert.Nil(t, item["wa_inbound_source_click_url"])
	assert.Nil(t, item["wa_inbound_source_parsed_params"])
	conv := item["conversation_id"]

	code, lead := svc.patchLead(t, conv, `{"lead_data":{"name":"Sheena Nelson","email":"sheena@example.com"}}`)
	require.Equal(t, http.StatusOK, code, lead)
	done := rc.waitForEvents(t, secret, "lead.complete", 1)[0]
	assert.Contains(t, done.Data, "correlation_id")
	assert.Nil(t, done.Data["correlation_id"])
	assert.Contains(t, string(done.raw), `"correlation_id":null`)
	for _, e := range rc.events(t, secret) {
		assert.NotEqual(t, "lead.correlated", e.Type)
	}
}

// TestRedeliveredAndConcurrentNotifications: the same notification three
// times, and two notifications of one conversation at once, give one
// conversation, one lead and one event.
func TestRedeliveredAndConcurrentNotifications(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	secret := svc.registerWebhook(t, rc.URL)
	c := svc.click(t, partnerClickURL, "")
	body := sample(t, "text-with-ref.json", "O-xY123z", c.CorrelationID)
	for range 3 {
		status, _ := svc.postWhatsApp(t, body, metaSignature(body))
		require.Equal(t, http.StatusOK, status)
	}

	// A second sender: two different messages sent at the same moment.
	second := func(id string) []byte {
		return sample(t, "text-with-ref.json", "16505551234", "447700900123", "US.13491208655302741918", "GB.1", "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", id, "O-xY123z", "O-zzzzzz")
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := second(fmt.Sprintf("wamid.concurrent-%d", i%2))
			status, _ := svc.postWhatsApp(t, b, metaSignature(b))
			assert.Equal(t, http.StatusOK, status)
		}()
	}
	wg.Wait()

	conn := svc.db(t)
	var conversations, leadsN, correlated int
	ctx := context.Background()
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM conversations").Scan(&conversations))
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM leads").Scan(&leadsN))
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE event_type = 'lead.correlated'").Scan(&correlated))
	assert.Equal(t, 2, conversations)
	assert.Equal(t, 2, leadsN)
	assert.Equal(t, 1, correlated)
	rc.waitForEvents(t, secret, "lead.correlated", 1)
	time.Sleep(500 * time.Millisecond)
	n := 0
	for _, e := range rc.events(t, secret) {
		if e.Type == "lead.correlated" {
			n++
		}
	}
	assert.Equal(t, 1, n, "one lead.correlated delivered")
}

// TestReferenceIsNotStolen: a second conversation quoting a reference that
// is already correlated gets a new lead, not the click.
func TestReferenceIsNotStolen(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	c := svc.click(t, partnerClickURL, "")
	first := sample(t, "text-with-ref.json", "O-xY123z", c.CorrelationID)
	status, _ := svc.postWhatsApp(t, first, metaSignature(first))
	require.Equal(t, http.StatusOK, status)
	thief := sample(t, "text-with-ref.json", "O-xY123z", c.CorrelationID, "16505551234", "15555550100",
		"US.13491208655302741918", "US.2", "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "wamid.thief")
	status, _ = svc.postWhatsApp(t, thief, metaSignature(thief))
	require.Equal(t, http.StatusOK, status)

	leads := svc.list(t, "/api/integrations/topkee/leads")["data"].([]any)
	require.Len(t, leads, 2)
	byPhone := map[string]map[string]any{}
	for _, l := range leads {
		m := l.(map[string]any)
		byPhone[m["phone_number"].(string)] = m
	}
	assert.Equal(t, "correlated", byPhone["+16505551234"]["lead_status"])
	assert.Equal(t, c.CorrelationID, byPhone["+16505551234"]["wa_inbound_source_correlation_id"])
	assert.Equal(t, "new", byPhone["+15555550100"]["lead_status"])
	assert.Nil(t, byPhone["+15555550100"]["wa_inbound_source_correlation_id"])
}

// TestWhatsAppWebhookGuards: signature, verify token and statuses.
func TestWhatsAppWebhookGuards(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	body := sample(t, "text-with-ref.json")

	status, raw := svc.postWhatsApp(t, body, "sha256="+strings.Repeat("0", 64))
	assert.Equal(t, http.StatusUnauthorized, status, string(raw))
	status, _ = svc.postWhatsApp(t, body, "")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = svc.postWhatsApp(t, body, metaSignature(append([]byte(nil), body[:len(body)-1]...)))
	assert.Equal(t, http.StatusUnauthorized, status, "signature over other bytes")
	assert.Equal(t, 0, svc.count(t, "whatsapp_messages"))
	assert.Equal(t, 0, svc.count(t, "conversations"))

	notJSON := []byte("not json")
	status, raw = svc.postWhatsApp(t, notJSON, metaSignature(notJSON))
	assert.Equal(t, http.StatusBadRequest, status, string(raw))

	statuses := sample(t, "status-update.json")
	status, _ = svc.postWhatsApp(t, statuses, metaSignature(statuses))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, 0, svc.count(t, "conversations"))

	verify := func(token string) (int, string) {
		q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {token}, "hub.challenge": {"1158201444"}}
		resp, raw := svc.do(t, http.MethodGet, "/api/whatsapp/webhook?"+q.Encode(), "", nil)
		return resp.StatusCode, string(raw)
	}
	code, text := verify("e2e-verify-token")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "1158201444", text)
	code, _ = verify("wrong")
	assert.Equal(t, http.StatusForbidden, code)
}

// TestAgentAndPartnerAPIGuards: keys, bad parameters and bad lead data.
func TestAgentAndPartnerAPIGuards(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	body := sample(t, "text-with-ref.json")
	status, _ := svc.postWhatsApp(t, body, metaSignature(body))
	require.Equal(t, http.StatusOK, status)
	conv := svc.list(t, "/api/integrations/topkee/leads")["data"].([]any)[0].(map[string]any)["conversation_id"]
	path := fmt.Sprintf("/api/conversations/%v/lead", conv)

	for _, key := range []string{"", "wrong", topkeeKey} {
		resp, _ := svc.do(t, http.MethodGet, path, key, nil)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "key %q", key)
	}
	resp, _ := svc.do(t, http.MethodGet, "/api/conversations/999999/lead", agentKey, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	bad := map[string]string{
		"invalid email":  `{"lead_data":{"email":"not-an-email"}}`,
		"bad key":        `{"lead_data":{"Name":"x"}}`,
		"non-string":     `{"lead_data":{"name":42}}`,
		"value too long": `{"lead_data":{"name":"` + strings.Repeat("x", 1001) + `"}}`,
		"NUL in value":   `{"lead_data":{"name":"a\u0000b"}}`,
		"complete type":  `{"complete":"yes"}`,
		"too many keys":  tooManyKeys(),
		"malformed JSON": `{"lead_data":`,
	}
	for name, b := range bad {
		code, p := svc.patchLead(t, conv, b)
		assert.Equal(t, http.StatusBadRequest, code, "%s: %v", name, p)
	}
	resp, _ = svc.do(t, http.MethodGet, path, agentKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	for _, q := range []struct{ query, param string }{
		{"limit=0", "limit"}, {"limit=10001", "limit"}, {"limit=ten", "limit"},
		{"from_date=yesterday", "from_date"}, {"to_date=2024-13-01", "to_date"},
		{"cursor=bm9wZQ", "cursor"}, {"cursor=%21%21", "cursor"},
	} {
		for _, api := range []string{"leads", "attribution"} {
			resp, raw := svc.do(t, http.MethodGet, "/api/integrations/topkee/"+api+"?"+q.query, topkeeKey, nil)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s: %s", api, q.query, raw)
			assert.Contains(t, string(raw), `"field":"`+q.param+`"`, "%s %s", api, q.query)
		}
	}
	resp, _ = svc.do(t, http.MethodGet, "/api/integrations/topkee/leads", otherKey, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func tooManyKeys() string {
	parts := make([]string, 51)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	return `{"lead_data":{` + strings.Join(parts, ",") + `}}`
}
