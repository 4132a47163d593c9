package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

const hotConfigID = "0190bbbb-0000-7000-8000-000000000001"

// seedDeliveries stores n events with one pending delivery each to a config
// whose failure clock runs, and returns the delivery ids.
func seedDeliveries(t *testing.T, db *postgres.DB, n int) []int64 {
	t.Helper()
	_, err := db.SQL.Exec(`INSERT INTO webhook_configs (id, service_name, target_url, secret, previous_secrets, failing_since, created_at, updated_at)
		VALUES ($1, 'topkee', 'https://partner.example/hook', 'aurix_new', '[{"secret":"aurix_old","expires_at":"2099-01-01T00:00:00Z"}]', now(), now(), now())`, hotConfigID)
	require.NoError(t, err)
	ids := make([]int64, n)
	for i := range ids {
		eventID := fmt.Sprintf("0190cccc-0000-7000-8000-%012d", i+1)
		require.NoError(t, db.SQL.QueryRow(`WITH o AS (
				INSERT INTO outbox (event_id, event_type, payload, correlation_id, created_at)
				VALUES ($1, 'widget.click', convert_to($2, 'UTF8'), 'O-ABCDEF', now()) RETURNING id, event_id)
			INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, status, created_at)
			SELECT id, event_id, 'widget.click', $3, 'pending', now() FROM o RETURNING id`,
			eventID, fmt.Sprintf(`{"n":%d}`, i), hotConfigID).Scan(&ids[i]))
	}
	return ids
}

func success(id int64, configID string, at time.Time) (ports.DeliveryAttempt, ports.DeliveryState) {
	a := ports.DeliveryAttempt{DeliveryID: id, EventID: fmt.Sprintf("0190cccc-0000-7000-8000-%012d", id), ConfigID: configID,
		Attempt: 1, StatusCode: 204, Duration: 1500 * time.Microsecond, Response: []byte("ok"), AttemptedAt: at}
	return a, ports.DeliveryState{DeliveryID: id, Status: domain.DeliverySucceeded, Attempts: 1, LastStatusCode: 204, FinishedAt: &at}
}

func TestDeliveryTargetLoadsDeliveryEventAndConfig(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	ids := seedDeliveries(t, db, 1)
	hot := postgres.NewDeliveryPath(db.Pool, 8)

	got, err := hot.DeliveryTarget(context.Background(), ids[0])
	require.NoError(t, err)
	require.Equal(t, domain.DeliveryPending, got.Status)
	require.Zero(t, got.Attempts)
	require.Equal(t, "0190cccc-0000-7000-8000-000000000001", got.Event.EventID)
	require.Equal(t, `{"n":0}`, string(got.Event.Payload), "payload bytes as stored")
	require.Equal(t, domain.EventType("widget.click"), got.Event.Type)
	require.Equal(t, "O-ABCDEF", got.Event.CorrelationID)
	require.Equal(t, hotConfigID, got.Config.ID())
	require.Equal(t, "topkee", got.Config.Service())
	require.Equal(t, "https://partner.example/hook", got.Config.TargetURL())
	secrets := got.Config.SigningSecrets(time.Now())
	require.Len(t, secrets, 2, "the new secret and the one still in its grace period")
	require.Equal(t, "aurix_new", secrets[0].Reveal())
	require.Equal(t, "aurix_old", secrets[1].Reveal())

	_, err = hot.DeliveryTarget(context.Background(), ids[0]+1000)
	require.ErrorIs(t, err, domain.ErrNotFound)
}

// TestRecordSuccessRecordsEveryConcurrentAttempt records many successes at
// once (the grouped path) and checks each is stored whole and once: its attempt row, its finished delivery,
// and the endpoint's failure clock cleared.
func TestRecordSuccessRecordsEveryConcurrentAttempt(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	const n = 60
	ids := seedDeliveries(t, db, n)
	hot := postgres.NewDeliveryPath(db.Pool, 16)
	at := time.Now().UTC().Truncate(time.Millisecond)

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, id := range ids {
		wg.Go(func() {
			a, s := success(id, hotConfigID, at)
			errs[i] = hot.RecordSuccess(context.Background(), a, s)
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "delivery %d", ids[i])
	}

	var succeeded, attempts, withBody int
	require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FILTER (WHERE status = 'succeeded' AND attempts = 1 AND last_status_code = 204
		AND next_attempt_at IS NULL AND finished_at = $1) FROM webhook_deliveries`, at).Scan(&succeeded))
	require.Equal(t, n, succeeded)
	require.NoError(t, db.SQL.QueryRow(`SELECT count(*), count(*) FILTER (WHERE response_body = 'ok' AND status_code = 204
		AND duration_ms = 1.5 AND attempt = 1 AND error = '') FROM webhook_attempts`).Scan(&attempts, &withBody))
	require.Equal(t, n, attempts, "one attempt row per success, none twice")
	require.Equal(t, n, withBody)
	var failing *time.Time
	require.NoError(t, db.SQL.QueryRow(`SELECT failing_since FROM webhook_configs WHERE id = $1`, hotConfigID).Scan(&failing))
	require.Nil(t, failing, "a success clears the endpoint's failure clock")
}

// TestRecordSuccessIsolatesABadAttempt shows that one attempt the database
// refuses fails alone: the others grouped with it are still recorded.
func TestRecordSuccessIsolatesABadAttempt(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	const n = 12
	ids := seedDeliveries(t, db, n)
	hot := postgres.NewDeliveryPath(db.Pool, n)
	at := time.Now()

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, id := range ids {
		wg.Go(func() {
			configID := hotConfigID
			if i == 5 {
				configID = "not-a-uuid"
			}
			a, s := success(id, configID, at)
			errs[i] = hot.RecordSuccess(context.Background(), a, s)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == 5 {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err, "delivery %d", ids[i])
	}
	var succeeded, pending int
	require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'pending')
		FROM webhook_deliveries`).Scan(&succeeded, &pending))
	require.Equal(t, n-1, succeeded)
	require.Equal(t, 1, pending, "the refused attempt left its delivery as it was")
	require.Equal(t, n-1, count(t, db, "webhook_attempts"))
}
