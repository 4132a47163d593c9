package http

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/aurix/integrations/domain"
)

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty"`
	Errors []domain.FieldError `json:"errors,omitempty"`
}

// problemKinds maps error classes to responses; the first match wins, so the
// order is from most to least specific. errors.Is/As see through wrapping.
var problemKinds = []struct {
	match  func(error) bool
	status int
	slug   string
	title  string
}{
	{func(err error) bool { var e *http.MaxBytesError; return errors.As(err, &e) }, http.StatusRequestEntityTooLarge, "body-too-large", "Request body too large"},
	{func(err error) bool { var e *mediaTypeError; return errors.As(err, &e) }, http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
	{func(err error) bool { var e *decodeError; return errors.As(err, &e) }, http.StatusBadRequest, "malformed-request", "Malformed request"},
	{func(err error) bool { return errors.Is(err, errUnauthorized) }, http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	{func(err error) bool { return errors.Is(err, domain.ErrUnprocessable) }, http.StatusUnprocessableEntity, "unprocessable", "Request cannot be carried out"},
	{func(err error) bool { return errors.Is(err, domain.ErrInvalidInput) }, http.StatusBadRequest, "invalid-input", "Invalid input"},
	{func(err error) bool { return errors.Is(err, domain.ErrNotFound) }, http.StatusNotFound, "not-found", "Not found"},
	{func(err error) bool { return errors.Is(err, domain.ErrConflict) }, http.StatusConflict, "conflict", "Conflict"},
	{func(err error) bool { return errors.Is(err, domain.ErrUnavailable) }, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
}

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 for a
// database that cannot be reached: a restart or fail-over takes seconds,
// and clients that come back sooner only add to the load while it lasts.
const unavailableRetryAfter = "2"

// writeError answers with the problem that err maps to. Unknown errors are a
// 500 whose detail says nothing of the cause; the cause is logged instead.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	for _, k := range problemKinds {
		if !k.match(err) {
			continue
		}
		p := Problem{Type: "/problems/" + k.slug, Title: k.title, Status: k.status}
		var ve *domain.ValidationError
		switch {
		case k.status == http.StatusServiceUnavailable:
			// The cause names the database server; it stays in the log.
			log.WarnContext(r.Context(), "request failed: dependency unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
			w.Header().Set("Retry-After", unavailableRetryAfter)
			p.Detail = "the service cannot reach its database right now; retry after the seconds in Retry-After"
		case errors.As(err, &ve):
			p.Errors = ve.Fields
			p.Detail = ve.Error()
		case k.status != http.StatusUnauthorized:
			p.Detail = publicDetail(err)
		}
		writeProblem(w, p)
		return
	}
	log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeProblem(w, Problem{Type: "/problems/internal", Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "The request could not be completed; it is safe to retry."})
}

// publicDetail is the message of the outermost error the client caused.
func publicDetail(err error) string {
	var d *decodeError
	if errors.As(err, &d) {
		return d.msg
	}
	var mt *mediaTypeError
	if errors.As(err, &mt) {
		return mt.msg
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return "request body must be at most 64 KiB"
	}
	if errors.Is(err, domain.ErrNotFound) {
		return "no such resource"
	}
	return err.Error()
}

// writeProblem answers p as application/problem+json. A 401 must carry a
// challenge (RFC 9110 §11.6.1): the API's Bearer challenge, unless the
// handler already set its own, as basic auth does for River UI (a browser
// shows its login prompt only for a Basic challenge).
func writeProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	if p.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="aurix"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
