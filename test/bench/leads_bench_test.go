//go:build bench

package bench

// The Leads API through the service's full handler (otelhttp, router, auth,
// use case, bun/pgx, JSON streaming), minus the socket: the Go side of
// run-leads.sh, for CPU profiles.
//
//	BENCH_LEADS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/aurix_bench_leads?sslmode=disable \
//	  go test -tags bench -run '^$' -bench Leads -benchtime 20s -cpuprofile /tmp/leads.cpu ./test/bench
//	go tool pprof -top -cum /tmp/leads.cpu
//
// BENCH_LEADS_DATABASE_URL names a database seeded by leads-seed.sql (as
// run-leads.sh leaves it with KEEP=1); without it, the benchmark seeds a
// fresh copy of the migrated template with BENCH_LEADS leads (default
// 1,000,000, about 80 s) and half as many extra clicks, once per call of the
// benchmark function (go test calls it more than once to size b.N: use
// -benchtime Nx or a seeded database). BENCH_DSN_PARAMS and BENCH_MAX_CONNS
// work as for BenchmarkClickHandler.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/bootstrap"
)

const leadsKey = "benchkey"

// seededLeadsURL returns the database the Leads benchmarks read.
func seededLeadsURL(b *testing.B) string {
	if u := os.Getenv("BENCH_LEADS_DATABASE_URL"); u != "" {
		return u
	}
	url := pgtest.NewDatabase(b)
	leads := 1000000
	if v := os.Getenv("BENCH_LEADS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_LEADS=%q: want a positive number", v)
		}
		leads = n
	}
	script, err := os.ReadFile("leads-seed.sql")
	if err != nil {
		b.Fatal(err)
	}
	// psql's meta-commands out, its :variables in.
	var sqlText strings.Builder
	for _, line := range strings.Split(string(script), "\n") {
		if strings.HasPrefix(line, `\`) {
			continue
		}
		sqlText.WriteString(line + "\n")
	}
	text := strings.NewReplacer(":leads", strconv.Itoa(leads), ":clicks", strconv.Itoa(leads/2)).Replace(sqlText.String())
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	b.Logf("seeding %d leads (leads-seed.sql)", leads)
	if _, err := conn.PgConn().Exec(ctx, text).ReadAll(); err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return url
}

// leadsHandler wires the service as "aurix serve" does (River workers not
// started: the Leads API does not use them).
func leadsHandler(b *testing.B) http.Handler {
	ctx := context.Background()
	url := seededLeadsURL(b)
	if p := os.Getenv("BENCH_DSN_PARAMS"); p != "" {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + p
	}
	maxConns := os.Getenv("BENCH_MAX_CONNS")
	if maxConns == "" {
		maxConns = "20"
	}
	env := map[string]string{
		"DATABASE_URL": url, "AURIX_MIGRATE_ON_START": "false", "AURIX_DATABASE_MAX_CONNS": maxConns,
		"AURIX_WHATSAPP_NUMBER": "+15550783881", "AURIX_WHATSAPP_VERIFY_TOKEN": "bench", "AURIX_WHATSAPP_APP_SECRET": "bench",
		"AURIX_AGENT_API_KEY": "bench", "TOPKEE_INTEGRATION_API_KEY": leadsKey, "AURIX_WIDGET_RATE_LIMIT": "0",
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
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = app.Stop(sctx)
	})
	return app.Handler()
}

var seedStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func dayWindow(r *rand.Rand) string {
	d := seedStart.AddDate(0, 0, r.IntN(90))
	return "/api/integrations/topkee/leads?limit=100&from_date=" + d.Format(time.DateOnly) + "&to_date=" + d.AddDate(0, 0, 1).Format(time.DateOnly)
}

var nextCursor = regexp.MustCompile(`"next_cursor":(?:"([^"]+)"|null)`)

// runLeads sends the requests next picks, 32 at a time on 2 cores (like
// wrk -c32), and fails on any non-200.
func runLeads(b *testing.B, next func(r *rand.Rand, last []byte) string) {
	h := leadsHandler(b)
	var failed, rows atomic.Int64
	var seed atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), uint64(time.Now().UnixNano())))
		var last []byte
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, next(r, last), nil)
			req.Header.Set("Authorization", "Bearer "+leadsKey)
			req.RemoteAddr = "127.0.0.1:40000"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				if failed.Add(1) == 1 {
					b.Errorf("status %d: %s", rec.Code, rec.Body.String())
				}
				last = nil
				continue
			}
			last = rec.Body.Bytes()
			rows.Add(int64(bytes.Count(last, []byte(`"conversation_id":`))))
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(rows.Load())/float64(b.N), "rows/req")
}

// BenchmarkLeadsFirstPage asks for the first page of a random day.
func BenchmarkLeadsFirstPage(b *testing.B) {
	runLeads(b, func(r *rand.Rand, _ []byte) string { return dayWindow(r) })
}

// BenchmarkLeadsCursorWalk pages through random days by next_cursor, as
// leads-cursor.lua does: each goroutine follows its own walk to the end of
// its day, then starts another.
func BenchmarkLeadsCursorWalk(b *testing.B) {
	runLeads(b, func(r *rand.Rand, last []byte) string {
		if last != nil {
			tail := last[max(0, len(last)-400):]
			if m := nextCursor.FindSubmatch(tail); m != nil && m[1] != nil {
				// The walk's day is the last row's created_at date.
				i := bytes.LastIndex(last, []byte(`"created_at":"`))
				day, err := time.Parse(time.DateOnly, string(last[i+14:i+24]))
				if err == nil {
					return fmt.Sprintf("/api/integrations/topkee/leads?limit=100&from_date=%s&to_date=%s&cursor=%s",
						day.Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly), m[1])
				}
			}
		}
		return dayWindow(r)
	})
}
