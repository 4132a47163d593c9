package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	riveradapter "github.com/aurix/integrations/adapters/river"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// failingEnqueuer inserts the real River job and then fails, so the test can
// show that the job insert is rolled back with everything else.
type failingEnqueuer struct{ postgres.DeliveryEnqueuer }

func (f failingEnqueuer) EnqueueDeliveryTx(ctx context.Context, tx *sql.Tx, deliveryID int64, configID, integration, eventID string, attempt int, at time.Time) error {
	if err := f.DeliveryEnqueuer.EnqueueDeliveryTx(ctx, tx, deliveryID, configID, integration, eventID, attempt, at); err != nil {
		return err
	}
	return errors.New("injected failure after the job insert")
}

type uowBundle struct {
	db    *postgres.DB
	queue *riveradapter.Queue
}

func setupUoW(t *testing.T) uowBundle {
	t.Helper()
	db := pgtest.Open(t)
	client, err := river.NewClient(riverdatabasesql.New(db.SQL), &river.Config{})
	require.NoError(t, err)
	// An active endpoint, so that every event opens a delivery with a job.
	_, err = db.SQL.Exec(`INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
		VALUES ('0190aaaa-0000-7000-8000-000000000001', 'topkee', 'https://partner.example/hook', 'aurix_s', now(), now())`)
	require.NoError(t, err)
	return uowBundle{db: db, queue: riveradapter.NewQueue(client)}
}

func newClick(t *testing.T, ref, eventID string) *domain.InboundSource {
	t.Helper()
	s, err := domain.RecordClick(domain.NewClick{
		CorrelationID: domain.CorrelationID(ref), ClickURL: "https://example.com/?utm_source=x",
		DeviceID: "dev-1", UserAgent: "Mozilla/5.0", IPAddress: "203.0.113.9",
		EventID: eventID, Now: time.Now(),
	})
	require.NoError(t, err)
	return s
}

func count(t *testing.T, db *postgres.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.SQL.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
	return n
}

func recordClick(uow ports.UnitOfWork, s *domain.InboundSource, after func() error) error {
	return uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InboundSources().Add(ctx, s); err != nil {
			return err
		}
		// What the use cases' publish does: the event, then one delivery
		// per active endpoint, each with its first attempt's job.
		stored, err := tx.Outbox().Append(ctx, s.PullEvents()...)
		if err != nil {
			return err
		}
		configs, err := tx.WebhookConfigs().Active(ctx)
		if err != nil {
			return err
		}
		ds := make([]ports.NewDelivery, 0, len(stored)*len(configs))
		for _, ev := range stored {
			for _, c := range configs {
				ds = append(ds, ports.NewDelivery{OutboxID: ev.ID, EventID: ev.EventID, EventType: ev.Type,
					ConfigID: c.ID(), Service: c.Service(), CreatedAt: time.Now()})
			}
		}
		if _, err := tx.Deliveries().Open(ctx, ds); err != nil {
			return err
		}
		return after()
	})
}

// TestUnitOfWorkIsAllOrNothing fails each write of the click transaction in
// turn and checks that no click, no outbox row and no River job survive.
func TestUnitOfWorkIsAllOrNothing(t *testing.T) {
	t.Parallel()
	const existingRef, existingEvent = "O-AAAAAA", "01900000-0000-7000-8000-000000000001"

	cases := []struct {
		name  string
		uow   func(b uowBundle) ports.UnitOfWork
		click func(t *testing.T) *domain.InboundSource
		after func() error
	}{
		{
			name: "click insert fails (correlation id taken)",
			uow:  func(b uowBundle) ports.UnitOfWork { return postgres.NewUnitOfWork(b.db.Bun, b.queue) },
			click: func(t *testing.T) *domain.InboundSource {
				return newClick(t, existingRef, "01900000-0000-7000-8000-0000000000a1")
			},
			after: func() error { return nil },
		},
		{
			name:  "outbox insert fails (event id taken)",
			uow:   func(b uowBundle) ports.UnitOfWork { return postgres.NewUnitOfWork(b.db.Bun, b.queue) },
			click: func(t *testing.T) *domain.InboundSource { return newClick(t, "O-BBBBBB", existingEvent) },
			after: func() error { return nil },
		},
		{
			name: "job insert fails",
			uow:  func(b uowBundle) ports.UnitOfWork { return postgres.NewUnitOfWork(b.db.Bun, failingEnqueuer{b.queue}) },
			click: func(t *testing.T) *domain.InboundSource {
				return newClick(t, "O-CCCCCC", "01900000-0000-7000-8000-0000000000c1")
			},
			after: func() error { return nil },
		},
		{
			name: "use case fails after every write",
			uow:  func(b uowBundle) ports.UnitOfWork { return postgres.NewUnitOfWork(b.db.Bun, b.queue) },
			click: func(t *testing.T) *domain.InboundSource {
				return newClick(t, "O-DDDDDD", "01900000-0000-7000-8000-0000000000d1")
			},
			after: func() error { return errors.New("boom") },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupUoW(t)
			// One committed click with its event and job, for the clashes.
			good := postgres.NewUnitOfWork(b.db.Bun, b.queue)
			require.NoError(t, recordClick(good, newClick(t, existingRef, existingEvent), func() error { return nil }))
			require.Equal(t, 1, count(t, b.db, "inbound_sources"))
			require.Equal(t, 1, count(t, b.db, "outbox"))
			require.Equal(t, 1, count(t, b.db, "river_job"))
			require.Equal(t, 1, count(t, b.db, "webhook_deliveries"))

			err := recordClick(tc.uow(b), tc.click(t), tc.after)
			require.Error(t, err)

			require.Equal(t, 1, count(t, b.db, "inbound_sources"), "click rows")
			require.Equal(t, 1, count(t, b.db, "outbox"), "outbox rows")
			require.Equal(t, 1, count(t, b.db, "river_job"), "river jobs")
			require.Equal(t, 1, count(t, b.db, "webhook_deliveries"), "deliveries")
		})
	}
}

// TestUnitOfWorkRollsBackOnPanic checks a panicking use case leaves nothing.
func TestUnitOfWorkRollsBackOnPanic(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	uow := postgres.NewUnitOfWork(b.db.Bun, b.queue)
	require.Panics(t, func() {
		_ = recordClick(uow, newClick(t, "O-EEEEEE", "01900000-0000-7000-8000-0000000000e1"), func() error { panic("mid-transaction") })
	})
	require.Equal(t, 0, count(t, b.db, "inbound_sources"))
	require.Equal(t, 0, count(t, b.db, "outbox"))
	require.Equal(t, 0, count(t, b.db, "river_job"))
	require.Equal(t, 0, count(t, b.db, "webhook_deliveries"))
}

// TestUnitOfWorkCommitsEverything is the control: a good click leaves one of each.
func TestUnitOfWorkCommitsEverything(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	uow := postgres.NewUnitOfWork(b.db.Bun, b.queue)
	require.NoError(t, recordClick(uow, newClick(t, "O-FFFFFF", "01900000-0000-7000-8000-0000000000f1"), func() error { return nil }))
	require.Equal(t, 1, count(t, b.db, "inbound_sources"))
	require.Equal(t, 1, count(t, b.db, "outbox"))
	var kind string
	var args []byte
	require.NoError(t, b.db.SQL.QueryRow("SELECT kind, args FROM river_job").Scan(&kind, &args))
	require.Equal(t, "aurix.deliver_webhook", kind)
	require.JSONEq(t, `{"delivery_id":1,"webhook_config_id":"0190aaaa-0000-7000-8000-000000000001","attempt":1}`, string(args),
		"the job carries only ids")
	require.Equal(t, 1, count(t, b.db, "webhook_deliveries"))
}
