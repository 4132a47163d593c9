package application_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
)

// retentionFixture writes rows of every kind, at given ages, straight into
// a fresh database.
type retentionFixture struct {
	t  *testing.T
	db *postgres.DB
	n  int
}

func newRetentionFixture(t *testing.T) *retentionFixture {
	t.Helper()
	f := &retentionFixture{t: t, db: pgtest.Open(t)}
	f.exec(`INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
		VALUES ($1, 'a', 'https://example.com/', 'aurix_s', $2, $2)`, configIDs[0], now)
	return f
}

func (f *retentionFixture) exec(q string, args ...any) {
	f.t.Helper()
	_, err := f.db.SQL.Exec(q, args...)
	require.NoError(f.t, err)
}

// event writes an event created at created with one delivery per status
// (finished at finished unless pending), each with an attempt.
func (f *retentionFixture) event(created time.Time, finished time.Time, statuses ...string) int64 {
	f.t.Helper()
	f.n++
	eventID := fmt.Sprintf("01900000-0000-7000-8000-%012d", f.n)
	var id int64
	require.NoError(f.t, f.db.SQL.QueryRow(`INSERT INTO outbox (event_id, event_type, payload, lead_key, created_at)
		VALUES ($1, 'widget.click', '{}', $2, $3) RETURNING id`, eventID, fmt.Sprintf("O-EVT%03d", f.n), created).Scan(&id))
	for series, st := range statuses {
		var fin *time.Time
		var next *time.Time
		if st == "pending" {
			next = &created
		} else {
			fin = &finished
		}
		var deliveryID int64
		require.NoError(f.t, f.db.SQL.QueryRow(`INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, series,
			status, attempts, created_at, next_attempt_at, finished_at) VALUES ($1, $2, 'widget.click', $3, $4, $5, 1, $6, $7, $8) RETURNING id`,
			id, eventID, configIDs[0], series, st, created, next, fin).Scan(&deliveryID))
		f.exec(`INSERT INTO webhook_attempts (delivery_id, event_id, webhook_config_id, attempt, status_code, duration_ms, response_body, attempted_at)
			VALUES ($1, $2, $3, 1, 200, 1, 'ok', $4)`, deliveryID, eventID, configIDs[0], created)
	}
	return id
}

// click writes a click made at created, correlated to a new conversation
// and lead (started at created) when correlated.
func (f *retentionFixture) click(created time.Time, correlated bool) (clickID, conversationID int64) {
	f.t.Helper()
	f.n++
	ref := fmt.Sprintf("O-C%05d", f.n)
	require.NoError(f.t, f.db.SQL.QueryRow(`INSERT INTO inbound_sources (correlation_id, device_id, click_url, created_at)
		VALUES ($1, 'd', 'https://example.com/', $2) RETURNING id`, ref, created).Scan(&clickID))
	if !correlated {
		return clickID, 0
	}
	require.NoError(f.t, f.db.SQL.QueryRow(`INSERT INTO conversations (channel_id, phone, created_at) VALUES ('ch', $1, $2) RETURNING id`,
		fmt.Sprintf("+1555%07d", f.n), created).Scan(&conversationID))
	f.exec(`UPDATE inbound_sources SET conversation_id = $1, correlated_at = $2 WHERE id = $3`, conversationID, created, clickID)
	f.exec(`INSERT INTO leads (conversation_id, channel_id, phone, status, correlation_id, created_at, correlated_at)
		VALUES ($1, 'ch', $2, 'correlated', $3, $4, $4)`, conversationID, fmt.Sprintf("+1555%07d", f.n), ref, created)
	return clickID, conversationID
}

func (f *retentionFixture) message(received time.Time) string {
	f.t.Helper()
	f.n++
	key := domain.MessageKey(fmt.Sprintf("wamid.%d", f.n))
	f.exec(`INSERT INTO whatsapp_messages (message_id, channel_id, received_at) VALUES ($1, 'ch', $2)`, key, received)
	return key
}

func (f *retentionFixture) exists(table, col string, v any) bool {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.db.SQL.QueryRow("SELECT count(*) FROM "+table+" WHERE "+col+" = $1", v).Scan(&n))
	return n > 0
}

func (f *retentionFixture) count(table string) int {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.db.SQL.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
	return n
}

func (f *retentionFixture) retention(p domain.RetentionPolicy, batch int) *application.Retention {
	return &application.Retention{UoW: postgres.NewUnitOfWork(f.db.Bun, postgres.UnitOfWorkOptions{}), Clock: fixedClock{now},
		Policy: p, Batch: batch}
}

// TestPurgeDeletesWhatThePolicyLetsGo: finished events past the delivery-log
// window go with their deliveries and attempts, pending ones never; clicks
// that never became a lead go after their window, a lead's click stays;
// message keys go after theirs; leads are kept forever by default. A batch
// of 2 makes each kind take several transactions.
func TestPurgeDeletesWhatThePolicyLetsGo(t *testing.T) {
	t.Parallel()
	f := newRetentionFixture(t)
	h := time.Hour
	var oldFinished []int64
	for i := range 5 {
		oldFinished = append(oldFinished, f.event(now.Add(-100*h-time.Duration(i)*time.Minute), now.Add(-90*h), "succeeded", "exhausted"))
	}
	noDelivery := f.event(now.Add(-50*h), time.Time{})
	pending := f.event(now.Add(-100*h), now.Add(-90*h), "failed", "pending")
	recentlyFinished := f.event(now.Add(-100*h), now.Add(-time.Hour), "succeeded")
	recent := f.event(now.Add(-time.Hour), now.Add(-time.Minute), "succeeded")

	var oldLoose []int64
	for i := range 3 {
		id, _ := f.click(now.Add(-30*h-time.Duration(i)*time.Minute), false)
		oldLoose = append(oldLoose, id)
	}
	recentLoose, _ := f.click(now.Add(-h), false)
	leadClick, leadConv := f.click(now.Add(-1000*h), true)
	oldMsg, newMsg := f.message(now.Add(-48*h)), f.message(now.Add(-h))

	p := domain.RetentionPolicy{DeliveryLog: 24 * h, MessageIDs: 24 * h, UncorrelatedClicks: 24 * h, CorrelationWindow: 2 * h}
	rep, err := f.retention(p, 2).Purge(context.Background())
	require.NoError(t, err)
	assert.Equal(t, application.PurgeReport{Events: 6, Deliveries: 10, Attempts: 10, Messages: 1, Clicks: 3}, rep)

	for _, id := range append(oldFinished, noDelivery) {
		assert.False(t, f.exists("outbox", "id", id), "event %d purged", id)
		assert.False(t, f.exists("webhook_deliveries", "outbox_id", id))
	}
	for _, id := range []int64{pending, recentlyFinished, recent} {
		assert.True(t, f.exists("outbox", "id", id), "event %d kept", id)
	}
	var pendingDeliveries int
	require.NoError(t, f.db.SQL.QueryRow("SELECT count(*) FROM webhook_deliveries WHERE outbox_id = $1", pending).Scan(&pendingDeliveries))
	assert.Equal(t, 2, pendingDeliveries, "an event with a pending delivery keeps all of them, the finished one too")
	assert.Equal(t, 4, f.count("webhook_attempts"), "the kept events' attempts")
	for _, id := range oldLoose {
		assert.False(t, f.exists("inbound_sources", "id", id))
	}
	assert.True(t, f.exists("inbound_sources", "id", recentLoose))
	assert.True(t, f.exists("inbound_sources", "id", leadClick), "a lead's click lives as long as the lead")
	assert.True(t, f.exists("leads", "conversation_id", leadConv), "leads are kept forever by default")
	assert.False(t, f.exists("whatsapp_messages", "message_id", oldMsg))
	assert.True(t, f.exists("whatsapp_messages", "message_id", newMsg))

	again, err := f.retention(p, 2).Purge(context.Background())
	require.NoError(t, err)
	assert.Zero(t, again.Total(), "nothing left to purge")

	// With a lead retention, the lead goes with its conversation and click.
	p.Leads = 500 * h
	rep, err = f.retention(p, 2).Purge(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Leads)
	assert.False(t, f.exists("leads", "conversation_id", leadConv))
	assert.False(t, f.exists("conversations", "id", leadConv))
	assert.False(t, f.exists("inbound_sources", "id", leadClick))
}

// TestPurgeKeepsEverythingWithZeroRetention: 0 is forever.
func TestPurgeKeepsEverythingWithZeroRetention(t *testing.T) {
	t.Parallel()
	f := newRetentionFixture(t)
	f.event(now.Add(-10000*time.Hour), now.Add(-9000*time.Hour), "succeeded")
	f.click(now.Add(-10000*time.Hour), false)
	f.click(now.Add(-10000*time.Hour), true)
	f.message(now.Add(-10000 * time.Hour))
	rep, err := f.retention(domain.RetentionPolicy{CorrelationWindow: time.Hour}, 0).Purge(context.Background())
	require.NoError(t, err)
	assert.Zero(t, rep.Total())
	assert.Equal(t, 1, f.count("outbox"))
	assert.Equal(t, 2, f.count("inbound_sources"))
	assert.Equal(t, 1, f.count("whatsapp_messages"))
}

// TestPurgeNeverWaitsForALockedRow: a row another transaction holds (a
// redelivery being opened, a click being correlated) is skipped, not waited
// for, and goes in a later run.
func TestPurgeNeverWaitsForALockedRow(t *testing.T) {
	t.Parallel()
	f := newRetentionFixture(t)
	held := f.event(now.Add(-100*time.Hour), now.Add(-90*time.Hour), "succeeded")
	free := f.event(now.Add(-100*time.Hour), now.Add(-90*time.Hour), "succeeded")
	heldClick, _ := f.click(now.Add(-100*time.Hour), false)

	ctx := context.Background()
	tx, err := f.db.SQL.BeginTx(ctx, &sql.TxOptions{})
	require.NoError(t, err)
	defer tx.Rollback()                                                        //nolint:errcheck
	_, err = tx.Exec("SELECT 1 FROM outbox WHERE id = $1 FOR KEY SHARE", held) // what a delivery insert's foreign key check takes
	require.NoError(t, err)
	_, err = tx.Exec("SELECT 1 FROM inbound_sources WHERE id = $1 FOR UPDATE", heldClick) // what a correlation takes
	require.NoError(t, err)

	p := domain.RetentionPolicy{DeliveryLog: time.Hour, UncorrelatedClicks: time.Hour, CorrelationWindow: time.Hour}
	runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	rep, err := f.retention(p, 10).Purge(runCtx)
	require.NoError(t, err)
	require.False(t, rep.Unfinished, "the purge did not wait for the held rows")
	assert.Equal(t, 1, rep.Events)
	assert.True(t, f.exists("outbox", "id", held))
	assert.False(t, f.exists("outbox", "id", free))
	assert.True(t, f.exists("inbound_sources", "id", heldClick))

	require.NoError(t, tx.Rollback())
	rep, err = f.retention(p, 10).Purge(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Events)
	assert.Equal(t, 1, rep.Clicks)
}

// TestPurgeStopsAtItsBudget: a run whose context ends stops and says it is
// unfinished rather than failing; what it committed stays purged.
func TestPurgeStopsAtItsBudget(t *testing.T) {
	t.Parallel()
	f := newRetentionFixture(t)
	for range 3 {
		f.event(now.Add(-100*time.Hour), now.Add(-90*time.Hour), "succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := f.retention(domain.RetentionPolicy{DeliveryLog: time.Hour}, 1).Purge(ctx)
	require.NoError(t, err)
	assert.True(t, rep.Unfinished)
	assert.Equal(t, 3, f.count("outbox"))
}
