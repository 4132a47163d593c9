-- One widget click, as the service runs it (captured with log_statement=all
-- and log_min_duration_statement=0 while "aurix serve" took POST
-- /api/widget/click; see README.md):
--   BEGIN
--   INSERT INTO inbound_sources ... RETURNING ...   (bun; values inlined in the SQL text)
--   INSERT INTO outbox ... RETURNING id              (bun; values inlined in the SQL text)
--   JobInsertFastMany  (River InsertManyTx: one dispatch job naming the outbox id)
--   PGNotifyMany       (River's insert notification on "public.river_insert";
--                       River sends it at most once per FetchCooldown per queue,
--                       100 ms for the service's insert client, so under load
--                       only a few clicks in a hundred carry it)
--   COMMIT
-- River's bind parameters ($1..$13) are written here as the same typed array
-- values. Variables stay outside quoted strings, so the script runs with
-- -M simple (default) and -M prepared alike.
--
-- Required: -D notify_permille=N, the share (0-1000) of transactions that
-- carry the notification; 1000 = every click notifies. The service sends at
-- most 10 per second (one per 100 ms for the dispatch queue), so its share is
-- 10 / (clicks per second): 15 per mille is ~10/s at ~650 transactions/s.
--
--   pgbench -n -c 32 -j 2 -T 20 -D notify_permille=15 -f test/bench/click.sql aurix_bench_pg
\set ref random(1, 9223372036854775806)
\set e1 random(1, 9223372036854775806)
\set e2 random(1, 9223372036854775806)
BEGIN;
INSERT INTO "inbound_sources" ("id", "correlation_id", "device_id", "click_url", "parsed_params", "user_agent", "ip_address", "is_bot", "created_at", "correlated_at", "conversation_id") VALUES (DEFAULT, 'B-' || :ref::text, 'dev-' || :e1::text, 'https://example.com/landing?utm_source=google&gclid=AbCd123', '{"utm_source":"google","utm_medium":"cpc","gclid":"AbCd123"}', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36', '127.0.0.1', FALSE, now(), DEFAULT, DEFAULT) RETURNING "id", "correlated_at", "conversation_id";
INSERT INTO "outbox" ("id", "event_id", "event_type", "payload", "correlation_id", "trace_context", "created_at") VALUES (DEFAULT, (lpad(to_hex(:e1::bigint), 16, '0') || lpad(to_hex(:e2::bigint), 16, '0'))::uuid, 'widget.click', '\x7b226576656e745f74797065223a227769646765742e636c69636b222c226576656e745f6964223a2230316132313931302d353861392d373536362d616330382d316463316339333432343830222c2274696d657374616d70223a22323032362d31312d32365431383a31333a35312e3430315a222c2264617461223a7b22636f7272656c6174696f6e5f6964223a224f2d794f7478326c222c226465766963655f6964223a226465762d31222c22636c69636b5f75726c223a2268747470733a2f2f6578616d706c652e636f6d2f6c616e64696e673f75746d5f736f757263653d676f6f676c652667636c69643d41624364313233222c227061727365645f706172616d73223a7b2275746d5f736f75726365223a22676f6f676c65222c2275746d5f6d656469756d223a22637063222c2267636c6964223a2241624364313233227d2c22757365725f6167656e74223a224d6f7a696c6c612f352e30202857696e646f7773204e542031302e303b2057696e36343b2078363429204170706c655765624b69742f3533372e333620284b48544d4c2c206c696b65204765636b6f29204368726f6d652f3132342e30205361666172692f3533372e3336222c2269705f61646472657373223a223132372e302e302e31227d7d', 'B-' || :ref::text, '{}', now()) RETURNING id \gset
-- name: JobInsertFastMany :many
WITH raw_job_data AS (
    SELECT
        unnest('{0}'::bigint[]) AS id,
        unnest(ARRAY['{"outbox_id": ' || :id::text || '}']::jsonb[]) AS args,
        unnest(ARRAY[now()]::timestamptz[]) AS created_at,
        unnest('{aurix.dispatch_event}'::text[]) AS kind,
        unnest('{25}'::smallint[]) AS max_attempts,
        unnest('{"{}"}'::jsonb[]) AS metadata,
        unnest('{1}'::smallint[]) AS priority,
        unnest('{dispatch}'::text[]) AS queue,
        unnest(ARRAY[now()]::timestamptz[]) AS scheduled_at,
        unnest('{available}'::text[]) AS state,
        unnest('{""}'::text[]) AS tags,
        unnest('{"\\x"}'::bytea[]) AS unique_key,
        unnest('{0}'::integer[]) AS unique_states
)
INSERT INTO river_job(
    id,
    args,
    created_at,
    kind,
    max_attempts,
    metadata,
    priority,
    queue,
    scheduled_at,
    state,
    tags,
    unique_key,
    unique_states
) SELECT
    coalesce(nullif(id, 0), nextval('river_job_id_seq'::regclass)),
    args,
    coalesce(nullif(created_at, '0001-01-01 00:00:00 +0000'), now()) AS created_at,
    kind,
    max_attempts,
    coalesce(metadata, '{}'::jsonb) AS metadata,
    priority,
    queue,
    coalesce(nullif(scheduled_at, '0001-01-01 00:00:00 +0000'), now()) AS scheduled_at,
    state::river_job_state,
    string_to_array(tags, ',')::varchar(255)[],
    nullif(unique_key, '')::bytea,
    nullif(unique_states::integer, 0)::bit(8)
FROM raw_job_data
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL
        AND unique_states IS NOT NULL
        AND river_job_state_in_bitmask(unique_states, state)
    DO UPDATE SET kind = river_job.kind
RETURNING
    river_job.id, river_job.args, river_job.attempt, river_job.attempted_at, river_job.attempted_by, river_job.created_at, river_job.errors, river_job.finalized_at, river_job.kind, river_job.max_attempts, river_job.metadata, river_job.priority, river_job.queue, river_job.state, river_job.scheduled_at, river_job.tags, river_job.unique_key, river_job.unique_states,
    (xmax != 0) AS unique_skipped_as_duplicate;
\if random(1, 1000) <= :notify_permille
-- name: PGNotifyMany :exec
WITH topic_to_notify AS (
    SELECT
        concat(coalesce(NULL::text, current_schema()), '.', 'river_insert'::text) AS topic,
        unnest('{"{\"queue\": \"dispatch\"}"}'::text[]) AS payload
)
SELECT pg_notify(
    topic_to_notify.topic,
    topic_to_notify.payload
  )
FROM topic_to_notify;
\endif
COMMIT;
