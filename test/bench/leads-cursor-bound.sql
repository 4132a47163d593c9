-- A cursor page of the Leads API with bind parameters, as the service sends
-- it (adapters/postgres/partner.go):
--
--   ... WHERE l.created_at >= $1 AND l.created_at < $2 AND (l.created_at, l.conversation_id) > ($3, $4)
--   ORDER BY l.created_at, l.conversation_id LIMIT $5
--
-- The day is random over the 90 seeded days and the cursor a random second
-- of that day, with the id of the lead the seed put near it (one lead every
-- 7.776 s), as in leads-cursor.sql. For pgbench -M prepared; times are Unix
-- seconds through to_timestamp(), as in leads-first-bound.sql.
--
--   pgbench -n -M prepared -c 32 -j 2 -T 20 -f test/bench/leads-cursor-bound.sql aurix_bench_leads
\set day random(0, 89)
\set sec random(0, 86399)
\set t0 1767225600 + :day * 86400
\set t1 :t0 + 86400
\set tc :t0 + :sec
\set id (:day * 86400000 + :sec * 1000) / 7776 + 1
\set lim 101
SELECT l.conversation_id, l.created_at, l.status, l.phone, l.channel_id, l.lead_data, l.completed_at,
		l.correlation_id, s.correlated_at, s.click_url, s.parsed_params
		FROM leads l LEFT JOIN inbound_sources s ON s.conversation_id = l.conversation_id WHERE l.created_at >= to_timestamp(:t0) AND l.created_at < to_timestamp(:t1) AND (l.created_at, l.conversation_id) > (to_timestamp(:tc), :id) ORDER BY l.created_at, l.conversation_id LIMIT :lim;
