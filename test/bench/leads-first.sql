-- The Leads API's first page of one day, as the service sends it (captured
-- with ALTER DATABASE ... SET log_statement = 'all' while "aurix serve"
-- answered GET /api/integrations/topkee/leads?limit=100&from_date=2026-01-05&to_date=2026-01-06;
-- LIMIT is limit + 1; until the Leads query took bind parameters, bun wrote
-- the values into the text like this; leads-first-bound.sql is the statement
-- with bind parameters, for -M prepared):
--
--   SELECT l.conversation_id, l.created_at, l.status, l.phone, l.channel_id, l.lead_data, l.completed_at,
--   			l.correlation_id, s.correlated_at, s.click_url, s.parsed_params
--   			FROM leads l LEFT JOIN inbound_sources s ON s.conversation_id = l.conversation_id
--   WHERE l.created_at >= '2026-01-05 00:00:00+00:00' AND l.created_at < '2026-01-06 00:00:00+00:00'
--   ORDER BY l.created_at, l.conversation_id LIMIT 101
--
-- Here the day is random over the 90 days leads-seed.sql fills (2026-01-01 to
-- 2026-03-31). pgbench substitutes :variables inside the quoted literals in
-- its default simple-protocol mode (-M simple, which this script needs); its
-- integers are not zero-padded, so '2026-1-5 0:00:00+00:00' stands for bun's
-- '2026-01-05 00:00:00+00:00' (same value, 2 bytes shorter).
--
--   pgbench -n -c 32 -j 2 -T 20 -f test/bench/leads-first.sql aurix_bench_leads
\set day random(0, 89)
\set nday :day + 1
\if :day < 31
\set m 1
\set d :day + 1
\elif :day < 59
\set m 2
\set d :day - 30
\else
\set m 3
\set d :day - 58
\endif
\if :nday < 31
\set nm 1
\set nd :nday + 1
\elif :nday < 59
\set nm 2
\set nd :nday - 30
\elif :nday < 90
\set nm 3
\set nd :nday - 58
\else
\set nm 4
\set nd :nday - 89
\endif
SELECT l.conversation_id, l.created_at, l.status, l.phone, l.channel_id, l.lead_data, l.completed_at,
			l.correlation_id, s.correlated_at, s.click_url, s.parsed_params
			FROM leads l LEFT JOIN inbound_sources s ON s.conversation_id = l.conversation_id WHERE l.created_at >= '2026-:m-:d 00:00:00+00:00' AND l.created_at < '2026-:nm-:nd 00:00:00+00:00' ORDER BY l.created_at, l.conversation_id LIMIT 101;
