DROP TABLE IF EXISTS webhook_attempts;
DROP TABLE IF EXISTS outbox;
DROP TABLE IF EXISTS webhook_configs;
DROP TABLE IF EXISTS inbound_sources;
