-- Deliveries and attempts no longer reference webhook_configs by a foreign
-- key. Every delivery inserted and every attempt recorded locked its
-- config's row (FOR KEY SHARE, the foreign key's check) while the workers'
-- claims lock the same row (FOR NO KEY UPDATE): with one partner that is one
-- row locked by nearly every transaction at once, and PostgreSQL records
-- each such overlap as a new MultiXact, which under load became one of the
-- largest costs of a delivery (test/bench/README.md, "Click → partner").
-- Configs are never deleted (no API or job does), deliveries are only
-- opened for an active config read in the same transaction, and an attempt
-- still references its delivery, so nothing the keys guarded can happen.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_config_id_fkey;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_webhook_config_id_fkey;

-- A delivery's row is written three times (opened, claimed, finished), and
-- the claim and the finish each leave a dead version and an entry in the
-- partial indexes the claims scan (due, owned). PostgreSQL's default waits
-- for a fifth of the table to be dead before vacuuming it, so on a table of
-- millions of finished deliveries the claims would wade through ever more
-- dead entries between vacuums. Vacuum it after 1% (and at least 2,000 rows);
-- a vacuum of the recent pages skips the indexes when few pages changed.
ALTER TABLE webhook_deliveries SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 2000,
    autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 2000);
