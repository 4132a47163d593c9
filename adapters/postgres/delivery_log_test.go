package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// TestRecover_IsBoundedByThePage: with more failed events than a page holds
// and no limit asked for, one call reopens a full page (domain.MaxRecoverPage
// events, in one transaction) and answers where to go on; the next call
// reopens the rest and says it was the last.
func TestRecover_IsBoundedByThePage(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	ctx := context.Background()
	n := domain.MaxRecoverPage + 1
	_, err := b.db.SQL.Exec(`INSERT INTO outbox (event_id, event_type, payload, created_at)
		SELECT ('01900000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, 'widget.click', '{}', now() - interval '1 hour'
		FROM generate_series(1, $1) AS i`, n)
	require.NoError(t, err)
	_, err = b.db.SQL.Exec(`INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, status, attempts, created_at, finished_at)
		SELECT id, event_id, event_type, '0190aaaa-0000-7000-8000-000000000001', 'failed', 8, created_at, now() FROM outbox`)
	require.NoError(t, err)
	log := &application.DeliveryLog{UoW: b.uow, Reader: postgres.NewStore(b.db), Clock: wallClock{}}

	since := time.Now().Add(-2 * time.Hour)
	first, err := log.Recover(ctx, "topkee", ports.RecoverQuery{Since: since})
	require.NoError(t, err)
	assert.Equal(t, domain.MaxRecoverPage, first.Count)
	require.NotNil(t, first.Next, "another page follows")
	var pending int
	require.NoError(t, b.db.SQL.QueryRow("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'").Scan(&pending))
	assert.Equal(t, domain.MaxRecoverPage, pending, "one new delivery per reopened event")

	last, err := log.Recover(ctx, "topkee", ports.RecoverQuery{Since: since, After: first.Next, Until: first.Until})
	require.NoError(t, err)
	assert.Equal(t, 1, last.Count)
	assert.Nil(t, last.Next)
	assert.Equal(t, 2*n, count(t, b.db, "webhook_deliveries"))
	var series1 int
	require.NoError(t, b.db.SQL.QueryRow("SELECT count(DISTINCT outbox_id) FROM webhook_deliveries WHERE series = 1").Scan(&series1))
	assert.Equal(t, n, series1, "every event reopened once")

	_, err = log.Recover(ctx, "topkee", ports.RecoverQuery{Since: since, Limit: domain.MaxRecoverPage + 1})
	assert.ErrorIs(t, err, domain.ErrInvalidInput)
	_, err = log.Recover(ctx, "topkee", ports.RecoverQuery{Since: since, LimitSet: true})
	assert.ErrorIs(t, err, domain.ErrInvalidInput, "a limit of 0 asked for is refused, not taken for the default")
}
