package test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRetentionPurgesWhileServing: with windows of seconds and a purge
// every second, what the partner saw goes: the delivery log (an event's
// page and redelivery answer 404), message keys, clicks that never became a
// lead, and leads with their conversations and clicks (the Leads API stops
// listing them). An event whose delivery is still pending stays, whatever
// its age (its click, a kind of its own, goes on its own window).
func TestRetentionPurgesWhileServing(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{
		"AURIX_RETENTION_DELIVERY_LOG":        "2s",
		"AURIX_RETENTION_MESSAGE_IDS":         "2s",
		"AURIX_RETENTION_UNCORRELATED_CLICKS": "2s",
		"AURIX_RETENTION_LEADS":               "4s",
		"AURIX_CORRELATION_WINDOW":            "2s",
		"AURIX_RETENTION_INTERVAL":            "1s",
		"AURIX_WEBHOOK_RETRY_SCHEDULE":        "1h",
	})
	const failing = "utm_source=never-acknowledged"
	rc := newScriptedReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		w.WriteHeader(http.StatusOK)
	})
	secret := svc.registerWebhook(t, rc.URL)
	svc.click(t, "https://example.com/?utm_source=loose", "d-loose")
	lead := svc.click(t, partnerClickURL, "d-lead")
	body := sample(t, "text-with-ref.json", "O-xY123z", lead.CorrelationID)
	status, raw := svc.postWhatsApp(t, body, metaSignature(body))
	require.Equal(t, http.StatusOK, status, string(raw))
	events := rc.waitForEvents(t, secret, "lead.correlated", 1)
	clicks := rc.waitForEvents(t, secret, "widget.click", 2)
	require.Len(t, events, 1)

	// A delivery that stays pending: its receiver stops answering 2xx and the
	// next attempt is an hour away.
	rc.mu.Lock()
	rc.respond = func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusServiceUnavailable) }
	rc.mu.Unlock()
	stuck := svc.click(t, "https://example.com/?"+failing, "d-stuck")
	rc.waitForEvents(t, secret, "widget.click", 3)
	db := svc.db(t)
	eventually(t, 10*time.Second, "the failed attempt is recorded", func() bool {
		var attempts int
		_ = db.QueryRow(context.Background(), `SELECT attempts FROM webhook_deliveries d JOIN outbox o ON o.id = d.outbox_id
			WHERE o.correlation_id = $1`, stuck.CorrelationID).Scan(&attempts)
		return attempts == 1
	})

	count := func(q string, args ...any) int {
		var n int
		require.NoError(t, db.QueryRow(context.Background(), q, args...).Scan(&n))
		return n
	}
	eventually(t, 30*time.Second, "every finished event, click, message key and lead purged", func() bool {
		return count("SELECT count(*) FROM outbox") == 1 && count("SELECT count(*) FROM inbound_sources") == 0 &&
			count("SELECT count(*) FROM leads") == 0 && count("SELECT count(*) FROM conversations") == 0 &&
			count("SELECT count(*) FROM whatsapp_messages") == 0
	})
	assert.Equal(t, 1, count("SELECT count(*) FROM outbox WHERE correlation_id = $1", stuck.CorrelationID),
		"the pending event stays")
	assert.Equal(t, 1, count("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"))
	assert.Zero(t, count("SELECT count(*) FROM webhook_attempts a JOIN outbox o ON o.event_id = a.event_id WHERE o.correlation_id <> $1",
		stuck.CorrelationID))

	for _, e := range []event{clicks[0], events[0]} {
		resp, raw := svc.do(t, http.MethodGet, "/api/integrations/topkee/events/"+e.ID, topkeeKey, nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a purged event: %s", raw)
		resp, raw = svc.do(t, http.MethodPost, "/api/integrations/topkee/events/"+e.ID+"/redeliver", topkeeKey, nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a purged event cannot be sent again: %s", raw)
	}
	assert.Empty(t, svc.list(t, "/api/integrations/topkee/leads")["data"], "the Leads API stops listing purged leads")
	assert.Empty(t, svc.list(t, "/api/integrations/topkee/attribution")["data"], "nor clicks: a click's window is its own")
	assert.Contains(t, svc.logs.String(), `"msg":"retention purge"`)
	assert.False(t, strings.Contains(svc.logs.String(), `"level":"ERROR"`), "no purge failed")
}

// TestIPAnonymization: with AURIX_IP_ANONYMIZE the address is cut to its
// /24 (IPv4) or /48 (IPv6) before it is stored, sent or listed.
func TestIPAnonymization(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_IP_ANONYMIZE": "true", "AURIX_TRUSTED_PROXIES": "127.0.0.1"})
	rc := newReceiver(t)
	secret := svc.registerWebhook(t, rc.URL)
	want := map[string]string{}
	for ip, cut := range map[string]string{"198.51.100.77": "198.51.100.0", "2001:db8:abcd:12::9": "2001:db8:abcd::",
		"::ffff:203.0.113.9": "203.0.113.0"} {
		c := svc.clickAs(t, "https://example.com/?utm_source=anon", "d-anon", "Mozilla/5.0", ip)
		want[c.CorrelationID] = cut
	}
	for _, e := range rc.waitForEvents(t, secret, "widget.click", 3) {
		assert.Equal(t, want[e.Data["correlation_id"].(string)], e.Data["ip_address"], "sent")
	}
	for _, it := range svc.list(t, "/api/integrations/topkee/attribution")["data"].([]any) {
		c := it.(map[string]any)
		assert.Equal(t, want[c["correlation_id"].(string)], c["ip_address"], "listed")
	}
	dump := pgDump(t, svc.DBURL)
	for _, whole := range []string{"198.51.100.77", "2001:db8:abcd:12", "203.0.113.9"} {
		assert.NotContains(t, dump, whole, "never stored whole")
	}
}
