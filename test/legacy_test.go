package test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
)

// versionBeforeEngine is the last schema of the version that queued River
// jobs for deliveries.
const versionBeforeEngine = 3

// TestUpgradeDeliversJobsQueuedByAnEarlierVersion plants, in a database of
// the earlier schema, what that version left queued: a dispatch job whose
// event has no delivery yet, and a delivery with its first-attempt job. The
// upgraded service delivers both events, and the old jobs are gone.
func TestUpgradeDeliversJobsQueuedByAnEarlierVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := pgtest.NewEmptyDatabase(t)
	db, err := postgres.Open(ctx, dbURL, postgres.PoolOptions{MaxConns: 4})
	require.NoError(t, err)
	require.NoError(t, postgres.NewMigrator(db).UpTo(ctx, versionBeforeEngine))
	db.Close()

	rc := newReceiver(t)
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	const configID = "0190aaaa-0000-7000-8000-000000000001"
	secret := "aurix_" + fmt.Sprintf("%064d", 7)
	_, err = conn.Exec(ctx, `INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
		VALUES ($1, 'topkee', $2, $3, now(), now())`, configID, rc.URL, secret)
	require.NoError(t, err)
	event := func(id, ref string) int64 {
		body := fmt.Sprintf(`{"event_type":"widget.click","event_id":%q,"timestamp":"2026-11-30T10:00:00.000Z","data":{"correlation_id":%q,`+
			`"device_id":"d","click_url":"https://example.com/","parsed_params":{},"user_agent":"Mozilla/5.0","ip_address":"203.0.113.1"}}`, id, ref)
		var outboxID int64
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO outbox (event_id, event_type, payload, correlation_id, created_at)
			VALUES ($1, 'widget.click', $2, $3, now()) RETURNING id`, id, []byte(body), ref).Scan(&outboxID))
		return outboxID
	}
	dispatched := event("01900000-0000-7000-8000-00000000d001", "O-LEGAC1")
	delivered := event("01900000-0000-7000-8000-00000000d002", "O-LEGAC2")
	var deliveryID int64
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, created_at, next_attempt_at)
		VALUES ($1, '01900000-0000-7000-8000-00000000d002', 'widget.click', $2, now(), now()) RETURNING id`, delivered, configID).Scan(&deliveryID))
	job := func(kind, queue string, args any) {
		raw, err := json.Marshal(args)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `INSERT INTO river_job (kind, queue, args, state, max_attempts, scheduled_at) VALUES ($1, $2, $3, 'available', 25, now())`,
			kind, queue, raw)
		require.NoError(t, err)
	}
	job("aurix.dispatch_event", "dispatch", map[string]any{"outbox_id": dispatched})
	job("aurix.deliver_webhook", "deliver", map[string]any{"delivery_id": deliveryID, "webhook_config_id": configID, "attempt": 1})

	startServiceOn(t, dbURL, freePort(t), nil)
	got := rc.waitFor(t, 2, 20*time.Second)
	ids := map[string]bool{}
	for _, d := range got {
		require.True(t, partnerVerify(d.Body, d.Header.Get("x-hub-signature"), secret))
		ids[d.Header.Get("webhook-id")] = true
	}
	assert.Equal(t, map[string]bool{"01900000-0000-7000-8000-00000000d001": true, "01900000-0000-7000-8000-00000000d002": true}, ids)
	var jobs int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind IN ('aurix.dispatch_event', 'aurix.deliver_webhook')`).Scan(&jobs))
	assert.Zero(t, jobs, "the earlier version's jobs are gone")
	var leadKeys []string
	rows, err := conn.Query(ctx, "SELECT lead_key FROM webhook_deliveries ORDER BY outbox_id")
	require.NoError(t, err)
	leadKeys, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"O-LEGAC1", "O-LEGAC2"}, leadKeys, "the upgraded rows carry their lead's key")
	time.Sleep(500 * time.Millisecond)
	assert.Len(t, rc.deliveries(), 2, "each event once")
}
