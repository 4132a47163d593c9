package postgres_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
)

// TestClaimPlans_WalkTheDueIndexes: with a backlog of first attempts and
// retries, the plan PostgreSQL keeps for each prepared claim statement (its
// generic plan) reads the matching partial due index in due order and stops
// at the limit, and checks each candidate's lead order in the lead index:
// no sort of the backlog. With the attempts condition as a parameter, it
// sorted every pending delivery on every claim, 70 ms per claim at 23,000
// pending. The second case is a backlog that the statistics do not know of
// (the table was analyzed when nothing was pending, beside many finished
// deliveries): with another partial index on the pending deliveries, the
// claim walked it twice over, once per candidate, 693 ms at 2,000 pending.
func TestClaimPlans_WalkTheDueIndexes(t *testing.T) {
	t.Parallel()
	const cfg = "0190aaaa-0000-7000-8000-0000000000c1"
	config := `INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
		VALUES ('` + cfg + `', 'topkee', 'https://partner.example/hook', 'aurix_s', now(), now())`
	events := func(from, to int) string {
		return `INSERT INTO outbox (event_id, event_type, payload, correlation_id, lead_key, created_at)
			SELECT ('01900000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, 'widget.click', '{}', 'O-' || i, 'O-' || i, now()
			FROM generate_series(` + strconv.Itoa(from) + `, ` + strconv.Itoa(to) + `) AS i`
	}
	deliveries := func(status, where string) string {
		return `INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, lead_key, status, attempts,
			created_at, next_attempt_at)
			SELECT id, event_id, event_type, '` + cfg + `', lead_key, '` + status + `', CASE WHEN id % 2 = 0 THEN 1 ELSE 0 END,
				now(), now() - interval '1 minute' FROM outbox WHERE ` + where
	}
	for name, setup := range map[string][]string{
		"a backlog the statistics know of": {config, events(1, 6000), deliveries("pending", "true"), "ANALYZE"},
		"a backlog after an analyze that saw none pending": {config, events(1, 20000), deliveries("succeeded", "id <= 18000"),
			"ANALYZE", deliveries("pending", "id > 18000")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.Open(t)
			ctx := context.Background()
			for _, q := range setup {
				_, err := db.Pool.Exec(ctx, q)
				require.NoError(t, err)
			}
			for stmt, tt := range map[string]struct{ sql, index string }{
				"first": {postgres.ClaimFirstSQL, "webhook_deliveries_due_first_idx"},
				"retry": {postgres.ClaimRetrySQL, "webhook_deliveries_due_retry_idx"},
			} {
				all := genericPlan(t, db, tt.sql, "'"+cfg+"', now(), true, 50, '0190bbbb-0000-7000-8000-000000000001'")
				assert.Contains(t, all, "Index Scan "+tt.index, "%s: %s", stmt, all)
				assert.Contains(t, all, "Index Only Scan webhook_deliveries_lead_idx", "%s: the lead order checked in its index: %s",
					stmt, all)
				assert.NotContains(t, all, "Sort", "%s: no sort of the backlog: %s", stmt, all)
			}
		})
	}
}

// genericPlan returns the nodes (type and index) of the plan PostgreSQL
// keeps for sql as a prepared statement, executed with args.
func genericPlan(t *testing.T, db *postgres.DB, sql, args string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "PREPARE planned AS "+sql)
	require.NoError(t, err)
	defer func() { _, _ = conn.Exec(ctx, "DEALLOCATE planned") }()
	var plan []byte
	require.NoError(t, conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE planned("+args+")").Scan(&plan))
	var nodes []string
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		nodes = append(nodes, n["Node Type"].(string)+" "+stringOf(n["Index Name"]))
		for _, c := range asSlice(n["Plans"]) {
			walk(c.(map[string]any))
		}
	}
	var doc []map[string]any
	require.NoError(t, json.Unmarshal(plan, &doc))
	walk(doc[0]["Plan"].(map[string]any))
	return strings.Join(nodes, "; ")
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
