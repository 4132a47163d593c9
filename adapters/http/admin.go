package http

import (
	"encoding/json"
	"net/http"

	"github.com/aurix/integrations/domain"
)

// erasureResponse is the answer to an erasure: what was erased now (zero
// when asked again), and when.
type erasureResponse struct {
	Field         domain.ErasureField `json:"field"`
	ErasedAt      domain.Timestamp    `json:"erased_at"`
	Leads         int                 `json:"leads"`
	Conversations int                 `json:"conversations"`
	Clicks        int                 `json:"clicks"`
	Events        int                 `json:"events"`
	Attempts      int                 `json:"attempts"`
	Notices       int                 `json:"lead_erased_events"`
}

// eraseData erases one person's data: the body names them by exactly one of
// phone_number, bsuid, email, correlation_id or conversation_id.
func (h *handlers) eraseData(w http.ResponseWriter, r *http.Request) {
	var fields map[string]json.RawMessage
	if err := decodeJSON(w, r, &fields); err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	key, err := domain.ParseErasureRequest(fields)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	rep, err := h.deps.Erasures.Erase(r.Context(), key)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	c := rep.Counts
	writeJSON(w, http.StatusOK, erasureResponse{Field: rep.Field, ErasedAt: domain.Timestamp(rep.ErasedAt), Leads: c.Leads,
		Conversations: c.Leads, Clicks: c.Clicks, Events: c.Events, Attempts: c.Attempts, Notices: c.Notices})
}
