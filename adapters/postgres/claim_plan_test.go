package postgres_test

import (
	"context"
	"encoding/json"
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
// at the limit: no sort of the backlog. With the attempts condition as a
// parameter, it sorted every pending delivery on every claim, 70 ms per
// claim at 23,000 pending.
func TestClaimPlans_WalkTheDueIndexes(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	ctx := context.Background()
	const cfg = "0190aaaa-0000-7000-8000-0000000000c1"
	for _, q := range []string{
		`INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
			VALUES ('` + cfg + `', 'topkee', 'https://partner.example/hook', 'aurix_s', now(), now())`,
		`INSERT INTO outbox (event_id, event_type, payload, correlation_id, lead_key, created_at)
			SELECT ('01900000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, 'widget.click', '{}', 'O-' || i, 'O-' || i, now()
			FROM generate_series(1, 6000) AS i`,
		`INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, lead_key, status, attempts,
			created_at, next_attempt_at)
			SELECT id, event_id, event_type, '` + cfg + `', lead_key, 'pending', CASE WHEN id % 2 = 0 THEN 1 ELSE 0 END,
				now(), now() - interval '1 minute' FROM outbox`,
		`ANALYZE`,
	} {
		_, err := db.Pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
	require.NoError(t, err)

	for name, tt := range map[string]struct{ sql, index string }{
		"first": {postgres.ClaimFirstSQL, "webhook_deliveries_due_first_idx"},
		"retry": {postgres.ClaimRetrySQL, "webhook_deliveries_due_retry_idx"},
	} {
		_, err := conn.Exec(ctx, "PREPARE claim_"+name+" AS "+tt.sql)
		require.NoError(t, err, name)
		var plan []byte
		require.NoError(t, conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE claim_"+name+
			"('"+cfg+"', now(), true, 50, '0190bbbb-0000-7000-8000-000000000001')").Scan(&plan), name)
		var nodes []string
		var walk func(n map[string]any)
		walk = func(n map[string]any) {
			nodes = append(nodes, n["Node Type"].(string)+" "+stringOf(n["Index Name"]))
			for _, c := range asSlice(n["Plans"]) {
				walk(c.(map[string]any))
			}
		}
		var doc []map[string]any
		require.NoError(t, json.Unmarshal(plan, &doc), name)
		walk(doc[0]["Plan"].(map[string]any))
		all := strings.Join(nodes, "; ")
		assert.Contains(t, all, "Index Scan "+tt.index, "%s: %s", name, all)
		assert.NotContains(t, all, "Sort", "%s: no sort of the backlog: %s", name, all)
	}
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
