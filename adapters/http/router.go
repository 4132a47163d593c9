package http

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/httprate"
	"github.com/gorilla/mux"
	"github.com/rs/cors"

	"github.com/aurix/integrations/adapters/http/openapi"
	"github.com/aurix/integrations/ports"
)

// Deps is what the router needs: use cases through their ports and the
// settings that shape the HTTP surface.
type Deps struct {
	Clicks         ports.ClickRecorder
	WebhookConfigs ports.WebhookConfigManager
	WhatsApp       ports.WhatsAppInbox
	Leads          ports.LeadAgentAPI
	Partner        ports.PartnerQueries
	DeliveryLog    ports.DeliveryLog
	// Erasures serves POST /api/admin/erasures, behind the admin's basic
	// auth (AdminUser, AdminPassword); without a password it is refused.
	Erasures ports.Eraser
	// WidgetRateLimit clicks per WidgetRateWindow per client IP; 0 disables.
	WidgetRateLimit  int
	WidgetRateWindow time.Duration
	// WhatsAppVerifyToken answers Meta's subscription handshake.
	WhatsAppVerifyToken string
	// WhatsAppAppSecret keys X-Hub-Signature-256.
	WhatsAppAppSecret []byte
	// AgentAPIKey is the AI agent's Bearer key.
	AgentAPIKey string
	// Ready reports whether the service can serve (database, schema).
	Ready func(ctx context.Context) error
	// IntegrationKeys maps each integration service to its API key.
	IntegrationKeys map[string]string
	// AllowedOrigins for the widget endpoint; ["*"] allows any.
	AllowedOrigins []string
	// TrustedProxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Admin, when not nil, is mounted at AdminPrefix behind basic auth.
	Admin         http.Handler
	AdminPrefix   string
	AdminUser     string
	AdminPassword string
	Logger        *slog.Logger
	// Metrics, when not nil, is served at /metrics for Prometheus (nil when
	// metrics have a listener of their own: see NewMetricsRouter).
	Metrics http.Handler
	// QueryConcurrency caps the partner list queries (leads, attribution,
	// deliveries) running at once; the rest wait in line up to
	// QueryQueueTimeout, then get 503. 0 disables the cap.
	QueryConcurrency  int
	QueryQueueTimeout time.Duration
	// QueryServiceConcurrency is each integration's share of
	// QueryConcurrency: the most of its list queries that run at once.
	// 0 is half of QueryConcurrency, rounded up.
	QueryServiceConcurrency int
	// StreamStallTimeout cuts a listing whose client has taken nothing for
	// this long, so a reader that stalls gives its slot back. 0 leaves
	// only the server's write timeout.
	StreamStallTimeout time.Duration
}

// NewRouter builds the service's HTTP handler.
func NewRouter(d Deps) *mux.Router {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := &handlers{deps: d, keys: newKeyRing(d.IntegrationKeys),
		verifyToken: newSecretMatcher(d.WhatsAppVerifyToken), agentKey: newSecretMatcher(d.AgentAPIKey)}
	r := mux.NewRouter()
	// No path cleaning: mux answers a non-canonical path with a 301 built
	// from the request URL, which for an absolute-form request
	// ("GET http://evil.example//healthz") points at another host. A path
	// that is not canonical is simply no route.
	r.SkipClean(true)
	// Every request no route serves comes here, whichever router or
	// subrouter it reached; subrouters have no handlers of their own, and
	// neither handler runs any route's middleware (so a wrong method is
	// judged before the key).
	r.NotFoundHandler = noRoute(r)
	r.MethodNotAllowedHandler = r.NotFoundHandler
	r.Use(recoverer(d.Logger), nameSpanByRoute)

	widgetCORS := cors.New(cors.Options{
		AllowedOrigins: d.AllowedOrigins,
		AllowedMethods: []string{http.MethodPost},
		AllowedHeaders: []string{"Content-Type"},
		MaxAge:         int((24 * time.Hour).Seconds()),
	})
	var click http.Handler = http.HandlerFunc(h.recordClick)
	if d.WidgetRateLimit > 0 {
		click = httprate.LimitBy(d.WidgetRateLimit, d.WidgetRateWindow,
			func(r *http.Request) (string, error) { return rateLimitKey(clientIP(r, d.TrustedProxies)), nil },
			httprate.WithLimitHandler(func(w http.ResponseWriter, _ *http.Request) {
				// httprate has already set Retry-After.
				writeProblem(w, Problem{Type: "/problems/rate-limited", Title: "Too many requests", Status: http.StatusTooManyRequests,
					Detail: "too many clicks from this address; retry later"})
			}))(click)
	}
	// Only POST records a click. OPTIONS is served only as a CORS preflight
	// (it carries Access-Control-Request-Method), which the CORS handler
	// answers itself; any other OPTIONS is a wrong method.
	r.Handle("/api/widget/click", widgetCORS.Handler(click)).Methods(http.MethodPost)
	r.HandleFunc("/api/widget/click", widgetCORS.HandlerFunc).Methods(http.MethodOptions).
		HeadersRegexp("Access-Control-Request-Method", ".")

	partner := r.PathPrefix("/api/integrations/{service}").Subrouter()
	partner.Use(h.requireIntegrationKey)
	partner.HandleFunc("/webhook-config", h.putWebhookConfig).Methods(http.MethodPut)
	partner.HandleFunc("/webhook-config", h.getWebhookConfig).Methods(http.MethodGet)
	partner.HandleFunc("/webhook-config/rotate-secret", h.rotateSecret).Methods(http.MethodPost)
	lists := newQueryLimiter(d.QueryConcurrency, d.QueryServiceConcurrency, d.QueryQueueTimeout)
	partner.HandleFunc("/deliveries", lists.wrap(h.listDeliveries)).Methods(http.MethodGet)
	partner.HandleFunc("/deliveries/recover", h.recoverDeliveries).Methods(http.MethodPost)
	partner.HandleFunc("/events/{event_id}", h.getEvent).Methods(http.MethodGet)
	partner.HandleFunc("/events/{event_id}/redeliver", h.redeliverEvent).Methods(http.MethodPost)
	partner.HandleFunc("/leads", lists.wrap(h.listLeads)).Methods(http.MethodGet)
	partner.HandleFunc("/attribution", lists.wrap(h.listAttribution)).Methods(http.MethodGet)

	r.HandleFunc("/api/whatsapp/webhook", h.verifyWhatsApp).Methods(http.MethodGet)
	r.HandleFunc("/api/whatsapp/webhook", h.receiveWhatsApp).Methods(http.MethodPost)

	// The operator's erasures, with River UI's credentials. The method is
	// judged first (by the router), then the credentials.
	r.Handle("/api/admin/erasures", basicAuth(d.AdminUser, d.AdminPassword, http.HandlerFunc(h.eraseData))).
		Methods(http.MethodPost)

	agent := r.PathPrefix("/api/conversations/{conversation_id:[0-9]+}").Subrouter()
	agent.Use(h.requireAgentKey)
	agent.HandleFunc("/lead", h.getLead).Methods(http.MethodGet)
	agent.HandleFunc("/lead", h.patchLead).Methods(http.MethodPatch)

	spec, err := openapi.JSON()
	if err != nil {
		panic(err) // the embedded description is checked by its own test
	}
	r.HandleFunc("/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(spec)
	}).Methods(http.MethodGet)
	r.HandleFunc("/docs", serveStatic("docs/index.html", "text/html; charset=utf-8", "no-cache")).Methods(http.MethodGet)
	r.HandleFunc("/docs/redoc.standalone.js", serveStatic("docs/redoc.standalone.js", "text/javascript; charset=utf-8", "public, max-age=86400")).
		Methods(http.MethodGet)
	r.HandleFunc("/widget.js", serveStatic("widget.js", "text/javascript; charset=utf-8", "public, max-age=300")).
		Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/healthz", h.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", h.readyz).Methods(http.MethodGet, http.MethodHead)

	if d.Metrics != nil {
		r.Handle("/metrics", d.Metrics).Methods(http.MethodGet)
	}
	if d.Admin != nil && d.AdminPassword != "" {
		r.PathPrefix(d.AdminPrefix).Handler(basicAuth(d.AdminUser, d.AdminPassword, d.Admin))
	}
	return r
}

// NewOpsRouter serves what a worker process offers: /healthz, /readyz and
// /metrics.
func NewOpsRouter(d Deps) *mux.Router {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := &handlers{deps: d}
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, Problem{Type: "/problems/not-found", Title: "Not found", Status: http.StatusNotFound,
			Detail: "no such route: a worker process serves only /healthz, /readyz and /metrics"})
	})
	r.Use(recoverer(d.Logger), nameSpanByRoute)
	r.HandleFunc("/healthz", h.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", h.readyz).Methods(http.MethodGet, http.MethodHead)
	if d.Metrics != nil {
		r.Handle("/metrics", d.Metrics).Methods(http.MethodGet)
	}
	return r
}

// NewMetricsRouter serves metrics at GET /metrics and nothing else, for a
// listener of its own (AURIX_METRICS_ADDR) that need not be public.
func NewMetricsRouter(metrics http.Handler) *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, Problem{Type: "/problems/not-found", Title: "Not found", Status: http.StatusNotFound, Detail: "only /metrics is served here"})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		writeProblem(w, Problem{Type: "/problems/method-not-allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed})
	})
	r.Handle("/metrics", metrics).Methods(http.MethodGet)
	return r
}

// routeMethods are the methods any route may serve, in the order an Allow
// header lists them.
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// noRoute answers a request no route serves: 405 with Allow when some route
// serves its path under other methods, else 404. It asks the router itself
// which methods match, so every route and subrouter is covered by this one
// mechanism (mux's own method-mismatch detection misses a subrouter's routes
// once a later route of the same subrouter fails on its path, and it sets no
// Allow header).
func noRoute(router *mux.Router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(router, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeProblem(w, Problem{Type: "/problems/method-not-allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
				Detail: "this route accepts " + strings.Join(allow, ", ")})
			return
		}
		writeProblem(w, Problem{Type: "/problems/not-found", Title: "Not found", Status: http.StatusNotFound, Detail: "no such route"})
	})
}

// allowedMethods lists the methods under which some route of router serves
// r's path (and whatever else its matchers look at).
func allowedMethods(router *mux.Router, r *http.Request) []string {
	var allow []string
	for _, m := range routeMethods {
		if m == r.Method {
			continue
		}
		probe := r.WithContext(r.Context()) // a shallow copy: matching only reads it
		probe.Method = m
		var match mux.RouteMatch
		if router.Match(probe, &match) && match.MatchErr == nil {
			allow = append(allow, m)
		}
	}
	return allow
}

type handlers struct {
	deps        Deps
	keys        keyRing
	verifyToken secretMatcher
	agentKey    secretMatcher
}

// requireIntegrationKey lets a request through only with the Bearer key of
// the service named in its path; any other key, valid elsewhere or not, is 401.
func (h *handlers) requireIntegrationKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.keys.allows(mux.Vars(r)["service"], bearer(r)) {
			writeProblem(w, Problem{Type: "/problems/unauthorized", Title: "Unauthorized", Status: http.StatusUnauthorized,
				Detail: "missing or invalid integration API key"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a 500 problem and a log line.
func recoverer(log *slog.Logger) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
						panic(v)
					}
					log.ErrorContext(r.Context(), "handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
					writeProblem(w, Problem{Type: "/problems/internal", Title: "Internal server error", Status: http.StatusInternalServerError})
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

func (h *handlers) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyTimeout bounds the readiness check: a probe wants an answer, and a
// database that takes longer than this to answer is not ready to serve.
const readyTimeout = 2 * time.Second

func (h *handlers) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := h.deps.Ready(ctx); err != nil {
		h.deps.Logger.WarnContext(ctx, "not ready", "err", err)
		writeProblem(w, Problem{Type: "/problems/not-ready", Title: "Not ready", Status: http.StatusServiceUnavailable, Detail: "database unreachable or schema not current"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
