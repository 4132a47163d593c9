package http

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type webhookConfigRequest struct {
	URL          string   `json:"url"`
	IsActive     *bool    `json:"is_active"`
	EventTypes   []string `json:"event_types"`
	Ordering     string   `json:"ordering"`
	MaxPerSecond *int     `json:"max_per_second"`
}

// webhookConfigResponse is the partner document's object, with the delivery
// settings and, for an endpoint that is off, why and since when.
type webhookConfigResponse struct {
	ID             string                   `json:"id"`
	ServiceName    string                   `json:"service_name"`
	TargetURL      string                   `json:"target_url"`
	Secret         string                   `json:"secret"`
	IsActive       bool                     `json:"is_active"`
	EventTypes     []domain.EventType       `json:"event_types"`
	Ordering       domain.Ordering          `json:"ordering"`
	MaxPerSecond   *int                     `json:"max_per_second"`
	DisabledReason *string                  `json:"disabled_reason"`
	DisabledAt     domain.NullableTimestamp `json:"disabled_at"`
}

func webhookConfigJSON(v ports.WebhookConfigView) webhookConfigResponse {
	r := webhookConfigResponse{ID: v.ID, ServiceName: v.ServiceName, TargetURL: v.TargetURL,
		Secret: v.Secret.Reveal(), IsActive: v.IsActive, EventTypes: v.Settings.EventTypes, Ordering: v.Settings.Ordering,
		DisabledAt: domain.TimestampPtr(v.DisabledAt)}
	if r.EventTypes == nil {
		// Every type, including types added later.
		r.EventTypes = []domain.EventType{domain.AnyEventType}
	}
	if v.Settings.MaxPerSecond > 0 {
		n := v.Settings.MaxPerSecond
		r.MaxPerSecond = &n
	}
	if v.DisabledReason != "" {
		reason := v.DisabledReason
		r.DisabledReason = &reason
	}
	return r
}

func (h *handlers) putWebhookConfig(w http.ResponseWriter, r *http.Request) {
	var req webhookConfigRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	view, err := h.deps.WebhookConfigs.PutWebhookConfig(r.Context(), ports.PutWebhookConfigCommand{
		Service: mux.Vars(r)["service"], URL: req.URL, IsActive: req.IsActive, EventTypes: req.EventTypes,
		Ordering: req.Ordering, MaxPerSecond: req.MaxPerSecond,
	})
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookConfigJSON(view))
}

func (h *handlers) getWebhookConfig(w http.ResponseWriter, r *http.Request) {
	view, err := h.deps.WebhookConfigs.GetWebhookConfig(r.Context(), mux.Vars(r)["service"])
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookConfigJSON(view))
}
