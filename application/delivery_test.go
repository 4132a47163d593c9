package application_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/adapters/postgres/pgtest"
	"github.com/aurix/integrations/adapters/webhook"
	"github.com/aurix/integrations/application"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

type halfRandom struct{}

func (halfRandom) Float64() float64 { return 0.5 }
func (halfRandom) Secret() ([domain.SecretBytes]byte, error) {
	return [domain.SecretBytes]byte{1, 2, 3}, nil
}

// countingUoW counts transactions and makes each one slow, so that outcomes
// arriving meanwhile queue up behind it.
type countingUoW struct {
	ports.UnitOfWork
	delay time.Duration
	calls atomic.Int32
}

func (u *countingUoW) Do(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	u.calls.Add(1)
	time.Sleep(u.delay)
	return u.UnitOfWork.Do(ctx, fn)
}

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// answer is how the receiver answers one event, and which config it goes to.
type answer struct {
	config string
	status int
}

// outcomeFixture is a database with three configs pointing at a receiver
// that answers each event as answers say, and one delivery per event.
func outcomeFixture(t *testing.T, receiverURL string, answers []answer) (*postgres.DB, *postgres.UnitOfWork) {
	t.Helper()
	db := pgtest.Open(t)
	for i, service := range []string{"a", "b", "c"} {
		_, err := db.SQL.Exec(`INSERT INTO webhook_configs (id, service_name, target_url, secret, created_at, updated_at)
			VALUES ($1, $2, $3, 'aurix_s', $4, $4)`, configIDs[i], service, receiverURL, now)
		require.NoError(t, err)
	}
	uow := postgres.NewUnitOfWork(db.Bun, postgres.UnitOfWorkOptions{})
	require.NoError(t, uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		for i, a := range answers {
			ev := domain.Event{ID: fmt.Sprintf("01900000-0000-7000-8000-%012d", i+1), Type: domain.EventWidgetClick,
				OccurredAt: now.Add(-time.Minute), Data: map[string]int{"n": i}, LeadKey: fmt.Sprintf("O-LEAD%02d", i)}
			stored, err := tx.Outbox().Append(ctx, ev)
			if err != nil {
				return err
			}
			if _, err := tx.Deliveries().Open(ctx, []*domain.Delivery{domain.OpenDelivery(stored[0].Ref(), a.config, 0, now.Add(-time.Minute))}); err != nil {
				return err
			}
		}
		return nil
	}))
	return db, uow
}

var configIDs = []string{"0190aaaa-0000-7000-8000-00000000000a", "0190aaaa-0000-7000-8000-00000000000b", "0190aaaa-0000-7000-8000-00000000000c"}

// rowsOf is what the database holds of every delivery, attempt and the
// config's health, with the measured durations left out.
func rowsOf(t *testing.T, db *postgres.DB) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT concat_ws('|', event_id, status, attempts, last_status_code, last_error, next_attempt_at, finished_at, owner) FROM webhook_deliveries`,
		`SELECT concat_ws('|', event_id, attempt, status_code, error, convert_from(response_body, 'UTF8'), attempted_at) FROM webhook_attempts`,
		`SELECT concat_ws('|', is_active, failing_since, disabled_reason, disabled_at) FROM webhook_configs`,
	} {
		func() {
			rows, err := db.SQL.Query(q)
			require.NoError(t, err)
			defer rows.Close()
			for rows.Next() {
				var s string
				require.NoError(t, rows.Scan(&s))
				out = append(out, s)
			}
			require.NoError(t, rows.Err())
		}()
	}
	sort.Strings(out)
	return out
}

// TestOutcomes_GroupedAndSingleAgree runs the same attempts (successes,
// failures with a retry, a 410, a last attempt) through the one outcome
// path twice: once an outcome per transaction, once grouped into one
// commit; the rows are the same.
func TestOutcomes_GroupedAndSingleAgree(t *testing.T) {
	t.Parallel()
	a, b, c := configIDs[0], configIDs[1], configIDs[2]
	answers := []answer{{a, 500}, {b, 200}, {a, 503}, {b, 204}, {c, 410}, {a, 500}, {b, 200}, {c, 200}}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		var n int
		_, _ = fmt.Sscanf(id[len(id)-12:], "%d", &n)
		w.WriteHeader(answers[n-1].status)
		_, _ = fmt.Fprintf(w, "answered %d", answers[n-1].status)
	}))
	defer receiver.Close()

	const owner = "0190bbbb-0000-7000-8000-00000000000a"
	run := func(t *testing.T, grouped bool) ([]string, int32) {
		db, uow := outcomeFixture(t, receiver.URL, answers)
		counting := &countingUoW{UnitOfWork: uow}
		d := &application.Deliverer{UoW: counting, Queue: postgres.NewStore(db),
			Sender: webhook.NewSender(webhook.Options{Timeout: 5 * time.Second, AllowPrivateTargets: true, UserAgent: "t"}),
			Clock:  fixedClock{now}, Random: halfRandom{}, Schedule: domain.RetrySchedule{time.Minute, time.Hour},
			DisableAfter: time.Hour, MaxInFlight: 100}
		var claimed []ports.Claimed
		for _, id := range configIDs {
			got, _, err := d.Claim(context.Background(), owner, id, ports.ClaimRoom{FirstAttempts: 100})
			require.NoError(t, err)
			claimed = append(claimed, got...)
		}
		require.Len(t, claimed, len(answers))
		counting.calls.Store(0)
		if grouped {
			counting.delay = 200 * time.Millisecond
			d.StartGrouping()
		}
		var wg sync.WaitGroup
		for _, c := range claimed {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := d.Attempt(context.Background(), owner, c)
				assert.NoError(t, err)
			}()
			if !grouped {
				wg.Wait()
			}
		}
		wg.Wait()
		return rowsOf(t, db), counting.calls.Load()
	}
	single, singleTx := run(t, false)
	grouped, groupedTx := run(t, true)
	assert.Equal(t, int32(len(answers)), singleTx, "one transaction per outcome")
	assert.Less(t, groupedTx, int32(len(answers)), "outcomes shared transactions")
	assert.Equal(t, single, grouped)
	assert.Contains(t, single, "t|2026-12-01 12:00:00+00|", "the failures started a's failure clock")
	assert.Contains(t, single, "t|", "b stayed healthy")
	assert.Contains(t, single, "f|the endpoint answered 410 Gone|2026-12-01 12:00:00+00", "the 410 switched c off")
}

// TestClaim_CapHoldsForConcurrentClaimers: claims of one config from many
// workers at once never own more deliveries together than the cap.
func TestClaim_CapHoldsForConcurrentClaimers(t *testing.T) {
	t.Parallel()
	answers := make([]answer, 40)
	for i := range answers {
		answers[i] = answer{configIDs[0], 200}
	}
	db, uow := outcomeFixture(t, "http://127.0.0.1:9/hook", answers)
	d := &application.Deliverer{UoW: uow, Queue: postgres.NewStore(db), Clock: fixedClock{now}, Random: halfRandom{},
		Schedule: domain.RetrySchedule{time.Minute}, MaxInFlight: 4}
	var wg sync.WaitGroup
	var total atomic.Int32
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("0190bbbb-0000-7000-8000-%012d", i+1)
			got, _, err := d.Claim(context.Background(), owner, configIDs[0], ports.ClaimRoom{FirstAttempts: 10})
			assert.NoError(t, err)
			total.Add(int32(len(got)))
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(4), total.Load(), "deliveries claimed by eight workers at once, cap 4")
	var owned int
	require.NoError(t, db.SQL.QueryRow("SELECT count(*) FROM webhook_deliveries WHERE owner IS NOT NULL").Scan(&owned))
	assert.Equal(t, 4, owned)
}
