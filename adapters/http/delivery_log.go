package http

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

type attemptItem struct {
	Attempt         int              `json:"attempt"`
	AttemptedAt     domain.Timestamp `json:"attempted_at"`
	StatusCode      *int             `json:"status_code"`
	DurationMS      float64          `json:"duration_ms"`
	Error           *string          `json:"error"`
	ResponseExcerpt string           `json:"response_excerpt"`
}

type deliveryItem struct {
	DeliveryID    int64                    `json:"delivery_id"`
	EventID       string                   `json:"event_id"`
	EventType     domain.EventType         `json:"event_type"`
	Series        int                      `json:"series"`
	Status        domain.DeliveryStatus    `json:"status"`
	CreatedAt     domain.Timestamp         `json:"created_at"`
	NextAttemptAt domain.NullableTimestamp `json:"next_attempt_at"`
	FinishedAt    domain.NullableTimestamp `json:"finished_at"`
	Attempts      []attemptItem            `json:"attempts"`
}

func deliveryItemOf(d ports.DeliveryRecord) deliveryItem {
	it := deliveryItem{DeliveryID: d.DeliveryID, EventID: d.EventID, EventType: d.EventType, Series: d.Series,
		Status: d.Status, CreatedAt: domain.Timestamp(d.CreatedAt), NextAttemptAt: domain.TimestampPtr(d.NextAttemptAt),
		FinishedAt: domain.TimestampPtr(d.FinishedAt), Attempts: make([]attemptItem, len(d.Attempts))}
	for i, a := range d.Attempts {
		ai := attemptItem{Attempt: a.Attempt, AttemptedAt: domain.Timestamp(a.AttemptedAt),
			DurationMS: float64(a.Duration.Microseconds()) / 1000, ResponseExcerpt: excerpt(a.Response)}
		if a.StatusCode != 0 {
			code := a.StatusCode
			ai.StatusCode = &code
		}
		if a.Error != "" {
			e := a.Error
			ai.Error = &e
		}
		it.Attempts[i] = ai
	}
	return it
}

// excerpt shows a receiver's answer as text; bytes that are not UTF-8 are
// replaced rather than dropped.
func excerpt(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string([]rune(string(b)))
}

// eventTypeNames lists the catalogue's event types for a message.
func eventTypeNames() string {
	names := make([]string, len(domain.AllEventTypes))
	for i, t := range domain.AllEventTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

var deliveryStatuses = map[string]domain.DeliveryStatus{
	"succeeded": domain.DeliverySucceeded, "failed": domain.DeliveryFailed, "pending": domain.DeliveryPending,
	"exhausted": domain.DeliveryExhausted,
}

func (h *handlers) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var dq ports.DeliveryLogQuery
	var fields []domain.FieldError
	if v, ok := q["status"]; ok {
		st, known := deliveryStatuses[v[0]]
		if !known {
			fields = append(fields, domain.FieldError{Field: "status", Message: "must be pending, succeeded, failed or exhausted"})
		}
		dq.Status = st
	}
	if v := q.Get("event_type"); v != "" {
		if slices.Contains(domain.AllEventTypes, domain.EventType(v)) {
			dq.EventType = domain.EventType(v)
		} else {
			fields = append(fields, domain.FieldError{Field: "event_type", Message: "must be one of " + eventTypeNames()})
		}
	}
	if len(fields) > 0 {
		writeError(w, r, h.deps.Logger, &domain.ValidationError{Fields: fields})
		return
	}
	h.list(w, r, false, "Deliveries fetched successfully", func(pq ports.PageQuery, lw *listWriter) (*ports.PageKey, error) {
		dq.Page = pq
		return h.deps.DeliveryLog.ListDeliveries(r.Context(), mux.Vars(r)["service"], dq, func(d ports.DeliveryRecord) error {
			return lw.item(deliveryItemOf(d))
		})
	})
}

type eventResponse struct {
	EventID    string           `json:"event_id"`
	EventType  domain.EventType `json:"event_type"`
	CreatedAt  domain.Timestamp `json:"created_at"`
	Payload    rawJSON          `json:"payload"`
	Deliveries []deliveryItem   `json:"deliveries"`
}

// rawJSON embeds stored JSON bytes as they are.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

func eventIDOf(r *http.Request) (string, error) {
	id := mux.Vars(r)["event_id"]
	if !uuidShape.MatchString(id) {
		return "", domain.ErrNotFound
	}
	return id, nil
}

func (h *handlers) getEvent(w http.ResponseWriter, r *http.Request) {
	id, err := eventIDOf(r)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	rec, err := h.deps.DeliveryLog.Event(r.Context(), mux.Vars(r)["service"], id)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	resp := eventResponse{EventID: rec.Event.EventID, EventType: rec.Event.Type, CreatedAt: domain.Timestamp(rec.Event.CreatedAt),
		Payload: rawJSON(rec.Event.Payload), Deliveries: make([]deliveryItem, len(rec.Deliveries))}
	for i, d := range rec.Deliveries {
		resp.Deliveries[i] = deliveryItemOf(d)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *handlers) redeliverEvent(w http.ResponseWriter, r *http.Request) {
	id, err := eventIDOf(r)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	deliveryID, err := h.deps.DeliveryLog.Redeliver(r.Context(), mux.Vars(r)["service"], id)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"delivery_id": deliveryID, "event_id": id, "status": domain.DeliveryPending})
}

type recoverRequest struct {
	Since string `json:"since"`
}

func (h *handlers) recoverDeliveries(w http.ResponseWriter, r *http.Request) {
	var req recoverRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	since, err := domain.ParseQueryDate(req.Since)
	if err != nil {
		writeError(w, r, h.deps.Logger, &domain.ValidationError{Fields: []domain.FieldError{{Field: "since", Message: err.Error()}}})
		return
	}
	n, err := h.deps.DeliveryLog.Recover(r.Context(), mux.Vars(r)["service"], since)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"count": n, "since": domain.Timestamp(since)})
}

func (h *handlers) rotateSecret(w http.ResponseWriter, r *http.Request) {
	view, err := h.deps.DeliveryLog.RotateSecret(r.Context(), mux.Vars(r)["service"])
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookConfigJSON(view))
}
