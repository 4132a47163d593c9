package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// Soak settings: every retention window is soakWindow, the purge runs every
// second. AURIX_SOAK_DURATION (a Go duration) makes a longer run for the
// figures; the suite's run takes soakDefault.
const (
	soakWindow  = 10 * time.Second
	soakDefault = 150 * time.Second
	// soakWarmup is the first window and then some: River's cleaner runs
	// every 30 s, PostgreSQL's autovacuum (naptime 1 s here) needs a few
	// rounds to make the purged space reusable.
	soakWarmup  = 45 * time.Second
	soakEvery   = 5 * time.Second
	soakClickHz = 10
)

// tableSample is one table's size at one moment.
type tableSample struct {
	rows  int64
	bytes int64
}

// TestRetentionHoldsStorageFlat runs traffic for a few minutes (clicks; a
// third of them become leads through WhatsApp, half of those are
// completed; every event is delivered) against a service whose retention
// windows are 10 s and whose purge runs every second, on a PostgreSQL of
// the test's own with autovacuum on (as in production; the shared test
// cluster runs without it). Every 5 s it samples each table's rows and
// total size (indexes and TOAST included).
//
// Flat, after the warm-up: for every table, the mean over the second half of
// the samples is at most 1.25 × the mean over the first half (plus 20 rows,
// or 128 KiB: a page per index is noise). A table growing without bound
// from the start would show about 1.75 × here, so the check fails without
// the purge (or without autovacuum); steady traffic shows about 1.0 ×.
func TestRetentionHoldsStorageFlat(t *testing.T) {
	t.Parallel()
	duration := soakDefault
	if v := os.Getenv("AURIX_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "AURIX_SOAK_DURATION")
		duration = d
	}
	require.Greater(t, duration, soakWarmup+4*soakEvery, "the run must be longer than its warm-up")
	dbURL := privatePostgres(t, map[string]string{
		"autovacuum": "on", "autovacuum_naptime": "1s", "fsync": "off", "synchronous_commit": "off", "shared_buffers": "64MB",
	})
	w := soakWindow.String()
	svc := startServiceOn(t, dbURL, freePort(t), map[string]string{
		"AURIX_RETENTION_DELIVERY_LOG": w, "AURIX_RETENTION_MESSAGE_IDS": w, "AURIX_RETENTION_UNCORRELATED_CLICKS": w,
		"AURIX_RETENTION_LEADS": w, "AURIX_CORRELATION_WINDOW": w, "AURIX_RETENTION_INTERVAL": "1s",
		"AURIX_LOG_LEVEL": "warn",
	})
	rc := newReceiver(t)
	svc.registerWebhook(t, rc.URL)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var tables []string
	rows, err := conn.Query(ctx, `SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY relname`)
	require.NoError(t, err)
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)

	// The sampler runs beside the traffic on a connection of its own.
	samplerConn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer samplerConn.Close(ctx)
	var (
		mu      sync.Mutex
		samples []map[string]tableSample
		at      []time.Duration
		sampErr error
	)
	start := time.Now()
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(soakEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			s := map[string]tableSample{}
			for _, table := range tables {
				var ts tableSample
				q := fmt.Sprintf("SELECT count(*), pg_total_relation_size('public.%s') FROM public.%s", table, table)
				if err := samplerConn.QueryRow(ctx, q).Scan(&ts.rows, &ts.bytes); err != nil {
					mu.Lock()
					sampErr = err
					mu.Unlock()
					return
				}
				s[table] = ts
			}
			mu.Lock()
			samples, at = append(samples, s), append(at, time.Since(start))
			mu.Unlock()
		}
	}()

	// The traffic, at a steady rate, on the test's goroutine.
	var clicks, leads, completed int
	pace := time.NewTicker(time.Second / soakClickHz)
	for time.Since(start) < duration {
		<-pace.C
		c := svc.click(t, "https://example.com/landing?utm_source=soak&utm_campaign=flat", "")
		clicks++
		if clicks%3 != 0 {
			continue
		}
		leads++
		phone := fmt.Sprintf("1555%07d", leads)
		body := whatsAppFrom(t, c.CorrelationID, phone, fmt.Sprintf("US.SOAK%d", leads), "Soak Person", fmt.Sprintf("wamid.SOAK%08d", leads), "hi")
		status, raw := svc.postWhatsApp(t, body, metaSignature(body))
		require.Equal(t, http.StatusOK, status, string(raw))
		if leads%2 != 0 {
			continue
		}
		var conv int64
		require.NoError(t, conn.QueryRow(ctx, "SELECT id FROM conversations WHERE phone = $1", "+"+phone).Scan(&conv))
		code, out := svc.patchLead(t, conv, `{"lead_data":{"name":"Soak Person","email":"soak@example.com"}}`)
		require.Equal(t, http.StatusOK, code, out)
		completed++
	}
	pace.Stop()
	close(done)
	<-sampled
	require.NoError(t, sampErr)
	t.Logf("%s of traffic: %d clicks, %d leads, %d completed, %d deliveries received; machine shared", duration, clicks, leads,
		completed, len(rc.deliveries()))

	// Judge the samples after the warm-up, half against half.
	var after []map[string]tableSample
	for i, s := range samples {
		if at[i] >= soakWarmup {
			after = append(after, s)
		}
	}
	require.GreaterOrEqual(t, len(after), 4, "samples after the warm-up")
	half := len(after) / 2
	mean := func(ss []map[string]tableSample, table string, bytes bool) float64 {
		var sum float64
		for _, s := range ss {
			if bytes {
				sum += float64(s[table].bytes)
			} else {
				sum += float64(s[table].rows)
			}
		}
		return sum / float64(len(ss))
	}
	var report []string
	for _, table := range tables {
		r1, r2 := mean(after[:half], table, false), mean(after[half:], table, false)
		b1, b2 := mean(after[:half], table, true), mean(after[half:], table, true)
		last := samples[len(samples)-1][table]
		report = append(report, fmt.Sprintf("| %s | %.0f | %.0f | %d | %.0f | %.0f | %d |", table, r1, r2, last.rows, b1/1024, b2/1024, last.bytes/1024))
		if r2 > 1.25*r1+20 {
			t.Errorf("%s keeps growing: %.0f rows on average in the first half after the warm-up, %.0f in the second", table, r1, r2)
		}
		if b2 > 1.25*b1+128*1024 {
			t.Errorf("%s keeps growing: %.0f KiB on average in the first half after the warm-up, %.0f KiB in the second", table, b1/1024, b2/1024)
		}
	}
	sort.Strings(report)
	t.Logf("rows and KiB after the %s warm-up (mean of the first half, of the second half, last sample):\n"+
		"| table | rows 1st | rows 2nd | rows last | KiB 1st | KiB 2nd | KiB last |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n%s",
		soakWarmup, strings.Join(report, "\n"))
}
