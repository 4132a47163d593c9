-- Retention, erasure and privacy by default.

-- Erasure: which rows had their personal data removed, and when. An erased
-- conversation keeps its row (its lead's counts stay true) without a sender.
ALTER TABLE inbound_sources ADD COLUMN erased_at timestamptz;
ALTER TABLE leads ADD COLUMN erased_at timestamptz;
ALTER TABLE conversations
    ADD COLUMN erased_at timestamptz,
    DROP CONSTRAINT conversations_check,
    ADD CONSTRAINT conversations_check CHECK (phone IS NOT NULL OR bsuid IS NOT NULL OR erased_at IS NOT NULL);

-- What an erasure looks up: a sender by phone or BSUID on any channel, a
-- lead by the email or phone the agent collected, the events of a lead,
-- and the other clicks of an erased click's device that never became a lead.
CREATE INDEX conversations_phone_idx ON conversations (phone) WHERE phone IS NOT NULL;
CREATE INDEX conversations_bsuid_idx ON conversations (bsuid) WHERE bsuid IS NOT NULL;
CREATE INDEX leads_email_idx ON leads (lower(lead_data ->> 'email'));
CREATE INDEX leads_phone_digits_idx ON leads (regexp_replace(lead_data ->> 'phone', '[^0-9]', '', 'g'));
CREATE INDEX outbox_lead_key_idx ON outbox (lead_key);
CREATE INDEX inbound_sources_loose_device_idx ON inbound_sources (device_id) WHERE conversation_id IS NULL AND device_id <> '';

-- What the retention purge walks, oldest first, each without passing over
-- what it keeps: events by age, clicks that never became a lead (a lead's
-- click lives as long as the lead, which by default is forever), message
-- keys by arrival.
CREATE INDEX outbox_created_idx ON outbox (created_at, id);
CREATE INDEX inbound_sources_uncorrelated_idx ON inbound_sources (created_at, id) WHERE conversation_id IS NULL;
CREATE INDEX whatsapp_messages_received_idx ON whatsapp_messages (received_at, message_id);

-- WhatsApp message ids are kept as their SHA-256 only: Meta's ids carry
-- the sender's phone number. Ids stored by an earlier version are replaced
-- by their digest, so a redelivery of one is still recognised.
UPDATE whatsapp_messages SET message_id = 'sha256:' || encode(sha256(convert_to(message_id, 'UTF8')), 'hex')
WHERE message_id NOT LIKE 'sha256:%';

-- The erasure log: one row per erasure request carried out, with which kind
-- of identifier was given and how much was erased, never the identifier.
CREATE TABLE aurix_erasures (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erased_at timestamptz NOT NULL,
    field     text        NOT NULL,
    leads     integer     NOT NULL,
    clicks    integer     NOT NULL,
    events    integer     NOT NULL,
    attempts  integer     NOT NULL,
    notices   integer     NOT NULL
);
