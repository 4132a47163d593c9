-- A cursor page of the Leads API, as the service sends it (captured with
-- log_statement = 'all' for GET ...leads?limit=100&from_date=2026-01-05&to_date=2026-01-06&cursor=<next_cursor>;
-- the cursor becomes a row comparison on the last row's (created_at, id)):
--
--   ... WHERE l.created_at >= '2026-01-05 00:00:00+00:00' AND l.created_at < '2026-01-06 00:00:00+00:00'
--   AND (l.created_at, l.conversation_id) > ('2026-01-05 00:14:24.438+00:00', 402)
--   ORDER BY l.created_at, l.conversation_id LIMIT 101
--
-- Here the day is random over the 90 seeded days and the cursor a random
-- second of that day (with the id of the lead the seed put near it), so the
-- pages land uniformly over the day, as a partner's walk does; the last pages
-- of a day are short, as in the walk. Same literal conventions as
-- leads-first.sql (-M simple, unpadded integers); the cursor's time has whole
-- seconds ('2026-1-5 0:14:24+00:00' for bun's '2026-01-05 00:14:24.438+00:00').
-- pgbench would read ":" followed by a variable name as part of the name's
-- reference, so the colons of the time come from a variable: -D c=: is
-- required.
--
--   pgbench -n -c 32 -j 2 -T 20 -D c=: -f test/bench/leads-cursor.sql aurix_bench_leads
\set day random(0, 89)
\set sec random(0, 86399)
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
\set hh :sec / 3600
\set mi (:sec / 60) % 60
\set ss :sec % 60
\set id (:day * 86400000 + :sec * 1000) / 7776 + 1
SELECT l.conversation_id, l.created_at, l.status, l.phone, l.channel_id, l.lead_data, l.completed_at,
			l.correlation_id, s.correlated_at, s.click_url, s.parsed_params
			FROM leads l LEFT JOIN inbound_sources s ON s.conversation_id = l.conversation_id WHERE l.created_at >= '2026-:m-:d 00:00:00+00:00' AND l.created_at < '2026-:nm-:nd 00:00:00+00:00' AND (l.created_at, l.conversation_id) > ('2026-:m-:d :hh:c:mi:c:ss+00:00', :id) ORDER BY l.created_at, l.conversation_id LIMIT 101;
