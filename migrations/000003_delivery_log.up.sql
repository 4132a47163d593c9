-- One row per delivery series of one event to one webhook config. The
-- dispatcher makes series 0; each redelivery or recovery makes a new series,
-- so attempts of a series count from 1 again while the event id and bytes
-- stay the same.
CREATE TABLE webhook_deliveries (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id         bigint      NOT NULL REFERENCES outbox (id),
    event_id          uuid        NOT NULL,
    event_type        text        NOT NULL,
    webhook_config_id uuid        NOT NULL REFERENCES webhook_configs (id) ON DELETE CASCADE,
    series            integer     NOT NULL DEFAULT 0,
    status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts          integer     NOT NULL DEFAULT 0,
    last_status_code  integer,
    last_error        text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    next_attempt_at   timestamptz,
    finished_at       timestamptz,
    UNIQUE (outbox_id, webhook_config_id, series)
);
-- The delivery log pages one config's deliveries by (created_at, id).
CREATE INDEX webhook_deliveries_config_created_idx ON webhook_deliveries (webhook_config_id, created_at, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id, webhook_config_id);
-- Recovery looks for failed deliveries.
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (webhook_config_id, created_at) WHERE status = 'failed';

ALTER TABLE webhook_attempts ADD COLUMN delivery_id bigint REFERENCES webhook_deliveries (id) ON DELETE CASCADE;
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempt);

-- Secret rotation keeps the previous secrets valid for a grace period, and
-- an endpoint that keeps failing is switched off.
ALTER TABLE webhook_configs
    ADD COLUMN previous_secrets jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN failing_since    timestamptz,
    ADD COLUMN disabled_reason  text NOT NULL DEFAULT '';
