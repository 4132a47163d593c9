ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_webhook_config_id_fkey
    FOREIGN KEY (webhook_config_id) REFERENCES webhook_configs (id) ON DELETE CASCADE;
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_webhook_config_id_fkey
    FOREIGN KEY (webhook_config_id) REFERENCES webhook_configs (id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
