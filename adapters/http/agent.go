package http

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type leadPatchRequest struct {
	LeadData map[string]string `json:"lead_data"`
	Complete bool              `json:"complete"`
}

// leadResponse is the AI agent's view of a lead.
type leadResponse struct {
	ConversationID int64                    `json:"conversation_id"`
	CorrelationID  *domain.CorrelationID    `json:"correlation_id"`
	LeadStatus     domain.LeadStatus        `json:"lead_status"`
	PhoneNumber    *string                  `json:"phone_number"`
	ChannelID      string                   `json:"channel_id"`
	LeadData       map[string]string        `json:"lead_data"`
	CreatedAt      domain.Timestamp         `json:"created_at"`
	CorrelatedAt   domain.NullableTimestamp `json:"correlated_at"`
	CompletedAt    domain.NullableTimestamp `json:"completed_at"`
}

func leadJSON(v ports.LeadView) leadResponse {
	data := v.Data
	if data == nil {
		data = map[string]string{}
	}
	return leadResponse{ConversationID: v.ConversationID, CorrelationID: v.CorrelationID, LeadStatus: v.Status,
		PhoneNumber: optional(v.PhoneNumber), ChannelID: v.ChannelID, LeadData: data,
		CreatedAt: domain.Timestamp(v.CreatedAt), CorrelatedAt: domain.TimestampPtr(v.CorrelatedAt),
		CompletedAt: domain.TimestampPtr(v.CompletedAt)}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// requireAgentKey admits only the AI agent's Bearer key.
func (h *handlers) requireAgentKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.agentKey.equal(bearer(r)) {
			writeProblem(w, Problem{Type: "/problems/unauthorized", Title: "Unauthorized", Status: http.StatusUnauthorized,
				Detail: "missing or invalid agent API key"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// conversationID reads the path's id; the route's pattern admits digits only.
func conversationID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(mux.Vars(r)["conversation_id"], 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.ErrNotFound
	}
	return id, nil
}

func (h *handlers) getLead(w http.ResponseWriter, r *http.Request) {
	id, err := conversationID(r)
	if err == nil {
		var v ports.LeadView
		if v, err = h.deps.Leads.GetLead(r.Context(), id); err == nil {
			writeJSON(w, http.StatusOK, leadJSON(v))
			return
		}
	}
	writeError(w, r, h.deps.Logger, err)
}

func (h *handlers) patchLead(w http.ResponseWriter, r *http.Request) {
	id, err := conversationID(r)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	var req leadPatchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	v, err := h.deps.Leads.UpdateLead(r.Context(), ports.UpdateLeadCommand{ConversationID: id, Data: req.LeadData, Complete: req.Complete})
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, leadJSON(v))
}
