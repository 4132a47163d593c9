package test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
)

// versionBeforeRetention is the last schema without retention and erasure.
const versionBeforeRetention = 5

// TestRetentionMigrationOnAPopulatedDatabase: migration 000006 runs on a
// database holding the previous version's rows: a lead with its click,
// conversation and message id (stored raw, as that version did), its events
// with deliveries and echoed answers, a click that never became a lead and
// an event finished two months ago. Afterwards the message id is kept only
// as its digest and a redelivery of it is still recognised, the old event is
// purged by the first round, and an erasure by phone reaches the rows the
// earlier version wrote.
func TestRetentionMigrationOnAPopulatedDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := pgtest.NewEmptyDatabase(t)
	db, err := postgres.Open(ctx, dbURL, postgres.PoolOptions{MaxConns: 4})
	require.NoError(t, err)
	require.NoError(t, postgres.NewMigrator(db).UpTo(ctx, versionBeforeRetention))
	db.Close()

	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := conn.Exec(ctx, q, args...)
		require.NoError(t, err)
	}
	const (
		configID = "0190aaaa-0000-7000-8000-0000000000c1"
		wamid    = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
		ref      = "O-OLDv05"
	)
	rc := newReceiver(t)
	exec(`INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at) VALUES ($1, 'topkee', $2, $3, now(), now())`,
		configID, rc.URL, "aurix_"+fmt.Sprintf("%064d", 5))
	exec(`INSERT INTO inbound_sources (correlation_id, device_id, click_url, parsed_params, user_agent, ip_address, created_at)
		VALUES ($1, 'dev-legacy-v5', 'https://example.com/?utm_source=legacy&email=legacy.person%40example.org', '{"utm_source":"legacy"}',
		'LegacyAgent/5.0', '192.0.2.55', now() - interval '1 hour')`, ref)
	exec(`INSERT INTO inbound_sources (correlation_id, device_id, click_url, created_at) VALUES ('O-OLDlo5', 'dev-other', 'https://example.com/', now())`)
	var conv int64
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO conversations (channel_id, phone, bsuid, created_at)
		VALUES ($1, '+16505551234', 'US.13491208655302741918', now() - interval '50 minutes') RETURNING id`, channelID).Scan(&conv))
	exec(`UPDATE inbound_sources SET conversation_id = $1, correlated_at = now() - interval '50 minutes' WHERE correlation_id = $2`, conv, ref)
	exec(`INSERT INTO leads (conversation_id, channel_id, phone, bsuid, status, correlation_id, lead_data, created_at, correlated_at, completed_at)
		VALUES ($1, $2, '+16505551234', 'US.13491208655302741918', 'complete', $3, '{"name":"Legacy Person","email":"legacy.person@example.org"}',
		now() - interval '50 minutes', now() - interval '50 minutes', now() - interval '40 minutes')`, conv, channelID, ref)
	exec(`INSERT INTO whatsapp_messages (message_id, channel_id, received_at) VALUES ($1, $2, now() - interval '50 minutes')`, wamid, channelID)
	event := func(id, typ, data string, created time.Duration) {
		t.Helper()
		payload := fmt.Sprintf(`{"event_type":%q,"event_id":%q,"timestamp":"2026-11-30T10:00:00.000Z","data":%s}`, typ, id, data)
		var outboxID, deliveryID int64
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO outbox (event_id, event_type, payload, correlation_id, lead_key, created_at)
			VALUES ($1, $2, $3, $4, $4, now() - $5::interval) RETURNING id`, id, typ, []byte(payload), ref, created.String()).Scan(&outboxID))
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, status, attempts,
			last_status_code, lead_key, created_at, finished_at) VALUES ($1, $2, $3, $4, 'succeeded', 1, 200, $5, now() - $6::interval, now() - $6::interval)
			RETURNING id`, outboxID, id, typ, configID, ref, created.String()).Scan(&deliveryID))
		exec(`INSERT INTO webhook_attempts (delivery_id, event_id, webhook_config_id, attempt, status_code, duration_ms, response_body, attempted_at)
			VALUES ($1, $2, $3, 1, 200, 3, $4, now() - $5::interval)`, deliveryID, id, configID, []byte("echo: "+payload), created.String())
	}
	event("01900000-0000-7000-8000-0000000e0001", "widget.click", `{"correlation_id":"`+ref+`","device_id":"dev-legacy-v5",`+
		`"click_url":"https://example.com/?utm_source=legacy&email=legacy.person%40example.org","parsed_params":{"utm_source":"legacy"},`+
		`"user_agent":"LegacyAgent/5.0","ip_address":"192.0.2.55"}`, time.Hour)
	event("01900000-0000-7000-8000-0000000e0002", "lead.correlated", fmt.Sprintf(`{"correlation_id":%q,"conversation_id":%d,`+
		`"phone_number":"+16505551234","lead_status":"correlated","channel_id":%q,"bsuid":"US.13491208655302741918"}`, ref, conv, channelID), 50*time.Minute)
	event("01900000-0000-7000-8000-0000000e0003", "lead.complete", fmt.Sprintf(`{"correlation_id":%q,"conversation_id":%d,`+
		`"lead_status":"complete","lead_data":{"name":"Legacy Person","email":"legacy.person@example.org"}}`, ref, conv), 40*time.Minute)
	event("01900000-0000-7000-8000-0000000e0004", "widget.click", `{"correlation_id":"O-OLDlo5","device_id":"dev-other",`+
		`"click_url":"https://example.com/","parsed_params":{},"user_agent":"","ip_address":""}`, 60*24*time.Hour)
	exec(`UPDATE outbox SET correlation_id = 'O-OLDlo5', lead_key = 'O-OLDlo5' WHERE event_id = '01900000-0000-7000-8000-0000000e0004'`)

	svc := startServiceOn(t, dbURL, freePort(t), map[string]string{"AURIX_ADMIN_PASSWORD": e2eAdminPassword})
	var key string
	require.NoError(t, conn.QueryRow(ctx, "SELECT message_id FROM whatsapp_messages").Scan(&key))
	sum := sha256.Sum256([]byte(wamid))
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), key, "the earlier version's message id is now its digest")
	// The same notification again is recognised as seen.
	body := sample(t, "text-with-ref.json", "O-xY123z", ref)
	status, raw := svc.postWhatsApp(t, body, metaSignature(body))
	require.Equal(t, http.StatusOK, status, string(raw))
	var messages int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM whatsapp_messages").Scan(&messages))
	assert.Equal(t, 1, messages)

	eventually(t, 20*time.Second, "the first purge round removes the event finished two months ago", func() bool {
		var n int
		_ = conn.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE event_id = '01900000-0000-7000-8000-0000000e0004'").Scan(&n)
		return n == 0
	})
	var left int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&left))
	assert.Equal(t, 3, left, "the recent ones stay")

	code, rep := svc.erase(t, `{"phone_number":"+16505551234"}`)
	require.Equal(t, http.StatusOK, code, rep)
	assert.EqualValues(t, 1, rep["leads"])
	assert.EqualValues(t, 1, rep["clicks"])
	assert.EqualValues(t, 3, rep["events"])
	assert.EqualValues(t, 3, rep["attempts"])
	dump := pgDump(t, svc.DBURL)
	assertAbsent(t, dump, "16505551234", "US.13491208655302741918", "Legacy Person", "legacy.person", "dev-legacy-v5", "LegacyAgent",
		"192.0.2.55", wamid, "HBgLMTY1MDU1NTEyMzQ")
	assert.Contains(t, dump, "dev-other", "the other click is not that person's")
	rc.waitForEvents(t, "aurix_"+fmt.Sprintf("%064d", 5), "lead.erased", 1)
}
