package test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const e2eAdminPassword = "e2e-admin-password-42"

// clickAs records a click as a browser behind the trusted proxy would.
func (s *service) clickAs(t *testing.T, clickURL, deviceID, userAgent, forwardedFor string) clickReply {
	t.Helper()
	body, err := json.Marshal(map[string]string{"click_url": clickURL, "device_id": deviceID})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/widget/click", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Forwarded-For", forwardedFor)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw := readAll(t, resp)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
	var c clickReply
	require.NoError(t, json.Unmarshal(raw, &c))
	return c
}

// erase posts an erasure with the admin's credentials.
func (s *service) erase(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	resp, raw := s.adminPost(t, "admin", e2eAdminPassword, body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

func (s *service) adminPost(t *testing.T, user, password, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/admin/erasures", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp, readAll(t, resp)
}

// whatsAppFrom is the sample text message, sent by another person.
func whatsAppFrom(t *testing.T, ref, phoneDigits, bsuid, name, wamid, text string) []byte {
	t.Helper()
	return sample(t, "text-with-ref.json",
		"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", wamid,
		"16505551234", phoneDigits, "US.13491208655302741918", bsuid, "Sheena Nelson", name,
		"Hi! I'd like to know more. [ref: O-xY123z]", text+" [ref: "+ref+"]")
}

// pgDump is every row of the database as pg_dump writes it, River's tables
// included.
func pgDump(t *testing.T, dbURL string) string {
	t.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		bin = "/usr/lib/postgresql/15/bin/pg_dump"
	}
	out, err := exec.Command(bin, "--data-only", "--no-owner", "--dbname="+dbURL).Output()
	require.NoError(t, err, "pg_dump")
	require.Contains(t, string(out), "COPY public.river_job", "River's tables are in the dump")
	return string(out)
}

// assertAbsent fails for each value found in the dump as text, or inside a
// bytea column (which pg_dump writes as hex).
func assertAbsent(t *testing.T, dump string, values ...string) {
	t.Helper()
	lower := strings.ToLower(dump)
	for _, v := range values {
		// The dump is long: say where, not all of it.
		if i := strings.Index(lower, strings.ToLower(v)); i >= 0 {
			t.Errorf("%q is still stored: …%s…", v, dump[max(0, i-200):min(len(dump), i+100)])
		}
		if i := strings.Index(lower, hex.EncodeToString([]byte(v))); i >= 0 {
			t.Errorf("%q is still stored, in a bytea: …%s…", v, dump[max(0, i-200):min(len(dump), i+100)])
		}
	}
}

// TestErasureLeavesNothingBehind: a whole journey with distinctive values
// (phone, BSUID, name, email, device id, user agent, IP address, a URL
// parameter, the WhatsApp message id and text), with the partner's answers
// echoing every body into the attempt excerpts and the lead's last event
// still pending, is erased by phone number. A dump of the whole database
// then holds none of those values; the pending event goes out erased, and
// lead.erased follows it; a second lead is intact, its deliveries verify
// and came in its order; erasing again erases nothing.
func TestErasureLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{
		"AURIX_ADMIN_PASSWORD":         e2eAdminPassword,
		"AURIX_TRUSTED_PROXIES":        "127.0.0.1",
		"AURIX_WEBHOOK_RETRY_SCHEDULE": "3s,3s,3s,3s,3s,3s,3s,3s",
	})
	var hold atomic.Bool
	hold.Store(true)
	// The partner echoes each body in its answer, so the attempts' response
	// excerpts hold copies too; while hold is set it fails the first lead's
	// lead.complete.
	var rc *receiver
	rc = newScriptedReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		rcBody := string(rc.deliveries()[n-1].Body)
		status := http.StatusOK
		if hold.Load() && r.Header.Get("X-Aurix-Event") == "lead.complete" && strings.Contains(rcBody, "Quentin") {
			status = http.StatusInternalServerError
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "echo: "+rcBody)
	})
	secret := svc.registerWebhook(t, rc.URL)

	const (
		phone  = "15557654321"
		bsuid  = "US.ERASEME0000777"
		name   = "Quentin Erasable"
		email  = "quentin.erasable@example.org"
		device = "dev-erase-7f3a9c"
		agent  = "ErasureProbe/7.7 (Qx9)"
		ip     = "198.51.100.77"
		wamid  = "wamid.ERASEqx7Zm9vYmFy"
		words  = "Zyzzyx-private-words"
	)
	clickA := svc.clickAs(t, "https://example.com/landing?utm_source=erasetest&utm_campaign=spring&email=quentin.erasable%40example.org&gclid=Gx1",
		device, agent, ip)
	looseA := svc.clickAs(t, "https://example.com/pricing?utm_source=erasetest&ref=friend-of-quentin", device, agent, ip)
	clickB := svc.clickAs(t, "https://example.com/landing?utm_source=keeptest", "dev-keep-1", "KeptAgent/1.0", "203.0.113.200")
	bodyA := whatsAppFrom(t, clickA.CorrelationID, phone, bsuid, name, wamid, words)
	status, raw := svc.postWhatsApp(t, bodyA, metaSignature(bodyA))
	require.Equal(t, http.StatusOK, status, string(raw))
	bodyB := whatsAppFrom(t, clickB.CorrelationID, "15558880000", "US.KEEPME000888", "Kept Person", "wamid.KEEPxyz", "hello")
	status, raw = svc.postWhatsApp(t, bodyB, metaSignature(bodyB))
	require.Equal(t, http.StatusOK, status, string(raw))
	corr := rc.waitForEvents(t, secret, "lead.correlated", 2)
	convOf := map[string]any{}
	for _, e := range corr {
		convOf[e.Data["correlation_id"].(string)] = e.Data["conversation_id"]
	}
	convA, convB := convOf[clickA.CorrelationID], convOf[clickB.CorrelationID]
	require.NotNil(t, convA)
	require.NotNil(t, convB)

	code, lead := svc.patchLead(t, convA, `{"lead_data":{"name":"`+name+`","email":"`+email+`","company":"Erasure Probe Ltd"}}`)
	require.Equal(t, http.StatusOK, code, lead)
	code, lead = svc.patchLead(t, convB, `{"lead_data":{"name":"Kept Person","email":"kept.person@example.com"}}`)
	require.Equal(t, http.StatusOK, code, lead)
	rc.waitForEvents(t, secret, "lead.complete", 2) // B's, and A's first (failed) attempt
	db := svc.db(t)
	eventually(t, 10*time.Second, "A's lead.complete failed once and waits for its retry", func() bool {
		var attempts int
		err := db.QueryRow(context.Background(), `SELECT d.attempts FROM webhook_deliveries d JOIN outbox o ON o.id = d.outbox_id
			WHERE o.event_type = 'lead.complete' AND o.correlation_id = $1 AND d.status = 'pending'`, clickA.CorrelationID).Scan(&attempts)
		return err == nil && attempts >= 1
	})

	// Erase by phone number, written as a person would.
	code, rep := svc.erase(t, `{"phone_number":"+1 (555) 765-4321"}`)
	require.Equal(t, http.StatusOK, code, rep)
	assert.Equal(t, "phone_number", rep["field"])
	assert.Regexp(t, timestampPattern, rep["erased_at"])
	assert.EqualValues(t, 1, rep["leads"])
	assert.EqualValues(t, 1, rep["conversations"])
	assert.EqualValues(t, 2, rep["clicks"], "the lead's click and the device's other click")
	assert.EqualValues(t, 4, rep["events"], "two widget.click, lead.correlated, lead.complete")
	assert.GreaterOrEqual(t, rep["attempts"], float64(4), "every echoed answer")
	assert.EqualValues(t, 2, rep["lead_erased_events"])

	// The pending event goes out erased, then lead.erased follows it.
	hold.Store(false)
	erased := rc.waitForEvents(t, secret, "lead.erased", 2)
	var firstA, retryA event
	eventually(t, 20*time.Second, "A's lead.complete sent again, erased", func() bool {
		firstA, retryA = event{}, event{}
		for _, e := range rc.events(t, secret) {
			if e.Type == "lead.complete" && e.Data["conversation_id"] == convA {
				if firstA.ID == "" {
					firstA = e
				}
				retryA = e
			}
		}
		return firstA.ID != "" && !strings.Contains(string(retryA.raw), "Quentin")
	})
	require.Contains(t, string(firstA.raw), "Quentin", "the first attempt, before the erasure, carried the data")
	assert.Equal(t, firstA.ID, retryA.ID, "the same event, its payload erased")
	assert.Equal(t, map[string]any{}, retryA.Data["lead_data"])
	assert.NotContains(t, string(retryA.raw), "Quentin")
	for _, e := range erased {
		require.NoError(t, standardWebhooksVerify(e.headers, e.raw, whsec(secret)))
		switch e.Data["correlation_id"] {
		case clickA.CorrelationID:
			assert.Equal(t, convA, e.Data["conversation_id"])
			assert.Equal(t, rep["erased_at"], e.Data["erased_at"])
		case looseA.CorrelationID:
			assert.Nil(t, e.Data["conversation_id"], "a click that never became a lead")
		default:
			t.Errorf("lead.erased for %v", e.Data["correlation_id"])
		}
	}
	arrival := map[string]time.Time{}
	for _, d := range rc.deliveries() {
		var e event
		require.NoError(t, json.Unmarshal(d.Body, &e))
		arrival[e.Type+" "+fmt.Sprint(e.Data["correlation_id"])] = d.At
	}
	assert.True(t, arrival["lead.erased "+clickA.CorrelationID].After(arrival["lead.complete "+clickA.CorrelationID]),
		"lead.erased comes after the lead's earlier events")
	time.Sleep(time.Second) // let every answer be stored

	dump := pgDump(t, svc.DBURL)
	assertAbsent(t, dump, phone, "765-4321", bsuid, name, "Quentin", email, "quentin.erasable", "Erasure Probe", device, agent,
		ip, wamid, "ERASEqx7", words, "friend-of-quentin")
	for _, kept := range []string{"15558880000", "US.KEEPME000888", "Kept Person", "kept.person@example.com", "dev-keep-1",
		"KeptAgent/1.0", "203.0.113.200", "utm_source=erasetest", "spring", clickA.CorrelationID} {
		assert.Contains(t, dump, kept, "what is not the erased person's stays")
	}

	// The other lead is intact, and so are the counts by campaign.
	leads := svc.list(t, "/api/integrations/topkee/leads")["data"].([]any)
	require.Len(t, leads, 2, "an erased lead is still counted")
	for _, it := range leads {
		l := it.(map[string]any)
		switch l["conversation_id"] {
		case convA:
			assert.Nil(t, l["phone_number"])
			assert.Equal(t, map[string]any{}, l["lead_data"])
			assert.Equal(t, "complete", l["lead_status"], "statuses stay")
			assert.Equal(t, clickA.CorrelationID, l["wa_inbound_source_correlation_id"])
			assert.Equal(t, "https://example.com/landing?utm_source=erasetest&utm_campaign=spring&gclid=Gx1", l["wa_inbound_source_click_url"])
			assert.Equal(t, map[string]any{"utm_source": "erasetest", "utm_medium": "cpc", "utm_campaign": "spring", "gclid": "Gx1"},
				l["wa_inbound_source_parsed_params"])
		case convB:
			assert.Equal(t, "+15558880000", l["phone_number"])
			assert.Equal(t, "Kept Person", l["lead_data"].(map[string]any)["name"])
		}
	}
	for _, it := range svc.list(t, "/api/integrations/topkee/attribution")["data"].([]any) {
		c := it.(map[string]any)
		switch c["correlation_id"] {
		case clickB.CorrelationID:
			assert.Equal(t, "KeptAgent/1.0", c["user_agent"])
			assert.Equal(t, "203.0.113.200", c["ip_address"])
			assert.Equal(t, "dev-keep-1", c["device_id"])
		case clickA.CorrelationID:
			assert.Empty(t, c["user_agent"])
			assert.Empty(t, c["ip_address"])
			assert.Empty(t, c["device_id"])
			assert.Equal(t, map[string]any{"utm_source": "erasetest", "utm_medium": "cpc", "utm_campaign": "spring", "gclid": "Gx1"},
				c["parsed_params"], "marketing parameters stay")
		case looseA.CorrelationID:
			assert.Empty(t, c["user_agent"])
			assert.Empty(t, c["device_id"])
			assert.Equal(t, "https://example.com/pricing?utm_source=erasetest", c["click_url"])
			assert.Equal(t, map[string]any{"utm_source": "erasetest"}, c["parsed_params"])
		}
	}
	resp, raw := svc.do(t, http.MethodGet, fmt.Sprintf("/api/conversations/%v/lead", convA), agentKey, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the agent finds nothing of the erased lead: %s", raw)

	// Every delivery verifies the partner's way; B's came in its order.
	var orderB []string
	for _, e := range rc.events(t, secret) {
		require.NoError(t, standardWebhooksVerify(e.headers, e.raw, whsec(secret)))
		if e.Data["correlation_id"] == clickB.CorrelationID {
			orderB = append(orderB, e.Type)
		}
	}
	assert.Equal(t, []string{"widget.click", "lead.correlated", "lead.complete"}, orderB)

	// Asked again: nothing left, no second notice; both are logged, with no value.
	code, again := svc.erase(t, `{"phone_number":"+15557654321"}`)
	require.Equal(t, http.StatusOK, code)
	for _, k := range []string{"leads", "conversations", "clicks", "events", "attempts", "lead_erased_events"} {
		assert.EqualValues(t, 0, again[k], k)
	}
	time.Sleep(500 * time.Millisecond)
	assert.Len(t, rc.waitForEvents(t, secret, "lead.erased", 2), 2)
	var log []string
	rows, err := db.Query(context.Background(), "SELECT t::text FROM aurix_erasures t ORDER BY id")
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		log = append(log, s)
	}
	require.NoError(t, rows.Err())
	require.Len(t, log, 2)
	assert.Contains(t, log[0], "phone_number")
	assert.NotContains(t, strings.Join(log, " "), "4321")
	assert.NotContains(t, svc.logs.String(), phone, "the identifier never reaches the logs")
}

// TestErasureRequestsAreChecked: the admin's credentials only, exactly one
// field, each refusal a problem naming the field, and none changes a row.
func TestErasureRequestsAreChecked(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_ADMIN_PASSWORD": e2eAdminPassword})
	svc.click(t, partnerClickURL, "d-checked")
	before := map[string]int{}
	for _, table := range appTables {
		before[table] = svc.count(t, table)
	}
	for _, creds := range [][2]string{{"", ""}, {"admin", "wrong"}, {"root", e2eAdminPassword}, {"admin", ""}} {
		resp, raw := svc.adminPost(t, creds[0], creds[1], `{"correlation_id":"O-xY123z"}`)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%v: %s", creds, raw)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic")
		requireProblem(t, http.MethodPost, resp, raw)
	}
	resp, raw := svc.do(t, http.MethodPost, "/api/admin/erasures", topkeeKey, `{"correlation_id":"O-xY123z"}`)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a partner's key is no admin credential: %s", raw)
	resp, raw = svc.do(t, http.MethodGet, "/api/admin/erasures", "", nil)
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, string(raw))
	assert.Equal(t, http.MethodPost, resp.Header.Get("Allow"))

	for body, fields := range map[string][]string{
		`{}`: {"phone_number", "bsuid", "email", "correlation_id", "conversation_id"},
		`{"phone_number":"+15551234567","email":"a@example.com"}`: {"phone_number", "email"},
		`{"phone":"+15551234567"}`:                                {"phone"},
		`{"phone_number":"555-1234"}`:                             {"phone_number"},
		`{"email":"not-an-email"}`:                                {"email"},
		`{"correlation_id":"x"}`:                                  {"correlation_id"},
		`{"conversation_id":"105"}`:                               {"conversation_id"},
		`{"conversation_id":0}`:                                   {"conversation_id"},
		`{"bsuid":""}`:                                            {"bsuid"},
	} {
		resp, raw := svc.adminPost(t, "admin", e2eAdminPassword, body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", body, raw)
		p := requireProblem(t, http.MethodPost, resp, raw)
		var got []string
		for _, f := range p.Errors {
			got = append(got, f.Field)
		}
		assert.ElementsMatch(t, fields, got, body)
	}
	for _, body := range []string{`[]`, `null`, `{"email":`, `{"conversation_id":1}{}`} {
		resp, raw := svc.adminPost(t, "admin", e2eAdminPassword, body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", body, raw)
		requireProblem(t, http.MethodPost, resp, raw)
	}
	resp, raw = svc.sendJSON(t, http.MethodPost, "/api/admin/erasures", "", "text/plain", `{"bsuid":"x"}`)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "credentials are judged before the body: %s", raw)
	for _, table := range appTables {
		assert.Equal(t, before[table], svc.count(t, table), "rows in %s", table)
	}

	// Without a password the route answers 401 whatever is sent.
	noAdmin := startService(t, nil)
	resp, raw = noAdmin.adminPost(t, "admin", "", `{"bsuid":"x"}`)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(raw))
}
