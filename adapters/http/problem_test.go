package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// TestUnavailableIs503WithRetryAfter: an error that says the database
// cannot serve, however deeply wrapped, is a 503 problem with Retry-After,
// and its detail says nothing of the cause.
func TestUnavailableIs503WithRetryAfter(t *testing.T) {
	t.Parallel()
	cause := errors.New("failed to connect to `user=postgres database=aurix`: 10.0.0.5:5432: connection refused")
	err := fmt.Errorf("record click: transaction: %w", fmt.Errorf("%w: %w", domain.ErrUnavailable, cause))
	rec := httptest.NewRecorder()
	writeError(rec, httptest.NewRequest(http.MethodPost, "/api/widget/click", nil), slog.New(slog.DiscardHandler), err)

	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	require.Equal(t, unavailableRetryAfter, rec.Header().Get("Retry-After"))
	var p Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, Problem{Type: "/problems/unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: p.Detail}, p)
	require.NotContains(t, p.Detail, "10.0.0.5")
	require.NotContains(t, p.Detail, "postgres")
	require.NotEmpty(t, p.Detail)
}

// failing is every use case at once, each answering err.
type failing struct{ err error }

func (f failing) RecordClick(context.Context, ports.RecordClickCommand) (ports.ClickReceipt, error) {
	return ports.ClickReceipt{}, f.err
}

func (f failing) PutWebhookConfig(context.Context, ports.PutWebhookConfigCommand) (ports.WebhookConfigView, error) {
	return ports.WebhookConfigView{}, f.err
}

func (f failing) GetWebhookConfig(context.Context, string) (ports.WebhookConfigView, error) {
	return ports.WebhookConfigView{}, f.err
}

func (f failing) GetLead(context.Context, int64) (ports.LeadView, error) {
	return ports.LeadView{}, f.err
}

func (f failing) UpdateLead(context.Context, ports.UpdateLeadCommand) (ports.LeadView, error) {
	return ports.LeadView{}, f.err
}

func (f failing) Redeliver(context.Context, string, string) (ports.Redelivery, error) {
	return ports.Redelivery{}, f.err
}

// TestProblemDetailsNeverEchoInternalText sends requests whose use case
// fails with each kind of error, wrapped as the layers below wrap them
// (statements, constraint and table names, the transaction helper), and
// checks that the response's detail and field messages carry none of it:
// only a fixed sentence per kind, or what the domain wrote for the client.
func TestProblemDetailsNeverEchoInternalText(t *testing.T) {
	t.Parallel()
	validation := &domain.ValidationError{Fields: []domain.FieldError{{Field: "lead_data.email", Message: "must be an email address"}}}
	missing := &domain.ValidationError{Kind: domain.ErrUnprocessable,
		Fields: []domain.FieldError{{Field: "lead_data.phone", Message: "is required to complete the lead"}}}
	pgErr := errors.New(`ERROR: duplicate key value violates unique constraint "webhook_configs_service_name_key" (SQLSTATE 23505)`)
	tests := []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"conflict", fmt.Errorf("put webhook config for topkee: transaction: insert webhook_configs: %w (webhook_configs_service_name_key): %w",
			domain.ErrConflict, pgErr), http.StatusConflict, "the request clashed with a concurrent change; it is safe to retry"},
		{"not found", fmt.Errorf("get lead of conversation 7: transaction: select leads: %w", domain.ErrNotFound),
			http.StatusNotFound, "no such resource"},
		{"unprocessable", fmt.Errorf("redeliver: transaction: update webhook_deliveries: %w", domain.ErrUnprocessable),
			http.StatusUnprocessableEntity, "the request cannot be carried out in the resource's current state"},
		{"invalid input", fmt.Errorf("record click: transaction: insert inbound_sources: %w", domain.ErrInvalidInput),
			http.StatusBadRequest, "the request is not valid"},
		{"unavailable", fmt.Errorf("record click: transaction: %w: %w", domain.ErrUnavailable,
			errors.New("select 1: failed to connect to `user=postgres database=aurix`: 10.0.0.5:5432")),
			http.StatusServiceUnavailable, "the service cannot reach its database right now; retry after the seconds in Retry-After"},
		{"validation, wrapped", fmt.Errorf("update lead of conversation 7: transaction: select leads FOR UPDATE: %w", validation),
			http.StatusBadRequest, "invalid input: lead_data.email: must be an email address"},
		{"unprocessable validation, wrapped", fmt.Errorf("update lead of conversation 7: transaction: %w", missing),
			http.StatusUnprocessableEntity, "unprocessable: lead_data.phone: is required to complete the lead"},
	}
	internal := []string{"insert", "select", "update", "transaction", "constraint", "_key", "webhook_configs", "webhook_deliveries",
		"inbound_sources", "leads", "SQLSTATE", "postgres", "10.0.0.5", "conversation 7", "topkee"}
	requests := []struct{ method, path, body, key string }{
		{http.MethodPost, "/api/widget/click", `{"click_url":"https://example.com/"}`, ""},
		{http.MethodPut, "/api/integrations/topkee/webhook-config", `{"url":"https://partner.example/hook"}`, "partner-key"},
		{http.MethodGet, "/api/integrations/topkee/webhook-config", "", "partner-key"},
		{http.MethodPost, "/api/integrations/topkee/events/01900000-0000-7000-8000-000000000001/redeliver", "", "partner-key"},
		{http.MethodGet, "/api/conversations/7/lead", "", "agent-key"},
		{http.MethodPatch, "/api/conversations/7/lead", `{"lead_data":{"email":"x"}}`, "agent-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := failing{err: tt.err}
			router := NewRouter(Deps{Clicks: f, WebhookConfigs: f, Leads: f, DeliveryLog: deliveryLogOf(f),
				IntegrationKeys: map[string]string{"topkee": "partner-key"}, AgentAPIKey: "agent-key",
				AllowedOrigins: []string{"*"}, Logger: slog.New(slog.DiscardHandler)})
			for _, rq := range requests {
				req := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
				if rq.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				if rq.key != "" {
					req.Header.Set("Authorization", "Bearer "+rq.key)
				}
				rec := httptest.NewRecorder()
				router.ServeHTTP(rec, req)
				require.Equal(t, tt.status, rec.Code, "%s %s: %s", rq.method, rq.path, rec.Body.String())
				require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
				var p Problem
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
				require.Equal(t, tt.detail, p.Detail, "%s %s", rq.method, rq.path)
				texts := []string{p.Detail, p.Title, p.Type}
				for _, fe := range p.Errors {
					texts = append(texts, fe.Field, fe.Message)
				}
				for _, txt := range texts {
					for _, word := range internal {
						require.NotContains(t, strings.ToLower(txt), strings.ToLower(word), "%s %s", rq.method, rq.path)
					}
				}
			}
		})
	}
}

// deliveryLogOf is a delivery log whose every call fails as f does.
func deliveryLogOf(f failing) ports.DeliveryLog { return failingLog{f} }

type failingLog struct{ failing }

func (l failingLog) ListDeliveries(context.Context, string, ports.DeliveryLogQuery, func(ports.DeliveryRecord) error) (*ports.PageKey, error) {
	return nil, l.err
}

func (l failingLog) Event(context.Context, string, string) (ports.EventRecord, error) {
	return ports.EventRecord{}, l.err
}

func (l failingLog) Recover(context.Context, string, ports.RecoverQuery) (ports.RecoverResult, error) {
	return ports.RecoverResult{}, l.err
}

func (l failingLog) RotateSecret(context.Context, string) (ports.WebhookConfigView, error) {
	return ports.WebhookConfigView{}, l.err
}

// TestBodyTooLargeNamesItsLimit: the 413's detail is the limit of the
// endpoint that refused the body, not one fixed size.
func TestBodyTooLargeNamesItsLimit(t *testing.T) {
	t.Parallel()
	for limit, want := range map[int64]string{MaxBodyBytes: "64 KiB", MaxWhatsAppBodyBytes: "1 MiB", 1000: "1000 bytes"} {
		rec := httptest.NewRecorder()
		writeError(rec, httptest.NewRequest(http.MethodPost, "/", nil), slog.New(slog.DiscardHandler),
			fmt.Errorf("read body: %w", &http.MaxBytesError{Limit: limit}))
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		var p Problem
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		require.Equal(t, "request body must be at most "+want, p.Detail)
	}
}
