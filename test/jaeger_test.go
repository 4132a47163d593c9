package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jaegerBinary returns the Jaeger binary: JAEGER_BIN, which `go tool task
// test` sets after its jaeger:build made it, or else the same cache path the
// task uses, built here from the tools module when missing (the first build
// takes minutes; later ones hit the build cache).
func jaegerBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("JAEGER_BIN")
	if bin == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			require.NoError(t, err)
			cache = filepath.Join(home, ".cache")
		}
		bin = filepath.Join(cache, "aurix", "jaeger-v1.76.0")
	}
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	build := exec.Command("go", "build", "-o", bin, "github.com/jaegertracing/jaeger/cmd/jaeger")
	build.Dir = "../.tools/jaeger"
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build jaeger: %s", out)
	return bin
}

type jaegerTrace struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			OperationName string `json:"operationName"`
			TraceID       string `json:"traceID"`
			Tags          []struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			} `json:"tags"`
		} `json:"spans"`
	} `json:"data"`
}

// TestTraceReachesJaeger runs the real Jaeger and the real service, posts a
// click, and finds its whole trace through Jaeger's query API by
// aurix.correlation_id: HTTP, database, River and the outbound delivery.
func TestTraceReachesJaeger(t *testing.T) {
	t.Parallel()
	bin := jaegerBinary(t)
	otlpPort, queryPort := freePort(t), freePort(t)
	jaeger := exec.Command(bin, "--config", "testdata/jaeger.yaml")
	jaeger.Env = append(os.Environ(),
		"JAEGER_OTLP_HTTP_PORT="+strconv.Itoa(otlpPort), "JAEGER_QUERY_PORT="+strconv.Itoa(queryPort),
		"JAEGER_QUERY_GRPC_PORT="+strconv.Itoa(freePort(t)), "JAEGER_HEALTH_PORT="+strconv.Itoa(freePort(t)))
	logs := &syncBuffer{}
	jaeger.Stdout, jaeger.Stderr = logs, logs
	require.NoError(t, jaeger.Start())
	t.Cleanup(func() {
		_ = jaeger.Process.Kill()
		_ = jaeger.Wait()
		if t.Failed() {
			t.Logf("jaeger logs:\n%s", logs.String())
		}
	})
	query := fmt.Sprintf("http://127.0.0.1:%d", queryPort)
	require.Eventually(t, func() bool {
		resp, err := http.Get(query + "/api/services")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 200*time.Millisecond, "jaeger query API did not come up")

	svc := startService(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": fmt.Sprintf("http://127.0.0.1:%d", otlpPort),
		"OTEL_SERVICE_NAME":           "aurix-e2e",
		"OTEL_BSP_SCHEDULE_DELAY":     "200",
	})
	rc := newReceiver(t)
	svc.registerWebhook(t, rc.URL)
	click := svc.click(t, partnerClickURL, "")
	rc.waitFor(t, 1, 15*time.Second)

	var found jaegerTrace
	ops := map[string]bool{}
	require.Eventually(t, func() bool {
		q := url.Values{"service": {"aurix-e2e"}, "tags": {fmt.Sprintf(`{"aurix.correlation_id":%q}`, click.CorrelationID)}, "limit": {"20"}}
		resp, err := http.Get(query + "/api/traces?" + q.Encode())
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		found = jaegerTrace{}
		if json.NewDecoder(resp.Body).Decode(&found) != nil || len(found.Data) == 0 {
			return false
		}
		ops = map[string]bool{}
		for _, tr := range found.Data {
			for _, s := range tr.Spans {
				ops[s.OperationName] = true
			}
		}
		return ops["POST /api/widget/click"] && ops["aurix.deliver"] && ops["webhook POST"]
	}, 30*time.Second, 300*time.Millisecond, "trace not complete in Jaeger")

	require.Len(t, found.Data, 1, "one trace from click to delivery")
	var db, river int
	for _, s := range found.Data[0].Spans {
		for _, tag := range s.Tags {
			if tag.Key == "db.system" || tag.Key == "db.system.name" {
				db++
			}
			if tag.Key == "otel.scope.name" && tag.Value == "github.com/aurix/integrations/adapters/worker" {
				river++
			}
		}
	}
	assert.Positive(t, db, "database spans in the trace")
	assert.Positive(t, river, "River job spans in the trace")
}
