package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aurix/integrations/adapters/postgres"
	"github.com/aurix/integrations/domain"
	"github.com/aurix/integrations/ports"
)

const (
	ownerA = "0190bbbb-0000-7000-8000-00000000000a"
	ownerB = "0190bbbb-0000-7000-8000-00000000000b"
)

// publishEvents stores events and opens a delivery of each to the test
// config, as the use cases' publish does.
func publishEvents(t *testing.T, uow ports.UnitOfWork, events ...domain.Event) []ports.OutboxEvent {
	t.Helper()
	var stored []ports.OutboxEvent
	require.NoError(t, uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		if stored, err = tx.Outbox().Append(ctx, events...); err != nil {
			return err
		}
		ds := make([]*domain.Delivery, len(stored))
		for i, ev := range stored {
			ds[i] = domain.OpenDelivery(ev.Ref(), testConfigID, 0, ev.CreatedAt)
		}
		_, err = tx.Deliveries().Open(ctx, ds)
		return err
	}))
	return stored
}

func event(id string, typ domain.EventType, leadKey string, at time.Time) domain.Event {
	return domain.Event{ID: id, Type: typ, OccurredAt: at, Data: map[string]string{"k": "v"}, CorrelationID: leadKey, LeadKey: leadKey}
}

func claim(t *testing.T, uow ports.UnitOfWork, q ports.ClaimQuery) []ports.DeliveryJob {
	t.Helper()
	var jobs []ports.DeliveryJob
	require.NoError(t, uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		jobs, err = tx.Deliveries().ClaimDue(ctx, q)
		return err
	}))
	return jobs
}

func eventIDs(jobs []ports.DeliveryJob) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.Event.EventID
	}
	return out
}

func saveOutcome(t *testing.T, uow ports.UnitOfWork, owner string, j ports.DeliveryJob, status int) {
	t.Helper()
	rec, _, err := j.Delivery.RecordAttempt(domain.AttemptResult{StatusCode: status}, domain.RetrySchedule{time.Millisecond}, 0.5, time.Now())
	require.NoError(t, err)
	require.NoError(t, uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		return tx.Deliveries().SaveOutcomes(ctx, owner, []ports.DeliveryOutcome{{Delivery: j.Delivery, Attempt: &rec}})
	}))
}

// TestClaimDue_LeadOrder: a lead's later event is not due while an earlier
// one is pending to the config; other leads' events are; without ordering
// everything is.
func TestClaimDue_LeadOrder(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	now := time.Now().Add(-time.Second)
	publishEvents(t, b.uow,
		event("01900000-0000-7000-8000-000000000101", domain.EventWidgetClick, "O-LEAD01", now),
		event("01900000-0000-7000-8000-000000000102", domain.EventLeadCorrelated, "O-LEAD01", now),
		event("01900000-0000-7000-8000-000000000201", domain.EventWidgetClick, "O-LEAD02", now))
	q := ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerA, Now: time.Now(), Ordered: true, Limit: 10}

	first := claim(t, b.uow, q)
	assert.Equal(t, []string{"01900000-0000-7000-8000-000000000101", "01900000-0000-7000-8000-000000000201"}, eventIDs(first),
		"lead.correlated waits for its lead's widget.click; the other lead does not wait")
	assert.Empty(t, claim(t, b.uow, q), "still waiting while the click is in flight")

	saveOutcome(t, b.uow, ownerA, first[0], 500) // failed, retry scheduled: still pending
	assert.Empty(t, claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerA, Now: time.Now(), Ordered: true, Limit: 10}),
		"a retry that is scheduled holds its lead's later events")
	retry := claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerA, Now: time.Now().Add(time.Second), Ordered: true,
		Retries: true, Limit: 10})
	require.Len(t, retry, 1)
	saveOutcome(t, b.uow, ownerA, retry[0], 200)
	after := claim(t, b.uow, q)
	assert.Equal(t, []string{"01900000-0000-7000-8000-000000000102"}, eventIDs(after), "due once the earlier event succeeded")
}

// TestClaimDue_AgreesWithTheLeadOrderRule: over a config's deliveries in
// every state the ordering cares about (an earlier event pending, succeeded,
// failed, exhausted, reopened by a new series, retrying; events of no lead),
// the claim takes exactly the due deliveries that
// domain.Delivery.WaitsForEarlier lets go.
func TestClaimDue_AgreesWithTheLeadOrderRule(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	now := time.Now().Add(-time.Second)
	id := func(n int) string { return fmt.Sprintf("01900000-0000-7000-8000-%012d", 1100+n) }
	leads := []string{"", "O-A", "O-A", "O-A", "O-B", "O-B", "O-C", "O-C", "O-D", "O-D", "", "", "O-E", "O-E"}
	var events []domain.Event
	for n := 1; n < len(leads); n++ {
		events = append(events, event(id(n), domain.EventWidgetClick, leads[n], now))
	}
	publishEvents(t, b.uow, events...)
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := b.db.SQL.Exec(sql, args...)
		require.NoError(t, err)
	}
	finish := func(n int, status string) {
		exec("UPDATE webhook_deliveries SET status = $2, next_attempt_at = NULL, finished_at = now() WHERE event_id = $1", id(n), status)
	}
	finish(1, "succeeded") // O-A: 1 arrived, 2 goes, 3 waits for 2
	finish(4, "exhausted") // O-B: 5 goes
	finish(6, "failed")    // O-C: 6 reopened by a new series, 7 waits for it
	exec(`INSERT INTO webhook_deliveries (outbox_id, event_id, event_type, webhook_config_id, lead_key, series, status, created_at, next_attempt_at)
		SELECT outbox_id, event_id, event_type, webhook_config_id, lead_key, 1, 'pending', now(), now() - interval '1 second'
		FROM webhook_deliveries WHERE event_id = $1`, id(6))
	exec("UPDATE webhook_deliveries SET attempts = 1 WHERE event_id = $1", id(8)) // O-D: 8 retrying (due), 9 waits
	finish(12, "failed")                                                          // O-E: 13 goes
	// 10 and 11 belong to no lead: both go.

	rows, err := b.db.SQL.Query(`SELECT id, outbox_id, webhook_config_id::text, coalesce(lead_key, ''), status, attempts
		FROM webhook_deliveries ORDER BY id`)
	require.NoError(t, err)
	var all []*domain.Delivery
	for rows.Next() {
		var r domain.DeliveryRow
		var status string
		require.NoError(t, rows.Scan(&r.ID, &r.OutboxID, &r.ConfigID, &r.LeadKey, &status, &r.Attempts))
		r.Status = domain.DeliveryStatus(status)
		all = append(all, domain.RehydrateDelivery(r))
	}
	require.NoError(t, rows.Err())
	settings := domain.DeliverySettings{Ordering: domain.OrderingLead}
	var want []int64
	for _, d := range all {
		if d.Status() == domain.DeliveryPending && !d.WaitsForEarlier(settings, all) {
			want = append(want, d.ID())
		}
	}
	require.Len(t, want, 7, "by the rule: 2, 5, the new series of 6, 8, 10, 11 and 13 go; 3, 7 and 9 wait")

	var got []int64
	for _, retries := range []bool{false, true} {
		for _, j := range claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerA, Now: time.Now(),
			Ordered: settings.Ordered(), Retries: retries, Limit: 100}) {
			got = append(got, j.Delivery.ID())
		}
	}
	assert.ElementsMatch(t, want, got)
}

func TestClaimDue_WithoutOrderingEverythingIsDue(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	now := time.Now().Add(-time.Second)
	publishEvents(t, b.uow,
		event("01900000-0000-7000-8000-000000000301", domain.EventWidgetClick, "O-LEAD03", now),
		event("01900000-0000-7000-8000-000000000302", domain.EventLeadCorrelated, "O-LEAD03", now))
	jobs := claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerA, Now: time.Now(), Limit: 10})
	assert.Len(t, jobs, 2)
	assert.NotEmpty(t, jobs[0].Event.Payload, "the claim brings the bytes to send")
}

// TestClaims_CapCountsEveryOwner: the in-flight count a claim is bounded by
// counts the deliveries every process owns; a claimed delivery is nobody
// else's to claim; an outcome releases it; a process that no longer owns a
// delivery cannot overwrite its state.
func TestClaims_CapCountsEveryOwner(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	now := time.Now().Add(-time.Second)
	publishEvents(t, b.uow,
		event("01900000-0000-7000-8000-000000000401", domain.EventWidgetClick, "O-LEAD04", now),
		event("01900000-0000-7000-8000-000000000501", domain.EventWidgetClick, "O-LEAD05", now),
		event("01900000-0000-7000-8000-000000000601", domain.EventWidgetClick, "O-LEAD06", now))
	a := claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerA, Now: time.Now(), Limit: 1})
	bb := claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerB, Now: time.Now(), Limit: 1})
	require.Len(t, a, 1)
	require.Len(t, bb, 1)
	assert.NotEqual(t, a[0].Delivery.ID(), bb[0].Delivery.ID())

	inFlight := func() int {
		var n int
		require.NoError(t, b.uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
			lim, err := tx.Deliveries().LockLimits(ctx, testConfigID)
			n = lim.InFlight
			return err
		}))
		return n
	}
	assert.Equal(t, 2, inFlight())

	// B's claim on A's delivery does not count: its outcome leaves the
	// state alone but keeps the attempt.
	saveOutcome(t, b.uow, ownerB, a[0], 200)
	var status string
	var attempts int
	require.NoError(t, b.db.SQL.QueryRow("SELECT status, (SELECT count(*) FROM webhook_attempts WHERE delivery_id = $1) FROM webhook_deliveries WHERE id = $1",
		a[0].Delivery.ID()).Scan(&status, &attempts))
	assert.Equal(t, "pending", status)
	assert.Equal(t, 1, attempts)
	assert.Equal(t, 2, inFlight())

	saveOutcome(t, b.uow, ownerB, bb[0], 200)
	assert.Equal(t, 1, inFlight(), "the outcome ends the claim")
	require.NoError(t, b.uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		return tx.Deliveries().Release(ctx, ownerA, []int64{a[0].Delivery.ID()})
	}))
	assert.Equal(t, 0, inFlight())
	again := claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerB, Now: time.Now(), Limit: 10})
	assert.Len(t, again, 2, "a released delivery is due again at once")
}

// TestProcesses_DeadOnesHandBack: the deliveries of a process that stopped
// sending heartbeats are handed back; a live process keeps its own; a
// process whose liveness session is gone is dead after a short silence.
func TestProcesses_DeadOnesHandBack(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	procs := postgres.NewProcesses(b.db.Bun, b.db.Listener)
	ctx := context.Background()
	a, err := procs.Join(ctx, ports.ProcessInfo{ID: ownerA, Role: "worker", Hostname: "h", PID: 1})
	require.NoError(t, err)
	defer a.Close()
	bb, err := procs.Join(ctx, ports.ProcessInfo{ID: ownerB, Role: "worker", Hostname: "h", PID: 2})
	require.NoError(t, err)
	defer bb.Close()
	now := time.Now().Add(-time.Second)
	publishEvents(t, b.uow,
		event("01900000-0000-7000-8000-000000000701", domain.EventWidgetClick, "O-LEAD07", now),
		event("01900000-0000-7000-8000-000000000801", domain.EventWidgetClick, "O-LEAD08", now))
	require.Len(t, claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerA, Now: time.Now(), Limit: 1}), 1)
	require.Len(t, claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerB, Now: time.Now(), Limit: 1}), 1)
	silence := func(id, ago string) {
		_, err := b.db.SQL.Exec("UPDATE aurix_processes SET heartbeat_at = now() - $2::interval WHERE id = $1", id, ago)
		require.NoError(t, err)
	}

	// Silent for a while but holding its lock: alive.
	silence(ownerA, "10 seconds")
	n, _, err := procs.ReleaseDead(ctx, 30*time.Second, 3*time.Second)
	require.NoError(t, err)
	assert.Zero(t, n, "a process holding its liveness lock is given the whole silence period")

	// Silent too long: dead, whatever its lock.
	silence(ownerA, "1 minute")
	n, dels, err := procs.ReleaseDead(ctx, 30*time.Second, 3*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, dels)
	var ownedByB, free int
	require.NoError(t, b.db.SQL.QueryRow("SELECT count(*) FILTER (WHERE owner = $1), count(*) FILTER (WHERE owner IS NULL) FROM webhook_deliveries",
		ownerB).Scan(&ownedByB, &free))
	assert.Equal(t, 1, ownedByB, "the live process keeps what it works on")
	assert.Equal(t, 1, free)
	alive, err := a.Heartbeat(ctx)
	require.NoError(t, err)
	assert.False(t, alive, "a process declared dead learns it at its next heartbeat")

	// Its liveness session closed (the process died): dead after a short silence.
	bb.Close()
	silence(ownerB, "2 seconds")
	n, _, err = procs.ReleaseDead(ctx, 30*time.Second, 3*time.Second)
	require.NoError(t, err)
	assert.Zero(t, n, "not before the short silence")
	silence(ownerB, "4 seconds")
	n, dels, err = procs.ReleaseDead(ctx, 30*time.Second, 3*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "lock gone and silent for longer than the short silence")
	assert.Equal(t, 1, dels)
	assert.Equal(t, 0, count(t, b.db, "aurix_processes"))
}

// TestProcesses_HeartbeatHandsBackLostClaims: a claim the process no longer
// works on is handed back by its heartbeat, a fresh one is not; leaving
// hands back everything.
func TestProcesses_HeartbeatHandsBackLostClaims(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	procs := postgres.NewProcesses(b.db.Bun, b.db.Listener)
	ctx := context.Background()
	s, err := procs.Join(ctx, ports.ProcessInfo{ID: ownerA, Role: "worker", Hostname: "h", PID: 1})
	require.NoError(t, err)
	now := time.Now().Add(-time.Second)
	publishEvents(t, b.uow,
		event("01900000-0000-7000-8000-000000000901", domain.EventWidgetClick, "O-LEAD09", now),
		event("01900000-0000-7000-8000-000000000902", domain.EventWidgetClick, "O-LEAD10", now))
	jobs := claim(t, b.uow, ports.ClaimQuery{ConfigID: testConfigID, Owner: ownerA, Now: time.Now(), Limit: 2})
	require.Len(t, jobs, 2)
	owned := func() int {
		var n int
		require.NoError(t, b.db.SQL.QueryRow("SELECT count(*) FROM webhook_deliveries WHERE owner = $1", ownerA).Scan(&n))
		return n
	}
	alive, err := s.Heartbeat(ctx)
	require.NoError(t, err)
	assert.True(t, alive)
	_, err = s.HandBack(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, owned(), "fresh claims are not taken for lost ones")
	_, err = b.db.SQL.Exec("UPDATE webhook_deliveries SET claimed_at = now() - interval '1 minute' WHERE owner = $1", ownerA)
	require.NoError(t, err)
	_, err = s.HandBack(ctx, []int64{jobs[0].Delivery.ID()})
	require.NoError(t, err)
	assert.Equal(t, 1, owned(), "the claim it still works on stays, the lost one is handed back")
	require.NoError(t, s.Leave(ctx))
	assert.Equal(t, 0, owned())
	assert.Equal(t, 0, count(t, b.db, "aurix_processes"))
}

// TestOpenOnAPurgedEvent: a redelivery of an event the retention purge
// deleted meanwhile (its foreign key finds no outbox row) is "not found",
// which the API answers 404, not a server error.
func TestOpenOnAPurgedEvent(t *testing.T) {
	t.Parallel()
	b := setupUoW(t)
	stored := publishEvents(t, b.uow, event("01900000-0000-7000-8000-000000000901", domain.EventWidgetClick, "O-PURGE1", time.Now()))
	_, err := b.db.SQL.Exec("DELETE FROM webhook_deliveries; DELETE FROM outbox")
	require.NoError(t, err)
	err = b.uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		_, err := tx.Deliveries().Open(ctx, []*domain.Delivery{domain.OpenDelivery(stored[0].Ref(), testConfigID, 1, time.Now())})
		return err
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, domain.ErrNotFound)
}
