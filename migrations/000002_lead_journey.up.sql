-- A WhatsApp conversation: one sender on one receiving channel. A sender is
-- known by phone number, by business-scoped user id (BSUID), or both.
CREATE TABLE conversations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id text        NOT NULL,
    phone      text,
    bsuid      text,
    created_at timestamptz NOT NULL,
    CHECK (phone IS NOT NULL OR bsuid IS NOT NULL)
);
CREATE UNIQUE INDEX conversations_phone_key ON conversations (channel_id, phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX conversations_bsuid_key ON conversations (channel_id, bsuid) WHERE bsuid IS NOT NULL;

-- Message ids already handled: Meta redelivers, and a redelivery must change
-- nothing. The primary key, not a read-then-write, decides.
CREATE TABLE whatsapp_messages (
    message_id  text        PRIMARY KEY,
    channel_id  text        NOT NULL,
    received_at timestamptz NOT NULL
);

-- One lead per conversation.
CREATE TABLE leads (
    conversation_id bigint      PRIMARY KEY REFERENCES conversations (id),
    channel_id      text        NOT NULL,
    phone           text,
    bsuid           text,
    status          text        NOT NULL CHECK (status IN ('new', 'correlated', 'complete')),
    correlation_id  text        UNIQUE REFERENCES inbound_sources (correlation_id),
    lead_data       jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    correlated_at   timestamptz,
    completed_at    timestamptz
);
-- The Leads API pages by (created_at, conversation_id).
CREATE INDEX leads_created_idx ON leads (created_at, conversation_id);

-- A click belongs to at most one conversation.
ALTER TABLE inbound_sources
    ADD CONSTRAINT inbound_sources_conversation_fk FOREIGN KEY (conversation_id) REFERENCES conversations (id);
CREATE UNIQUE INDEX inbound_sources_conversation_key ON inbound_sources (conversation_id) WHERE conversation_id IS NOT NULL;
-- The Attribution API pages by (created_at, id), bots left out by default.
CREATE INDEX inbound_sources_created_idx ON inbound_sources (created_at, id);
CREATE INDEX inbound_sources_created_human_idx ON inbound_sources (created_at, id) WHERE NOT is_bot;
