package http

import (
	"net/http"
	"regexp"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

var routeVarPattern = regexp.MustCompile(`\{([a-z_]+):[^}]*\}`)

// routeTemplate is the matched route's template without its patterns:
// "/api/conversations/{conversation_id}/lead".
func routeTemplate(r *http.Request) string {
	route := mux.CurrentRoute(r)
	if route == nil {
		return ""
	}
	tmpl, err := route.GetPathTemplate()
	if err != nil {
		return ""
	}
	return routeVarPattern.ReplaceAllString(tmpl, "{$1}")
}

// nameSpanByRoute names the server span after the route template, so
// "POST /api/widget/click" is one operation however the path varies.
func nameSpanByRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tmpl := routeTemplate(r); tmpl != "" {
			span := trace.SpanFromContext(r.Context())
			span.SetName(r.Method + " " + tmpl)
			span.SetAttributes(attribute.String("http.route", tmpl))
			if l, ok := otelhttp.LabelerFromContext(r.Context()); ok {
				l.Add(attribute.String("http.route", tmpl))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// spanAttr puts an attribute on the request's span.
func spanAttr(r *http.Request, kv attribute.KeyValue) {
	trace.SpanFromContext(r.Context()).SetAttributes(kv)
}
