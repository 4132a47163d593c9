DROP INDEX IF EXISTS inbound_sources_created_human_idx;
DROP INDEX IF EXISTS inbound_sources_created_idx;
DROP INDEX IF EXISTS inbound_sources_conversation_key;
ALTER TABLE inbound_sources DROP CONSTRAINT IF EXISTS inbound_sources_conversation_fk;
DROP TABLE IF EXISTS leads;
DROP TABLE IF EXISTS whatsapp_messages;
DROP TABLE IF EXISTS conversations;
