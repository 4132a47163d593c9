-- The first page of a random day of the Leads API with bind parameters, as
-- the service sends it (adapters/postgres/partner.go; one prepared statement
-- per shape and connection):
--
--   ... WHERE l.created_at >= $1 AND l.created_at < $2 ORDER BY l.created_at, l.conversation_id LIMIT $3
--
-- For pgbench -M prepared, which prepares the statement once per connection
-- and sends :variables as parameters. pgbench's variables are numbers, so
-- the times are Unix seconds turned into timestamptz by to_timestamp() in
-- the statement (2026-01-01 00:00 UTC is 1767225600; the seed covers 90 days).
--
--   pgbench -n -M prepared -c 32 -j 2 -T 20 -f test/bench/leads-first-bound.sql aurix_bench_leads
\set day random(0, 89)
\set t0 1767225600 + :day * 86400
\set t1 :t0 + 86400
\set lim 101
SELECT l.conversation_id, l.created_at, l.status, l.phone, l.channel_id, l.lead_data, l.completed_at,
		l.correlation_id, s.correlated_at, s.click_url, s.parsed_params
		FROM leads l LEFT JOIN inbound_sources s ON s.conversation_id = l.conversation_id WHERE l.created_at >= to_timestamp(:t0) AND l.created_at < to_timestamp(:t1) ORDER BY l.created_at, l.conversation_id LIMIT :lim;
