//go:build bench

package bench

// The retention purge of one window's worth of expired rows, with 1× and
// 10× as much older data kept beside them: leads (kept forever by default)
// with their clicks and conversations, all older than every window. The
// purge walks indexes that hold only what it may delete (events by age,
// clicks that never became a lead, message keys by arrival), so its time
// should not grow with that history.
//
//	go test -tags bench -run '^$' -bench PurgeWindow -benchtime 5x ./test/bench
//
// BENCH_PURGE_WITHOUT_INDEXES=1 drops the indexes migration 000006 added for
// the purge first, to see what they are for.
//
// BENCH_PURGE_WINDOW sets the window's rows of each kind (default 10,000:
// events with a delivery and an attempt each, clicks that never became a
// lead, message keys). Each iteration plants a fresh window (untimed),
// vacuums, and times one purge with the defaults (720h, 720h, 2160h,
// leads kept) on a database of its own copied from the migrated template.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/adapters/system"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
)

const purgeConfigID = "0190aaaa-0000-7000-8000-0000000000b1"

func BenchmarkPurgeWindow(b *testing.B) {
	window := 10000
	if v := os.Getenv("BENCH_PURGE_WINDOW"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_PURGE_WINDOW=%q", v)
		}
		window = n
	}
	for _, history := range []int{1, 10} {
		b.Run(fmt.Sprintf("history=%dx", history), func(b *testing.B) { benchPurge(b, window, history) })
	}
}

func benchPurge(b *testing.B, window, history int) {
	ctx := context.Background()
	db := pgtest.Open(b)
	exec := func(q string, args ...any) {
		b.Helper()
		if _, err := db.SQL.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%v\n%s", err, q)
		}
	}
	exec(`INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
		VALUES ($1, 'bench', 'https://example.com/', 'aurix_s', now(), now())`, purgeConfigID)
	// The kept history: leads with their conversations and clicks, older
	// than every window.
	exec(`WITH c AS (
			INSERT INTO conversations (channel_id, phone, created_at)
			SELECT 'ch', '+1' || lpad(g::text, 10, '0'), now() - interval '300 days' + g * interval '10 ms'
			FROM generate_series(1, $1) g RETURNING id, phone, created_at),
		s AS (
			INSERT INTO inbound_sources (correlation_id, device_id, click_url, parsed_params, user_agent, ip_address, created_at, correlated_at, conversation_id)
			SELECT 'O-H' || c.id, 'device-' || c.id, 'https://example.com/landing?utm_source=bench', '{"utm_source":"bench"}', 'Mozilla/5.0',
				'203.0.113.1', c.created_at, c.created_at, c.id FROM c RETURNING correlation_id, conversation_id, created_at)
		INSERT INTO leads (conversation_id, channel_id, phone, status, correlation_id, lead_data, created_at, correlated_at)
		SELECT s.conversation_id, 'ch', '+1', 'correlated', s.correlation_id, '{"name":"Bench"}', s.created_at, s.created_at FROM s`,
		history*window)
	if os.Getenv("BENCH_PURGE_WITHOUT_INDEXES") == "1" {
		exec("DROP INDEX outbox_created_idx, inbound_sources_uncorrelated_idx, whatsapp_messages_received_idx")
	}
	// The current window, which stays.
	plant(b, exec, "R", 0, window, "1 day")
	uow := postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})
	policy := domain.RetentionPolicy{DeliveryLog: 720 * time.Hour, MessageIDs: 720 * time.Hour,
		UncorrelatedClicks: 2160 * time.Hour, CorrelationWindow: 168 * time.Hour}
	r := &application.Retention{UoW: uow, Clock: system.Clock{}, Policy: policy}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		plant(b, exec, "E", i, window, "")
		for _, table := range []string{"outbox", "webhook_deliveries", "webhook_attempts", "inbound_sources", "whatsapp_messages",
			"leads", "conversations"} {
			exec("VACUUM ANALYZE " + table)
		}
		b.StartTimer()
		rep, err := r.Purge(ctx)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		want := window
		if rep.Events != want || rep.Deliveries != want || rep.Attempts != want || rep.Clicks != want || rep.Messages != want || rep.Leads != 0 {
			b.Fatalf("purged %+v, want %d of each kind and no lead", rep, window)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(5*window), "rows/op")
}

// plant writes n rows of each purgeable kind: with age "" they are expired
// (events finished 40 days ago, clicks made 100 days ago, message keys 40
// days old); otherwise they are that old and stay.
func plant(b *testing.B, exec func(string, ...any), tag string, round, n int, age string) {
	b.Helper()
	eventAge, clickAge, msgAge := "40 days", "100 days", "40 days"
	if age != "" {
		eventAge, clickAge, msgAge = age, age, age
	}
	prefix := fmt.Sprintf("%s%d-", tag, round)
	exec(`WITH o AS (
			INSERT INTO outbox (event_id, event_type, payload, correlation_id, lead_key, created_at)
			SELECT gen_random_uuid(), 'widget.click', convert_to(repeat('x', 400), 'UTF8'), 'O-' || $1 || g, 'O-' || $1 || g,
				now() - $3::interval + g * interval '1 ms'
			FROM generate_series(1, $2) g RETURNING id, event_id, lead_key, created_at),
		d AS (
			INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, status, attempts, last_status_code,
				lead_key, created_at, finished_at)
			SELECT o.id, o.event_id, 'widget.click', $4, 'succeeded', 1, 200, o.lead_key, o.created_at, o.created_at + interval '1 second'
			FROM o RETURNING id, event_id, created_at)
		INSERT INTO webhook_attempts (delivery_id, event_id, webhook_config_id, attempt, status_code, duration_ms, response_body, attempted_at)
		SELECT d.id, d.event_id, $4, 1, 200, 5, convert_to('ok', 'UTF8'), d.created_at FROM d`, prefix, n, eventAge, purgeConfigID)
	exec(`INSERT INTO inbound_sources (correlation_id, device_id, click_url, parsed_params, user_agent, ip_address, created_at)
		SELECT 'O-C' || $1 || g, 'device', 'https://example.com/?utm_source=bench', '{"utm_source":"bench"}', 'Mozilla/5.0', '203.0.113.1',
			now() - $3::interval + g * interval '1 ms' FROM generate_series(1, $2) g`, prefix, n, clickAge)
	exec(`INSERT INTO whatsapp_messages (message_id, channel_id, received_at)
		SELECT 'sha256:' || $1 || g, 'ch', now() - $3::interval + g * interval '1 ms' FROM generate_series(1, $2) g`, prefix, n, msgAge)
}
