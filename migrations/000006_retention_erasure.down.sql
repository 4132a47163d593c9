-- Back to the version without retention and erasure. Message keys stay
-- digests (the ids they came from are not kept anywhere): a redelivery of a
-- message seen before this migration is then handled again, which only
-- opens a conversation when none exists for its sender. Erased
-- conversations have no sender, so the earlier check is restored without
-- validating the rows already there.
DROP TABLE aurix_erasures;
DROP INDEX whatsapp_messages_received_idx;
DROP INDEX inbound_sources_uncorrelated_idx;
DROP INDEX outbox_created_idx;
DROP INDEX inbound_sources_loose_device_idx;
DROP INDEX outbox_lead_key_idx;
DROP INDEX leads_phone_digits_idx;
DROP INDEX leads_email_idx;
DROP INDEX conversations_bsuid_idx;
DROP INDEX conversations_phone_idx;
ALTER TABLE conversations
    DROP CONSTRAINT conversations_check,
    ADD CONSTRAINT conversations_check CHECK (phone IS NOT NULL OR bsuid IS NOT NULL) NOT VALID,
    DROP COLUMN erased_at;
ALTER TABLE leads DROP COLUMN erased_at;
ALTER TABLE inbound_sources DROP COLUMN erased_at;
