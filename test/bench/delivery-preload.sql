-- delivery-preload.sql: a backlog of :n events for run-delivery.sh, written
-- while "aurix serve" is stopped, exactly as the service's own transactions
-- leave them, so that starting the service drains them at full speed.
--
--   psql -v n=20000 -v stage=deliver -f test/bench/delivery-preload.sql aurix_bench_deliv
--
-- The database must hold one real widget.click event (outbox row) made by the
-- service and one webhook config: every preloaded event copies that event's
-- payload bytes (with a fresh event id in the outbox row; the receiver does
-- not check bodies). :stage says where the backlog starts:
--   deliver   outbox rows + their webhook_deliveries rows + one
--             aurix.deliver_webhook job each for attempt 1 (queue "deliver"):
--             what POST /api/widget/click's transaction leaves behind, so
--             the service runs the whole asynchronous path.
--   dispatch  outbox rows + one aurix.dispatch_event job each (queue
--             "dispatch"): what versions before the fan-out moved into the
--             event's transaction left behind (the service still drains
--             them: dispatch, then deliver).
-- Job metadata carries what the service's does (no trace context: tracing is
-- off in the benchmark). Unique keys are left out: they only matter when a
-- job is inserted again.
\set ON_ERROR_STOP on
SET synchronous_commit = off;

CREATE TEMP TABLE preload_outbox AS
WITH src AS (SELECT event_type, payload, correlation_id FROM outbox ORDER BY id LIMIT 1),
ins AS (
  INSERT INTO outbox (event_id, event_type, payload, correlation_id, trace_context, created_at)
  SELECT gen_random_uuid(), src.event_type, src.payload, src.correlation_id, '{}', now()
  FROM src, generate_series(1, :n)
  RETURNING id, event_id, event_type
)
SELECT * FROM ins;

SELECT (:'stage' = 'dispatch') AS dispatch_stage \gset
\if :dispatch_stage
INSERT INTO river_job (args, kind, max_attempts, metadata, priority, queue, scheduled_at, state, created_at)
SELECT jsonb_build_object('outbox_id', id), 'aurix.dispatch_event', 25, jsonb_build_object('outbox_id', id),
       1, 'dispatch', now(), 'available', now()
FROM preload_outbox ORDER BY id;
\else
CREATE TEMP TABLE preload_delivery AS
WITH ins AS (
  INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, series, status, created_at, next_attempt_at)
  SELECT o.id, o.event_id, o.event_type, c.id, 0, 'pending', now(), now()
  FROM preload_outbox o CROSS JOIN (SELECT id FROM webhook_configs WHERE is_active) c
  ORDER BY o.id
  RETURNING id, event_id, webhook_config_id
)
SELECT * FROM ins;
INSERT INTO river_job (args, kind, max_attempts, metadata, priority, queue, scheduled_at, state, created_at)
SELECT jsonb_build_object('delivery_id', id, 'webhook_config_id', webhook_config_id, 'attempt', 1), 'aurix.deliver_webhook', 25,
       jsonb_build_object('event_id', event_id, 'webhook_config_id', webhook_config_id, 'attempt', 1),
       1, 'deliver', now(), 'available', now()
FROM preload_delivery ORDER BY id;
\endif
ANALYZE;
