package http

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

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
// detail is all a response says of the error beyond its kind: text written
// for the client (by this adapter for a body it could not read, else a fixed
// sentence per kind), never the error's own text, which carries what the
// layers below wrapped around it (statements, constraint and table names,
// "transaction: …"). A *domain.ValidationError adds what the domain wrote
// for the client: its fields and their messages.
var problemKinds = []struct {
	match  func(error) bool
	status int
	slug   string
	title  string
	detail func(error) string
}{
	{func(err error) bool { var e *http.MaxBytesError; return errors.As(err, &e) }, http.StatusRequestEntityTooLarge, "body-too-large", "Request body too large",
		func(err error) string {
			var e *http.MaxBytesError
			errors.As(err, &e)
			return "request body must be at most " + byteSize(e.Limit)
		}},
	{func(err error) bool { var e *mediaTypeError; return errors.As(err, &e) }, http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
		func(err error) string { var e *mediaTypeError; errors.As(err, &e); return e.msg }},
	{func(err error) bool { var e *decodeError; return errors.As(err, &e) }, http.StatusBadRequest, "malformed-request", "Malformed request",
		func(err error) string { var e *decodeError; errors.As(err, &e); return e.msg }},
	{func(err error) bool { return errors.Is(err, errUnauthorized) }, http.StatusUnauthorized, "unauthorized", "Unauthorized",
		fixed("")},
	{func(err error) bool { return errors.Is(err, domain.ErrUnprocessable) }, http.StatusUnprocessableEntity, "unprocessable", "Request cannot be carried out",
		fixed("the request cannot be carried out in the resource's current state")},
	{func(err error) bool { return errors.Is(err, domain.ErrInvalidInput) }, http.StatusBadRequest, "invalid-input", "Invalid input",
		fixed("the request is not valid")},
	{func(err error) bool { return errors.Is(err, domain.ErrNotFound) }, http.StatusNotFound, "not-found", "Not found",
		fixed("no such resource")},
	{func(err error) bool { return errors.Is(err, domain.ErrConflict) }, http.StatusConflict, "conflict", "Conflict",
		fixed("the request clashed with a concurrent change; it is safe to retry")},
	{func(err error) bool { return errors.Is(err, domain.ErrUnavailable) }, http.StatusServiceUnavailable, "unavailable", "Service unavailable",
		fixed("the service cannot reach its database right now; retry after the seconds in Retry-After")},
}

func fixed(detail string) func(error) string { return func(error) string { return detail } }

// byteSize names a body limit the way the API description does.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 for a
// database that cannot be reached: a restart or fail-over takes seconds,
// and clients that come back sooner only add to the load while it lasts.
const unavailableRetryAfter = "2"

// writeError answers with the problem that err maps to. The error's text
// stays in the log when it is logged (a 503, a 500), never in the response.
// Unknown errors are a 500 whose detail says nothing of the cause.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	for _, k := range problemKinds {
		if !k.match(err) {
			continue
		}
		p := Problem{Type: "/problems/" + k.slug, Title: k.title, Status: k.status, Detail: k.detail(err)}
		var ve *domain.ValidationError
		switch {
		case k.status == http.StatusServiceUnavailable:
			// The cause names the database server; it stays in the log.
			log.WarnContext(r.Context(), "request failed: dependency unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
			w.Header().Set("Retry-After", unavailableRetryAfter)
		case (k.status == http.StatusBadRequest || k.status == http.StatusUnprocessableEntity) && errors.As(err, &ve):
			// What the domain wrote for the client, not what wraps it.
			p.Errors = ve.Fields
			p.Detail = ve.Error()
		}
		writeProblem(w, p)
		return
	}
	log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeProblem(w, Problem{Type: "/problems/internal", Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "The request could not be completed; it is safe to retry."})
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
