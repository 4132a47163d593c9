package test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// getWithHost sends GET path to base with the given Host header ("" keeps the URL's).
func getWithHost(t *testing.T, base, path, host string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(raw)
}

// httpServerSeries is the sample lines of the HTTP server metrics.
func httpServerSeries(t *testing.T, metrics string) []string {
	t.Helper()
	var out []string
	for line := range strings.Lines(metrics) {
		if strings.HasPrefix(line, "http_server_") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	require.NotEmpty(t, out, "no http_server_* series in /metrics")
	return out
}

// TestMetricsLabelsIgnoreTheHostHeader: requests with random Host headers add
// no series to the unauthenticated /metrics: no value a client sends becomes
// a label value.
func TestMetricsLabelsIgnoreTheHostHeader(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil)
	scrape := func() string {
		t.Helper()
		resp, body := getWithHost(t, svc.URL, "/metrics", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return body
	}
	// Every method, route and status the requests below use is seen once,
	// and a scrape is recorded once, before the count.
	for _, path := range []string{"/healthz", "/no-such-route"} {
		getWithHost(t, svc.URL, path, "")
	}
	scrape()
	before := httpServerSeries(t, scrape())

	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	var hosts []string
	for i := range 31 {
		host := fmt.Sprintf("h%d-%s.example:%d", i, hex.EncodeToString(nonce), 20000+i)
		hosts = append(hosts, host)
		resp, _ := getWithHost(t, svc.URL, "/healthz", host)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _ = getWithHost(t, svc.URL, "/no-such-route", host)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	}
	metrics := scrape()
	after := httpServerSeries(t, metrics)
	assert.Equal(t, len(before), len(after), "http_server_* lines before and after 31 requests with random Host headers")
	for _, h := range hosts {
		name, port, _ := strings.Cut(h, ":")
		for _, v := range []string{`"` + name + `"`, `"` + port + `"`} {
			if strings.Contains(metrics, v) {
				t.Errorf("the Host header %q became the label value %s", h, v)
			}
		}
	}
	for _, label := range []string{"server_address=", "server_port="} {
		if strings.Contains(metrics, label) {
			t.Errorf("/metrics has the label %s, which comes from the Host header", label)
		}
	}
}

// TestMetricsOnTheirOwnAddress: with AURIX_METRICS_ADDR, /metrics is served
// there only, and the public server answers 404 for it.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	t.Parallel()
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	svc := startService(t, map[string]string{"AURIX_METRICS_ADDR": metricsAddr})

	resp, _ := getWithHost(t, svc.URL, "/metrics", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the API's server does not serve /metrics")
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))

	resp, body := getWithHost(t, "http://"+metricsAddr, "/metrics", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "# TYPE http_server_request_duration_seconds histogram", "the API's metrics, served apart")
	assert.Contains(t, body, `target_info{`)

	for _, path := range []string{"/healthz", "/api/integrations/topkee/leads", "/riverui/"} {
		resp, _ = getWithHost(t, "http://"+metricsAddr, path, "")
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "only /metrics is served on the metrics address: %s", path)
	}
}
