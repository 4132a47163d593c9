package main

import (
	"context"
	"fmt"
	"time"
)

// preloadResult says how the tables were filled before the measurements.
type preloadResult struct {
	Binary     string           `json:"binary"`
	Topology   string           `json:"topology,omitempty"` // set when the run measured several
	Rows       int              `json:"rows"`
	InsertS    float64          `json:"insert_s"`
	VacuumS    float64          `json:"vacuum_analyze_s"`
	RowsPerS   float64          `json:"clicks_per_s"`
	TableBytes map[string]int64 `json:"table_bytes"`
}

// The preload writes old clicks as the service leaves them once delivered:
// a click (inbound_sources), its widget.click event (outbox, with a payload
// of the service's shape and size), its delivery (succeeded after one
// attempt) and that attempt (204). River's completed jobs are left out: its
// cleaner deletes them after a day. One chunk is one transaction of two
// set-based statements over generate_series; the clicks are spread over the
// 90 days that end 8 days ago, so none is still within the correlation
// window.
const preloadClicksSQL = `INSERT INTO inbound_sources (correlation_id, device_id, click_url, parsed_params, user_agent, ip_address, is_bot, created_at)
SELECT 'P-' || g, 'pre-' || (g % 250000),
       'https://shop.example.com/landing?utm_source=google&utm_medium=cpc&utm_campaign=c' || (g % 40) || '&gclid=Cj0KCQiApre' || g || 'BwE',
       jsonb_build_object('utm_source', 'google', 'utm_medium', 'cpc', 'utm_campaign', 'c' || (g % 40), 'gclid', 'Cj0KCQiApre' || g || 'BwE'),
       $3, '203.0.113.' || (g % 250), false,
       now() - interval '98 days' + (g::double precision / $4) * interval '90 days'
FROM generate_series($1::bigint, $2::bigint) g`

const preloadEventsSQL = `WITH src AS (
  SELECT g, gen_random_uuid() AS event_id, now() - interval '98 days' + (g::double precision / $4) * interval '90 days' AS at
  FROM generate_series($1::bigint, $2::bigint) g
), o AS (
  INSERT INTO outbox (event_id, event_type, payload, correlation_id, trace_context, created_at)
  SELECT event_id, 'widget.click', convert_to(json_build_object(
           'event_type', 'widget.click', 'event_id', event_id,
           'timestamp', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'data', json_build_object('correlation_id', 'P-' || g, 'device_id', 'pre-' || (g % 250000),
             'click_url', 'https://shop.example.com/landing?utm_source=google&utm_medium=cpc&utm_campaign=c' || (g % 40) || '&gclid=Cj0KCQiApre' || g || 'BwE',
             'parsed_params', json_build_object('utm_source', 'google', 'utm_medium', 'cpc', 'utm_campaign', 'c' || (g % 40), 'gclid', 'Cj0KCQiApre' || g || 'BwE'),
             'user_agent', $3::text, 'ip_address', '203.0.113.' || (g % 250)))::text, 'UTF8'),
         'P-' || g, '{}', at
  FROM src
  RETURNING id, event_id, created_at
), d AS (
  INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, series, status, attempts, last_status_code,
                                  last_error, created_at, next_attempt_at, finished_at)
  SELECT id, event_id, 'widget.click', $5::uuid, 0, 'succeeded', 1, 204, '', created_at, NULL, created_at + interval '45 milliseconds'
  FROM o
  RETURNING id, event_id, created_at
)
INSERT INTO webhook_attempts (delivery_id, event_id, webhook_config_id, attempt, status_code, duration_ms, error, response_body, attempted_at)
SELECT id, event_id, $5::uuid, 1, 204, 2.5, '', '', created_at + interval '42 milliseconds' FROM d`

// preload fills the target's database with n old clicks in chunks, then
// VACUUM ANALYZE (autovacuum may be off, as on the benchmark machine) and a
// CHECKPOINT.
func (h *harness) preload(ctx context.Context, tgt *target, n, chunk int) (preloadResult, error) {
	res := preloadResult{Binary: tgt.name, Topology: tgt.topoLabel, Rows: n}
	conn, err := h.cl.connect(ctx, tgt.db)
	if err != nil {
		return res, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET synchronous_commit = off"); err != nil {
		return res, err
	}
	began := time.Now()
	last := time.Now()
	for from := 1; from <= n; from += chunk {
		to := min(n, from+chunk-1)
		tx, err := conn.Begin(ctx)
		if err != nil {
			return res, err
		}
		if _, err := tx.Exec(ctx, preloadClicksSQL, from, to, userAgents[0], n); err != nil {
			_ = tx.Rollback(ctx)
			return res, fmt.Errorf("preload clicks %d-%d: %w", from, to, err)
		}
		if _, err := tx.Exec(ctx, preloadEventsSQL, from, to, userAgents[0], n, tgt.configID); err != nil {
			_ = tx.Rollback(ctx)
			return res, fmt.Errorf("preload events %d-%d: %w", from, to, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return res, err
		}
		if time.Since(last) > 10*time.Second {
			h.logf("%s: preloaded %d of %d clicks (%.0f/s)", tgt.label(), to, n, float64(to)/time.Since(began).Seconds())
			last = time.Now()
		}
	}
	res.InsertS = time.Since(began).Seconds()
	res.RowsPerS = float64(n) / res.InsertS
	vac := time.Now()
	for _, t := range []string{"inbound_sources", "outbox", "webhook_deliveries", "webhook_attempts"} {
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return res, fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	// The preload's dirty pages are written now, not by a checkpoint in
	// the middle of the first measurement.
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return res, fmt.Errorf("checkpoint: %w", err)
	}
	res.VacuumS = time.Since(vac).Seconds()
	res.TableBytes = tableSizes(ctx, conn)
	return res, nil
}
