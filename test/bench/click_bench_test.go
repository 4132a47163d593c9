//go:build bench

// Package bench holds the click-ingestion benchmarks behind the "bench"
// build tag, so they never run (or need to compile) in the ordinary suite.
// The open-loop comparison with pgbench is test/load (go tool task load);
// these give the Go side's CPU profile and allocation counts:
//
//	go test -tags bench -run '^$' -bench . -benchtime 20s -cpuprofile /tmp/click.cpu ./test/bench
//	go tool pprof -top -cum /tmp/click.cpu
//
// BENCH_DSN_PARAMS adds query parameters to the database URL (e.g.
// default_query_exec_mode=exec) and BENCH_MAX_CONNS sets
// AURIX_DATABASE_MAX_CONNS, to try pool settings without editing code.
package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/adapters/useragent"
	"github.com/aurix/integrations/bootstrap"
)

const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

// BenchmarkClickHandler drives POST /api/widget/click through the service's
// full handler (otelhttp, router, CORS, use case, bun, River insert) with the
// River workers running, as "aurix serve" does, minus the network socket.
// 16 goroutines per P: 32 concurrent clicks on 2 cores, like wrk -c32.
func BenchmarkClickHandler(b *testing.B) {
	ctx := context.Background()
	url := pgtest.NewDatabase(b)
	if p := os.Getenv("BENCH_DSN_PARAMS"); p != "" {
		url += "&" + p
	}
	maxConns := os.Getenv("BENCH_MAX_CONNS")
	if maxConns == "" {
		maxConns = "20"
	}
	env := map[string]string{
		"DATABASE_URL": url, "AURIX_MIGRATE_ON_START": "false", "AURIX_DATABASE_MAX_CONNS": maxConns,
		"AURIX_WHATSAPP_NUMBER": "+15550783881", "AURIX_WHATSAPP_VERIFY_TOKEN": "bench", "AURIX_WHATSAPP_APP_SECRET": "bench",
		"AURIX_AGENT_API_KEY": "bench", "TOPKEE_INTEGRATION_API_KEY": "k", "AURIX_WIDGET_RATE_LIMIT": "0",
	}
	cfg, err := bootstrap.LoadConfig(env)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	tel, err := bootstrap.SetupTelemetry(ctx, env, log, bootstrap.TelemetryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	app, err := bootstrap.NewApp(ctx, cfg, tel, log)
	if err != nil {
		b.Fatal(err)
	}
	if err := app.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = app.Stop(sctx)
	})
	h := app.Handler()

	var seq atomic.Int64
	var failed atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"click_url":"https://example.com/landing?utm_source=google&gclid=AbCd123","device_id":"bench-%d"}`, seq.Add(1))
			req := httptest.NewRequest(http.MethodPost, "/api/widget/click", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", browserUA)
			req.RemoteAddr = "127.0.0.1:40000"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				if failed.Add(1) == 1 {
					b.Errorf("status %d: %s", rec.Code, rec.Body.String())
				}
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "clicks/s")
}

// BenchmarkIsBot is the bot check every click pays (crawlerdetect's
// pattern list), for a browser User-Agent, which matches no pattern and so
// costs the most.
func BenchmarkIsBot(b *testing.B) {
	d := useragent.New()
	b.ReportAllocs()
	for b.Loop() {
		if d.IsBot(browserUA) {
			b.Fatal("a browser counted as a bot")
		}
	}
}
