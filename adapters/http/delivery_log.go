package http

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"time"
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

// listDeliveries reads the log's filters with the domain's parsers, which
// know the statuses and event types there are, and leaves the page to list.
func (h *handlers) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var dq ports.DeliveryLogQuery
	var fields []domain.FieldError
	if v, ok := q["status"]; ok {
		st, err := domain.ParseDeliveryStatus(v[0])
		if err != nil {
			fields = append(fields, domain.FieldError{Field: "status", Message: err.Error()})
		}
		dq.Status = st
	}
	if v := q.Get("event_type"); v != "" {
		et, err := domain.ParseEventType(v)
		if err != nil {
			fields = append(fields, domain.FieldError{Field: "event_type", Message: err.Error()})
		}
		dq.EventType = et
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
	rd, err := h.deps.DeliveryLog.Redeliver(r.Context(), mux.Vars(r)["service"], id)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	// A new series and a still pending one are answered alike: the event is
	// on its way, in the series named.
	writeJSON(w, http.StatusAccepted, map[string]any{"delivery_id": rd.DeliveryID, "event_id": id, "status": domain.DeliveryPending})
}

type recoverRequest struct {
	Since  string  `json:"since"`
	Cursor *string `json:"cursor"`
	Limit  *int    `json:"limit"`
}

// recoverCursorToken is the recover cursor's content: the last failed
// series examined and the end of the pass.
type recoverCursorToken struct {
	T int64 `json:"t"` // created_at, Unix microseconds
	I int64 `json:"i"`
	U int64 `json:"u"` // until, Unix microseconds
}

func encodeRecoverCursor(k ports.PageKey, until time.Time) string {
	b, _ := json.Marshal(recoverCursorToken{T: k.CreatedAt.UnixMicro(), I: k.ID, U: until.UnixMicro()})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeRecoverCursor(s string) (*ports.PageKey, time.Time, bool) {
	if len(s) > 200 {
		return nil, time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, time.Time{}, false
	}
	var c recoverCursorToken
	if err := json.Unmarshal(b, &c); err != nil || c.I <= 0 || c.T <= 0 || c.U <= 0 {
		return nil, time.Time{}, false
	}
	return &ports.PageKey{CreatedAt: time.UnixMicro(c.T).UTC(), ID: c.I}, time.UnixMicro(c.U).UTC(), true
}

func (h *handlers) recoverDeliveries(w http.ResponseWriter, r *http.Request) {
	var req recoverRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	var (
		q      ports.RecoverQuery
		fields []domain.FieldError
		err    error
	)
	if q.Since, err = domain.ParseQueryDate(req.Since); err != nil {
		fields = append(fields, domain.FieldError{Field: "since", Message: err.Error()})
	}
	if req.Cursor != nil {
		var ok bool
		if q.After, q.Until, ok = decodeRecoverCursor(*req.Cursor); !ok {
			fields = append(fields, domain.FieldError{Field: "cursor", Message: "is not a cursor recover returned"})
		}
	}
	if req.Limit != nil {
		// Its range is the use case's rule (it answers a 400 naming limit).
		q.Limit, q.LimitSet = *req.Limit, true
	}
	if len(fields) > 0 {
		writeError(w, r, h.deps.Logger, &domain.ValidationError{Fields: fields})
		return
	}
	res, err := h.deps.DeliveryLog.Recover(r.Context(), mux.Vars(r)["service"], q)
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	var next *string
	if res.Next != nil {
		c := encodeRecoverCursor(*res.Next, res.Until)
		next = &c
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"count": res.Count, "since": domain.Timestamp(q.Since), "next_cursor": next})
}

func (h *handlers) rotateSecret(w http.ResponseWriter, r *http.Request) {
	view, err := h.deps.DeliveryLog.RotateSecret(r.Context(), mux.Vars(r)["service"])
	if err != nil {
		writeError(w, r, h.deps.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookConfigJSON(view))
}
