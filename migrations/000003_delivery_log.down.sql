ALTER TABLE webhook_configs DROP COLUMN IF EXISTS disabled_reason, DROP COLUMN IF EXISTS failing_since, DROP COLUMN IF EXISTS previous_secrets;
DROP INDEX IF EXISTS webhook_attempts_delivery_idx;
ALTER TABLE webhook_attempts DROP COLUMN IF EXISTS delivery_id;
DROP TABLE IF EXISTS webhook_deliveries;
