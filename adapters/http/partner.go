package http

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/aurix/integrations/ports"
)

type webhookConfigRequest struct {
	URL      string `json:"url"`
	IsActive *bool  `json:"is_active"`
}

// webhookConfigResponse is the partner document's object.
type webhookConfigResponse struct {
	ID          string `json:"id"`
	ServiceName string `json:"service_name"`
	TargetURL   string `json:"target_url"`
	Secret      string `json:"secret"`
	IsActive    bool   `json:"is_active"`
}

func webhookConfigJSON(v ports.WebhookConfigView) webhookConfigResponse {
	return webhookConfigResponse{ID: v.ID, ServiceName: v.ServiceName, TargetURL: v.TargetURL,
		Secret: v.Secret.Reveal(), IsActive: v.IsActive}
}

func (h *handlers) putWebhookConfig(w http.ResponseWriter, r *http.Request) {
	var req webhookConfigRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	view, err := h.deps.WebhookConfigs.PutWebhookConfig(r.Context(), ports.PutWebhookConfigCommand{
		Service: mux.Vars(r)["service"], URL: req.URL, IsActive: req.IsActive,
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
