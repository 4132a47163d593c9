package application_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

// runCounter counts how often the unit of work runs a use case's function
// (Do's or Write's): more than once means the one transaction helper ran it
// again.
type runCounter struct {
	ports.UnitOfWork
	mu   sync.Mutex
	runs int
	// wrap, when set, stands between the function and the repositories.
	wrap func(run int, tx ports.Tx) ports.Tx
}

func (c *runCounter) Do(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	return c.UnitOfWork.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		c.mu.Lock()
		c.runs++
		run := c.runs
		c.mu.Unlock()
		if c.wrap != nil {
			tx = c.wrap(run, tx)
		}
		return fn(ctx, tx)
	})
}

func (c *runCounter) Write(ctx context.Context, fn func(ctx context.Context, w ports.Writes) error) error {
	return c.UnitOfWork.Write(ctx, func(ctx context.Context, w ports.Writes) error {
		c.mu.Lock()
		c.runs++
		c.mu.Unlock()
		return fn(ctx, w)
	})
}

func (c *runCounter) Runs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs
}

// queuedRefs hands out correlation ids in order and counts the draws.
type queuedRefs struct {
	mu    sync.Mutex
	refs  []domain.CorrelationID
	drawn int
}

func (q *queuedRefs) NewCorrelationID() (domain.CorrelationID, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ref := q.refs[q.drawn]
	q.drawn++
	return ref, nil
}

type seqIDs struct {
	mu sync.Mutex
	n  int
}

func (s *seqIDs) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("01900000-0000-7000-8000-%012d", s.n)
}

const conflictConfigID = "0190aaaa-0000-7000-8000-0000000000c1"

func conflictFixture(t *testing.T) *postgres.DB {
	t.Helper()
	db := pgtest.Open(t)
	_, err := db.SQL.Exec(`INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
		VALUES ($1, 'topkee', 'https://partner.example/hook', 'aurix_s', now(), now())`, conflictConfigID)
	require.NoError(t, err)
	return db
}

// TestClicks_GetPastATakenCorrelationIDThroughTheHelper: a click whose
// freshly drawn correlation id is already taken fails its transaction on
// the unique key; the unit of work runs it again, the use case draws a new
// id and the click is recorded with it, with one event and one delivery.
func TestClicks_GetPastATakenCorrelationIDThroughTheHelper(t *testing.T) {
	t.Parallel()
	db := conflictFixture(t)
	uow := &runCounter{UnitOfWork: postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})}
	refs := &queuedRefs{refs: []domain.CorrelationID{"O-TAKEN1", "O-TAKEN1", "O-FRESH1"}}
	clicks := &application.Clicks{UoW: uow, Clock: fixedClock{now}, IDs: &seqIDs{}, Refs: refs,
		WhatsApp: domain.WhatsAppLink{Number: "15550783881"}}
	cmd := ports.RecordClickCommand{ClickURL: "https://example.com/?utm_source=x", DeviceID: "dev-1", UserAgent: "Mozilla/5.0"}

	first, err := clicks.RecordClick(context.Background(), cmd)
	require.NoError(t, err)
	require.Equal(t, domain.CorrelationID("O-TAKEN1"), first.CorrelationID)
	require.Equal(t, 1, uow.Runs())

	second, err := clicks.RecordClick(context.Background(), cmd)
	require.NoError(t, err, "the clash never reaches the caller")
	assert.Equal(t, domain.CorrelationID("O-FRESH1"), second.CorrelationID)
	assert.Contains(t, second.WhatsAppURL, "O-FRESH1")
	assert.Equal(t, 3, uow.Runs(), "the second click's transaction ran twice")
	assert.Equal(t, 3, refs.drawn, "a fresh id was drawn for the second run")

	var clickRows, outboxRows, deliveries int
	require.NoError(t, db.SQL.QueryRow(`SELECT (SELECT count(*) FROM inbound_sources), (SELECT count(*) FROM outbox),
		(SELECT count(*) FROM webhook_deliveries)`).Scan(&clickRows, &outboxRows, &deliveries))
	assert.Equal(t, []int{2, 2, 2}, []int{clickRows, outboxRows, deliveries}, "nothing of the failed run is left")
	var refOfEvent string
	require.NoError(t, db.SQL.QueryRow(`SELECT correlation_id FROM outbox ORDER BY id DESC LIMIT 1`).Scan(&refOfEvent))
	assert.Equal(t, "O-FRESH1", refOfEvent)
}

// racingDeliveries lets a series the event lock does not cover (opened by
// a writer that does not take the lock; no code of this version is one)
// commit right after this transaction has read the event's latest series
// (the first time only), and notes in which run of the transaction each
// read happened.
type racingDeliveries struct {
	ports.DeliveryRepository
	run  int
	read func(run int)
}

func (r racingDeliveries) LatestForUpdate(ctx context.Context, configID string, outboxIDs []int64) (map[int64]ports.DeliverySeries, error) {
	out, err := r.DeliveryRepository.LatestForUpdate(ctx, configID, outboxIDs)
	if err == nil {
		r.read(r.run)
	}
	return out, err
}

type racingTx struct {
	ports.Tx
	run  int
	read func(run int)
}

func (t racingTx) Deliveries() ports.DeliveryRepository {
	return racingDeliveries{DeliveryRepository: t.Tx.Deliveries(), run: t.run, read: t.read}
}

// TestRedeliver_GetsPastASeriesOpenedMeanwhileThroughTheHelper: between the
// redelivery reading the event's latest series and inserting the next one,
// that next series is opened by a writer the event lock does not hold off.
// The insert creates nothing; it is the one transaction helper, not the use
// case, that runs the transaction again, which then finds the new series
// pending and answers it instead of sending the event twice at once.
func TestRedeliver_GetsPastASeriesOpenedMeanwhileThroughTheHelper(t *testing.T) {
	t.Parallel()
	db := conflictFixture(t)
	real := postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})
	clicks := &application.Clicks{UoW: real, Clock: fixedClock{now}, IDs: &seqIDs{},
		Refs: &queuedRefs{refs: []domain.CorrelationID{"O-RACE01"}}, WhatsApp: domain.WhatsAppLink{Number: "15550783881"}}
	_, err := clicks.RecordClick(context.Background(), ports.RecordClickCommand{ClickURL: "https://example.com/", DeviceID: "d"})
	require.NoError(t, err)
	var eventID string
	require.NoError(t, db.SQL.QueryRow(`SELECT event_id FROM outbox`).Scan(&eventID))
	_, err = db.SQL.Exec(`UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL, finished_at = now()`)
	require.NoError(t, err)

	var (
		otherID  int64
		raced    bool
		readRuns []int // the run of the transaction in which each read of the latest series happened
	)
	uow := &runCounter{UnitOfWork: real}
	uow.wrap = func(run int, tx ports.Tx) ports.Tx {
		return racingTx{Tx: tx, run: run, read: func(run int) {
			readRuns = append(readRuns, run)
			if raced {
				return
			}
			raced = true
			require.NoError(t, db.SQL.QueryRow(`INSERT INTO webhook_deliveries
				(outbox_id, event_id, event_type, webhook_config_id, series, status, created_at, next_attempt_at)
				SELECT outbox_id, event_id, event_type, webhook_config_id, 1, 'pending', now(), now() + interval '1 hour'
				FROM webhook_deliveries WHERE series = 0 RETURNING id`).Scan(&otherID))
		}}
	}
	log := &application.DeliveryLog{UoW: uow, Reader: postgres.NewStore(db), Clock: fixedClock{now}, Random: halfRandom{}}
	got, err := log.Redeliver(context.Background(), "topkee", eventID)
	require.NoError(t, err, "the conflict never reaches the caller")
	require.Len(t, readRuns, 2, "the latest series was read again after the conflict")
	assert.Equal(t, readRuns[0]+1, readRuns[1], "by the helper running the transaction again, not by a loop inside it")
	assert.Equal(t, otherID, got.DeliveryID, "the series opened meanwhile is the answer")
	var n int
	require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FROM webhook_deliveries`).Scan(&n))
	assert.Equal(t, 2, n, "no third series")
}

// conflictOnCommit fails the first run of a transaction as a serialization
// failure at commit would, after the function did all its work.
type conflictOnCommit struct {
	ports.UnitOfWork
	once sync.Once
}

func (c *conflictOnCommit) Do(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	return c.UnitOfWork.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		failed := false
		c.once.Do(func() { failed = true })
		if failed {
			return domain.ErrConflict
		}
		return nil
	})
}

// TestDisableFailingEndpoints_RunsAgainWithoutTellingTwice: when the
// sweep's transaction is run again, the endpoint is switched off once,
// counted once and logged once (after the commit).
func TestDisableFailingEndpoints_RunsAgainWithoutTellingTwice(t *testing.T) {
	t.Parallel()
	db := conflictFixture(t)
	_, err := db.SQL.Exec(`UPDATE webhook_configs SET failing_since = $1`, now.Add(-200*time.Hour))
	require.NoError(t, err)
	var logs bytes.Buffer
	m := &application.Maintenance{UoW: &conflictOnCommit{UnitOfWork: postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})},
		Clock: fixedClock{now}, DisableAfter: 120 * time.Hour, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	n, err := m.DisableFailingEndpoints(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, strings.Count(logs.String(), "webhook endpoint switched off"), logs.String())
	var active bool
	require.NoError(t, db.SQL.QueryRow(`SELECT is_active FROM webhook_configs`).Scan(&active))
	assert.False(t, active)
}

// TestWhatsApp_ReferralGetsPastATakenCorrelationID: the click made from a
// Click-to-WhatsApp referral draws a correlation id that is taken; the
// whole message is run again by the unit of work, with a fresh id.
func TestWhatsApp_ReferralGetsPastATakenCorrelationID(t *testing.T) {
	t.Parallel()
	db := conflictFixture(t)
	uow := &runCounter{UnitOfWork: postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})}
	refs := &queuedRefs{refs: []domain.CorrelationID{"O-TAKEN2", "O-TAKEN2", "O-FRESH2"}}
	clicks := &application.Clicks{UoW: uow, Clock: fixedClock{now}, IDs: &seqIDs{}, Refs: refs,
		WhatsApp: domain.WhatsAppLink{Number: "15550783881"}}
	_, err := clicks.RecordClick(context.Background(), ports.RecordClickCommand{ClickURL: "https://example.com/", DeviceID: "d"})
	require.NoError(t, err)

	wa := &application.WhatsApp{UoW: uow, Clock: fixedClock{now}, IDs: &seqIDs{n: 100}, Refs: refs, Window: time.Hour}
	require.NoError(t, wa.ReceiveMessages(context.Background(), []ports.InboundMessage{{MessageID: "wamid.1",
		ChannelID: "791163770738681", Sender: domain.Sender{Phone: "+15550000001"}, Text: "Hello from the ad",
		Referral: &domain.ReferralSource{SourceURL: "https://fb.me/ad", SourceID: "1", SourceType: "ad", CtwaClid: "c"}}}))
	assert.Equal(t, 3, uow.Runs(), "the message's transaction ran twice")
	var ref string
	require.NoError(t, db.SQL.QueryRow(`SELECT correlation_id FROM leads`).Scan(&ref))
	assert.Equal(t, "O-FRESH2", ref)
	var messages int
	require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FROM whatsapp_messages`).Scan(&messages))
	assert.Equal(t, 1, messages, "the failed run left nothing")
}
