package http

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type clickRequest struct {
	ClickURL string `json:"click_url"`
	DeviceID string `json:"device_id"`
}

type clickResponse struct {
	CorrelationID domain.CorrelationID `json:"correlation_id"`
	DeviceID      string               `json:"device_id"`
	WhatsAppURL   string               `json:"whatsapp_url"`
	CreatedAt     domain.Timestamp     `json:"created_at"`
}

func (h *handlers) recordClick(w http.ResponseWriter, r *http.Request) {
	var req clickRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	receipt, err := h.deps.Clicks.RecordClick(r.Context(), ports.RecordClickCommand{
		ClickURL:  req.ClickURL,
		DeviceID:  req.DeviceID,
		UserAgent: r.UserAgent(),
		IPAddress: clientIP(r, h.deps.TrustedProxies),
	})
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	spanAttr(r, attribute.String("aurix.correlation_id", string(receipt.CorrelationID)))
	writeJSON(w, http.StatusCreated, clickResponse{
		CorrelationID: receipt.CorrelationID,
		DeviceID:      receipt.DeviceID,
		WhatsAppURL:   receipt.WhatsAppURL,
		CreatedAt:     domain.Timestamp(receipt.CreatedAt),
	})
}
