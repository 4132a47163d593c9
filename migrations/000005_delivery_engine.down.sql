-- Back to River delivery jobs. Pending deliveries keep their rows, but the
-- earlier version needs a job per delivery: run `aurix migrate down` only
-- with no pending deliveries (or recover them afterwards).
DROP INDEX webhook_deliveries_failed_idx;
UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'exhausted';
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (webhook_config_id, created_at) WHERE status = 'failed';
DROP INDEX webhook_deliveries_pending_created_idx;
DROP INDEX webhook_deliveries_lead_idx;
DROP INDEX webhook_deliveries_owned_config_idx;
DROP INDEX webhook_deliveries_owner_idx;
DROP INDEX webhook_deliveries_due_retry_idx;
DROP INDEX webhook_deliveries_due_first_idx;
ALTER TABLE webhook_deliveries
    DROP CONSTRAINT webhook_deliveries_status_check,
    ADD CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'succeeded', 'failed')),
    DROP COLUMN claimed_at,
    DROP COLUMN owner,
    DROP COLUMN lead_key;
ALTER TABLE outbox DROP COLUMN lead_key;
ALTER TABLE webhook_configs
    DROP COLUMN disabled_at,
    DROP COLUMN rate_next,
    DROP COLUMN max_per_second,
    DROP COLUMN ordering,
    DROP COLUMN event_types;
DROP TABLE aurix_gauges;
DROP TABLE aurix_processes;
