package bootstrap_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/bootstrap"
)

const (
	testKey       = "telemetry-topkee-key"
	testAppSecret = "telemetry-app-secret"
	testAgentKey  = "telemetry-agent-key"
	testPhone     = "+16505551234"
	testEmail     = "john.doe@example.com"
)

type telemetryBundle struct {
	srv      *httptest.Server
	spans    *tracetest.InMemoryExporter
	logs     *bytes.Buffer
	received chan []byte
}

func setupTelemetry(t *testing.T) telemetryBundle {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs}, nil))
	ctx := context.Background()
	env := map[string]string{
		"DATABASE_URL":                        pgtest.NewDatabase(t),
		"AURIX_WHATSAPP_NUMBER":               "+15550783881",
		"TOPKEE_INTEGRATION_API_KEY":          testKey,
		"AURIX_WHATSAPP_VERIFY_TOKEN":         "verify",
		"AURIX_WHATSAPP_APP_SECRET":           testAppSecret,
		"AURIX_AGENT_API_KEY":                 testAgentKey,
		"AURIX_WEBHOOK_ALLOW_INSECURE":        "true",
		"AURIX_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
		"AURIX_WIDGET_RATE_LIMIT":             "0",
		"AURIX_MIGRATE_ON_START":              "false",
		"AURIX_RIVER_FETCH_POLL_INTERVAL":     "100ms",
	}
	cfg, err := bootstrap.LoadConfig(env)
	require.NoError(t, err)
	tel, err := bootstrap.SetupTelemetry(ctx, env, log, bootstrap.TelemetryOptions{SpanExporter: spans})
	require.NoError(t, err)
	app, err := bootstrap.NewApp(ctx, cfg, tel, log)
	require.NoError(t, err)
	require.NoError(t, app.Start(ctx))
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = app.Stop(sctx)
		_ = tel.Shutdown(sctx)
	})
	return telemetryBundle{srv: srv, spans: spans, logs: &logs, received: make(chan []byte, 16)}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (b telemetryBundle) call(t *testing.T, method, path, key, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func attr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestOneClickIsOneTrace: a click with a registered webhook yields the
// server, database, River and outbound spans, all in the click's trace, with
// the aurix.* attributes, and nothing personal or secret anywhere. The
// attempt's trace holds the statement that stored its outcome, and the
// attempt links to the claim that took its delivery, a trace of its own
// with the claim's statements beneath it.
func TestOneClickIsOneTrace(t *testing.T) {
	t.Parallel()
	b := setupTelemetry(t)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.received <- body
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	code, raw := b.call(t, http.MethodPut, "/api/integrations/topkee/webhook-config", testKey, `{"url":"`+receiver.URL+`"}`)
	require.Equal(t, http.StatusOK, code, string(raw))
	var cfg struct{ Secret string }
	require.NoError(t, json.Unmarshal(raw, &cfg))

	code, raw = b.call(t, http.MethodPost, "/api/widget/click", "", `{"click_url":"https://example.com/?utm_source=google&gclid=x1"}`,
		"X-Forwarded-For", "203.0.113.77")
	require.Equal(t, http.StatusCreated, code, string(raw))
	var click struct {
		CorrelationID string `json:"correlation_id"`
	}
	require.NoError(t, json.Unmarshal(raw, &click))
	var eventID string
	select {
	case body := <-b.received:
		var ev struct {
			EventID string `json:"event_id"`
		}
		require.NoError(t, json.Unmarshal(body, &ev))
		eventID = ev.EventID
	case <-time.After(15 * time.Second):
		t.Fatal("no delivery")
	}

	// Personal data flows through the WhatsApp and agent paths too.
	note := `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"791163770738681"},` +
		`"contacts":[{"wa_id":"16505551234","user_id":"US.1"}],"messages":[{"from":"16505551234","id":"wamid.T1","type":"text","text":{"body":"hi [ref: ` + click.CorrelationID + `] secret words"}}]}}]}]}`
	m := hmac.New(sha256.New, []byte(testAppSecret))
	m.Write([]byte(note))
	code, raw = b.call(t, http.MethodPost, "/api/whatsapp/webhook", "", note, "X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	require.Equal(t, http.StatusOK, code, string(raw))
	code, raw = b.call(t, http.MethodPatch, "/api/conversations/1/lead", testAgentKey, `{"lead_data":{"name":"John Doe","email":"`+testEmail+`"}}`)
	require.Equal(t, http.StatusOK, code, string(raw))
	for range 2 { // lead.correlated and lead.complete
		select {
		case <-b.received:
		case <-time.After(15 * time.Second):
			t.Fatal("lead events not delivered")
		}
	}

	var spans tracetest.SpanStubs
	require.Eventually(t, func() bool {
		spans = b.spans.GetSpans()
		for _, s := range spans {
			if v, ok := attr(s, "aurix.event_id"); ok && v.AsString() == eventID && s.Name == "aurix.deliver" {
				return true
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond)

	var clickSpan *tracetest.SpanStub
	for i, s := range spans {
		if s.Name == "POST /api/widget/click" {
			clickSpan = &spans[i]
		}
	}
	require.NotNil(t, clickSpan, "server span named by route template")
	v, _ := attr(*clickSpan, "aurix.correlation_id")
	assert.Equal(t, click.CorrelationID, v.AsString())
	trace := clickSpan.SpanContext.TraceID()

	var db, dispatch, deliver, client int
	var deliverSpan tracetest.SpanStub
	hot := map[string]int{}
	for _, s := range spans {
		if s.SpanContext.TraceID() != trace {
			continue
		}
		scope := s.InstrumentationScope.Name
		switch {
		case strings.HasPrefix(s.Name, "aurix.db "):
			hot[strings.TrimPrefix(s.Name, "aurix.db ")]++
			v, ok := attr(s, "db.query.text")
			assert.True(t, ok, "%s carries its statement", s.Name)
			assert.Contains(t, v.AsString(), "$1", "%s: bind parameters, not values", s.Name)
		case strings.Contains(scope, "bun"):
			db++
		case s.Name == "aurix.dispatch":
			dispatch++
		case s.Name == "aurix.deliver":
			deliver++
			deliverSpan = s
			for key, want := range map[string]any{"aurix.event_id": eventID, "aurix.event_type": "widget.click",
				"aurix.integration": "topkee", "aurix.correlation_id": click.CorrelationID} {
				v, ok := attr(s, key)
				assert.True(t, ok, "delivery span has %s", key)
				assert.Equal(t, want, v.AsString(), key)
			}
			v, ok := attr(s, "aurix.attempt")
			assert.True(t, ok)
			assert.EqualValues(t, 1, v.AsInt64())
		case s.Name == "webhook POST":
			client++
			v, _ := attr(s, "http.response.status_code")
			assert.EqualValues(t, 200, v.AsInt64())
		}
	}
	assert.Positive(t, db, "database spans in the click's trace")
	for _, name := range []string{"click.write"} {
		assert.Equal(t, 1, hot[name], "the hot path's %s has its span in the click's trace (%v)", name, hot)
	}
	assert.Equal(t, 1, hot["outcomes.save"], "the attempt's outcome is stored in the attempt's trace (%v)", hot)
	for _, s := range spans {
		if s.Name == "aurix.outcomes.commit" && s.SpanContext.TraceID() == trace {
			assert.Equal(t, deliverSpan.SpanContext.SpanID(), s.Parent.SpanID(), "the outcome's transaction is a child of the attempt")
		}
	}
	for _, name := range []string{"claim.lock", "claim.in_flight", "claim.due_first"} {
		assert.Zero(t, hot[name], "a claim serves many events: its %s is in the claim's own trace", name)
	}

	// The claim that took the delivery is a trace of its own, linked from
	// the attempt, with the claim's statements beneath it.
	var claim *tracetest.SpanStub
	for _, l := range deliverSpan.Links {
		for i, s := range spans {
			if s.Name == "aurix.claim" && s.SpanContext.SpanID() == l.SpanContext.SpanID() {
				claim = &spans[i]
			}
		}
	}
	require.NotNil(t, claim, "the attempt links to the claim that took its delivery")
	v, _ = attr(*claim, "aurix.claimed")
	assert.Positive(t, v.AsInt64())
	claimed := map[string]int{}
	for _, s := range spans {
		if s.SpanContext.TraceID() == claim.SpanContext.TraceID() && strings.HasPrefix(s.Name, "aurix.db ") {
			claimed[strings.TrimPrefix(s.Name, "aurix.db ")]++
			assert.Equal(t, claim.SpanContext.SpanID(), s.Parent.SpanID(), "%s is a child of the claim span", s.Name)
		}
	}
	for _, name := range []string{"claim.lock", "claim.in_flight", "claim.due_first"} {
		assert.Equal(t, 1, claimed[name], "the claim's %s has its span beneath it (%v)", name, claimed)
	}
	assert.Zero(t, dispatch, "events are fanned out in the click's transaction, with no dispatch job")
	assert.Equal(t, 1, deliver, "delivery span joined to the click's trace")
	assert.Equal(t, 1, client, "outbound webhook span in the click's trace")

	forbidden := []string{cfg.Secret, testKey, testAppSecret, testAgentKey, testPhone, "16505551234", testEmail,
		"203.0.113.77", "127.0.0.1", "secret words", "John Doe"}
	for _, s := range spans {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			texts = append(texts, string(kv.Key)+"="+kv.Value.String())
		}
		for _, e := range s.Events {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, kv.Value.String())
			}
		}
		for _, txt := range texts {
			for _, f := range forbidden {
				assert.NotContains(t, txt, f, "span %q", s.Name)
			}
		}
	}

	// Metrics moved. The receiver may answer before the attempt is
	// recorded, so poll until every series is there.
	patterns := []string{
		`(?m)^aurix_clicks_total\{bot="false",[^}]*\} 1$`,
		`(?m)^aurix_events_emitted_total\{event_type="widget.click",[^}]*\} 1$`,
		`(?m)^aurix_events_emitted_total\{event_type="lead.correlated",[^}]*\} 1$`,
		`(?m)^aurix_events_emitted_total\{event_type="lead.complete",[^}]*\} 1$`,
		`(?m)^aurix_delivery_attempts_total\{[^}]*outcome="succeeded",status_class="2xx"\} 3$`,
		`(?m)^aurix_delivery_latency_seconds_count\{[^}]*\} 3$`,
		`(?m)^aurix_outbox_lag_seconds\{[^}]*\} `,
		`(?m)^river_work_count_total\{[^}]*\} `,
	}
	var metrics string
	missing := func() []string {
		code, raw := b.call(t, http.MethodGet, "/metrics", "", "")
		require.Equal(t, http.StatusOK, code)
		metrics = string(raw)
		var out []string
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(metrics) {
				out = append(out, p)
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	assert.Empty(t, missing(), "series missing from /metrics")
	for _, f := range forbidden[:4] {
		assert.NotContains(t, metrics, f)
	}
	assert.NotContains(t, b.logs.String(), cfg.Secret)
}

// TestAListingIsOneTrace: a partner listing's statement bypasses bun, and
// the tracer on its pool gives it its database span in the request's trace,
// a child of the server span, with the statement's text and nothing of the
// values, the database's address or the partner's key; and the partner
// listings' statement durations reach /metrics.
func TestAListingIsOneTrace(t *testing.T) {
	t.Parallel()
	b := setupTelemetry(t)
	code, raw := b.call(t, http.MethodPost, "/api/widget/click", "", `{"click_url":"https://example.com/?utm_source=google"}`)
	require.Equal(t, http.StatusCreated, code, string(raw))
	for _, api := range []string{"leads", "attribution"} {
		code, raw = b.call(t, http.MethodGet, "/api/integrations/topkee/"+api+"?limit=5&from_date=2026-01-02", testKey, "")
		require.Equal(t, http.StatusOK, code, string(raw))
	}

	for api, table := range map[string]string{"leads": "FROM leads l", "attribution": "FROM inbound_sources"} {
		var server *tracetest.SpanStub
		spans := b.spans.GetSpans()
		for i, s := range spans {
			if s.Name == "GET /api/integrations/{service}/"+api {
				server = &spans[i]
			}
		}
		require.NotNil(t, server, "server span of the %s listing", api)
		var db []tracetest.SpanStub
		for _, s := range spans {
			if s.SpanContext.TraceID() == server.SpanContext.TraceID() && strings.Contains(s.InstrumentationScope.Name, "otelpgx") {
				db = append(db, s)
			}
		}
		require.Len(t, db, 1, "one database span for the %s listing's statement, in its trace", api)
		assert.Equal(t, server.SpanContext.SpanID(), db[0].Parent.SpanID(), "a child of the server span")
		assert.Equal(t, "SELECT", db[0].Name)
		text, ok := attr(db[0], "db.query.text")
		require.True(t, ok)
		assert.Contains(t, text.AsString(), table)
		for _, kv := range db[0].Attributes {
			for _, f := range []string{"2026-01-02", "127.0.0.1", "5432", "postgres@", testKey} {
				assert.NotContains(t, string(kv.Key)+"="+kv.Value.String(), f)
			}
		}
	}
	code, raw = b.call(t, http.MethodGet, "/metrics", "", "")
	require.Equal(t, http.StatusOK, code)
	assert.Regexp(t, `(?m)^db_client_operation_duration_seconds_count\{[^}]*pgx_operation_type="query"[^}]*\} [1-9]`, string(raw))
}

// TestLogsCarryTraceIDs: a line logged inside a traced request has the ids.
func TestLogsCarryTraceIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := bootstrap.NewLogger(&buf, "info")
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	log.InfoContext(ctx, "inside")
	span.End()
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var in, out map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &in))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &out))
	assert.Equal(t, span.SpanContext().TraceID().String(), in["trace_id"])
	assert.Equal(t, span.SpanContext().SpanID().String(), in["span_id"])
	assert.NotContains(t, out, "trace_id")
}

// TestPartnerURLSecretsStayOut: a partner's webhook URL carrying a token in
// its query string gets that token, but no span, span event, log line or
// stored attempt error shows it: neither for a delivered event nor for an
// attempt that failed to connect (whose error text is the HTTP client's
// `Post "<url>": dial tcp …`).
func TestPartnerURLSecretsStayOut(t *testing.T) {
	t.Parallel()
	const token = "secret-value-7d1e"
	b := setupTelemetry(t)
	gotQuery := make(chan string, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery <- r.URL.RawQuery
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	code, raw := b.call(t, http.MethodPut, "/api/integrations/topkee/webhook-config", testKey,
		`{"url":"`+receiver.URL+`/hook?token=`+token+`"}`)
	require.Equal(t, http.StatusOK, code, string(raw))
	code, raw = b.call(t, http.MethodPost, "/api/widget/click", "", `{"click_url":"https://example.com/?utm_source=a"}`)
	require.Equal(t, http.StatusCreated, code, string(raw))
	select {
	case q := <-gotQuery:
		require.Equal(t, "token="+token, q, "the partner gets its URL as registered")
	case <-time.After(15 * time.Second):
		t.Fatal("no delivery")
	}

	// The same URL on a port nothing listens on: the attempt fails to connect.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	code, raw = b.call(t, http.MethodPut, "/api/integrations/topkee/webhook-config", testKey,
		`{"url":"`+closedURL+`/hook?token=`+token+`"}`)
	require.Equal(t, http.StatusOK, code, string(raw))
	code, raw = b.call(t, http.MethodPost, "/api/widget/click", "", `{"click_url":"https://example.com/?utm_source=b"}`)
	require.Equal(t, http.StatusCreated, code, string(raw))
	var attemptError string
	require.Eventually(t, func() bool {
		code, raw := b.call(t, http.MethodGet, "/api/integrations/topkee/deliveries?status=pending", testKey, "")
		require.Equal(t, http.StatusOK, code, string(raw))
		var list struct {
			Data []struct {
				Attempts []struct {
					Error *string `json:"error"`
				} `json:"attempts"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(raw, &list))
		for _, d := range list.Data {
			for _, a := range d.Attempts {
				if a.Error != nil {
					attemptError = *a.Error
					return true
				}
			}
		}
		return false
	}, 15*time.Second, 100*time.Millisecond, "no failed attempt recorded")
	assert.NotContains(t, attemptError, token, "the stored attempt error")
	assert.Contains(t, attemptError, "/hook?REDACTED", "the error still names the endpoint")
	assert.Contains(t, attemptError, "connection refused")

	var clientSpans int
	require.Eventually(t, func() bool {
		clientSpans = 0
		for _, s := range b.spans.GetSpans() {
			if s.Name == "webhook POST" {
				clientSpans++
			}
		}
		return clientSpans >= 2
	}, 10*time.Second, 50*time.Millisecond, "the two outbound spans were not exported")
	for _, s := range b.spans.GetSpans() {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			texts = append(texts, string(kv.Key)+"="+kv.Value.String())
		}
		for _, e := range s.Events {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, string(kv.Key)+"="+kv.Value.String())
			}
		}
		for _, txt := range texts {
			assert.NotContains(t, txt, token, "span %q", s.Name)
		}
		if s.Name == "webhook POST" {
			v, ok := attr(s, "url.full")
			assert.True(t, ok, "the client span has url.full")
			assert.True(t, strings.HasSuffix(v.AsString(), "/hook?REDACTED"), "url.full %q", v.AsString())
		}
	}
	assert.NotContains(t, b.logs.String(), token, "the logs")
}
