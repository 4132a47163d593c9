package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

const testConfigID = "0190aaaa-0000-7000-8000-000000000001"

type uowBundle struct {
	db     *postgres.DB
	uow    *postgres.UnitOfWork
	opened int
}

func setupUoW(t *testing.T) *uowBundle {
	t.Helper()
	b := &uowBundle{db: pgtest.Open(t)}
	b.uow = postgres.NewUnitOfWork(b.db.Bun, postgres.UnitOfWorkOptions{Opened: func([]string) { b.opened++ }, Notify: true})
	// An active endpoint, so that every event opens a delivery.
	_, err := b.db.SQL.Exec(`INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
		VALUES ($1, 'topkee', 'https://partner.example/hook', 'aurix_s', now(), now())`, testConfigID)
	require.NoError(t, err)
	return b
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

// clickRows counts the rows of the tables a click writes to.
func clickRows(t *testing.T, db *postgres.DB) map[string]int {
	t.Helper()
	rows := map[string]int{}
	for _, table := range []string{"inbound_sources", "outbox", "webhook_deliveries"} {
		rows[table] = count(t, db, table)
	}
	return rows
}

// recordClick does what the click use case does: the click, its event, and
// one delivery per active endpoint; after runs last, inside the transaction.
// The unit of work may run the function again after a conflict, so the
// events are taken from the click once, outside it.
func recordClick(uow ports.UnitOfWork, s *domain.InboundSource, after func() error) error {
	events := s.PullEvents()
	return uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InboundSources().Add(ctx, s); err != nil {
			return err
		}
		stored, err := tx.Outbox().Append(ctx, events...)
		if err != nil {
			return err
		}
		configs, err := tx.WebhookConfigs().Active(ctx)
		if err != nil {
			return err
		}
		var ds []*domain.Delivery
		for _, ev := range stored {
			for _, c := range configs {
				ds = append(ds, domain.OpenDelivery(ev.Ref(), c.ID(), 0, time.Now()))
			}
		}
		if _, err := tx.Deliveries().Open(ctx, ds); err != nil {
			return err
		}
		return after()
	})
}

// TestUnitOfWorkIsAllOrNothing fails each write of the click transaction in
// turn and checks that no click, no outbox row and no delivery survive, and
// that no worker is told of deliveries that were rolled back.
func TestUnitOfWorkIsAllOrNothing(t *testing.T) {
	t.Parallel()
	const existingRef, existingEvent = "O-AAAAAA", "01900000-0000-7000-8000-000000000001"
	tests := []struct {
		name  string
		click func(t *testing.T) *domain.InboundSource
		after func() error
	}{
		{"click insert fails (correlation id taken)", func(t *testing.T) *domain.InboundSource {
			return newClick(t, existingRef, "01900000-0000-7000-8000-0000000000aa")
		}, func() error { return nil }},
		{"outbox insert fails (event id taken)", func(t *testing.T) *domain.InboundSource {
			return newClick(t, "O-BBBBBB", existingEvent)
		}, func() error { return nil }},
		{"the use case fails after every write", func(t *testing.T) *domain.InboundSource {
			return newClick(t, "O-CCCCCC", "01900000-0000-7000-8000-0000000000cc")
		}, func() error { return errors.New("injected failure after the deliveries") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupUoW(t)
			require.NoError(t, recordClick(b.uow, newClick(t, existingRef, existingEvent), func() error { return nil }))
			require.Equal(t, 1, b.opened)
			before := clickRows(t, b.db)
			require.Error(t, recordClick(b.uow, tt.click(t), tt.after))
			require.Equal(t, before, clickRows(t, b.db), "nothing of the failed click stays")
			require.Equal(t, 1, b.opened, "no wake-up for a rolled-back transaction")
		})
	}
}

func TestUnitOfWorkRollsBackOnPanic(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	require.Panics(t, func() {
		_ = recordClick(b.uow, newClick(t, "O-PANICS", "01900000-0000-7000-8000-0000000000dd"), func() error { panic("boom") })
	})
	require.Equal(t, 0, count(t, b.db, "inbound_sources"))
	require.Equal(t, 0, count(t, b.db, "webhook_deliveries"))
}

func TestUnitOfWorkCommitsEverything(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	require.NoError(t, recordClick(b.uow, newClick(t, "O-COMMIT", "01900000-0000-7000-8000-0000000000ee"), func() error { return nil }))
	require.Equal(t, 1, count(t, b.db, "inbound_sources"))
	require.Equal(t, 1, count(t, b.db, "outbox"))
	var status, leadKey string
	var next *time.Time
	require.NoError(t, b.db.SQL.QueryRow("SELECT status, lead_key, next_attempt_at FROM webhook_deliveries").Scan(&status, &leadKey, &next))
	require.Equal(t, "pending", status)
	require.Equal(t, "O-COMMIT", leadKey)
	require.NotNil(t, next, "due at once")
	require.Equal(t, 1, b.opened, "the process's workers are woken once, after the commit")
	require.Equal(t, 0, count(t, b.db, "river_job"), "deliveries are not River jobs")
}

// TestUnitOfWorkRunsAgainAfterAConflict: a transaction that fails on a
// unique key is run again from the start, a few times at most.
func TestUnitOfWorkRunsAgainAfterAConflict(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	runs := 0
	err := b.uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		runs++
		if runs < 3 {
			return fmt.Errorf("insert: %w", domain.ErrConflict)
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3, runs)

	runs = 0
	err = b.uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		runs++
		return domain.ErrConflict
	})
	require.ErrorIs(t, err, domain.ErrConflict)
	require.Equal(t, 5, runs, "gives up after five runs")

	runs = 0
	err = b.uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		runs++
		return domain.ErrNotFound
	})
	require.ErrorIs(t, err, domain.ErrNotFound)
	require.Equal(t, 1, runs, "other errors are not retried")
}

// writeClick does what the click use case does, through Write: the click,
// its event and one delivery per active endpoint, in one statement; extra
// adds more deliveries, fail fails the function after it added everything.
func writeClick(uow ports.UnitOfWork, s *domain.InboundSource, extra []*domain.Delivery, fail error) error {
	events := s.PullEvents()
	return uow.Write(context.Background(), func(ctx context.Context, w ports.Writes) error {
		w.AddClicks(s)
		if err := w.AddEvents(ctx, events...); err != nil {
			return err
		}
		configs, err := w.ActiveConfigs(ctx)
		if err != nil {
			return err
		}
		for _, ev := range events {
			for _, c := range configs {
				w.OpenDeliveries(domain.OpenDelivery(ev.Ref(), c.ID(), 0, time.Now()))
			}
		}
		w.OpenDeliveries(extra...)
		return fail
	})
}

// TestWriteIsAllOrNothing: a Write whose statement fails anywhere (on the
// click, on the event, on a delivery) or whose function fails leaves no
// click, no event and no delivery, and wakes no worker; through the pgx
// pool and through bun's connections alike.
func TestWriteIsAllOrNothing(t *testing.T) {
	t.Parallel()
	const existingRef, existingEvent = "O-WAAAAA", "01900000-0000-7000-8000-000000000101"
	badDelivery := func(eventID string) []*domain.Delivery {
		return []*domain.Delivery{domain.RehydrateDelivery(domain.DeliveryRow{EventID: eventID, EventType: domain.EventWidgetClick,
			ConfigID: testConfigID, Series: 1, Status: "bogus", CreatedAt: time.Now()})}
	}
	tests := []struct {
		name  string
		click func(t *testing.T) *domain.InboundSource
		extra []*domain.Delivery
		fail  error
	}{
		{"the click is refused (correlation id taken)", func(t *testing.T) *domain.InboundSource {
			return newClick(t, existingRef, "01900000-0000-7000-8000-0000000001aa")
		}, nil, nil},
		{"the event is refused (event id taken)", func(t *testing.T) *domain.InboundSource {
			return newClick(t, "O-WBBBBB", existingEvent)
		}, nil, nil},
		{"a delivery is refused (a status the table does not take)", func(t *testing.T) *domain.InboundSource {
			return newClick(t, "O-WCCCCC", "01900000-0000-7000-8000-0000000001cc")
		}, badDelivery("01900000-0000-7000-8000-0000000001cc"), nil},
		{"the use case fails after adding everything", func(t *testing.T) *domain.InboundSource {
			return newClick(t, "O-WDDDDD", "01900000-0000-7000-8000-0000000001dd")
		}, nil, errors.New("injected failure")},
	}
	for _, tt := range tests {
		for _, viaPool := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, pool %t", tt.name, viaPool), func(t *testing.T) {
				t.Parallel()
				b := setupUoW(t)
				uow := b.uow
				if viaPool {
					uow = postgres.NewUnitOfWork(b.db.Bun, postgres.UnitOfWorkOptions{Opened: func([]string) { b.opened++ },
						Pool: b.db.Pool, AcquireTimeout: 5 * time.Second})
				}
				require.NoError(t, writeClick(uow, newClick(t, existingRef, existingEvent), nil, nil))
				require.Equal(t, 1, b.opened)
				before := clickRows(t, b.db)
				require.Equal(t, map[string]int{"inbound_sources": 1, "outbox": 1, "webhook_deliveries": 1}, before)
				require.Error(t, writeClick(uow, tt.click(t), tt.extra, tt.fail))
				require.Equal(t, before, clickRows(t, b.db), "nothing of the failed write stays")
				require.Equal(t, 1, b.opened, "no wake-up for a write that did not happen")
			})
		}
	}
}

// TestWriteStoresTheClickItsEventAndItsDeliveries: one Write stores the
// click, its event and the event's delivery pointing at the event's row,
// wakes the process's workers once and NOTIFYs the others.
func TestWriteStoresTheClickItsEventAndItsDeliveries(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	listener, err := b.db.Listener.Acquire(context.Background())
	require.NoError(t, err)
	defer listener.Release()
	_, err = listener.Exec(context.Background(), "LISTEN "+postgres.NotifyChannel)
	require.NoError(t, err)

	require.NoError(t, writeClick(b.uow, newClick(t, "O-WRITE1", "01900000-0000-7000-8000-0000000001ee"), nil, nil))
	var ref, eventType, status, leadKey string
	var sameEvent bool
	require.NoError(t, b.db.SQL.QueryRow(`SELECT s.correlation_id, o.event_type, d.status, d.lead_key, d.outbox_id = o.id
		FROM inbound_sources s JOIN outbox o ON o.correlation_id = s.correlation_id JOIN webhook_deliveries d ON d.event_id = o.event_id`).
		Scan(&ref, &eventType, &status, &leadKey, &sameEvent))
	require.Equal(t, []string{"O-WRITE1", "widget.click", "pending", "O-WRITE1"}, []string{ref, eventType, status, leadKey})
	require.True(t, sameEvent, "the delivery points at its event's row")
	require.Equal(t, 1, b.opened, "the process's workers are woken once, after the write")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := listener.Conn().WaitForNotification(ctx)
	require.NoError(t, err, "the write told the worker processes")
	require.Equal(t, postgres.NotifyChannel, n.Channel)
}
