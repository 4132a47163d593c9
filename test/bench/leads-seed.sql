-- leads-seed.sql fills a freshly migrated database with the Leads API's data
-- set (run-leads.sh runs it with psql -v leads=1000000 -v clicks=500000):
--
--   :leads  leads, one conversation each, spread evenly over the 90 days from
--           2026-01-01 00:00 UTC (1,000,000 leads: ~11,100 a day, one every
--           7.776 s, plus a sub-second jitter). Lead i has conversation id i,
--           so ids grow with created_at, as they do in the service.
--           6 in 7 are correlated to a click of their own (made 0-60 min
--           before the lead, correlated_at = the lead's created_at); of
--           those, 1 in 3 is complete (lead_data name/email/phone and
--           completed_at); 1 in 7 stays "new" with no click.
--   :clicks extra clicks that never became a lead, over the same 90 days,
--           1 in 20 of them a bot.
--
-- Correlation ids are "O-" + 6 base-62 digits of a bijective scramble of the
-- row number (times an odd prime that is no multiple of 31, modulo 62^6): unique,
-- in the service's format, and as scattered over the unique index as the
-- service's random ones, so the Leads API's 100 look-ups per page do not get
-- an unrealistically cache-friendly neighbourhood. Everything is deterministic.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';

CREATE TEMP TABLE seed_const AS
SELECT '2026-01-01 00:00:00+00'::timestamptz AS t0, (90 * 86400.0 / :leads) AS step_s;

CREATE OR REPLACE FUNCTION pg_temp.cid(n bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'O-' || string_agg(substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                                   ((m / (62::bigint ^ k)::bigint) % 62)::int + 1, 1), '' ORDER BY k DESC)
  FROM (SELECT (n * 2654435761) % 56800235584 AS m) x, generate_series(0, 5) AS k
$$;

-- The lead timeline: lead i is created at t0 + (i-1) * step + jitter.
CREATE TEMP TABLE seed_lead AS
SELECT i,
       c.t0 + ((i - 1) * c.step_s) * interval '1 second' + ((i * 7919) % 1000) * interval '1 millisecond' AS created_at,
       (i % 7 <> 0) AS correlated,
       (i % 7 <> 0 AND i % 3 = 0) AS complete
FROM generate_series(1::bigint, :leads) AS i, seed_const c;

INSERT INTO conversations (id, channel_id, phone, bsuid, created_at) OVERRIDING SYSTEM VALUE
SELECT i, '791163770738681', '+1555' || lpad(i::text, 7, '0'),
       CASE WHEN i % 11 = 0 THEN 'US.' || (13491208655302741918::numeric + i)::text END, created_at
FROM seed_lead;
SELECT setval(pg_get_serial_sequence('conversations', 'id'), :leads);

-- The clicks that became leads.
INSERT INTO inbound_sources (correlation_id, device_id, click_url, parsed_params, user_agent, ip_address, is_bot,
                             created_at, correlated_at, conversation_id)
SELECT pg_temp.cid(i), 'dev-' || md5(i::text),
       'https://example.com/landing?utm_source=' || src || '&utm_medium=cpc&utm_campaign=spring_' || (i % 40) || '&gclid=Cj0' || (i % 100000),
       jsonb_build_object('utm_source', src, 'utm_medium', 'cpc', 'utm_campaign', 'spring_' || (i % 40), 'gclid', 'Cj0' || (i % 100000)),
       'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
       '203.0.113.' || (i % 250), false,
       created_at - ((i % 3600) + 5) * interval '1 second', created_at, i
FROM seed_lead, LATERAL (SELECT (ARRAY['google', 'facebook', 'instagram', 'tiktok', 'bing'])[i % 5 + 1] AS src) s
WHERE correlated;

-- Clicks that never became a lead (row numbers after the leads').
INSERT INTO inbound_sources (correlation_id, device_id, click_url, parsed_params, user_agent, ip_address, is_bot, created_at)
SELECT pg_temp.cid(:leads + j), 'dev-x' || md5(j::text),
       'https://example.com/landing?utm_source=google&utm_campaign=brand_' || (j % 10) || '&gclid=Cj1' || j,
       jsonb_build_object('utm_source', 'google', 'utm_medium', 'cpc', 'utm_campaign', 'brand_' || (j % 10), 'gclid', 'Cj1' || j),
       CASE WHEN j % 20 = 0 THEN 'WhatsApp/2.23.20.0' ELSE 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36' END,
       '198.51.100.' || (j % 250), (j % 20 = 0),
       c.t0 + ((j - 1) * (90 * 86400.0 / :clicks)) * interval '1 second'
FROM generate_series(1::bigint, :clicks) AS j, seed_const c;

INSERT INTO leads (conversation_id, channel_id, phone, bsuid, status, correlation_id, lead_data, created_at, correlated_at, completed_at)
SELECT i, '791163770738681', '+1555' || lpad(i::text, 7, '0'),
       CASE WHEN i % 11 = 0 THEN 'US.' || (13491208655302741918::numeric + i)::text END,
       CASE WHEN complete THEN 'complete' WHEN correlated THEN 'correlated' ELSE 'new' END,
       CASE WHEN correlated THEN pg_temp.cid(i) END,
       CASE WHEN complete THEN jsonb_build_object('name', 'Lead ' || i, 'email', 'lead' || i || '@example.com', 'phone', '+1555' || lpad(i::text, 7, '0'))
            WHEN i % 2 = 0 THEN jsonb_build_object('name', 'Lead ' || i)
            ELSE '{}'::jsonb END,
       created_at,
       CASE WHEN correlated THEN created_at END,
       CASE WHEN complete THEN created_at + interval '10 minutes' END
FROM seed_lead;

DROP TABLE seed_lead;
DROP TABLE seed_const;
