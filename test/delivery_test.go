package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func eventIDOf(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		EventID string `json:"event_id"`
	}
	require.NoError(t, json.Unmarshal(body, &e))
	return e.EventID
}

// TestRetryAfterIsHonoured: 429 with Retry-After: 2 is retried no sooner
// than 2 s later, although the schedule says 200 ms.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "200ms,200ms"})
	rc := newScriptedReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	svc.registerWebhook(t, rc.URL)
	svc.click(t, partnerClickURL, "")
	got := rc.waitFor(t, 2, 30*time.Second)
	gap := got[1].At.Sub(got[0].At)
	assert.GreaterOrEqual(t, gap, 2*time.Second, "second attempt came %s after the 429", gap)
	assert.Equal(t, got[0].Body, got[1].Body)
}

// TestGoneDeactivatesTheEndpoint: 410 switches the config off; later events
// are recorded but not sent until the partner re-activates with PUT.
func TestGoneDeactivatesTheEndpoint(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t, http.StatusGone)
	svc.registerWebhook(t, rc.URL)
	svc.click(t, partnerClickURL, "")
	rc.waitFor(t, 1, 15*time.Second)

	require.Eventually(t, func() bool {
		_, raw := svc.do(t, http.MethodGet, "/api/integrations/topkee/webhook-config", topkeeKey, nil)
		return strings.Contains(string(raw), `"is_active":false`)
	}, 10*time.Second, 100*time.Millisecond)
	// The partner and the operator can tell why and since when.
	cfg := svc.webhookConfig(t)
	assert.Equal(t, "the endpoint answered 410 Gone", cfg["disabled_reason"])
	assert.Regexp(t, timestampPattern, cfg["disabled_at"])
	assert.Regexp(t, `(?m)^aurix_endpoint_disabled\{integration="topkee"[^}]*\} 1$`, svc.metrics(t))
	svc.click(t, partnerClickURL, "")
	time.Sleep(1500 * time.Millisecond)
	assert.Len(t, rc.deliveries(), 1, "nothing more is sent to a deactivated endpoint")
	assert.Equal(t, 2, svc.count(t, "outbox"), "events are still recorded")

	// Re-activation sends the next event.
	svc.registerWebhook(t, rc.URL)
	cfg = svc.webhookConfig(t)
	assert.Nil(t, cfg["disabled_reason"])
	assert.Nil(t, cfg["disabled_at"])
	assert.Regexp(t, `(?m)^aurix_endpoint_disabled\{integration="topkee"[^}]*\} 0$`, svc.metrics(t))
	svc.click(t, partnerClickURL, "")
	rc.waitFor(t, 2, 15*time.Second)
}

// TestFailingEndpointIsSwitchedOff: an endpoint that answers 500 for
// longer than AURIX_WEBHOOK_DISABLE_AFTER is switched off by the attempt
// that finds it so; the partner and the operator see why and since when
// (webhook-config, /metrics); a PUT switches it on again, and recover sends
// what it missed.
func TestFailingEndpointIsSwitchedOff(t *testing.T) {
	t.Parallel()
	const disableAfter = 3 * time.Second
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "200ms,200ms",
		"AURIX_WEBHOOK_DISABLE_AFTER": disableAfter.String()})
	rc, fail := failingReceiver(t)
	svc.registerWebhook(t, rc.URL)

	// The first event's three attempts fail: it is exhausted.
	clicked := time.Now()
	svc.click(t, partnerClickURL, "")
	firstFailure := rc.waitFor(t, 3, 30*time.Second)[0].At
	require.Eventually(t, func() bool {
		return len(svc.page(t, "deliveries", map[string][]string{"status": {"exhausted"}}).Data) == 1
	}, 10*time.Second, 50*time.Millisecond)
	// Failures alone do not switch it off: its first failure came after the
	// click, so until disableAfter after the click it must be on.
	if active := svc.webhookConfig(t)["is_active"]; time.Since(clicked) < disableAfter {
		assert.Equal(t, true, active, "switched off before failing for %s", disableAfter)
	}
	// Once the endpoint has failed for longer than that, the next event's
	// failed attempt switches it off, and its delivery ends unsent.
	time.Sleep(time.Until(firstFailure.Add(disableAfter + 200*time.Millisecond)))
	svc.click(t, partnerClickURL, "")
	require.Eventually(t, func() bool { return svc.webhookConfig(t)["is_active"] == false }, 30*time.Second, 50*time.Millisecond)
	waitNoPending(t, svc)
	assert.Len(t, rc.deliveries(), 4, "three attempts of the first event, one of the second")

	cfg := svc.webhookConfig(t)
	reason, _ := cfg["disabled_reason"].(string)
	m := regexp.MustCompile(`^every delivery failed since (\S+)$`).FindStringSubmatch(reason)
	require.NotNil(t, m, "disabled_reason %q", reason)
	since, err := time.Parse(time.RFC3339Nano, m[1])
	require.NoError(t, err)
	require.Regexp(t, timestampPattern, cfg["disabled_at"])
	at, err := time.Parse(time.RFC3339Nano, cfg["disabled_at"].(string))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, at.Sub(since), disableAfter, "switched off only once it had failed that long (since %s, at %s)", since, at)
	failed := svc.page(t, "deliveries", map[string][]string{"status": {"failed"}}).Data
	require.Len(t, failed, 2, "status=failed lists the exhausted delivery and the one ended unsent")
	statuses := []any{failed[0]["status"], failed[1]["status"]}
	assert.ElementsMatch(t, []any{"exhausted", "failed"}, statuses)

	metrics := svc.metrics(t)
	for _, series := range []string{
		`aurix_endpoint_disabled\{integration="topkee"[^}]*\} 1`,
		`aurix_deliveries_exhausted_total\{integration="topkee"[^}]*\} 1`,
		`aurix_delivery_attempts_total\{[^}]*outcome="retrying",status_class="5xx"[^}]*\} 3`,
		`aurix_delivery_attempts_total\{[^}]*outcome="exhausted",status_class="5xx"[^}]*\} 1`,
		`aurix_delivery_attempts_total\{[^}]*outcome="failed",status_class="none"[^}]*\} 1`,
	} {
		assert.Regexp(t, `(?m)^`+series+`$`, metrics)
	}

	// The partner's PUT switches it on with a clean bill of health.
	fail.Store(false)
	secret := svc.registerWebhook(t, rc.URL)
	cfg = svc.webhookConfig(t)
	assert.Equal(t, true, cfg["is_active"])
	assert.Nil(t, cfg["disabled_reason"])
	assert.Nil(t, cfg["disabled_at"])
	assert.Regexp(t, `(?m)^aurix_endpoint_disabled\{integration="topkee"[^}]*\} 0$`, svc.metrics(t))

	// recover sends both events it missed; they arrive signed.
	assert.Equal(t, 2, svc.recover(t, `{"since":"2000-01-01"}`).Count)
	got := rc.waitFor(t, 6, 30*time.Second)
	for _, d := range got[4:] {
		assert.True(t, partnerVerify(d.Body, d.Header.Get("x-hub-signature"), secret))
		assert.Equal(t, "1", d.Header.Get("X-Aurix-Attempt"))
	}
	assert.Len(t, sentPerEvent(rc), 2)
}

// metrics returns the /metrics page.
func (s *service) metrics(t *testing.T) string {
	t.Helper()
	resp, raw := s.do(t, http.MethodGet, "/metrics", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(raw)
}

// TestRedirectIsAFailure: a 302 is not followed and counts as a failed attempt.
func TestRedirectIsAFailure(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "200ms"})
	target := newReceiver(t)
	rc := newScriptedReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	})
	svc.registerWebhook(t, rc.URL)
	svc.click(t, partnerClickURL, "")
	rc.waitFor(t, 2, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, target.deliveries(), "the redirect target is never requested")
	var code int
	var errText string
	require.Eventually(t, func() bool {
		return svc.db(t).QueryRow(context.Background(),
			"SELECT coalesce(status_code,0), error FROM webhook_attempts WHERE attempt = 1").Scan(&code, &errText) == nil
	}, 5*time.Second, 100*time.Millisecond)
	assert.Equal(t, http.StatusFound, code)
	assert.Equal(t, "receiver answered 302", errText)
}

// TestPrivateTargetRefusedAtDialTime: a config whose host resolves to a
// loopback address (as after DNS rebinding) is refused when connecting.
func TestPrivateTargetRefusedAtDialTime(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS": "", "AURIX_WEBHOOK_RETRY_SCHEDULE": "200ms"})
	rc := newReceiver(t)
	port := rc.Listener.Addr().(*net.TCPAddr).Port
	// Saving is refused for such a host, so the config is planted as if the
	// name had resolved to a public address when it was saved.
	_, err := svc.db(t).Exec(context.Background(), `INSERT INTO webhook_configs (id, service_name, target_url, secret, is_active, created_at, updated_at)
		VALUES (gen_random_uuid(), 'topkee', $1, 'aurix_`+strings.Repeat("ab", 32)+`', true, now(), now())`,
		fmt.Sprintf("http://localhost:%d/hook", port))
	require.NoError(t, err)
	svc.click(t, partnerClickURL, "")

	var errText string
	require.Eventually(t, func() bool {
		return svc.db(t).QueryRow(context.Background(), "SELECT error FROM webhook_attempts WHERE attempt = 1").Scan(&errText) == nil
	}, 15*time.Second, 100*time.Millisecond)
	assert.Contains(t, errText, "target address is not public")
	time.Sleep(500 * time.Millisecond)
	assert.Empty(t, rc.deliveries(), "nothing reached the loopback receiver")
}

// TestSecretRotation: during the grace period a verifier holding only the
// old secret and one holding only the new secret both accept a delivery.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	oldSecret := svc.registerWebhook(t, rc.URL)
	resp, raw := svc.do(t, http.MethodPost, "/api/integrations/topkee/webhook-config/rotate-secret", topkeeKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(raw, &cfg))
	newSecret := cfg["secret"].(string)
	require.Regexp(t, `^aurix_[0-9a-f]{64}$`, newSecret)
	require.NotEqual(t, oldSecret, newSecret)
	resp, raw = svc.do(t, http.MethodGet, "/api/integrations/topkee/webhook-config", topkeeKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(raw), newSecret)

	svc.click(t, partnerClickURL, "")
	d := rc.waitFor(t, 1, 15*time.Second)[0]
	require.NoError(t, standardWebhooksVerify(d.Header, d.Body, whsec(oldSecret)), "old secret still verifies")
	require.NoError(t, standardWebhooksVerify(d.Header, d.Body, whsec(newSecret)), "new secret verifies")
	require.Len(t, strings.Fields(d.Header.Get("webhook-signature")), 2)
	assert.True(t, partnerVerify(d.Body, d.Header.Get("x-hub-signature"), newSecret), "x-hub-signature uses the newest")
	assert.Error(t, standardWebhooksVerify(d.Header, d.Body, whsec("aurix_other")))
}

// TestSecretGraceEnds: after the grace period only the new secret signs.
func TestSecretGraceEnds(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_SECRET_GRACE": "1ms"})
	rc := newReceiver(t)
	oldSecret := svc.registerWebhook(t, rc.URL)
	resp, _ := svc.do(t, http.MethodPost, "/api/integrations/topkee/webhook-config/rotate-secret", topkeeKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	svc.click(t, partnerClickURL, "")
	d := rc.waitFor(t, 1, 15*time.Second)[0]
	require.Len(t, strings.Fields(d.Header.Get("webhook-signature")), 1)
	assert.Error(t, standardWebhooksVerify(d.Header, d.Body, whsec(oldSecret)))
}

// TestDeliveryLogRedeliverAndRecover: the log shows attempts; redeliver and
// recover send the same event id and bytes again.
func TestDeliveryLogRedeliverAndRecover(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_RETRY_SCHEDULE": "100ms"})
	rc := newReceiver(t, 500, 500) // the only series fails after its two attempts
	secret := svc.registerWebhook(t, rc.URL)
	svc.click(t, partnerClickURL, "")
	first := rc.waitFor(t, 2, 30*time.Second)
	eventID := eventIDOf(t, first[0].Body)

	var failed page
	require.Eventually(t, func() bool {
		failed = svc.page(t, "deliveries", map[string][]string{"status": {"failed"}})
		return len(failed.Data) == 1
	}, 10*time.Second, 100*time.Millisecond)
	item := failed.Data[0]
	assert.Equal(t, "exhausted", item["status"], "every scheduled attempt failed")
	assert.Regexp(t, `(?m)^aurix_deliveries_exhausted_total\{integration="topkee"[^}]*\} 1$`, svc.metrics(t))
	assert.Equal(t, eventID, item["event_id"])
	assert.Equal(t, "widget.click", item["event_type"])
	attempts := item["attempts"].([]any)
	require.Len(t, attempts, 2)
	a0 := attempts[0].(map[string]any)
	assert.Equal(t, float64(500), a0["status_code"])
	assert.Equal(t, "answered 500", a0["response_excerpt"])
	assert.Equal(t, "receiver answered 500", a0["error"])
	assert.Regexp(t, timestampPattern, a0["attempted_at"])
	assert.Empty(t, svc.page(t, "deliveries", map[string][]string{"status": {"succeeded"}}).Data)

	// The event as sent.
	resp, raw := svc.do(t, http.MethodGet, "/api/integrations/topkee/events/"+eventID, topkeeKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var ev struct {
		Payload    json.RawMessage  `json:"payload"`
		Deliveries []map[string]any `json:"deliveries"`
	}
	require.NoError(t, json.Unmarshal(raw, &ev))
	assert.JSONEq(t, string(first[0].Body), string(ev.Payload))
	assert.Len(t, ev.Deliveries, 1)

	// Redeliver: same id, same bytes.
	resp, raw = svc.do(t, http.MethodPost, "/api/integrations/topkee/events/"+eventID+"/redeliver", topkeeKey, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(raw))
	got := rc.waitFor(t, 3, 15*time.Second)
	assert.Equal(t, first[0].Body, got[2].Body)
	assert.Equal(t, eventID, got[2].Header.Get("webhook-id"))
	assert.Equal(t, "1", got[2].Header.Get("X-Aurix-Attempt"), "a new series counts from 1")
	assert.True(t, partnerVerify(got[2].Body, got[2].Header.Get("x-hub-signature"), secret))

	// Recover finds nothing failed now (the redelivery succeeded)…
	resp, raw = svc.do(t, http.MethodPost, "/api/integrations/topkee/deliveries/recover", topkeeKey, `{"since":"2000-01-01"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(raw))
	assert.Contains(t, string(raw), `"count":0`)

	// …until another event fails for good; then it is sent again.
	rc.mu.Lock()
	rc.statuses = []int{503, 503}
	rc.mu.Unlock()
	svc.click(t, partnerClickURL, "")
	failedAgain := rc.waitFor(t, 5, 30*time.Second)
	secondID := eventIDOf(t, failedAgain[4].Body)
	require.Eventually(t, func() bool {
		return len(svc.page(t, "deliveries", map[string][]string{"status": {"failed"}, "event_type": {"widget.click"}}).Data) == 2
	}, 10*time.Second, 100*time.Millisecond)
	resp, raw = svc.do(t, http.MethodPost, "/api/integrations/topkee/deliveries/recover", topkeeKey, `{"since":"2000-01-01T00:00:00Z"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(raw))
	assert.Contains(t, string(raw), `"count":1`)
	recovered := rc.waitFor(t, 6, 15*time.Second)
	assert.Equal(t, secondID, eventIDOf(t, recovered[5].Body))

	for _, bad := range []string{`{}`, `{"since":"yesterday"}`, `{"since":5}`} {
		resp, _ = svc.do(t, http.MethodPost, "/api/integrations/topkee/deliveries/recover", topkeeKey, bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
	resp, _ = svc.do(t, http.MethodGet, "/api/integrations/topkee/deliveries?status=lost", topkeeKey, nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = svc.do(t, http.MethodGet, "/api/integrations/topkee/events/00000000-0000-7000-8000-000000000000", topkeeKey, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = svc.do(t, http.MethodPost, "/api/integrations/topkee/events/not-a-uuid/redeliver", topkeeKey, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = svc.do(t, http.MethodGet, "/api/integrations/topkee/deliveries", otherKey, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// TestWidgetRateLimit: past the limit a client gets 429 with Retry-After,
// and another client is not affected.
func TestWidgetRateLimit(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WIDGET_RATE_LIMIT": "3/min", "AURIX_TRUSTED_PROXIES": "127.0.0.1/32"})
	post := func(ip string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/api/widget/click", jsonBody(`{"click_url":"https://example.com/"}`))
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36")
		req.Header.Set("X-Forwarded-For", ip)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	for range 3 {
		require.Equal(t, http.StatusCreated, post("198.51.100.7").StatusCode)
	}
	limited := post("198.51.100.7")
	require.Equal(t, http.StatusTooManyRequests, limited.StatusCode)
	assert.NotEmpty(t, limited.Header.Get("Retry-After"))
	assert.Equal(t, "application/problem+json", limited.Header.Get("Content-Type"))
	assert.Equal(t, http.StatusCreated, post("203.0.113.8").StatusCode, "another visitor is not limited")
	assert.Equal(t, 4, svc.count(t, "inbound_sources"))
}
