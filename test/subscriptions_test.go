package test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func (s *service) webhookConfig(t *testing.T) map[string]any {
	t.Helper()
	resp, raw := s.do(t, http.MethodGet, "/api/integrations/topkee/webhook-config", topkeeKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(raw, &cfg))
	return cfg
}

// TestEventSubscriptions: only subscribed events open deliveries; an
// unknown type is refused by name and changes nothing; "*" (or no list)
// subscribes to everything.
func TestEventSubscriptions(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	rc := newReceiver(t)
	resp, raw := svc.do(t, http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey,
		map[string]any{"url": rc.URL, "event_types": []string{"lead.correlated", "lead.complete"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var cfg struct{ Secret string }
	require.NoError(t, json.Unmarshal(raw, &cfg))
	assert.Equal(t, []any{"lead.correlated", "lead.complete"}, svc.webhookConfig(t)["event_types"])

	ref := leadUntilComplete(t, svc, 7, nil)
	got := rc.waitForEvents(t, cfg.Secret, "lead.complete", 1)
	assert.Equal(t, ref, got[0].Data["correlation_id"])
	var types []string
	for _, e := range rc.events(t, cfg.Secret) {
		types = append(types, e.Type)
	}
	assert.Equal(t, []string{"lead.correlated", "lead.complete"}, types, "no widget.click: not subscribed")
	var clicks int
	require.NoError(t, svc.db(t).QueryRow(context.Background(),
		"SELECT count(*) FROM webhook_deliveries WHERE event_type = 'widget.click'").Scan(&clicks))
	assert.Zero(t, clicks, "an event nobody subscribed to opens no delivery")

	resp, raw = svc.do(t, http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey,
		map[string]any{"url": rc.URL, "event_types": []string{"widget.click", "lead.lost"}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(raw))
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(raw), `lead.lost`, "the problem names the unknown type")
	assert.Equal(t, []any{"lead.correlated", "lead.complete"}, svc.webhookConfig(t)["event_types"], "a refused PUT changes nothing")

	resp, raw = svc.do(t, http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey,
		map[string]any{"url": rc.URL, "event_types": []string{"*"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	assert.Equal(t, []any{"*"}, svc.webhookConfig(t)["event_types"])
	c := svc.click(t, partnerClickURL, "")
	clickEv := rc.waitForEvents(t, cfg.Secret, "widget.click", 1)[0]
	assert.Equal(t, c.CorrelationID, clickEv.Data["correlation_id"])

	// A PUT without the field subscribes to everything too.
	resp, raw = svc.do(t, http.MethodPut, "/api/integrations/topkee/webhook-config", topkeeKey, map[string]any{"url": rc.URL})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	assert.Equal(t, []any{"*"}, svc.webhookConfig(t)["event_types"])
	assert.Eventually(t, func() bool { return len(rc.deliveries()) == 3 }, 5*time.Second, 20*time.Millisecond)
}
