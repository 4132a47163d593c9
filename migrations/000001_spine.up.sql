-- Clicks recorded by the widget: the "first touch" of a lead.
CREATE TABLE inbound_sources (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    correlation_id  text        NOT NULL UNIQUE,
    device_id       text        NOT NULL,
    click_url       text        NOT NULL,
    parsed_params   jsonb       NOT NULL DEFAULT '{}',
    user_agent      text        NOT NULL DEFAULT '',
    ip_address      text        NOT NULL DEFAULT '',
    is_bot          boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    correlated_at   timestamptz,
    conversation_id bigint
);

-- One webhook endpoint per integration service.
CREATE TABLE webhook_configs (
    id           uuid        PRIMARY KEY,
    service_name text        NOT NULL UNIQUE,
    target_url   text        NOT NULL,
    secret       text        NOT NULL,
    is_active    boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Transactional outbox: an event exists exactly when the change that caused it
-- was committed. The payload bytes are fixed here, so every attempt sends the
-- same bytes and signatures.
CREATE TABLE outbox (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    event_type     text        NOT NULL,
    payload        bytea       NOT NULL,
    correlation_id text        NOT NULL DEFAULT '',
    trace_context  jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL
);

-- Every delivery attempt, successful or not.
CREATE TABLE webhook_attempts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          uuid        NOT NULL,
    webhook_config_id uuid        NOT NULL REFERENCES webhook_configs (id) ON DELETE CASCADE,
    attempt           integer     NOT NULL,
    status_code       integer,
    duration_ms       double precision NOT NULL,
    error             text        NOT NULL DEFAULT '',
    response_body     bytea       NOT NULL DEFAULT '',
    attempted_at      timestamptz NOT NULL
);
CREATE INDEX webhook_attempts_event_idx ON webhook_attempts (event_id, webhook_config_id, attempt);
