package test

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const partnerClickURL = "https://example.com/landing?utm_source=google&gclid=AbCd123"

type clickReply struct {
	CorrelationID string `json:"correlation_id"`
	DeviceID      string `json:"device_id"`
	WhatsAppURL   string `json:"whatsapp_url"`
	CreatedAt     string `json:"created_at"`
}

func (s *service) click(t *testing.T, clickURL, deviceID string) clickReply {
	t.Helper()
	body := map[string]any{"click_url": clickURL}
	if deviceID != "" {
		body["device_id"] = deviceID
	}
	resp, raw := s.do(t, http.MethodPost, "/api/widget/click", "", body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
	var c clickReply
	require.NoError(t, json.Unmarshal(raw, &c))
	return c
}

// TestClickBecomesSignedWebhook is the spine end to end: a registered partner
// receives one widget.click whose signatures verify the partner's way and the
// Standard Webhooks way.
func TestClickBecomesSignedWebhook(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	secret := svc.registerWebhook(t, rc.URL+"/webhooks/aurix")

	c := svc.click(t, partnerClickURL, "550e8400-e29b-41d4-a716-446655440000")
	require.Regexp(t, `^O-[A-Za-z0-9]{6}$`, c.CorrelationID)
	require.Equal(t, "550e8400-e29b-41d4-a716-446655440000", c.DeviceID)
	require.Equal(t, "https://wa.me/15550783881?text=Hi%21%20I%27d%20like%20to%20know%20more.%20%5Bref%3A%20"+c.CorrelationID+"%5D", c.WhatsAppURL)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, c.CreatedAt)

	got := rc.waitFor(t, 1, 15*time.Second)
	d := got[0]
	assert.Equal(t, "application/json", d.Header.Get("Content-Type"))
	assert.True(t, partnerVerify(d.Body, d.Header.Get("x-hub-signature"), secret), "x-hub-signature must pass the partner's verify_signature")
	assert.False(t, partnerVerify(d.Body, d.Header.Get("x-hub-signature"), secret+"x"), "a wrong secret must not verify")
	require.NoError(t, standardWebhooksVerify(d.Header, d.Body, whsec(secret)))
	assert.Equal(t, "widget.click", d.Header.Get("X-Aurix-Event"))
	assert.Equal(t, "1", d.Header.Get("X-Aurix-Attempt"))
	assert.True(t, strings.HasPrefix(d.Header.Get("User-Agent"), "Aurix-Webhooks/"))

	var ev struct {
		EventType string `json:"event_type"`
		EventID   string `json:"event_id"`
		Timestamp string `json:"timestamp"`
		Data      map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(d.Body, &ev))
	assert.Equal(t, "widget.click", ev.EventType)
	assert.Equal(t, d.Header.Get("webhook-id"), ev.EventID)
	assert.Equal(t, c.CreatedAt, ev.Timestamp)
	keys := make([]string, 0, len(ev.Data))
	for k := range ev.Data {
		keys = append(keys, k)
	}
	assert.ElementsMatch(t, []string{"correlation_id", "device_id", "click_url", "parsed_params", "user_agent", "ip_address"}, keys)
	assert.JSONEq(t, `{"utm_source":"google","utm_medium":"cpc","gclid":"AbCd123"}`, string(ev.Data["parsed_params"]))
	assert.JSONEq(t, `"`+c.CorrelationID+`"`, string(ev.Data["correlation_id"]))
	assert.JSONEq(t, `"`+partnerClickURL+`"`, string(ev.Data["click_url"]))
	assert.JSONEq(t, `"127.0.0.1"`, string(ev.Data["ip_address"]))
	assert.Contains(t, string(d.Body), `"click_url":"`+partnerClickURL+`"`, "the & is sent as is")

	// Exactly one delivery: nothing more arrives.
	time.Sleep(time.Second)
	assert.Len(t, rc.deliveries(), 1)

	// The delivery is a row that names its event and config and ended
	// succeeded, its claim released; River's jobs (the periodic
	// maintenance River UI shows) never carry a payload or a secret.
	var status string
	var attempts int
	var owner *string
	require.NoError(t, svc.db(t).QueryRow(context.Background(),
		"SELECT status, attempts, owner::text FROM webhook_deliveries WHERE event_id = $1", ev.EventID).Scan(&status, &attempts, &owner))
	assert.Equal(t, "succeeded", status)
	assert.Equal(t, 1, attempts)
	assert.Nil(t, owner, "the claim ends with the outcome")
	var jobs string
	require.NoError(t, svc.db(t).QueryRow(context.Background(),
		"SELECT coalesce(string_agg(kind || args::text || metadata::text, ' '), '') FROM river_job").Scan(&jobs))
	for _, leak := range []string{secret, c.CorrelationID, "example.com"} {
		assert.NotContains(t, jobs, leak)
	}
}

// TestFailedDeliveriesAreRetriedWithIdenticalBytes: 500, 500, then 200 gives
// three attempts of the same event with the same bytes, all recorded.
func TestFailedDeliveriesAreRetriedWithIdenticalBytes(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "200ms,200ms,200ms"})
	rc := newReceiver(t, 500, 500, 200)
	secret := svc.registerWebhook(t, rc.URL)
	svc.click(t, partnerClickURL, "")

	got := rc.waitFor(t, 3, 60*time.Second)
	for i, d := range got {
		assert.Equal(t, got[0].Body, d.Body, "attempt %d body", i+1)
		assert.Equal(t, got[0].Header.Get("webhook-id"), d.Header.Get("webhook-id"))
		assert.Equal(t, got[0].Header.Get("x-hub-signature"), d.Header.Get("x-hub-signature"))
		assert.True(t, partnerVerify(d.Body, d.Header.Get("x-hub-signature"), secret))
		assert.Equal(t, []string{"1", "2", "3"}[i], d.Header.Get("X-Aurix-Attempt"))
	}

	// The attempts table shows all three, the last one successful.
	conn := svc.db(t)
	var eventID string
	require.NoError(t, json.Unmarshal(got[0].Body, &struct {
		EventID *string `json:"event_id"`
	}{&eventID}))
	require.Eventually(t, func() bool {
		var n int
		_ = conn.QueryRow(context.Background(), "SELECT count(*) FROM webhook_attempts WHERE event_id = $1", eventID).Scan(&n)
		return n == 3
	}, 10*time.Second, 50*time.Millisecond)
	rows, err := conn.Query(context.Background(),
		"SELECT attempt, coalesce(status_code, 0), error, convert_from(response_body, 'UTF8') FROM webhook_attempts WHERE event_id = $1 ORDER BY attempt", eventID)
	require.NoError(t, err)
	type row struct {
		attempt, status int
		errText, body   string
	}
	var all []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.attempt, &r.status, &r.errText, &r.body))
		all = append(all, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []row{
		{1, 500, "receiver answered 500", "answered 500"},
		{2, 500, "receiver answered 500", "answered 500"},
		{3, 200, "", "answered 200"},
	}, all)
}

// TestBadInputIsRefusedAndLeavesNothing sends what careless or hostile
// clients send; each gets its documented status as problem+json, and no row
// is written.
func TestBadInputIsRefusedAndLeavesNothing(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS": "", "AURIX_WEBHOOK_ALLOW_INSECURE": ""})

	big := `{"click_url":"https://example.com/?x=` + strings.Repeat("a", 70<<10) + `"}`
	cases := []struct {
		name, method, path, key string
		body                    any
		status                  int
		field                   string
	}{
		{"missing click_url", "POST", "/api/widget/click", "", `{}`, 400, "click_url"},
		{"relative click_url", "POST", "/api/widget/click", "", `{"click_url":"/landing?utm_source=x"}`, 400, "click_url"},
		{"ftp click_url", "POST", "/api/widget/click", "", `{"click_url":"ftp://example.com/"}`, 400, "click_url"},
		{"NUL byte in click_url", "POST", "/api/widget/click", "", `{"click_url":"https://example.com/\u0000"}`, 400, "click_url"},
		{"NUL byte in device_id", "POST", "/api/widget/click", "", `{"click_url":"https://example.com/","device_id":"a\u0000b"}`, 400, "device_id"},
		{"percent-encoded NUL in a utm value", "POST", "/api/widget/click", "", `{"click_url":"https://example.com/?utm_source=a%00b"}`, 400, "click_url"},
		{"click_url too long", "POST", "/api/widget/click", "", `{"click_url":"https://example.com/?q=` + strings.Repeat("a", 2100) + `"}`, 400, "click_url"},
		{"device_id too long", "POST", "/api/widget/click", "", `{"click_url":"https://example.com/","device_id":"` + strings.Repeat("d", 129) + `"}`, 400, "device_id"},
		{"wrong JSON type", "POST", "/api/widget/click", "", `{"click_url":42}`, 400, ""},
		{"array body", "POST", "/api/widget/click", "", `["https://example.com/"]`, 400, ""},
		{"malformed JSON", "POST", "/api/widget/click", "", `{"click_url":`, 400, ""},
		{"trailing garbage", "POST", "/api/widget/click", "", `{"click_url":"https://example.com/"} {}`, 400, ""},
		{"empty body", "POST", "/api/widget/click", "", ``, 400, ""},
		{"body over 64 KiB", "POST", "/api/widget/click", "", big, 413, ""},
		{"webhook URL not https", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":"http://example.com/hook"}`, 400, "url"},
		{"webhook URL private", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":"https://10.0.0.5/hook"}`, 400, "url"},
		{"webhook URL loopback", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":"https://127.0.0.1:8443/hook"}`, 400, "url"},
		{"webhook URL localhost name", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":"https://localhost/hook"}`, 400, "url"},
		{"webhook URL mapped loopback", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":"https://[::ffff:127.0.0.1]/hook"}`, 400, "url"},
		{"webhook URL relative", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":"/hook"}`, 400, "url"},
		{"webhook URL wrong type", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":["https://example.com"]}`, 400, ""},
		{"webhook config over 64 KiB", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":"https://example.com/` + strings.Repeat("a", 70<<10) + `"}`, 413, ""},
		{"missing key", "PUT", "/api/integrations/topkee/webhook-config", "", `{"url":"https://example.com/hook"}`, 401, ""},
		{"wrong key", "PUT", "/api/integrations/topkee/webhook-config", "nope", `{"url":"https://example.com/hook"}`, 401, ""},
		{"other service's valid key", "PUT", "/api/integrations/topkee/webhook-config", otherKey, `{"url":"https://example.com/hook"}`, 401, ""},
		{"other service's key on GET", "GET", "/api/integrations/topkee/webhook-config", otherKey, nil, 401, ""},
		{"unknown service", "GET", "/api/integrations/nobody/webhook-config", topkeeKey, nil, 401, ""},
		{"GET before first PUT", "GET", "/api/integrations/topkee/webhook-config", topkeeKey, nil, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := svc.do(t, tc.method, tc.path, tc.key, tc.body)
			require.Equal(t, tc.status, resp.StatusCode, string(raw))
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			var p struct {
				Type   string `json:"type"`
				Title  string `json:"title"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
				Errors []struct {
					Field   string `json:"field"`
					Message string `json:"message"`
				} `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(raw, &p), string(raw))
			require.Equal(t, tc.status, p.Status)
			require.NotEmpty(t, p.Title)
			require.NotEmpty(t, p.Type)
			if tc.field != "" {
				require.NotEmpty(t, p.Errors, string(raw))
				require.Equal(t, tc.field, p.Errors[0].Field)
			}
			require.NotContains(t, string(raw), topkeeKey)
		})
	}
	for _, table := range []string{"inbound_sources", "outbox", "webhook_configs", "webhook_attempts", "river_job"} {
		assert.Equal(t, 0, svc.count(t, table), "rows left in %s", table)
	}
	assert.NotContains(t, svc.logs.String(), topkeeKey, "API keys never reach the logs")
}

// TestWebhookConfigKeepsItsSecret: a second PUT changes the URL but not the
// secret, and GET shows the same object.
func TestWebhookConfigKeepsItsSecret(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	first := svc.registerWebhook(t, "https://partner.example/one")
	resp, raw := svc.do(t, "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, `{"url":"https://partner.example/two","is_active":false}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var put, got map[string]any
	require.NoError(t, json.Unmarshal(raw, &put))
	require.Equal(t, first, put["secret"])
	require.Equal(t, "https://partner.example/two", put["target_url"])
	require.Equal(t, false, put["is_active"])
	require.Equal(t, "topkee", put["service_name"])
	resp, raw = svc.do(t, "GET", "/api/integrations/topkee/webhook-config", topkeeKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Equal(t, put, got)
	// The partner document's fields, then the delivery settings and, for an
	// endpoint that is off, why and since when.
	require.ElementsMatch(t, []string{"id", "service_name", "target_url", "secret", "is_active",
		"event_types", "ordering", "max_per_second", "disabled_reason", "disabled_at"}, keysOf(got))
	// The other service has its own (absent) config.
	resp, _ = svc.do(t, "GET", "/api/integrations/other/webhook-config", otherKey, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestWidgetCORS: the preflight is answered and the origin allowed.
func TestWidgetCORS(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WIDGET_ALLOWED_ORIGINS": "https://shop.example"})
	req, _ := http.NewRequest(http.MethodOptions, svc.URL+"/api/widget/click", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, "https://shop.example", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")

	req, _ = http.NewRequest(http.MethodOptions, svc.URL+"/api/widget/click", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

// TestAdminUI: River UI needs the admin password and is absent without one.
func TestAdminUI(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_ADMIN_PASSWORD": "s3cret-admin"})
	resp, _ := svc.do(t, "GET", "/riverui/", "", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, `Basic realm="aurix-admin", charset="UTF-8"`, resp.Header.Get("WWW-Authenticate"), "the challenge a browser answers with its login prompt")
	req, _ := http.NewRequest(http.MethodGet, svc.URL+"/riverui/", nil)
	req.SetBasicAuth("admin", "s3cret-admin")
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	require.Equal(t, http.StatusOK, r2.StatusCode)

	bare := startService(t, nil)
	resp, _ = bare.do(t, "GET", "/riverui/", "", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestMissingRequiredVariableStopsStartUp names the variable.
func TestMissingRequiredVariableStopsStartUp(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"AURIX_WHATSAPP_NUMBER", "TOPKEE_INTEGRATION_API_KEY"} {
		env := baseEnv("postgres://postgres@127.0.0.1:1/none?sslmode=disable", freePort(t))
		delete(env, name)
		cmd := exec.Command(binary, "serve")
		cmd.Env = envList(env)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "start-up must fail without %s", name)
		require.Contains(t, string(out), name)
	}
}
