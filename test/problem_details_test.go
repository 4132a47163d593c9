package test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProblemDetailsHoldNoInternalText: requests that the real service
// refuses with each kind of problem it can be brought to answer (400
// refused and unreadable, 401, 404 before and after the database was
// asked, 405, 413, 415, 422) carry in their detail and field messages only
// what was written for the client: nothing of the statements, tables,
// constraints or the transaction helper the error passed through.
func TestProblemDetailsHoldNoInternalText(t *testing.T) {
	t.Parallel()
	svc := startService(t, map[string]string{"AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS": "", "AURIX_WEBHOOK_ALLOW_INSECURE": ""})
	conv := svc.conversationOf(t)
	cases := []struct {
		name, method, path, key, contentType, body string
		status                                     int
	}{
		{"webhook URL refused", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, "application/json", `{"url":"https://10.0.0.5/hook"}`, 400},
		{"subscription unknown", "PUT", "/api/integrations/topkee/webhook-config", topkeeKey, "application/json", `{"url":"https://8.8.8.8/hook","event_types":["lead.lost"]}`, 400},
		{"malformed body", "POST", "/api/widget/click", "", "application/json", `{"click_url":`, 400},
		{"limit", "GET", "/api/integrations/topkee/leads?limit=0", topkeeKey, "", "", 400},
		{"window", "GET", "/api/integrations/topkee/deliveries?from_date=2025-01-02&to_date=2025-01-01", topkeeKey, "", "", 400},
		{"lead_data refused", "PATCH", "/api/conversations/" + conv + "/lead", agentKey, "application/json", `{"lead_data":{"email":"nope"}}`, 400},
		{"wrong key", "GET", "/api/integrations/topkee/leads", "nope", "", "", 401},
		{"no config yet", "GET", "/api/integrations/topkee/webhook-config", topkeeKey, "", "", 404},
		{"no such event", "GET", "/api/integrations/topkee/events/01900000-0000-7000-8000-000000000001", topkeeKey, "", "", 404},
		{"no such lead", "GET", "/api/conversations/999999/lead", agentKey, "", "", 404},
		{"lead of no conversation", "PATCH", "/api/conversations/999999/lead", agentKey, "application/json", `{"lead_data":{"intent":"x"}}`, 404},
		{"wrong method", "DELETE", "/api/widget/click", "", "", "", 405},
		{"body too large", "POST", "/api/widget/click", "", "application/json", `{"click_url":"https://example.com/?q=` + strings.Repeat("a", 70<<10) + `"}`, 413},
		{"not JSON", "POST", "/api/widget/click", "", "text/plain", `{"click_url":"https://example.com/"}`, 415},
		{"cannot complete", "PATCH", "/api/conversations/" + conv + "/lead", agentKey, "application/json", `{"lead_data":{"intent":"x"},"complete":true}`, 422},
	}
	internal := []string{"insert", "select", "update", "delete from", "transaction", "constraint", "_key", "_idx", "sqlstate",
		"webhook_configs", "webhook_deliveries", "inbound_sources", "outbox", "whatsapp_messages", "conversations", "postgres", "pgx", "bun"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := svc.sendJSON(t, tc.method, tc.path, tc.key, tc.contentType, tc.body)
			require.Equal(t, tc.status, resp.StatusCode, string(raw))
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			var p struct {
				Detail string `json:"detail"`
				Errors []struct {
					Field   string `json:"field"`
					Message string `json:"message"`
				} `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(raw, &p), string(raw))
			texts := []string{p.Detail}
			for _, e := range p.Errors {
				texts = append(texts, e.Message)
			}
			for _, txt := range texts {
				for _, word := range internal {
					require.NotContains(t, strings.ToLower(txt), word, string(raw))
				}
			}
			if tc.status == http.StatusNotFound {
				require.Equal(t, "no such resource", p.Detail)
			}
		})
	}
}
