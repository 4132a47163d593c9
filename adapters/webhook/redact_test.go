package webhook_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/aurix/integrations/adapters/webhook"
)

// partnerToken stands for a secret a partner put in its webhook URL.
const partnerToken = "secret-value-9f2c"

// refusingURL is an address nothing listens on.
func refusingURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// TestSender_ErrorsDoNotShowTheURLsSecrets: a failed attempt's error text
// (stored with the attempt, shown in the delivery log, maybe logged) names
// the endpoint but not its query string or userinfo.
func TestSender_ErrorsDoNotShowTheURLsSecrets(t *testing.T) {
	t.Parallel()
	base := refusingURL(t)
	for _, target := range []string{
		base + "/hook?token=" + partnerToken,
		strings.Replace(base, "http://", "http://partner:"+partnerToken+"@", 1) + "/hook",
		base + "/hook?token=" + partnerToken + "#" + partnerToken,
	} {
		_, err := newTestSender(nil).Send(t.Context(), request(target, senderSecret))
		require.Error(t, err)
		msg := err.Error()
		assert.NotContains(t, msg, partnerToken, "the error shows the URL's secret")
		assert.Contains(t, msg, strings.TrimPrefix(base, "http://"), "the error still names the endpoint")
		assert.Contains(t, msg, "/hook")
		assert.Contains(t, msg, "connection refused", "and what went wrong")
		assert.Contains(t, msg, "REDACTED")
	}

	// A URL the HTTP client cannot even parse is not echoed either.
	_, err := newTestSender(nil).Send(t.Context(), request("http://h\x7f/?token="+partnerToken, senderSecret))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), partnerToken)
}

// TestSender_SpanURLHasNoQuery: under otelhttp, the client span's url.full
// is the endpoint without its query string, as recorded (no redacting
// exporter involved), while the partner still receives the whole URL.
func TestSender_SpanURLHasNoQuery(t *testing.T) {
	t.Parallel()
	gotQuery := make(chan string, 1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery <- r.URL.RawQuery
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	sender := newTestSender(func(o *webhook.Options) {
		o.Transport = func(rt http.RoundTripper) http.RoundTripper {
			return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(tp))
		}
	})

	resp, err := sender.Send(t.Context(), request(rc.URL+"/hook?token="+partnerToken+"&x=1", senderSecret))
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "token="+partnerToken+"&x=1", <-gotQuery, "the partner gets its URL as registered")

	ended := spans.Ended()
	require.Len(t, ended, 1)
	var full string
	for _, kv := range ended[0].Attributes() {
		if kv.Key == "url.full" {
			full = kv.Value.AsString()
		}
		assert.NotContains(t, kv.Value.String(), partnerToken, "attribute %s", kv.Key)
	}
	assert.Equal(t, rc.URL+"/hook?REDACTED", full)
	for _, ev := range ended[0].Events() {
		for _, kv := range ev.Attributes {
			assert.NotContains(t, kv.Value.String(), partnerToken)
		}
	}
}
