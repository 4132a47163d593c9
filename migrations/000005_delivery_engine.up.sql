-- The delivery engine: deliveries are their own queue. A worker process
-- claims a due delivery by writing its process id into it, works it, and
-- stores the outcome, which ends the claim. A process that stops sending
-- heartbeats is declared dead and its claims are handed back.

-- Worker processes alive now: their heartbeat is fresh (by the database's
-- clock), and each holds the session advisory lock (727280, lock_key) on a
-- connection of its own, which PostgreSQL drops the moment that connection
-- closes (the process died, or lost the database and knows it).
CREATE TABLE aurix_processes (
    id           uuid        PRIMARY KEY,
    lock_key     integer     GENERATED ALWAYS AS IDENTITY UNIQUE,
    role         text        NOT NULL,
    hostname     text        NOT NULL,
    pid          integer     NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- Measurements one process takes for all (the periodic maintenance).
CREATE TABLE aurix_gauges (
    name        text PRIMARY KEY,
    value       double precision NOT NULL,
    measured_at timestamptz NOT NULL
);

-- What a partner subscribes to and how, and why an endpoint is off.
ALTER TABLE webhook_configs
    ADD COLUMN event_types    text[],
    ADD COLUMN ordering       text NOT NULL DEFAULT 'lead' CHECK (ordering IN ('lead', 'none')),
    ADD COLUMN max_per_second integer CHECK (max_per_second > 0),
    ADD COLUMN rate_next      timestamptz,
    ADD COLUMN disabled_at    timestamptz;
UPDATE webhook_configs SET disabled_at = updated_at WHERE NOT is_active;

-- Events of one lead share a key, so a config with lead ordering gets them
-- in the order they happened.
ALTER TABLE outbox ADD COLUMN lead_key text;
UPDATE outbox SET lead_key = CASE
    WHEN correlation_id <> '' THEN correlation_id
    ELSE 'conversation:' || (convert_from(payload, 'UTF8')::jsonb -> 'data' ->> 'conversation_id')
END;

ALTER TABLE webhook_deliveries
    ADD COLUMN lead_key   text,
    ADD COLUMN owner      uuid,
    ADD COLUMN claimed_at timestamptz,
    DROP CONSTRAINT webhook_deliveries_status_check,
    ADD CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'exhausted'));
UPDATE webhook_deliveries d SET lead_key = o.lead_key FROM outbox o WHERE o.id = d.outbox_id;
UPDATE webhook_deliveries SET next_attempt_at = created_at WHERE status = 'pending' AND next_attempt_at IS NULL;

-- Claims: a config's unowned pending deliveries by due time, first attempts
-- and retries apart (each has its own share of the workers).
CREATE INDEX webhook_deliveries_due_first_idx ON webhook_deliveries (webhook_config_id, next_attempt_at, id)
    WHERE status = 'pending' AND owner IS NULL AND attempts = 0;
CREATE INDEX webhook_deliveries_due_retry_idx ON webhook_deliveries (webhook_config_id, next_attempt_at, id)
    WHERE status = 'pending' AND owner IS NULL AND attempts > 0;
-- The in-flight cap counts a config's owned deliveries; dead processes' claims are found by owner.
CREATE INDEX webhook_deliveries_owner_idx ON webhook_deliveries (owner, webhook_config_id) WHERE owner IS NOT NULL;
CREATE INDEX webhook_deliveries_owned_config_idx ON webhook_deliveries (webhook_config_id) WHERE owner IS NOT NULL;
-- Lead ordering: is an earlier event of this lead still pending to this config?
CREATE INDEX webhook_deliveries_lead_idx ON webhook_deliveries (webhook_config_id, lead_key, outbox_id)
    WHERE status = 'pending';
-- The outbox-lag gauge: the oldest pending delivery.
CREATE INDEX webhook_deliveries_pending_created_idx ON webhook_deliveries (created_at) WHERE status = 'pending';
-- Recovery looks for deliveries that ended without success.
DROP INDEX webhook_deliveries_failed_idx;
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (webhook_config_id, created_at)
    WHERE status IN ('failed', 'exhausted');

-- Jobs queued by an earlier version. A dispatch job's event gets its
-- deliveries now (to every active config, as the dispatcher did: that
-- version had no subscriptions); a delivery job's delivery is a pending row
-- already, which a worker claims by itself. Then the jobs go.
INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, series, status, lead_key,
    created_at, next_attempt_at)
SELECT o.id, o.event_id, o.event_type, c.id, 0, 'pending', o.lead_key, now(), now()
FROM river_job j
JOIN outbox o ON o.id = (j.args ->> 'outbox_id')::bigint
CROSS JOIN webhook_configs c
WHERE j.kind = 'aurix.dispatch_event' AND j.state NOT IN ('completed', 'cancelled', 'discarded') AND c.is_active
ON CONFLICT DO NOTHING;
DELETE FROM river_job
WHERE kind IN ('aurix.dispatch_event', 'aurix.deliver_webhook') AND state NOT IN ('completed', 'cancelled', 'discarded');
